//! The chat assistant and shared lists, over real HTTP with the rule tier
//! (and a stand-in Ollama where a model's answer is the point): todos
//! added to, shown from and moved between lists named by name, assigned to
//! members, lists shared only on the owner's yes, and a viewer who changes
//! nothing.

mod api_document;

use api_document::check_against_document;
use native::testing::{Reply, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

struct User<'a> {
    app: &'a TestApp,
    token: String,
    email: String,
}

impl<'a> User<'a> {
    fn signup(app: &'a TestApp, email: &str, name: &str) -> Self {
        let body = json!({"email": email, "password": TEST_PASSWORD, "name": name});
        let reply = app
            .send("POST", "/api/auth/signup", None, &[], Some(&body))
            .expect(201);
        User {
            app,
            token: reply.body["access_token"].as_str().unwrap().to_owned(),
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

    fn say_in(&self, message: &str, conversation: Option<&str>) -> Value {
        let mut body = json!({ "message": message });
        if let Some(id) = conversation {
            body["conversation_id"] = json!(id);
        }
        self.call("POST", "/api/chat", Some(body)).expect(200).body
    }

    fn say(&self, message: &str) -> Value {
        self.say_in(message, None)
    }

    fn response(&self, message: &str) -> String {
        self.say(message)["response"].as_str().unwrap().to_owned()
    }

    /// The titles of the todos of the list `list` (an id), sorted.
    fn titles_in(&self, list: &str) -> Vec<String> {
        let page = self
            .call("GET", &format!("/api/todos?status=all&list={list}"), None)
            .expect(200)
            .body;
        let mut titles: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect();
        titles.sort();
        titles
    }

    fn todo(&self, title: &str) -> Value {
        let page = self
            .call(
                "GET",
                &format!("/api/todos?status=all&q={}", title.replace(' ', "%20")),
                None,
            )
            .expect(200)
            .body;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["title"] == title)
            .unwrap_or_else(|| panic!("no todo {title}: {page}"))
            .clone()
    }

    fn new_list(&self, name: &str) -> String {
        self.call("POST", "/api/lists", Some(json!({ "name": name })))
            .expect(201)
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn inbox(&self) -> String {
        let lists = self.call("GET", "/api/lists", None).expect(200).body;
        lists["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Accepts the pending invitation to `list`.
    fn accept(&self, list: &str) {
        let received = self.call("GET", "/api/invitations", None).expect(200).body;
        let invitation = received["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["list"]["id"] == list)
            .unwrap_or_else(|| panic!("no invitation to {list}: {received}"))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.call(
            "POST",
            &format!("/api/invitations/{invitation}/accept"),
            None,
        )
        .expect(200);
    }

    fn user_id(&self) -> String {
        let me = self.call("GET", "/api/auth/me", None).expect(200).body;
        me["id"].as_str().unwrap().to_owned()
    }
}

/// `owner`'s new list `name`, shared with `member` as `role`; its id.
fn shared(owner: &User, member: &User, name: &str, role: &str) -> String {
    let list = owner.new_list(name);
    owner
        .call(
            "POST",
            &format!("/api/lists/{list}/invitations"),
            Some(json!({"email": member.email, "role": role})),
        )
        .expect(201);
    member.accept(&list);
    list
}

fn spawn_with(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("ollama_url", "http://127.0.0.1:1"), ("qwen_api_key", "")];
    all.extend_from_slice(vars);
    TestApp::spawn_with(&all)
}

/// No model answers: the rule tier does.
fn spawn() -> TestApp {
    spawn_with(&[])
}

#[test]
fn todos_are_added_to_shown_from_and_moved_between_lists_named_by_name() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada");
    let bob = User::signup(&app, "bob@example.com", "Bob");
    let groceries = shared(&bob, &ada, "Groceries", "editor");
    let work = ada.new_list("Work");
    let inbox = ada.inbox();

    let added = ada.say("add milk to Groceries");
    assert_eq!(added["tier"], "rules");
    assert_eq!(added["intent"]["list"], "Groceries", "{added}");
    assert_eq!(added["result"]["created"][0]["list_id"], groceries.as_str());
    assert!(
        added["response"].as_str().unwrap().contains("in Groceries"),
        "{added}"
    );
    ada.say("task buy bread tomorrow in my groceries list");
    // The other member sees them.
    assert_eq!(bob.titles_in(&groceries), ["buy bread", "milk"]);
    // A title that only looks like it ends in a list stays a title.
    ada.say("task go to bank");
    ada.say("task dentist");
    assert_eq!(ada.titles_in(&inbox), ["dentist", "go to bank"]);

    let shown = ada.say("show my Groceries list");
    assert_eq!(shown["intent"]["filter"]["list"], "Groceries", "{shown}");
    assert_eq!(shown["result"]["count"], 2);
    assert!(shown["response"].as_str().unwrap().contains("in Groceries"));
    let shown = ada.say("what's in work?");
    assert_eq!(shown["result"]["count"], 0, "{shown}");

    let moved = ada.say("move the dentist to Work");
    assert_eq!(moved["intent"]["changes"]["list"], "Work", "{moved}");
    assert_eq!(moved["result"]["updated"][0]["list_id"], work.as_str());
    assert_eq!(ada.titles_in(&work), ["dentist"]);
    // A date after "to" is still a date.
    let rescheduled = ada.say("move dentist to friday");
    assert!(rescheduled["result"]["updated"][0]["due_at"].is_string());
    assert_eq!(ada.titles_in(&work), ["dentist"]);
}

#[test]
fn an_unknown_list_is_answered_and_never_made_and_an_ambiguous_one_asks_which() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada");
    ada.new_list("Big Shop");
    ada.new_list("Small Shop");
    let lists_before = ada.call("GET", "/api/lists", None).expect(200).body["items"]
        .as_array()
        .unwrap()
        .len();

    let answer = ada.response("add milk to my Holiday list");
    assert!(
        answer.starts_with("You have no list called \"Holiday\""),
        "{answer}"
    );
    assert!(answer.contains("Big Shop"), "{answer}");
    let answer = ada.response("show my Holiday list");
    assert!(answer.contains("no list called"), "{answer}");
    let ambiguous = ada.say("add milk to shop");
    let response = ambiguous["response"].as_str().unwrap();
    assert!(
        response.starts_with("Several of your lists match"),
        "{response}"
    );
    assert_eq!(ambiguous["result"]["lists"].as_array().unwrap().len(), 2);
    let answer = ada.response("show my Shop list");
    assert!(answer.starts_with("Several"), "{answer}");

    let lists_after = ada.call("GET", "/api/lists", None).expect(200).body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(lists_after, lists_before);
    let all = ada
        .call("GET", "/api/todos?status=all", None)
        .expect(200)
        .body;
    assert_eq!(all["total"], 0, "{all}");
}

#[test]
fn a_todo_is_assigned_to_a_member_of_its_list_named_by_name_or_email() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada Lovelace");
    let anna = User::signup(&app, "anna@example.com", "Anna Smith");
    let carl = User::signup(&app, "carl@example.com", "Carl");
    let groceries = shared(&ada, &anna, "Groceries", "editor");
    // Carl shares another list with Ada, but not Groceries.
    shared(&ada, &carl, "Work", "editor");
    ada.say("add milk to Groceries");
    ada.say("task call the bank");

    let assigned = ada.say("assign milk to Anna");
    assert_eq!(
        assigned["intent"]["changes"]["assignee"], "Anna",
        "{assigned}"
    );
    assert_eq!(
        assigned["result"]["updated"][0]["assignee_id"],
        anna.user_id().as_str(),
        "{assigned}"
    );
    assert_eq!(ada.todo("milk")["assignee_id"], anna.user_id().as_str());
    // Anna sees it assigned to her.
    let hers = anna
        .call(
            "GET",
            &format!("/api/todos?list={groceries}&assignee=me"),
            None,
        )
        .expect(200)
        .body;
    assert_eq!(hers["total"], 1);

    ada.say("assign milk to me");
    assert_eq!(ada.todo("milk")["assignee_id"], ada.user_id().as_str());
    ada.say("assign milk to anna@example.com");
    assert_eq!(ada.todo("milk")["assignee_id"], anna.user_id().as_str());
    ada.say("unassign milk");
    assert_eq!(ada.todo("milk")["assignee_id"], Value::Null);

    // Nobody of that name: a clear answer, nothing changed.
    let answer = ada.response("assign milk to Zoe");
    assert!(answer.starts_with("Nobody called \"Zoe\""), "{answer}");
    // Carl is a member of Ada's lists, but not of the list milk is in.
    let answer = ada.response("assign milk to Carl");
    assert!(answer.contains("is not a member of the list"), "{answer}");
    // The Inbox is Ada's alone.
    let answer = ada.response("assign call the bank to Anna");
    assert!(answer.contains("is not a member"), "{answer}");
    assert_eq!(ada.todo("milk")["assignee_id"], Value::Null);
    assert_eq!(ada.todo("call the bank")["assignee_id"], Value::Null);
}

#[test]
fn sharing_a_list_is_proposed_and_invites_only_on_the_owners_yes() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada");
    let anna = User::signup(&app, "anna@example.com", "Anna");
    let vic = User::signup(&app, "vic@example.com", "Vic");
    let groceries = ada.new_list("Groceries");
    let received = |user: &User| {
        user.call("GET", "/api/invitations", None).expect(200).body["items"]
            .as_array()
            .unwrap()
            .clone()
    };

    let proposal = ada.say_in("share Groceries with anna@example.com", None);
    assert_eq!(proposal["intent"]["action"], "share", "{proposal}");
    let offered = &proposal["result"]["proposal"];
    assert_eq!(offered["action"], "share");
    assert_eq!(offered["list"]["id"], groceries.as_str());
    assert_eq!(offered["email"], "anna@example.com");
    assert_eq!(offered["role"], "editor");
    let response = proposal["response"].as_str().unwrap();
    assert!(response.contains("anna@example.com"), "{response}");
    assert!(response.contains("\"yes\""), "{response}");
    assert!(received(&anna).is_empty(), "nothing before the yes");
    let conversation = proposal["conversation_id"].as_str().unwrap().to_owned();
    // "Delete them" is no answer to a share.
    let other = ada.say_in("delete them", Some(&conversation));
    assert_ne!(other["intent"]["action"], "confirm", "{other}");
    assert!(received(&anna).is_empty());

    let proposal = ada.say_in("share the Groceries list with anna@example.com", None);
    let conversation = proposal["conversation_id"].as_str().unwrap().to_owned();
    let done = ada.say_in("yes", Some(&conversation));
    assert_eq!(done["intent"]["action"], "confirm", "{done}");
    assert!(
        done["response"]
            .as_str()
            .unwrap()
            .starts_with("Invited anna@example.com"),
        "{done}"
    );
    let invitations = received(&anna);
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0]["list"]["id"], groceries.as_str());
    assert_eq!(invitations[0]["role"], "editor");
    // The proposal is answered: another yes invites nobody again.
    let again = ada.say_in("yes", Some(&conversation));
    assert_ne!(again["intent"]["action"], "confirm", "{again}");

    // "As a viewer"; and a "no" shares nothing.
    let proposal = ada.say_in("share Groceries with vic@example.com as a viewer", None);
    assert_eq!(proposal["result"]["proposal"]["role"], "viewer");
    let conversation = proposal["conversation_id"].as_str().unwrap().to_owned();
    let kept = ada.say_in("no", Some(&conversation));
    assert_eq!(kept["intent"]["action"], "cancel");
    assert!(received(&vic).is_empty());
    let proposal = ada.say_in("share Groceries with vic@example.com as a viewer", None);
    let conversation = proposal["conversation_id"].as_str().unwrap().to_owned();
    ada.say_in("ok", Some(&conversation));
    assert_eq!(received(&vic)[0]["role"], "viewer");

    // Only the owner shares; never the Inbox; an unknown list is answered.
    anna.accept(&groceries);
    let refused = anna.say_in("share Groceries with vic@example.com", None);
    let response = refused["response"].as_str().unwrap();
    assert!(
        response.starts_with("Only the owner of Groceries"),
        "{response}"
    );
    assert!(refused["result"].get("proposal").is_none(), "{refused}");
    let refused = ada.say_in("share Inbox with vic@example.com", None);
    assert!(refused["response"]
        .as_str()
        .unwrap()
        .contains("cannot be shared"));
    let refused = ada.say_in("share Holidays with vic@example.com", None);
    assert!(refused["response"]
        .as_str()
        .unwrap()
        .contains("no list called"));
    let refused = ada.say_in("share Groceries with Vic", None);
    assert!(refused["response"]
        .as_str()
        .unwrap()
        .contains("not an email address"));
}

#[test]
fn a_viewer_changes_nothing_through_the_chat_and_is_told_why() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada");
    let vic = User::signup(&app, "vic@example.com", "Vic");
    let shop = shared(&ada, &vic, "Shop", "viewer");
    ada.say("add milk to Shop");
    ada.say("add bread to Shop");
    let before = ada
        .call("GET", &format!("/api/todos?status=all&list={shop}"), None)
        .expect(200)
        .body["items"]
        .clone();

    // Reading is fine.
    let shown = vic.say("show my Shop list");
    assert_eq!(shown["result"]["count"], 2, "{shown}");
    for message in [
        "add eggs to Shop",
        "mark done milk",
        "make milk urgent",
        "rename milk to oat milk",
        "delete milk",
        "assign milk to me",
    ] {
        let answer = vic.say(message);
        let response = answer["response"].as_str().unwrap();
        assert!(
            response.contains("You can only view"),
            "{message}: {answer}"
        );
        assert!(response.contains("changed nothing"), "{message}: {answer}");
    }
    // Moving a todo of one's own into the list is a change of it too.
    vic.say("task my own thing");
    let answer = vic.response("move my own thing to Shop");
    assert!(answer.contains("You can only view Shop"), "{answer}");
    // A proposed delete of its todos deletes none of them.
    let proposal = vic.say("delete all milk");
    let conversation = proposal["conversation_id"].as_str().unwrap().to_owned();
    let done = vic.say_in("yes", Some(&conversation));
    assert_eq!(done["result"]["count"], 0, "{done}");
    assert!(
        done["response"].as_str().unwrap().contains("only view"),
        "{done}"
    );

    let after = ada
        .call("GET", &format!("/api/todos?status=all&list={shop}"), None)
        .expect(200)
        .body["items"]
        .clone();
    assert_eq!(after, before);
}

#[test]
fn a_models_list_assignee_and_share_are_resolved_like_the_rule_tiers() {
    let (ollama, _requests) = ollama_answering(vec![
        json!({"action": "create", "todos": [{"title": "Milk"}], "list": "groceries"}),
        json!({"action": "list", "filter": {"list": "Groceries"}}),
        json!({"action": "update", "target": "milk", "changes": {"assignee": "Anna"}}),
        json!({"action": "create", "todos": [{"title": "X"}], "list": "Nowhere"}),
        json!({"action": "share", "list": "Groceries", "email": "vic@example.com", "role": "viewer"}),
    ]);
    let app = spawn_with(&[("ollama_url", &ollama)]);
    let ada = User::signup(&app, "ada@example.com", "Ada");
    let anna = User::signup(&app, "anna@example.com", "Anna");
    let vic = User::signup(&app, "vic@example.com", "Vic");
    let groceries = shared(&ada, &anna, "Groceries", "editor");

    let added = ada.say("put milk on the groceries");
    assert_eq!(added["tier"], "ollama", "{added}");
    assert_eq!(added["result"]["created"][0]["list_id"], groceries.as_str());
    let shown = ada.say("what do we need?");
    assert_eq!(shown["result"]["count"], 1, "{shown}");
    let assigned = ada.say("Anna gets the milk");
    assert_eq!(
        assigned["result"]["updated"][0]["assignee_id"],
        anna.user_id().as_str()
    );
    let unknown = ada.say("add x somewhere");
    assert!(unknown["response"]
        .as_str()
        .unwrap()
        .contains("no list called \"Nowhere\""));
    // A model's share is a proposal too; only the user's yes shares.
    let proposal = ada.say_in("let vic look at groceries", None);
    assert_eq!(proposal["tier"], "ollama");
    assert_eq!(proposal["result"]["proposal"]["role"], "viewer");
    let invitations = vic.call("GET", "/api/invitations", None).expect(200).body;
    assert_eq!(invitations["items"], json!([]));
}

#[test]
fn a_message_that_names_a_list_costs_one_statement_more_and_others_none() {
    let app = spawn();
    let ada = User::signup(&app, "ada@example.com", "Ada");
    ada.new_list("Groceries");
    // Open the rule tier: the Ollama stand-in is down, three failures open
    // its breaker, and then no tier is asked.
    for _ in 0..3 {
        ada.say("help");
    }
    let counted = |message: &str| {
        let before = app.statements_sent();
        ada.say(message);
        app.statements_sent() - before
    };
    assert_eq!(counted("task buy milk"), 2);
    // A new conversation's list is saved as the request opens: with no
    // tier to ask, nothing need be read first.
    assert_eq!(counted("show my tasks"), 1);
    assert_eq!(counted("move buy milk to friday"), 2);
    // The lists are read once, to tell the list from the title and to
    // resolve it.
    assert_eq!(counted("add eggs to Groceries"), 3);
    assert_eq!(counted("task go to bank"), 3);
    assert_eq!(counted("show my Groceries list"), 3);
}

fn ollama_answering(intents: Vec<Value>) -> (String, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut intents = intents.into_iter();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = sent.send(serde_json::from_slice::<Value>(&body).unwrap_or_default());
            let intent = intents.next().unwrap_or(json!({"action": "unknown"}));
            // As Ollama answers /api/chat with "stream": false (see
            // /work/shared/llm-wire.md).
            let answer = json!({
                "model": "qwen2.5:0.5b", "created_at": "2026-11-23T10:00:00.000Z",
                "message": {"role": "assistant", "content": intent.to_string()},
                "done": true, "done_reason": "stop", "total_duration": 812345678,
                "load_duration": 1234567, "prompt_eval_count": 120,
                "prompt_eval_duration": 1000000, "eval_count": 30, "eval_duration": 2000000
            })
            .to_string();
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, received)
}
