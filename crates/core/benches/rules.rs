//! How many chat messages per second the rule parser reads on one core: it
//! answers every message the model tiers cannot, so it must stay cheap.

use chrono::TimeZone;
use chrono_tz::Europe::Berlin;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use todo_core::chat::rules;

/// A realistic mix: mostly new todos with dates, then lists, completions,
/// updates, deletes, help and the odd message nobody understands.
const MESSAGES: &[&str] = &[
    "task buy milk",
    "task buy milk tomorrow at 5pm #shopping",
    "urgent task call the bank",
    "add pick up the kids at 15:30",
    "task pay rent end of month",
    "task water the plants every monday",
    "task renew passport in 2 weeks high priority",
    "task dentist on 2026-12-01 at 9am",
    "remind me to call mom tonight",
    "task buy milk and task call mom friday",
    "Task Call the Bank next monday p2 #finance",
    "add a task to book flights by dec 3",
    "show my tasks",
    "what's due today?",
    "show overdue tasks",
    "list #shopping",
    "find dentist",
    "mark done buy milk",
    "complete call the bank",
    "reopen buy milk",
    "rename buy milk to buy oat milk",
    "make call the bank urgent",
    "move dentist to friday at 10am",
    "tag groceries #home",
    "delete buy milk",
    "delete all done",
    "help",
    "what's the weather like in Berlin today?",
    "lorem ipsum dolor sit amet, consectetur adipiscing elit",
    "task écrire à Zoë à 17:30 🙂",
];

fn bench(c: &mut Criterion) {
    let Some(now) = Berlin.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single() else {
        return;
    };
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(MESSAGES.len() as u64));
    group.bench_function("parse_mix", |b| {
        b.iter(|| {
            for message in MESSAGES {
                black_box(rules::parse(black_box(message), now));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
