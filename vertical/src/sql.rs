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
