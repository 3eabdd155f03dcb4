//! Serves the app's components natively, doing what `spin up` does and
//! nothing more: route by `spin.toml`, give each request fresh ports built
//! from the component's variables and `allowed_outbound_hosts`, add Spin's
//! request headers, and call the component's handler through
//! `todo_core::serve`. CORS, errors and logging all belong to the core.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use todo_core::api::MAX_BODY_BYTES;
use todo_core::ports::SystemClock;
use todo_core::{ApiError, Ctx, Handler, Request, Response};

use crate::db::NativeDb;
use crate::http_client::NativeHttp;
use crate::manifest::Manifest;
use crate::outbound::AllowedHosts;
use crate::routes::{RouteMatch, Router};
use crate::variables::{AppVariables, ComponentVariables};

/// Which core handler each component of `spin.toml` runs (what the Wasm
/// module of `functions/<id>` would run under Spin).
pub const HANDLERS: &[(&str, Handler)] = &[
    ("auth", todo_core::auth::handle),
    ("todos", todo_core::todos::handle),
    ("chat", todo_core::chat::handle),
    ("health", todo_core::health::handle),
    ("mcp", todo_core::mcp::handle),
    ("web", todo_core::web::handle),
];

/// The app as loaded from `spin.toml`, ready to serve requests.
pub struct App {
    router: Router,
    components: HashMap<String, ComponentRuntime>,
    statements: Arc<AtomicU64>,
}

struct ComponentRuntime {
    handler: Handler,
    vars: ComponentVariables,
    allowed: Arc<AllowedHosts>,
    files_root: PathBuf,
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
            // Without mounted files the component sees an empty filesystem.
            let files_root = component.files_root.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("native-no-files-{}", uuid::Uuid::new_v4()))
            });
            components.insert(
                id.clone(),
                ComponentRuntime {
                    handler,
                    vars,
                    allowed: Arc::new(allowed),
                    files_root,
                },
            );
        }
        Ok(Self {
            router,
            components,
            statements: Arc::default(),
        })
    }

    /// How many SQL statements the app has sent so far, over all requests
    /// (each is one round trip from the component to PostgreSQL).
    pub fn statement_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.statements)
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
        add_spin_headers(&mut req, &route, client_addr);

        let db = NativeDb::new(
            todo_core::config::database_url(&component.vars),
            Arc::clone(&component.allowed),
        )
        .counting(Arc::clone(&self.statements));
        let http = NativeHttp::new(Arc::clone(&component.allowed));
        let ctx = Ctx::new(
            &db,
            &http,
            &component.vars,
            &SystemClock,
            component.files_root.clone(),
        );
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

/// The headers Spin adds to every request it passes to a component.
fn add_spin_headers(req: &mut Request, route: &RouteMatch, client_addr: SocketAddr) {
    let full_url = req.uri().to_string();
    let values = [
        ("spin-full-url", full_url.as_str()),
        ("spin-path-info", route.path_info),
        ("spin-matched-route", route.matched_route.as_str()),
        ("spin-component-route", route.component_route),
        ("spin-raw-component-route", route.raw_route),
        ("spin-base-path", "/"),
        ("spin-client-addr", &client_addr.to_string()),
    ];
    let headers = req.headers_mut();
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// A harness listening on a socket; requests run on a thread each.
pub struct Server {
    pub addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    accept_loop: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts serving `app` on `listen` (e.g. `127.0.0.1:3000`, or port 0 for any free port).
    pub fn start(app: App, listen: &str) -> Result<Self> {
        let http = tiny_http::Server::http(listen)
            .map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("{listen} is not a TCP address"))?;
        let http = Arc::new(http);
        let app = Arc::new(app);
        let accept_loop = {
            let http = Arc::clone(&http);
            std::thread::Builder::new()
                .name("harness-accept".into())
                .spawn(move || {
                    for request in http.incoming_requests() {
                        let app = Arc::clone(&app);
                        let spawned = std::thread::Builder::new()
                            .name("harness-request".into())
                            .spawn(move || respond(&app, request, addr));
                        if let Err(e) = spawned {
                            eprintln!("cannot start a request thread: {e}");
                        }
                    }
                })
                .context("cannot start the accept thread")?
        };
        Ok(Self {
            addr,
            http,
            accept_loop: Some(accept_loop),
        })
    }

    /// Blocks until the server stops (it does not, unless [`stop`](Self::stop)ped elsewhere).
    pub fn wait(mut self) {
        if let Some(handle) = self.accept_loop.take() {
            let _ = handle.join();
        }
    }

    /// Stops accepting requests; requests in flight finish on their threads.
    pub fn stop(&self) {
        self.http.unblock();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn respond(app: &App, mut request: tiny_http::Request, local: SocketAddr) {
    let client_addr = request
        .remote_addr()
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let response = match to_http_request(&mut request, local) {
        Ok(Incoming::Whole(req)) => app.handle(req, client_addr),
        Ok(Incoming::TooLarge(head)) => app.refuse_too_large(head, client_addr),
        Err(_) => plain(StatusCode::BAD_REQUEST),
    };
    // The client may have gone away; there is no one left to tell.
    let _ = request.respond(to_tiny_response(response));
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
/// is read (nor is `100 Continue` sent), and reading stops one byte past it.
fn to_http_request(request: &mut tiny_http::Request, local: SocketAddr) -> Result<Incoming> {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("host"))
        .map(|h| h.value.as_str().to_owned())
        .unwrap_or_else(|| local.to_string());
    let target = request.url();
    let path_and_query = if target.starts_with('/') {
        target.to_owned()
    } else {
        // absolute-form request target
        let uri: http::Uri = target.parse()?;
        uri.path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
    };
    let uri: http::Uri = format!("http://{host}{path_and_query}").parse()?;
    if uri.host().is_none() {
        bail!("request without a usable host");
    }

    let mut req = http::Request::builder()
        .method(request.method().as_str())
        .uri(uri)
        .body(Bytes::new())?;
    // A header sent on several lines reaches a Spin component as one value,
    // the last (spin-sdk's conversion, and spin-host's, keep one per name).
    for header in request.headers() {
        req.headers_mut().insert(
            HeaderName::from_bytes(header.field.as_str().as_str().as_bytes())?,
            HeaderValue::from_str(header.value.as_str())?,
        );
    }

    // tiny_http's `body_length` is the Content-Length (none when chunked).
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Ok(Incoming::TooLarge(req));
    }
    let limit = u64::try_from(MAX_BODY_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut body = Vec::new();
    request.as_reader().take(limit).read_to_end(&mut body)?;
    if body.len() > MAX_BODY_BYTES {
        return Ok(Incoming::TooLarge(req));
    }
    *req.body_mut() = Bytes::from(body);
    Ok(Incoming::Whole(req))
}

fn to_tiny_response(response: Response) -> tiny_http::Response<std::io::Cursor<Bytes>> {
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            *name != http::header::CONTENT_LENGTH && *name != http::header::TRANSFER_ENCODING
        })
        .filter_map(|(name, value)| {
            tiny_http::Header::from_bytes(name.as_str().as_bytes(), value.as_bytes()).ok()
        })
        .collect();
    let length = body.len();
    tiny_http::Response::new(
        tiny_http::StatusCode(parts.status.as_u16()),
        headers,
        std::io::Cursor::new(body),
        Some(length),
        None,
    )
}
