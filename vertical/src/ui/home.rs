//! Dashboard and insights: read-only pages over the dashboard and the engines' findings.

use maud::html;

use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::insights::dashboard::{self, RecentQuote};
use crate::insights::findings::{self, Complementary, DeliveryRoute, Replenishment, StockAlert, SupplierPriceAlert};
use crate::ui::layout::{cell, table, Ctx};

pub async fn dashboard(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let d = dashboard::show(&tx).await?;
    tx.commit().await?;
    let stats = [
        ("dashboard.quotes_today", d.quotes_today.to_string()),
        ("dashboard.orders_today", d.orders_today.to_string()),
        ("dashboard.orders_week", d.orders_this_week.to_string()),
        ("dashboard.revenue_week", d.revenue_this_week.to_string()),
        ("dashboard.revenue_month", d.revenue_this_month.to_string()),
        ("dashboard.alerts", d.open_alerts.to_string()),
    ];
    let body = html! {
        ul class="stats" {
            @for (label, v) in stats {
                li { (t.s(label)) strong { (v) } }
            }
        }
        div class="actions" { a class="button" href="/quotes/new" { (t.s("quotes.new")) } }
        h2 { (t.s("dashboard.recent")) }
        (table(t, &d.recent_quotes, &[
            ("field.number", &|q: &RecentQuote| cell::text(&q.number)),
            ("field.client_name", &|q: &RecentQuote| cell::text(&q.client_name)),
            ("field.status", &|q: &RecentQuote| cell::status(t, &q.status)),
            ("field.total", &|q: &RecentQuote| cell::num(q.total)),
            ("field.created_at", &|q: &RecentQuote| cell::time(&q.created_at)),
        ], Some(&|q: &RecentQuote| format!("/quotes/{}", q.id))))
    };
    Ok(ctx.page(t.s("dashboard.title"), body))
}

pub async fn insights(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let alerts = findings::stock_alerts(&tx).await?;
    let repl = findings::replenishment(&tx).await?;
    let sugg = findings::complementary(&tx, None).await?;
    let prices = findings::supplier_price_alerts(&tx).await?;
    let routes = findings::delivery_routes(&tx).await?;
    tx.commit().await?;
    let body = html! {
        section aria-labelledby="h-alerts" {
            h2 id="h-alerts" { (t.s("insights.stock_alerts")) }
            (table(t, &alerts, &[
                ("field.product_name", &|a: &StockAlert| cell::text(&a.product_name)),
                ("field.on_hand", &|a: &StockAlert| cell::num(a.on_hand)),
                ("field.minimum", &|a: &StockAlert| cell::num(a.minimum)),
                ("field.days_to_rupture", &|a: &StockAlert| cell::opt(a.days_to_rupture)),
                ("field.risk", &|a: &StockAlert| cell::status(t, &a.risk)),
                ("field.oversold", &|a: &StockAlert| cell::yes_no(t, a.oversold)),
            ], None))
        }
        section aria-labelledby="h-repl" {
            h2 id="h-repl" { (t.s("insights.replenishment")) }
            (table(t, &repl, &[
                ("field.product_name", &|r: &Replenishment| cell::text(&r.product_name)),
                ("field.suggested_quantity", &|r: &Replenishment| cell::num(r.suggested_quantity)),
                ("field.supplier_name", &|r: &Replenishment| cell::opt(r.supplier_name.as_deref())),
                ("field.estimated_cost", &|r: &Replenishment| cell::opt(r.estimated_cost)),
            ], None))
        }
        section aria-labelledby="h-comp" {
            h2 id="h-comp" { (t.s("insights.complementary")) }
            (table(t, &sugg, &[
                ("field.product_name", &|c: &Complementary| cell::text(&c.product_name)),
                ("field.complementary_name", &|c: &Complementary| cell::text(&c.complementary_name)),
                ("field.frequency_percent", &|c: &Complementary| cell::num(c.frequency_percent)),
            ], None))
        }
        section aria-labelledby="h-price" {
            h2 id="h-price" { (t.s("insights.price_alerts")) }
            (table(t, &prices, &[
                ("field.supplier_name", &|a: &SupplierPriceAlert| cell::text(&a.supplier_name)),
                ("field.product_name", &|a: &SupplierPriceAlert| cell::text(&a.product_name)),
                ("field.previous_price", &|a: &SupplierPriceAlert| cell::opt(a.previous_price)),
                ("field.new_price", &|a: &SupplierPriceAlert| cell::num(a.new_price)),
                ("field.change_percent", &|a: &SupplierPriceAlert| cell::opt(a.change_percent)),
                ("field.alternative_supplier_name", &|a: &SupplierPriceAlert| cell::opt(a.alternative_supplier_name.as_deref())),
            ], None))
        }
        section aria-labelledby="h-routes" {
            h2 id="h-routes" { (t.s("insights.routes")) }
            (table(t, &routes, &[
                ("field.delivery_date", &|r: &DeliveryRoute| cell::num(r.delivery_date)),
                ("field.region", &|r: &DeliveryRoute| cell::text(&r.region)),
                ("field.stops", &|r: &DeliveryRoute| cell::num(r.stops.len())),
            ], None))
        }
    };
    Ok(ctx.page(t.s("insights.title"), body))
}
