//! Products, stock (levels, receipts, adjustments) and suppliers with their prices. Changes are
//! admin-only in the API; the pages hide the forms from sellers and the API refuses anyway.

use std::collections::HashMap;

use http::{Method, StatusCode};
use maud::{html, Markup};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::routes::{products, stock, suppliers};
use crate::ui::api;
use crate::ui::form::{self, field, Field, Form, Kind};
use crate::ui::layout::{table, Ctx, FormPage};
use crate::ui::people::{more_link, search_bar};
use crate::ui::session::CSRF_FIELD;
use infra::files::{FileKey, Variant};

const PRODUCT_FIELDS: &[Field] = &[
    field("code", Kind::Text, true),
    field("name", Kind::Text, true),
    field("unit", Kind::Select("unit", &["UN", "KG", "M", "M2", "M3"]), true),
    field("base_price", Kind::Decimal, true),
    field("description", Kind::Textarea, false),
    field("active", Kind::Checkbox, false),
];

const RECEIPT_FIELDS: &[Field] = &[
    field("product_id", Kind::Choice, true),
    field("quantity", Kind::Decimal, true),
    field("supplier_id", Kind::Choice, false),
    field("unit_cost", Kind::Decimal, false),
    field("reason", Kind::Text, false),
];

const ADJUSTMENT_FIELDS: &[Field] = &[field("product_id", Kind::Choice, true), field("quantity", Kind::Decimal, true), field("reason", Kind::Text, true)];

const SUPPLIER_FIELDS: &[Field] = &[
    field("name", Kind::Text, true),
    field("document", Kind::Text, false),
    field("email", Kind::Email, false),
    field("phone", Kind::Text, false),
    field("lead_time_days", Kind::Integer, false),
    field("active", Kind::Checkbox, false),
];

const PRICE_FIELDS: &[Field] = &[field("product_id", Kind::Choice, true), field("price", Kind::Decimal, true), field("valid_from", Kind::Date, false)];

/// Active products as select options (`code — name`).
pub async fn product_choices(ctx: &Ctx<'_>) -> ApiResult<Vec<(String, String)>> {
    let rows = api::items(products::list(ctx.state, ctx.tenant, &api::get(&[("active", "true"), ("limit", "200")])).await).await?;
    Ok(rows
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or("").to_owned(), format!("{} — {}", p["code"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or(""))))
        .collect())
}

async fn supplier_choices(ctx: &Ctx<'_>) -> ApiResult<Vec<(String, String)>> {
    let rows = api::items(suppliers::list(ctx.state, ctx.tenant, &api::get(&[("limit", "200")])).await).await?;
    Ok(rows.iter().map(|s| (s["id"].as_str().unwrap_or("").to_owned(), s["name"].as_str().unwrap_or("").to_owned())).collect())
}

pub async fn products(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let search = q.get("search").map(String::as_str).unwrap_or("");
    let cursor = q.get("cursor").map(String::as_str).unwrap_or("");
    let page = api::value(products::list(ctx.state, ctx.tenant, &api::get(&[("search", search), ("cursor", cursor)])).await).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    let link = ctx.is_admin().then_some(("/products/", "id"));
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|mut r| {
            let id = r["id"].as_str().unwrap_or("").to_owned();
            r["id"] = json!(format!("{id}/edit"));
            r
        })
        .collect();
    let body = html! {
        @if ctx.is_admin() { div class="actions" { a class="button" href="/products/new" { (t.s("products.new")) } } }
        (search_bar(t, "/products", "field.search_products", search, html! {}))
        (table(t, &rows, &[("code", "field.code"), ("name", "field.name"), ("unit", "field.unit"), ("base_price", "field.base_price"), ("active", "field.active")], link))
        (more_link(t, "/products", &page, &[("search", search)]))
    };
    Ok(ctx.page(t.s("products.title"), body))
}

pub async fn product_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    ctx.who.require_admin()?;
    let (state, tenant, t, who) = (ctx.state, ctx.tenant, ctx.t, &ctx.who);
    match id {
        None => {
            let p = FormPage::new(t.s("products.new"), PRODUCT_FIELDS, "/products/new", t.s("common.create"), t.s("products.created"));
            let save = |b: Value| async move { products::create(state, tenant, who, &api::body(Method::POST, &b)).await };
            ctx.form_page(p, Some(&json!({"unit": "UN", "active": true})), save, |_| "/products".into()).await
        }
        Some(id) => {
            let current = api::value(products::get(state, tenant, id).await).await?;
            let mut p = FormPage::new(t.s("products.edit"), PRODUCT_FIELDS, format!("/products/{id}/edit"), t.s("common.save"), t.s("products.saved"));
            let image = crate::routes::files::url(state, &FileKey::product_variant(tenant.id, id, Variant::Card), &format!("/files/products/{id}/card.webp"));
            p.before = html! {
                @if current["active"] == true {
                    form method="post" action={ "/products/" (id) "/deactivate" } class="actions" {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                        button type="submit" class="danger" { (t.s("products.deactivate")) }
                    }
                }
                (upload_form(ctx, &format!("/products/{id}/image"), image.as_deref(), t.s("files.image")))
            };
            let save = |b: Value| async move { products::update(state, tenant, who, id, &api::body(Method::PATCH, &b)).await };
            ctx.form_page(p, Some(&current), save, |_| "/products".into()).await
        }
    }
}

pub async fn product_deactivate(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    if let Err(refused) = ctx.posted() {
        return Ok(refused);
    }
    api::value(products::deactivate(ctx.state, ctx.tenant, &ctx.who, id).await).await?;
    Ok(ctx.done("/products", ctx.t.s("products.deactivated")))
}

/// The stock page; `failed` is the receipt or adjustment form that the API refused.
pub async fn stock(ctx: &Ctx<'_>, failed: Option<(&str, Form)>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let search = q.get("search").map(String::as_str).unwrap_or("");
    let levels = api::items(stock::levels(ctx.state, ctx.tenant, &api::get(&[("search", search), ("limit", "200")])).await).await?;
    let mut forms = Markup::default();
    if ctx.is_admin() {
        let products = product_choices(ctx).await?;
        let suppliers = supplier_choices(ctx).await?;
        let (mut receipt, mut adjustment) = (Form::default(), Form::default());
        match failed {
            Some(("receipts", f)) => receipt = f,
            Some((_, f)) => adjustment = f,
            None => {}
        }
        receipt.prefix = "r";
        adjustment.prefix = "a";
        receipt.choices = HashMap::from([("product_id", products.clone()), ("supplier_id", suppliers)]);
        adjustment.choices = HashMap::from([("product_id", products)]);
        forms = html! {
            h2 { (t.s("stock.receipt")) }
            (form::render("/stock/receipts", &ctx.csrf, RECEIPT_FIELDS, &receipt, t, t.s("stock.receipt")))
            h2 { (t.s("stock.adjustment")) }
            (form::render("/stock/adjustments", &ctx.csrf, ADJUSTMENT_FIELDS, &adjustment, t, t.s("stock.adjustment")))
        };
    }
    let body = html! {
        (search_bar(t, "/stock", "field.search_products", search, html! {}))
        (table(t, &levels, &[("code", "field.code"), ("name", "field.name"), ("on_hand", "field.on_hand"), ("minimum", "field.minimum"), ("days_to_rupture", "field.days_to_rupture")], None))
        (forms)
    };
    let status = if body.0.contains("role=\"alert\"") { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(ctx.page_with_status(status, t.s("stock.title"), body))
}

pub async fn stock_post(ctx: &Ctx<'_>, kind: &str) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let (fields, flash) = if kind == "receipts" { (RECEIPT_FIELDS, "stock.received") } else { (ADJUSTMENT_FIELDS, "stock.adjusted") };
    let call = api::body(Method::POST, &form::to_json(fields, &posted));
    let result = if kind == "receipts" {
        stock::receipt(ctx.state, ctx.tenant, &ctx.who, &call).await
    } else {
        stock::adjustment(ctx.state, ctx.tenant, &ctx.who, &call).await
    };
    match api::value(result).await {
        Ok(_) => Ok(ctx.done("/stock", ctx.t.s(flash))),
        Err(e) => {
            let mut f = Form::with_posted(posted);
            f.fail(e, ctx.t);
            stock(ctx, Some((kind, f))).await
        }
    }
}

pub async fn suppliers(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let cursor = q.get("cursor").map(String::as_str).unwrap_or("");
    let page = api::value(suppliers::list(ctx.state, ctx.tenant, &api::get(&[("cursor", cursor)])).await).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        @if ctx.is_admin() { div class="actions" { a class="button" href="/suppliers/new" { (t.s("suppliers.new")) } } }
        (table(t, &rows, &[("name", "field.name"), ("lead_time_days", "field.lead_time_days"), ("phone", "field.phone"), ("active", "field.active")], Some(("/suppliers/", "id"))))
        (more_link(t, "/suppliers", &page, &[]))
    };
    Ok(ctx.page(t.s("suppliers.title"), body))
}

pub async fn supplier_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    ctx.who.require_admin()?;
    let (state, tenant, t, who) = (ctx.state, ctx.tenant, ctx.t, &ctx.who);
    match id {
        None => {
            let p = FormPage::new(t.s("suppliers.new"), SUPPLIER_FIELDS, "/suppliers/new", t.s("common.create"), t.s("suppliers.created"));
            let save = |b: Value| async move { suppliers::create(state, tenant, who, &api::body(Method::POST, &b)).await };
            ctx.form_page(p, Some(&json!({"lead_time_days": 7, "active": true})), save, |v| format!("/suppliers/{}", v["id"].as_str().unwrap_or(""))).await
        }
        Some(id) => {
            let current = api::value(suppliers::get(state, tenant, id).await).await?;
            let p = FormPage::new(t.s("suppliers.edit"), SUPPLIER_FIELDS, format!("/suppliers/{id}/edit"), t.s("common.save"), t.s("suppliers.saved"));
            let save = |b: Value| async move { suppliers::update(state, tenant, who, id, &api::body(Method::PATCH, &b)).await };
            ctx.form_page(p, Some(&current), save, |_| format!("/suppliers/{id}")).await
        }
    }
}

/// A supplier, its prices and (admins) the form to set one; `failed` is a refused price form.
pub async fn supplier(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let s = api::value(suppliers::get(ctx.state, ctx.tenant, id).await).await?;
    let prices = api::items(suppliers::prices(ctx.state, ctx.tenant, id).await).await?;
    let mut price_form = failed.unwrap_or_default();
    let status = if price_form.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let admin_part = if ctx.is_admin() {
        price_form.choices = HashMap::from([("product_id", product_choices(ctx).await?)]);
        html! {
            div class="actions" { a class="button secondary" href={ "/suppliers/" (id) "/edit" } { (t.s("common.edit")) } }
            h2 { (t.s("suppliers.set_price")) }
            (form::render(&format!("/suppliers/{id}/prices"), &ctx.csrf, PRICE_FIELDS, &price_form, t, t.s("common.save")))
        }
    } else {
        html! {}
    };
    let body = html! {
        p { (t.s("field.lead_time_days")) ": " (s["lead_time_days"]) }
        h2 { (t.s("suppliers.prices")) }
        (table(t, &prices, &[("product_code", "field.product_code"), ("product_name", "field.product_name"), ("price", "field.price"), ("previous_price", "field.previous_price"), ("valid_from", "field.valid_from")], None))
        (admin_part)
    };
    Ok(ctx.page_with_status(status, s["name"].as_str().unwrap_or(""), body))
}

pub async fn supplier_price(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let call = api::body(Method::POST, &form::to_json(PRICE_FIELDS, &posted));
    match api::value(suppliers::set_price(ctx.state, ctx.tenant, &ctx.who, id, &call).await).await {
        Ok(_) => Ok(ctx.done(&format!("/suppliers/{id}"), ctx.t.s("suppliers.price_saved"))),
        Err(e) => {
            let mut f = Form::with_posted(posted);
            f.fail(e, ctx.t);
            supplier(ctx, id, Some(f)).await
        }
    }
}

/// The current image (if any) and a file upload form (multipart; works without JavaScript).
fn upload_form(ctx: &Ctx<'_>, action: &str, current: Option<&str>, title: &str) -> Markup {
    let t = ctx.t;
    html! {
        section class="card" aria-labelledby="h-image" {
            h2 id="h-image" { (title) }
            @match current {
                Some(src) => { img src=(src) alt=(title) class="preview"; }
                None => { p class="empty" { (t.s("files.none")) } }
            }
            form method="post" action=(action) enctype="multipart/form-data" class="bar" {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                div class="field" {
                    label for="file" { (t.s("files.choose")) }
                    input type="file" id="file" name="file" accept="image/jpeg,image/png,image/webp" required;
                }
                button type="submit" class="secondary" { (t.s("files.upload")) }
            }
        }
    }
}

/// `POST /products/{id}/image` (admins): the API's upload with the form's file.
pub async fn product_image(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let back = format!("/products/{id}/edit");
    let (_, file) = match ctx.posted_multipart().await {
        Ok(v) => v,
        Err(refused) => return Ok(refused),
    };
    let Some(file) = file else { return Ok(ctx.refused(&back, ctx.t.s("files.missing"))) };
    match crate::routes::files::store_product_image(ctx.state, ctx.tenant, &ctx.who, id, file).await {
        Ok(_) => Ok(ctx.done(&back, ctx.t.s("files.uploaded"))),
        Err(e) => Ok(ctx.refused(&back, &form::describe(e, ctx.t).1)),
    }
}

/// `GET /branding` (admins): the logo and its upload form.
pub async fn branding(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    ctx.who.require_admin()?;
    let t = ctx.t;
    let logo = crate::routes::files::url(ctx.state, &FileKey::logo(ctx.tenant.id), "/files/branding/logo.webp");
    Ok(ctx.page(t.s("branding.title"), upload_form(ctx, "/branding", logo.as_deref(), t.s("branding.logo"))))
}

/// `POST /branding` (admins): a new logo.
pub async fn branding_upload(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let (_, file) = match ctx.posted_multipart().await {
        Ok(v) => v,
        Err(refused) => return Ok(refused),
    };
    let Some(file) = file else { return Ok(ctx.refused("/branding", ctx.t.s("files.missing"))) };
    match crate::routes::files::store_logo(ctx.state, ctx.tenant, &ctx.who, file).await {
        Ok(_) => Ok(ctx.done("/branding", ctx.t.s("branding.uploaded"))),
        Err(e) => Ok(ctx.refused("/branding", &form::describe(e, ctx.t).1)),
    }
}
