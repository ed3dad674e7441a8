-- Certificates the proxy obtains itself (ACME). Kept in PostgreSQL so every edge droplet
-- serves the same certificates and only one of them talks to the CA for a name at a time;
-- each proxy also keeps an on-disk copy so it can serve TLS while the database is away.
-- Platform-wide data (no tenant column, no row-level security).

CREATE TABLE acme_accounts (
  directory_url text PRIMARY KEY,
  credentials   jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_certificates (
  name        text PRIMARY KEY,             -- '*.example.com' (wildcard + apex) or a host name
  domains     text[] NOT NULL,
  chain_pem   text NOT NULL,
  key_pem     text NOT NULL,
  issuer      text NOT NULL,
  not_before  timestamptz NOT NULL,
  not_after   timestamptz NOT NULL,
  issued_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per name the issuer has tried: what went wrong and when it may try again.
CREATE TABLE acme_status (
  name             text PRIMARY KEY,
  failures         integer NOT NULL DEFAULT 0,
  last_error       text,
  last_attempt_at  timestamptz,
  next_attempt_at  timestamptz
);

-- HTTP-01 answers, so whichever droplet the CA reaches can answer.
CREATE TABLE acme_challenges (
  token             text PRIMARY KEY,
  key_authorization text NOT NULL,
  expires_at        timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON acme_accounts, acme_certificates, acme_status, acme_challenges TO basecommerce_app;
