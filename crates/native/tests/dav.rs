//! CalDAV over real HTTP, through the native harness, against a fresh
//! database per test: discovery as task apps do it, storing and reading
//! VTODOs (with what the app does not map kept), sync-collection, and the
//! same isolation, roles and throttling as the REST API.

mod dav_support;

use dav_support::{body, dav_as, responses, text, User};
use native::testing::{Reply, TestApp};
use serde_json::{json, Value};

const PROPFIND_CALENDARS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ic="http://apple.com/ns/ical/">
  <d:prop>
    <d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/><ic:calendar-color/>
    <c:supported-calendar-component-set/><d:current-user-privilege-set/><d:owner/>
    <d:supported-report-set/><c:calendar-timezone/><x:unheard-of xmlns:x="urn:example"/>
  </d:prop>
</d:propfind>"#;

/// An Apple Reminders task, as it PUTs one.
fn apple_vtodo(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//iOS 17.0//EN\r\nBEGIN:VTODO\r\n\
         UID:{uid}\r\nDTSTAMP:20261201T100000Z\r\nCREATED:20261201T100000Z\r\n\
         SUMMARY:{summary}\r\nDUE;VALUE=DATE:20261224\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\n\
         X-APPLE-SORT-ORDER:718455123\r\nRELATED-TO;RELTYPE=PARENT:PARENT-UID-1\r\n\
         CATEGORIES:Home,Errands\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn a_client_discovers_the_principal_its_home_and_every_list_as_a_calendar() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let groceries = text(
        &ada.rest(
            "POST",
            "/api/lists",
            Some(json!({"name": "Groceries", "color": "#ff8800"})),
        )
        .expect(201)
        .body["id"],
    );

    let moved = app.send("PROPFIND", "/.well-known/caldav", None, &[], None);
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/dav/"));
    let options = app.send("OPTIONS", "/dav/", None, &[], None).expect(200);
    assert_eq!(options.header("dav"), Some("1, 3, calendar-access"));

    // No credentials, the account password, or a wrong token: 401 with a challenge.
    let anonymous = app.send("PROPFIND", "/dav/", None, &[("depth", "0")], None);
    anonymous.assert_error(401, "unauthorized");
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"todo-spin\", charset=\"UTF-8\"")
    );
    let password = dav_as(
        &app,
        &ada.email,
        native::testing::TEST_PASSWORD,
        "PROPFIND",
        "/dav/",
        &[],
        "",
    );
    password.assert_error(401, "unauthorized");
    // Another account's email with Ada's token.
    let _bob = User::signup(&app, "bob@example.com");
    dav_as(
        &app,
        "bob@example.com",
        &ada.pat,
        "PROPFIND",
        "/dav/",
        &[],
        "",
    )
    .assert_error(401, "unauthorized");

    let root = ada.dav(
        "PROPFIND",
        "/dav/",
        &[("depth", "0")],
        r#"<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#,
    );
    let principal = format!("/dav/principals/{}/", ada.id);
    assert_eq!(
        responses(&root)[0].prop("current-user-principal"),
        principal
    );
    // The email is case-insensitive, as for logins.
    let upper = dav_as(
        &app,
        "ADA@example.com",
        &ada.pat,
        "PROPFIND",
        "/dav/",
        &[("depth", "0")],
        "",
    );
    assert_eq!(upper.status, 207);

    let home_set = ada.dav(
        "PROPFIND",
        &principal,
        &[("depth", "0")],
        r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>
           <c:calendar-home-set/><d:displayname/><c:calendar-user-address-set/><d:principal-URL/>
           </d:prop></d:propfind>"#,
    );
    let p = &responses(&home_set)[0];
    let home = format!("/dav/calendars/{}/", ada.id);
    assert_eq!(p.prop("calendar-home-set"), home);
    assert_eq!(p.prop("displayname"), "Ada");
    assert_eq!(
        p.prop("calendar-user-address-set"),
        "mailto:ada@example.com"
    );

    let listing = ada.dav("PROPFIND", &home, &[("depth", "1")], PROPFIND_CALENDARS);
    let all = responses(&listing);
    assert_eq!(all.len(), 3, "{all:?}");
    // The home is a plain collection, never a calendar (Apple's discovery).
    assert_eq!(all[0].href, home);
    assert_eq!(all[0].prop("resourcetype"), "<collection>");
    let inbox = &all[1];
    assert_eq!(inbox.href, ada.calendar(&ada.inbox()));
    assert_eq!(inbox.prop("displayname"), "Inbox");
    assert_eq!(inbox.prop("resourcetype"), "<collection><calendar>");
    assert_eq!(
        inbox.prop("supported-calendar-component-set"),
        "<comp name=\"VTODO\">"
    );
    assert!(inbox
        .prop("current-user-privilege-set")
        .contains("<write-content>"));
    assert!(inbox
        .prop("supported-report-set")
        .contains("<sync-collection>"));
    assert_eq!(inbox.prop("owner"), principal);
    // Unknown properties are 404 inside the 207.
    assert!(
        inbox.missing.contains(&"unheard-of".to_owned()),
        "{inbox:?}"
    );
    assert!(
        inbox.missing.contains(&"calendar-color".to_owned()),
        "{inbox:?}"
    );
    let list = &all[2];
    assert_eq!(list.href, ada.calendar(&groceries));
    assert_eq!(list.prop("displayname"), "Groceries");
    assert_eq!(list.prop("calendar-color"), "#FF8800");
    assert!(list
        .prop("sync-token")
        .starts_with("http://todo-spin.dev/ns/sync/"));

    // Another user's home and calendars do not exist for Ada.
    let bob = User::signup(&app, "bob2@example.com");
    let bobs = bob.calendar(&bob.inbox());
    ada.dav("PROPFIND", &bobs, &[("depth", "0")], "")
        .assert_error(404, "not_found");
    let foreign = format!("/dav/calendars/{}/{}/", ada.id, bob.inbox());
    ada.dav("PROPFIND", &foreign, &[("depth", "0")], "")
        .assert_error(404, "not_found");
}

#[test]
fn a_stored_task_keeps_what_the_app_does_not_map_and_follows_rest_changes() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cal = ada.calendar(&ada.inbox());
    let href = format!("{cal}2F8A4C1E-0B7D-4E0A-9C35-1D9E2B3A4C5D.ics");
    let vtodo = apple_vtodo("2F8A4C1E-0B7D-4E0A-9C35-1D9E2B3A4C5D", "Buy a tree");

    let created = ada.dav(
        "PUT",
        &href,
        &[("if-none-match", "*"), ("content-type", "text/calendar")],
        &vtodo,
    );
    assert_eq!(created.status, 201, "{}", body(&created));
    let etag = created.header("etag").unwrap().to_owned();
    // Creating it again is refused: it exists.
    ada.dav("PUT", &href, &[("if-none-match", "*")], &vtodo)
        .assert_error(412, "precondition_failed");

    // The REST API sees the todo, with an all-day due date.
    let todos = ada.rest("GET", "/api/todos", None).expect(200).body;
    let todo = &todos["items"][0];
    assert_eq!(todo["title"], "Buy a tree");
    assert_eq!(todo["priority"], "urgent");
    assert_eq!(todo["due_at"], "2026-12-24T00:00:00Z");
    assert_eq!(todo["due_all_day"], true);
    assert_eq!(todo["tags"], json!(["home", "errands"]));

    let got = ada.dav("GET", &href, &[], "").expect(200);
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(
        got.header("content-type"),
        Some("text/calendar; charset=utf-8; component=vtodo")
    );
    let ics = body(&got).to_owned();
    for kept in [
        "X-APPLE-SORT-ORDER:718455123",
        "RELATED-TO;RELTYPE=PARENT:PARENT-UID-1",
        "DUE;VALUE=DATE:20261224",
        "PRIORITY:1",
        "UID:2F8A4C1E-0B7D-4E0A-9C35-1D9E2B3A4C5D",
    ] {
        assert!(ics.contains(kept), "{kept} in {ics}");
    }
    ada.dav("GET", &href, &[("if-none-match", &etag)], "")
        .expect(304);

    // A change through the REST API shows in what the client reads back.
    let id = text(&todo["id"]);
    ada.rest(
        "PATCH",
        &format!("/api/todos/{id}"),
        Some(json!({"title": "Buy a fir"})),
    )
    .expect(200);
    let after = ada.dav("GET", &href, &[], "").expect(200);
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    let ics = body(&after);
    assert!(ics.contains("SUMMARY:Buy a fir"), "{ics}");
    assert!(ics.contains("X-APPLE-SORT-ORDER:718455123"), "{ics}");
    assert!(!ics.contains("Buy a tree"), "{ics}");

    // The client's stale ETag no longer matches: nothing changes.
    let stale = ada.dav("PUT", &href, &[("if-match", &etag)], &vtodo);
    stale.assert_error(412, "precondition_failed");
    let title = ada
        .rest("GET", &format!("/api/todos/{id}"), None)
        .expect(200)
        .body["title"]
        .clone();
    assert_eq!(title, "Buy a fir");

    // Completing it on the phone completes it in the app.
    let fresh = after.header("etag").unwrap().to_owned();
    let done = vtodo
        .replace(
            "STATUS:NEEDS-ACTION",
            "STATUS:COMPLETED\r\nCOMPLETED:20261202T080000Z",
        )
        .replace("Buy a tree", "Buy a fir");
    let put = ada.dav("PUT", &href, &[("if-match", &fresh)], &done);
    assert_eq!(put.status, 204, "{}", body(&put));
    let new_etag = put.header("etag").unwrap().to_owned();
    let todo = ada
        .rest("GET", &format!("/api/todos/{id}"), None)
        .expect(200)
        .body;
    assert_eq!(todo["completed"], true);
    let got = ada.dav("GET", &href, &[], "").expect(200);
    assert_eq!(got.header("etag"), Some(new_etag.as_str()));
    assert!(body(&got).contains("STATUS:COMPLETED"), "{}", body(&got));

    // DELETE, then it is gone, and a second DELETE finds nothing.
    ada.dav("DELETE", &href, &[("if-match", "\"1-00000000\"")], "")
        .assert_error(412, "precondition_failed");
    ada.dav("DELETE", &href, &[], "").expect(204);
    ada.dav("GET", &href, &[], "")
        .assert_error(404, "not_found");
    ada.dav("DELETE", &href, &[], "")
        .assert_error(404, "not_found");
    ada.rest("GET", &format!("/api/todos/{id}"), None)
        .assert_error(404, "not_found");
}

#[test]
fn bad_calendar_data_is_refused_and_stores_nothing() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cal = ada.calendar(&ada.inbox());
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:e1\r\n\
                 DTSTART:20261201T100000Z\r\nSUMMARY:Party\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let two = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:a\r\nSUMMARY:A\r\n\
               END:VTODO\r\nBEGIN:VTODO\r\nUID:b\r\nSUMMARY:B\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    let huge = apple_vtodo("big", &"x".repeat(300 * 1024));
    for (name, ics, status) in [
        ("event.ics", event, 400),
        ("two.ics", two, 400),
        ("broken.ics", "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\n", 400),
        ("big.ics", huge.as_str(), 413),
    ] {
        let reply = ada.dav("PUT", &format!("{cal}{name}"), &[], ics);
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
        assert!(
            reply.body["error"]["message"].is_string(),
            "{name}: {}",
            reply.body
        );
    }
    // A name that is no .ics is refused too.
    ada.dav(
        "PUT",
        &format!("{cal}notes.txt"),
        &[],
        &apple_vtodo("n", "N"),
    )
    .assert_error(403, "bad_resource_name");
    let todos = ada.rest("GET", "/api/todos", None).expect(200).body;
    assert_eq!(todos["items"], json!([]));
}

#[test]
fn sync_collection_reports_changes_and_deletions_since_a_token() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let inbox = ada.inbox();
    let cal = ada.calendar(&inbox);
    let sync = |token: &str, limit: Option<u32>| {
        let limit = limit.map_or(String::new(), |n| {
            format!("<d:limit><d:nresults>{n}</d:nresults></d:limit>")
        });
        ada.dav(
            "REPORT",
            &cal,
            &[("depth", "1")],
            &format!(
                r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token>
                <d:sync-level>1</d:sync-level>{limit}<d:prop><d:getetag/></d:prop></d:sync-collection>"#
            ),
        )
    };
    let token_of = |reply: &Reply| {
        let doc = roxmltree::Document::parse(body(reply)).unwrap();
        doc.descendants()
            .find(|n| n.has_tag_name(("DAV:", "sync-token")))
            .and_then(|n| n.text())
            .unwrap()
            .to_owned()
    };

    let first = ada
        .rest("POST", "/api/todos", Some(json!({"title": "one"})))
        .expect(201)
        .body;
    ada.dav(
        "PUT",
        &format!("{cal}mine.ics"),
        &[],
        &apple_vtodo("mine-uid", "two"),
    )
    .expect(201);
    let initial = sync("", None);
    let all = responses(&initial);
    let hrefs: Vec<&str> = all.iter().map(|r| r.href.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            format!("{cal}{}.ics", text(&first["id"])),
            format!("{cal}mine.ics")
        ]
    );
    assert!(all
        .iter()
        .all(|r| r.status.contains("200") && r.prop("getetag").starts_with('"')));
    let token = token_of(&initial);

    // Nothing new: an empty answer with the same token.
    let quiet = sync(&token, None);
    assert!(responses(&quiet).is_empty());
    assert_eq!(token_of(&quiet), token);

    // A change through the REST API, a delete of the client's own resource.
    let id = text(&first["id"]);
    ada.rest(
        "PATCH",
        &format!("/api/todos/{id}"),
        Some(json!({"title": "one!"})),
    )
    .expect(200);
    ada.dav("DELETE", &format!("{cal}mine.ics"), &[], "")
        .expect(204);
    let changed = sync(&token, None);
    let all = responses(&changed);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].href, format!("{cal}{id}.ics"));
    assert!(all[0].status.contains("200"));
    assert_eq!(all[1].href, format!("{cal}mine.ics"));
    assert!(all[1].status.contains("404"), "{all:?}");
    assert_ne!(token_of(&changed), token);

    // Truncated: the first change, then 507 on the calendar; the rest follows.
    for title in ["a", "b", "c"] {
        ada.rest("POST", "/api/todos", Some(json!({"title": title})))
            .expect(201);
    }
    let mark = token_of(&changed);
    let page = sync(&mark, Some(2));
    let all = responses(&page);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[2].status.contains("507"), "{all:?}");
    assert_eq!(all[2].href, cal);
    let rest_page = sync(&token_of(&page), Some(2));
    let rest = responses(&rest_page);
    assert_eq!(rest.len(), 1, "{rest:?}");

    // One change that made three todos (the chat adds them together) never
    // splits across pages, however small: a page ends at a whole change.
    let said = ada.rest(
        "POST",
        "/api/chat",
        Some(json!({"message": "task bread and task butter and task jam"})),
    );
    assert_eq!(said.expect(200).body["result"]["count"], 3);
    let group = sync(&token_of(&rest_page), Some(1));
    let all = responses(&group);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|r| r.status.contains("200")), "{all:?}");
    assert!(responses(&sync(&token_of(&group), Some(1))).is_empty());

    // Unknown and future tokens.
    for bad in ["nonsense", "http://todo-spin.dev/ns/sync/999999"] {
        let refused = sync(bad, None);
        assert_eq!(refused.status, 403, "{}", body(&refused));
        assert!(
            body(&refused).contains("valid-sync-token"),
            "{}",
            body(&refused)
        );
    }
}

#[test]
fn queries_and_multigets_answer_the_todos_asked_for() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cal = ada.calendar(&ada.inbox());
    let open = ada
        .rest("POST", "/api/todos", Some(json!({"title": "open"})))
        .expect(201)
        .body;
    let done = ada
        .rest("POST", "/api/todos", Some(json!({"title": "done"})))
        .expect(201)
        .body;
    ada.rest(
        "POST",
        &format!("/api/todos/{}/toggle", text(&done["id"])),
        None,
    )
    .expect(200);

    let query = ada.dav(
        "REPORT",
        &cal,
        &[("depth", "1")],
        r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
           <d:prop><d:getetag/><c:calendar-data/></d:prop>
           <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO">
           <c:prop-filter name="COMPLETED"><c:is-not-defined/></c:prop-filter>
           </c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#,
    );
    let found = responses(&query);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].prop("calendar-data").contains("SUMMARY:open"));

    let hrefs = [
        format!("{cal}{}.ics", text(&open["id"])),
        format!("{cal}{}.ics", text(&done["id"])),
        format!("{cal}missing.ics"),
    ];
    let multiget = ada.dav(
        "REPORT",
        &cal,
        &[("depth", "1")],
        &format!(
            r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
               <d:prop><d:getetag/><c:calendar-data/></d:prop>
               <d:href>{}</d:href><d:href>{}</d:href><d:href>{}</d:href></c:calendar-multiget>"#,
            hrefs[0], hrefs[1], hrefs[2]
        ),
    );
    let got = responses(&multiget);
    assert_eq!(got.len(), 3);
    assert!(got[1].prop("calendar-data").contains("STATUS:COMPLETED"));
    assert_eq!(got[2].href, hrefs[2]);
    assert!(got[2].status.contains("404"));
}

#[test]
fn viewers_and_read_only_tokens_read_but_never_write() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let list = text(
        &ada.rest("POST", "/api/lists", Some(json!({"name": "Shared"})))
            .expect(201)
            .body["id"],
    );
    ada.rest(
        "POST",
        &format!("/api/lists/{list}/invitations"),
        Some(json!({"email": bob.email, "role": "viewer"})),
    )
    .expect(201);
    let invitation =
        bob.rest("GET", "/api/invitations", None).expect(200).body["items"][0]["id"].clone();
    bob.rest(
        "POST",
        &format!("/api/invitations/{}/accept", text(&invitation)),
        None,
    )
    .expect(200);
    let todo = ada
        .rest(
            "POST",
            "/api/todos",
            Some(json!({"title": "shared", "list_id": list})),
        )
        .expect(201)
        .body;
    let href = format!("/dav/calendars/{}/{list}/{}.ics", bob.id, text(&todo["id"]));

    // Bob sees the shared list under his own home, read only.
    let listing = responses(&bob.dav(
        "PROPFIND",
        &format!("/dav/calendars/{}/", bob.id),
        &[("depth", "1")],
        PROPFIND_CALENDARS,
    ));
    let shared = listing.iter().find(|r| r.href.contains(&list)).unwrap();
    assert!(
        !shared.prop("current-user-privilege-set").contains("<write"),
        "{shared:?}"
    );
    bob.dav("GET", &href, &[], "").expect(200);
    bob.dav("PUT", &href, &[], &apple_vtodo("x", "mine now"))
        .assert_error(403, "forbidden");
    bob.dav("DELETE", &href, &[], "")
        .assert_error(403, "forbidden");

    // A read-only token reads Ada's own list and writes nothing.
    let read_only = ada.token(true);
    let own = format!("/dav/calendars/{}/{list}/{}.ics", ada.id, text(&todo["id"]));
    dav_as(&app, &ada.email, &read_only, "GET", &own, &[], "").expect(200);
    dav_as(&app, &ada.email, &read_only, "DELETE", &own, &[], "")
        .assert_error(403, "read_only_token");
    assert_eq!(
        ada.rest("GET", &format!("/api/todos/{}", text(&todo["id"])), None)
            .expect(200)
            .body["title"],
        "shared"
    );

    // Removed from the list, Bob's calendar is gone at once.
    ada.rest(
        "DELETE",
        &format!("/api/lists/{list}/members/{}", bob.id),
        None,
    )
    .expect(204);
    bob.dav("GET", &href, &[], "")
        .assert_error(404, "not_found");
}

#[test]
fn failed_sign_ins_count_against_the_address_and_a_right_token_still_works() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let max = todo_core::auth::MAX_BASIC_FAILURES_PER_ADDRESS;
    for _ in 0..max {
        dav_as(
            &app,
            &ada.email,
            "todo_pat_wrong",
            "PROPFIND",
            "/dav/",
            &[],
            "",
        )
        .assert_error(401, "unauthorized");
    }
    let blocked = dav_as(
        &app,
        &ada.email,
        "todo_pat_wrong",
        "PROPFIND",
        "/dav/",
        &[],
        "",
    );
    blocked.assert_error(429, "too_many_requests");
    assert!(blocked.header("retry-after").is_some());
    assert_eq!(
        ada.dav("PROPFIND", "/dav/", &[("depth", "0")], "").status,
        207
    );
}

#[test]
fn a_client_creates_renames_recolours_and_deletes_a_list() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let id = "6f1c2e0a-4b7d-4c1e-9a2b-3d4e5f607182";
    let cal = ada.calendar(id);
    let made = ada.dav(
        "MKCALENDAR",
        &cal,
        &[],
        r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:ic="http://apple.com/ns/ical/">
           <d:set><d:prop><d:displayname>Garden</d:displayname><ic:calendar-color>#2E7D32FF</ic:calendar-color>
           <c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>
           </d:prop></d:set></c:mkcalendar>"#,
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let list = ada
        .rest("GET", &format!("/api/lists/{id}"), None)
        .expect(200)
        .body;
    assert_eq!(list["name"], "Garden");
    assert_eq!(list["color"], "#2e7d32");
    assert_eq!(list["role"], "owner");
    // The same URL again: there is a calendar there.
    assert_eq!(ada.dav("MKCALENDAR", &cal, &[], "").status, 405);

    let patched = ada.dav(
        "PROPPATCH",
        &cal,
        &[],
        r#"<d:propertyupdate xmlns:d="DAV:" xmlns:ic="http://apple.com/ns/ical/">
           <d:set><d:prop><d:displayname>Vegetable garden</d:displayname>
           <ic:calendar-order>3</ic:calendar-order></d:prop></d:set></d:propertyupdate>"#,
    );
    let answer = responses(&patched);
    assert_eq!(answer[0].href, cal);
    assert!(
        answer[0].props.iter().any(|(n, _)| n == "displayname"),
        "{answer:?}"
    );
    assert_eq!(answer[0].missing, ["calendar-order"]);
    let list = ada
        .rest("GET", &format!("/api/lists/{id}"), None)
        .expect(200)
        .body;
    assert_eq!(list["name"], "Vegetable garden");

    // Only the owner deletes a list, and the Inbox stays.
    let bob = User::signup(&app, "bob@example.com");
    ada.rest(
        "POST",
        &format!("/api/lists/{id}/invitations"),
        Some(json!({"email": bob.email, "role": "editor"})),
    )
    .expect(201);
    let invitation =
        bob.rest("GET", "/api/invitations", None).expect(200).body["items"][0]["id"].clone();
    bob.rest(
        "POST",
        &format!("/api/invitations/{}/accept", text(&invitation)),
        None,
    )
    .expect(200);
    bob.dav("DELETE", &bob.calendar(id), &[], "")
        .assert_error(403, "forbidden");
    bob.dav("PROPPATCH", &bob.calendar(id), &[], r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Mine</d:displayname></d:prop></d:set></d:propertyupdate>"#)
        .assert_error(403, "forbidden");
    ada.dav("DELETE", &ada.calendar(&ada.inbox()), &[], "")
        .assert_error(409, "inbox");
    ada.dav("DELETE", &cal, &[], "").expect(204);
    ada.rest("GET", &format!("/api/lists/{id}"), None)
        .assert_error(404, "not_found");
}

/// A daily task due at 09:00 UTC, as Tasks.org or Thunderbird stores it.
fn repeating_vtodo(uid: &str, due: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:+//IDN tasks.org//android-130804//EN\r\nBEGIN:VTODO\r\n\
         UID:{uid}\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Water the plants\r\nDUE:{due}\r\n\
         RRULE:FREQ=DAILY\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n{extra}END:VCALENDAR\r\n"
    )
}

#[test]
fn completing_a_repeating_task_either_way_is_the_apps_toggle() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cal = ada.calendar(&ada.inbox());
    let open_titles = |ada: &User| {
        let page = ada
            .rest("GET", "/api/todos?status=open", None)
            .expect(200)
            .body;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (text(&t["title"]), text(&t["due_at"])))
            .collect::<Vec<_>>()
    };

    // Tasks.org moves DUE one repetition forward and keeps the task open.
    let href = format!("{cal}tasks-org.ics");
    ada.dav(
        "PUT",
        &href,
        &[],
        &repeating_vtodo("t1", "20261201T090000Z", ""),
    )
    .expect(201);
    let moved = ada.dav(
        "PUT",
        &href,
        &[],
        &repeating_vtodo("t1", "20261202T090000Z", ""),
    );
    assert_eq!(moved.status, 204, "{}", moved.body);
    let page = ada.rest("GET", "/api/todos", None).expect(200).body;
    let items = page["items"].as_array().unwrap();
    let done: Vec<_> = items.iter().filter(|t| t["completed"] == true).collect();
    assert_eq!(done.len(), 1, "{page}");
    assert_eq!(done[0]["due_at"], "2026-12-01T09:00:00Z");
    assert_eq!(
        open_titles(&ada),
        [(
            "Water the plants".to_owned(),
            "2026-12-02T09:00:00Z".to_owned()
        )]
    );
    // Moving an open repeating task by anything else is an edit.
    let next = items.iter().find(|t| t["completed"] == false).unwrap();
    let next_href = format!("{cal}{}.ics", text(&next["id"]));
    let next_ics = body(&ada.dav("GET", &next_href, &[], "").expect(200)).to_owned();
    let edited = next_ics.replace("DUE:20261202T090000Z", "DUE:20261205T090000Z");
    assert!(edited.contains("DUE:20261205T090000Z"), "{next_ics}");
    ada.dav("PUT", &next_href, &[], &edited).expect(204);
    assert_eq!(
        open_titles(&ada),
        [(
            "Water the plants".to_owned(),
            "2026-12-05T09:00:00Z".to_owned()
        )]
    );

    // Thunderbird adds a completed instance for the occurrence.
    let href = format!("{cal}thunderbird.ics");
    ada.dav(
        "PUT",
        &href,
        &[],
        &repeating_vtodo("t2", "20261210T090000Z", ""),
    )
    .expect(201);
    let instance = "BEGIN:VTODO\r\nUID:t2\r\nRECURRENCE-ID:20261210T090000Z\r\nDTSTAMP:20261210T100000Z\r\n\
                    SUMMARY:Water the plants\r\nSTATUS:COMPLETED\r\nCOMPLETED:20261210T100000Z\r\nEND:VTODO\r\n";
    let done = ada.dav(
        "PUT",
        &href,
        &[],
        &repeating_vtodo("t2", "20261210T090000Z", instance),
    );
    assert_eq!(done.status, 204, "{}", done.body);
    let got = ada.dav("GET", &href, &[], "").expect(200);
    assert!(body(&got).contains("STATUS:COMPLETED"), "{}", body(&got));
    assert!(!body(&got).contains("RECURRENCE-ID"), "{}", body(&got));
    let open = open_titles(&ada);
    assert!(
        open.contains(&(
            "Water the plants".to_owned(),
            "2026-12-11T09:00:00Z".to_owned()
        )),
        "{open:?}"
    );
}

#[test]
fn a_lists_secret_feed_serves_its_open_dated_todos_as_events() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let list = text(
        &ada.rest("POST", "/api/lists", Some(json!({"name": "Bills"})))
            .expect(201)
            .body["id"],
    );
    let add = |body: Value| ada.rest("POST", "/api/todos", Some(body)).expect(201).body;
    add(json!({"title": "Rent", "list_id": list, "due_at": "2026-12-28", "due_all_day": true}));
    add(json!({"title": "Call the bank", "list_id": list, "due_at": "2026-12-20T15:30:00Z"}));
    add(json!({"title": "Someday", "list_id": list}));
    let paid = add(json!({"title": "Water", "list_id": list, "due_at": "2026-12-01T00:00:00Z"}));
    ada.rest(
        "POST",
        &format!("/api/todos/{}/toggle", text(&paid["id"])),
        None,
    )
    .expect(200);

    // Only the owner, with a session, makes a feed: anyone with its URL reads the list.
    let feed_path = format!("/api/lists/{list}/feed");
    app.send("POST", &feed_path, Some(&ada.pat), &[], None)
        .assert_error(403, "session_required");
    let bob = User::signup(&app, "bob@example.com");
    bob.rest("POST", &feed_path, None)
        .assert_error(404, "not_found");
    let made = ada.rest("POST", &feed_path, None).expect(201).body;
    let path = text(&made["path"]);
    assert!(
        path.starts_with("/dav/feeds/todo_feed_") && path.ends_with(".ics"),
        "{made}"
    );
    assert_eq!(text(&made["url"]), app.url(&path));

    let feed = app.send("GET", &path, None, &[], None).expect(200);
    assert_eq!(
        feed.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    let calendar = todo_core::dav::ical::parse(body(&feed)).unwrap();
    let events: Vec<_> = calendar.children_named("VEVENT").collect();
    let summaries: Vec<String> = events
        .iter()
        .map(|e| e.prop("SUMMARY").unwrap().text())
        .collect();
    assert_eq!(summaries, ["Call the bank", "Rent"]);
    assert_eq!(events[0].prop("DTSTART").unwrap().value, "20261220T153000Z");
    let rent = events[1].prop("DTSTART").unwrap();
    assert_eq!(
        (rent.param("VALUE"), rent.value.as_str()),
        (Some("DATE"), "20261228")
    );
    assert_eq!(events[1].prop("DTEND").unwrap().value, "20261229");

    let etag = feed.header("etag").unwrap().to_owned();
    app.send("GET", &path, None, &[("if-none-match", &etag)], None)
        .expect(304);
    app.send("PUT", &path, None, &[], None)
        .assert_error(405, "method_not_allowed");

    // A new URL replaces the old one; turning it off ends the new one too.
    let renewed = text(&ada.rest("POST", &feed_path, None).expect(201).body["path"]);
    app.send("GET", &path, None, &[], None)
        .assert_error(404, "not_found");
    app.send("GET", &renewed, None, &[], None).expect(200);
    ada.rest("DELETE", &feed_path, None).expect(204);
    app.send("GET", &renewed, None, &[], None)
        .assert_error(404, "not_found");
}

#[test]
fn a_task_moved_to_another_list_leaves_its_name_behind_and_arrives_as_its_id() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let inbox = ada.inbox();
    let work = text(
        &ada.rest("POST", "/api/lists", Some(json!({"name": "Work"})))
            .expect(201)
            .body["id"],
    );
    let from = ada.calendar(&inbox);
    let mark = |cal: &str| {
        let first = ada.dav(
            "REPORT",
            cal,
            &[("depth", "1")],
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:prop><d:getetag/></d:prop></d:sync-collection>"#,
        );
        let doc = roxmltree::Document::parse(body(&first)).unwrap();
        doc.descendants()
            .find(|n| n.has_tag_name(("DAV:", "sync-token")))
            .and_then(|n| n.text())
            .unwrap()
            .to_owned()
    };
    ada.dav(
        "PUT",
        &format!("{from}Chosen-Name.ics"),
        &[],
        &apple_vtodo("SAME-UID", "Report"),
    )
    .expect(201);
    // A task with the same UID already sits in Work.
    ada.dav(
        "PUT",
        &format!("{}other.ics", ada.calendar(&work)),
        &[],
        &apple_vtodo("SAME-UID", "Other"),
    )
    .expect(201);
    let token = mark(&from);
    let id = text(
        &ada.rest("GET", "/api/todos?q=Report", None)
            .expect(200)
            .body["items"][0]["id"],
    );
    ada.rest(
        "PATCH",
        &format!("/api/todos/{id}"),
        Some(json!({"list_id": work})),
    )
    .expect(200);

    let since = ada.dav(
        "REPORT",
        &from,
        &[("depth", "1")],
        &format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        ),
    );
    let gone = responses(&since);
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0].href, format!("{from}Chosen-Name.ics"));
    assert!(gone[0].status.contains("404"));
    let moved = ada
        .dav("GET", &format!("{}{id}.ics", ada.calendar(&work)), &[], "")
        .expect(200);
    assert!(
        body(&moved).contains(&format!("UID:{id}")),
        "{}",
        body(&moved)
    );
    assert!(
        body(&moved).contains("X-APPLE-SORT-ORDER"),
        "{}",
        body(&moved)
    );
}

#[test]
fn floating_times_are_the_users_local_times_and_come_back_as_written() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    ada.rest(
        "PUT",
        "/api/notifications/preferences",
        Some(json!({"time_zone": "Europe/Berlin"})),
    )
    .expect(200);
    let href = format!("{}floating.ics", ada.calendar(&ada.inbox()));
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:floating\r\n\
               SUMMARY:Dentist\r\nDUE:20261208T090000\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    ada.dav("PUT", &href, &[], ics).expect(201);
    let todo = &ada.rest("GET", "/api/todos", None).expect(200).body["items"][0];
    assert_eq!(todo["due_at"], "2026-12-08T08:00:00Z");
    let got = ada.dav("GET", &href, &[], "").expect(200);
    assert!(
        body(&got).contains("DUE:20261208T090000\r\n"),
        "{}",
        body(&got)
    );
}
