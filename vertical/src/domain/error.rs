//! What the business can refuse, in its own words. Services return [`DomainError`]; the HTTP
//! layer maps it to a status and the JSON error body exactly once (`crate::error`), and the UI
//! puts it next to the field it names.

/// Why a service refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A value breaks a rule (422). `field` is the input path (`items[0].quantity`) when one
    /// value is to blame.
    #[error("{message}")]
    Invalid { code: &'static str, message: String, field: Option<String> },
    /// No such record in this tenant (404). The message may start with `<field>: ` when the
    /// missing record was named by an input field (`client_id: client … not found`).
    #[error("{0}")]
    NotFound(String),
    /// The record's current state does not allow it (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Credentials or a session token are missing, wrong or spent (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The principal's role does not allow it (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// A quota is spent for now (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// The database answered with an error (mapped by SQLSTATE: duplicates, bad references and
    /// data exceptions are the client's; connection loss is 503; the rest 500).
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    /// The pool or the transaction could not be had.
    #[error(transparent)]
    Db(#[from] infra::db::DbError),
    /// A broken invariant of our own (logged, answered 500 without details).
    #[error("{0}")]
    Internal(String),
}

/// A service's result.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// 422 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { code: "validation_failed", message: message.into(), field: Some(field.into()) }
    }
    /// 404 for `what` ("quote not found").
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
    /// 404 for a record an input field referred to (`client_id: client … not found`).
    pub fn missing_reference(field: &str, what: &str, id: uuid::Uuid) -> Self {
        Self::NotFound(format!("{field}: {what} {id} not found"))
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }
}

impl From<deadpool_postgres::PoolError> for DomainError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(infra::db::DbError::Pool(e))
    }
}
