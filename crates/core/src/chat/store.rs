//! SQL of the chat: conversations and their messages, always scoped to the
//! caller (see `auth::Caller`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::{DbError, Json, Params};
use crate::ports::Ctx;
use crate::throttle::{Hits, PerMinute, COUNTERS};

use super::assistant::{self, Outcome, Step};
use super::intent::Intent;
use super::llm::{self, Breakers, TierState};
use crate::lists::store::LISTS_OF_CALLER;
use crate::lists::List;
use crate::todos::store::Part;

/// Why a chat statement did not answer.
#[derive(Debug)]
pub enum ChatStoreError {
    /// The caller's account is gone or the token was revoked.
    Unauthorized,
    /// No such conversation for this user.
    NotFound,
    Db(DbError),
}

impl From<DbError> for ChatStoreError {
    fn from(e: DbError) -> Self {
        ChatStoreError::Db(e)
    }
}

fn scoped<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    ctes: &[&str],
    fields: &[(&str, Json<'_>)],
    params: Vec<crate::db::SqlParam>,
) -> Result<T, ChatStoreError> {
    caller
        .fetch(ctx, ctes, fields, params)?
        .map(|(_, answer)| answer)
        .ok_or(ChatStoreError::Unauthorized)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// Assistant answers: the tier that understood the message.
    pub tier: Option<String>,
    pub intent: Option<Intent>,
    /// Assistant answers: what it did, as the reply's `result` showed it.
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// One exchange to keep: the user's message and the assistant's answer.
pub struct Exchange<'a> {
    pub conversation: Uuid,
    pub user_message: &'a str,
    pub tier: &'a str,
    pub intent: &'a Intent,
    pub at: DateTime<Utc>,
}

/// The assistant's answer to keep: its words and result, or the step of
/// the todos library to run, with what it answers, in the statement that
/// saves the exchange (the answer is rendered from them, see
/// `assistant::render`).
pub enum Answer<'a> {
    Said(&'a Outcome),
    Run(&'a Step, Part),
}

/// What [`Answer::Run`] keeps, from which its answer is rendered.
#[derive(Deserialize)]
struct Facts {
    step: Step,
    answer: serde_json::Value,
}

/// A message as its row holds it.
#[derive(Clone, Deserialize)]
struct Row {
    role: String,
    content: Option<String>,
    tier: Option<String>,
    intent: Option<Intent>,
    result: Option<serde_json::Value>,
    /// [`Facts`], read only when the answer is rendered (a list's facts
    /// hold up to 50 todos).
    facts: Option<Box<RawValue>>,
    created_at: DateTime<Utc>,
}

impl Row {
    /// The message, with an answer that kept its facts rendered from them.
    fn render(self) -> Result<Message, ChatStoreError> {
        let kept = |e: &dyn std::fmt::Display| DbError::Decode(format!("a kept chat answer: {e}"));
        let (content, result) = match self.facts {
            Some(facts) => {
                let facts: Facts = serde_json::from_str(facts.get()).map_err(|e| kept(&e))?;
                let outcome = assistant::render(&facts.step, facts.answer).map_err(|e| kept(&e))?;
                let result = serde_json::from_str(outcome.result.get()).map_err(|e| kept(&e))?;
                (outcome.response, Some(result))
            }
            None => (self.content.unwrap_or_default(), self.result),
        };
        Ok(Message {
            role: self.role,
            content,
            tier: self.tier,
            intent: self.intent,
            result,
            created_at: self.created_at,
        })
    }
}

fn render(rows: Vec<Row>) -> Result<Vec<Message>, ChatStoreError> {
    rows.into_iter().map(Row::render).collect()
}

/// A conversation's last messages as kept, oldest first. A chat request
/// reads what it needs of them without rendering every kept answer: the
/// rule tier needs the last message, only an LLM tier
/// all of their words (a list answer renders up to 50 todos).
#[derive(Default)]
pub struct Earlier(Vec<Row>);

impl Earlier {
    /// The last message, rendered.
    pub fn last(&self) -> Result<Option<Message>, ChatStoreError> {
        self.0.last().cloned().map(Row::render).transpose()
    }

    /// Every message, rendered; one whose kept answer no longer renders is
    /// left out.
    pub fn messages(&self) -> Vec<Message> {
        self.0
            .iter()
            .cloned()
            .filter_map(|row| row.render().ok())
            .collect()
    }
}

/// How long a conversation's title (its first message) may be.
const TITLE_CHARS: usize = 80;

/// Saves an exchange, starting the conversation if it is new; with
/// [`Answer::Run`], in the statement that runs the step, and only when the
/// step did its work. The step's answer (`None` for [`Answer::Said`]), also
/// when it did not do its work (then nothing was saved: its answer says
/// why). `NotFound` when the id names another user's conversation.
pub fn save(
    ctx: &Ctx,
    caller: &Caller,
    exchange: &Exchange,
    answer: Answer,
) -> Result<Option<serde_json::Value>, ChatStoreError> {
    let Saving {
        ctes,
        params,
        done,
        answer,
    } = Saving::new(caller, exchange, answer, None);
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let fields = Saving::fields(&done, &answer);
    let (_, saved) = caller
        .run::<Saved>(ctx, &Caller::statement(&ctes, &fields, params))?
        .ok_or(ChatStoreError::Unauthorized)?;
    saved.answer()
}

/// What the CTEs of a [`Saving`] answer.
#[derive(Deserialize)]
struct Saved {
    saved: i64,
    /// Null when a [`Guard`] held the step back.
    done: Option<bool>,
    answer: Option<serde_json::Value>,
}

impl Saved {
    /// The step's answer (see [`save`]).
    fn answer(self) -> Result<Option<serde_json::Value>, ChatStoreError> {
        if self.saved == 2 || self.done == Some(false) {
            Ok(self.answer)
        } else {
            Err(ChatStoreError::NotFound)
        }
    }
}

/// SQL conditions, over earlier CTEs, under which a [`Saving`] runs its
/// step and saves.
struct Guard<'a> {
    runs: &'a str,
    saves: &'a str,
}

/// The CTEs that save an exchange (see [`save`]), with their parameters,
/// the caller's first, and the fields that answer [`Saved`].
struct Saving {
    ctes: Vec<String>,
    params: Params,
    done: String,
    answer: String,
}

impl Saving {
    /// With a `guard`, a step that only reads runs only if `guard.runs`
    /// holds (its CTEs are read only by what that holds back), and nothing
    /// is saved unless `guard.saves` holds too.
    fn new(caller: &Caller, exchange: &Exchange, answer: Answer, guard: Option<Guard>) -> Self {
        let title: String = exchange.user_message.chars().take(TITLE_CHARS).collect();
        let intent = serde_json::to_string(exchange.intent).unwrap_or_else(|_| "null".into());
        let (said, step, mut ctes, mut params, mut answer, mut done) = match answer {
            Answer::Said(outcome) => (
                Some(outcome),
                None,
                Vec::new(),
                caller.params(),
                "NULL".to_owned(),
                "TRUE".to_owned(),
            ),
            Answer::Run(step, part) => (
                None,
                Some(step),
                part.ctes,
                part.params,
                part.answer,
                part.done,
            ),
        };
        let id = params.add(exchange.conversation, "::text::uuid");
        let title = params.add(title, "::text");
        let at = params.add(exchange.at, "::text::timestamptz");
        let message = params.add(exchange.user_message, "::text");
        let content = params.add(said.map(|o| o.response.as_str()), "::text");
        let tier = params.add(exchange.tier, "::text");
        let intent = params.add(intent, "::text::jsonb");
        let result = params.add(said.map(|o| o.result.get()), "::text::jsonb");
        let facts = match step {
            None => "NULL".to_owned(),
            Some(step) => {
                // Kept and answered, but worked out once.
                ctes.push(format!("step_answer AS (SELECT {answer} AS answer)"));
                answer = "(SELECT answer FROM step_answer)".to_owned();
                let step = serde_json::to_string(step).unwrap_or_else(|_| "null".into());
                let step = params.add(step, "::text::json");
                format!("json_build_object('step', {step}, 'answer', {answer})")
            }
        };
        let mut saves = done.clone();
        if let Some(Guard { runs, saves: also }) = guard {
            saves = format!("{runs} AND {also} AND {done}");
            answer = format!("CASE WHEN {runs} THEN {answer} END");
            done = format!("CASE WHEN {runs} THEN {done} END");
        }
        ctes.push(format!(
            "conv AS (
            INSERT INTO chat_conversations AS c (id, user_id, title, created_at, updated_at)
            SELECT {id}, auth.id, {title}, {at}, {at}
            FROM auth WHERE {saves}
            ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at
                WHERE c.user_id = excluded.user_id
            RETURNING c.id)"
        ));
        ctes.push(format!(
            "msgs AS (
            INSERT INTO chat_messages
                (conversation_id, role, content, tier, intent, result, facts, created_at)
            SELECT conv.id, m.role, m.content, m.tier, m.intent, m.result, m.facts,
                   {at} + m.n * interval '1 microsecond'
            FROM conv, (VALUES (0, 'user', {message}, NULL, NULL::jsonb, NULL::jsonb, NULL::json),
                               (1, 'assistant', {content}, {tier}, {intent}, {result}, {facts}))
                       AS m (n, role, content, tier, intent, result, facts)
            RETURNING id)"
        ));
        Self {
            ctes,
            params,
            done,
            answer,
        }
    }

    /// The fields that answer [`Saved`], of its `done` and `answer`.
    fn fields<'a>(done: &'a str, answer: &'a str) -> [(&'static str, Json<'a>); 3] {
        [
            ("saved", Json::Value("(SELECT count(*) FROM msgs)")),
            ("done", Json::Value(done)),
            ("answer", Json::Value(answer)),
        ]
    }
}

/// The last `limit` messages of a conversation, oldest first; `NotFound`
/// when it is not the caller's.
pub fn history(
    ctx: &Ctx,
    caller: &Caller,
    conversation: Uuid,
    limit: i64,
) -> Result<Vec<Message>, ChatStoreError> {
    #[derive(Deserialize)]
    struct Answer {
        found: bool,
        messages: Vec<Row>,
    }
    let messages = last_messages("$4::int8");
    let answer: Answer = scoped(
        ctx,
        caller,
        &[&conversation_cte("$3::text::uuid")],
        &[
            ("found", Json::Value("EXISTS (SELECT FROM conv)")),
            ("messages", Json::Rows(&messages)),
        ],
        vec![conversation.into(), limit.into()],
    )?;
    if answer.found {
        render(answer.messages)
    } else {
        Err(ChatStoreError::NotFound)
    }
}

/// `conv`: the conversation `id` (a placeholder) when it is the caller's.
fn conversation_cte(id: &str) -> String {
    format!(
        "conv AS (
            SELECT id FROM chat_conversations
            WHERE id = {id} AND user_id = (SELECT id FROM auth))"
    )
}

/// The last `limit` (a placeholder) messages of `conv`, oldest first.
fn last_messages(limit: &str) -> String {
    format!(
        "SELECT role, content, tier, intent, result, facts, created_at FROM (
            SELECT * FROM chat_messages
            WHERE conversation_id = (SELECT id FROM conv)
            ORDER BY id DESC LIMIT {limit}) AS last
         ORDER BY id"
    )
}

/// What a chat request reads before it does anything else.
pub struct Opening {
    /// Seconds to wait when the caller's requests of this minute are used
    /// up; then nothing was reserved.
    pub blocked_for: Option<i64>,
    /// The LLM tiers' breakers (all closed when no tier is configured).
    pub breakers: Breakers,
    /// The conversation's last messages (none for a new conversation);
    /// `None` when it is not the caller's, and then nothing was reserved.
    pub earlier: Option<Earlier>,
    /// With an [`AtOnce`]: `Some` when it was saved, holding the step's
    /// answer as [`save`] answers it.
    pub saved: Option<Option<serde_json::Value>>,
}

/// A new conversation's first exchange as the rule tier answers it, which
/// [`open`] saves in its own statement when no LLM tier may be asked (none
/// is configured, or each one's breaker is open) and the request is
/// within its limit: the request would answer it so anyway, and then needs
/// no second statement. Only an answer in words or a step that only reads:
/// its CTEs run only when no tier may be asked, and before the reservation
/// locks the caller's rate-limit row (a request over the limit reads the
/// list for nothing, as a `GET /api/todos` would, and saves nothing).
pub struct AtOnce<'a> {
    pub exchange: &'a Exchange<'a>,
    pub answer: Answer<'a>,
}

/// Opens a chat request in one statement: reserves one of the caller's
/// requests of `rate`, reads the LLM tiers' breakers (when a tier is
/// configured) and the last `limit` messages of `conversation` (when the
/// request continues one). For a new conversation, also saves `at_once`
/// when it may (see [`AtOnce`]).
pub fn open(
    ctx: &Ctx,
    caller: &Caller,
    rate: &PerMinute,
    conversation: Option<Uuid>,
    limit: i64,
    at_once: Option<AtOnce>,
) -> Result<Opening, ChatStoreError> {
    #[derive(Deserialize)]
    struct Opened {
        #[serde(flatten)]
        hits: Hits,
        found: bool,
        #[serde(default)]
        messages: Vec<Row>,
        #[serde(default)]
        tiers: Vec<TierState>,
        // Those of `Saved`, named here: a flattened field's values are
        // buffered first, and `answer` may hold a list.
        #[serde(default)]
        saved: i64,
        #[serde(default)]
        done: Option<bool>,
        #[serde(default)]
        answer: Option<serde_json::Value>,
    }
    let now = ctx.clock.now();
    let tiers = llm::configured(ctx);
    // A step's parameters come first (the caller's first). Its CTEs only
    // read, and run only when no tier may be asked; the exchange is saved
    // only when the request is also within its limit.
    let guard = Guard {
        runs: "EXISTS (SELECT FROM no_tier)",
        saves: "EXISTS (SELECT FROM within)",
    };
    let at_once = at_once
        .filter(|_| conversation.is_none())
        .map(|a| Saving::new(caller, a.exchange, a.answer, Some(guard)));
    let (mut params, saving) = match at_once {
        Some(saving) => (
            saving.params,
            Some((saving.ctes, saving.done, saving.answer)),
        ),
        None => (caller.params(), None),
    };
    let mut ctes = Vec::new();
    let mut fields = Vec::new();
    let (found, messages) = match conversation {
        Some(conversation) => {
            let id = params.add(conversation, "::text::uuid");
            ctes.push(conversation_cte(&id));
            let messages = last_messages(&params.add(limit, "::int8"));
            ("EXISTS (SELECT FROM conv)", Some(messages))
        }
        None => ("TRUE", None),
    };
    ctes.extend(rate.ctes(&mut params, found));
    let now_at = (!tiers.is_empty()).then(|| params.add(now, "::text::timestamptz"));
    let tier_states = now_at.as_deref().map(llm::state_sql);
    if let Some((saving_ctes, done, answer)) = &saving {
        // Every configured tier paused (as `Breakers::is_open` reads the
        // same rows at `now`): none may be asked.
        let paused: Vec<String> = now_at
            .iter()
            .flat_map(|now_at| {
                tiers.iter().map(move |tier| {
                    format!(
                        "EXISTS (SELECT FROM llm_breaker b \
                         WHERE b.tier = '{}' AND b.open_until > {now_at})",
                        tier.as_str()
                    )
                })
            })
            .collect();
        let paused = if paused.is_empty() {
            "TRUE".to_owned()
        } else {
            paused.join(" AND ")
        };
        ctes.push(format!("no_tier AS (SELECT WHERE {paused})"));
        ctes.push(format!("within AS (SELECT WHERE {})", rate.within()));
        ctes.extend(saving_ctes.iter().cloned());
        // The step's answer first: PostgreSQL works the fields out in
        // order, and the reservation's upsert (`hits`) locks the caller's
        // rate-limit row until the statement commits. Run before it, the
        // list holds no lock; the saving, after it, briefly.
        fields.extend(Saving::fields(done, answer).into_iter().rev());
    }
    fields.extend(COUNTERS);
    fields.push(("found", Json::Value(found)));
    if let Some(messages) = &messages {
        fields.push(("messages", Json::Rows(messages)));
    }
    if let Some(states) = &tier_states {
        fields.push(("tiers", Json::Rows(states)));
    }
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let (_, opened) = caller
        .run::<Opened>(ctx, &Caller::statement(&ctes, &fields, params))?
        .ok_or(ChatStoreError::Unauthorized)?;
    // `done` is null unless the step ran (no tier may be asked); then,
    // within the limit, the exchange was saved.
    let blocked_for = rate.blocked_for(&opened.hits);
    let saved = (saving.is_some() && opened.done.is_some() && blocked_for.is_none())
        .then(|| {
            Saved {
                saved: opened.saved,
                done: opened.done,
                answer: opened.answer,
            }
            .answer()
        })
        .transpose()?;
    Ok(Opening {
        blocked_for,
        breakers: if tier_states.is_some() {
            Breakers::new(opened.tiers, now)
        } else {
            Breakers::default()
        },
        earlier: opened.found.then_some(Earlier(opened.messages)),
        saved,
    })
}

/// The caller's conversations, most recently used first (at most 100).
pub fn conversations(ctx: &Ctx, caller: &Caller) -> Result<Vec<Conversation>, ChatStoreError> {
    #[derive(Deserialize)]
    struct Answer {
        items: Vec<Conversation>,
    }
    let answer: Answer = scoped(
        ctx,
        caller,
        &[],
        &[(
            "items",
            Json::Rows(
                "SELECT id, title, created_at, updated_at FROM chat_conversations
                 WHERE user_id = (SELECT id FROM auth)
                 ORDER BY updated_at DESC, id DESC LIMIT 100",
            ),
        )],
        Vec::new(),
    )?;
    Ok(answer.items)
}

/// Deletes a conversation and its messages; `NotFound` when it is not the caller's.
pub fn delete(ctx: &Ctx, caller: &Caller, conversation: Uuid) -> Result<(), ChatStoreError> {
    match caller.delete_own(ctx, "chat_conversations", conversation, "id", &[])? {
        Some(true) => Ok(()),
        Some(false) => Err(ChatStoreError::NotFound),
        None => Err(ChatStoreError::Unauthorized),
    }
}

/// A member of one of the caller's lists, as a message may name them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListMember {
    pub list_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
}

/// The caller's lists and their members: what a message that names a list
/// or a person is resolved against (see `assistant::plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Directory {
    /// The Inbox first, then by name.
    pub lists: Vec<List>,
    pub members: Vec<ListMember>,
}

/// The caller's lists and the members of each, in one statement: the one
/// a message that names a list or a person costs on top of the others.
pub fn directory(ctx: &Ctx, caller: &Caller) -> Result<Directory, ChatStoreError> {
    let lists = format!("{LISTS_OF_CALLER} ORDER BY l.inbox DESC, lower(l.name), l.id");
    scoped(
        ctx,
        caller,
        &[],
        &[
            ("lists", Json::Rows(&lists)),
            (
                "members",
                Json::Rows(
                    "SELECT m.list_id, m.user_id, u.name, u.email
                     FROM list_members m JOIN users u ON u.id = m.user_id
                     WHERE m.list_id IN (SELECT list_id FROM list_members
                                         WHERE user_id = (SELECT id FROM auth))
                     ORDER BY m.list_id, lower(u.name), u.email",
                ),
            ),
        ],
        Vec::new(),
    )
}
