-- Issue 15, finding 5: the edge (the proxy) connects as its own role. It maps hosts to tenants
-- and keeps the certificates it obtains; nothing else. The application role loses the ACME
-- tables, so a compromised vertical or worker can neither read a private key nor plant an
-- HTTP-01 answer; a compromised proxy can neither bind a domain to a tenant nor read business
-- data. install.sh (and the test harness) create basecommerce_edge as the administrator, like
-- every other role: the owner has no CREATEROLE. `vertical/tests/grants.rs` holds both roles to
-- an allow-list.

GRANT USAGE ON SCHEMA public TO basecommerce_edge;

-- Which tenant a host names, and whether it is active.
GRANT SELECT (id, slug, status, created_at) ON tenants TO basecommerce_edge;
-- Verified custom domains (not the verification token: proving ownership is the owner's step).
GRANT SELECT (id, tenant_id, domain, verified, verified_at) ON tenant_domains TO basecommerce_edge;

-- The certificates the edge obtains itself (ACME): its own, and only its own.
GRANT SELECT, INSERT, UPDATE, DELETE ON acme_accounts, acme_certificates, acme_status, acme_challenges TO basecommerce_edge;
REVOKE ALL ON acme_accounts, acme_certificates, acme_status, acme_challenges FROM basecommerce_app;
