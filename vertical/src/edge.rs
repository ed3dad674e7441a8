//! Trust boundary with the proxy: a request is served only if it carries the edge secret, and
//! its tenant comes only from the proxy-set `X-Tenant-Slug`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::tenant::{Tenant, TenantStatus, TENANT_COLUMNS};
use crate::error::{ApiError, ApiResult};
use crate::http::Req;
use crate::state::AppState;

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};

/// Refuses (403) a request that did not come through the proxy. Digests are compared, so the
/// comparison is constant-time and leaks neither content nor length.
pub fn check_edge_secret(state: &AppState, req: &Req) -> ApiResult<()> {
    check_edge_secret_in(state, &req.headers)
}

/// [`check_edge_secret`] on the request's headers alone (before its body is read).
pub fn check_edge_secret_in(state: &AppState, headers: &http::HeaderMap) -> ApiResult<()> {
    let presented = headers.get(EDGE_SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or(b"");
    let digest: [u8; 32] = Sha256::digest(presented).into();
    if bool::from(digest.ct_eq(&state.edge_secret_digest)) && !presented.is_empty() {
        Ok(())
    } else {
        Err(ApiError::forbidden("edge_required", "requests must come through the basecommerce proxy"))
    }
}

/// Loads the tenant named by `X-Tenant-Slug`. Unknown → 404; suspended → 403.
pub async fn resolve_tenant(state: &AppState, req: &Req) -> ApiResult<Tenant> {
    resolve_tenant_in(state, &req.headers).await
}

/// [`resolve_tenant`] on the request's headers alone (before its body is read).
pub async fn resolve_tenant_in(state: &AppState, headers: &http::HeaderMap) -> ApiResult<Tenant> {
    let raw = headers.get(TENANT_SLUG_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| ApiError::not_found("tenant"))?;
    let slug = infra::TenantSlug::parse(raw).map_err(|_| ApiError::not_found("tenant"))?;
    let cached = state.tenants.as_ref().and_then(|c| c.get(slug.as_str()));
    let tenant = match cached {
        Some(t) => t,
        None => {
            let client = state.pool.get().await?;
            let stmt = client.prepare_cached(&format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1")).await?;
            let row = client.query_opt(&stmt, &[&slug.as_str()]).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
            let tenant = Tenant::from_row(&row).map_err(ApiError::Internal)?;
            if let Some(cache) = &state.tenants {
                cache.insert(slug.as_str().to_owned(), tenant.clone());
            }
            tenant
        }
    };
    if tenant.status == TenantStatus::Suspended {
        return Err(ApiError::forbidden("tenant_suspended", "this tenant is suspended"));
    }
    Ok(tenant)
}
