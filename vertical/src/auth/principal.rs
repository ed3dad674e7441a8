//! Who is calling: the verified access token of a request, checked against the request's tenant.

use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::Req;
use crate::state::AppState;

/// Name of the browser's access-token cookie.
pub const ACCESS_COOKIE: &str = "bc_access";
/// Name of the browser's refresh-token cookie (sent only to `/auth`).
pub const REFRESH_COOKIE: &str = "bc_refresh";

/// An authenticated user of the request's tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
}

impl Principal {
    /// Reads the Bearer token (or the session cookie) and verifies it. A token of another tenant
    /// is refused even when its signature is good: tokens never cross tenants.
    pub fn authenticate(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<Self> {
        let token = match req.header("authorization") {
            Some(value) => value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?,
            None => {
                let cookie = req.cookie(ACCESS_COOKIE).ok_or_else(|| ApiError::unauthorized("authentication required"))?;
                // A cookie rides along on requests other sites trigger (sibling tenant subdomains
                // are the same "site" for SameSite). Scripts of this origin can add a header;
                // forms elsewhere cannot.
                let safe = matches!(req.method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS);
                if !safe && req.header("x-requested-with").is_none() {
                    return Err(ApiError::forbidden("csrf", "cookie-authenticated changes need the X-Requested-With header"));
                }
                cookie
            }
        };
        Self::from_token(state, tenant, token.trim())
    }

    /// Verifies an access token for `tenant` (shared by the API and the browser UI, which reads
    /// the token from the session cookie and applies its own CSRF check).
    pub fn from_token(state: &AppState, tenant: &Tenant, token: &str) -> ApiResult<Self> {
        let claims = state.tokens.verify(token).ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
        if claims.tid != tenant.id {
            return Err(ApiError::unauthorized("token belongs to another tenant"));
        }
        Ok(Self { user_id: claims.sub, tenant_id: claims.tid, role: claims.role })
    }

    /// Refuses non-admins with 403.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("forbidden", "this action needs the admin role"))
        }
    }
}
