//! Forms: field descriptions shared by rendering (label, input, the error next to it, the
//! user's input kept) and by turning posted values into the JSON body the API handler expects.

use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::ui::text::Text;

/// What kind of input a field is, and how its text becomes JSON.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Email,
    Password,
    Textarea,
    /// A decimal sent as a string ("32.90"), as the API reads decimals.
    Decimal,
    /// A whole number sent as a JSON number.
    Integer,
    Date,
    Checkbox,
    /// A fixed list; option labels are `<prefix>.<value>` text keys.
    Select(&'static str, &'static [&'static str]),
    /// A list filled at run time (clients, products): see [`Form::choices`].
    Choice,
}

#[derive(Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

pub const fn field(name: &'static str, kind: Kind, required: bool) -> Field {
    Field { name, kind, required }
}

/// Values (posted or loaded), the error to show, and run-time options of `Choice` fields.
#[derive(Default)]
pub struct Form {
    pub values: HashMap<String, String>,
    /// The field the error is about (when the API named one) and the message.
    pub error: Option<(Option<String>, String)>,
    pub choices: HashMap<&'static str, Vec<(String, String)>>,
    /// Prefix of input ids, for pages with more than one form.
    pub prefix: &'static str,
}

impl Form {
    /// Values of an API object, for an edit form.
    pub fn from_json(v: &Value, fields: &[Field]) -> Self {
        let mut values = HashMap::new();
        for f in fields {
            let text = match &v[f.name] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => {
                    if *b {
                        "on".into()
                    } else {
                        String::new()
                    }
                }
                _ => String::new(),
            };
            values.insert(f.name.to_string(), text);
        }
        Self { values, ..Self::default() }
    }

    pub fn with_posted(values: HashMap<String, String>) -> Self {
        Self { values, ..Self::default() }
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// Records an API refusal to show with the form.
    pub fn fail(&mut self, err: ApiError, t: &Text) {
        self.error = Some(describe(err, t));
    }

    /// The error about field `name` (the API may name a path such as `items[0].quantity`;
    /// a form field matches it exactly or by its first segment).
    pub fn error_for(&self, name: &str) -> Option<&str> {
        match &self.error {
            Some((Some(f), m)) if f == name || first_segment(f) == name => Some(m),
            _ => None,
        }
    }

    /// The error when it is not about one of `fields` (shown above the form).
    pub fn general_error(&self, fields: &[Field]) -> Option<&str> {
        match &self.error {
            Some((Some(f), _)) if fields.iter().any(|x| x.name == f || x.name == first_segment(f)) => None,
            Some((_, m)) => Some(m),
            None => None,
        }
    }
}

/// The field an error names (if any) and the message a person should read.
pub fn describe(err: ApiError, t: &Text) -> (Option<String>, String) {
    match err {
        ApiError::BadRequest { field, message, .. } | ApiError::Unprocessable { field, message, .. } => (field, message),
        ApiError::NotFound(m) => match m.split_once(": ") {
            Some((f, rest)) if f.ends_with("_id") => (Some(f.to_owned()), rest.to_owned()),
            _ => (None, m),
        },
        ApiError::Forbidden { .. } => (None, t.s("error.forbidden").to_owned()),
        e @ (ApiError::Internal(_) | ApiError::Unavailable(_)) => {
            tracing::error!(error = %e, "UI action failed");
            (None, t.s("error.generic").to_owned())
        }
        other => (None, other.to_string()),
    }
}

fn first_segment(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or("")
}

/// Parses an `application/x-www-form-urlencoded` body (last value of a name wins).
pub fn parse(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The JSON body for the API: text as given (an empty optional field is `null`, which also
/// clears it on edit), decimals as strings, integers as numbers, checkboxes as booleans.
pub fn to_json(fields: &[Field], values: &HashMap<String, String>) -> Value {
    let mut out = Map::new();
    for f in fields {
        let raw = values.get(f.name).map(|s| s.trim()).unwrap_or("");
        let v = match f.kind {
            Kind::Checkbox => Value::Bool(!raw.is_empty()),
            _ if raw.is_empty() && !f.required => Value::Null,
            Kind::Integer => raw.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(raw.to_owned())),
            Kind::Password => Value::String(values.get(f.name).cloned().unwrap_or_default()),
            _ => Value::String(raw.to_owned()),
        };
        out.insert(f.name.to_owned(), v);
    }
    Value::Object(out)
}

/// One labelled input with its error and kept value.
pub fn input(f: &Field, form: &Form, t: &Text, label_key: Option<&str>) -> Markup {
    let id = format!("{}-{}", if form.prefix.is_empty() { "f" } else { form.prefix }, f.name);
    let err = form.error_for(f.name);
    let err_id = format!("{id}-err");
    let value = form.get(f.name);
    let label = t.dynamic(label_key.unwrap_or(&format!("field.{}", f.name)));
    let input_type = match f.kind {
        Kind::Email => "email",
        Kind::Password => "password",
        Kind::Date => "date",
        _ => "text",
    };
    let inputmode = match f.kind {
        Kind::Decimal => Some("decimal"),
        Kind::Integer => Some("numeric"),
        _ => None,
    };
    html! {
        div class={ "field" @if err.is_some() { " invalid" } @if matches!(f.kind, Kind::Checkbox) { " check" } } {
            @match f.kind {
                Kind::Checkbox => {
                    input type="checkbox" id=(id) name=(f.name) checked[!value.is_empty()] aria-describedby=[err.map(|_| &err_id)];
                    label for=(id) { (label) }
                }
                Kind::Textarea => {
                    label for=(id) { (label) }
                    textarea id=(id) name=(f.name) rows="3" required[f.required] aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| &err_id)] autofocus[err.is_some()] { (value) }
                }
                Kind::Select(prefix, options) => {
                    label for=(id) { (label) }
                    select id=(id) name=(f.name) required[f.required] aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| &err_id)] autofocus[err.is_some()] {
                        @for o in options {
                            option value=(o) selected[value == *o] { (t.dynamic(&format!("{prefix}.{o}"))) }
                        }
                    }
                }
                Kind::Choice => {
                    label for=(id) { (label) }
                    select id=(id) name=(f.name) required[f.required] aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| &err_id)] autofocus[err.is_some()] {
                        option value="" { (t.s("common.choose")) }
                        @for (v, l) in form.choices.get(f.name).map(Vec::as_slice).unwrap_or(&[]) {
                            option value=(v) selected[value == v] { (l) }
                        }
                    }
                }
                _ => {
                    label for=(id) { (label) }
                    input type=(input_type) id=(id) name=(f.name) value=(if matches!(f.kind, Kind::Password) { "" } else { value })
                        required[f.required] inputmode=[inputmode] aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| &err_id)] autofocus[err.is_some()]
                        autocomplete=[matches!(f.kind, Kind::Password).then_some("new-password")];
                }
            }
            @if let Some(m) = err { p class="err" id=(err_id) { (m) } }
        }
    }
}

/// A whole form: CSRF token, the general error, every field, the submit button.
pub fn render(action: &str, csrf: &str, fields: &[Field], form: &Form, t: &Text, submit: &str) -> Markup {
    html! {
        form method="post" action=(action) class="card form" novalidate {
            input type="hidden" name=(crate::ui::session::CSRF_FIELD) value=(csrf);
            @if let Some(m) = form.general_error(fields) { p class="alert" role="alert" { (m) } }
            @if form.error.is_some() && form.general_error(fields).is_none() { p class="alert" role="alert" { (t.s("error.fix")) } }
            div class="grid" {
                @for f in fields { (input(f, form, t, None)) }
            }
            button type="submit" { (submit) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_values_become_the_api_body() {
        let fields = [
            field("name", Kind::Text, true),
            field("email", Kind::Email, false),
            field("lead", Kind::Integer, false),
            field("active", Kind::Checkbox, false),
            field("price", Kind::Decimal, true),
        ];
        let v = parse(b"name=+Ana+&email=&lead=7&price=3.50");
        let j = to_json(&fields, &v);
        assert_eq!(j, serde_json::json!({"name": "Ana", "email": null, "lead": 7, "active": false, "price": "3.50"}));
        let j = to_json(&fields, &parse(b"name=&lead=x&active=on"));
        assert_eq!(j, serde_json::json!({"name": "", "email": null, "lead": "x", "active": true, "price": ""}));
    }
}
