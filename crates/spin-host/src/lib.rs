//! Spin-backed ports for todo-core, and the one function every component calls.

pub fn serve(
    req: http::Request<bytes::Bytes>,
    handler: todo_core::Handler,
) -> http::Response<bytes::Bytes> {
    let _ = (req, handler);
    todo!("spin-host is being written")
}
