//! The chat assistant: plain language in, todos changed through the todos
//! library API. A message is understood by the first tier that can: Qwen,
//! then Ollama ([`llm`]), then the rule parser ([`rules`]), which always
//! answers. Every route needs a bearer token; conversations are kept in
//! PostgreSQL ([`store`]).

pub mod assistant;
pub mod intent;
pub mod llm;
pub mod rules;
pub mod store;

use chrono::DateTime;
use chrono_tz::Tz;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::api::{allow, empty, json, parse_json, LlmSkipped, Request, Response};
use crate::auth::{rejected, require_caller, Caller};
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;
use crate::throttle::PerMinute;
use assistant::{DecidedBy, Outcome, Plan};
use intent::Intent;
use llm::Breakers;
use store::{Answer, ChatStoreError, Exchange};

/// The longest message, and goal, the assistant reads.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Earlier messages sent to an LLM as context.
const CONTEXT_MESSAGES: i64 = 10;
const DEFAULT_RATE_PER_MINUTE: i64 = 20;

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.uri().path().trim_end_matches('/');
    let methods: &[Method] = match path {
        "/api/chat" | "/api/chat/suggest" => &[Method::POST],
        "/api/chat/history" => &[Method::GET, Method::DELETE],
        "/api/chat/conversations" => &[Method::GET],
        _ => return Err(ApiError::not_found()),
    };
    allow(req, methods)?;
    let caller = require_caller(req, ctx)?;
    match (path, req.method().clone()) {
        ("/api/chat", _) => chat(req, ctx, &caller),
        ("/api/chat/suggest", _) => suggest(req, ctx, &caller),
        ("/api/chat/conversations", _) => {
            let items = store::conversations(ctx, &caller).map_err(store_error)?;
            Ok(json(StatusCode::OK, &json!({ "items": items })))
        }
        (_, Method::DELETE) => {
            let (conversation, _) = history_query(req, false)?;
            store::delete(ctx, &caller, conversation).map_err(store_error)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => {
            let (conversation, limit) = history_query(req, true)?;
            let items = store::history(ctx, &caller, conversation, limit).map_err(store_error)?;
            Ok(json(
                StatusCode::OK,
                &json!({ "conversation_id": conversation, "items": items }),
            ))
        }
    }
}

fn store_error(err: ChatStoreError) -> ApiError {
    match err {
        ChatStoreError::Unauthorized => rejected(),
        ChatStoreError::NotFound => ApiError::not_found(),
        ChatStoreError::Db(e) => e.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatBody {
    message: String,
    #[serde(default)]
    conversation_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuggestBody {
    goal: String,
}

/// A message: 1..=2000 characters after trimming, no NUL.
fn parse_message(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        Err("must not be empty".into())
    } else if chars > MAX_MESSAGE_CHARS {
        Err(format!(
            "must be at most {MAX_MESSAGE_CHARS} characters (it has {chars})"
        ))
    } else if text.contains('\0') {
        Err("must not contain NUL characters".into())
    } else {
        Ok(text.to_owned())
    }
}

/// The user's time zone from `X-Timezone` (an IANA name), UTC without one.
fn time_zone(req: &Request) -> Result<Tz, ApiError> {
    match req.headers().get("x-timezone") {
        None => Ok(Tz::UTC),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|name| name.trim().parse::<Tz>().ok())
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "X-Timezone",
                    "must be an IANA time zone name such as Europe/Berlin",
                )
            }),
    }
}

/// Opens a chat request (see [`store::open`]): reserves one of the
/// caller's chat requests for this minute (shared by all instances, exact
/// under concurrency) before any LLM is asked, and reads the breakers and
/// the conversation's last messages in the same statement; with `at_once`,
/// saves that exchange too when it may.
fn open(
    ctx: &Ctx,
    caller: &Caller,
    conversation: Option<Uuid>,
    at_once: Option<store::AtOnce>,
) -> Result<store::Opening, ApiError> {
    let rate = PerMinute::new(
        ctx,
        caller,
        "chat",
        "chat_rate_per_minute",
        DEFAULT_RATE_PER_MINUTE,
    );
    let opening = store::open(ctx, caller, &rate, conversation, CONTEXT_MESSAGES, at_once)
        .map_err(store_error)?;
    if let Some(seconds) = opening.blocked_for {
        return Err(ApiError::too_many_requests(seconds));
    }
    if opening.earlier.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(opening)
}

/// A request opened (see [`open`]), or already answered.
enum Opened {
    Answered(Response),
    Open(Breakers, store::Earlier),
}

impl From<store::Opening> for Opened {
    fn from(opening: store::Opening) -> Self {
        Opened::Open(opening.breakers, opening.earlier.unwrap_or_default())
    }
}

/// Opens a new conversation's request, answering it in the same statement
/// when the rule tier would answer it without reading anything first (a
/// message naming no list or person, answered in words or by a list) and
/// no LLM tier may be asked: none configured, or each one paused (see
/// [`store::AtOnce`]). Otherwise nothing of that answer is run, and the
/// request goes on as any other.
fn open_new(
    ctx: &Ctx,
    caller: &Caller,
    message: &str,
    now: DateTime<Tz>,
    conversation: Uuid,
) -> Result<Opened, ApiError> {
    let intent = (!rules::may_name_a_list(message, now))
        .then(|| rules::parse(message, now))
        .filter(|intent| !intent.names_a_list_or_person());
    let Some(intent) = intent else {
        return open(ctx, caller, None, None).map(Opened::from);
    };
    let nothing_earlier = assistant::Earlier {
        proposed: None,
        referred: &[],
        directory: None,
    };
    // Planned ahead of the request's limit and of any tier: a plan the
    // rules cannot make goes the usual way, where a tier may understand
    // the message otherwise (and the error comes after the limit).
    let Ok(plan) = assistant::plan(ctx, caller, &intent, DecidedBy::Rules, nothing_earlier, now)
    else {
        return open(ctx, caller, None, None).map(Opened::from);
    };
    let exchange = Exchange {
        conversation,
        user_message: message,
        tier: "rules",
        intent: &intent,
        at: ctx.clock.now(),
    };
    let (breakers, outcome) = match plan {
        Plan::Say(outcome) => {
            let at_once = store::AtOnce {
                exchange: &exchange,
                answer: Answer::Said(&outcome),
            };
            let opening = open(ctx, caller, None, Some(at_once))?;
            if opening.saved.is_none() {
                return Ok(Opened::from(opening));
            }
            (opening.breakers, outcome)
        }
        Plan::Run(step @ assistant::Step::List { .. }, part) => {
            let at_once = store::AtOnce {
                exchange: &exchange,
                answer: Answer::Run(&step, part),
            };
            let mut opening = open(ctx, caller, None, Some(at_once))?;
            let Some(answer) = opening.saved.take() else {
                return Ok(Opened::from(opening));
            };
            let answer = answer.unwrap_or_default();
            let pending = assistant::pending(&step, &answer);
            let outcome = assistant::render(&step, answer)?;
            let outcome = assistant::follow_up(ctx, caller, pending.as_ref(), outcome)?;
            (opening.breakers, outcome)
        }
        // A step that writes runs only once the request knows that no LLM
        // tier will answer instead.
        Plan::Run(..) => return open(ctx, caller, None, None).map(Opened::from),
    };
    // Saved only if no tier may be asked: the skips say why.
    let skipped = llm::none_askable(ctx, &breakers).unwrap_or_default();
    Ok(Opened::Answered(answered(
        conversation,
        "rules",
        &intent,
        outcome,
        &skipped,
    )))
}

/// The answer to a chat message, with the LLM tiers skipped for its
/// access-log line.
fn answered(
    conversation: Uuid,
    tier: &str,
    intent: &Intent,
    outcome: Outcome,
    skipped: &[llm::Skip],
) -> Response {
    /// Its fields in the order a `json!` object (sorted) gave them.
    #[derive(Serialize)]
    struct Answered<'a> {
        conversation_id: Uuid,
        intent: &'a Intent,
        response: &'a str,
        result: &'a RawValue,
        tier: &'a str,
    }
    let mut answer = json(
        StatusCode::OK,
        &Answered {
            conversation_id: conversation,
            intent,
            response: &outcome.response,
            result: &outcome.result,
            tier,
        },
    );
    if !skipped.is_empty() {
        let skipped = serde_json::to_value(skipped).unwrap_or_default();
        answer.extensions_mut().insert(LlmSkipped(skipped));
    }
    answer
}

fn chat(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Response, ApiError> {
    let body: ChatBody = parse_json(req)?;
    let message =
        parse_message(&body.message).map_err(|e| ApiError::invalid_field("message", e))?;
    let zone = time_zone(req)?;
    let now = ctx.clock.now().with_timezone(&zone);
    let conversation = body.conversation_id.unwrap_or_else(Uuid::new_v4);
    let opened = match body.conversation_id {
        None => open_new(ctx, caller, &message, now, conversation)?,
        Some(id) => open(ctx, caller, Some(id), None)?.into(),
    };
    let (breakers, earlier) = match opened {
        Opened::Answered(answer) => return Ok(answer),
        Opened::Open(breakers, earlier) => (breakers, earlier),
    };
    let last = earlier.last().map_err(store_error)?;
    let proposed = assistant::pending_proposal(last.as_ref());
    // "Delete them": the todos the last answer named, by id and version.
    let referred = assistant::referred(last.as_ref());
    // Rendered only if a tier is asked.
    let context = || {
        earlier
            .messages()
            .into_iter()
            .map(|m| llm::Turn {
                role: m.role,
                content: m.content,
            })
            .collect()
    };

    // The user's own "yes" or "no" to a proposed delete or share is read
    // here, never by a model: no LLM answer can confirm one.
    let answer = proposed
        .as_ref()
        .and_then(|proposal| assistant::answer_to_proposal(proposal, &message));
    // The user's lists and their members, read once, only for a message
    // that names a list or a person.
    let mut directory = None;
    let mut skipped = Vec::new();
    let (tier, intent, decided_by) = match answer {
        Some(intent) => ("rules", intent, DecidedBy::Rules),
        None => {
            let attempts = llm::understand(ctx, &breakers, &message, &context, now);
            skipped = attempts.skipped;
            match attempts.intent {
                Some((tier, intent)) => (tier.as_str(), intent, DecidedBy::Llm),
                None if rules::may_name_a_list(&message, now) => {
                    // "add milk to Groceries" or a title "go to the bank":
                    // the user's lists tell.
                    let read = store::directory(ctx, caller).map_err(store_error)?;
                    let names: Vec<String> = read.lists.iter().map(|l| l.name.clone()).collect();
                    let intent = rules::parse_knowing(&message, now, rules::Lists::Named(&names));
                    directory = Some(read);
                    ("rules", intent, DecidedBy::Rules)
                }
                None => ("rules", rules::parse(&message, now), DecidedBy::Rules),
            }
        }
    };
    if directory.is_none() && intent.names_a_list_or_person() {
        directory = Some(store::directory(ctx, caller).map_err(store_error)?);
    }
    let earlier = assistant::Earlier {
        proposed: proposed.as_ref(),
        referred: &referred,
        directory: directory.as_ref(),
    };
    let plan = assistant::plan(ctx, caller, &intent, decided_by, earlier, now)?;
    let exchange = Exchange {
        conversation,
        user_message: &message,
        tier,
        intent: &intent,
        at: ctx.clock.now(),
    };
    let outcome = match plan {
        Plan::Say(outcome) => {
            store::save(ctx, caller, &exchange, Answer::Said(&outcome)).map_err(store_error)?;
            outcome
        }
        Plan::Run(step, part) => {
            let answer = store::save(ctx, caller, &exchange, Answer::Run(&step, part))
                .map_err(store_error)?
                .unwrap_or_default();
            let pending = assistant::pending(&step, &answer);
            let outcome = assistant::render(&step, answer)?;
            assistant::follow_up(ctx, caller, pending.as_ref(), outcome)?
        }
    };
    Ok(answered(conversation, tier, &intent, outcome, &skipped))
}

fn suggest(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Response, ApiError> {
    let body: SuggestBody = parse_json(req)?;
    let goal = parse_message(&body.goal).map_err(|e| ApiError::invalid_field("goal", e))?;
    let breakers = open(ctx, caller, None, None)?.breakers;
    match llm::suggest(ctx, &breakers, &goal) {
        Ok((tier, suggestions)) => Ok(json(
            StatusCode::OK,
            &json!({ "suggestions": suggestions, "tier": tier }),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "llm_unavailable",
            "no language model is available to make suggestions; try again later",
        )),
    }
}

/// `conversation_id=` (required) and, for reading, `limit=1..=100` (default 50).
fn history_query(req: &Request, with_limit: bool) -> Result<(Uuid, i64), ApiError> {
    let mut fields = Fields::default();
    let mut conversation = None;
    let mut limit = 50;
    for (name, value) in url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "conversation_id" => match Uuid::try_parse(&value) {
                Ok(id) => conversation = Some(id),
                Err(_) => fields.add("conversation_id", "must be a UUID"),
            },
            "limit" if with_limit => match value.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => limit = n,
                _ => fields.add("limit", "must be a whole number from 1 to 100"),
            },
            other => fields.add(other, "unknown parameter"),
        }
    }
    match conversation {
        Some(id) if fields.is_empty() => Ok((id, limit)),
        _ => {
            if conversation.is_none() {
                fields.add("conversation_id", "is required");
            }
            Err(fields.into_error())
        }
    }
}
