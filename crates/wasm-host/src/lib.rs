//! A test host that runs the release `.wasm` components the way Spin runs
//! them, so that the tests and benchmarks see the guest code itself rather
//! than its native build (`native::harness`):
//!
//! - each `wasm32-wasip1` module named by `spin.toml` becomes a component as
//!   Spin makes it (wit-component with the WASI preview 1 adapter), compiled
//!   once at start;
//! - every request gets a fresh instance (a new `Store`), from a pooling
//!   allocator;
//! - routes, variables, `allowed_outbound_hosts` and `files` come from
//!   `spin.toml`, resolved by the native harness's own code;
//! - `spin:postgres@4.0.0` is as strict as the native port ([`pg`]), and
//!   pools connections between requests as Spin does,
//!   `fermyon:spin/variables@2.0.0` answers the component's resolved
//!   variables, outbound HTTP is wasmtime-wasi-http's client restricted to
//!   `allowed_outbound_hosts`. Redis (`fermyon:spin/redis`) is not
//!   implemented: a call traps.
//!
//! It is not a product and not Spin: a way to execute the compiled guests.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cpu;
pub mod pg;
pub mod server;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use cpu::{ComponentCost, CpuStats, CpuTimed};
use http::StatusCode;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use native::manifest::Manifest;
use native::routes::Router;
use native::{AllowedHosts, AppVariables, ComponentVariables, Pool};
use todo_core::ports::Variables;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable, ResourceType};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

wasmtime::component::bindgen!({
    path: "wit",
    world: "host",
    imports: { default: async },
    with: { "spin:postgres/postgres.connection": pg::PgConnection },
});

use fermyon::spin::variables;

/// What one request's instance holds.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    table: ResourceTable,
    vars: ComponentVariables,
    /// How many times the instance asked for a variable: under Spin each is
    /// a host call that resolves the variable's template.
    variable_calls: u64,
    allowed: Arc<AllowedHosts>,
    pool: Arc<Pool>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outbound HTTP as Spin allows it: only to `allowed_outbound_hosts`.
struct OutboundHooks {
    allowed: Arc<AllowedHosts>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let uri = request.uri();
        let allowed = self.allowed.allows(
            uri.scheme_str().unwrap_or("https"),
            uri.host().unwrap_or_default(),
            uri.port_u16(),
        );
        if !allowed {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        drop(fut);
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.variable_calls += 1;
        self.vars
            .get(&name)
            .ok_or(variables::Error::Undefined(format!(
                "no variable for {name:?}"
            )))
    }
}

/// A component ready to instantiate, with what its instances are given.
struct LoadedComponent {
    pre: ProxyPre<HostState>,
    vars: ComponentVariables,
    allowed: Arc<AllowedHosts>,
    files_root: Option<PathBuf>,
}

/// The app of `spin.toml`, every component compiled.
pub struct WasmApp {
    router: Router,
    components: HashMap<String, LoadedComponent>,
    pool: Arc<Pool>,
    cpu: Arc<CpuStats>,
    inherit_stdout: bool,
}

/// The response body type the host hands back.
pub type ResponseBody = UnsyncBoxBody<Bytes, anyhow::Error>;

impl WasmApp {
    /// Loads `spin.toml` with `SPIN_VARIABLE_*` over its defaults and
    /// `overrides` on top (as `native::App::load`).
    pub fn load(manifest_path: &Path, overrides: &HashMap<String, String>) -> Result<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let vars = AppVariables::resolve(&manifest, overrides)?;
        Self::build(manifest_path, &manifest, &vars)
    }

    /// Like [`load`](Self::load), ignoring the process environment (tests).
    pub fn load_isolated(
        manifest_path: &Path,
        overrides: &HashMap<String, String>,
    ) -> Result<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let vars = AppVariables::resolve_with(&manifest, |_| None, overrides)?;
        Self::build(manifest_path, &manifest, &vars)
    }

    fn build(manifest_path: &Path, manifest: &Manifest, app_vars: &AppVariables) -> Result<Self> {
        let sources = component_sources(manifest_path)?;
        let engine = engine()?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        Host_::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        let mut components = HashMap::new();
        for (id, component) in &manifest.components {
            let source = sources
                .get(id)
                .ok_or_else(|| anyhow!("component {id} has no source"))?;
            let module = std::fs::read(source).with_context(|| {
                format!(
                    "cannot read {} (build it: cargo build --target wasm32-wasip1 --release -p {id})",
                    source.display()
                )
            })?;
            let compiled = Component::new(&engine, componentize(&module)?)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id}: compiling"))?;
            let mut linker = linker.clone();
            stub_redis(&mut linker, &compiled)?;
            let pre = ProxyPre::new(linker.instantiate_pre(&compiled)?)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id}: not a wasi:http handler"))?;
            let hosts = component
                .allowed_outbound_hosts
                .iter()
                .map(|t| app_vars.render(t))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component {id}: allowed_outbound_hosts"))?;
            components.insert(
                id.clone(),
                LoadedComponent {
                    pre,
                    vars: app_vars.for_component(component)?,
                    allowed: Arc::new(AllowedHosts::parse(&hosts)?),
                    files_root: component.files_root.clone(),
                },
            );
        }
        Ok(Self {
            router: Router::new(&manifest.http_routes)?,
            components,
            pool: Arc::default(),
            cpu: Arc::default(),
            inherit_stdout: false,
        })
    }

    /// Components write to the host's stdout (their request log lines), as
    /// under Spin; without it (tests) what they print is dropped.
    pub fn inherit_stdout(mut self) -> Self {
        self.inherit_stdout = true;
        self
    }

    /// Runs one request in a fresh instance of its component. `req`'s URI
    /// must be absolute, as Spin hands it to a component.
    pub async fn handle<B>(
        &self,
        mut req: http::Request<B>,
        client_addr: SocketAddr,
    ) -> Result<http::Response<ResponseBody>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let path = req.uri().path().to_owned();
        let Some(route) = self.router.route(&path) else {
            return Ok(plain(StatusCode::NOT_FOUND));
        };
        let component = self
            .components
            .get(route.component)
            .ok_or_else(|| anyhow!("no component {}", route.component))?;
        let uri = req.uri().clone();
        route.add_spin_headers(req.headers_mut(), client_addr, &uri);

        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stderr();
        if self.inherit_stdout {
            wasi.inherit_stdout();
        }
        if let Some(root) = &component.files_root {
            wasi.preopened_dir(root, "/", FsPerms::ReadOnly)?;
        }
        let mut store = Store::new(
            component.pre.engine(),
            HostState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                hooks: OutboundHooks {
                    allowed: Arc::clone(&component.allowed),
                },
                table: ResourceTable::new(),
                vars: component.vars.clone(),
                variable_calls: 0,
                allowed: Arc::clone(&component.allowed),
                pool: Arc::clone(&self.pool),
            },
        );
        let mut instantiate = Duration::ZERO;
        let proxy = CpuTimed::new(
            component.pre.instantiate_async(&mut store),
            &mut instantiate,
        )
        .await?;
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let out = store.data_mut().http().new_response_outparam(sender)?;
        // The guest may go on writing the body after it has sent the head,
        // so it runs on a task of its own until it returns.
        let cpu = Arc::clone(&self.cpu);
        let name = route.component.to_owned();
        let task = tokio::spawn(async move {
            let mut handle = Duration::ZERO;
            let handler = proxy.wasi_http_incoming_handler();
            let done =
                CpuTimed::new(handler.call_handle(&mut store, request, out), &mut handle).await;
            cpu.record(&name, instantiate, handle, store.data().variable_calls);
            done
        });
        match receiver.await {
            Ok(Ok(response)) => {
                Ok(response.map(|body| body.map_err(anyhow::Error::from).boxed_unsync()))
            }
            Ok(Err(code)) => Err(anyhow!("the component answered an error: {code:?}")),
            Err(_) => match task.await {
                Ok(Err(trap)) => Err(anyhow::Error::from(trap).context("the component trapped")),
                Ok(Ok(())) => Err(anyhow!("the component returned without answering")),
                Err(e) => Err(anyhow!("the component's task failed: {e}")),
            },
        }
    }

    /// The CPU time each component's instances took since the last call.
    pub fn take_cpu_stats(&self) -> BTreeMap<String, ComponentCost> {
        self.cpu.take()
    }
}

/// An empty answer with `status`.
pub fn plain(status: StatusCode) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(Empty::new().map_err(|e| match e {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

/// Redis (`fermyon:spin/redis`, imported by the internal component only)
/// is not implemented here: the component links, and any call traps.
fn stub_redis(linker: &mut Linker<HostState>, component: &Component) -> Result<()> {
    struct RedisUnsupported;
    let engine = linker.engine().clone();
    for (name, import) in component.component_type().imports(&engine) {
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        if !name.starts_with("fermyon:spin/redis") {
            continue;
        }
        let mut stub = linker.instance(name)?;
        for (export, item) in instance.exports(&engine) {
            match item.ty {
                ComponentItem::Resource(_) => {
                    stub.resource(export, ResourceType::host::<RedisUnsupported>(), |_, _| {
                        Ok(())
                    })?
                }
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{export}");
                    stub.func_new(export, move |_, _, _, _| {
                        Err(wasmtime::Error::from_anyhow(anyhow!(
                            "{what}: Redis is not implemented by the wasm host"
                        )))
                    })?
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Each component's `source`, resolved against the manifest's folder
/// (`native::manifest` does not keep it: the native harness runs no wasm).
fn component_sources(manifest_path: &Path) -> Result<HashMap<String, PathBuf>> {
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let doc: toml::Table = toml::from_str(&text)?;
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let mut sources = HashMap::new();
    if let Some(components) = doc.get("component").and_then(|c| c.as_table()) {
        for (id, component) in components {
            if let Some(source) = component.get("source").and_then(|s| s.as_str()) {
                sources.insert(id.clone(), dir.join(source));
            }
        }
    }
    Ok(sources)
}

/// A `wasm32-wasip1` module as the component Spin makes of it: the module's
/// own `component-type` section (from wit-bindgen) plus the WASI preview 1
/// adapter.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(module)?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
}

/// An engine as Spin configures one for HTTP: instances from a pool.
fn engine() -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(200)
        .total_core_instances(2_000)
        .total_memories(400)
        .total_tables(400)
        .max_memory_size(256 << 20);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // `perf record` names the guest's functions with /tmp/perf-PID.map.
    if std::env::var_os("WASM_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Ok(Engine::new(&config)?)
}
