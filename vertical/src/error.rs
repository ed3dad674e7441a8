//! The vertical's error type, mapped to an HTTP response in exactly one place.
//!
//! Client mistakes are 4xx with a JSON body naming the problem (and the field when there is
//! one); anything else is logged with the request id and answered with a generic 500/503 so no
//! internals leak.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON, unknown field, bad UUID, bad query parameter.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, field: Option<String> },
    /// Well-formed but invalid values.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, field: Option<String> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not (`allow` lists the ones that do).
    #[error("method not allowed here; use {allow}")]
    MethodNotAllowed { allow: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into(), field: None }
    }
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_request", message: message.into(), field: Some(field.into()) }
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable { code: "validation_failed", message: message.into(), field: Some(field.into()) }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { code, .. } | Self::Conflict { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON error response. Internal details are logged here, never sent.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error; the request id identifies it in the logs".to_string()
            }
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                "service temporarily unavailable".to_string()
            }
            other => other.to_string(),
        };
        let field = match &self {
            Self::BadRequest { field, .. } | Self::Unprocessable { field, .. } => field.clone(),
            _ => None,
        };
        let mut err = json!({ "code": self.code(), "message": message });
        if let Some(f) = field {
            err["field"] = json!(f);
        }
        let body = serde_json::to_vec(&json!({ "error": err })).unwrap_or_default();
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::MethodNotAllowed { allow } = &self {
            if let Ok(v) = HeaderValue::from_str(allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        resp
    }
}

/// Every error response: `{"error":{"code","message","field"?}}` (documented in OpenAPI; the
/// body itself is built by [`ApiError::into_response`]).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `quote_not_approved`.
    pub code: String,
    pub message: String,
    /// The offending field (`items[0].quantity`), when there is one.
    pub field: Option<String>,
}

/// A service's refusal as HTTP: the one place business errors get a status.
impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        use crate::domain::DomainError as D;
        match e {
            D::Invalid { code, message, field } => Self::Unprocessable { code, message, field },
            D::NotFound(m) => Self::NotFound(m),
            D::Conflict { code, message } => Self::Conflict { code, message },
            D::Unauthorized(m) => Self::Unauthorized(m),
            D::Forbidden { code, message } => Self::Forbidden { code, message },
            D::TooManyRequests(m) => Self::TooManyRequests(m),
            D::Postgres(pg) => pg.into(),
            D::Db(db) => db.into(),
            D::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<infra::db::DbError> for ApiError {
    fn from(e: infra::db::DbError) -> Self {
        match e {
            infra::db::DbError::Postgres(pg) => pg.into(),
            infra::db::DbError::Pool(p) => Self::Unavailable(format!("database pool: {p}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(format!("database pool: {e}"))
    }
}

/// Database errors that are the client's doing (duplicates, bad references, constraint
/// violations) become 409/422; connection trouble becomes 503; the rest is a 500.
impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let constraint = db.constraint().unwrap_or("").to_string();
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return Self::conflict("duplicate", format!("a record with the same value already exists ({constraint})"));
            }
            if *code == SqlState::FOREIGN_KEY_VIOLATION {
                return Self::conflict("in_use", format!("the record is referenced by other records or refers to a missing one ({constraint})"));
            }
            if *code == SqlState::CHECK_VIOLATION {
                return Self::Unprocessable { code: "validation_failed", message: format!("a value is out of range ({constraint})"), field: None };
            }
            // Class 22 (data exception: bad encoding, out-of-range number or date, NUL in text)
            // can only come from a value the client sent.
            if code.code().starts_with("22") {
                return Self::BadRequest { code: "invalid_value", message: format!("a value is not acceptable: {}", db.message()), field: None };
            }
            if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
                return Self::Unavailable(format!("transaction conflict: {}", db.message()));
            }
            if server_unavailable(code.code()) {
                return Self::Unavailable(format!("database: {}: {}", code.code(), db.message()));
            }
            return Self::Internal(format!("database: {}: {}", code.code(), db.message()));
        }
        if e.is_closed() {
            return Self::Unavailable(format!("database connection: {e}"));
        }
        Self::Internal(format!("database: {e}"))
    }
}

/// SQLSTATEs of a server that is going away or cannot serve right now (a restart, a failover,
/// too many connections): the request may well succeed in a moment, so 503, not 500. The soak
/// test found `57P01` ("terminating connection due to administrator command", what every
/// pooled connection gets when PostgreSQL restarts) answered as a 500.
fn server_unavailable(sqlstate: &str) -> bool {
    // 08: connection exception; 53: insufficient resources; 57P: admin/crash shutdown, cannot
    // connect now, database dropped.
    sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P")
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::server_unavailable;

    #[test]
    fn a_database_going_away_is_unavailable_not_internal() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "53300"] {
            assert!(server_unavailable(code), "{code}");
        }
        // Bugs stay 500s: an undefined column, a syntax error, a query cancelled by a timeout.
        for code in ["42703", "42601", "57014", "XX000"] {
            assert!(!server_unavailable(code), "{code}");
        }
    }
}
