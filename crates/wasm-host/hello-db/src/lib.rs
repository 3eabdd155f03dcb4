//! A Spin hello-world that runs one statement: it opens a connection to
//! `db_url` (from Spin's pool) and sends `SELECT 'hello'::text`, and does
//! nothing else. scripts/wasm-bench loads it beside the hello-world, as the
//! floor for an endpoint that reaches the database once.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(_req: spin_sdk::http::IncomingRequest) -> http::Response<bytes::Bytes> {
    use spin_sdk::pg4::{Connection, DbValue};
    let hello = spin_sdk::variables::get("db_url")
        .ok()
        .and_then(|url| Connection::open(&url).ok())
        .and_then(|db| db.query("SELECT 'hello'::text", &[]).ok())
        .and_then(|rows| match rows.rows.first()?.first()? {
            DbValue::Str(hello) => Some(hello.clone()),
            _ => None,
        });
    match hello {
        Some(hello) => http::Response::new(bytes::Bytes::from(hello)),
        None => http::Response::builder()
            .status(500)
            .body(bytes::Bytes::from_static(b"no database"))
            .unwrap_or_default(),
    }
}
