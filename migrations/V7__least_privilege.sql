-- Issue 15, finding 10: the application role (the vertical, the engines and, until it gets a
-- role of its own, the edge) holds what the code uses and nothing more. The test
-- `vertical/tests/grants.rs` compares its privileges with an allow-list.

-- Migration bookkeeping is the owner's: readiness reads the applied version, nobody else may
-- rewrite history (a forged checksum or version would hide or replay a migration).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON refinery_schema_history FROM basecommerce_app;

-- A table added later is granted by its own migration, deliberately, instead of silently
-- becoming readable and writable for the application.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM basecommerce_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM basecommerce_app;

-- Tenants: read only. Nothing in the services changes a tenant row (creation, suspension and
-- branding are the owner's, through the CLI); `tenants` has no row-level security, so an
-- update right would reach every tenant's row. Revoking at table level drops the column grants.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON tenants FROM basecommerce_app;

-- Custom domains: every tenant's rows are readable (the edge maps hosts to tenants before it
-- knows the tenant), so the verification token — the proof of owning a domain — is left out
-- of the readable columns. Domains are added and verified by the owner.
REVOKE ALL ON tenant_domains FROM basecommerce_app;
GRANT SELECT (id, tenant_id, domain, verified, verified_at, created_at) ON tenant_domains TO basecommerce_app;
