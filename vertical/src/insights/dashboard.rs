//! The day at a glance. Periods are calendar days/weeks/months in UTC.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::DomainResult;
use infra::db::TenantTx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    pub quotes_today: i64,
    pub orders_today: i64,
    pub orders_this_week: i64,
    /// Total of orders delivered this week (Monday to now).
    #[schema(value_type = String)]
    pub revenue_this_week: Decimal,
    #[schema(value_type = String)]
    pub revenue_this_month: Decimal,
    /// Active stock alerts.
    pub open_alerts: i64,
    pub recent_quotes: Vec<RecentQuote>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecentQuote {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub client_id: Uuid,
    pub client_name: String,
    #[schema(value_type = String)]
    pub total: Decimal,
    pub created_at: DateTime<Utc>,
}

pub async fn show(tx: &TenantTx) -> DomainResult<Dashboard> {
    let tenant_id = tx.tenant_id();
    let row = tx
        .query_one(
            "SELECT \
               (SELECT count(*) FROM quotes WHERE tenant_id = $1 AND created_at >= date_trunc('day', now())), \
               (SELECT count(*) FROM orders WHERE tenant_id = $1 AND created_at >= date_trunc('day', now())), \
               (SELECT count(*) FROM orders WHERE tenant_id = $1 AND created_at >= date_trunc('week', now())), \
               (SELECT coalesce(sum(total), 0) FROM orders WHERE tenant_id = $1 AND status = 'delivered' AND delivered_at >= date_trunc('week', now())), \
               (SELECT coalesce(sum(total), 0) FROM orders WHERE tenant_id = $1 AND status = 'delivered' AND delivered_at >= date_trunc('month', now())), \
               (SELECT count(*) FROM stock_alerts WHERE tenant_id = $1 AND status = 'active')",
            &[&tenant_id],
        )
        .await?;
    let recent = tx
        .query(
            "SELECT q.id, q.number, q.status, q.client_id, c.name, q.total, q.created_at FROM quotes q \
             JOIN clients c ON c.id = q.client_id AND c.tenant_id = q.tenant_id \
             WHERE q.tenant_id = $1 ORDER BY q.created_at DESC LIMIT 5",
            &[&tenant_id],
        )
        .await?;
    let dashboard = Dashboard {
        quotes_today: row.get(0),
        orders_today: row.get(1),
        orders_this_week: row.get(2),
        revenue_this_week: row.get(3),
        revenue_this_month: row.get(4),
        open_alerts: row.get(5),
        recent_quotes: recent
            .iter()
            .map(|r| RecentQuote {
                id: r.get(0),
                number: r.get(1),
                status: r.get(2),
                client_id: r.get(3),
                client_name: r.get(4),
                total: r.get(5),
                created_at: r.get(6),
            })
            .collect(),
    };
    Ok(dashboard)
}
