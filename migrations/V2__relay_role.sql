-- The relay reads and marks the outbox of every tenant, so it cannot run under the per-tenant
-- policy. It gets its own group role with a policy on event_outbox only; the vertical's role
-- (basecommerce_app) still sees one tenant at a time. Engines' login role: member of both.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_relay') THEN
    CREATE ROLE basecommerce_relay NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO basecommerce_relay;
GRANT SELECT, UPDATE, DELETE ON event_outbox TO basecommerce_relay;
CREATE POLICY relay_access ON event_outbox TO basecommerce_relay USING (true) WITH CHECK (true);
