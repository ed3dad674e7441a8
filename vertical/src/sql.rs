//! Small SQL builders the services share.

use infra::db::TenantTx;
use tokio_postgres::types::ToSql;

type Param = Box<dyn ToSql + Sync + Send>;

/// `UPDATE <table> SET a = $3, b = $4, updated_at = now() WHERE id = $1 AND tenant_id = $2`:
/// only the fields a PATCH carries are set.
#[derive(Default)]
pub struct Patch {
    sets: Vec<String>,
    params: Vec<Param>,
}

impl Patch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `column` when `value` is `Some` (for an optional column, `Some(None)` clears it).
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

    /// Runs the update for row `id` of the transaction's tenant, returning `returning` columns
    /// (`None`: no such row).
    pub async fn apply(&self, tx: &TenantTx, table: &str, id: uuid::Uuid, returning: &str) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        let mut sets = self.sets.clone();
        sets.push("updated_at = now()".into());
        let sql = format!("UPDATE {table} SET {} WHERE id = $1 AND tenant_id = $2 RETURNING {returning}", sets.join(", "));
        let tenant_id = tx.tenant_id();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &tenant_id];
        params.extend(self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
        tx.query_opt(&sql, &params).await
    }
}

/// One row by id of the transaction's tenant (`$1` = id, `$2` = tenant), prepared once per
/// connection (an unprepared statement costs a second round trip).
pub async fn row_by_id(tx: &TenantTx, sql: &str, id: uuid::Uuid) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(sql).await?;
    tx.query_opt(&stmt, &[&id, &tx.tenant_id()]).await
}
