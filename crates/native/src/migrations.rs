//! The schema migrations, applied with refinery from the repository's
//! `migrations/` folder (`V<n>__<name>.sql`, append-only). refinery records
//! what it applied in `refinery_schema_history`, so running twice is harmless.
//! Running twice *at once* is not, by refinery alone: both runs read the
//! history before either writes it, and the second fails on the first's
//! tables (even on `CREATE TABLE IF NOT EXISTS refinery_schema_history`). A
//! cluster runs a migration Job on every deploy, and two deploys can overlap,
//! so every run holds a PostgreSQL advisory lock for its whole length.

use anyhow::{Context, Result};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The advisory lock key that serialises migration runs on one database
/// (any fixed number works; this one reads "todo-spin" in ASCII, truncated).
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_646f_2d73_7069;

/// Applies every pending migration to the database at `database_url` and
/// returns the names (`V1__initial_schema`) of those it applied. A run that
/// starts while another is under way waits for it, then finds nothing (or
/// only what is still missing) to apply.
pub fn migrate(database_url: &str) -> Result<Vec<String>> {
    let mut client = postgres::Client::connect(database_url, postgres::NoTls)
        .with_context(|| format!("cannot connect to {}", redact(database_url)))?;
    // Session-level, on the connection refinery then uses: it outlives
    // refinery's per-migration transactions, and PostgreSQL releases it when
    // the session ends, even if this process dies half-way.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .context("cannot take the migration lock")?;
    let report = embedded::migrations::runner().run(&mut client);
    // Released for the next run; closing the connection would release it too.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]);
    let report = report.context("migrations failed")?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect())
}

/// The highest version among the embedded migrations.
pub fn latest_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The URL without its password, for messages.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}
