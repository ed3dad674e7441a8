//! The wire contract between the edge (proxy) and the services behind it. Both sides and the
//! test stack name these headers from here, so a rename cannot leave one side behind.

/// Carries the shared `edge.secret`: the vertical serves only requests that present it.
pub const EDGE_SECRET_HEADER: &str = "x-basecommerce-edge";
/// Carries the tenant the edge resolved from the Host. A client-sent copy is stripped at the edge.
pub const TENANT_SLUG_HEADER: &str = "x-tenant-slug";
/// Correlates one request across the edge's and the vertical's logs.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
