//! Shared lists over real HTTP, through the native harness, against a fresh
//! database per test: what each role may do by every route, invitations,
//! assignees, and how the sync and the long-poll follow a list's members.
//! Every response is also checked against the OpenAPI document.

mod api_document;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use api_document::check_against_document;
use native::testing::{Reply, TestApp};
use serde_json::{json, Value};

/// A signed-up user of the app.
struct User<'a> {
    app: &'a TestApp,
    token: String,
    id: String,
    email: String,
}

impl<'a> User<'a> {
    fn signup(app: &'a TestApp, email: &str) -> Self {
        let account = app.signup(email);
        User {
            app,
            token: account.token,
            id: account.id,
            email: email.to_owned(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let reply = self
            .app
            .send(method, path, Some(&self.token), &[], body.as_ref());
        check_against_document(method, path, &reply);
        reply
    }

    fn create_list(&self, name: &str) -> String {
        let list = self
            .call("POST", "/api/lists", Some(json!({"name": name})))
            .expect(201)
            .body;
        text(&list["id"])
    }

    fn create(&self, list: &str, title: &str) -> Value {
        self.call(
            "POST",
            "/api/todos",
            Some(json!({"title": title, "list_id": list})),
        )
        .expect(201)
        .body
    }

    /// Invites `member` to `list` with `role`; `member` accepts.
    fn share(&self, list: &str, member: &User, role: &str) {
        self.call(
            "POST",
            &format!("/api/lists/{list}/invitations"),
            Some(json!({"email": member.email, "role": role})),
        )
        .expect(201);
        let received = member.call("GET", "/api/invitations", None).expect(200);
        let invitation = received.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["list"]["id"] == list)
            .unwrap();
        let id = text(&invitation["id"]);
        member
            .call("POST", &format!("/api/invitations/{id}/accept"), None)
            .expect(200);
    }

    fn sync_token(&self) -> String {
        text(&self.call("GET", "/api/todos", None).expect(200).body["sync_token"])
    }

    /// Every change after `token`, page after page; the pages and the
    /// token to go on from.
    fn changes(&self, token: &str) -> (Vec<Value>, String) {
        let mut pages = Vec::new();
        let mut token = token.to_owned();
        loop {
            let page = self
                .call("GET", &format!("/api/todos?since={token}&limit=7"), None)
                .expect(200)
                .body;
            token = text(&page["sync_token"]);
            let more = page["has_more"] == true;
            pages.push(page);
            if !more {
                return (pages, token);
            }
        }
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|t| text(t.get("id").unwrap_or(t)))
        .collect()
}

/// One list of Ada's with one todo, shared with Bob as `role`; Cyd is no
/// member. Answers the list's id and the todo.
fn shared<'a>(app: &'a TestApp, role: &str) -> (User<'a>, User<'a>, User<'a>, String, Value) {
    let ada = User::signup(app, "ada@example.com");
    let bob = User::signup(app, "bob@example.com");
    let cyd = User::signup(app, "cyd@example.com");
    let list = ada.create_list("Groceries");
    let todo = ada.create(&list, "milk");
    ada.share(&list, &bob, role);
    (ada, bob, cyd, list, todo)
}

// ---------------------------------------------------------------- who may do what

#[test]
fn someone_who_is_not_a_member_gets_404_for_the_list_and_each_of_its_todos() {
    let app = TestApp::spawn();
    let (ada, _bob, cyd, list, todo) = shared(&app, "editor");
    let id = text(&todo["id"]);
    let ada_id = &ada.id;
    for (method, path, body) in [
        ("GET", format!("/api/lists/{list}"), None),
        (
            "PATCH",
            format!("/api/lists/{list}"),
            Some(json!({"name": "Mine"})),
        ),
        ("DELETE", format!("/api/lists/{list}"), None),
        ("GET", format!("/api/lists/{list}/members"), None),
        ("GET", format!("/api/lists/{list}/invitations"), None),
        ("GET", format!("/api/todos/stats?list={list}"), None),
        (
            "PATCH",
            format!("/api/lists/{list}/members/{ada_id}"),
            Some(json!({"role": "viewer"})),
        ),
        (
            "DELETE",
            format!("/api/lists/{list}/members/{ada_id}"),
            None,
        ),
        (
            "POST",
            format!("/api/lists/{list}/invitations"),
            Some(json!({"email": "cyd@example.com", "role": "editor"})),
        ),
        ("GET", format!("/api/todos?list={list}"), None),
        (
            "DELETE",
            format!("/api/todos?status=done&list={list}"),
            None,
        ),
        ("GET", format!("/api/todos/{id}"), None),
        (
            "PATCH",
            format!("/api/todos/{id}"),
            Some(json!({"title": "x"})),
        ),
        (
            "PUT",
            format!("/api/todos/{id}"),
            Some(json!({"title": "x"})),
        ),
        ("DELETE", format!("/api/todos/{id}"), None),
        ("POST", format!("/api/todos/{id}/toggle"), None),
        ("GET", format!("/api/todos/{id}/history"), None),
    ] {
        cyd.call(method, &path, body).expect_error(404, "not_found");
    }
    // Naming the list for a new todo is naming no list at all.
    let reply = cyd
        .call(
            "POST",
            "/api/todos",
            Some(json!({"title": "sneaky", "list_id": list})),
        )
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), ["list_id"]);
    // Nothing of the list shows anywhere.
    assert_eq!(cyd.call("GET", "/api/todos", None).body["total"], 0);
    assert_eq!(
        ids(&cyd.call("GET", "/api/lists", None).body["items"]).len(),
        1
    );
    let stats = cyd.call("GET", "/api/todos/stats", None).expect(200).body;
    assert_eq!(stats["total"], 0);
    // And nothing changed.
    let got = ada
        .call("GET", &format!("/api/todos/{id}"), None)
        .expect(200);
    assert_eq!(got.body, todo);
}

#[test]
fn a_viewer_reads_the_list_but_no_route_lets_them_change_it() {
    let app = TestApp::spawn();
    let (ada, bob, _cyd, list, todo) = shared(&app, "viewer");
    let id = text(&todo["id"]);
    let inbox_todo = bob
        .call("POST", "/api/todos", Some(json!({"title": "mine"})))
        .expect(201)
        .body;
    let inbox_id = text(&inbox_todo["id"]);
    let bob_id = &bob.id;
    // Reads.
    assert_eq!(
        bob.call("GET", &format!("/api/todos/{id}"), None)
            .expect(200)
            .body,
        todo
    );
    assert_eq!(
        ids(&bob
            .call("GET", &format!("/api/todos?list={list}"), None)
            .body["items"]),
        std::slice::from_ref(&id)
    );
    bob.call("GET", &format!("/api/todos/{id}/history"), None)
        .expect(200);
    let members = bob
        .call("GET", &format!("/api/lists/{list}/members"), None)
        .expect(200);
    assert_eq!(members.body["items"][1]["role"], "viewer");
    let stats = bob
        .call("GET", &format!("/api/todos/stats?list={list}"), None)
        .expect(200);
    assert_eq!(stats.body["total"], 1);
    // Who else was invited is the owner's business.
    bob.call("GET", &format!("/api/lists/{list}/invitations"), None)
        .expect_error(403, "forbidden");
    // Writes.
    for (method, path, body) in [
        (
            "POST",
            "/api/todos".to_owned(),
            Some(json!({"title": "x", "list_id": list})),
        ),
        (
            "PATCH",
            format!("/api/todos/{id}"),
            Some(json!({"title": "x"})),
        ),
        (
            "PUT",
            format!("/api/todos/{id}"),
            Some(json!({"title": "x"})),
        ),
        ("DELETE", format!("/api/todos/{id}"), None),
        ("POST", format!("/api/todos/{id}/toggle"), None),
        (
            "PATCH",
            format!("/api/todos/{id}"),
            Some(json!({"list_id": inbox_list(&bob)})),
        ),
        (
            "PATCH",
            format!("/api/todos/{inbox_id}"),
            Some(json!({"list_id": list})),
        ),
        (
            "DELETE",
            format!("/api/todos?status=done&list={list}"),
            None,
        ),
        (
            "PATCH",
            format!("/api/lists/{list}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/api/lists/{list}"), None),
        (
            "POST",
            format!("/api/lists/{list}/invitations"),
            Some(json!({"email": "cyd@example.com", "role": "viewer"})),
        ),
        (
            "PATCH",
            format!("/api/lists/{list}/members/{bob_id}"),
            Some(json!({"role": "editor"})),
        ),
    ] {
        bob.call(method, &path, body.clone())
            .expect_error(403, "forbidden");
    }
    // Nothing changed; the viewer's own Inbox todo is still theirs.
    assert_eq!(
        ada.call("GET", &format!("/api/todos/{id}"), None).body,
        todo
    );
    assert_eq!(
        bob.call("GET", &format!("/api/todos/{inbox_id}"), None)
            .body,
        inbox_todo
    );
    // Clearing everything completed leaves the viewed list alone.
    ada.call("POST", &format!("/api/todos/{id}/toggle"), None)
        .expect(200);
    let cleared = bob
        .call("DELETE", "/api/todos?status=done", None)
        .expect(200);
    assert_eq!(cleared.body["deleted"], 0);
    // A viewer may leave.
    bob.call(
        "DELETE",
        &format!("/api/lists/{list}/members/{bob_id}"),
        None,
    )
    .expect(204);
    bob.call("GET", &format!("/api/todos/{id}"), None)
        .expect_error(404, "not_found");
}

fn inbox_list(user: &User) -> String {
    let lists = user.call("GET", "/api/lists", None).expect(200).body;
    assert_eq!(lists["items"][0]["is_inbox"], true);
    text(&lists["items"][0]["id"])
}

#[test]
fn an_editor_changes_the_lists_todos_and_each_change_names_its_actor() {
    let app = TestApp::spawn();
    let (ada, bob, _cyd, list, todo) = shared(&app, "editor");
    let id = text(&todo["id"]);
    bob.call(
        "PATCH",
        &format!("/api/todos/{id}"),
        Some(json!({"title": "oat milk"})),
    )
    .expect(200);
    bob.create(&list, "bread");
    let history = ada
        .call("GET", &format!("/api/todos/{id}/history"), None)
        .expect(200)
        .body;
    let actors: Vec<Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"]["id"].clone())
        .collect();
    assert_eq!(actors, [json!(bob.id), json!(ada.id)]);
    assert_eq!(
        ada.call("GET", &format!("/api/lists/{list}"), None).body["open_count"],
        2
    );
    // An editor may not manage the list.
    bob.call(
        "PATCH",
        &format!("/api/lists/{list}"),
        Some(json!({"name": "x"})),
    )
    .expect_error(403, "forbidden");
}

// ---------------------------------------------------------------- invitations

#[test]
fn inviting_an_email_without_an_account_answers_exactly_as_inviting_one_with_an_account() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    User::signup(&app, "known@example.com");
    let list = ada.create_list("Team");
    let invite = |email: &str| {
        let mut reply = ada
            .call(
                "POST",
                &format!("/api/lists/{list}/invitations"),
                Some(json!({"email": email, "role": "editor"})),
            )
            .expect(201);
        let body = reply.body.as_object_mut().unwrap();
        assert!(body.remove("id").is_some());
        assert!(body.remove("email").is_some());
        (reply.status, reply.body)
    };
    assert_eq!(invite("known@example.com"), invite("nobody@example.com"));
    // The invitation waits for the sign-up, and then it is theirs.
    let late = User::signup(&app, "nobody@example.com");
    let received = late.call("GET", "/api/invitations", None).expect(200).body;
    assert_eq!(received["items"][0]["list"]["id"], list.as_str());
    assert_eq!(received["items"][0]["inviter"]["id"], ada.id.as_str());
}

#[test]
fn an_invitation_is_accepted_once_only_by_its_invitee_and_never_after_it_was_revoked() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let eve = User::signup(&app, "eve@example.com");
    let list = ada.create_list("Trip");
    let invite = |email: &str| {
        let sent = ada
            .call(
                "POST",
                &format!("/api/lists/{list}/invitations"),
                Some(json!({"email": email, "role": "editor"})),
            )
            .expect(201);
        text(&sent.body["id"])
    };
    let for_bob = invite("bob@example.com");
    // Not by another account, nor declined by one.
    eve.call("POST", &format!("/api/invitations/{for_bob}/accept"), None)
        .expect_error(404, "not_found");
    eve.call("POST", &format!("/api/invitations/{for_bob}/decline"), None)
        .expect_error(404, "not_found");
    assert!(eve.call("GET", "/api/invitations", None).body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Once.
    bob.call("POST", &format!("/api/invitations/{for_bob}/accept"), None)
        .expect(200);
    bob.call("POST", &format!("/api/invitations/{for_bob}/accept"), None)
        .expect_error(404, "not_found");
    // Not after it was revoked.
    let for_eve = invite("eve@example.com");
    let pending = ada
        .call("GET", &format!("/api/lists/{list}/invitations"), None)
        .expect(200)
        .body;
    assert_eq!(ids(&pending["items"]), std::slice::from_ref(&for_eve));
    assert_eq!(pending["items"][0]["email"], "eve@example.com");
    ada.call(
        "DELETE",
        &format!("/api/lists/{list}/invitations/{for_eve}"),
        None,
    )
    .expect(204);
    eve.call("POST", &format!("/api/invitations/{for_eve}/accept"), None)
        .expect_error(404, "not_found");
    let members = ada
        .call("GET", &format!("/api/lists/{list}/members"), None)
        .body;
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    // A declined one is gone too.
    let again = invite("eve@example.com");
    eve.call("POST", &format!("/api/invitations/{again}/decline"), None)
        .expect(204);
    eve.call("POST", &format!("/api/invitations/{again}/accept"), None)
        .expect_error(404, "not_found");
}

/// A personal access token (an agent's, a phone's) never gives anyone
/// access: it cannot invite, give a stronger role or accept an invitation,
/// over the API or through the chat. It still reads and writes todos, and
/// may take access away.
#[test]
fn a_personal_access_token_never_gives_anyone_access() {
    let app = TestApp::spawn();
    let (ada, bob, cyd, list, _todo) = shared(&app, "viewer");
    let pat = |user: &User| {
        let made = user
            .call("POST", "/api/auth/tokens", Some(json!({"name": "agent"})))
            .expect(201);
        text(&made.body["token"])
    };
    let adas = pat(&ada);
    let as_agent = |method: &str, path: &str, body: Option<Value>| {
        let reply = app.send(method, path, Some(&adas), &[], body.as_ref());
        check_against_document(method, path, &reply);
        reply
    };
    let bob_id = &bob.id;
    as_agent(
        "POST",
        &format!("/api/lists/{list}/invitations"),
        Some(json!({"email": cyd.email, "role": "editor"})),
    )
    .expect_error(403, "session_required");
    as_agent(
        "PATCH",
        &format!("/api/lists/{list}/members/{bob_id}"),
        Some(json!({"role": "editor"})),
    )
    .expect_error(403, "session_required");
    // Through the chat neither: the yes to a share invites nobody.
    let proposal = as_agent(
        "POST",
        "/api/chat",
        Some(json!({"message": format!("share Groceries with {}", cyd.email)})),
    )
    .expect(200)
    .body;
    let conversation = text(&proposal["conversation_id"]);
    let yes = as_agent(
        "POST",
        "/api/chat",
        Some(json!({"message": "yes", "conversation_id": conversation})),
    )
    .expect(200)
    .body;
    assert!(yes["result"].get("invited").is_none(), "{yes}");
    assert!(cyd.call("GET", "/api/invitations", None).body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Accepting with a token is refused too; with a session it works.
    ada.call(
        "POST",
        &format!("/api/lists/{list}/invitations"),
        Some(json!({"email": cyd.email, "role": "viewer"})),
    )
    .expect(201);
    let invitation = text(&cyd.call("GET", "/api/invitations", None).body["items"][0]["id"]);
    let cyds = pat(&cyd);
    let path = format!("/api/invitations/{invitation}/accept");
    let reply = app.send("POST", &path, Some(&cyds), &[], None);
    check_against_document("POST", &path, &reply);
    reply.expect_error(403, "session_required");
    cyd.call("POST", &path, None).expect(200);
    // Taking access away is fine.
    as_agent(
        "DELETE",
        &format!("/api/lists/{list}/members/{bob_id}"),
        None,
    )
    .expect(204);
}

// ---------------------------------------------------------------- assignees

#[test]
fn an_assignee_is_a_member_and_leaving_the_list_unassigns_them() {
    let app = TestApp::spawn();
    let (ada, bob, cyd, list, todo) = shared(&app, "editor");
    let id = text(&todo["id"]);
    let reply = ada
        .call(
            "PATCH",
            &format!("/api/todos/{id}"),
            Some(json!({"assignee_id": cyd.id})),
        )
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), ["assignee_id"]);
    let assigned = ada
        .call(
            "PATCH",
            &format!("/api/todos/{id}"),
            Some(json!({"assignee_id": bob.id})),
        )
        .expect(200)
        .body;
    assert_eq!(assigned["assignee_id"], bob.id.as_str());
    let other = ada
        .call(
            "POST",
            "/api/todos",
            Some(json!({"title": "eggs", "list_id": list, "assignee_id": ada.id})),
        )
        .expect(201)
        .body;
    assert_eq!(
        ids(&bob.call("GET", "/api/todos?assignee=me", None).body["items"]),
        std::slice::from_ref(&id)
    );
    let ada_id = &ada.id;
    assert_eq!(
        ids(&bob
            .call("GET", &format!("/api/todos?assignee={ada_id}"), None)
            .body["items"]),
        [text(&other["id"])]
    );
    assert!(ids(&ada.call("GET", "/api/todos?assignee=none", None).body["items"]).is_empty());

    let bob_id = &bob.id;
    bob.call(
        "DELETE",
        &format!("/api/lists/{list}/members/{bob_id}"),
        None,
    )
    .expect(204);
    let after = ada
        .call("GET", &format!("/api/todos/{id}"), None)
        .expect(200)
        .body;
    assert_eq!(after["assignee_id"], Value::Null);
    assert_eq!(after["version"], 3);
    assert_eq!(
        ids(&ada.call("GET", "/api/todos?assignee=none", None).body["items"]),
        [id]
    );
}

// ---------------------------------------------------------------- the sync

#[test]
fn a_list_gained_arrives_whole_in_the_sync_and_a_list_deleted_leaves_it() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let list = ada.create_list("Groceries");
    let milk = ada.create(&list, "milk");
    let bread = ada.create(&list, "bread");
    let before = bob.sync_token();

    ada.share(&list, &bob, "editor");
    let (pages, token) = bob.changes(&before);
    let items: Vec<String> = pages.iter().flat_map(|p| ids(&p["items"])).collect();
    assert_eq!(items, [text(&milk["id"]), text(&bread["id"])]);
    let lists: Vec<String> = pages.iter().flat_map(|p| ids(&p["lists"])).collect();
    assert_eq!(lists, std::slice::from_ref(&list));

    ada.call("DELETE", &format!("/api/lists/{list}"), None)
        .expect(204);
    let (pages, _) = bob.changes(&token);
    let mut deleted: Vec<String> = pages.iter().flat_map(|p| ids(&p["deleted"])).collect();
    deleted.sort();
    let mut want = vec![text(&milk["id"]), text(&bread["id"])];
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(pages[0]["removed_lists"], json!([list]));
    bob.call("GET", &format!("/api/lists/{list}"), None)
        .expect_error(404, "not_found");
    // The owner's own sync says the same.
    assert!(ids(&ada.call("GET", "/api/lists", None).body["items"]).len() == 1);
}

/// A sync token names the lists of its user: in another user's hands it is
/// no token at all, so it cannot make the sync say anything about them.
#[test]
fn a_sync_token_works_only_for_its_own_user() {
    let app = TestApp::spawn();
    let (ada, _bob, cyd, _list, _todo) = shared(&app, "editor");
    let adas = ada.sync_token();
    let reply = cyd
        .call("GET", &format!("/api/todos?since={adas}"), None)
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), ["since"]);
    cyd.call(
        "DELETE",
        &format!("/api/todos?status=done&unchanged_since={adas}"),
        None,
    )
    .expect_error(422, "validation_failed");
    ada.call("GET", &format!("/api/todos?since={adas}"), None)
        .expect(200);
}

#[test]
fn a_todo_moved_out_of_a_list_is_deleted_for_those_who_see_only_that_list() {
    let app = TestApp::spawn();
    let (ada, bob, _cyd, list, todo) = shared(&app, "editor");
    let id = text(&todo["id"]);
    let token = bob.sync_token();
    let ada_inbox = inbox_list(&ada);
    let moved = ada
        .call(
            "PATCH",
            &format!("/api/todos/{id}"),
            Some(json!({"list_id": ada_inbox})),
        )
        .expect(200)
        .body;
    assert_eq!(moved["list_id"], ada_inbox.as_str());
    let (pages, _) = bob.changes(&token);
    assert_eq!(pages[0]["deleted"], json!([id]));
    assert!(pages[0]["items"].as_array().unwrap().is_empty());
    bob.call("GET", &format!("/api/todos/{id}"), None)
        .expect_error(404, "not_found");
    // Ada, who sees both lists, sees it moved, not deleted.
    let history = ada
        .call("GET", &format!("/api/todos/{id}/history"), None)
        .body;
    assert_eq!(
        history["items"][0]["changes"]["list_id"],
        json!({"old": list, "new": ada_inbox})
    );
}

/// Two members write to one list at once, each also to their own Inbox;
/// each follows the sync concurrently, and ends with exactly the server's
/// todos: no change of the other member is skipped.
#[test]
fn two_members_writing_to_one_list_at_once_both_sync_every_change() {
    let app = TestApp::spawn();
    let (ada, bob, _cyd, list, todo) = shared(&app, "editor");
    let members = [&ada, &bob];
    let start: Vec<String> = members.iter().map(|m| m.sync_token()).collect();
    let writing = AtomicUsize::new(members.len());
    let mirrors = std::thread::scope(|s| {
        for member in members {
            let (list, writing) = (&list, &writing);
            s.spawn(move || {
                for i in 0..20 {
                    let todo = member.create(list, &format!("{} {i}", member.email));
                    let id = text(&todo["id"]);
                    if i % 3 == 0 {
                        member
                            .call("POST", &format!("/api/todos/{id}/toggle"), None)
                            .expect(200);
                    }
                    if i % 4 == 0 {
                        member
                            .call("DELETE", &format!("/api/todos/{id}"), None)
                            .expect(204);
                    }
                }
                writing.fetch_sub(1, Ordering::SeqCst);
            });
        }
        let readers: Vec<_> = members
            .iter()
            .zip(start)
            .map(|(member, token)| {
                let (writing, todo) = (&writing, &todo);
                s.spawn(move || {
                    // What the member had when the writing began.
                    let mut mirror = BTreeMap::from([(text(&todo["id"]), 1)]);
                    let mut token = token;
                    let mut last_round = false;
                    loop {
                        let done = writing.load(Ordering::SeqCst) == 0;
                        let (pages, next) = member.changes(&token);
                        for page in pages {
                            for todo in page["items"].as_array().unwrap() {
                                mirror.insert(text(&todo["id"]), todo["version"].as_i64().unwrap());
                            }
                            for id in ids(&page["deleted"]) {
                                mirror.remove(&id);
                            }
                        }
                        token = next;
                        if last_round {
                            return mirror;
                        }
                        last_round = done;
                    }
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    let server: BTreeMap<String, i64> = ada
        .call("GET", &format!("/api/todos?list={list}&limit=100"), None)
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (text(&t["id"]), t["version"].as_i64().unwrap()))
        .collect();
    // The shared todo, and 2 × 15 of the 40 (every fourth deleted).
    assert_eq!(server.len(), 31);
    assert_eq!(mirrors[0], server);
    assert_eq!(mirrors[1], server);
}

#[test]
fn a_removed_member_loses_the_list_at_once_a_waiting_long_poll_and_a_token_included() {
    let app = TestApp::spawn();
    app.clock.sleep_for_real();
    let (ada, bob, _cyd, list, todo) = shared(&app, "editor");
    let id = text(&todo["id"]);
    // Bob's personal access token, as an agent or a phone would hold it.
    let pat = text(
        &bob.call(
            "POST",
            "/api/auth/tokens",
            Some(json!({"name": "phone", "expires_in_days": 30})),
        )
        .expect(201)
        .body["token"],
    );
    let token = bob.sync_token();
    let started = Instant::now();
    let bob_id = &bob.id;
    let (reply, removing, answered) = std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let reply = bob
                .call("GET", &format!("/api/todos?since={token}&wait=10"), None)
                .expect(200)
                .body;
            (reply, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(700));
        let removing = started.elapsed();
        ada.call(
            "DELETE",
            &format!("/api/lists/{list}/members/{bob_id}"),
            None,
        )
        .expect(204);
        let (reply, answered) = poll.join().unwrap();
        (reply, removing, answered)
    });
    assert_eq!(reply["removed_lists"], json!([list]));
    assert_eq!(reply["deleted"], json!([id]));
    assert!(answered > removing, "{answered:?} {removing:?}");
    assert!(
        answered - removing < Duration::from_millis(1500),
        "{answered:?} {removing:?}"
    );
    // The token reaches nothing of the list any more.
    app.send("GET", &format!("/api/todos/{id}"), Some(&pat), &[], None)
        .expect_error(404, "not_found");
    let listed = app
        .send("GET", "/api/todos", Some(&pat), &[], None)
        .expect(200);
    assert_eq!(listed.body["total"], 0);
}
