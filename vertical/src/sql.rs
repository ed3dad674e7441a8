//! A small builder for PATCH updates: only the fields present in the request are set.

use tokio_postgres::types::ToSql;

type Param = Box<dyn ToSql + Sync + Send>;

/// `UPDATE <table> SET a = $3, b = $4, updated_at = now() WHERE id = $1 AND tenant_id = $2`.
#[derive(Default)]
pub struct Patch {
    sets: Vec<String>,
    params: Vec<Param>,
}

impl Patch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `column` when `value` is `Some`.
    pub fn set<T: ToSql + Sync + Send + 'static>(&mut self, column: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.params.push(Box::new(v));
            self.sets.push(format!("{column} = ${}", self.params.len() + 2));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Runs the update in its own tenant transaction: the updated row, or 404 `what`.
    pub async fn run(
        &self,
        state: &crate::state::AppState,
        tenant: &crate::domain::tenant::Tenant,
        table: &str,
        id: uuid::Uuid,
        returning: &str,
        what: &str,
    ) -> crate::error::ApiResult<tokio_postgres::Row> {
        let mut client = state.pool.get().await?;
        let tx = infra::db::tenant_transaction(&mut client, tenant.id).await?;
        let row = self.apply(&tx, table, id, tenant.id, returning).await?.ok_or_else(|| crate::error::ApiError::not_found(what))?;
        tx.commit().await?;
        Ok(row)
    }

    /// Runs the update for row `id` of `tenant_id`, returning `returning` columns.
    pub async fn apply(
        &self,
        tx: &infra::db::Transaction<'_>,
        table: &str,
        id: uuid::Uuid,
        tenant_id: uuid::Uuid,
        returning: &str,
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        let mut sets = self.sets.clone();
        sets.push("updated_at = now()".into());
        let sql = format!("UPDATE {table} SET {} WHERE id = $1 AND tenant_id = $2 RETURNING {returning}", sets.join(", "));
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &tenant_id];
        params.extend(self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
        tx.query_opt(&sql, &params).await
    }
}

/// One row of the tenant's data, or 404: runs `sql` (`$1` = id, `$2` = tenant) in a tenant
/// transaction and commits (so it serves reads and single-statement updates alike).
pub async fn one_row(
    state: &crate::state::AppState,
    tenant: &crate::domain::tenant::Tenant,
    sql: &str,
    id: uuid::Uuid,
    what: &str,
) -> crate::error::ApiResult<tokio_postgres::Row> {
    let mut client = state.pool.get().await?;
    let tx = infra::db::tenant_transaction(&mut client, tenant.id).await?;
    // Prepared once per connection: an unprepared statement costs a second round trip.
    let stmt = tx.prepare_cached(sql).await?;
    let row = tx.query_opt(&stmt, &[&id, &tenant.id]).await?.ok_or_else(|| crate::error::ApiError::not_found(what))?;
    tx.commit().await?;
    Ok(row)
}
