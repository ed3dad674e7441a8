//! Who is calling: the verified access token of a request, checked against the request's tenant.

use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::Req;
use crate::state::AppState;

/// The names of the browser's cookies. By default they carry the `__Host-` prefix: the browser
/// then accepts them only with `Secure`, `Path=/` and no `Domain`, so a page on a sibling tenant's
/// subdomain cannot plant or overwrite one (cookie tossing). Plain names exist only for
/// `vertical.secure_cookies = false` (plain HTTP in a browser that refuses `Secure` there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The access token.
    pub access: &'static str,
    /// The refresh token.
    pub refresh: &'static str,
    /// The UI's CSRF nonce.
    pub nonce: &'static str,
    /// The UI's one-shot message.
    pub flash: &'static str,
}

impl CookieNames {
    pub const HOST: Self = Self { access: "__Host-bc_access", refresh: "__Host-bc_refresh", nonce: "__Host-bc_ui", flash: "__Host-bc_flash" };
    pub const PLAIN: Self = Self { access: "bc_access", refresh: "bc_refresh", nonce: "bc_ui", flash: "bc_flash" };

    /// The names this vertical sets and reads.
    pub fn of(state: &AppState) -> Self {
        if state.settings.vertical.secure_cookies {
            Self::HOST
        } else {
            Self::PLAIN
        }
    }
}

/// An authenticated user of the request's tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
    /// The sign-in (refresh-token family) the token was issued for; `None` on tokens issued
    /// before access tokens carried it. The UI binds its CSRF tokens to it.
    pub session: Option<Uuid>,
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
                let cookie = req.cookie(CookieNames::of(state).access).ok_or_else(|| ApiError::unauthorized("authentication required"))?;
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
        Ok(Self { user_id: claims.sub, tenant_id: claims.tid, role: claims.role, session: claims.fam })
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
