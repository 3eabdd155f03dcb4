//! What `build.rs` embeds of `static/` and what it precomputes for each
//! file. `build.rs` compiles this file into itself (`#[path]`); the library
//! compiles it for its tests only, since a request reads the generated table.

use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Every file under `root`, as its `/`-separated path relative to `root` and
/// its path on disk, sorted by the former. Dot-files and dot-folders
/// (`.env`, `.git/`, an editor's `.swp`) stay out: the resolver would refuse
/// them anyway, and a secret should not sit in the binary.
pub fn files(root: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut folders = vec![(String::new(), root.to_path_buf())];
    while let Some((prefix, folder)) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|name| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{name:?} in {} is not UTF-8", folder.display()),
                )
            })?;
            if name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{name}");
            // Follows symbolic links, as `include_bytes!` will.
            if std::fs::metadata(entry.path())?.is_dir() {
                folders.push((format!("{relative}/"), entry.path()));
            } else {
                found.push((relative, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A strong validator: the first 128 bits of the body's SHA-256.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
