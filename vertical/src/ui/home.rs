//! Dashboard and insights: read-only pages over the API's dashboard and engines' insights.

use maud::html;

use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::routes::{dashboard, insights};
use crate::ui::api;
use crate::ui::layout::{table, Ctx};

pub async fn dashboard(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let d = api::value(dashboard::show(ctx.state, ctx.tenant).await).await?;
    let stats = [
        ("dashboard.quotes_today", &d["quotes_today"]),
        ("dashboard.orders_today", &d["orders_today"]),
        ("dashboard.orders_week", &d["orders_this_week"]),
        ("dashboard.revenue_week", &d["revenue_this_week"]),
        ("dashboard.revenue_month", &d["revenue_this_month"]),
        ("dashboard.alerts", &d["open_alerts"]),
    ];
    let recent = d["recent_quotes"].as_array().cloned().unwrap_or_default();
    let body = html! {
        ul class="stats" {
            @for (label, v) in stats {
                li { (t.s(label)) strong { (v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())) } }
            }
        }
        div class="actions" { a class="button" href="/quotes/new" { (t.s("quotes.new")) } }
        h2 { (t.s("dashboard.recent")) }
        (table(t, &recent, &[("number", "field.number"), ("client_name", "field.client_name"), ("status", "field.status"), ("total", "field.total"), ("created_at", "field.created_at")], Some(("/quotes/", "id"))))
    };
    Ok(ctx.page(t.s("dashboard.title"), body))
}

pub async fn insights(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let (s, tn) = (ctx.state, ctx.tenant);
    let t = ctx.t;
    let alerts = api::items(insights::stock_alerts(s, tn).await).await?;
    let repl = api::items(insights::replenishment(s, tn).await).await?;
    let sugg = api::items(insights::sales_suggestions(s, tn).await).await?;
    let prices = api::items(insights::supplier_price_alerts(s, tn).await).await?;
    let routes = api::items(insights::delivery_routes(s, tn).await).await?;
    let body = html! {
        section aria-labelledby="h-alerts" {
            h2 id="h-alerts" { (t.s("insights.stock_alerts")) }
            (table(t, &alerts, &[("product_name", "field.product_name"), ("on_hand", "field.on_hand"), ("minimum", "field.minimum"), ("days_to_rupture", "field.days_to_rupture"), ("risk", "field.risk"), ("oversold", "field.oversold")], None))
        }
        section aria-labelledby="h-repl" {
            h2 id="h-repl" { (t.s("insights.replenishment")) }
            (table(t, &repl, &[("product_name", "field.product_name"), ("suggested_quantity", "field.suggested_quantity"), ("supplier_name", "field.supplier_name"), ("estimated_cost", "field.estimated_cost")], None))
        }
        section aria-labelledby="h-comp" {
            h2 id="h-comp" { (t.s("insights.complementary")) }
            (table(t, &sugg, &[("product_name", "field.product_name"), ("complementary_name", "field.complementary_name"), ("frequency_percent", "field.frequency_percent")], None))
        }
        section aria-labelledby="h-price" {
            h2 id="h-price" { (t.s("insights.price_alerts")) }
            (table(t, &prices, &[("supplier_name", "field.supplier_name"), ("product_name", "field.product_name"), ("previous_price", "field.previous_price"), ("new_price", "field.new_price"), ("change_percent", "field.change_percent"), ("alternative_supplier_name", "field.alternative_supplier_name")], None))
        }
        section aria-labelledby="h-routes" {
            h2 id="h-routes" { (t.s("insights.routes")) }
            (table(t, &routes, &[("delivery_date", "field.delivery_date"), ("region", "field.region"), ("stops", "field.stops")], None))
        }
    };
    Ok(ctx.page(t.s("insights.title"), body))
}
