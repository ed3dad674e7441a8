//! `/api/v1/insights/*`: what the engines computed, read-only (see [`crate::insights::findings`]).

use http::StatusCode;
use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::error::ApiResult;
use crate::http::{json, HttpResponse, Page};
use crate::insights::findings::{self, Complementary, DeliveryRoute, Replenishment, StockAlert, SupplierPriceAlert};
use crate::state::AppState;

/// Runs one findings read in a tenant transaction and answers it as a single page.
macro_rules! findings_page {
    ($state:expr, $tenant:expr, $read:expr) => {{
        let tx = $state.tenant_tx($tenant).await?;
        let items = $read(&tx).await?;
        tx.commit().await?;
        Ok(json(StatusCode::OK, &Page::all(items)))
    }};
}

#[utoipa::path(get, path = "/api/v1/insights/stock-alerts", tag = "insights", responses((status = 200, body = Page<StockAlert>)))]
pub async fn stock_alerts(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, findings::stock_alerts)
}

#[utoipa::path(get, path = "/api/v1/insights/replenishment", tag = "insights", responses((status = 200, body = Page<Replenishment>)))]
pub async fn replenishment(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, findings::replenishment)
}

#[utoipa::path(get, path = "/api/v1/insights/sales-suggestions", tag = "insights", responses((status = 200, body = Page<Complementary>)))]
pub async fn sales_suggestions(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, |tx| findings::complementary(tx, None))
}

#[utoipa::path(get, path = "/api/v1/insights/complementary/{product_id}", tag = "insights", params(("product_id" = Uuid, Path)),
    responses((status = 200, body = Page<Complementary>)))]
pub async fn complementary(state: &AppState, tenant: &Tenant, product_id: Uuid) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, |tx| findings::complementary(tx, Some(product_id)))
}

#[utoipa::path(get, path = "/api/v1/insights/supplier-price-alerts", tag = "insights", responses((status = 200, body = Page<SupplierPriceAlert>)))]
pub async fn supplier_price_alerts(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, findings::supplier_price_alerts)
}

#[utoipa::path(get, path = "/api/v1/insights/delivery-routes", tag = "insights", responses((status = 200, body = Page<DeliveryRoute>)))]
pub async fn delivery_routes(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    findings_page!(state, tenant, findings::delivery_routes)
}
