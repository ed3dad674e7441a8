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

use crate::catalog::products::{self, ProductFilter};
use crate::domain::PageRequest;
use crate::error::{ApiError, ApiResult};
use crate::http::HttpResponse;
use crate::people::clients::{self, ClientFilter};
use crate::people::sites::{self, SiteFilter};
use crate::sales::lines::LineItem;
use crate::sales::orders::{self, Conversion, Order, OrderChanges, OrderFilter, OrderStatus};
use crate::sales::quotes::{self, Quote, QuoteAction, QuoteFilter, QuoteInput, QuoteStatus};
use crate::ui::form::{self, field, Field, Form, Kind};
use crate::ui::layout::{cell, table, Ctx};
use crate::ui::people::{more_link, page_request, search_bar, search_term};
use crate::ui::session::CSRF_FIELD;
use crate::ui::text::Text;

const QUOTE_STATUSES: [&str; 5] = ["draft", "sent", "approved", "converted", "cancelled"];
const ORDER_STATUSES: [&str; 5] = ["pending", "preparing", "out_for_delivery", "delivered", "cancelled"];

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
    let status = q.get("status").and_then(|s| QuoteStatus::parse(s));
    let date = |k: &str| q.get(k).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).filter(crate::domain::validate::plausible_date);
    let (from, to) = (date("from"), date("to"));
    let filter = QuoteFilter { status, client_id: None, from, to };
    let tx = ctx.tx().await?;
    let page = quotes::list(&tx, &filter, &page_request(ctx, PageRequest::DEFAULT_LIMIT)).await?;
    tx.commit().await?;
    let (status, from, to) =
        (status.map(QuoteStatus::as_str).unwrap_or(""), from.map(|d| d.to_string()).unwrap_or_default(), to.map(|d| d.to_string()).unwrap_or_default());
    let body = html! {
        div class="actions" { a class="button" href="/quotes/new" { (t.s("quotes.new")) } }
        (status_filter(t, "/quotes", &QUOTE_STATUSES, status, Some((&from, &to))))
        (table(t, &page.items, &[
            ("field.number", &|q: &Quote| cell::text(&q.number)),
            ("field.status", &|q: &Quote| cell::status(t, q.status.as_str())),
            ("field.subtotal", &|q: &Quote| cell::num(q.subtotal)),
            ("field.total", &|q: &Quote| cell::num(q.total)),
            ("field.created_at", &|q: &Quote| cell::time(&q.created_at)),
        ], Some(&|q: &Quote| format!("/quotes/{}", q.id))))
        (more_link(t, "/quotes", &page, &[("status", status), ("from", &from), ("to", &to)]))
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
        let (search, pattern) = search_term(ctx);
        let tx = ctx.tx().await?;
        let rows = clients::list(&tx, &ClientFilter { search: pattern }, &PageRequest::first(200)).await?.items;
        tx.commit().await?;
        let body = html! {
            h2 { (t.s("quotes.step_client")) }
            (search_bar(t, "/quotes/new", "field.search_clients", &search, html! {}))
            @if rows.is_empty() { p class="hint" { (t.s("common.none")) " " a href="/clients/new" { (t.s("clients.new")) } } }
            form method="get" action="/quotes/new" class="card form" {
                div class="field" {
                    label for="f-client_id" { (t.s("field.client_id")) }
                    select id="f-client_id" name="client_id" required {
                        @for c in &rows { option value=(c.id) { (c.name) " (" (c.document) ")" } }
                    }
                }
                button type="submit" { (t.s("common.next")) }
            }
        };
        return Ok(ctx.page(t.s("quotes.new"), body));
    };
    let tx = ctx.tx().await?;
    let client = clients::get(&tx, client_id).await?;
    let site_rows = sites::list(&tx, &SiteFilter { client_id: Some(client_id) }, &PageRequest::first(200)).await?.items;
    tx.commit().await?;
    let site_choices: Vec<(String, String)> =
        site_rows.iter().filter(|s| s.active).map(|s| (s.id.to_string(), format!("{} — {}", s.name, s.address.city.as_deref().unwrap_or("")))).collect();
    let mut form = Form::default();
    let mut status = StatusCode::OK;
    if let Some(posted) = posted {
        let created = async {
            let mut body = form::to_json(HEADER_FIELDS, &posted);
            body["client_id"] = json!(client_id);
            body["items"] = json!([]);
            let input: QuoteInput = crate::http::parse_value(body)?;
            let tx = ctx.tx().await?;
            let quote = quotes::create(&tx, &ctx.who, input).await?;
            tx.commit().await?;
            Ok::<_, ApiError>(quote)
        };
        match created.await {
            Ok(quote) => return Ok(ctx.done(&format!("/quotes/{}", quote.id), t.s("quotes.created"))),
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
        p { (t.s("field.client_id")) ": " strong { (client.name) } " · " a href="/quotes/new" { (t.s("common.back")) } }
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

/// The UI's label of a state change (the API's actions plus converting to an order).
fn action_label(action: &str) -> &'static str {
    match action {
        "send" => "quotes.send",
        "approve" => "quotes.approve",
        "convert" => "quotes.convert",
        _ => "quotes.cancel",
    }
}

/// A quote: the draft editor (lines, totals, add products) or the read-only view, plus the
/// state changes it allows. `failed` carries a refused save with the user's input.
pub async fn quote(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let quote = quotes::get(&tx, id).await?;
    let client = clients::get(&tx, quote.client_id).await?;
    tx.commit().await?;
    let client_id = quote.client_id;
    let draft = quote.status == QuoteStatus::Draft;
    let form = failed.unwrap_or_default();
    let kept = |name: String, stored: String| form.values.get(&name).cloned().unwrap_or(stored);

    let lines = html! {
        div class="scroll" {
            table class="stack" {
                thead { tr {
                    th { (t.s("field.product_name")) } th class="num" { (t.s("field.unit_price")) } th { (t.s("field.quantity")) }
                    th { (t.s("field.discount_percent")) } th class="num" { (t.s("field.line_total")) }
                    @if draft { th { (t.s("quotes.remove")) } }
                } }
                tbody {
                    @for (i, it) in quote.items.iter().enumerate() {
                        @let name = format!("{} — {} ({})", it.product_code, it.product_name, it.unit);
                        tr data-price=(it.unit_price) {
                            td { (name) }
                            td class="num" { (it.unit_price) }
                            @if draft {
                                @let qerr = form.error_for(&format!("items[{i}].quantity"));
                                @let derr = form.error_for(&format!("items[{i}].discount_percent"));
                                td {
                                    input type="hidden" name={ "product_" (i) } value=(it.product_id);
                                    input type="hidden" name={ "price_" (i) } value=(it.unit_price);
                                    label class="sr" for={ "qty_" (i) } { (t.s("field.quantity")) ": " (name) }
                                    input id={ "qty_" (i) } name={ "qty_" (i) } inputmode="decimal" data-qty value=(kept(format!("qty_{i}"), it.quantity.to_string())) aria-invalid=[qerr.map(|_| "true")];
                                    @if let Some(m) = qerr { p class="err" { (m) } }
                                }
                                td {
                                    label class="sr" for={ "disc_" (i) } { (t.s("field.discount_percent")) }
                                    input id={ "disc_" (i) } name={ "disc_" (i) } inputmode="decimal" data-disc value=(kept(format!("disc_{i}"), it.discount_percent.to_string())) aria-invalid=[derr.map(|_| "true")];
                                    @if let Some(m) = derr { p class="err" { (m) } }
                                }
                            } @else {
                                td { (it.quantity) }
                                td { (it.discount_percent) }
                            }
                            td class="num" data-line { (it.total) }
                            @if draft { td { label { input type="checkbox" name={ "remove_" (i) } data-remove; span class="sr" { " " (t.s("quotes.remove")) " " (name) } } } }
                        }
                    }
                }
            }
        }
    };
    let header_discount = kept("discount_percent".into(), quote.discount_percent.to_string());
    let totals = html! {
        div class="totals card" aria-live="polite" {
            div { span { (t.s("field.subtotal")) } span data-subtotal id="subtotal" { (quote.subtotal) } }
            @if draft {
                div {
                    label for="discount_percent" { (t.s("field.header_discount")) }
                    input id="discount_percent" name="discount_percent" inputmode="decimal" data-header-disc value=(header_discount);
                }
            } @else {
                div { span { (t.s("field.header_discount")) } span { (quote.discount_percent) } }
            }
            div class="grand" { span { (t.s("field.total")) } span data-total id="total" { (quote.total) } }
        }
    };
    let editor = if draft {
        let (search, pattern) = search_term(ctx);
        let found =
            products::list(&ctx.state.db().await?, ctx.tenant.id, &ProductFilter { search: pattern, active: Some(true) }, &PageRequest::first(20)).await?.items;
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
                            @let pid = p.id;
                            tr {
                                td { (p.code) " — " (p.name) }
                                td class="num" { (p.base_price) }
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
    // What the state machine allows, with converting offered where the quote is approved.
    let mut actions: Vec<&str> = quote.status.actions().iter().filter(|a| **a != QuoteAction::Cancel).map(|a| a.as_str()).collect();
    if quote.status == QuoteStatus::Approved {
        actions.push("convert");
    }
    if quote.status.actions().contains(&QuoteAction::Cancel) {
        actions.push("cancel");
    }
    let code = if form.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = html! {
        @if let Some((_, m)) = &form.error { p class="alert" role="alert" { (m) } }
        p {
            (cell::status(t, quote.status.as_str())) " · "
            a href={ "/clients/" (client_id) } { (client.name) }
            @if let Some(order) = quote.order_id { " · " a href={ "/orders/" (order) } { (t.s("quotes.order")) } }
        }
        (editor)
        div class="actions" {
            @for action in &actions {
                form method="post" action={ "/quotes/" (id) "/" (action) } data-confirm=[(*action == "cancel").then(|| t.s("quotes.cancel"))] {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                    button type="submit" class=(if *action == "cancel" { "danger" } else { "" }) { (t.s(action_label(action))) }
                }
            }
        }
    };
    Ok(ctx.page_with_status(code, &format!("{} {}", t.s("quotes.one"), quote.number), body))
}

/// The input that replaces a draft: its stored header with `discount` and `items` as posted
/// (decoded like the API's body, so a bad number is refused naming its line).
fn replace_body(quote: &Quote, discount: &str, items: Vec<Value>) -> Value {
    json!({
        "client_id": quote.client_id, "site_id": quote.site_id, "valid_days": quote.valid_days, "notes": quote.notes,
        "discount_percent": if discount.trim().is_empty() { Value::Null } else { json!(discount.trim()) },
        "items": items,
    })
}

/// The draft's lines as input (stored unit prices kept, so saving never reprices a line).
fn stored_items(quote: &Quote) -> Vec<Value> {
    quote
        .items
        .iter()
        .map(|i: &LineItem| json!({ "product_id": i.product_id, "quantity": i.quantity, "unit_price": i.unit_price, "discount_percent": i.discount_percent }))
        .collect()
}

async fn replace(ctx: &Ctx<'_>, id: Uuid, posted: HashMap<String, String>, body: Value, flash: &str) -> ApiResult<HttpResponse> {
    let saved = async {
        let input: QuoteInput = crate::http::parse_value(body)?;
        let tx = ctx.tx().await?;
        quotes::replace(&tx, id, input).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done(&format!("/quotes/{id}"), flash)),
        Err(e) => {
            let mut f = Form::with_posted(posted);
            f.fail(e, ctx.t);
            quote(ctx, id, Some(f)).await
        }
    }
}

async fn current_quote(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<Quote> {
    let tx = ctx.tx().await?;
    let quote = quotes::get(&tx, id).await?;
    tx.commit().await?;
    Ok(quote)
}

/// Saves the draft's quantities, discounts and removals; the service recalculates the totals.
pub async fn quote_save(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let current = current_quote(ctx, id).await?;
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
    let current = current_quote(ctx, id).await?;
    let mut items = stored_items(&current);
    let get = |k: &str| posted.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let disc = get("discount_percent");
    items.push(json!({ "product_id": get("product_id"), "quantity": get("quantity"),
                       "discount_percent": if disc.is_empty() { Value::Null } else { json!(disc) } }));
    let discount = current.discount_percent.to_string();
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
    let t = ctx.t;
    let flash = match action {
        "send" => "quotes.sent",
        "approve" => "quotes.approved",
        "cancel" => "quotes.cancelled",
        "convert" => "quotes.converted",
        _ => return Err(ApiError::not_found("page")),
    };
    let done = async {
        let tx = ctx.tx().await?;
        let to = match QuoteAction::parse(action) {
            Some(step) => {
                quotes::transition(&tx, id, step).await?;
                format!("/quotes/{id}")
            }
            None => match orders::from_quote(&tx, id).await? {
                Conversion::Created(order) | Conversion::Existing(order) => format!("/orders/{}", order.id),
            },
        };
        tx.commit().await?;
        Ok::<_, ApiError>(to)
    };
    match done.await {
        Ok(to) => Ok(ctx.done(&to, t.s(flash))),
        Err(e) => {
            let mut f = Form::default();
            f.fail(e, t);
            quote(ctx, id, Some(f)).await
        }
    }
}

pub async fn orders(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let status = ctx.req.query_params().get("status").and_then(|s| OrderStatus::parse(s));
    let tx = ctx.tx().await?;
    let page = orders::list(&tx, &OrderFilter { status, client_id: None }, &page_request(ctx, PageRequest::DEFAULT_LIMIT)).await?;
    tx.commit().await?;
    let status = status.map(OrderStatus::as_str).unwrap_or("");
    let body = html! {
        (status_filter(t, "/orders", &ORDER_STATUSES, status, None))
        (table(t, &page.items, &[
            ("field.number", &|o: &Order| cell::text(&o.number)),
            ("field.status", &|o: &Order| cell::status(t, o.status.as_str())),
            ("field.total", &|o: &Order| cell::num(o.total)),
            ("field.created_at", &|o: &Order| cell::time(&o.created_at)),
        ], Some(&|o: &Order| format!("/orders/{}", o.id))))
        (more_link(t, "/orders", &page, &[("status", status)]))
    };
    Ok(ctx.page(t.s("orders.title"), body))
}

pub async fn order(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    order_page(ctx, id, None).await
}

async fn order_page(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let o = orders::get(&tx, id).await?;
    tx.commit().await?;
    let next = o.status.next();
    let body = html! {
        @if let Some((_, m)) = failed.as_ref().and_then(|f| f.error.as_ref()) { p class="alert" role="alert" { (m) } }
        p { (cell::status(t, o.status.as_str())) " · " a href={ "/clients/" (o.client_id) } { (t.s("field.client_id")) } " · " a href={ "/quotes/" (o.quote_id) } { (t.s("nav.quotes")) } }
        (table(t, &o.items, &[
            ("field.product_name", &|i: &LineItem| cell::text(&i.product_name)),
            ("field.quantity", &|i: &LineItem| cell::num(i.quantity)),
            ("field.unit_price", &|i: &LineItem| cell::num(i.unit_price)),
            ("field.discount_percent", &|i: &LineItem| cell::num(i.discount_percent)),
            ("field.line_total", &|i: &LineItem| cell::num(i.total)),
        ], None))
        div class="totals card" {
            div { span { (t.s("field.subtotal")) } span { (o.subtotal) } }
            div { span { (t.s("field.header_discount")) } span { (o.discount_percent) } }
            div class="grand" { span { (t.s("field.total")) } span id="total" { (o.total) } }
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
    Ok(ctx.page_with_status(code, &format!("{} {}", t.s("orders.one"), o.number), body))
}

pub async fn order_status(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let saved = async {
        let changes: OrderChanges = crate::http::parse_value(json!({ "status": posted.get("status").cloned().unwrap_or_default() }))?;
        let tx = ctx.tx().await?;
        orders::update(&tx, id, changes).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done(&format!("/orders/{id}"), ctx.t.s("orders.status_changed"))),
        Err(e) => {
            let mut f = Form::default();
            f.fail(e, ctx.t);
            order_page(ctx, id, Some(f)).await
        }
    }
}
