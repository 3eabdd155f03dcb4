//! The OpenAPI document as a check on real answers, shared by the HTTP test
//! files: a response's status must be documented for its operation and its
//! body must match the documented schema.

use std::sync::LazyLock;

use native::testing::Reply;
use serde_json::{json, Value};

pub static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(todo_core::web::OPENAPI_JSON).unwrap());

/// The documented path template a concrete path falls under (literal
/// segments beat `{params}`, as in the router).
fn template_of(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let segments: Vec<&str> = path.split('/').collect();
    DOCUMENT["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .min_by_key(|template| template.matches('{').count())
        .cloned()
}

fn resolve(value: &Value) -> &Value {
    match value["$ref"].as_str() {
        Some(r) => DOCUMENT
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => value,
    }
}

/// Validates `instance` against `schema`, which may use `$ref`s into the document.
fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = DOCUMENT.clone();
    root["x-check"] = schema.clone();
    root["$ref"] = json!("#/x-check");
    let validator = jsonschema::draft202012::new(&root).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub fn check_against_document(method: &str, path: &str, reply: &Reply) {
    let Some(template) = template_of(path) else {
        assert_eq!(
            reply.status, 404,
            "{method} {path} is not in the API document"
        );
        return;
    };
    let Some(operation) = DOCUMENT["paths"][&template].get(method.to_lowercase()) else {
        assert_eq!(
            reply.status, 405,
            "{method} {template} is not in the API document"
        );
        return;
    };
    let status = reply.status.to_string();
    let documented = operation["responses"].get(&status).unwrap_or_else(|| {
        panic!(
            "{method} {template}: status {status} is not documented ({})",
            reply.body
        )
    });
    let documented = resolve(documented);
    match documented["content"]["application/json"].get("schema") {
        Some(schema) => {
            let errors = schema_errors(schema, &reply.body);
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: the body does not match the API document: {errors:?}\n{}",
                reply.body
            );
        }
        None => assert_eq!(
            reply.body,
            Value::Null,
            "{method} {template} {status} documents no body"
        ),
    }
}
