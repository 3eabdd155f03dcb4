//! Applies pending migrations: `migrate [--database-url URL] [--manifest spin.toml]`.
//! Without `--database-url` the URL is built from the app's own variables
//! (`SPIN_VARIABLE_*` over the defaults in spin.toml), as the components build it.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use native::manifest::Manifest;
use native::migrations::redact;
use native::AppVariables;

const USAGE: &str = "usage: migrate [--database-url URL] [--manifest PATH]";

fn main() -> Result<()> {
    let mut database_url = None;
    let mut manifest = PathBuf::from("spin.toml");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => database_url = Some(args.next().context(USAGE)?),
            "--manifest" => manifest = args.next().context(USAGE)?.into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let database_url = match database_url {
        Some(url) => url,
        None => {
            let manifest = Manifest::load(&manifest)?;
            let vars = AppVariables::resolve(&manifest, &HashMap::new())?;
            todo_core::config::database_url(&vars)
        }
    };

    let applied = native::migrate(&database_url)?;
    if applied.is_empty() {
        println!("{}: schema is up to date", redact(&database_url));
    } else {
        println!("{}: applied {}", redact(&database_url), applied.join(", "));
    }
    Ok(())
}
