//! A chat request answered by the rule tier, end to end through the core
//! (`todo_core::serve` with the chat handler: token, rate limit, the LLM
//! breakers' state, the rule parser, the todos call, saving the exchange)
//! against real Postgres, with no LLM configured.
//!
//! Needs `TEST_DATABASE_URL`; run with `cargo bench -p native --bench chat`.

// Benchmark set-up: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use native::testing::{random_secret, TestDb, TEST_DATABASE_URL};
use native::{AllowedHosts, NativeHttp};
use todo_core::auth::token;
use todo_core::config::JwtConfig;
use todo_core::ports::{Ctx, SystemClock};

fn bench_chat(c: &mut Criterion) {
    if std::env::var(TEST_DATABASE_URL).is_err() {
        eprintln!("{TEST_DATABASE_URL} is not set: the chat benchmark needs a PostgreSQL; skipped");
        return;
    }
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let http = NativeHttp::new(Arc::new(AllowedHosts::none()));
    let secret = random_secret(48);
    let vars = test_db
        .vars()
        .with("jwt_secret", secret.clone())
        .with("qwen_api_key", "")
        .with("ollama_url", "")
        .with("chat_rate_per_minute", "100000000");
    let clock = SystemClock;
    let ctx = Ctx::new(&db, &http, &vars, &clock);
    let user = test_db.insert_user("bench@example.com");
    let cfg = JwtConfig {
        secret: secret.into_bytes(),
        ttl_seconds: 3600,
    };
    let bearer = format!(
        "Bearer {}",
        token::issue(&cfg, user, Utc::now()).unwrap().token
    );
    let request = |message: &str| {
        http::Request::post("http://localhost/api/chat")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(Bytes::from(
                serde_json::json!({ "message": message }).to_string(),
            ))
            .unwrap()
    };
    for i in 0..20 {
        let reply = todo_core::serve(
            request(&format!("task errand {i}")),
            &ctx,
            todo_core::chat::handle,
        );
        assert_eq!(reply.status(), 200);
    }

    let mut group = c.benchmark_group("chat");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("rule tier: show my tasks (user holding 20)", |b| {
        b.iter(|| todo_core::serve(request("show my tasks"), &ctx, todo_core::chat::handle))
    });
    group.bench_function("rule tier: urgent task pay rent tomorrow", |b| {
        b.iter(|| {
            todo_core::serve(
                request("urgent task pay rent tomorrow"),
                &ctx,
                todo_core::chat::handle,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_chat);
criterion_main!(benches);
