//! PostgreSQL: the pool every service uses, TLS for managed databases, and the one way to open
//! a tenant-scoped transaction.
//!
//! Row-level security policies read `app.tenant_id`; it is set with `set_config(…, true)` —
//! transaction-local — so a pooled connection never carries one request's tenant into the next.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use uuid::Uuid;

use crate::config::{ConfigError, DatabaseSettings, Secret};

pub use deadpool_postgres::{Object as PooledClient, Transaction};

/// Why the database layer failed; services map it to 503 or an exit code.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migrations: {0}")]
    Migration(String),
}

/// Builds a pool for `url`. Connections are opened lazily, so a service can start (and report
/// not-ready) while the database is still coming up.
pub fn pool(url: &Secret, settings: &DatabaseSettings, size: usize) -> Result<Pool, DbError> {
    let mut cfg: tokio_postgres::Config = url.expose().parse().map_err(|e| ConfigError::new("database.url", format!("is not a valid PostgreSQL URL: {e}")))?;
    cfg.connect_timeout(Duration::from_secs(settings.connect_timeout_secs));
    if cfg.get_application_name().is_none() {
        cfg.application_name("basecommerce");
    }
    let mgr_cfg = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match cfg.get_ssl_mode() {
        SslMode::Disable => Manager::from_config(cfg, tokio_postgres::NoTls, mgr_cfg),
        _ => Manager::from_config(cfg, tls_connector(settings)?, mgr_cfg),
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(settings.connect_timeout_secs)))
        .build()
        .map_err(|e| DbError::Config(ConfigError::new("database.pool_size", e.to_string())))
}

/// TLS like libpq: with `database.ca_file` the server is verified against that CA (what managed
/// PostgreSQL offers for download); without it, `sslmode=require` encrypts without verifying,
/// exactly as libpq's `require` does.
fn tls_connector(settings: &DatabaseSettings) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("database.url", e.to_string()))?;
    let config = match &settings.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| ConfigError::new("database.ca_file", format!("cannot read {}: {e}", path.display())))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: rustls::pki_types::CertificateDer<'static> = cert.map_err(|e| ConfigError::new("database.ca_file", format!("bad PEM: {e}")))?;
                roots.add(cert).map_err(|e| ConfigError::new("database.ca_file", e.to_string()))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder.dangerous().with_custom_certificate_verifier(Arc::new(EncryptOnly(provider))).with_no_client_auth(),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// libpq's `sslmode=require`: signatures are checked (the handshake is real) but the chain is not.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An error with the server's SQLSTATE and message, for logs and dead letters.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}){}", db.message(), db.code().code(), db.detail().map(|d| format!(": {d}")).unwrap_or_default()),
        None => e.to_string(),
    }
}

/// The one statement that binds a transaction to a tenant (`$1`: the tenant id as text).
/// Transaction-local (`true`): the binding ends with the transaction, never leaking into the
/// next user of a pooled connection.
pub const BIND_TENANT_SQL: &str = "SELECT set_config('app.tenant_id', $1, true)";

/// Opens a transaction bound to `tenant_id` on a borrowed connection: row-level security then
/// shows and accepts only that tenant's rows, whatever the queries inside forget to filter.
/// Services that own their connection use [`TenantTx`].
pub async fn tenant_transaction(client: &mut PooledClient, tenant_id: Uuid) -> Result<Transaction<'_>, DbError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(BIND_TENANT_SQL).await?;
    tx.execute(&stmt, &[&tenant_id.to_string()]).await?;
    Ok(tx)
}

/// A transaction bound to one tenant that owns its pooled connection, so a service can take
/// `&TenantTx` and the caller needs no connection of its own. Queries go through `Deref` to
/// the client (`query`, `execute`, `prepare_cached`, ...); [`TenantTx::tenant_id`] is the tenant
/// every statement inside is confined to by row-level security.
///
/// Dropped without [`TenantTx::commit`], it rolls back — on a spawned task, since `Drop` cannot
/// wait — and only then does the connection go back to the pool; with no runtime left to run
/// that, the connection is detached from the pool and closed instead. Either way no pooled
/// connection is ever handed out inside a transaction.
pub struct TenantTx {
    client: Option<PooledClient>,
    tenant_id: Uuid,
}

impl TenantTx {
    /// `BEGIN` and the tenant binding in one round trip (a simple-query batch runs in order and
    /// stops at the first error, so nothing runs unbound).
    pub async fn begin(client: PooledClient, tenant_id: Uuid) -> Result<Self, DbError> {
        Self::start(client, tenant_id, "BEGIN").await
    }

    /// Like [`TenantTx::begin`], but the server refuses every write inside.
    pub async fn begin_read_only(client: PooledClient, tenant_id: Uuid) -> Result<Self, DbError> {
        Self::start(client, tenant_id, "BEGIN READ ONLY").await
    }

    async fn start(client: PooledClient, tenant_id: Uuid, begin: &str) -> Result<Self, DbError> {
        // The guard exists before BEGIN is sent: a failure or a cancelled future rolls back.
        let tx = Self { client: Some(client), tenant_id };
        // A Uuid renders as hex and dashes only: nothing to escape in the literal.
        let bind = BIND_TENANT_SQL.replace("$1", &format!("'{tenant_id}'"));
        tx.batch_execute(&format!("{begin}; {bind}")).await?;
        Ok(tx)
    }

    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    pub async fn commit(mut self) -> Result<(), DbError> {
        let client = self.client.take().expect("a TenantTx holds its connection until commit or drop");
        match client.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                // The connection's state is unknown: never hand it out again.
                drop(deadpool_postgres::Object::take(client));
                Err(e.into())
            }
        }
    }
}

impl std::ops::Deref for TenantTx {
    type Target = deadpool_postgres::ClientWrapper;
    fn deref(&self) -> &Self::Target {
        self.client.as_ref().expect("a TenantTx holds its connection until commit or drop")
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(deadpool_postgres::Object::take(client));
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
}

/// A read-only tenant transaction in one round trip: `BEGIN READ ONLY` with the tenant binding,
/// the statements, and `COMMIT` are sent together and run in order by the server, where
/// [`tenant_transaction`] waits for each (four round trips for one query). Row-level security
/// sees the tenant exactly as there; if the binding failed, the transaction is aborted and the
/// statements fail rather than run unbound. Every message is queued in the first poll, so a
/// request dropped half-way still leaves the connection outside a transaction. Statements
/// must be prepared beforehand (`prepare_cached`). Returns each statement's rows.
pub async fn tenant_read(
    client: &PooledClient,
    tenant_id: Uuid,
    queries: &[(&tokio_postgres::Statement, &[&(dyn tokio_postgres::types::ToSql + Sync)])],
) -> Result<Vec<Vec<tokio_postgres::Row>>, DbError> {
    // A Uuid renders as hex and dashes only: nothing to escape in the literal.
    let begin = format!("BEGIN READ ONLY; SELECT set_config('app.tenant_id', '{tenant_id}', true)");
    // futures' join polls in order, so the messages go out in this order.
    let (began, rows, committed) = futures_util::join!(
        client.batch_execute(&begin),
        futures_util::future::join_all(queries.iter().map(|(stmt, params)| client.query(*stmt, params))),
        client.batch_execute("COMMIT"),
    );
    began?;
    let rows = rows.into_iter().collect::<Result<Vec<_>, _>>()?;
    committed?;
    Ok(rows)
}

/// A dedicated connection (outside the pool) that LISTENs on `channel`: each notification
/// becomes a `()` on the receiver, and the receiver closes when the connection is lost — the
/// caller then reconnects. Session state (advisory locks) lives exactly as long as it.
pub async fn listen(
    url: &Secret,
    settings: &DatabaseSettings,
    application_name: &str,
    channel: &str,
) -> Result<(tokio_postgres::Client, tokio::sync::mpsc::Receiver<()>), DbError> {
    let mut cfg: tokio_postgres::Config = url.expose().parse().map_err(|e| ConfigError::new("database.url", format!("is not a valid PostgreSQL URL: {e}")))?;
    cfg.connect_timeout(Duration::from_secs(settings.connect_timeout_secs));
    cfg.application_name(application_name);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let client = match cfg.get_ssl_mode() {
        SslMode::Disable => {
            let (client, connection) = cfg.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(forward_notifications(connection, tx));
            client
        }
        _ => {
            let (client, connection) = cfg.connect(tls_connector(settings)?).await?;
            tokio::spawn(forward_notifications(connection, tx));
            client
        }
    };
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    Ok((client, rx))
}

async fn forward_notifications<S, T>(mut connection: tokio_postgres::Connection<S, T>, tx: tokio::sync::mpsc::Sender<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                // A full channel already holds a wake-up; dropping this one loses nothing.
                let _ = tx.try_send(());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "listening connection lost");
                break;
            }
        }
    }
}
