//! The migrations: idempotent, recorded by refinery, and in step with
//! `todo_core::LATEST_MIGRATION`.

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

#[test]
fn latest_migration_matches_the_migrations_folder() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let highest = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name.strip_prefix('V')?.split_once("__")?.0.to_owned();
            Some(i64::from_str(&version).unwrap())
        })
        .max()
        .unwrap();
    assert_eq!(
        todo_core::LATEST_MIGRATION,
        highest,
        "todo_core::LATEST_MIGRATION is out of step with migrations/"
    );
    assert_eq!(native::migrations::latest_version(), highest);
}
