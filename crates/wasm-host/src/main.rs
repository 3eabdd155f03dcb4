//! `wasm-server [spin.toml] [listen]`: serves the release components under
//! wasmtime (see the crate's documentation), e.g. for scripts/wasm-bench.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use wasm_host::server::WasmServer;
use wasm_host::WasmApp;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let manifest = PathBuf::from(args.next().unwrap_or_else(|| "spin.toml".into()));
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = WasmApp::load(&manifest, &HashMap::new())?.inherit_stdout();
    let server = WasmServer::start(app, &listen)?;
    println!(
        "wasm-server: serving {} on http://{}",
        manifest.display(),
        server.addr
    );
    server.wait();
    Ok(())
}
