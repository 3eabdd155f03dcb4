//! A Spin hello-world, built like the app's components (spin-sdk 5.2,
//! wasm32-wasip1), so that scripts/wasm-bench can report each endpoint as a
//! ratio to the cost of a request that does nothing.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(_req: spin_sdk::http::IncomingRequest) -> http::Response<bytes::Bytes> {
    http::Response::new(bytes::Bytes::from_static(b"hello"))
}
