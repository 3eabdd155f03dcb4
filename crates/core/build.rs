//! Embeds the files of `static/` in todo-core, each with its content type
//! and strong ETag computed here, so that the web component answers from
//! memory: no filesystem call and no hashing per request (under Spin each
//! file call is a hop to a host thread). The native harness and the wasm
//! component link the same table. Cargo reruns this on any change under
//! `static/`.

use std::env;
use std::error::Error;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[path = "src/web/embed.rs"]
mod embed;

fn main() -> Result<(), Box<dyn Error>> {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = crate_dir.join("../../static").canonicalize()?;
    let openapi = crate_dir.join("openapi.json");
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed={}", openapi.display());

    let mut table = String::from(
        "/// `static/`, embedded by `build.rs`, sorted by path.\n\
         pub static STATIC_FILES: &[StaticFile] = &[\n",
    );
    for (path, file) in embed::files(&root)? {
        let body = std::fs::read(&file)?;
        writeln!(
            table,
            "    StaticFile {{ path: {path:?}, content_type: {:?}, etag: {:?}, \
             body: include_bytes!({:?}) }},",
            embed::content_type(Path::new(&path)),
            embed::etag(&body),
            file.to_str().ok_or("the path of static/ is not UTF-8")?,
        )?;
    }
    table.push_str("];\n");
    writeln!(
        table,
        "/// The ETag of `openapi.json`.\npub const OPENAPI_ETAG: &str = {:?};",
        embed::etag(&std::fs::read(&openapi)?),
    )?;
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("static_files.rs"),
        table,
    )?;
    Ok(())
}
