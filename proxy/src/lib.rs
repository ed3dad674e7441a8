//! basecommerce-proxy: the edge. Resolves the tenant from the host, refuses unknown and
//! suspended tenants itself, injects `X-Tenant-Slug` and the edge secret, rate limits per IP,
//! terminates TLS with certificates chosen by SNI, and balances over the verticals.

pub mod acme;
pub mod connlimit;
pub mod host;
pub mod metrics;
pub mod pages;
pub mod proxy;
pub mod ratelimit;
pub mod systemd;
pub mod tenants;
pub mod tls;
