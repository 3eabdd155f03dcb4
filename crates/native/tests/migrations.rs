//! The migrations: idempotent, recorded by refinery, safe to run twice at
//! once (a deploy's migration Job may overlap the last one), and in step with
//! `todo_core::LATEST_MIGRATION`.

use std::process::{Command, Stdio};
use std::str::FromStr;

use native::testing::TEST_DATABASE_URL;

fn admin_url() -> String {
    std::env::var(TEST_DATABASE_URL)
        .unwrap_or_else(|_| panic!("{TEST_DATABASE_URL} is not set; run scripts/test"))
}

/// An empty database (no migrations), dropped at the end.
struct EmptyDb {
    name: String,
    url: String,
}

impl EmptyDb {
    fn create() -> Self {
        let admin = admin_url();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Self {
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn migrating_twice_applies_everything_once() {
    let db = EmptyDb::create();
    let first = native::migrate(&db.url).unwrap();
    assert!(
        first.contains(&"V1__initial_schema".to_owned()),
        "{first:?}"
    );
    let second = native::migrate(&db.url).unwrap();
    assert_eq!(second, Vec::<String>::new());

    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = client
        .query(
            "select version from refinery_schema_history order by version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.len(), first.len());
    // The schema is there.
    client.query("select id from users limit 1", &[]).unwrap();
}

/// The versions recorded in `refinery_schema_history`, in order.
fn recorded_versions(url: &str) -> Vec<i32> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query(
            "select version from refinery_schema_history order by version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn two_migrate_processes_started_together_both_succeed_and_apply_each_migration_once() {
    let expected = folder_versions();
    // Several fresh databases: a race that one pair misses, another hits.
    for _ in 0..4 {
        let db = EmptyDb::create();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_migrate"))
                    .args(["--database-url", &db.url])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied = Vec::new();
        for run in runs {
            let output = run.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "migrate failed: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            // "<url>: applied V1__a, V2__b" or "<url>: schema is up to date"
            if let Some((_, names)) = stdout.trim().split_once(": applied ") {
                applied.extend(names.split(", ").map(str::to_owned));
            }
        }
        applied.sort();
        let mut once = applied.clone();
        once.dedup();
        assert_eq!(applied, once, "a migration was applied twice");
        assert_eq!(applied.len(), expected.len(), "{applied:?}");
        assert_eq!(recorded_versions(&db.url), expected);
    }
}

/// The versions of the files in `migrations/`, in order.
fn folder_versions() -> Vec<i32> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut versions: Vec<i32> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name.strip_prefix('V')?.split_once("__")?.0.to_owned();
            Some(i32::from_str(&version).unwrap())
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[test]
fn latest_migration_matches_the_migrations_folder() {
    let highest = i64::from(*folder_versions().last().unwrap());
    assert_eq!(
        todo_core::LATEST_MIGRATION,
        highest,
        "todo_core::LATEST_MIGRATION is out of step with migrations/"
    );
    assert_eq!(native::migrations::latest_version(), highest);
}
