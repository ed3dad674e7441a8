//! Clients, their job sites, and the tenant's users.

use http::Method;
use maud::{html, Markup};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::routes::{clients, sites, users};
use crate::ui::api;
use crate::ui::form::{field, Field, Kind};
use crate::ui::layout::{table, Ctx, FormPage};
use crate::ui::session::CSRF_FIELD;
use crate::ui::text::Text;

const CLIENT_FIELDS: &[Field] = &[
    field("kind", Kind::Select("kind", &["company", "individual"]), true),
    field("name", Kind::Text, true),
    field("document", Kind::Text, true),
    field("email", Kind::Email, false),
    field("phone", Kind::Text, false),
    field("address", Kind::Text, false),
    field("city", Kind::Text, false),
    field("state", Kind::Text, false),
    field("postal_code", Kind::Text, false),
    field("notes", Kind::Textarea, false),
];

const SITE_FIELDS: &[Field] = &[
    field("name", Kind::Text, true),
    field("address", Kind::Text, false),
    field("city", Kind::Text, false),
    field("state", Kind::Text, false),
    field("postal_code", Kind::Text, false),
    field("active", Kind::Checkbox, false),
];

const USER_FIELDS: &[Field] = &[
    field("email", Kind::Email, true),
    field("name", Kind::Text, true),
    field("password", Kind::Password, true),
    field("role", Kind::Select("role", &["seller", "admin"]), true),
];

/// A search box (GET, so results are linkable and work without JS).
pub fn search_bar(t: &Text, action: &str, label_key: &'static str, value: &str, extra: Markup) -> Markup {
    html! {
        form method="get" action=(action) class="bar" role="search" {
            div class="field" {
                label for="search" { (t.s(label_key)) }
                input type="search" id="search" name="search" value=(value);
            }
            (extra)
            button type="submit" class="secondary" { (t.s("common.search")) }
        }
    }
}

/// "More" link for the next page of a list, keeping the other query parameters.
pub fn more_link(t: &Text, base: &str, page: &Value, keep: &[(&str, &str)]) -> Markup {
    let Some(cursor) = page["next_cursor"].as_str() else { return html! {} };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in keep.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    html! { p { a href={ (base) "?" (q.finish()) } { (t.s("common.more")) } } }
}

pub async fn clients(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let q = ctx.req.query_params();
    let search = q.get("search").map(String::as_str).unwrap_or("");
    let cursor = q.get("cursor").map(String::as_str).unwrap_or("");
    let page = api::value(clients::list(ctx.state, ctx.tenant, &api::get(&[("search", search), ("cursor", cursor)])).await).await?;
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        div class="actions" { a class="button" href="/clients/new" { (t.s("clients.new")) } }
        (search_bar(t, "/clients", "field.search_clients", search, html! {}))
        (table(t, &rows, &[("name", "field.name"), ("document", "field.document"), ("kind", "field.kind"), ("city", "field.city"), ("phone", "field.phone")], Some(("/clients/", "id"))))
        (more_link(t, "/clients", &page, &[("search", search)]))
    };
    Ok(ctx.page(t.s("clients.title"), body))
}

pub async fn client_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    let (state, tenant, t) = (ctx.state, ctx.tenant, ctx.t);
    match id {
        None => {
            let p = FormPage::new(t.s("clients.new"), CLIENT_FIELDS, "/clients/new", t.s("common.create"), t.s("clients.created"));
            let save = |b: Value| async move { clients::create(state, tenant, &api::body(Method::POST, &b)).await };
            ctx.form_page(p, Some(&json!({"kind": "company"})), save, |v| format!("/clients/{}", v["id"].as_str().unwrap_or(""))).await
        }
        Some(id) => {
            let current = api::value(clients::get(state, tenant, id).await).await?;
            let p = FormPage::new(t.s("clients.edit"), CLIENT_FIELDS, format!("/clients/{id}/edit"), t.s("common.save"), t.s("clients.saved"));
            let save = |b: Value| async move { clients::update(state, tenant, id, &api::body(Method::PATCH, &b)).await };
            ctx.form_page(p, Some(&current), save, |_| format!("/clients/{id}")).await
        }
    }
}

pub async fn client(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let c = api::value(clients::get(ctx.state, ctx.tenant, id).await).await?;
    let id_s = id.to_string();
    let site_rows = api::items(sites::list(ctx.state, ctx.tenant, &api::get(&[("client_id", &id_s), ("limit", "200")])).await).await?;
    let shown = ["kind", "document", "email", "phone", "address", "city", "state", "postal_code", "notes"];
    let body = html! {
        dl class="card" {
            @for k in shown {
                dt { (t.dynamic(&format!("field.{k}"))) } dd { (crate::ui::layout::cell(t, k, &c[k])) }
            }
        }
        div class="actions" {
            a class="button secondary" href={ "/clients/" (id) "/edit" } { (t.s("common.edit")) }
            a class="button" href={ "/quotes/new?client_id=" (id) } { (t.s("quotes.new")) }
        }
        h2 { (t.s("clients.sites")) }
        div class="actions" { a class="button secondary" href={ "/clients/" (id) "/sites/new" } { (t.s("sites.new")) } }
        (table(t, &site_rows, &[("name", "field.name"), ("city", "field.city"), ("postal_code", "field.postal_code"), ("active", "field.active")], Some(("/sites/", "id"))))
    };
    Ok(ctx.page(c["name"].as_str().unwrap_or(""), body))
}

pub async fn site_form(ctx: &Ctx<'_>, client_id: Uuid) -> ApiResult<HttpResponse> {
    let (state, tenant, t) = (ctx.state, ctx.tenant, ctx.t);
    let mut p = FormPage::new(t.s("sites.new"), SITE_FIELDS, format!("/clients/{client_id}/sites/new"), t.s("common.create"), t.s("sites.created"));
    p.fixed.push(("client_id", json!(client_id)));
    let save = |b: Value| async move { sites::create(state, tenant, &api::body(Method::POST, &b)).await };
    ctx.form_page(p, Some(&json!({"active": true})), save, |_| format!("/clients/{client_id}")).await
}

/// `/sites/{id}/edit` (site links in tables point at `/sites/{id}`, which is this page too).
pub async fn site_edit(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let (state, tenant, t) = (ctx.state, ctx.tenant, ctx.t);
    let current = api::value(sites::get(state, tenant, id).await).await?;
    let client_id = current["client_id"].as_str().unwrap_or("").to_owned();
    let p = FormPage::new(t.s("sites.edit"), SITE_FIELDS, format!("/sites/{id}/edit"), t.s("common.save"), t.s("sites.saved"));
    let save = |b: Value| async move { sites::update(state, tenant, id, &api::body(Method::PATCH, &b)).await };
    ctx.form_page(p, Some(&current), save, |_| format!("/clients/{client_id}")).await
}

pub async fn users(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let rows = api::items(users::list(ctx.state, ctx.tenant, &ctx.who, &api::get(&[("limit", "200")])).await).await?;
    Ok(ctx.page(t.s("users.title"), users_body(ctx, &rows, &crate::ui::form::Form::default())))
}

fn users_body(ctx: &Ctx<'_>, rows: &[Value], form: &crate::ui::form::Form) -> Markup {
    let t = ctx.t;
    html! {
        div class="scroll" {
            table {
                thead { tr { th { (t.s("field.name")) } th { (t.s("field.email")) } th { (t.s("field.role")) } th { (t.s("field.active")) } th { (t.s("common.actions")) } } }
                tbody {
                    @for u in rows {
                        @let uid = u["id"].as_str().unwrap_or("");
                        tr {
                            td { (u["name"].as_str().unwrap_or("")) }
                            td { (u["email"].as_str().unwrap_or("")) }
                            td colspan="3" {
                                form method="post" action={ "/users/" (uid) } class="bar" {
                                    input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                                    label class="field" {
                                        span class="hint" { (t.s("field.role")) }
                                        select name="role" {
                                            @for r in ["seller", "admin"] { option value=(r) selected[u["role"] == r] { (t.dynamic(&format!("role.{r}"))) } }
                                        }
                                    }
                                    label { input type="checkbox" name="active" checked[u["active"] == true]; " " (t.s("field.active")) }
                                    button type="submit" class="secondary" { (t.s("users.apply")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t.s("users.new")) }
        (crate::ui::form::render("/users", &ctx.csrf, USER_FIELDS, form, t, t.s("common.create")))
    }
}

pub async fn user_create(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let body = crate::ui::form::to_json(USER_FIELDS, &posted);
    match api::value(users::create(ctx.state, ctx.tenant, &ctx.who, &api::body(Method::POST, &body)).await).await {
        Ok(_) => Ok(ctx.done("/users", ctx.t.s("users.created"))),
        Err(e) => {
            let mut form = crate::ui::form::Form::with_posted(posted);
            form.fail(e, ctx.t);
            let rows = api::items(users::list(ctx.state, ctx.tenant, &ctx.who, &api::get(&[("limit", "200")])).await).await?;
            Ok(ctx.page_with_status(http::StatusCode::UNPROCESSABLE_ENTITY, ctx.t.s("users.title"), users_body(ctx, &rows, &form)))
        }
    }
}

pub async fn user_update(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let body = json!({ "role": posted.get("role").cloned().unwrap_or_default(), "active": posted.contains_key("active") });
    match api::value(users::update(ctx.state, ctx.tenant, &ctx.who, id, &api::body(Method::PATCH, &body)).await).await {
        Ok(_) => Ok(ctx.done("/users", ctx.t.s("users.saved"))),
        Err(e) => {
            let (_, m) = crate::ui::form::describe(e, ctx.t);
            Ok(ctx.refused("/users", &m))
        }
    }
}
