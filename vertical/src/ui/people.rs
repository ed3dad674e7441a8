//! Clients, their job sites, and the tenant's users.

use maud::{html, Markup};
use serde_json::json;
use uuid::Uuid;

use crate::domain::user::Role;
use crate::domain::{Page, PageRequest};
use crate::error::ApiResult;
use crate::http::HttpResponse;
use crate::people::clients::{self, Client, ClientChanges, ClientFilter, NewClient};
use crate::people::sites::{self, NewSite, Site, SiteChanges, SiteFilter};
use crate::people::users::{self, CreateUser, UpdateUser, UserView};
use crate::ui::form::{field, Field, Kind};
use crate::ui::layout::{cell, table, Ctx, FormPage};
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
pub fn more_link<T>(t: &Text, base: &str, page: &Page<T>, keep: &[(&str, &str)]) -> Markup {
    let Some(cursor) = page.next_cursor.as_deref() else { return html! {} };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in keep.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.append_pair("cursor", cursor);
    html! { p { a href={ (base) "?" (q.finish()) } { (t.s("common.more")) } } }
}

/// The page a list shows: the `cursor` of the query string, if it is one we handed out.
pub fn page_request(ctx: &Ctx<'_>, limit: i64) -> PageRequest {
    let after = ctx.req.query_params().get("cursor").and_then(|c| crate::domain::Cursor::decode(c));
    PageRequest { after, ..PageRequest::first(limit) }
}

/// The search term of a list page, as typed and as an `ILIKE` pattern.
pub fn search_term(ctx: &Ctx<'_>) -> (String, Option<String>) {
    let term = ctx.req.query_params().get("search").cloned().unwrap_or_default();
    let pattern = crate::domain::validate::search_pattern(Some(&term));
    (term, pattern)
}

/// The form's view of a record: its serialised fields by name.
pub fn form_values<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub async fn clients(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let (search, pattern) = search_term(ctx);
    let tx = ctx.tx().await?;
    let page = clients::list(&tx, &ClientFilter { search: pattern }, &page_request(ctx, PageRequest::DEFAULT_LIMIT)).await?;
    tx.commit().await?;
    let body = html! {
        div class="actions" { a class="button" href="/clients/new" { (t.s("clients.new")) } }
        (search_bar(t, "/clients", "field.search_clients", &search, html! {}))
        (table(t, &page.items, &[
            ("field.name", &|c: &Client| cell::text(&c.name)),
            ("field.document", &|c: &Client| cell::text(&c.document)),
            ("field.kind", &|c: &Client| cell::word(t, "kind", c.kind.as_str())),
            ("field.city", &|c: &Client| cell::opt(c.address.city.as_deref())),
            ("field.phone", &|c: &Client| cell::opt(c.phone.as_deref())),
        ], Some(&|c: &Client| format!("/clients/{}", c.id))))
        (more_link(t, "/clients", &page, &[("search", &search)]))
    };
    Ok(ctx.page(t.s("clients.title"), body))
}

pub async fn client_form(ctx: &Ctx<'_>, id: Option<Uuid>) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    match id {
        None => {
            let p = FormPage::new(t.s("clients.new"), CLIENT_FIELDS, "/clients/new", t.s("common.create"), t.s("clients.created"));
            ctx.form_page::<NewClient, Client, _>(
                p,
                Some(&json!({"kind": "company"})),
                |tx, input| Box::pin(clients::create(tx, input)),
                |c| format!("/clients/{}", c.id),
            )
            .await
        }
        Some(id) => {
            let tx = ctx.tx().await?;
            let current = clients::get(&tx, id).await?;
            tx.commit().await?;
            let p = FormPage::new(t.s("clients.edit"), CLIENT_FIELDS, format!("/clients/{id}/edit"), t.s("common.save"), t.s("clients.saved"));
            ctx.form_page::<ClientChanges, Client, _>(
                p,
                Some(&form_values(&current)),
                move |tx, changes| Box::pin(clients::update(tx, id, changes)),
                |_| format!("/clients/{id}"),
            )
            .await
        }
    }
}

pub async fn client(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let c = clients::get(&tx, id).await?;
    let sites = sites::list(&tx, &SiteFilter { client_id: Some(id) }, &PageRequest::first(200)).await?;
    tx.commit().await?;
    let a = &c.address;
    let shown: [(&str, Markup); 9] = [
        ("kind", cell::word(t, "kind", c.kind.as_str())),
        ("document", cell::text(&c.document)),
        ("email", cell::opt(c.email.as_deref())),
        ("phone", cell::opt(c.phone.as_deref())),
        ("address", cell::opt(a.address.as_deref())),
        ("city", cell::opt(a.city.as_deref())),
        ("state", cell::opt(a.state.as_deref())),
        ("postal_code", cell::opt(a.postal_code.as_deref())),
        ("notes", cell::opt(c.notes.as_deref())),
    ];
    let body = html! {
        dl class="card" {
            @for (k, v) in shown {
                dt { (t.dynamic(&format!("field.{k}"))) } dd { (v) }
            }
        }
        div class="actions" {
            a class="button secondary" href={ "/clients/" (id) "/edit" } { (t.s("common.edit")) }
            a class="button" href={ "/quotes/new?client_id=" (id) } { (t.s("quotes.new")) }
        }
        h2 { (t.s("clients.sites")) }
        div class="actions" { a class="button secondary" href={ "/clients/" (id) "/sites/new" } { (t.s("sites.new")) } }
        (table(t, &sites.items, &[
            ("field.name", &|s: &Site| cell::text(&s.name)),
            ("field.city", &|s: &Site| cell::opt(s.address.city.as_deref())),
            ("field.postal_code", &|s: &Site| cell::opt(s.address.postal_code.as_deref())),
            ("field.active", &|s: &Site| cell::yes_no(t, s.active)),
        ], Some(&|s: &Site| format!("/sites/{}", s.id))))
    };
    Ok(ctx.page(&c.name, body))
}

pub async fn site_form(ctx: &Ctx<'_>, client_id: Uuid) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let mut p = FormPage::new(t.s("sites.new"), SITE_FIELDS, format!("/clients/{client_id}/sites/new"), t.s("common.create"), t.s("sites.created"));
    p.fixed.push(("client_id", json!(client_id)));
    ctx.form_page::<NewSite, Site, _>(p, Some(&json!({"active": true})), |tx, input| Box::pin(sites::create(tx, input)), |_| format!("/clients/{client_id}"))
        .await
}

/// `/sites/{id}/edit` (site links in tables point at `/sites/{id}`, which is this page too).
pub async fn site_edit(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let t = ctx.t;
    let tx = ctx.tx().await?;
    let current = sites::get(&tx, id).await?;
    tx.commit().await?;
    let client_id = current.client_id;
    let p = FormPage::new(t.s("sites.edit"), SITE_FIELDS, format!("/sites/{id}/edit"), t.s("common.save"), t.s("sites.saved"));
    ctx.form_page::<SiteChanges, Site, _>(
        p,
        Some(&form_values(&current)),
        move |tx, changes| Box::pin(sites::update(tx, id, changes)),
        |_| format!("/clients/{client_id}"),
    )
    .await
}

async fn user_rows(ctx: &Ctx<'_>) -> ApiResult<Vec<UserView>> {
    let tx = ctx.tx().await?;
    let page = users::list(&tx, &ctx.who, &PageRequest::first(200)).await?;
    tx.commit().await?;
    Ok(page.items)
}

pub async fn users(ctx: &Ctx<'_>) -> ApiResult<HttpResponse> {
    let rows = user_rows(ctx).await?;
    Ok(ctx.page(ctx.t.s("users.title"), users_body(ctx, &rows, &crate::ui::form::Form::default())))
}

fn users_body(ctx: &Ctx<'_>, rows: &[UserView], form: &crate::ui::form::Form) -> Markup {
    let t = ctx.t;
    html! {
        div class="scroll" {
            table {
                thead { tr { th { (t.s("field.name")) } th { (t.s("field.email")) } th { (t.s("field.role")) } th { (t.s("field.active")) } th { (t.s("common.actions")) } } }
                tbody {
                    @for u in rows {
                        tr {
                            td { (u.name) }
                            td { (u.email) }
                            td colspan="3" {
                                form method="post" action={ "/users/" (u.id) } class="bar" {
                                    input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf);
                                    label class="field" {
                                        span class="hint" { (t.s("field.role")) }
                                        select name="role" {
                                            @for r in [Role::Seller, Role::Admin] { option value=(r.as_str()) selected[u.role == r] { (t.dynamic(&format!("role.{}", r.as_str()))) } }
                                        }
                                    }
                                    label { input type="checkbox" name="active" checked[u.active]; " " (t.s("field.active")) }
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
    let saved = async {
        let input: CreateUser = crate::http::parse_value(crate::ui::form::to_json(USER_FIELDS, &posted))?;
        let tx = ctx.tx().await?;
        users::create(&tx, &ctx.who, input).await?;
        tx.commit().await?;
        Ok::<_, crate::error::ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done("/users", ctx.t.s("users.created"))),
        Err(e) => {
            let mut form = crate::ui::form::Form::with_posted(posted);
            form.fail(e, ctx.t);
            let rows = user_rows(ctx).await?;
            Ok(ctx.page_with_status(http::StatusCode::UNPROCESSABLE_ENTITY, ctx.t.s("users.title"), users_body(ctx, &rows, &form)))
        }
    }
}

pub async fn user_update(ctx: &Ctx<'_>, id: Uuid) -> ApiResult<HttpResponse> {
    let posted = match ctx.posted() {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let saved = async {
        let role = posted.get("role").map(String::as_str).unwrap_or_default();
        let role = Role::parse(role).ok_or_else(|| crate::error::ApiError::bad_field("role", "role must be admin or seller"))?;
        let tx = ctx.tx().await?;
        users::update(&tx, &ctx.who, id, UpdateUser { role: Some(role), active: Some(posted.contains_key("active")), name: None }).await?;
        tx.commit().await?;
        Ok::<_, crate::error::ApiError>(())
    };
    match saved.await {
        Ok(()) => Ok(ctx.done("/users", ctx.t.s("users.saved"))),
        Err(e) => {
            let (_, m) = crate::ui::form::describe(e, ctx.t);
            Ok(ctx.refused("/users", &m))
        }
    }
}
