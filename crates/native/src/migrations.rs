//! The schema migrations, applied with refinery from the repository's
//! `migrations/` folder (`V<n>__<name>.sql`, append-only). refinery records
//! what it applied in `refinery_schema_history`, so running twice is harmless.

use anyhow::{Context, Result};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Applies every pending migration to the database at `database_url` and
/// returns the names (`V1__initial_schema`) of those it applied.
pub fn migrate(database_url: &str) -> Result<Vec<String>> {
    let mut client = postgres::Client::connect(database_url, postgres::NoTls)
        .with_context(|| format!("cannot connect to {}", redact(database_url)))?;
    let report = embedded::migrations::runner()
        .run(&mut client)
        .context("migrations failed")?;
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
