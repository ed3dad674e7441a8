//! Products, stock (levels, receipts, adjustments) and suppliers with their prices. Changes are
//! admin-only in the API; the pages hide the forms from sellers and the API refuses anyway.

use std::collections::HashMap;

use http::StatusCode;
use maud::{html, Markup};
use serde_json::json;
use uuid::Uuid;

use crate::catalog::products::{self, NewProduct, Product, ProductChanges, ProductFilter};
use crate::catalog::stock::{self, NewAdjustment, NewReceipt, StockFilter, StockLevel};
use crate::catalog::suppliers::{self, NewSupplier, NewSupplierPrice, Supplier, SupplierChanges, SupplierFilter, SupplierPrice};
use crate::domain::{require_admin, PageRequest};
use crate::error::{ApiError, ApiResult};
use crate::http::HttpResponse;
use crate::ui::form::{self, field, Field, Form, Kind};
use crate::ui::layout::{cell, table, Ctx, FormPage};
use crate::ui::people::{form_values, more_link, page_request, search_bar, search_term};
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
    let page = products::list(&ctx.state.db().await?, ctx.tenant.id, &ProductFilter { search: None, active: Some(true) }, &PageRequest::first(200)).await?;
    Ok(page.items.iter().map(|p| (p.id.to_string(), format!("{} — {}", p.code, p.name))).collect())
}

async fn supplier_choices(ctx: &Ctx<'_>) -> ApiResult<Vec<(String, String)>> {
    let tx = ctx.tx().await?;
    let page = suppliers::list(&tx, &SupplierFilter::default(), &PageRequest::first(200)).await?;
    tx.commit().await?;
    Ok(page.items.iter().map(|s| (s.id.to_string(), s.name.clone())).collect())
}

pub async fn products(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let (search, pattern) = search_term(ctx);
    let page =
        products::list(&ctx.state.db().await?, ctx.tenant.id, &ProductFilter { search: pattern, active: None }, &page_request(ctx, PageRequest::DEFAULT_LIMIT))
            .await?;
    let edit = |p: &Product| format!("/products/{}/edit", p.id);
    let body = html! {
        @if ctx.is_admin() { div class="actions" { a class="button" href="/products/new" { (t.s("products.new")) } } }
        (search_bar(t, "/products", "field.search_products", &search, html! {}))
        (table(t, &page.items, &[
            ("field.code", &|p: &Product| cell::text(&p.code)),
            ("field.name", &|p: &Product| cell::text(&p.name)),
            ("field.unit", &|p: &Product| cell::text(p.unit.as_str())),
            ("field.base_price", &|p: &Product| cell::num(p.base_price)),
            ("field.active", &|p: &Product| cell::yes_no(t, p.active)),
        ], ctx.is_admin().then_some(&edit as &dyn Fn(&Product) -> String)))
        (more_link(t, "/products", &page, &[("search", &search)]))
    };
    Ok(ctx.page(t.s("products.title"), body))
}

pub async fn product_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    require_admin(&ctx.who)?;
    let (state, tenant, t, who) = (ctx.state, ctx.tenant, ctx.t, ctx.who.clone());
    match id {
        None => {
            let p = FormPage::new(t.s("products.new"), PRODUCT_FIELDS, "/products/new", t.s("common.create"), t.s("products.created"));
            ctx.form_page::<NewProduct, Product, _>(
                p,
                Some(&json!({"unit": "UN", "active": true})),
                move |tx, input| Box::pin(async move { products::create(tx, &who, input).await }),
                |_| "/products".into(),
            )
            .await
        }
        Some(id) => {
            let tx = ctx.tx().await?;
            let current = products::get(&tx, id).await?;
            tx.commit().await?;
            let mut p = FormPage::new(t.s("products.edit"), PRODUCT_FIELDS, format!("/products/{id}/edit"), t.s("common.save"), t.s("products.saved"));
            let image = crate::catalog::images::url(state, &FileKey::product_variant(tenant.id, id, Variant::Card), &format!("/files/products/{id}/card.webp"));
            p.before = html! {
                @if current.active {
                    form method="post" action={ "/products/" (id) "/deactivate" } class="actions" {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                        button type="submit" class="danger" { (t.s("products.deactivate")) }
                    }
                }
                (upload_form(ctx, &format!("/products/{id}/image"), image.as_deref(), t.s("files.image")))
            };
            ctx.form_page::<ProductChanges, Product, _>(
                p,
                Some(&form_values(&current)),
                move |tx, changes| Box::pin(async move { products::update(tx, &who, id, changes).await }),
                |_| "/products".into(),
            )
            .await
        }
    }
}

pub async fn product_deactivate(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    if let Err(refused) = ctx.posted() {
        return Ok(refused);
    }
    let tx = ctx.tx().await?;
    products::deactivate(&tx, &ctx.who, id).await?;
    tx.commit().await?;
    Ok(ctx.done("/products", ctx.t.s("products.deactivated")))
}

/// The stock page; `failed` is the receipt or adjustment form that was refused.
pub async fn stock(ctx: &Ctx<'_>, failed: Option<(&str, Form)>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let (search, pattern) = search_term(ctx);
    let tx = ctx.tx().await?;
    let levels = stock::levels(&tx, &StockFilter { search: pattern }, &PageRequest::first(200)).await?;
    tx.commit().await?;
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
        (search_bar(t, "/stock", "field.search_products", &search, html! {}))
        (table(t, &levels.items, &[
            ("field.code", &|l: &StockLevel| cell::text(&l.code)),
            ("field.name", &|l: &StockLevel| cell::text(&l.name)),
            ("field.on_hand", &|l: &StockLevel| cell::num(l.on_hand)),
            ("field.minimum", &|l: &StockLevel| cell::opt(l.minimum)),
            ("field.days_to_rupture", &|l: &StockLevel| cell::opt(l.days_to_rupture)),
        ], None))
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
    let receipts = kind == "receipts";
    let (fields, flash) = if receipts { (RECEIPT_FIELDS, "stock.received") } else { (ADJUSTMENT_FIELDS, "stock.adjusted") };
    let saved = async {
        let body = form::to_json(fields, &posted);
        let tx = ctx.tx().await?;
        if receipts {
            stock::receive(&tx, &ctx.who, crate::http::parse_value::<NewReceipt>(body)?).await?;
        } else {
            stock::adjust(&tx, &ctx.who, crate::http::parse_value::<NewAdjustment>(body)?).await?;
        }
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done("/stock", ctx.t.s(flash))),
        Err(e) => {
            let mut f = Form::with_posted(posted);
            f.fail(e, ctx.t);
            stock(ctx, Some((kind, f))).await
        }
    }
}

pub async fn suppliers(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let page = suppliers::list(&tx, &SupplierFilter::default(), &page_request(ctx, PageRequest::DEFAULT_LIMIT)).await?;
    tx.commit().await?;
    let body = html! {
        @if ctx.is_admin() { div class="actions" { a class="button" href="/suppliers/new" { (t.s("suppliers.new")) } } }
        (table(t, &page.items, &[
            ("field.name", &|s: &Supplier| cell::text(&s.name)),
            ("field.lead_time_days", &|s: &Supplier| cell::num(s.lead_time_days)),
            ("field.phone", &|s: &Supplier| cell::opt(s.phone.as_deref())),
            ("field.active", &|s: &Supplier| cell::yes_no(t, s.active)),
        ], Some(&|s: &Supplier| format!("/suppliers/{}", s.id))))
        (more_link(t, "/suppliers", &page, &[]))
    };
    Ok(ctx.page(t.s("suppliers.title"), body))
}

pub async fn supplier_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    require_admin(&ctx.who)?;
    let (t, who) = (ctx.t, ctx.who.clone());
    match id {
        None => {
            let p = FormPage::new(t.s("suppliers.new"), SUPPLIER_FIELDS, "/suppliers/new", t.s("common.create"), t.s("suppliers.created"));
            ctx.form_page::<NewSupplier, Supplier, _>(
                p,
                Some(&json!({"lead_time_days": 7, "active": true})),
                move |tx, input| Box::pin(async move { suppliers::create(tx, &who, input).await }),
                |s| format!("/suppliers/{}", s.id),
            )
            .await
        }
        Some(id) => {
            let tx = ctx.tx().await?;
            let current = suppliers::get(&tx, id).await?;
            tx.commit().await?;
            let p = FormPage::new(t.s("suppliers.edit"), SUPPLIER_FIELDS, format!("/suppliers/{id}/edit"), t.s("common.save"), t.s("suppliers.saved"));
            ctx.form_page::<SupplierChanges, Supplier, _>(
                p,
                Some(&form_values(&current)),
                move |tx, changes| Box::pin(async move { suppliers::update(tx, &who, id, changes).await }),
                |_| format!("/suppliers/{id}"),
            )
            .await
        }
    }
}

/// A supplier, its prices and (admins) the form to set one; `failed` is a refused price form.
pub async fn supplier(ctx: &Ctx<'_>, id: Uuid, failed: Option<Form>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let s = suppliers::get(&tx, id).await?;
    let prices = suppliers::prices(&tx, id).await?;
    tx.commit().await?;
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
        p { (t.s("field.lead_time_days")) ": " (s.lead_time_days) }
        h2 { (t.s("suppliers.prices")) }
        (table(t, &prices, &[
            ("field.product_code", &|p: &SupplierPrice| cell::text(&p.product_code)),
            ("field.product_name", &|p: &SupplierPrice| cell::text(&p.product_name)),
            ("field.price", &|p: &SupplierPrice| cell::num(p.price)),
            ("field.previous_price", &|p: &SupplierPrice| cell::opt(p.previous_price)),
            ("field.valid_from", &|p: &SupplierPrice| cell::num(p.valid_from)),
        ], None))
        (admin_part)
    };
    Ok(ctx.page_with_status(status, &s.name, body))
}

pub async fn supplier_price(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let saved = async {
        let input: NewSupplierPrice = crate::http::parse_value(form::to_json(PRICE_FIELDS, &posted))?;
        let tx = ctx.tx().await?;
        suppliers::set_price(&tx, &ctx.who, id, input).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done(&format!("/suppliers/{id}"), ctx.t.s("suppliers.price_saved"))),
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
    match crate::catalog::images::store_product_image(ctx.state, ctx.tenant, &ctx.who, id, file).await {
        Ok(_) => Ok(ctx.done(&back, ctx.t.s("files.uploaded"))),
        Err(e) => Ok(ctx.refused(&back, &form::describe(e.into(), ctx.t).1)),
    }
}

/// `GET /branding` (admins): the logo and its upload form.
pub async fn branding(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    require_admin(&ctx.who)?;
    let t = ctx.t;
    let logo = crate::catalog::images::url(ctx.state, &FileKey::logo(ctx.tenant.id), "/files/branding/logo.webp");
    Ok(ctx.page(t.s("branding.title"), upload_form(ctx, "/branding", logo.as_deref(), t.s("branding.logo"))))
}

/// `POST /branding` (admins): a new logo.
pub async fn branding_upload(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let (_, file) = match ctx.posted_multipart().await {
        Ok(v) => v,
        Err(refused) => return Ok(refused),
    };
    let Some(file) = file else { return Ok(ctx.refused("/branding", ctx.t.s("files.missing"))) };
    match crate::catalog::images::store_logo(ctx.state, ctx.tenant, &ctx.who, file).await {
        Ok(_) => Ok(ctx.done("/branding", ctx.t.s("branding.uploaded"))),
        Err(e) => Ok(ctx.refused("/branding", &form::describe(e.into(), ctx.t).1)),
    }
}
