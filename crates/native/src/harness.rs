//! Serves the app's components natively, doing what `spin up` does and
//! nothing more: route by `spin.toml`, give each request fresh ports built
//! from the component's variables and `allowed_outbound_hosts`, add Spin's
//! request headers, and call the component's handler through
//! `todo_core::serve`. CORS, errors and logging all belong to the core.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use todo_core::api::{hide_credentials, reads_body, MAX_BODY_BYTES};
use todo_core::ports::{Clock, Log, Stdout, SystemClock};
use todo_core::{ApiError, Ctx, Handler, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::db::NativeDb;
use crate::http_client::NativeHttp;
use crate::manifest::Manifest;
use crate::outbound::AllowedHosts;
use crate::redis::NativeRedis;
use crate::routes::Router;
use crate::variables::{AppVariables, ComponentVariables};

/// Which core handler each component of `spin.toml` runs (what the Wasm
/// module of `functions/<id>` would run under Spin).
pub const HANDLERS: &[(&str, Handler)] = &[
    ("auth", todo_core::auth::handle),
    ("todos", todo_core::todos::handle),
    ("chat", todo_core::chat::handle),
    ("dav", todo_core::dav::handle),
    ("health", todo_core::health::handle),
    ("internal", todo_core::internal::handle),
    ("mcp", todo_core::mcp::handle),
    ("notifications", todo_core::notifications::handle),
    ("web", todo_core::web::handle),
];

/// The app as loaded from `spin.toml`, ready to serve requests.
pub struct App {
    router: Router,
    components: HashMap<String, ComponentRuntime>,
    statements: Arc<AtomicU64>,
    clock: Arc<dyn Clock + Send + Sync>,
    log: Arc<LogLines>,
}

/// The components' log lines: written to stdout, as `spin up` writes them,
/// and the last [`LogLines::KEPT`] kept for tests to read.
#[derive(Default)]
pub struct LogLines(Mutex<VecDeque<String>>);

impl LogLines {
    const KEPT: usize = 1000;

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|kept| kept.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Log for LogLines {
    fn line(&self, line: &str) {
        Stdout.line(line);
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() == Self::KEPT {
                kept.pop_front();
            }
            kept.push_back(line.to_owned());
        }
    }
}

struct ComponentRuntime {
    handler: Handler,
    vars: ComponentVariables,
    allowed: Arc<AllowedHosts>,
}

impl App {
    /// Loads `spin.toml`, resolving variables as `spin up` does
    /// (`SPIN_VARIABLE_*` over defaults), with `overrides` on top.
    pub fn load(manifest_path: &Path, overrides: &HashMap<String, String>) -> Result<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let vars = AppVariables::resolve(&manifest, overrides)?;
        Self::with_handlers(&manifest, &vars, HANDLERS)
    }

    /// Like [`load`](Self::load) but ignoring the process environment, so
    /// tests do not depend on the shell they run in (a real `qwen_api_key`
    /// exported there must not send test traffic to Qwen).
    pub fn load_isolated(
        manifest_path: &Path,
        overrides: &HashMap<String, String>,
    ) -> Result<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let vars = AppVariables::resolve_with(&manifest, |_| None, overrides)?;
        Self::with_handlers(&manifest, &vars, HANDLERS)
    }

    /// The app of `manifest` with resolved application variables and a
    /// handler per component (normally [`HANDLERS`]).
    pub fn with_handlers(
        manifest: &Manifest,
        app_vars: &AppVariables,
        handlers: &[(&str, Handler)],
    ) -> Result<Self> {
        let router = Router::new(&manifest.http_routes)?;
        let mut components = HashMap::new();
        for (id, component) in &manifest.components {
            let handler = handlers
                .iter()
                .find(|(name, _)| name == id)
                .map(|(_, h)| *h)
                .ok_or_else(|| {
                    anyhow!("component {id} has no handler in the native harness (see native::harness::HANDLERS)")
                })?;
            let hosts = component
                .allowed_outbound_hosts
                .iter()
                .map(|t| app_vars.render(t))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component {id}: allowed_outbound_hosts"))?;
            let allowed = AllowedHosts::parse(&hosts)
                .with_context(|| format!("component {id}: allowed_outbound_hosts"))?;
            let vars = app_vars
                .for_component(component)
                .with_context(|| format!("component {id}: variables"))?;
            components.insert(
                id.clone(),
                ComponentRuntime {
                    handler,
                    vars,
                    allowed: Arc::new(allowed),
                },
            );
        }
        Ok(Self {
            router,
            components,
            statements: Arc::default(),
            clock: Arc::new(SystemClock),
            log: Arc::default(),
        })
    }

    /// The same app telling time (and sleeping) by `clock` instead of the
    /// wall clock: tests move it, and a request that sleeps does not wait.
    pub fn with_clock(mut self, clock: Arc<dyn Clock + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    /// How many SQL statements the app has sent so far, over all requests
    /// (each is one round trip from the component to PostgreSQL).
    pub fn statement_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.statements)
    }

    /// The components' log lines (see [`LogLines`]).
    pub fn log(&self) -> Arc<LogLines> {
        Arc::clone(&self.log)
    }

    /// `(route, component)` pairs, in manifest order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.router.routes()
    }

    /// Runs one request the way Spin would. `req`'s URI must be absolute
    /// (`http://host:port/path?query`), as Spin hands it to a component.
    pub fn handle(&self, req: Request, client_addr: SocketAddr) -> Response {
        self.dispatch(req, client_addr, todo_core::serve)
    }

    /// Answers 413 to a request whose body is over
    /// [`MAX_BODY_BYTES`](todo_core::api::MAX_BODY_BYTES), as the component
    /// does under Spin when it stops reading: routed, with the component's
    /// variables, without running its handler. `head` has no body.
    pub fn refuse_too_large(&self, head: Request, client_addr: SocketAddr) -> Response {
        self.dispatch(head, client_addr, |req, ctx, _| {
            todo_core::api::refuse(req, ctx, ApiError::payload_too_large(MAX_BODY_BYTES))
        })
    }

    /// Routes `req` to its component and has `run` answer it with the
    /// component's ports and handler.
    fn dispatch(
        &self,
        mut req: Request,
        client_addr: SocketAddr,
        run: impl FnOnce(Request, &Ctx, Handler) -> Response,
    ) -> Response {
        let path = req.uri().path().to_owned();
        let Some(route) = self.router.route(&path) else {
            return plain(StatusCode::NOT_FOUND);
        };
        let Some(component) = self.components.get(route.component) else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let uri = req.uri().clone();
        route.add_spin_headers(req.headers_mut(), client_addr, &uri);

        let db = NativeDb::new(
            todo_core::config::database_url(&component.vars),
            Arc::clone(&component.allowed),
        )
        .counting(Arc::clone(&self.statements));
        let http = NativeHttp::new(Arc::clone(&component.allowed));
        let redis = NativeRedis::new(Arc::clone(&component.allowed));
        // Every component may have Redis here; under Spin only the internal
        // component does (spin_host::serve_with_redis), and only it may
        // reach a Redis host by its allowed_outbound_hosts.
        let ctx = Ctx::new(&db, &http, &component.vars, &*self.clock)
            .with_redis(&redis)
            .with_log(&*self.log);
        // A panicking Wasm guest becomes a 500 with no body; so does a panicking handler here.
        catch_unwind(AssertUnwindSafe(|| run(req, &ctx, component.handler)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
    }
}

fn plain(status: StatusCode) -> Response {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

/// A harness listening on a socket. Every connection is served at once,
/// kept alive as long as its client wants, by a runtime on a thread of its
/// own; handlers, which block (they reach PostgreSQL synchronously), run on
/// that runtime's blocking threads.
pub struct Server {
    pub addr: SocketAddr,
    stopping: watch::Sender<bool>,
    serving: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts serving `app` on `listen` (e.g. `127.0.0.1:3000`, or port 0 for any free port).
    pub fn start(app: App, listen: &str) -> Result<Self> {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        // One thread for all the connections' I/O; the blocking threads
        // come and go with the requests.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name("harness-request")
            .build()
            .context("cannot start the server's runtime")?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (stopping, _) = watch::channel(false);
        let serving = {
            let stopping = stopping.clone();
            let app = Arc::new(app);
            std::thread::Builder::new()
                .name("harness-server".into())
                .spawn(move || runtime.block_on(serve(listener, app, addr, stopping)))
                .context("cannot start the server thread")?
        };
        Ok(Self {
            addr,
            stopping,
            serving: Some(serving),
        })
    }

    /// Blocks until the server stops (it does not, unless [`stop`](Self::stop)ped
    /// elsewhere) and its last connection has closed.
    pub fn wait(mut self) {
        if let Some(handle) = self.serving.take() {
            let _ = handle.join();
        }
    }

    /// Stops accepting connections; requests in flight are answered, then
    /// their connections close.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accepts connections until `stopping` turns true, then waits for the
/// open ones to finish what they are doing and close.
async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    local: SocketAddr,
    stopping: watch::Sender<bool>,
) {
    let http = hyper::server::conn::http1::Builder::new();
    let mut stopped = stopping.subscribe();
    loop {
        let (stream, client_addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: give the others time to close.
                    eprintln!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = until_stopped(&mut stopped) => break,
        };
        let service = {
            let app = Arc::clone(&app);
            // Boxed, so that the connection can hand back its socket.
            service_fn(move |request| {
                Box::pin(respond(Arc::clone(&app), request, local, client_addr))
            })
        };
        let mut connection = http.serve_connection(TokioIo::new(stream), service);
        // Each connection holds a receiver: `closed` below waits for all.
        let mut stopped = stopping.subscribe();
        tokio::spawn(async move {
            // Errors are the client's (gone away, malformed); there is no
            // one to tell. hyper has answered what it could answer.
            tokio::select! {
                _ = poll_fn(|cx| connection.poll_without_shutdown(cx)) => {}
                _ = until_stopped(&mut stopped) => {
                    // Finishes the request in flight, if any, and keeps no
                    // connection alive.
                    std::pin::Pin::new(&mut connection).graceful_shutdown();
                    let _ = poll_fn(|cx| connection.poll_without_shutdown(cx)).await;
                }
            }
            close_lingering(connection.into_parts().io.into_inner()).await;
        });
    }
    drop((listener, stopped));
    stopping.closed().await;
}

/// Resolves once the server is [stopped](Server::stop).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // An error means every sender is gone, which stops the server too.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// How long a closing connection goes on reading what its client still sends.
const LINGER: Duration = Duration::from_secs(2);

/// Closes a connection without losing the answer just sent on it. A client
/// may still be sending a body that was refused unread (413); closing a
/// socket with unread data resets it, and the reset can reach the client
/// before it reads the answer. So the server closes its side first and drops
/// what still arrives until the client closes too, or for [`LINGER`] at most.
async fn close_lingering(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut discard = vec![0; 64 * 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut discard).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn respond(
    app: Arc<App>,
    request: hyper::Request<hyper::body::Incoming>,
    local: SocketAddr,
    client_addr: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let response = match to_http_request(request, local).await {
        Ok(Incoming::Whole(req)) => run_blocking(move || app.handle(req, client_addr)).await,
        Ok(Incoming::TooLarge(head)) => {
            run_blocking(move || app.refuse_too_large(head, client_addr)).await
        }
        Err(_) => plain(StatusCode::BAD_REQUEST),
    };
    Ok(to_hyper_response(response))
}

/// Runs a handler where it may block without holding up any connection.
async fn run_blocking(handler: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(handler)
        .await
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A request as read off the socket.
enum Incoming {
    /// Head and whole body.
    Whole(Request),
    /// The head only: the body is over [`MAX_BODY_BYTES`], by its
    /// `Content-Length` or by what arrived.
    TooLarge(Request),
}

/// An `http::Request` with the absolute URI Spin gives components, reading
/// no more than [`MAX_BODY_BYTES`] + 1 bytes of body, as spin-host does
/// under Spin: a `Content-Length` over the limit is refused before a byte
/// is read (nor is `100 Continue` sent: hyper sends it only once the body
/// is polled), and reading stops one byte past it.
async fn to_http_request(
    request: hyper::Request<hyper::body::Incoming>,
    local: SocketAddr,
) -> Result<Incoming> {
    let (head, mut body) = request.into_parts();
    let host = match head.headers.get(http::header::HOST) {
        Some(host) => host.to_str()?.to_owned(),
        None => local.to_string(),
    };
    // An absolute-form request target keeps only its path and query.
    let path_and_query = head
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let uri: http::Uri = format!("http://{host}{path_and_query}").parse()?;
    if uri.host().is_none() {
        bail!("request without a usable host");
    }

    let mut req = http::Request::builder()
        .method(head.method)
        .uri(uri)
        .body(Bytes::new())?;
    // A header sent on several lines reaches a Spin component as one value,
    // the last (spin-sdk's conversion, and spin-host's, keep one per name).
    for (name, value) in &head.headers {
        req.headers_mut().insert(name.clone(), value.clone());
    }
    hide_credentials(req.headers_mut());

    // hyper's size hint is exact with a Content-Length (and 0 when chunked).
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
    if body.size_hint().lower() > limit {
        return Ok(Incoming::TooLarge(req));
    }
    if !reads_body(req.method()) {
        return Ok(Incoming::Whole(req));
    }
    let mut received = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            received.extend_from_slice(&data);
            if received.len() > MAX_BODY_BYTES {
                return Ok(Incoming::TooLarge(req));
            }
        }
    }
    *req.body_mut() = received.freeze();
    Ok(Incoming::Whole(req))
}

/// The app's answer as hyper sends it. hyper frames the body itself (and
/// sends none for HEAD), so the app's own framing headers are dropped.
fn to_hyper_response(response: Response) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    hyper::Response::from_parts(parts, Full::new(body))
}
