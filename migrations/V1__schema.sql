-- basecommerce schema, version 1: the whole product's tables.
--
-- Tenant isolation in depth: every tenant-owned table carries tenant_id (indexed), row-level
-- security is ENABLED and FORCED on it, and its policy compares tenant_id with the
-- transaction-local setting app.tenant_id. Services connect as a member of basecommerce_app,
-- which owns nothing and cannot bypass RLS; this file runs as the schema owner.
-- Parents expose UNIQUE (tenant_id, id) so children reference them with composite foreign keys:
-- a row can never point at another tenant's row, even through a bug.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_app') THEN
    CREATE ROLE basecommerce_app NOLOGIN;
  END IF;
END
$$;

CREATE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;

-- Platform tables --------------------------------------------------------------------------

CREATE TABLE tenants (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  logo_url        text,
  primary_color   text CHECK (primary_color ~ '^#[0-9a-fA-F]{6}$'),
  secondary_color text CHECK (secondary_color ~ '^#[0-9a-fA-F]{6}$'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_domains (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  domain             text NOT NULL UNIQUE CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9.-]+$'),
  verified           boolean NOT NULL DEFAULT false,
  verification_token text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', ''),
  verified_at        timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_domains_tenant_idx ON tenant_domains (tenant_id);

-- Identity ---------------------------------------------------------------------------------

CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email          text NOT NULL CHECK (email = lower(email) AND position('@' in email) > 1),
  name           text NOT NULL DEFAULT '',
  password_hash  text NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'seller')),
  active         boolean NOT NULL DEFAULT true,
  failed_logins  integer NOT NULL DEFAULT 0,
  locked_until   timestamptz,
  last_login_at  timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email),
  UNIQUE (tenant_id, id)
);
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL,
  user_id     uuid NOT NULL,
  family_id   uuid NOT NULL,
  token_hash  bytea NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rotated_at  timestamptz,
  revoked_at  timestamptz,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_tenant_idx ON refresh_tokens (tenant_id);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Per-tenant gap-free counters (quote and order numbers). A row lock serialises concurrent
-- creators; a rolled-back creation rolls the counter back too, so numbers have no gaps.
CREATE TABLE tenant_counters (
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name       text NOT NULL,
  value      bigint NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- Construction vertical ----------------------------------------------------------------------

CREATE TABLE clients (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('individual', 'company')),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  document     text NOT NULL,
  email        text,
  phone        text,
  address      text,
  city         text,
  state        text,
  postal_code  text,
  notes        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, document),
  UNIQUE (tenant_id, id)
);
CREATE INDEX clients_tenant_idx ON clients (tenant_id);

CREATE TABLE sites (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  client_id    uuid NOT NULL,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  address      text,
  city         text,
  state        text,
  postal_code  text,
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sites_tenant_idx ON sites (tenant_id);
CREATE INDEX sites_client_idx ON sites (tenant_id, client_id);

CREATE TABLE products (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  code         text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text,
  unit         text NOT NULL CHECK (unit IN ('UN', 'KG', 'M', 'M2', 'M3')),
  base_price   numeric(14, 2) NOT NULL CHECK (base_price > 0),
  active       boolean NOT NULL DEFAULT true,
  image_key    text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, code),
  UNIQUE (tenant_id, id)
);
CREATE INDEX products_tenant_idx ON products (tenant_id);

CREATE TABLE suppliers (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  document        text,
  email           text,
  phone           text,
  lead_time_days  integer NOT NULL DEFAULT 7 CHECK (lead_time_days BETWEEN 0 AND 365),
  active          boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX suppliers_tenant_idx ON suppliers (tenant_id);

CREATE TABLE supplier_prices (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  supplier_id  uuid NOT NULL,
  product_id   uuid NOT NULL,
  price        numeric(14, 2) NOT NULL CHECK (price > 0),
  valid_from   date NOT NULL DEFAULT current_date,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, supplier_id, product_id),
  FOREIGN KEY (tenant_id, supplier_id) REFERENCES suppliers (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX supplier_prices_tenant_idx ON supplier_prices (tenant_id);

-- Append-only: every supplier price change and every product base-price change.
CREATE TABLE price_history (
  id           bigserial PRIMARY KEY,
  tenant_id    uuid NOT NULL,
  product_id   uuid NOT NULL,
  supplier_id  uuid,
  old_price    numeric(14, 2),
  new_price    numeric(14, 2) NOT NULL,
  valid_from   date NOT NULL DEFAULT current_date,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, supplier_id) REFERENCES suppliers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX price_history_tenant_idx ON price_history (tenant_id, product_id, changed_at);

CREATE TABLE quotes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL,
  number            text NOT NULL,
  client_id         uuid NOT NULL,
  site_id           uuid,
  seller_id         uuid,
  status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'sent', 'approved', 'converted', 'cancelled')),
  discount_percent  numeric(5, 2) NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
  valid_days        integer NOT NULL DEFAULT 7 CHECK (valid_days BETWEEN 1 AND 365),
  notes             text,
  subtotal          numeric(14, 2) NOT NULL DEFAULT 0,
  total             numeric(14, 2) NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  sent_at           timestamptz,
  approved_at       timestamptz,
  converted_at      timestamptz,
  cancelled_at      timestamptz,
  UNIQUE (tenant_id, number),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
  FOREIGN KEY (tenant_id, seller_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX quotes_tenant_idx ON quotes (tenant_id, created_at DESC);

CREATE TABLE quote_items (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL,
  quote_id          uuid NOT NULL,
  position          integer NOT NULL,
  product_id        uuid NOT NULL,
  quantity          numeric(14, 3) NOT NULL CHECK (quantity > 0),
  unit_price        numeric(14, 2) NOT NULL CHECK (unit_price > 0),
  discount_percent  numeric(5, 2) NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
  total             numeric(14, 2) NOT NULL,
  UNIQUE (quote_id, position),
  FOREIGN KEY (tenant_id, quote_id) REFERENCES quotes (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX quote_items_tenant_idx ON quote_items (tenant_id);

CREATE TABLE orders (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL,
  number            text NOT NULL,
  quote_id          uuid NOT NULL,
  client_id         uuid NOT NULL,
  site_id           uuid,
  seller_id         uuid,
  status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'preparing', 'out_for_delivery', 'delivered', 'cancelled')),
  discount_percent  numeric(5, 2) NOT NULL DEFAULT 0,
  subtotal          numeric(14, 2) NOT NULL,
  total             numeric(14, 2) NOT NULL,
  notes             text,
  delivered_at      timestamptz,
  cancelled_at      timestamptz,
  sale_recorded_at  timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, number),
  UNIQUE (tenant_id, quote_id),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, quote_id) REFERENCES quotes (tenant_id, id),
  FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
  FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
  FOREIGN KEY (tenant_id, seller_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX orders_tenant_idx ON orders (tenant_id, created_at DESC);

CREATE TABLE order_items (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL,
  order_id          uuid NOT NULL,
  position          integer NOT NULL,
  product_id        uuid NOT NULL,
  quantity          numeric(14, 3) NOT NULL CHECK (quantity > 0),
  unit_price        numeric(14, 2) NOT NULL CHECK (unit_price > 0),
  discount_percent  numeric(5, 2) NOT NULL DEFAULT 0,
  total             numeric(14, 2) NOT NULL,
  UNIQUE (order_id, position),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX order_items_tenant_idx ON order_items (tenant_id);

-- Stock: movements are written by the vertical; levels are kept by the stock engine from events.
CREATE TABLE stock_movements (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  product_id   uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('receipt', 'adjustment', 'sale')),
  quantity     numeric(14, 3) NOT NULL CHECK (quantity <> 0),
  supplier_id  uuid,
  unit_cost    numeric(14, 2) CHECK (unit_cost > 0),
  reason       text,
  order_id     uuid,
  created_by   uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
  FOREIGN KEY (tenant_id, supplier_id) REFERENCES suppliers (tenant_id, id)
);
CREATE INDEX stock_movements_tenant_idx ON stock_movements (tenant_id, product_id, created_at);

CREATE TABLE stock_levels (
  tenant_id          uuid NOT NULL,
  product_id         uuid NOT NULL,
  on_hand            numeric(14, 3) NOT NULL DEFAULT 0,
  oversold           numeric(14, 3) NOT NULL DEFAULT 0,
  avg_daily_sales    numeric(14, 3),
  minimum            numeric(14, 3),
  days_to_rupture    integer,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, product_id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);

-- Transactional outbox ------------------------------------------------------------------------

CREATE TABLE event_outbox (
  id              bigserial PRIMARY KEY,
  event_id        uuid NOT NULL UNIQUE,
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  aggregate_type  text NOT NULL,
  aggregate_id    uuid NOT NULL,
  event_type      text NOT NULL,
  version         integer NOT NULL CHECK (version >= 1),
  occurred_at     timestamptz NOT NULL,
  payload         jsonb NOT NULL,
  published_at    timestamptz
);
CREATE INDEX event_outbox_tenant_idx ON event_outbox (tenant_id);
CREATE INDEX event_outbox_unpublished_idx ON event_outbox (id) WHERE published_at IS NULL;

-- Engines' tables -----------------------------------------------------------------------------

-- Idempotency: one row per (engine, event) written in the same transaction as the effect.
CREATE TABLE processed_events (
  tenant_id     uuid NOT NULL,
  engine        text NOT NULL,
  event_id      uuid NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (engine, event_id)
);
CREATE INDEX processed_events_tenant_idx ON processed_events (tenant_id);

-- One row per delivered order item: the sales history the engines average over.
CREATE TABLE sale_facts (
  tenant_id   uuid NOT NULL,
  order_id    uuid NOT NULL,
  product_id  uuid NOT NULL,
  quantity    numeric(14, 3) NOT NULL,
  unit_price  numeric(14, 2) NOT NULL,
  total       numeric(14, 2) NOT NULL,
  sold_at     timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, order_id, product_id)
);
CREATE INDEX sale_facts_product_idx ON sale_facts (tenant_id, product_id, sold_at);

CREATE TABLE stock_alerts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL,
  product_id       uuid NOT NULL,
  on_hand          numeric(14, 3) NOT NULL,
  minimum          numeric(14, 3) NOT NULL,
  days_to_rupture  integer,
  risk             text NOT NULL CHECK (risk IN ('high', 'medium', 'low')),
  oversold         boolean NOT NULL DEFAULT false,
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resolved')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at      timestamptz,
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX stock_alerts_one_active ON stock_alerts (tenant_id, product_id) WHERE status = 'active';

CREATE TABLE replenishment_suggestions (
  tenant_id           uuid NOT NULL,
  product_id          uuid NOT NULL,
  suggested_quantity  numeric(14, 3) NOT NULL,
  supplier_id         uuid,
  unit_cost           numeric(14, 2),
  estimated_cost      numeric(14, 2),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, product_id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE complementary_suggestions (
  tenant_id              uuid NOT NULL,
  product_id             uuid NOT NULL,
  complementary_id       uuid NOT NULL,
  frequency_percent      numeric(5, 2) NOT NULL,
  orders_with_both       integer NOT NULL,
  orders_with_product    integer NOT NULL,
  priority               text NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, product_id, complementary_id)
);

CREATE TABLE supplier_price_alerts (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id              uuid NOT NULL,
  supplier_id            uuid NOT NULL,
  product_id             uuid NOT NULL,
  kind                   text NOT NULL CHECK (kind IN ('price_increase', 'above_cheapest')),
  previous_price         numeric(14, 2),
  new_price              numeric(14, 2) NOT NULL,
  change_percent         numeric(7, 2),
  alternative_supplier_id uuid,
  alternative_price      numeric(14, 2),
  created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX supplier_price_alerts_tenant_idx ON supplier_price_alerts (tenant_id, created_at DESC);

CREATE TABLE delivery_routes (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL,
  delivery_date  date NOT NULL,
  region         text NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, delivery_date, region)
);

CREATE TABLE delivery_stops (
  tenant_id    uuid NOT NULL,
  route_id     uuid NOT NULL REFERENCES delivery_routes(id) ON DELETE CASCADE,
  order_id     uuid NOT NULL,
  postal_code  text,
  address      text,
  status       text NOT NULL,
  PRIMARY KEY (tenant_id, order_id)
);
CREATE INDEX delivery_stops_route_idx ON delivery_stops (route_id);

-- Row-level security on every tenant-owned table ------------------------------------------------

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'users', 'refresh_tokens', 'tenant_counters', 'clients', 'sites', 'products', 'suppliers',
    'supplier_prices', 'price_history', 'quotes', 'quote_items', 'orders', 'order_items',
    'stock_movements', 'stock_levels', 'event_outbox', 'processed_events', 'sale_facts',
    'stock_alerts', 'replenishment_suggestions', 'complementary_suggestions',
    'supplier_price_alerts', 'delivery_routes', 'delivery_stops', 'tenant_domains'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
      t);
  END LOOP;
END
$$;

-- A custom domain's owner is public (DNS says as much): the edge resolves hosts before it knows
-- the tenant, so reading tenant_domains is open while writing stays tenant-scoped.
CREATE POLICY domain_lookup ON tenant_domains FOR SELECT USING (true);

-- Privileges: the application role reads and writes business data, but can only read tenants
-- (and update their branding); creating, suspending and deleting tenants is the owner's job.
GRANT USAGE ON SCHEMA public TO basecommerce_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO basecommerce_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO basecommerce_app;
REVOKE INSERT, UPDATE, DELETE ON tenants FROM basecommerce_app;
GRANT UPDATE (name, logo_url, primary_color, secondary_color, updated_at) ON tenants TO basecommerce_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO basecommerce_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO basecommerce_app;
