//! Serves a [`WasmApp`] over HTTP/1.1 (hyper), one fresh instance per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{plain, ResponseBody, WasmApp};

/// A wasm host listening on a socket, on a runtime of its own.
pub struct WasmServer {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WasmServer {
    /// Serves `app` on `listen` (port 0 for any free port).
    pub fn start(app: WasmApp, listen: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wasm-host")
            .build()
            .context("cannot start the server's runtime")?;
        let listener = runtime.block_on(TcpListener::bind(listen))?;
        let addr = listener.local_addr()?;
        runtime.spawn(serve(listener, Arc::new(app), addr));
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }

    /// Serves until the process ends.
    pub fn wait(self) {
        loop {
            std::thread::park();
        }
    }
}

impl Drop for WasmServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn serve(listener: TcpListener, app: Arc<WasmApp>, local: SocketAddr) {
    loop {
        let Ok((stream, client_addr)) = listener.accept().await else {
            continue;
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(respond(&app, request, local, client_addr).await) }
            });
            // A client's error (gone away, malformed): no one to tell.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The host's own path, answered before any route (it shadows a catch-all
/// route there): each component's requests and CPU time since the last read,
/// as JSON ([`WasmApp::take_cpu_stats`]). For scripts/wasm-bench.
pub const CPU_STATS_PATH: &str = "/.wasm-host/cpu";

/// The request with the absolute URI Spin gives components, answered by
/// its component; a host failure (a trap, say) is a 500 with no body, as
/// under Spin, and is printed.
async fn respond(
    app: &WasmApp,
    request: hyper::Request<hyper::body::Incoming>,
    local: SocketAddr,
    client_addr: SocketAddr,
) -> http::Response<ResponseBody> {
    if request.uri().path() == CPU_STATS_PATH {
        let stats = serde_json::to_vec(&app.take_cpu_stats()).unwrap_or_default();
        return http::Response::new(
            Full::new(Bytes::from(stats))
                .map_err(|e| match e {})
                .boxed_unsync(),
        );
    }
    let (mut head, body) = request.into_parts();
    let host = head
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| local.to_string(), str::to_owned);
    let path_and_query = head
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    head.uri = match format!("http://{host}{path_and_query}").parse() {
        Ok(uri) => uri,
        Err(_) => return plain(StatusCode::BAD_REQUEST),
    };
    match app
        .handle(http::Request::from_parts(head, body), client_addr)
        .await
    {
        Ok(response) => response,
        Err(e) => {
            eprintln!("wasm-host: {e:#}");
            plain(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
