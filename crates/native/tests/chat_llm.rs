//! The chat assistant's LLM tiers (`todo_core::chat::llm`) against real
//! PostgreSQL (the circuit breaker's table) and local stand-ins for Qwen and
//! Ollama that speak their real wire formats (/work/shared/llm-wire.md),
//! record every request, and answer what each test tells them to: a
//! success, prose, fenced JSON, an invalid intent, an error status, a body
//! that is not JSON, or too late. A refused connection is a port where
//! nothing listens.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use native::testing::{TestClock, TestDb, TestVars};
use native::{AllowedHosts, NativeDb, NativeHttp};
use serde::Deserialize;
use serde_json::{json, Value};
use todo_core::chat::intent::Intent;
use todo_core::chat::llm::{
    self, intent_schema, read_intent, suggestions_schema, Attempts, Breakers, Skip, Tier,
    TierState, Turn, Tz,
};
use todo_core::db::{Json, Statement};
use todo_core::ports::{Clock, Ctx};

const QWEN_KEY: &str = "sk-test-0123456789";
const QWEN_PATH: &str = "/compatible-mode/v1/chat/completions";
const OLLAMA_PATH: &str = "/api/chat";
const TIMEOUT_MS: u64 = 300;

// ---------------------------------------------------------------------------
// The stand-ins

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Qwen,
    Ollama,
}

/// What a stand-in answers to every request until told otherwise.
#[derive(Debug, Clone)]
enum Behaviour {
    /// 200 with this text as the model's message, in the service's envelope.
    Says(String),
    /// This status and body.
    Fails(u16, String),
    /// 200 with an HTML page (a proxy in the way).
    Html,
    /// The same as `Says`, but only after this long.
    Slow(Duration, String),
    /// 400 to a request for `json_schema` output (a model without
    /// structured output), `Says` to any other.
    RefusesSchema(String),
}

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    /// Names in lowercase.
    headers: HashMap<String, String>,
    body: Value,
}

struct StandIn {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl StandIn {
    fn start(service: Service) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let behaviour = Arc::new(Mutex::new(Behaviour::Says(intent_text(&create_milk()))));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (b, r) = (behaviour.clone(), requests.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (b, r) = (b.clone(), r.clone());
                thread::spawn(move || serve(service, stream, &b, &r));
            }
        });
        StandIn {
            url,
            behaviour,
            requests,
        }
    }

    fn will(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn serve(
    service: Service,
    stream: TcpStream,
    behaviour: &Mutex<Behaviour>,
    requests: &Mutex<Vec<Recorded>>,
) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let model = request.body["model"].as_str().unwrap_or("").to_owned();
    requests.lock().unwrap().push(request);
    let behaviour = behaviour.lock().unwrap().clone();
    let (status, content_type, body) = match behaviour {
        Behaviour::Says(text) => (200, "application/json", envelope(service, &model, &text)),
        Behaviour::Fails(status, body) => (status, "application/json", body),
        Behaviour::Html => (200, "text/html", "<html><body>Welcome</body></html>".into()),
        Behaviour::Slow(delay, text) => {
            thread::sleep(delay);
            (200, "application/json", envelope(service, &model, &text))
        }
        Behaviour::RefusesSchema(text) => {
            let recorded = requests.lock().unwrap();
            let asked = &recorded[recorded.len() - 1].body["response_format"]["type"];
            if asked == "json_schema" {
                let error = json!({"error": {"message": "response_format json_schema is not supported by this model",
                    "type": "invalid_request_error", "param": null, "code": "invalid_parameter_error"}});
                (400, "application/json", error.to_string())
            } else {
                (200, "application/json", envelope(service, &model, &text))
            }
        }
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

/// A successful answer as each service really shapes it.
fn envelope(service: Service, model: &str, text: &str) -> String {
    match service {
        Service::Qwen => json!({
            "id": "chatcmpl-6ada9ed2-7f33-9c5e-a2b1-000000000000",
            "object": "chat.completion",
            "created": 1_735_120_033,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": null
            }],
            "usage": {"prompt_tokens": 312, "completion_tokens": 41, "total_tokens": 353},
            "system_fingerprint": null
        }),
        Service::Ollama => json!({
            "model": model,
            "created_at": "2026-11-23T10:00:00.000Z",
            "message": {"role": "assistant", "content": text},
            "done": true,
            "done_reason": "stop",
            "total_duration": 812_345_678,
            "load_duration": 1_234_567,
            "prompt_eval_count": 120,
            "prompt_eval_duration": 1_000_000,
            "eval_count": 30,
            "eval_duration": 2_000_000
        }),
    }
    .to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

/// Qwen's answer to a wrong key (OpenAI style).
fn qwen_unauthorized() -> Behaviour {
    Behaviour::Fails(
        401,
        json!({"error": {"message": "Incorrect API key provided.",
                         "type": "invalid_request_error", "param": null,
                         "code": "invalid_api_key"}})
        .to_string(),
    )
}

fn qwen_server_error() -> Behaviour {
    Behaviour::Fails(
        500,
        json!({"error": {"message": "The server had an error while processing your request.",
                         "type": "internal_error", "param": null, "code": "internal_error"}})
        .to_string(),
    )
}

fn ollama_server_error() -> Behaviour {
    Behaviour::Fails(
        500,
        json!({"error": "llama runner process has terminated"}).to_string(),
    )
}

fn ollama_model_missing() -> Behaviour {
    Behaviour::Fails(
        404,
        json!({"error": "model \"qwen2.5:test\" not found, try pulling it first"}).to_string(),
    )
}

/// A URL where nothing listens: connections to it are refused.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

// ---------------------------------------------------------------------------
// The world of one test

/// A clock that stands still until the test moves it.
/// 23:30 UTC on Monday 2026-11-23 is already Tuesday 12:30 in Auckland
/// (UTC+13 in summer): the prompt must give the user's date, not UTC's.
const START: &str = "2026-11-23T23:30:00Z";
const ZONE: Tz = Tz::Pacific__Auckland;

struct World {
    test_db: TestDb,
    db: NativeDb,
    http: NativeHttp,
    vars: TestVars,
    clock: TestClock,
    qwen: StandIn,
    ollama: StandIn,
    dead: String,
}

impl World {
    /// Both tiers configured, pointing at their stand-ins, which answer a
    /// valid create until told otherwise.
    fn new() -> World {
        let test_db = TestDb::fresh();
        let qwen = StandIn::start(Service::Qwen);
        let ollama = StandIn::start(Service::Ollama);
        let dead = dead_url();
        let allowed = AllowedHosts::parse(&[&qwen.url, &ollama.url, &dead]).unwrap();
        let vars = test_db
            .vars()
            .with("qwen_api_key", QWEN_KEY)
            .with("qwen_url", format!("{}/", qwen.url))
            .with("qwen_model", "qwen-test")
            .with("ollama_url", ollama.url.clone())
            .with("ollama_model", "qwen2.5:test")
            .with("llm_timeout_ms", TIMEOUT_MS.to_string());
        World {
            db: test_db.db(),
            test_db,
            http: NativeHttp::new(Arc::new(allowed)),
            vars,
            clock: TestClock::at(START),
            qwen,
            ollama,
            dead,
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.db, &self.http, &self.vars, &self.clock)
    }

    fn understand(&self, message: &str) -> Attempts {
        self.understand_with(message, &[])
    }

    fn understand_with(&self, message: &str, context: &[Turn]) -> Attempts {
        let now = self.clock.now().with_timezone(&ZONE);
        llm::understand(
            &self.ctx(),
            &self.breakers(),
            message,
            &|| context.to_vec(),
            now,
        )
    }

    fn suggest(&self, goal: &str) -> Result<(Tier, Vec<String>), llm::LlmUnavailable> {
        llm::suggest(&self.ctx(), &self.breakers(), goal)
    }

    /// The breakers as a chat request reads them when it opens.
    fn breakers(&self) -> Breakers {
        #[derive(Deserialize)]
        struct Answer {
            tiers: Vec<TierState>,
        }
        let now = self.clock.now();
        let sql = llm::state_sql("$1::text::timestamptz");
        let answer: Answer =
            Statement::object(&[], &[("tiers", Json::Rows(&sql))], vec![now.into()])
                .fetch(&self.db)
                .unwrap();
        Breakers::new(answer.tiers, now)
    }

    /// The failures the breaker counts for `tier` (none without a row).
    fn failures(&self, tier: Tier) -> i32 {
        self.test_db
            .client()
            .query_opt(
                "SELECT failures FROM llm_breaker WHERE tier = $1",
                &[&tier.as_str()],
            )
            .unwrap()
            .map_or(0, |row| row.get(0))
    }
}

fn create_milk() -> Value {
    json!({"action": "create", "todos": [{
        "title": "Buy milk", "priority": "high",
        "due_at": "2026-11-25T09:00:00+13:00", "tags": ["shopping"]
    }]})
}

fn list_open() -> Value {
    json!({"action": "list", "filter": {"status": "open"}})
}

fn intent_text(intent: &Value) -> String {
    intent.to_string()
}

fn intent(value: Value) -> Intent {
    serde_json::from_value(value).unwrap()
}

/// The reasons of the skipped tiers, in order.
fn skips(skipped: &[Skip]) -> Vec<(Tier, String)> {
    skipped.iter().map(|s| (s.tier, s.reason.clone())).collect()
}

#[track_caller]
fn assert_system_prompt_knows_the_day(request: &Recorded) {
    let system = &request.body["messages"][0];
    assert_eq!(system["role"], "system", "{}", request.body);
    let text = system["content"].as_str().unwrap();
    for expected in [
        "Tuesday, 2026-11-24",
        "Pacific/Auckland (UTC+13:00)",
        "12:30",
        "JSON",
        "\"oneOf\"",
    ] {
        assert!(text.contains(expected), "{expected} not in: {text}");
    }
}

// ---------------------------------------------------------------------------
// Each tier succeeding, and what it was sent

#[test]
fn qwen_answers_first_and_is_asked_the_documented_way() {
    let world = World::new();
    let context = [
        Turn {
            role: "user".into(),
            content: "what is due?".into(),
        },
        Turn {
            role: "assistant".into(),
            content: "Nothing is due.".into(),
        },
    ];
    let attempts = world.understand_with("buy milk tomorrow, high priority", &context);

    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(create_milk()))));
    assert!(attempts.skipped.is_empty(), "{:?}", attempts.skipped);
    assert_eq!(world.ollama.count(), 0);

    let [sent] = &world.qwen.requests()[..] else {
        panic!("one request to Qwen: {:?}", world.qwen.requests());
    };
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, QWEN_PATH);
    assert_eq!(sent.headers["authorization"], format!("Bearer {QWEN_KEY}"));
    assert_eq!(sent.headers["content-type"], "application/json");
    assert_eq!(sent.body["model"], "qwen-test");
    assert_eq!(sent.body["temperature"], 0);
    assert_eq!(
        sent.body["response_format"],
        json!({"type": "json_schema",
               "json_schema": {"name": "intent", "strict": true, "schema": intent_schema()}})
    );
    assert_system_prompt_knows_the_day(sent);
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(
        messages[1..],
        [
            json!({"role": "user", "content": "what is due?"}),
            json!({"role": "assistant", "content": "Nothing is due."}),
            json!({"role": "user", "content": "buy milk tomorrow, high priority"}),
        ]
    );
    assert_eq!(world.failures(Tier::Qwen), 0);
}

#[test]
fn qwen_json_in_a_code_fence_is_accepted() {
    let world = World::new();
    world.qwen.will(Behaviour::Says(format!(
        "```json\n{}\n```",
        serde_json::to_string_pretty(&list_open()).unwrap()
    )));
    let attempts = world.understand("show my open todos");
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(list_open()))));
    assert!(attempts.skipped.is_empty());
}

#[test]
fn ollama_answers_when_qwen_has_no_key_and_is_asked_the_documented_way() {
    for blank in ["", "   "] {
        let mut world = World::new();
        world.vars.set("qwen_api_key", blank);
        world
            .ollama
            .will(Behaviour::Says(intent_text(&list_open())));
        let attempts = world.understand("what is open?");

        assert_eq!(attempts.intent, Some((Tier::Ollama, intent(list_open()))));
        assert_eq!(
            skips(&attempts.skipped),
            [(
                Tier::Qwen,
                "not configured: qwen_api_key is empty".to_owned()
            )]
        );
        assert_eq!(attempts.skipped[0].elapsed_ms, 0);
        assert_eq!(world.qwen.count(), 0, "no request to an unconfigured Qwen");

        let [sent] = &world.ollama.requests()[..] else {
            panic!("one request to Ollama");
        };
        assert_eq!(sent.method, "POST");
        assert_eq!(sent.path, OLLAMA_PATH);
        assert!(!sent.headers.contains_key("authorization"));
        assert_eq!(sent.body["model"], "qwen2.5:test");
        assert_eq!(sent.body["stream"], false);
        assert_eq!(sent.body["format"], intent_schema());
        assert_eq!(sent.body["options"], json!({"temperature": 0}));
        assert_system_prompt_knows_the_day(sent);
        assert_eq!(
            sent.body["messages"][1],
            json!({"role": "user", "content": "what is open?"})
        );
    }
}

// ---------------------------------------------------------------------------
// Failures fall back in order

#[test]
fn every_kind_of_qwen_failure_falls_back_to_ollama() {
    let mut world = World::new();
    let long_title = json!({"action": "create", "todos": [{"title": "x".repeat(201)}]});
    let cases: Vec<(&str, Behaviour, &str)> = vec![
        (
            "prose",
            Behaviour::Says("Sure! I added milk to your list.".into()),
            "the model did not answer JSON",
        ),
        (
            "an invented action",
            Behaviour::Says(json!({"action": "drop_table"}).to_string()),
            "not an intent: unknown variant `drop_table`",
        ),
        (
            "an id instead of words",
            Behaviour::Says(json!({"action": "complete", "id": "42"}).to_string()),
            "not an intent",
        ),
        (
            "a list where a string belongs",
            Behaviour::Says(json!({"action": "complete", "target": ["milk"]}).to_string()),
            "not an intent",
        ),
        (
            "a title too long",
            Behaviour::Says(long_title.to_string()),
            "intent out of bounds: title must have 1 to 200 characters, not 201",
        ),
        (
            "a wrong key",
            qwen_unauthorized(),
            "HTTP 401 (invalid_api_key)",
        ),
        (
            "a server error",
            qwen_server_error(),
            "HTTP 500 (internal_error)",
        ),
        (
            "an HTML page",
            Behaviour::Html,
            "HTTP 200 with a body that is not JSON",
        ),
        (
            "an answer too late",
            Behaviour::Slow(Duration::from_millis(2000), intent_text(&list_open())),
            "timed out after 300 ms",
        ),
        (
            "a refused connection",
            Behaviour::Says(String::new()),
            "connection failed",
        ),
    ];
    for (case, behaviour, expected) in cases {
        if case == "a refused connection" {
            world.vars.set("qwen_url", world.dead.clone());
        }
        world.qwen.will(behaviour);
        let asked_before = (world.qwen.count(), world.ollama.count());
        let attempts = world.understand("buy milk");

        assert_eq!(
            attempts.intent,
            Some((Tier::Ollama, intent(create_milk()))),
            "{case}"
        );
        let [skip] = &attempts.skipped[..] else {
            panic!("{case}: one skip, not {:?}", attempts.skipped);
        };
        assert_eq!(skip.tier, Tier::Qwen, "{case}");
        assert!(
            skip.reason.starts_with(expected),
            "{case}: {:?} should start with {expected:?}",
            skip.reason
        );
        assert!(!skip.reason.contains(QWEN_KEY), "{case}: {}", skip.reason);
        let qwen_asked = usize::from(case != "a refused connection");
        assert_eq!(
            (world.qwen.count(), world.ollama.count()),
            (asked_before.0 + qwen_asked, asked_before.1 + 1),
            "{case}: Qwen first, then Ollama"
        );
        if case == "an answer too late" {
            assert!(
                (TIMEOUT_MS..1500).contains(&skip.elapsed_ms),
                "{case}: {} ms",
                skip.elapsed_ms
            );
        }
        // Far enough apart that the breaker never opens here.
        world.clock.advance(120);
    }
}

#[test]
fn when_both_tiers_fail_there_is_no_intent_and_two_skips() {
    let world = World::new();
    world.qwen.will(qwen_unauthorized());
    world
        .ollama
        .will(Behaviour::Says(json!({"action": "create"}).to_string()));
    let attempts = world.understand("buy milk");
    assert_eq!(attempts.intent, None);
    let skipped = skips(&attempts.skipped);
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(
        skipped[0],
        (Tier::Qwen, "HTTP 401 (invalid_api_key)".to_owned())
    );
    assert_eq!(skipped[1].0, Tier::Ollama);
    assert!(
        skipped[1]
            .1
            .starts_with("not an intent: missing field `todos`"),
        "{skipped:?}"
    );

    world.clock.advance(120);
    world
        .qwen
        .will(Behaviour::Says("I can't help with that.".into()));
    world.ollama.will(ollama_model_missing());
    let attempts = world.understand("buy milk");
    assert_eq!(attempts.intent, None);
    assert_eq!(
        skips(&attempts.skipped),
        [
            (Tier::Qwen, "the model did not answer JSON".to_owned()),
            (
                Tier::Ollama,
                "HTTP 404 (model \"qwen2.5:test\" not found, try pulling it first)".to_owned()
            ),
        ]
    );
}

#[test]
fn unconfigured_tiers_are_skipped_without_any_request() {
    let mut world = World::new();
    world.vars.set("qwen_api_key", "");
    world.vars.set("ollama_url", "");
    let attempts = world.understand("buy milk");
    assert_eq!(attempts.intent, None);
    assert_eq!(
        skips(&attempts.skipped),
        [
            (
                Tier::Qwen,
                "not configured: qwen_api_key is empty".to_owned()
            ),
            (
                Tier::Ollama,
                "not configured: ollama_url is empty".to_owned()
            ),
        ]
    );
    assert!(attempts.skipped.iter().all(|s| s.elapsed_ms == 0));
    assert_eq!((world.qwen.count(), world.ollama.count()), (0, 0));
    // Not being configured is no failure.
    assert_eq!(world.failures(Tier::Qwen) + world.failures(Tier::Ollama), 0);
}

// ---------------------------------------------------------------------------
// The breaker

#[test]
fn a_qwen_model_without_structured_output_is_asked_again_for_a_json_object() {
    let world = World::new();
    world
        .qwen
        .will(Behaviour::RefusesSchema(intent_text(&list_open())));
    let attempts = world.understand("what is open?");
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(list_open()))));
    assert!(attempts.skipped.is_empty(), "{:?}", attempts.skipped);
    let formats: Vec<Value> = world
        .qwen
        .requests()
        .iter()
        .map(|r| r.body["response_format"]["type"].clone())
        .collect();
    assert_eq!(formats, [json!("json_schema"), json!("json_object")]);
    assert_eq!(world.failures(Tier::Qwen), 0);
}

#[test]
fn answers_that_break_the_schema_never_pause_a_tier_for_others() {
    let world = World::new();
    let twelve: Vec<Value> = (0..12).map(|i| json!({"title": format!("t{i}")})).collect();
    let long_title = json!({"action": "create", "todos": [{"title": "x".repeat(300)}]});
    let answers = [
        json!({"action": "create", "todos": twelve}),
        long_title,
        json!({"action": "delete", "target": ["everything"]}),
        json!({"action": "drop_table"}),
    ];
    // Far more than three within a minute: each falls through to Ollama
    // for its own request, and Qwen is asked again every time.
    for (i, answer) in answers.iter().cycle().take(8).enumerate() {
        world.qwen.will(Behaviour::Says(answer.to_string()));
        let attempts = world.understand("add twelve things");
        assert_eq!(
            attempts.intent.map(|(tier, _)| tier),
            Some(Tier::Ollama),
            "{answer}"
        );
        assert_eq!(world.qwen.count(), i + 1, "{:?}", attempts.skipped);
        world.clock.advance(1);
    }
    assert_eq!(world.failures(Tier::Qwen), 0);
    world.qwen.will(Behaviour::Says(intent_text(&list_open())));
    let attempts = world.understand("what is open?");
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(list_open()))));
}

#[test]
fn only_failures_of_the_provider_count_towards_the_breaker() {
    let counted: Vec<(&str, Behaviour)> = vec![
        ("a server error", qwen_server_error()),
        (
            "rate limited",
            Behaviour::Fails(
                429,
                json!({"error": {"message": "Requests rate limit exceeded",
                                 "type": "limit_requests", "code": "limit_requests"}})
                .to_string(),
            ),
        ),
        ("an HTML page", Behaviour::Html),
        ("prose", Behaviour::Says("Sure, done!".into())),
        (
            "too late",
            Behaviour::Slow(Duration::from_millis(1000), intent_text(&list_open())),
        ),
    ];
    let not_counted: Vec<(&str, Behaviour)> = vec![
        ("a wrong key", qwen_unauthorized()),
        (
            "a request the provider refuses",
            Behaviour::Fails(
                400,
                json!({"error": {"message": "Input data may contain inappropriate content.",
                                 "type": "data_inspection_failed",
                                 "code": "data_inspection_failed"}})
                .to_string(),
            ),
        ),
    ];
    for (cases, counts) in [(counted, true), (not_counted, false)] {
        for (case, behaviour) in cases {
            let world = World::new();
            world.qwen.will(behaviour);
            for _ in 0..3 {
                world.understand("buy milk");
                world.clock.advance(1);
            }
            let asked = world.qwen.count();
            let attempts = world.understand("buy milk");
            let paused = world.qwen.count() == asked;
            assert_eq!(paused, counts, "{case}: {:?}", attempts.skipped);
            assert_eq!(world.failures(Tier::Qwen) > 0, counts, "{case}");
        }
    }
}

#[test]
fn after_three_failures_within_a_minute_a_tier_is_paused_for_thirty_seconds() {
    let world = World::new();
    world.qwen.will(qwen_server_error());
    let ask = |at_second: i64, expect_qwen_asked: usize| {
        let attempts = world.understand("buy milk");
        assert_eq!(
            world.qwen.count(),
            expect_qwen_asked,
            "at {at_second} s: {:?}",
            attempts.skipped
        );
        attempts
    };

    // Three failures at 0, 10 and 20 s; Ollama answers each time.
    for (i, at) in [0, 10, 20].into_iter().enumerate() {
        let attempts = ask(at, i + 1);
        assert_eq!(attempts.intent.map(|(tier, _)| tier), Some(Tier::Ollama));
        world.clock.advance(10);
    }
    // Paused from 20 s to 50 s: Qwen is not called, and says why.
    world.clock.advance(1); // 31 s
    let attempts = ask(31, 3);
    assert_eq!(
        skips(&attempts.skipped),
        [(Tier::Qwen, "paused after 3 failures within 60 s".to_owned())]
    );
    assert_eq!(attempts.skipped[0].elapsed_ms, 0);
    assert_eq!(attempts.intent.map(|(tier, _)| tier), Some(Tier::Ollama));
    world.clock.advance(18); // 49 s
    ask(49, 3);

    // After the pause it is tried again; failing once more pauses it again.
    world.clock.advance(2); // 51 s
    let attempts = ask(51, 4);
    assert_eq!(skips(&attempts.skipped)[0].1, "HTTP 500 (internal_error)");
    world.clock.advance(1); // 52 s
    ask(52, 4);

    // 30 s after that failure it is tried again, and a success closes it.
    world.qwen.will(Behaviour::Says(intent_text(&list_open())));
    world.clock.advance(30); // 82 s
    let attempts = ask(82, 5);
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(list_open()))));
    assert_eq!(
        world.failures(Tier::Qwen),
        0,
        "a success forgets the failures"
    );

    // The count starts again from nothing.
    world.qwen.will(qwen_server_error());
    for (i, at) in [83, 84].into_iter().enumerate() {
        world.clock.advance(1);
        ask(at, 6 + i);
    }
    world.clock.advance(1);
    ask(85, 8);
    world.clock.advance(1);
    ask(86, 8);
}

#[test]
fn failures_more_than_a_minute_apart_do_not_pause_a_tier() {
    let world = World::new();
    world.qwen.will(qwen_server_error());
    for at in [0, 30, 61, 62] {
        let attempts = world.understand("buy milk");
        assert_eq!(
            attempts.skipped[0].reason.as_str(),
            "HTTP 500 (internal_error)",
            "at {at} s"
        );
        world.clock.advance(match at {
            0 => 30,
            30 => 31,
            _ => 1,
        });
    }
    assert_eq!(world.qwen.count(), 4);
}

#[test]
fn each_tier_has_its_own_breaker_shared_by_understanding_and_suggestions() {
    let mut world = World::new();
    world.vars.set("qwen_api_key", "");
    world.ollama.will(ollama_server_error());
    for _ in 0..3 {
        let attempts = world.understand("buy milk");
        assert_eq!(attempts.intent, None);
        assert_eq!(
            skips(&attempts.skipped)[1],
            (
                Tier::Ollama,
                "HTTP 500 (llama runner process has terminated)".to_owned()
            )
        );
        world.clock.advance(5);
    }
    assert_eq!(world.ollama.count(), 3);

    // Ollama is paused; Qwen, configured again, is not.
    world.vars.set("qwen_api_key", QWEN_KEY);
    world.qwen.will(Behaviour::Says(intent_text(&list_open())));
    let attempts = world.understand("what is open?");
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(list_open()))));

    world.qwen.will(qwen_server_error());
    let unavailable = world.suggest("plan a trip").unwrap_err();
    assert_eq!(
        skips(&unavailable.skipped),
        [
            (Tier::Qwen, "HTTP 500 (internal_error)".to_owned()),
            (
                Tier::Ollama,
                "paused after 3 failures within 60 s".to_owned()
            ),
        ]
    );
    assert_eq!(world.ollama.count(), 3);
}

// ---------------------------------------------------------------------------
// Suggestions

#[test]
fn suggestions_come_from_the_first_tier_that_answers() {
    let world = World::new();
    let ideas = json!({"suggestions": ["Book flights", " Renew passport ", "Pack bags"]});
    world.qwen.will(Behaviour::Says(ideas.to_string()));
    let (tier, titles) = world.suggest("plan a trip to Japan").unwrap();
    assert_eq!(tier, Tier::Qwen);
    assert_eq!(titles, ["Book flights", "Renew passport", "Pack bags"]);
    let sent = &world.qwen.requests()[0];
    assert_eq!(sent.path, QWEN_PATH);
    assert_eq!(sent.body["temperature"], 0);
    assert_eq!(
        sent.body["response_format"]["json_schema"],
        json!({"name": "suggestions", "strict": true, "schema": suggestions_schema()})
    );
    let system = sent.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("{\"suggestions\": ["), "{system}");
    assert_eq!(
        sent.body["messages"][1],
        json!({"role": "user", "content": "plan a trip to Japan"})
    );

    // Six suggestions break the schema: Ollama's answer is taken instead.
    let six = json!({"suggestions": ["a", "b", "c", "d", "e", "f"]});
    world.qwen.will(Behaviour::Says(six.to_string()));
    world
        .ollama
        .will(Behaviour::Says(format!("```json\n{ideas}\n```")));
    let (tier, titles) = world.suggest("plan a trip to Japan").unwrap();
    assert_eq!(tier, Tier::Ollama);
    assert_eq!(titles.len(), 3);
    let sent = &world.ollama.requests()[0];
    assert_eq!(sent.path, OLLAMA_PATH);
    assert_eq!(sent.body["stream"], false);
    assert_eq!(sent.body["format"], suggestions_schema());
    assert_eq!(sent.body["options"], json!({"temperature": 0}));
}

#[test]
fn suggestions_are_unavailable_when_no_tier_answers() {
    let world = World::new();
    world.qwen.will(qwen_unauthorized());
    world
        .ollama
        .will(Behaviour::Says("Here are some ideas: ...".into()));
    let unavailable = world.suggest("plan a trip").unwrap_err();
    assert_eq!(
        skips(&unavailable.skipped),
        [
            (Tier::Qwen, "HTTP 401 (invalid_api_key)".to_owned()),
            (Tier::Ollama, "the model did not answer JSON".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------
// The schema Ollama is given matches what the code accepts

#[test]
fn the_intent_schema_accepts_exactly_what_the_code_accepts() {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&intent_schema())
        .unwrap();
    let eleven: Vec<Value> = (0..11).map(|i| json!({"title": format!("t{i}")})).collect();
    let many_tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let cases = [
        (true, create_milk()),
        (
            true,
            json!({"action": "create", "todos": [{"title": "a"}, {"title": "b", "recurrence": "weekly"}]}),
        ),
        (true, json!({"action": "list"})),
        (
            true,
            json!({"action": "list", "filter": {"status": "all", "priority": "urgent",
                   "due": "this_week", "tag": "work", "text": "report"}}),
        ),
        (true, json!({"action": "complete", "target": "milk"})),
        (true, json!({"action": "reopen", "target": "milk"})),
        (
            true,
            json!({"action": "update", "target": "milk", "changes": {
                "title": "Buy oat milk", "priority": "low",
                "due_at": "2026-11-26T18:00:00Z", "tags": ["shop"]}}),
        ),
        (
            true,
            json!({"action": "update", "target": "milk", "changes": {
                "add_tags": ["home"], "remove_tags": ["shop"]}}),
        ),
        (
            true,
            json!({"action": "update", "target": "milk", "changes": {}}),
        ),
        (true, json!({"action": "delete", "target": "milk"})),
        (
            true,
            json!({"action": "delete", "target": "milk", "all": true}),
        ),
        (true, json!({"action": "help"})),
        (true, json!({"action": "unknown"})),
        // Lists, people and shares.
        (
            true,
            json!({"action": "create", "todos": [{"title": "Milk"}], "list": "Groceries"}),
        ),
        (
            true,
            json!({"action": "list", "filter": {"list": "Groceries", "status": "open"}}),
        ),
        (
            true,
            json!({"action": "update", "target": "dentist", "changes": {"list": "Work"}}),
        ),
        (
            true,
            json!({"action": "update", "target": "milk", "changes": {"assignee": "Anna"}}),
        ),
        (
            true,
            json!({"action": "share", "list": "Groceries", "email": "anna@example.com"}),
        ),
        (
            true,
            json!({"action": "share", "list": "Groceries", "email": "anna@example.com",
                   "role": "viewer"}),
        ),
        (
            false,
            json!({"action": "share", "list": "Groceries", "email": "anna@example.com",
                   "role": "owner"}),
        ),
        (false, json!({"action": "share", "list": "Groceries"})),
        (
            false,
            json!({"action": "share", "email": "anna@example.com"}),
        ),
        (
            false,
            json!({"action": "share", "list": "", "email": "anna@example.com"}),
        ),
        (
            false,
            json!({"action": "share", "list": "G", "email": "a@b.c", "todos": []}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "list": "Groceries"}]}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x"}], "list": "y".repeat(101)}),
        ),
        (false, json!({"action": "list", "filter": {"list": ""}})),
        (
            false,
            json!({"action": "update", "target": "x", "changes": {"assignee": ""}}),
        ),
        (
            false,
            json!({"action": "update", "target": "x", "changes": {"list_id": "1"}}),
        ),
        (
            false,
            json!({"action": "complete", "target": "x", "list": "Work"}),
        ),
        (false, json!({"action": "drop_table"})),
        (false, json!({"target": "milk"})),
        (false, json!({"action": "complete"})),
        (
            false,
            json!({"action": "complete", "target": "milk", "id": "1"}),
        ),
        (false, json!({"action": "complete", "target": ""})),
        (
            false,
            json!({"action": "complete", "target": "x".repeat(201)}),
        ),
        (false, json!({"action": "complete", "target": 42})),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "owner": "bob"}]}),
        ),
        (false, json!({"action": "create", "todos": []})),
        (false, json!({"action": "create", "todos": eleven})),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x".repeat(201)}]}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "priority": "critical"}]}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "due_at": "tomorrow"}]}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "tags": many_tags}]}),
        ),
        (
            false,
            json!({"action": "create", "todos": [{"title": "x", "recurrence": "yearly"}]}),
        ),
        (false, json!({"action": "create", "todos": "milk"})),
        (
            false,
            json!({"action": "list", "filter": {"due": "someday"}}),
        ),
        (false, json!({"action": "list", "filter": {"owner": "bob"}})),
        (
            false,
            json!({"action": "update", "target": "milk", "changes": {"recurrence": "daily"}}),
        ),
        (false, json!({"action": "update", "target": "milk"})),
        (
            false,
            json!({"action": "update", "target": "milk", "changes": {"add_tags": many_tags}}),
        ),
        (
            false,
            json!({"action": "update", "target": "milk", "changes": {"remove_tags": "home"}}),
        ),
        (
            false,
            json!({"action": "delete", "target": "milk", "all": "yes"}),
        ),
        (false, json!({"action": "help", "target": "me"})),
        (false, json!(["create"])),
    ];
    for (valid, instance) in cases {
        assert_eq!(validator.is_valid(&instance), valid, "schema on {instance}");
        assert_eq!(
            read_intent(instance.clone()).is_ok(),
            valid,
            "code on {instance}"
        );
    }
}

// ---------------------------------------------------------------- trace context

#[test]
fn both_tiers_receive_the_requests_traceparent() {
    let world = World::new();
    // Qwen fails, so both tiers are asked within the one request.
    world.qwen.will(qwen_server_error());
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ctx = world.ctx();
    ctx.trace
        .set(todo_core::trace::TraceParent::parse(traceparent));
    let now = world.clock.now().with_timezone(&ZONE);
    let attempts = llm::understand(&ctx, &world.breakers(), "buy milk", &Vec::new, now);

    assert_eq!(attempts.intent, Some((Tier::Ollama, intent(create_milk()))));
    let [to_qwen] = &world.qwen.requests()[..] else {
        panic!("one request to Qwen: {:?}", world.qwen.requests());
    };
    let [to_ollama] = &world.ollama.requests()[..] else {
        panic!("one request to Ollama: {:?}", world.ollama.requests());
    };
    assert_eq!(to_qwen.headers["traceparent"], traceparent);
    assert_eq!(to_ollama.headers["traceparent"], traceparent);
}

#[test]
fn a_request_without_a_trace_sends_no_traceparent() {
    let world = World::new();
    let attempts = world.understand("buy milk");
    assert_eq!(attempts.intent, Some((Tier::Qwen, intent(create_milk()))));
    let [sent] = &world.qwen.requests()[..] else {
        panic!("one request to Qwen: {:?}", world.qwen.requests());
    };
    assert!(
        !sent.headers.contains_key("traceparent"),
        "{:?}",
        sent.headers
    );
}

#[test]
fn a_qwen_answer_with_control_characters_is_read_like_a_users_words() {
    let world = World::new();
    world.qwen.will(Behaviour::Says(
        json!({"action": "complete", "target": "buy\u{0} milk\n"}).to_string(),
    ));
    let attempts = world.understand("mark done buy milk");
    let milk = Intent::Complete {
        target: "buy milk".into(),
    };
    assert_eq!(attempts.intent, Some((Tier::Qwen, milk)));
    // Nothing left but a NUL: refused for this request, and the next tier
    // answers; Qwen is not blamed for it.
    world.qwen.will(Behaviour::Says(
        json!({"action": "complete", "target": "\u{0}"}).to_string(),
    ));
    world
        .ollama
        .will(Behaviour::Says(intent_text(&list_open())));
    let attempts = world.understand("mark done buy milk");
    assert_eq!(attempts.intent, Some((Tier::Ollama, intent(list_open()))));
    assert_eq!(skips(&attempts.skipped).len(), 1, "{:?}", attempts.skipped);
    assert!(
        attempts.skipped[0].reason.contains("target"),
        "{:?}",
        attempts.skipped
    );
    assert_eq!(world.failures(Tier::Qwen), 0);
}
