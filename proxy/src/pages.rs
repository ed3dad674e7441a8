//! The few responses the edge writes itself: landing page, unknown tenant, suspended tenant,
//! rate limited, upstream down — HTML for browsers, JSON for API clients.

/// A response body and its content type.
pub struct Page {
    pub content_type: &'static str,
    pub body: String,
}

/// Does the client prefer JSON (`Accept: application/json`)?
pub fn wants_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An error page: JSON `{"error":{code,message}}` or a small branded HTML page.
pub fn error(json: bool, platform: &str, code: &str, title: &str, message: &str) -> Page {
    if json {
        return Page { content_type: "application/json", body: serde_json::json!({ "error": { "code": code, "message": message } }).to_string() };
    }
    Page { content_type: "text/html; charset=utf-8", body: html(platform, title, message) }
}

/// The platform's own landing page.
pub fn landing(platform: &str) -> Page {
    Page {
        content_type: "text/html; charset=utf-8",
        body: html(
            platform,
            platform,
            "Commerce for construction-materials dealers. Your store lives at your own subdomain; ask your administrator for its address.",
        ),
    }
}

fn html(platform: &str, title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t} · {p}</title><style>body{{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f5f6f8;color:#1d2433}}\
         main{{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}}h1{{margin-top:0;font-size:1.4rem}}small{{color:#5b6577}}</style></head>\
         <body><main><h1>{t}</h1><p>{m}</p><small>{p}</small></main></body></html>",
        t = escape(title),
        m = escape(message),
        p = escape(platform)
    )
}
