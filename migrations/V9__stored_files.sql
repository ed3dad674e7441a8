-- Issue 15, finding 4: what each tenant's uploaded originals take on the file store, so the
-- vertical can hold a tenant to `files.tenant_quota_bytes`. Written in the same transaction as
-- the upload's event; a replaced original replaces its row. (Files uploaded before this
-- migration are not counted until they are replaced.)
CREATE TABLE stored_files (
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key        text NOT NULL,
  bytes      bigint NOT NULL CHECK (bytes >= 0),
  stored_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

ALTER TABLE stored_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE stored_files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stored_files
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON stored_files TO basecommerce_app;
