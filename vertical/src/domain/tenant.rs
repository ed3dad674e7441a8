//! A tenant as the vertical sees it: resolved from `X-Tenant-Slug` on every request.

use infra::TenantSlug;
use serde::Serialize;
use uuid::Uuid;

/// Whether the tenant may use the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// The tenant's look, shown on its login page and UI.
#[derive(Debug, Clone, Serialize)]
pub struct Branding {
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: TenantSlug,
    pub name: String,
    pub status: TenantStatus,
    pub branding: Branding,
}

/// Columns [`Tenant::from_row`] expects, in order.
pub const TENANT_COLUMNS: &str = "id, slug, name, status, logo_url, primary_color, secondary_color";

impl Tenant {
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, String> {
        let slug: String = row.get(1);
        let status: String = row.get(3);
        Ok(Self {
            id: row.get(0),
            slug: TenantSlug::parse(&slug).map_err(|e| format!("stored slug {slug:?}: {e}"))?,
            name: row.get(2),
            status: TenantStatus::parse(&status).ok_or_else(|| format!("stored status {status:?}"))?,
            branding: Branding { logo_url: row.get(4), primary_color: row.get(5), secondary_color: row.get(6) },
        })
    }
}
