//! Quotes (list, the new-quote flow, the draft editor with totals, state changes) and orders
//! (list, detail, status changes along the allowed transitions).
//!
//! New quote: 1. choose the client, 2. the job site and terms — this saves a draft — then
//! 3. add products with quantities and discounts on the draft; every save recalculates the
//! totals on the server (the API's pricing); with JavaScript the totals also update as you type.

use std::collections::HashMap;

use http::{Method, StatusCode};
use maud::{html, Markup};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::routes::orders::OrderStatus;
use crate::routes::{clients, orders, products, quotes, sites};
use crate::ui::api;
use crate::ui::form::{self, field, Field, Form, Kind};
use crate::ui::layout::{cell, table, Ctx};
use crate::ui::people::search_bar;
use crate::ui::session::CSRF_FIELD;
use crate::ui::text::Text;

const QUOTE_STATUSES: &[&str] = &["draft", "sent", "approved", "converted", "cancelled"];
const ORDER_STATUSES: &[&str] = &["pending", "preparing", "out_for_delivery", "delivered", "cancelled"];

const HEADER_FIELDS: &[Field] = &[
    field("site_id", Kind::Choice, false),
    field("discount_percent", Kind::Decimal, false),
    field("valid_days", Kind::Integer, false),
    field("notes", Kind::Textarea, false),
];

/// A status filter (GET select) for a list page, with a created-between period when
/// `period` carries the current `(from, to)`.
fn status_filter(t: &Text, action: &str, statuses: &[&str], current: &str, period: Option<(&str, &str)>) -> Markup {
    html! {
        form method="get" action=(action) class="bar" {
            div class="field" {
                label for="status" { (t.s("field.status")) }
                select id="status" name="status" {
                    option value="" { (t.s("common.all")) }
                    @for s in statuses { option value=(s) selected[current == *s] { (t.dynamic(&format!("status.{s}"))) } }
                }
            }
            @if let Some((from, to)) = period {
                div class="field" { label for="from" { (t.s("field.from")) } input type="date" id="from" name="from" value=(from); }
                div class="field" { label for="to" { (t.s("field.to")) } input type="date" id="to" name="to" value=(to); }
            }
            button type="submit" class="secondary" { (t.s("common.search")) }
        }
    }
}

pub async fn quotes(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let status = q.get("status").map(String::as_str).filter(|s| QUOTE_STATUSES.contains(s)).unwrap_or("");
    let cursor = q.get("cursor").map(String::as_str).unwrap_or("");
    let from = q.get("from").map(String::as_str).unwrap_or("");
    let to = q.get("to").map(String::as_str).unwrap_or("");
    let page = api::value(quotes::list(ctx.state, ctx.tenant, &api::get(&[("status", status), ("from", from), ("to", to), ("cursor", cursor)])).await).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        div class="actions" { a class="button" href="/quotes/new" { (t.s("quotes.new")) } }
        (status_filter(t, "/quotes", QUOTE_STATUSES, status, Some((from, to))))
        (table(t, &rows, &[("number", "field.number"), ("status", "field.status"), ("subtotal", "field.subtotal"), ("total", "field.total"), ("created_at", "field.created_at")], Some(("/quotes/", "id"))))
        (crate::ui::people::more_link(t, "/quotes", &page, &[("status", status), ("from", from), ("to", to)]))
    };
    Ok(ctx.page(t.s("quotes.title"), body))
}

/// Steps 1 and 2 of a new quote; POST creates the draft.
pub async fn quote_new(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let (posted, client_id) = if ctx.req.method == Method::POST {
        let posted = match ctx.posted() {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let c = posted.get("client_id").and_then(|c| Uuid::parse_str(c).ok());
        (Some(posted), c)
    } else {
        (None, q.get("client_id").and_then(|c| Uuid::parse_str(c).ok()))
    };
    let Some(client_id) = client_id else {
        // Step 1: choose the client (a GET form: searchable and linkable).
        let search = q.get("search").map(String::as_str).unwrap_or("");
        let rows = api::items(clients::list(ctx.state, ctx.tenant, &api::get(&[("search", search), ("limit", "200")])).await).await?;
        let body = html! {
            h2 { (t.s("quotes.step_client")) }
            (search_bar(t, "/quotes/new", "field.search_clients", search, html! {}))
            @if rows.is_empty() { p class="hint" { (t.s("common.none")) " " a href="/clients/new" { (t.s("clients.new")) } } }
            form method="get" action="/quotes/new" class="card form" {
                div class="field" {
                    label for="f-client_id" { (t.s("field.client_id")) }
                    select id="f-client_id" name="client_id" required {
                        @for c in &rows { option value=(c["id"].as_str().unwrap_or("")) { (c["name"].as_str().unwrap_or("")) " (" (c["document"].as_str().unwrap_or("")) ")" } }
                    }
                }
                button type="submit" { (t.s("common.next")) }
            }
        };
        return Ok(ctx.page(t.s("quotes.new"), body));
    };
    let client = api::value(clients::get(ctx.state, ctx.tenant, client_id).await).await?;
    let cid = client_id.to_string();
    let site_rows = api::items(sites::list(ctx.state, ctx.tenant, &api::get(&[("client_id", &cid), ("limit", "200")])).await).await?;
    let site_choices: Vec<(String, String)> = site_rows
        .iter()
        .filter(|s| s["active"] == true)
        .map(|s| (s["id"].as_str().unwrap_or("").to_owned(), format!("{} — {}", s["name"].as_str().unwrap_or(""), s["city"].as_str().unwrap_or(""))))
        .collect();
    let mut form = Form::default();
    let mut status = StatusCode::OK;
    if let Some(posted) = posted {
        let mut body = form::to_json(HEADER_FIELDS, &posted);
        body["client_id"] = json!(client_id);
        body["items"] = json!([]);
        match api::value(quotes::create(ctx.state, ctx.tenant, &ctx.who, &api::body(Method::POST, &body)).await).await {
            Ok(v) => return Ok(ctx.done(&format!("/quotes/{}", v["id"].as_str().unwrap_or("")), t.s("quotes.created"))),
            Err(e) => {
                form = Form::with_posted(posted);
                form.fail(e, t);
                status = StatusCode::UNPROCESSABLE_ENTITY;
            }
        }
    } else {
        form.values.insert("valid_days".into(), "7".into());
        form.values.insert("discount_percent".into(), "0".into());
        if let Some((first, _)) = site_choices.first() {
            form.values.insert("site_id".into(), first.clone());
        }
    }
    form.choices = HashMap::from([("site_id", site_choices.clone())]);
    let body = html! {
        p { (t.s("field.client_id")) ": " strong { (client["name"].as_str().unwrap_or("")) } " · " a href="/quotes/new" { (t.s("common.back")) } }
        h2 { (t.s("quotes.step_site")) }
        @if site_choices.is_empty() {
            p class="hint" { (t.s("quotes.no_sites")) " " a href={ "/clients/" (client_id) "/sites/new" } { (t.s("sites.new")) } }
        }
        form method="post" action="/quotes/new" class="card form" {
            input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
            input type="hidden" name="client_id" value=(client_id);
            @if let Some(m) = form.general_error(HEADER_FIELDS) { p class="alert" role="alert" { (m) } }
            div class="grid" {
                @for f in HEADER_FIELDS {
                    (form::input(f, &form, t, (f.name == "discount_percent").then_some("field.header_discount")))
                }
            }
            button type="submit" { (t.s("quotes.create_draft")) }
        }
    };
    Ok(ctx.page_with_status(status, t.s("quotes.new"), body))
}

/// A quote: the draft editor (lines, totals, add products) or the read-only view, plus the
/// state changes it allows. `failed` carries a refused save with the user's input.
pub async fn quote(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let quote = api::value(quotes::get(ctx.state, ctx.tenant, id).await).await?;
    let client_id = quote["client_id"].as_str().and_then(|c| Uuid::parse_str(c).ok()).unwrap_or_default();
    let client = api::value(clients::get(ctx.state, ctx.tenant, client_id).await).await?;
    let status = quote["status"].as_str().unwrap_or("");
    let draft = status == "draft";
    let form = failed.unwrap_or_default();
    let items = quote["items"].as_array().cloned().unwrap_or_default();
    let kept = |name: String, stored: &Value| form.values.get(&name).cloned().unwrap_or_else(|| stored.as_str().unwrap_or("").to_owned());

    let lines = html! {
        div class="scroll" {
            table class="stack" {
                thead { tr {
                    th { (t.s("field.product_name")) } th class="num" { (t.s("field.unit_price")) } th { (t.s("field.quantity")) }
                    th { (t.s("field.discount_percent")) } th class="num" { (t.s("field.line_total")) }
                    @if draft { th { (t.s("quotes.remove")) } }
                } }
                tbody {
                    @for (i, it) in items.iter().enumerate() {
                        @let name = format!("{} — {} ({})", it["product_code"].as_str().unwrap_or(""), it["product_name"].as_str().unwrap_or(""), it["unit"].as_str().unwrap_or(""));
                        tr data-price=(it["unit_price"].as_str().unwrap_or("0")) {
                            td { (name) }
                            td class="num" { (it["unit_price"].as_str().unwrap_or("")) }
                            @if draft {
                                @let qerr = form.error_for(&format!("items[{i}].quantity"));
                                @let derr = form.error_for(&format!("items[{i}].discount_percent"));
                                td {
                                    input type="hidden" name={ "product_" (i) } value=(it["product_id"].as_str().unwrap_or(""));
                                    input type="hidden" name={ "price_" (i) } value=(it["unit_price"].as_str().unwrap_or(""));
                                    label class="sr" for={ "qty_" (i) } { (t.s("field.quantity")) ": " (name) }
                                    input id={ "qty_" (i) } name={ "qty_" (i) } inputmode="decimal" data-qty value=(kept(format!("qty_{i}"), &it["quantity"])) aria-invalid=[qerr.map(|_| "true")];
                                    @if let Some(m) = qerr { p class="err" { (m) } }
                                }
                                td {
                                    label class="sr" for={ "disc_" (i) } { (t.s("field.discount_percent")) }
                                    input id={ "disc_" (i) } name={ "disc_" (i) } inputmode="decimal" data-disc value=(kept(format!("disc_{i}"), &it["discount_percent"])) aria-invalid=[derr.map(|_| "true")];
                                    @if let Some(m) = derr { p class="err" { (m) } }
                                }
                            } @else {
                                td { (it["quantity"].as_str().unwrap_or("")) }
                                td { (it["discount_percent"].as_str().unwrap_or("")) }
                            }
                            td class="num" data-line { (it["total"].as_str().unwrap_or("")) }
                            @if draft { td { label { input type="checkbox" name={ "remove_" (i) } data-remove; span class="sr" { " " (t.s("quotes.remove")) " " (name) } } } }
                        }
                    }
                }
            }
        }
    };
    let header_discount = kept("discount_percent".into(), &quote["discount_percent"]);
    let totals = html! {
        div class="totals card" aria-live="polite" {
            div { span { (t.s("field.subtotal")) } span data-subtotal id="subtotal" { (quote["subtotal"].as_str().unwrap_or("")) } }
            @if draft {
                div {
                    label for="discount_percent" { (t.s("field.header_discount")) }
                    input id="discount_percent" name="discount_percent" inputmode="decimal" data-header-disc value=(header_discount);
                }
            } @else {
                div { span { (t.s("field.header_discount")) } span { (quote["discount_percent"].as_str().unwrap_or("")) } }
            }
            div class="grand" { span { (t.s("field.total")) } span data-total id="total" { (quote["total"].as_str().unwrap_or("")) } }
        }
    };
    let editor = if draft {
        let search = ctx.req.query_params().get("search").cloned().unwrap_or_default();
        let found = api::items(products::list(ctx.state, ctx.tenant, &api::get(&[("search", &search), ("active", "true"), ("limit", "20")])).await).await?;
        html! {
            form method="post" action={ "/quotes/" (id) } data-live-totals {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                (lines)
                (totals)
                p class="hint" { (t.s("quotes.estimate")) }
                button type="submit" { (t.s("quotes.save_recalc")) }
            }
            h2 id="add" { (t.s("quotes.add_product")) }
            (search_bar(t, &format!("/quotes/{id}#add"), "field.search_products", &search, html! {}))
            div class="scroll" {
                table {
                    tbody {
                        @for p in &found {
                            @let pid = p["id"].as_str().unwrap_or("");
                            tr {
                                td { (p["code"].as_str().unwrap_or("")) " — " (p["name"].as_str().unwrap_or("")) }
                                td class="num" { (p["base_price"].as_str().unwrap_or("")) }
                                td {
                                    form method="post" action={ "/quotes/" (id) "/add" } class="bar" {
                                        input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                                        input type="hidden" name="product_id" value=(pid);
                                        div class="field" { label for={ "q-" (pid) } { (t.s("field.quantity")) } input id={ "q-" (pid) } name="quantity" inputmode="decimal" required value="1"; }
                                        div class="field" { label for={ "d-" (pid) } { (t.s("field.discount_percent")) } input id={ "d-" (pid) } name="discount_percent" inputmode="decimal" value="0"; }
                                        button type="submit" class="secondary" { (t.s("quotes.add")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    } else {
        html! { (lines) (totals) }
    };
    let mut actions: Vec<(&str, &str, &str)> = Vec::new();
    match status {
        "draft" => actions.push(("send", "quotes.send", "")),
        "sent" => actions.push(("approve", "quotes.approve", "")),
        "approved" => actions.push(("convert", "quotes.convert", "")),
        _ => {}
    }
    if matches!(status, "draft" | "sent" | "approved") {
        actions.push(("cancel", "quotes.cancel", "danger"));
    }
    let code = if form.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = html! {
        @if let Some((_, m)) = &form.error { p class="alert" role="alert" { (m) } }
        p {
            (cell(t, "status", &quote["status"])) " · "
            a href={ "/clients/" (client_id) } { (client["name"].as_str().unwrap_or("")) }
            @if let Some(order) = quote["order_id"].as_str() { " · " a href={ "/orders/" (order) } { (t.s("quotes.order")) } }
        }
        (editor)
        div class="actions" {
            @for (action, label, class) in &actions {
                form method="post" action={ "/quotes/" (id) "/" (action) } data-confirm=[(*action == "cancel").then(|| t.s("quotes.cancel"))] {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                    button type="submit" class=(class) { (t.s(label)) }
                }
            }
        }
    };
    Ok(ctx.page_with_status(code, &format!("{} {}", t.s("quotes.one"), quote["number"].as_str().unwrap_or("")), body))
}

/// The API body that replaces a draft: its stored header with `discount` and `items`.
fn replace_body(quote: &Value, discount: &str, items: Vec<Value>) -> Value {
    json!({
        "client_id": quote["client_id"], "site_id": quote["site_id"], "valid_days": quote["valid_days"], "notes": quote["notes"],
        "discount_percent": if discount.trim().is_empty() { Value::Null } else { json!(discount.trim()) },
        "items": items,
    })
}

/// The draft's lines as API input (stored unit prices kept, so saving never reprices a line).
fn stored_items(quote: &Value) -> Vec<Value> {
    quote["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|i| json!({ "product_id": i["product_id"], "quantity": i["quantity"], "unit_price": i["unit_price"], "discount_percent": i["discount_percent"] }))
        .collect()
}

async fn replace(ctx: &Ctx<'_>, id: Uuid, posted: HashMap<String, String>, body: Value, flash: &str) -> ApiResult<HttpResponse> {
    match api::value(quotes::replace(ctx.state, ctx.tenant, id, &api::body(Method::PUT, &body)).await).await {
        Ok(_) => Ok(ctx.done(&format!("/quotes/{id}"), flash)),
        Err(e) => {
            let mut f = Form::with_posted(posted);
            f.fail(e, ctx.t);
            quote(ctx, id, Some(f)).await
        }
    }
}

/// Saves the draft's quantities, discounts and removals; the API recalculates the totals.
pub async fn quote_save(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let current = api::value(quotes::get(ctx.state, ctx.tenant, id).await).await?;
    let mut items = Vec::new();
    for i in 0.. {
        let Some(product) = posted.get(&format!("product_{i}")) else { break };
        if posted.contains_key(&format!("remove_{i}")) {
            continue;
        }
        let get = |k: &str| posted.get(&format!("{k}_{i}")).map(|v| v.trim().to_owned()).unwrap_or_default();
        let disc = get("disc");
        items.push(json!({ "product_id": product, "quantity": get("qty"), "unit_price": get("price"),
                           "discount_percent": if disc.is_empty() { Value::Null } else { json!(disc) } }));
    }
    let discount = posted.get("discount_percent").cloned().unwrap_or_default();
    let body = replace_body(&current, &discount, items);
    replace(ctx, id, posted, body, ctx.t.s("quotes.saved")).await
}

/// Adds a product line to the draft.
pub async fn quote_add(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let current = api::value(quotes::get(ctx.state, ctx.tenant, id).await).await?;
    let mut items = stored_items(&current);
    let get = |k: &str| posted.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let disc = get("discount_percent");
    items.push(json!({ "product_id": get("product_id"), "quantity": get("quantity"),
                       "discount_percent": if disc.is_empty() { Value::Null } else { json!(disc) } }));
    let discount = current["discount_percent"].as_str().unwrap_or("0").to_owned();
    let body = replace_body(&current, &discount, items);
    // The posted discount belongs to the new line, not to the quote header.
    let mut kept = posted;
    kept.remove("discount_percent");
    replace(ctx, id, kept, body, ctx.t.s("quotes.item_added")).await
}

/// Send, approve, cancel, or convert to an order.
pub async fn quote_action(ctx: &Ctx<'_>, id: Uuid, action: &str) -> ApiResult<HttpResponse> {
    if let Err(refused) = ctx.posted() {
        return Ok(refused);
    }
    let (s, tn, t) = (ctx.state, ctx.tenant, ctx.t);
    let (result, flash) = match action {
        "send" => (quotes::transition(s, tn, id, quotes::QuoteAction::Send).await, "quotes.sent"),
        "approve" => (quotes::transition(s, tn, id, quotes::QuoteAction::Approve).await, "quotes.approved"),
        "cancel" => (quotes::transition(s, tn, id, quotes::QuoteAction::Cancel).await, "quotes.cancelled"),
        "convert" => (orders::from_quote(s, tn, id).await, "quotes.converted"),
        _ => return Err(crate::error::ApiError::not_found("page")),
    };
    match api::value(result).await {
        Ok(v) if action == "convert" => Ok(ctx.done(&format!("/orders/{}", v["id"].as_str().unwrap_or("")), t.s(flash))),
        Ok(_) => Ok(ctx.done(&format!("/quotes/{id}"), t.s(flash))),
        Err(e) => {
            let mut f = Form::default();
            f.fail(e, t);
            quote(ctx, id, Some(f)).await
        }
    }
}

pub async fn orders(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let status = q.get("status").map(String::as_str).filter(|s| ORDER_STATUSES.contains(s)).unwrap_or("");
    let cursor = q.get("cursor").map(String::as_str).unwrap_or("");
    let page = api::value(orders::list(ctx.state, ctx.tenant, &api::get(&[("status", status), ("cursor", cursor)])).await).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (status_filter(t, "/orders", ORDER_STATUSES, status, None))
        (table(t, &rows, &[("number", "field.number"), ("status", "field.status"), ("total", "field.total"), ("created_at", "field.created_at")], Some(("/orders/", "id"))))
        (crate::ui::people::more_link(t, "/orders", &page, &[("status", status)]))
    };
    Ok(ctx.page(t.s("orders.title"), body))
}

pub async fn order(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    order_page(ctx, id, None).await
}

async fn order_page(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let o = api::value(orders::get(ctx.state, ctx.tenant, id).await).await?;
    let status = o["status"].as_str().and_then(OrderStatus::parse);
    let next = status.map(OrderStatus::next).unwrap_or(&[]);
    let items = o["items"].as_array().cloned().unwrap_or_default();
    let client_id = o["client_id"].as_str().unwrap_or("");
    let body = html! {
        @if let Some((_, m)) = failed.as_ref().and_then(|f| f.error.as_ref()) { p class="alert" role="alert" { (m) } }
        p { (cell(t, "status", &o["status"])) " · " a href={ "/clients/" (client_id) } { (t.s("field.client_id")) } " · " a href={ "/quotes/" (o["quote_id"].as_str().unwrap_or("")) } { (t.s("nav.quotes")) } }
        (table(t, &items, &[("product_name", "field.product_name"), ("quantity", "field.quantity"), ("unit_price", "field.unit_price"), ("discount_percent", "field.discount_percent"), ("total", "field.line_total")], None))
        div class="totals card" {
            div { span { (t.s("field.subtotal")) } span { (o["subtotal"].as_str().unwrap_or("")) } }
            div { span { (t.s("field.header_discount")) } span { (o["discount_percent"].as_str().unwrap_or("")) } }
            div class="grand" { span { (t.s("field.total")) } span id="total" { (o["total"].as_str().unwrap_or("")) } }
        }
        @if !next.is_empty() {
            div class="actions" {
                @for to in next {
                    form method="post" action={ "/orders/" (id) "/status" } data-confirm=[(*to == OrderStatus::Cancelled).then(|| t.s("status.cancelled"))] {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                        input type="hidden" name="status" value=(to.as_str());
                        button type="submit" class=(if *to == OrderStatus::Cancelled { "danger" } else { "" }) {
                            (t.s("orders.to")) ": " (t.dynamic(&format!("status.{}", to.as_str())))
                        }
                    }
                }
            }
        }
    };
    let code = if failed.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok(ctx.page_with_status(code, &format!("{} {}", t.s("orders.one"), o["number"].as_str().unwrap_or("")), body))
}

pub async fn order_status(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let body = json!({ "status": posted.get("status").cloned().unwrap_or_default() });
    match api::value(orders::update(ctx.state, ctx.tenant, id, &api::body(Method::PATCH, &body)).await).await {
        Ok(_) => Ok(ctx.done(&format!("/orders/{id}"), ctx.t.s("orders.status_changed"))),
        Err(e) => {
            let mut f = Form::default();
            f.fail(e, ctx.t);
            order_page(ctx, id, Some(f)).await
        }
    }
}
