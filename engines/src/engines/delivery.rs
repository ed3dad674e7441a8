//! Delivery engine: orders being prepared or out for delivery, grouped per delivery day and
//! region (the site's city and postal-code prefix) into routes whose stops are read in
//! postal-code order. The order's current state is read from the database rather than trusted
//! from the event, so events processed out of order by parallel workers still converge.

use uuid::Uuid;

#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;
use infra::events::OrderStatusChanged;
use infra::EventEnvelope;

/// Region key: city plus the first five digits of the postal code (a CEP's sector).
pub fn region(city: Option<&str>, postal_code: Option<&str>) -> String {
    let city = city.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("no city");
    let digits: String = postal_code.unwrap_or("").chars().filter(char::is_ascii_digit).take(5).collect();
    if digits.is_empty() {
        city.to_owned()
    } else {
        format!("{city} {digits}")
    }
}

pub async fn apply(tx: &Transaction<'_>, event: &EventEnvelope, change: &OrderStatusChanged) -> Result<(), EngineError> {
    let tenant = event.tenant_id;
    let order_id = change.order_id;
    let row = tx
        .query_opt(
            "SELECT o.status, s.city, s.postal_code, s.address FROM orders o \
             LEFT JOIN sites s ON s.id = o.site_id AND s.tenant_id = o.tenant_id WHERE o.id = $1 AND o.tenant_id = $2",
            &[&order_id, &tenant],
        )
        .await?;
    let Some(row) = row else { return Ok(()) };
    let status: String = row.get(0);
    let (city, postal, address): (Option<String>, Option<String>, Option<String>) = (row.get(1), row.get(2), row.get(3));
    if matches!(status.as_str(), "preparing" | "out_for_delivery") {
        let existing: Option<Uuid> =
            tx.query_opt("SELECT route_id FROM delivery_stops WHERE tenant_id = $1 AND order_id = $2", &[&tenant, &order_id]).await?.map(|r| r.get(0));
        if existing.is_some() {
            tx.exec("UPDATE delivery_stops SET status = $3 WHERE tenant_id = $1 AND order_id = $2", &[&tenant, &order_id, &status]).await?;
        } else {
            let day = event.occurred_at.date_naive();
            let region = region(city.as_deref(), postal.as_deref());
            let route: Uuid = tx
                .query_one(
                    "INSERT INTO delivery_routes (tenant_id, delivery_date, region) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, delivery_date, region) DO UPDATE SET updated_at = now() RETURNING id",
                    &[&tenant, &day, &region],
                )
                .await?
                .get(0);
            tx.exec(
                "INSERT INTO delivery_stops (tenant_id, route_id, order_id, postal_code, address, status) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&tenant, &route, &order_id, &postal, &address, &status],
            )
            .await?;
        }
    } else {
        tx.exec("DELETE FROM delivery_stops WHERE tenant_id = $1 AND order_id = $2", &[&tenant, &order_id]).await?;
        tx.exec("DELETE FROM delivery_routes r WHERE r.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM delivery_stops s WHERE s.route_id = r.id)", &[&tenant])
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_group_by_city_and_cep_prefix() {
        assert_eq!(super::region(Some("Campinas"), Some("13010-100")), "Campinas 13010");
        assert_eq!(super::region(Some("Campinas"), Some("13010-999")), "Campinas 13010");
        assert_eq!(super::region(Some(" "), None), "no city");
    }
}
