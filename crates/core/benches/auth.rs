//! What a login and an authenticated request cost in CPU: password hashing
//! and verification (argon2id, deliberately slow) and token verification.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop loudly

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use todo_core::auth::{password, token, Password};
use todo_core::config::JwtConfig;
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let cfg = JwtConfig {
        secret: b"benchmark-secret-benchmark-secret-0123".to_vec(),
        ttl_seconds: 3600,
    };
    let now = Utc::now();
    let issued = token::issue(&cfg, Uuid::new_v4(), now).unwrap();
    c.bench_function("token_verify", |b| {
        b.iter(|| token::verify(&cfg.secret, &issued.token, now).unwrap())
    });
    c.bench_function("token_issue", |b| {
        b.iter(|| token::issue(&cfg, Uuid::new_v4(), now).unwrap())
    });

    let mut slow = c.benchmark_group("argon2id");
    slow.sample_size(10);
    let pw = Password::parse("correct horse battery".into()).unwrap();
    let phc = password::hash(&pw).unwrap();
    slow.bench_function("password_hash", |b| b.iter(|| password::hash(&pw).unwrap()));
    slow.bench_function("password_verify", |b| {
        b.iter(|| assert!(password::verify("correct horse battery", &phc)))
    });
    slow.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
