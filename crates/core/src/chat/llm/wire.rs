//! Qwen (DashScope's OpenAI-compatible chat completions) and Ollama
//! (`/api/chat`) as they really speak: how a request is built from the
//! configuration, and how the model's text is dug out of an answer. Answers
//! are read leniently (unknown fields ignored); only the text is used. A
//! failed exchange says whether the provider failed (which counts towards
//! the tier's circuit breaker) or only this request did.

use std::time::Duration;

use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use super::Tier;
use crate::ports::{Ctx, OutboundError};

/// Models asked when the variables name none (spin.toml's defaults).
const DEFAULT_QWEN_MODEL: &str = "qwen-plus";
const DEFAULT_OLLAMA_MODEL: &str = "qwen2.5:0.5b";

/// Longest piece of a provider's or client's error message kept in a reason.
const DETAIL_CHARS: usize = 100;

/// A configured tier: where to send and what to ask for.
pub(super) enum Endpoint {
    Qwen {
        url: String,
        key: String,
        model: String,
    },
    Ollama {
        url: String,
        model: String,
    },
}

/// By hand, so that Qwen's API key never reaches a log.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Qwen { url, model, .. } => f
                .debug_struct("Qwen")
                .field("url", url)
                .field("key", &"***")
                .field("model", model)
                .finish(),
            Endpoint::Ollama { url, model } => f
                .debug_struct("Ollama")
                .field("url", url)
                .field("model", model)
                .finish(),
        }
    }
}

impl Endpoint {
    /// The tier's endpoint, or why it is not configured.
    pub(super) fn configured(ctx: &Ctx, tier: Tier) -> Result<Self, &'static str> {
        let origin = |name: &str| ctx.var(name).trim().trim_end_matches('/').to_owned();
        let model = |name: &str, default: &str| match ctx.var(name).trim() {
            "" => default.to_owned(),
            m => m.to_owned(),
        };
        match tier {
            Tier::Qwen => {
                let key = ctx.var("qwen_api_key").trim().to_owned();
                let url = origin("qwen_url");
                if key.is_empty() {
                    Err("not configured: qwen_api_key is empty")
                } else if url.is_empty() {
                    Err("not configured: qwen_url is empty")
                } else {
                    Ok(Endpoint::Qwen {
                        url: format!("{url}/compatible-mode/v1/chat/completions"),
                        key,
                        model: model("qwen_model", DEFAULT_QWEN_MODEL),
                    })
                }
            }
            Tier::Ollama => {
                let url = origin("ollama_url");
                if url.is_empty() {
                    Err("not configured: ollama_url is empty")
                } else {
                    Ok(Endpoint::Ollama {
                        url: format!("{url}/api/chat"),
                        model: model("ollama_model", DEFAULT_OLLAMA_MODEL),
                    })
                }
            }
        }
    }

    /// The request for `messages` (system prompt first). Both ask for a
    /// deterministic answer (temperature 0) that is JSON of `format`'s
    /// schema: Qwen through `response_format` (`json_schema`, or
    /// `json_object` for models without structured output: the prompt
    /// carries the schema too), Ollama through `format`, which constrains
    /// its output to the schema.
    fn request(
        &self,
        messages: &[Value],
        format: &Format,
        qwen_format: QwenFormat,
    ) -> Result<http::Request<Vec<u8>>, http::Error> {
        match self {
            Endpoint::Qwen { url, key, model } => {
                let response_format = match qwen_format {
                    QwenFormat::Schema => json!({
                        "type": "json_schema",
                        "json_schema": {"name": format.name, "strict": true, "schema": format.schema},
                    }),
                    QwenFormat::Object => json!({"type": "json_object"}),
                };
                let body = json!({
                    "model": model,
                    "messages": messages,
                    "temperature": 0,
                    "response_format": response_format,
                    // Hybrid-thinking Qwen3 models refuse non-streaming calls
                    // that think; the others ignore the flag.
                    "enable_thinking": false,
                });
                // Sensitive: the request's Debug output shows no key.
                let mut authorization = HeaderValue::from_str(&format!("Bearer {key}"))?;
                authorization.set_sensitive(true);
                http::Request::post(url.as_str())
                    .header(CONTENT_TYPE, "application/json")
                    .header(AUTHORIZATION, authorization)
                    .body(body.to_string().into_bytes())
            }
            Endpoint::Ollama { url, model } => {
                let body = json!({
                    "model": model,
                    "messages": messages,
                    "stream": false,
                    "format": format.schema,
                    "options": {"temperature": 0},
                });
                http::Request::post(url.as_str())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string().into_bytes())
            }
        }
    }

    /// The model's text in a successful answer.
    fn content<'a>(&self, answer: &'a Value) -> Option<&'a str> {
        let pointer = match self {
            Endpoint::Qwen { .. } => "/choices/0/message/content",
            Endpoint::Ollama { .. } => "/message/content",
        };
        answer.pointer(pointer).and_then(Value::as_str)
    }

    /// What a non-2xx answer's body says, in a few words: OpenAI-style
    /// `error.code` (or `error.type`) when it is an identifier, Ollama's
    /// `error` message shortened. Free text from Qwen is left out: OpenAI
    /// style messages may quote part of the key.
    fn error_detail(&self, body: &[u8]) -> Option<String> {
        let body: Value = serde_json::from_slice(body).ok()?;
        let error = body.get("error")?;
        if let Some(message) = error.as_str() {
            return match self {
                Endpoint::Ollama { .. } => Some(shorten(message, DETAIL_CHARS)),
                Endpoint::Qwen { .. } => None,
            };
        }
        ["code", "type"]
            .iter()
            .filter_map(|field| error.get(*field).and_then(Value::as_str))
            .find(|code| {
                (1..=64).contains(&code.len())
                    && code
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
            .map(str::to_owned)
    }

    /// Removes the API key from a reason, should any message have echoed it.
    fn redact(&self, reason: String) -> String {
        match self {
            Endpoint::Qwen { key, .. } if !key.is_empty() && reason.contains(key.as_str()) => {
                reason.replace(key.as_str(), "***")
            }
            _ => reason,
        }
    }
}

/// What a tier is asked to answer: a JSON Schema and its name.
pub(super) struct Format<'a> {
    pub name: &'a str,
    pub schema: &'a Value,
}

/// How Qwen is asked for JSON: by schema first (structured output), as a
/// plain JSON object when the model refuses that with a 400.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QwenFormat {
    Schema,
    Object,
}

/// Why a tier gave no answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    /// Short, for the log; never the key.
    pub reason: String,
    /// `Some(kind)` when the provider failed (`timeout`,
    /// `connection_failed`, `http_503`, `http_429`, `not_json`, ...): that
    /// counts towards the tier's breaker. `None` when only this request
    /// failed (a 4xx other than 429, say), which no user can then turn
    /// into a pause for everyone.
    pub provider: Option<String>,
}

impl Failure {
    fn provider(kind: impl Into<String>, reason: String) -> Self {
        Self {
            reason,
            provider: Some(kind.into()),
        }
    }

    /// A failure of this request only.
    pub(super) fn request(reason: String) -> Self {
        Self {
            reason,
            provider: None,
        }
    }
}

/// Sends `messages` to the tier and returns the JSON value the model
/// answered, or why there is none: the connection failed or took longer
/// than `timeout`, the status was not 2xx, the body was not the service's
/// JSON, or the model's text was not JSON. Whether it matches the schema is
/// the caller's to check.
pub(super) fn ask(
    ctx: &Ctx,
    endpoint: &Endpoint,
    messages: &[Value],
    format: &Format,
    timeout: Duration,
) -> Result<Value, Failure> {
    let mut answer = exchange(ctx, endpoint, messages, format, QwenFormat::Schema, timeout);
    if matches!(endpoint, Endpoint::Qwen { .. })
        && matches!(&answer, Err(f) if f.reason.starts_with("HTTP 400"))
    {
        answer = exchange(ctx, endpoint, messages, format, QwenFormat::Object, timeout);
    }
    answer.map_err(|failure| Failure {
        reason: endpoint.redact(failure.reason),
        ..failure
    })
}

fn exchange(
    ctx: &Ctx,
    endpoint: &Endpoint,
    messages: &[Value],
    format: &Format,
    qwen_format: QwenFormat,
    timeout: Duration,
) -> Result<Value, Failure> {
    let mut request = endpoint
        .request(messages, format, qwen_format)
        .map_err(|_| Failure::request("the configured URL is not valid".to_owned()))?;
    if let Some(trace) = ctx.trace.get() {
        trace.propagate(request.headers_mut());
    }
    let response = ctx.http.send(request, timeout).map_err(|e| match e {
        OutboundError::Timeout => Failure::provider(
            "timeout",
            format!("timed out after {} ms", timeout.as_millis()),
        ),
        OutboundError::NotAllowed(_) => {
            Failure::request("host not allowed by allowed_outbound_hosts".to_owned())
        }
        OutboundError::Failed(detail) => Failure::provider(
            "connection_failed",
            format!("connection failed: {}", shorten(&detail, DETAIL_CHARS)),
        ),
    })?;
    let status = response.status();
    if !status.is_success() {
        let reason = match endpoint.error_detail(response.body()) {
            Some(detail) => format!("HTTP {} ({detail})", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        return Err(
            if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
                Failure::provider(format!("http_{}", status.as_u16()), reason)
            } else {
                Failure::request(reason)
            },
        );
    }
    let answer: Value = serde_json::from_slice(response.body()).map_err(|_| {
        Failure::provider(
            "not_json",
            format!("HTTP {} with a body that is not JSON", status.as_u16()),
        )
    })?;
    let content = endpoint.content(&answer).ok_or_else(|| {
        Failure::provider(
            "no_content",
            "the answer holds no message content".to_owned(),
        )
    })?;
    serde_json::from_str(unfenced(content))
        .map_err(|_| Failure::provider("not_json", "the model did not answer JSON".to_owned()))
}

/// The JSON in a model's text: the text itself, or what its first ``` fence
/// holds (```json or plain), whatever prose surrounds the fence.
pub(super) fn unfenced(content: &str) -> &str {
    let content = content.trim();
    let Some(start) = content.find("```") else {
        return content;
    };
    let inside = content[start + 3..].trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    let end = inside.find("```").unwrap_or(inside.len());
    inside[..end].trim()
}

/// At most `max_chars` characters of `text`, on one line.
pub(super) fn shorten(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_plain_or_in_a_code_fence() {
        let cases = [
            ("{\"a\":1}", "{\"a\":1}"),
            ("  {\"a\":1}\n", "{\"a\":1}"),
            ("```json\n{\"a\":1}\n```", "{\"a\":1}"),
            ("```JSON {\"a\":1}```", "{\"a\":1}"),
            ("```\n{\"a\":1}\n```", "{\"a\":1}"),
            (
                "Here you go:\n```json\n{\"a\":1}\n```\nAnything else?",
                "{\"a\":1}",
            ),
            ("```json\n{\"a\":1}", "{\"a\":1}"),
            ("Sure! I added milk.", "Sure! I added milk."),
        ];
        for (content, expected) in cases {
            assert_eq!(unfenced(content), expected, "{content:?}");
        }
    }

    #[test]
    fn neither_an_endpoint_nor_its_request_shows_the_key_when_debugged() {
        let qwen = Endpoint::Qwen {
            url: "https://qwen.example/compatible-mode/v1/chat/completions".into(),
            key: "sk-secret-key".into(),
            model: "qwen-plus".into(),
        };
        let schema = json!({});
        let format = Format {
            name: "intent",
            schema: &schema,
        };
        let request = qwen.request(&[], &format, QwenFormat::Schema).unwrap();
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer sk-secret-key");
        for shown in [format!("{qwen:?}"), format!("{request:?}")] {
            assert!(!shown.contains("sk-secret"), "{shown}");
            assert!(shown.contains("qwen.example"), "{shown}");
        }
    }

    #[test]
    fn error_details_keep_codes_and_drop_qwens_free_text() {
        let qwen = Endpoint::Qwen {
            url: String::new(),
            key: "sk-secret".into(),
            model: String::new(),
        };
        let ollama = Endpoint::Ollama {
            url: String::new(),
            model: String::new(),
        };
        let openai = br#"{"error":{"message":"Incorrect API key provided: sk-se***et","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            qwen.error_detail(openai).as_deref(),
            Some("invalid_api_key")
        );
        assert_eq!(qwen.error_detail(br#"{"error":"bad key sk-secret"}"#), None);
        assert_eq!(
            ollama
                .error_detail(
                    br#"{"error":"model \"qwen2.5:0.5b\" not found, try pulling it first"}"#
                )
                .as_deref(),
            Some("model \"qwen2.5:0.5b\" not found, try pulling it first")
        );
        assert_eq!(ollama.error_detail(b"<html>502</html>"), None);
        assert_eq!(qwen.redact("echo sk-secret".into()), "echo ***");
    }

    #[test]
    fn shorten_cuts_long_text_on_one_line() {
        assert_eq!(shorten("a\n  b", 10), "a b");
        assert_eq!(shorten(&"x".repeat(150), 100).chars().count(), 101);
    }
}
