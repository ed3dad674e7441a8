//! Schema migrations: the SQL files under `migrations/` embedded at build time and applied with
//! refinery, which records each file's checksum and refuses to run when an applied one changed.

use crate::db::DbError;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// What `basecommerce migrate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub current_version: i64,
}

/// Applies pending migrations as the connected role (the schema owner). Idempotent.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<MigrationReport, DbError> {
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?;
    let applied = report.applied_migrations().iter().map(|m| format!("V{}__{}", m.version(), m.name())).collect();
    Ok(MigrationReport { applied, current_version: latest_version() })
}

/// The newest migration compiled into this binary.
pub fn latest_version() -> i64 {
    embedded::migrations::runner().get_migrations().iter().map(|m| i64::from(m.version())).max().unwrap_or(0)
}

/// The newest migration applied to the database (0 when none): readiness compares the two.
pub async fn applied_version(client: &tokio_postgres::Client) -> Result<i64, DbError> {
    let row = client.query_opt("SELECT max(version)::int8 FROM refinery_schema_history", &[]).await?;
    Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0))
}

/// Connects one plain client (outside the pool) for migrations and admin work.
pub async fn connect_owner(url: &crate::config::Secret, settings: &crate::config::DatabaseSettings) -> Result<deadpool_postgres::Object, DbError> {
    let pool = crate::db::pool(url, settings, 1)?;
    Ok(pool.get().await?)
}
