//! A postal address, as clients and job sites have one.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::error::DomainResult;
use crate::domain::validate;

/// Street address, city, state and postal code, each optional. Serialised flat into its
/// owner (`"address"`, `"city"`, `"state"`, `"postal_code"`), as the API has always shown them.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Address {
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
}

impl Address {
    /// The four fields with their limits, in column order.
    pub const FIELDS: [(&'static str, usize); 4] = [("address", 300), ("city", 120), ("state", 60), ("postal_code", 20)];

    /// Validates the four optional fields (trimmed; empty is absent).
    pub fn parse(address: Option<&str>, city: Option<&str>, state: Option<&str>, postal_code: Option<&str>) -> DomainResult<Self> {
        let [a, c, s, p] = Self::FIELDS;
        Ok(Self {
            address: validate::opt_text(a.0, address, a.1)?,
            city: validate::opt_text(c.0, city, c.1)?,
            state: validate::opt_text(s.0, state, s.1)?,
            postal_code: validate::opt_text(p.0, postal_code, p.1)?,
        })
    }

    /// From four columns starting at `first`.
    pub fn from_row(r: &tokio_postgres::Row, first: usize) -> Self {
        Self { address: r.get(first), city: r.get(first + 1), state: r.get(first + 2), postal_code: r.get(first + 3) }
    }
}
