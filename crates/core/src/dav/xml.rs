//! The WebDAV XML a CalDAV client sends (PROPFIND, REPORT, PROPPATCH and
//! MKCALENDAR bodies), read into what the server acts on, and the
//! multistatus it answers. Requests are read with roxmltree, which refuses
//! DTDs (no entity expansion); answers are written as text.

use std::fmt::Write;

use roxmltree::{Document, Node};

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE: &str = "http://apple.com/ns/ical/";

/// A property's name: its namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropName {
    pub ns: String,
    pub name: String,
}

impl PropName {
    pub fn new(ns: &str, name: &str) -> Self {
        Self {
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn of(node: Node) -> Self {
        Self::new(
            node.tag_name().namespace().unwrap_or(""),
            node.tag_name().name(),
        )
    }
}

/// What a PROPFIND (or a REPORT's `prop`) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// `allprop`, or no body at all.
    All,
    /// `propname`: the names of the properties, without values.
    Names,
    Props(Vec<PropName>),
}

/// A REPORT, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Multiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    Query {
        props: PropRequest,
        filter: QueryFilter,
    },
    Sync {
        props: PropRequest,
        token: String,
        limit: Option<usize>,
    },
    /// A report this server does not run (`supported-report` fails).
    Unsupported(PropName),
}

/// What a `calendar-query` filter keeps, as far as the server applies it:
/// a superset of what the client asked for is allowed (RFC 4791 lets the
/// client filter further), a subset never.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// Whether the filter names a component other than VTODO (a VEVENT
    /// query, which no todo matches).
    pub other_component: bool,
    /// Only todos that are not completed (`COMPLETED` is-not-defined, or
    /// `STATUS` not `COMPLETED`).
    pub open_only: bool,
}

/// A PROPPATCH's or MKCALENDAR's properties to set (with their text) and
/// to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropUpdate {
    pub set: Vec<(PropName, String)>,
    pub remove: Vec<PropName>,
}

/// Why a body could not be read: the message of a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadXml(pub String);

fn parse(body: &str) -> Result<Document<'_>, BadXml> {
    Document::parse(body).map_err(|e| BadXml(format!("the request body is not XML: {e}")))
}

fn children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    children(node).find(|n| n.has_tag_name((ns, name)))
}

fn prop_request(node: Node) -> PropRequest {
    if let Some(prop) = child(node, DAV, "prop") {
        PropRequest::Props(children(prop).map(PropName::of).collect())
    } else if child(node, DAV, "propname").is_some() {
        PropRequest::Names
    } else {
        PropRequest::All
    }
}

/// A PROPFIND body; an empty one asks for all properties (RFC 4918 9.1).
pub fn propfind(body: &str) -> Result<PropRequest, BadXml> {
    if body.trim().is_empty() {
        return Ok(PropRequest::All);
    }
    let doc = parse(body)?;
    let root = doc.root_element();
    if !root.has_tag_name((DAV, "propfind")) {
        return Err(BadXml("a PROPFIND body is a DAV:propfind element".into()));
    }
    Ok(prop_request(root))
}

/// A REPORT body.
pub fn report(body: &str) -> Result<Report, BadXml> {
    let doc = parse(body)?;
    let root = doc.root_element();
    let props = prop_request(root);
    Ok(if root.has_tag_name((CALDAV, "calendar-multiget")) {
        let hrefs = children(root)
            .filter(|n| n.has_tag_name((DAV, "href")))
            .map(|n| n.text().unwrap_or("").trim().to_owned())
            .collect();
        Report::Multiget { props, hrefs }
    } else if root.has_tag_name((CALDAV, "calendar-query")) {
        let filter = child(root, CALDAV, "filter").map_or_else(QueryFilter::default, query_filter);
        Report::Query { props, filter }
    } else if root.has_tag_name((DAV, "sync-collection")) {
        let token = child(root, DAV, "sync-token")
            .and_then(|n| n.text())
            .unwrap_or("")
            .trim()
            .to_owned();
        let limit = child(root, DAV, "limit")
            .and_then(|l| child(l, DAV, "nresults"))
            .and_then(|n| n.text())
            .and_then(|t| t.trim().parse().ok());
        Report::Sync {
            props,
            token,
            limit,
        }
    } else {
        Report::Unsupported(PropName::of(root))
    })
}

/// The parts of a `calendar-query` filter the server applies: the VTODO
/// component, and "not completed" as Tasks.org, Thunderbird and DAVx⁵
/// write it. Time ranges are not applied (the answer is a superset).
fn query_filter(filter: Node) -> QueryFilter {
    let mut out = QueryFilter::default();
    let Some(calendar) = child(filter, CALDAV, "comp-filter") else {
        return out;
    };
    for comp in children(calendar).filter(|n| n.has_tag_name((CALDAV, "comp-filter"))) {
        let name = comp.attribute("name").unwrap_or("");
        if !name.eq_ignore_ascii_case("VTODO") {
            out.other_component = true;
            continue;
        }
        for prop in children(comp).filter(|n| n.has_tag_name((CALDAV, "prop-filter"))) {
            let name = prop.attribute("name").unwrap_or("").to_ascii_uppercase();
            let undefined = child(prop, CALDAV, "is-not-defined").is_some();
            let not_completed_status = child(prop, CALDAV, "text-match").is_some_and(|m| {
                m.attribute("negate-condition") == Some("yes")
                    && m.text()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case("COMPLETED")
            });
            if (name == "COMPLETED" && undefined) || (name == "STATUS" && not_completed_status) {
                out.open_only = true;
            }
        }
    }
    out
}

/// A PROPPATCH (`propertyupdate`) or MKCALENDAR / extended MKCOL body.
pub fn prop_update(body: &str) -> Result<PropUpdate, BadXml> {
    let mut out = PropUpdate::default();
    if body.trim().is_empty() {
        return Ok(out);
    }
    let doc = parse(body)?;
    for action in children(doc.root_element()) {
        let remove = action.has_tag_name((DAV, "remove"));
        if !remove && !action.has_tag_name((DAV, "set")) {
            continue;
        }
        for prop in children(action).filter(|n| n.has_tag_name((DAV, "prop"))) {
            for p in children(prop) {
                let name = PropName::of(p);
                if remove {
                    out.remove.push(name);
                } else {
                    let text: String = p
                        .descendants()
                        .filter(Node::is_text)
                        .filter_map(|t| t.text())
                        .collect();
                    out.set.push((name, text));
                }
            }
        }
    }
    Ok(out)
}

/// Text made safe for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The prefix a property's element is written with in a [`Multistatus`]
/// (whose root declares these), or `None` for a namespace it declares
/// on the element itself.
fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("d"),
        CALDAV => Some("c"),
        CALENDARSERVER => Some("cs"),
        APPLE => Some("ic"),
        _ => None,
    }
}

/// `<name/>` or `<name>inner</name>` for a property, `inner` being XML.
pub fn element(name: &PropName, inner: &str) -> String {
    let (open, close) = match prefix(&name.ns) {
        Some(p) => (format!("{p}:{}", name.name), format!("{p}:{}", name.name)),
        None if name.ns.is_empty() => (name.name.clone(), name.name.clone()),
        None => (
            format!("x:{} xmlns:x=\"{}\"", name.name, escape(&name.ns)),
            format!("x:{}", name.name),
        ),
    };
    if inner.is_empty() {
        format!("<{open}/>")
    } else {
        format!("<{open}>{inner}</{close}>")
    }
}

/// A `207 Multi-Status` body, built one response at a time.
pub struct Multistatus {
    body: String,
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    pub fn new() -> Self {
        Self {
            body: format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"{DAV}\" \
                 xmlns:c=\"{CALDAV}\" xmlns:cs=\"{CALENDARSERVER}\" xmlns:ic=\"{APPLE}\">"
            ),
        }
    }

    /// A resource's properties: `found` with their values (XML), and the
    /// names of those it does not have, as 404 within the 207.
    pub fn props(&mut self, href: &str, found: &[(PropName, String)], missing: &[PropName]) {
        let missing: Vec<(PropName, String)> =
            missing.iter().map(|n| (n.clone(), String::new())).collect();
        self.propstats(href, &[("200 OK", found), ("404 Not Found", &missing)]);
    }

    /// A resource's properties grouped by status (a PROPPATCH's answer);
    /// groups without properties are left out, but a response always holds
    /// one propstat (an empty 200 when nothing was asked).
    pub fn propstats(&mut self, href: &str, groups: &[(&str, &[(PropName, String)])]) {
        let _ = write!(self.body, "<d:response><d:href>{}</d:href>", escape(href));
        let mut shown = groups
            .iter()
            .filter(|(_, props)| !props.is_empty())
            .peekable();
        if shown.peek().is_none() {
            self.body
                .push_str("<d:propstat><d:prop/><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
        }
        for (status, props) in shown {
            self.body.push_str("<d:propstat><d:prop>");
            for (name, value) in props.iter() {
                self.body.push_str(&element(name, value));
            }
            let _ = write!(
                self.body,
                "</d:prop><d:status>HTTP/1.1 {status}</d:status></d:propstat>"
            );
        }
        self.body.push_str("</d:response>");
    }

    /// A resource answered with a status alone (a 404 for a member that is
    /// gone, a 507 for a truncated sync).
    pub fn status(&mut self, href: &str, status: &str) {
        let _ = write!(
            self.body,
            "<d:response><d:href>{}</d:href><d:status>HTTP/1.1 {status}</d:status></d:response>",
            escape(href)
        );
    }

    /// The body, ending with `sync-token` when given.
    pub fn finish(mut self, sync_token: Option<&str>) -> String {
        if let Some(token) = sync_token {
            let _ = write!(self.body, "<d:sync-token>{}</d:sync-token>", escape(token));
        }
        self.body.push_str("</d:multistatus>\n");
        self.body
    }
}

/// A precondition's `DAV:error` body, e.g. `valid-sync-token`.
pub fn error(ns: &str, condition: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"{DAV}\">{}</d:error>\n",
        element(&PropName::new(ns, condition), "")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_propfind_asks_for_everything_and_a_prop_list_for_its_names() {
        assert_eq!(propfind(""), Ok(PropRequest::All));
        let body = r#"<?xml version="1.0"?>
            <d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:x="urn:x">
              <d:prop><d:resourcetype/><cs:getctag/><x:unknown/></d:prop>
            </d:propfind>"#;
        assert_eq!(
            propfind(body),
            Ok(PropRequest::Props(vec![
                PropName::new(DAV, "resourcetype"),
                PropName::new(CALENDARSERVER, "getctag"),
                PropName::new("urn:x", "unknown"),
            ]))
        );
        assert_eq!(
            propfind(r#"<propfind xmlns="DAV:"><allprop/></propfind>"#),
            Ok(PropRequest::All)
        );
        assert_eq!(
            propfind(r#"<propfind xmlns="DAV:"><propname/></propfind>"#),
            Ok(PropRequest::Names)
        );
    }

    #[test]
    fn malformed_bodies_and_entities_are_refused() {
        assert!(propfind("<d:propfind xmlns:d=\"DAV:\">").is_err());
        assert!(propfind("<other/>").is_err());
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>
            <d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&a;</d:displayname></d:prop></d:propfind>"#;
        assert!(propfind(bomb).is_err());
    }

    #[test]
    fn reports_are_told_apart() {
        let multiget = r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
            <d:prop><d:getetag/><c:calendar-data/></d:prop>
            <d:href>/dav/calendars/u/l/a.ics</d:href><d:href> /dav/calendars/u/l/b.ics </d:href>
            </c:calendar-multiget>"#;
        assert_eq!(
            report(multiget),
            Ok(Report::Multiget {
                props: PropRequest::Props(vec![
                    PropName::new(DAV, "getetag"),
                    PropName::new(CALDAV, "calendar-data")
                ]),
                hrefs: vec![
                    "/dav/calendars/u/l/a.ics".into(),
                    "/dav/calendars/u/l/b.ics".into()
                ],
            })
        );
        let sync = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>t</d:sync-token>
            <d:sync-level>1</d:sync-level><d:limit><d:nresults>10</d:nresults></d:limit>
            <d:prop><d:getetag/></d:prop></d:sync-collection>"#;
        assert_eq!(
            report(sync),
            Ok(Report::Sync {
                props: PropRequest::Props(vec![PropName::new(DAV, "getetag")]),
                token: "t".into(),
                limit: Some(10),
            })
        );
        assert_eq!(
            report(r#"<d:expand-property xmlns:d="DAV:"/>"#),
            Ok(Report::Unsupported(PropName::new(DAV, "expand-property")))
        );
    }

    #[test]
    fn the_filters_of_tasks_apps_for_open_todos_are_understood() {
        let query = |filter: &str| {
            let body = format!(
                r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
                <d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">{filter}
                </c:comp-filter></c:filter></c:calendar-query>"#
            );
            match report(&body) {
                Ok(Report::Query { filter, .. }) => filter,
                other => unreachable!("{other:?}"),
            }
        };
        // Thunderbird, for tasks not completed.
        let thunderbird = query(
            r#"<c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"><c:is-not-defined/>
               </c:prop-filter></c:comp-filter>"#,
        );
        assert!(thunderbird.open_only && !thunderbird.other_component);
        let status = query(
            r#"<c:comp-filter name="VTODO"><c:prop-filter name="STATUS">
               <c:text-match negate-condition="yes">COMPLETED</c:text-match></c:prop-filter></c:comp-filter>"#,
        );
        assert!(status.open_only);
        // DAVx⁵ asks for every VTODO.
        let all = query(r#"<c:comp-filter name="VTODO"/>"#);
        assert_eq!(all, QueryFilter::default());
        let events = query(r#"<c:comp-filter name="VEVENT"/>"#);
        assert!(events.other_component);
    }

    #[test]
    fn a_proppatch_sets_and_removes_properties() {
        let body = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:ic="http://apple.com/ns/ical/">
            <d:set><d:prop><d:displayname>Groceries &amp; more</d:displayname>
            <ic:calendar-color>#FF0000FF</ic:calendar-color></d:prop></d:set>
            <d:remove><d:prop><ic:calendar-order/></d:prop></d:remove></d:propertyupdate>"#;
        assert_eq!(
            prop_update(body),
            Ok(PropUpdate {
                set: vec![
                    (PropName::new(DAV, "displayname"), "Groceries & more".into()),
                    (PropName::new(APPLE, "calendar-color"), "#FF0000FF".into()),
                ],
                remove: vec![PropName::new(APPLE, "calendar-order")],
            })
        );
    }

    #[test]
    fn a_multistatus_reports_found_and_missing_properties_apart() {
        let mut m = Multistatus::new();
        m.props(
            "/dav/a&b/",
            &[(PropName::new(DAV, "displayname"), escape("A <&> B"))],
            &[PropName::new("urn:x", "nope")],
        );
        m.status("/dav/gone.ics", "404 Not Found");
        m.props("/dav/nothing-asked/", &[], &[]);
        let body = m.finish(Some("http://todo-spin.dev/ns/sync/3"));
        let doc = Document::parse(&body).unwrap_or_else(|e| unreachable!("{e}: {body}"));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"A <&> B"), "{body}");
        assert!(texts.contains(&"/dav/a&b/"), "{body}");
        assert!(texts.contains(&"HTTP/1.1 404 Not Found"), "{body}");
        assert!(doc.descendants().any(|n| n.has_tag_name(("urn:x", "nope"))));
        assert!(doc
            .descendants()
            .any(|n| n.has_tag_name((DAV, "sync-token"))));
        // Every response holds a propstat or a status.
        for response in doc
            .descendants()
            .filter(|n| n.has_tag_name((DAV, "response")))
        {
            assert!(
                response
                    .children()
                    .any(|c| c.has_tag_name((DAV, "propstat")) || c.has_tag_name((DAV, "status"))),
                "{body}"
            );
        }
    }
}
