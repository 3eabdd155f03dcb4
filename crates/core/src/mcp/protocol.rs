//! JSON-RPC and MCP at the `/mcp` endpoint: reading one message, deciding
//! per request which protocol revision it speaks, checking that its headers
//! agree with its body, and the shape of results and errors.
//!
//! Spec (modelcontextprotocol/modelcontextprotocol):
//! - `docs/specification/2026-07-28/basic/index.mdx`: messages, `resultType`,
//!   error codes (`-32020` HeaderMismatch, `-32022` UnsupportedProtocolVersion),
//!   the per-request `_meta` fields and "a request missing any required
//!   field ... `-32602` ... `400 Bad Request`".
//! - `docs/specification/2026-07-28/basic/versioning.mdx`: the
//!   `UnsupportedProtocolVersionError` (`data.supported`, `data.requested`)
//!   and how a dual-era server picks the era from how the client opens.
//! - `docs/specification/2026-07-28/basic/transports/streamable-http.mdx`:
//!   `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` (with the
//!   `=?base64?...?=` encoding), server validation, 404 for an unknown method.
//! - `docs/specification/2025-11-25/basic/lifecycle.mdx` and `transports.mdx`
//!   (the same in `2025-06-18/`): `initialize`, version negotiation, and
//!   "a request with an invalid or unsupported `MCP-Protocol-Version` ...
//!   `400 Bad Request`"; without the header a request is taken as `2025-03-26`.

use base64::Engine;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

/// The stateless revision: every request carries its version in `_meta`.
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
/// Revisions with the `initialize` handshake, newest first; served without
/// any server state (no session id is ever minted or required).
pub const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18"];
/// What a request without `MCP-Protocol-Version` (and without `_meta`) is
/// taken to speak (2025-11-25 transports.mdx, "Protocol Version Header").
pub const HEADERLESS_VERSION: &str = "2025-03-26";

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const HEADER_MISMATCH: i64 = -32020;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
pub const METHOD_HEADER: &str = "mcp-method";
pub const NAME_HEADER: &str = "mcp-name";

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Every version this server speaks, newest first (what `server/discover`
/// and the `-32022` error name).
pub fn supported_versions() -> Vec<&'static str> {
    MODERN_VERSIONS
        .iter()
        .chain(LEGACY_VERSIONS)
        .copied()
        .collect()
}

/// The server's `Implementation`.
pub fn server_info() -> Value {
    json!({
        "name": "todo-spin",
        "title": "Todo list",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    fn header_mismatch(message: impl Into<String>) -> Self {
        Self::new(HEADER_MISMATCH, message)
    }

    /// `UnsupportedProtocolVersionError`, naming what is supported.
    fn unsupported_version(requested: &str, message: impl Into<String>) -> Self {
        Self {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: message.into(),
            data: Some(json!({"supported": supported_versions(), "requested": requested})),
        }
    }

    /// The HTTP status of this error. The 2026-07-28 transport fixes 400 for
    /// malformed messages, header and version failures and missing `_meta`
    /// fields, and 404 for an unknown method. Legacy revisions answer their
    /// request errors with 200 (a legacy client reads 404 as "session
    /// terminated"), but malformed input and a bad version header are 400
    /// in every revision. `era` is `None` while the message is being read
    /// and its revision decided: those failures are all 400.
    pub fn status(&self, era: Option<Era>) -> StatusCode {
        let modern = !matches!(era, Some(Era::Legacy(_) | Era::Initialize));
        match self.code {
            PARSE_ERROR | INVALID_REQUEST | HEADER_MISMATCH | UNSUPPORTED_PROTOCOL_VERSION => {
                StatusCode::BAD_REQUEST
            }
            INVALID_PARAMS if modern => StatusCode::BAD_REQUEST,
            METHOD_NOT_FOUND if modern => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// One JSON-RPC message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Expects an answer; `id` is a string or an integer.
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    /// Expects none (no `id`).
    Notification {
        method: String,
        params: Map<String, Value>,
    },
}

/// Why a body is not one message, with the request id when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub id: Option<Value>,
    pub error: RpcError,
}

fn reject(id: Option<Value>, code: i64, message: impl Into<String>) -> Rejection {
    Rejection {
        id,
        error: RpcError::new(code, message),
    }
}

/// Reads the body of a POST: exactly one JSON-RPC request or notification.
/// Batches are refused (the transport sends each message as its own POST),
/// and so are responses: this server never sends a request to answer.
pub fn parse_message(body: &[u8]) -> Result<Message, Rejection> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| reject(None, PARSE_ERROR, format!("Parse error: {e}")))?;
    let mut object =
        match value {
            Value::Object(object) => object,
            Value::Array(_) => return Err(reject(
                None,
                INVALID_REQUEST,
                "Invalid Request: batches are not supported; send one JSON-RPC message per POST",
            )),
            _ => {
                return Err(reject(
                    None,
                    INVALID_REQUEST,
                    "Invalid Request: the body must be a JSON-RPC request object",
                ))
            }
        };
    let id = match object.remove("id") {
        None => None,
        Some(id @ Value::String(_)) => Some(id),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        Some(_) => {
            return Err(reject(
                None,
                INVALID_REQUEST,
                "Invalid Request: id must be a string or an integer (not null)",
            ))
        }
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(reject(
            id,
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        ));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => {
            return Err(reject(
                id,
                INVALID_REQUEST,
                "Invalid Request: method must be a string",
            ))
        }
        None => {
            return Err(reject(
                id,
                INVALID_REQUEST,
                "Invalid Request: a method is required (this server sends no requests, so it takes no responses)",
            ))
        }
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => {
            return Err(reject(
                id,
                INVALID_PARAMS,
                "Invalid params: params must be an object",
            ))
        }
    };
    Ok(match id {
        Some(id) => Message::Request { id, method, params },
        None => Message::Notification { method, params },
    })
}

/// Which revision a request speaks, decided for this request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2026-07-28: versioned by `_meta`, headers checked, results tagged.
    Modern(&'static str),
    /// `initialize` opens a legacy exchange; its version is negotiated from
    /// its params.
    Initialize,
    /// A later request of a legacy exchange, versioned by its header.
    Legacy(&'static str),
}

/// A header's value; `Err` when it is not visible ASCII.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, RpcError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                RpcError::header_mismatch(format!(
                    "Header mismatch: the {name} header contains invalid characters"
                ))
            })
        })
        .transpose()
}

/// `Mcp-Name` and `Mcp-Param-*` values may be sent as `=?base64?...?=`
/// (streamable-http.mdx, "Value Encoding"); `None` when that does not decode.
pub fn decode_header_value(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(raw.to_owned()),
    }
}

/// `Mcp-Method` must name the body's method and, for `tools/call`,
/// `Mcp-Name` the tool. `required`: whether missing headers are a failure
/// (they are in 2026-07-28; legacy clients need not send them, but what
/// they send must agree with the body all the same).
fn check_routing_headers(
    headers: &HeaderMap,
    method: &str,
    params: &Map<String, Value>,
    required: bool,
) -> Result<(), RpcError> {
    match header(headers, METHOD_HEADER)? {
        Some(value) if value == method => {}
        Some(value) => {
            return Err(RpcError::header_mismatch(format!(
                "Header mismatch: Mcp-Method header value '{value}' does not match body value '{method}'"
            )))
        }
        None if required => {
            return Err(RpcError::header_mismatch(
                "Header mismatch: the Mcp-Method header is required and must repeat the body's method",
            ))
        }
        None => {}
    }
    if method == "tools/call" {
        let body_name = params.get("name").and_then(Value::as_str);
        match (header(headers, NAME_HEADER)?, body_name) {
            (Some(raw), Some(name)) if decode_header_value(raw).as_deref() != Some(name) => {
                return Err(RpcError::header_mismatch(format!(
                    "Header mismatch: Mcp-Name header value '{raw}' does not match body value '{name}'"
                )));
            }
            (None, Some(_)) if required => {
                return Err(RpcError::header_mismatch(
                    "Header mismatch: the Mcp-Name header is required for tools/call and must repeat params.name",
                ))
            }
            // Without a name in the body the call fails as invalid params.
            _ => {}
        }
    }
    Ok(())
}

/// Decides which revision a request speaks, as the 2026-07-28
/// versioning.mdx ("A dual-era server selects its behavior from how the
/// client opens") and the transports describe:
///
/// - `initialize` opens a legacy exchange (whatever its headers say);
/// - a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion`,
///   or whose `MCP-Protocol-Version` header names the modern revision, is
///   modern and goes through the server-validation ladder: required `_meta`
///   fields (`-32602`), headers agreeing with the body (`-32020`), then the
///   version (`-32022`);
/// - otherwise the `MCP-Protocol-Version` header must name a legacy revision
///   this server speaks; an unknown one, or none (taken as `2025-03-26`), is
///   refused with `-32022` naming the supported versions.
pub fn era(
    headers: &HeaderMap,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Era, RpcError> {
    let version_header = header(headers, PROTOCOL_VERSION_HEADER)?;
    if method == "initialize" {
        return Ok(Era::Initialize);
    }
    let meta = params.get("_meta");
    let meta_version = meta.and_then(|m| m.get(META_PROTOCOL_VERSION));
    let header_modern = version_header.is_some_and(|v| MODERN_VERSIONS.contains(&v));
    if meta_version.is_some() || header_modern {
        let meta = meta.and_then(Value::as_object);
        let missing: Vec<&str> = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES]
            .into_iter()
            .filter(|key| meta.is_none_or(|m| !m.contains_key(*key)))
            .collect();
        if !missing.is_empty() {
            return Err(RpcError::invalid_params(format!(
                "Invalid params: params._meta is missing the required field(s) {}",
                missing.join(", ")
            )));
        }
        let requested = meta_version.and_then(Value::as_str);
        match (version_header, requested) {
            (Some(h), Some(v)) if h == v => {}
            (None, _) => {
                return Err(RpcError::header_mismatch(
                    "Header mismatch: the MCP-Protocol-Version header is required and must match params._meta",
                ))
            }
            (Some(h), _) => {
                return Err(RpcError::header_mismatch(format!(
                    "Header mismatch: MCP-Protocol-Version header value '{h}' does not match body value {}",
                    meta_version.map_or_else(String::new, Value::to_string)
                )))
            }
        }
        check_routing_headers(headers, method, params, true)?;
        let requested = requested.unwrap_or_default();
        return match MODERN_VERSIONS.iter().find(|v| **v == requested) {
            Some(version) => Ok(Era::Modern(version)),
            None => Err(RpcError::unsupported_version(
                requested,
                "Unsupported protocol version",
            )),
        };
    }
    match version_header {
        Some(h) => match LEGACY_VERSIONS.iter().find(|v| **v == h) {
            Some(version) => {
                check_routing_headers(headers, method, params, false)?;
                Ok(Era::Legacy(version))
            }
            None => Err(RpcError::unsupported_version(
                h,
                "Unsupported protocol version",
            )),
        },
        None => Err(RpcError::unsupported_version(
            HEADERLESS_VERSION,
            format!(
                "Unsupported protocol version: without an MCP-Protocol-Version header a request is \
                 taken as {HEADERLESS_VERSION}; send initialize first and then the negotiated \
                 version in that header, or use 2026-07-28 with params._meta"
            ),
        )),
    }
}

/// Whether a notification's headers agree with it. The 2026-07-28 transport
/// requires no header of a notification ("header requirements for
/// notification POSTs are not defined by this revision"), but one that is
/// sent is checked as a request's is, so that an intermediary routing on
/// the headers never sees a notification the server reads otherwise:
/// `Mcp-Method` must repeat the method and `MCP-Protocol-Version` match
/// `_meta`'s version (`-32020`), and the version must be one this server
/// speaks (`-32022`, "invalid or unsupported" in every revision). A
/// notification without the version header is not taken as `2025-03-26`:
/// it needs no answer, so nothing depends on its version.
pub fn check_notification(
    headers: &HeaderMap,
    method: &str,
    params: &Map<String, Value>,
) -> Result<(), RpcError> {
    let version_header = header(headers, PROTOCOL_VERSION_HEADER)?;
    check_routing_headers(headers, method, params, false)?;
    let meta_version = params
        .get("_meta")
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    let requested = match (version_header, meta_version) {
        (Some(h), Some(v)) if v.as_str() != Some(h) => {
            return Err(RpcError::header_mismatch(format!(
                "Header mismatch: MCP-Protocol-Version header value '{h}' does not match body value {v}"
            )))
        }
        (Some(h), _) => h,
        (None, Some(v)) => v.as_str().unwrap_or_default(),
        (None, None) => return Ok(()),
    };
    if supported_versions().contains(&requested) {
        Ok(())
    } else {
        Err(RpcError::unsupported_version(
            requested,
            "Unsupported protocol version",
        ))
    }
}

/// The version an `initialize` request settles on: the client's when this
/// server speaks it, else the newest legacy one (lifecycle.mdx, "Version
/// Negotiation").
pub fn negotiate(params: &Map<String, Value>) -> Result<&'static str, RpcError> {
    let requested = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::invalid_params("Invalid params: initialize needs params.protocolVersion")
        })?;
    Ok(LEGACY_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LEGACY_VERSIONS[0]))
}

/// A result as `era` shapes it: 2026-07-28 results carry
/// `resultType: "complete"` and the server's identity in `_meta`.
pub fn shape_result(era: Era, mut result: Map<String, Value>) -> Value {
    if let Era::Modern(_) = era {
        result.insert("resultType".into(), "complete".into());
        let meta = result
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert(META_SERVER_INFO.into(), server_info());
        }
    }
    Value::Object(result)
}

/// A JSON-RPC success response.
pub fn success(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A JSON-RPC error response (without `id` when it could not be read).
pub fn failure(id: Option<&Value>, error: &RpcError) -> Value {
    let mut response = json!({"jsonrpc": "2.0", "error": error.to_json()});
    if let Some(id) = id {
        response["id"] = id.clone();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn modern_params(extra: Value) -> Map<String, Value> {
        let mut params = json!({"_meta": {
            META_PROTOCOL_VERSION: "2026-07-28",
            META_CLIENT_CAPABILITIES: {},
        }});
        if let (Value::Object(p), Value::Object(e)) = (&mut params, extra) {
            p.extend(e);
        }
        params.as_object().cloned().unwrap()
    }

    #[test]
    fn a_body_is_one_request_or_notification() {
        let cases: [(&str, Result<Message, i64>); 10] = [
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                Ok(Message::Request {
                    id: json!(1),
                    method: "tools/list".into(),
                    params: Map::new(),
                }),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"ping","params":null}"#,
                Ok(Message::Request {
                    id: json!("a"),
                    method: "ping".into(),
                    params: Map::new(),
                }),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                Ok(Message::Notification {
                    method: "notifications/initialized".into(),
                    params: Map::new(),
                }),
            ),
            ("{not json", Err(PARSE_ERROR)),
            ("", Err(PARSE_ERROR)),
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                Err(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                Err(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                Err(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                Err(INVALID_REQUEST),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                Err(INVALID_REQUEST),
            ),
        ];
        for (body, want) in cases {
            let got = parse_message(body.as_bytes()).map_err(|r| r.error.code);
            assert_eq!(got, want, "{body}");
        }
        let params = parse_message(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#);
        assert_eq!(
            params.map_err(|r| (r.id, r.error.code)),
            Err((Some(json!(1)), INVALID_PARAMS))
        );
    }

    #[test]
    fn a_modern_request_must_repeat_its_version_method_and_name_in_headers() {
        let call = modern_params(json!({"name": "add_task"}));
        let ok = headers(&[
            (PROTOCOL_VERSION_HEADER, "2026-07-28"),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "add_task"),
        ]);
        assert_eq!(era(&ok, "tools/call", &call), Ok(Era::Modern("2026-07-28")));
        let encoded = headers(&[
            (PROTOCOL_VERSION_HEADER, "2026-07-28"),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "=?base64?YWRkX3Rhc2s=?="),
        ]);
        assert_eq!(
            era(&encoded, "tools/call", &call),
            Ok(Era::Modern("2026-07-28"))
        );
        let cases = [
            vec![(METHOD_HEADER, "tools/call"), (NAME_HEADER, "add_task")],
            vec![
                (PROTOCOL_VERSION_HEADER, "2025-11-25"),
                (METHOD_HEADER, "tools/call"),
                (NAME_HEADER, "add_task"),
            ],
            vec![
                (PROTOCOL_VERSION_HEADER, "2026-07-28"),
                (NAME_HEADER, "add_task"),
            ],
            vec![
                (PROTOCOL_VERSION_HEADER, "2026-07-28"),
                (METHOD_HEADER, "tools/list"),
                (NAME_HEADER, "add_task"),
            ],
            vec![
                (PROTOCOL_VERSION_HEADER, "2026-07-28"),
                (METHOD_HEADER, "tools/call"),
            ],
            vec![
                (PROTOCOL_VERSION_HEADER, "2026-07-28"),
                (METHOD_HEADER, "tools/call"),
                (NAME_HEADER, "delete_task"),
            ],
        ];
        for case in cases {
            let got = era(&headers(&case), "tools/call", &call).map_err(|e| e.code);
            assert_eq!(got, Err(HEADER_MISMATCH), "{case:?}");
        }
    }

    #[test]
    fn missing_meta_fields_come_before_headers_and_versions_after() {
        let h = headers(&[
            (PROTOCOL_VERSION_HEADER, "2026-07-28"),
            (METHOD_HEADER, "tools/list"),
        ]);
        let no_meta = Map::new();
        assert_eq!(
            era(&h, "tools/list", &no_meta).map_err(|e| e.code),
            Err(INVALID_PARAMS)
        );
        let no_caps = json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28"}});
        let got = era(&h, "tools/list", no_caps.as_object().unwrap());
        assert_eq!(got.map_err(|e| e.code), Err(INVALID_PARAMS));

        let future = headers(&[
            (PROTOCOL_VERSION_HEADER, "2099-01-01"),
            (METHOD_HEADER, "tools/list"),
        ]);
        let mut params = modern_params(json!({}));
        params.insert(
            "_meta".into(),
            json!({META_PROTOCOL_VERSION: "2099-01-01", META_CLIENT_CAPABILITIES: {}}),
        );
        let err = era(&future, "tools/list", &params).unwrap_err();
        assert_eq!(err.code, UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(
            err.data,
            Some(
                json!({"supported": ["2026-07-28", "2025-11-25", "2025-06-18"], "requested": "2099-01-01"})
            )
        );
    }

    #[test]
    fn legacy_requests_are_versioned_by_their_header() {
        let params = Map::new();
        for version in LEGACY_VERSIONS {
            let h = headers(&[(PROTOCOL_VERSION_HEADER, version)]);
            assert_eq!(era(&h, "tools/list", &params), Ok(Era::Legacy(version)));
        }
        // initialize needs no header (and ignores one).
        assert_eq!(
            era(&HeaderMap::new(), "initialize", &params),
            Ok(Era::Initialize)
        );
        for (h, requested) in [
            (HeaderMap::new(), "2025-03-26"),
            (
                headers(&[(PROTOCOL_VERSION_HEADER, "2024-11-05")]),
                "2024-11-05",
            ),
        ] {
            let err = era(&h, "tools/list", &params).unwrap_err();
            assert_eq!(err.code, UNSUPPORTED_PROTOCOL_VERSION);
            assert_eq!(err.data.unwrap()["requested"], requested);
        }
        // Headers a legacy client chose to send must still agree.
        let h = headers(&[
            (PROTOCOL_VERSION_HEADER, "2025-06-18"),
            (METHOD_HEADER, "tools/call"),
        ]);
        assert_eq!(
            era(&h, "tools/list", &params).map_err(|e| e.code),
            Err(HEADER_MISMATCH)
        );
    }

    #[test]
    fn a_notification_needs_no_headers_but_those_it_sends_must_agree() {
        let method = "notifications/cancelled";
        let plain = Map::new();
        let modern = modern_params(json!({}));
        let ok = [
            (headers(&[]), &plain),
            (headers(&[]), &modern),
            (headers(&[(PROTOCOL_VERSION_HEADER, "2025-06-18")]), &plain),
            (
                headers(&[
                    (PROTOCOL_VERSION_HEADER, "2026-07-28"),
                    (METHOD_HEADER, method),
                ]),
                &modern,
            ),
        ];
        for (h, params) in ok {
            assert_eq!(check_notification(&h, method, params), Ok(()), "{h:?}");
        }
        let refused = [
            (
                headers(&[(METHOD_HEADER, "tools/list")]),
                &plain,
                HEADER_MISMATCH,
            ),
            (
                headers(&[(PROTOCOL_VERSION_HEADER, "2025-11-25")]),
                &modern,
                HEADER_MISMATCH,
            ),
            (
                headers(&[(PROTOCOL_VERSION_HEADER, "2024-11-05")]),
                &plain,
                UNSUPPORTED_PROTOCOL_VERSION,
            ),
            (
                headers(&[
                    (PROTOCOL_VERSION_HEADER, "2099-01-01"),
                    (METHOD_HEADER, method),
                ]),
                &plain,
                UNSUPPORTED_PROTOCOL_VERSION,
            ),
        ];
        for (h, params, code) in refused {
            let got = check_notification(&h, method, params).map_err(|e| e.code);
            assert_eq!(got, Err(code), "{h:?}");
        }
    }

    #[test]
    fn initialize_settles_on_the_clients_version_or_the_newest_legacy_one() {
        let with = |v: &str| json!({"protocolVersion": v}).as_object().cloned().unwrap();
        assert_eq!(negotiate(&with("2025-06-18")), Ok("2025-06-18"));
        assert_eq!(negotiate(&with("2025-11-25")), Ok("2025-11-25"));
        assert_eq!(negotiate(&with("2024-11-05")), Ok("2025-11-25"));
        assert_eq!(negotiate(&with("2026-07-28")), Ok("2025-11-25"));
        assert_eq!(
            negotiate(&Map::new()).map_err(|e| e.code),
            Err(INVALID_PARAMS)
        );
    }

    #[test]
    fn modern_results_are_tagged_and_legacy_ones_left_alone() {
        let result = json!({"tools": []}).as_object().cloned().unwrap();
        let modern = shape_result(Era::Modern("2026-07-28"), result.clone());
        assert_eq!(modern["resultType"], "complete");
        assert_eq!(modern["_meta"][META_SERVER_INFO]["name"], "todo-spin");
        assert_eq!(
            shape_result(Era::Legacy("2025-11-25"), result),
            json!({"tools": []})
        );
    }

    #[test]
    fn base64_header_values_are_decoded_and_bad_ones_match_nothing() {
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }

    #[test]
    fn error_statuses_follow_the_era() {
        let modern = Some(Era::Modern("2026-07-28"));
        let legacy = Some(Era::Legacy("2025-11-25"));
        let status = |code, era| RpcError::new(code, "x").status(era).as_u16();
        assert_eq!(status(PARSE_ERROR, None), 400);
        assert_eq!(status(INVALID_REQUEST, None), 400);
        assert_eq!(status(HEADER_MISMATCH, legacy), 400);
        assert_eq!(status(UNSUPPORTED_PROTOCOL_VERSION, None), 400);
        assert_eq!(status(METHOD_NOT_FOUND, modern), 404);
        assert_eq!(status(METHOD_NOT_FOUND, legacy), 200);
        assert_eq!(status(INVALID_PARAMS, modern), 400);
        assert_eq!(status(INVALID_PARAMS, legacy), 200);
        assert_eq!(status(INVALID_PARAMS, Some(Era::Initialize)), 200);
        assert_eq!(status(INVALID_PARAMS, None), 400);
    }
}
