//! What the CalDAV test files share: a signed-up user with a session (for
//! the REST API) and a personal access token (for CalDAV), HTTP Basic
//! requests, and a multistatus read into its responses. Each test file uses
//! part of it.
#![allow(dead_code)]

use base64::Engine;
use native::testing::{Reply, TestApp};
use serde_json::{json, Value};

/// A user with a session (for the REST API) and a personal access token
/// (for CalDAV).
pub struct User<'a> {
    pub app: &'a TestApp,
    pub session: String,
    pub id: String,
    pub email: String,
    pub pat: String,
}

pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

impl<'a> User<'a> {
    pub fn signup(app: &'a TestApp, email: &str) -> Self {
        let account = app.signup(email);
        let mut user = User {
            app,
            session: account.token,
            id: account.id,
            email: email.to_owned(),
            pat: String::new(),
        };
        user.pat = user.token(false);
        user
    }

    /// A new personal access token of this user's, read-only or not.
    pub fn token(&self, read_only: bool) -> String {
        let body = json!({"name": "Phone", "read_only": read_only});
        let reply = self
            .rest("POST", "/api/auth/tokens", Some(body))
            .expect(201);
        text(&reply.body["token"])
    }

    pub fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.app
            .send(method, path, Some(&self.session), &[], body.as_ref())
    }

    pub fn inbox(&self) -> String {
        let lists = self.rest("GET", "/api/lists", None).expect(200).body;
        let inbox = lists["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["is_inbox"] == true)
            .unwrap()
            .clone();
        text(&inbox["id"])
    }

    /// A list of this user's, coloured as the web app colours it.
    pub fn list(&self, name: &str, color: &str) -> String {
        let body = json!({"name": name, "color": color});
        text(&self.rest("POST", "/api/lists", Some(body)).expect(201).body["id"])
    }

    pub fn principal(&self) -> String {
        format!("/dav/principals/{}/", self.id)
    }

    pub fn home(&self) -> String {
        format!("/dav/calendars/{}/", self.id)
    }

    pub fn calendar(&self, list: &str) -> String {
        format!("/dav/calendars/{}/{list}/", self.id)
    }

    /// A CalDAV request with this user's email and token (HTTP Basic).
    pub fn dav(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        dav_as(
            self.app,
            &self.email,
            &self.pat,
            method,
            path,
            headers,
            body,
        )
    }
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A CalDAV request signed in as `user` with `password`.
pub fn dav_as(
    app: &TestApp,
    user: &str,
    password: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = http::Request::builder()
        .method(method)
        .uri(app.url(path))
        .header("authorization", basic(user, password));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    app.send_raw(req.body(body.as_bytes().to_vec()).unwrap())
}

pub fn body(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

/// One response of a multistatus: its href, the status of its first
/// propstat (or of the response), each found property's text (an empty
/// element shows as `<name>`, or `<name name="X">` with a `name`
/// attribute, as in `<comp name="VTODO"/>`), and the names of the
/// properties it does not have.
#[derive(Debug)]
pub struct Response {
    pub href: String,
    pub status: String,
    pub props: Vec<(String, String)>,
    pub missing: Vec<String>,
}

impl Response {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn prop(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
    }
}

/// A 207's responses and its top-level `sync-token` (RFC 6578), if any.
pub fn multistatus(reply: &Reply) -> (Vec<Response>, Option<String>) {
    assert_eq!(reply.status, 207, "{}", body(reply));
    let doc = roxmltree::Document::parse(body(reply)).unwrap();
    let root = doc.root_element();
    let token = root
        .children()
        .find(|c| c.has_tag_name(("DAV:", "sync-token")))
        .map(|c| c.text().unwrap_or_default().to_owned());
    let leaf = |d: roxmltree::Node| match d.attribute("name") {
        Some(n) => format!("<{} name=\"{n}\">", d.tag_name().name()),
        None => format!("<{}>", d.tag_name().name()),
    };
    let responses = root
        .children()
        .filter(|n| n.has_tag_name(("DAV:", "response")))
        .map(|r| {
            let child = |name: &str| {
                r.children()
                    .find(|c| c.has_tag_name(("DAV:", name)))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut props = Vec::new();
            let mut missing = Vec::new();
            let mut status = child("status");
            for stat in r
                .children()
                .filter(|c| c.has_tag_name(("DAV:", "propstat")))
            {
                let code = stat
                    .children()
                    .find(|c| c.has_tag_name(("DAV:", "status")))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned();
                if status.is_empty() {
                    status = code.clone();
                }
                let prop = stat
                    .children()
                    .find(|c| c.has_tag_name(("DAV:", "prop")))
                    .unwrap();
                for p in prop.children().filter(|c| c.is_element()) {
                    let name = p.tag_name().name().to_owned();
                    if code.contains("200") {
                        let value: String = p
                            .descendants()
                            .filter_map(|d| {
                                if d.is_text() {
                                    d.text().map(str::to_owned)
                                } else if d.is_element() && d != p && !d.has_children() {
                                    Some(leaf(d))
                                } else {
                                    None
                                }
                            })
                            .collect();
                        props.push((name, value));
                    } else {
                        missing.push(name);
                    }
                }
            }
            Response {
                href: child("href"),
                status,
                props,
                missing,
            }
        })
        .collect();
    (responses, token)
}

pub fn responses(reply: &Reply) -> Vec<Response> {
    multistatus(reply).0
}

pub fn find<'r>(all: &'r [Response], href: &str) -> &'r Response {
    all.iter()
        .find(|r| r.href == href)
        .unwrap_or_else(|| panic!("no response for {href} in {all:#?}"))
}
