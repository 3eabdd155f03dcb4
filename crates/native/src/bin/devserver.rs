//! Serves the app natively, as `spin up` would, for development without Spin:
//! `devserver [--listen 127.0.0.1:3000] [--manifest spin.toml | spin.toml]`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use native::{App, Server};

const USAGE: &str = "usage: devserver [--listen ADDR] [--manifest PATH | PATH]";

fn main() -> Result<()> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut manifest = PathBuf::from("spin.toml");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context(USAGE)?,
            "--manifest" | "-f" | "--from" => manifest = args.next().context(USAGE)?.into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if !other.starts_with('-') => manifest = other.into(),
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }

    let app = App::load(&manifest, &HashMap::new())?;
    let routes: Vec<String> = app
        .routes()
        .map(|(route, component)| format!("{component} {route}"))
        .collect();
    let server = Server::start(app, &listen)?;
    println!(
        "Serving http://{} from {} natively (routes: {})",
        server.addr,
        manifest.display(),
        routes.join(", ")
    );
    server.wait();
    Ok(())
}
