//! `basecommerce`: the admin CLI. Tables for people, `--json` for scripts, and exit codes that
//! say what went wrong (65 bad input, 66 not found, 69 database unavailable, 73 already exists,
//! 78 configuration).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use admin::{backup, doctor};
use admin::{Admin, AdminError, TenantChange};
use basecommerce_vertical::domain::tenant::TenantStatus;
use basecommerce_vertical::domain::user::{Email, NewPassword, Role};
use clap::{Parser, Subcommand, ValueEnum};
use infra::TenantSlug;

#[derive(Parser)]
#[command(name = "basecommerce", version, about = "Administer a basecommerce installation")]
struct Cli {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (as database.migrate_url, the schema owner).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage users of a tenant.
    #[command(subcommand)]
    User(UserCmd),
    /// The event bus.
    #[command(subcommand)]
    Events(EventsCmd),
    /// The dead-letter stream.
    #[command(subcommand)]
    Dlq(DlqCmd),
    /// The edge's TLS certificates (ACME).
    #[command(subcommand)]
    Cert(CertCmd),
    /// Redis as the appliance configures it.
    #[command(subcommand)]
    Redis(RedisCmd),
    /// Check the installation (config, credentials, database, migrations, Redis, units,
    /// certificates, disk, clock) and print the command that fixes each problem. Exit 1 if any.
    Doctor,
    /// Backups of the local PostgreSQL (pgBackRest, continuous WAL archiving).
    #[command(subcommand)]
    Backup(BackupCmd),
    /// One screen: units, endpoints, request rate, 5xx ratio, p99, outbox lag, pending, dead
    /// letters, last backup, certificates, disk. Exit 1 when something needs attention.
    Status {
        /// Seconds to watch the vertical's counters for the request rate.
        #[arg(long, default_value_t = 2)]
        sample_secs: u64,
    },
    /// Restore the local PostgreSQL from the backups: to the latest archived state, or to a point
    /// in time. Stops and restarts the services. Run as root on the database host.
    Restore {
        /// Point in time (UTC): 2026-11-22T05:40:00Z or "2026-11-22 05:40:00".
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum CertCmd {
    /// Each certificate's issuer and expiry, and the last error of names not yet issued.
    Status,
}

#[derive(Subcommand)]
enum RedisCmd {
    /// Print the `user` directives of each service's own Redis ACL user (from the credentials
    /// redis.proxy_url, redis.vertical_url, redis.relay_url, redis.worker_url; passwords as
    /// SHA-256 only), for the Redis configuration: install.sh writes them there.
    Acl,
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Stanza health, backups (full/diff) and the archived WAL range.
    Status,
}

#[derive(Subcommand)]
enum EventsCmd {
    /// Stream length, group lag, pending, dead letters, relay leader, unpublished outbox rows.
    Status,
}

#[derive(Subcommand)]
enum DlqCmd {
    /// List dead letters (oldest first).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Re-drive dead letters onto the main stream once their cause is fixed.
    Replay {
        /// The dead letter's id (see `dlq list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant (and optionally its first admin user).
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: Option<String>,
        /// File holding the admin's password ('-' for stdin); a strong one is generated and
        /// printed once when omitted.
        #[arg(long, requires = "admin_email")]
        admin_password_file: Option<PathBuf>,
    },
    /// List tenants.
    List,
    /// Suspend a tenant: its subdomain answers 403 until resumed.
    Suspend { slug: String },
    /// Resume a suspended tenant.
    Resume { slug: String },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user in a tenant.
    Create {
        slug: String,
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long, default_value = "")]
        name: String,
        /// File holding the password ('-' for stdin); generated and printed once when omitted.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Seller,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    infra::telemetry::install_crypto_provider();
    let loaded = infra::Settings::load(cli.config.as_deref());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    // These work without (or report on) a valid configuration.
    match &cli.command {
        Command::Doctor => return runtime.block_on(doctor(cli.config.clone(), loaded, cli.json)),
        Command::Backup(BackupCmd::Status) => return backup_status(cli.json),
        Command::Restore { to } => return restore(to.as_deref()),
        Command::Status { sample_secs } => return runtime.block_on(admin::status::command(loaded, *sample_secs, cli.json)),
        _ => {}
    }
    let settings = match loaded {
        Ok(s) => s,
        Err(e) => return fail(&AdminError::Config(e)),
    };
    if let Command::Redis(RedisCmd::Acl) = cli.command {
        // Needs the credentials only: install.sh runs it before the database exists.
        return match infra::redis::acl::conf_lines(&settings.redis, &settings.engines) {
            Ok(lines) => {
                lines.iter().for_each(|l| println!("{l}"));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&AdminError::Config(e)),
        };
    }
    match runtime.block_on(run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn doctor(config: Option<PathBuf>, loaded: Result<infra::Settings, infra::ConfigError>, json: bool) -> ExitCode {
    let credentials_dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from).or_else(|| {
        let appliance = Path::new("/etc/basecommerce/credentials");
        appliance.exists().then(|| appliance.to_path_buf())
    });
    let inputs = doctor::DoctorInputs { config_path: config.unwrap_or_else(|| infra::config::DEFAULT_CONFIG_PATH.into()), credentials_dir };
    let findings = doctor::run(loaded, &inputs).await;
    if json {
        print_json(&findings);
    } else {
        print!("{}", doctor::render(&findings));
    }
    if doctor::has_failures(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn backup_status(json: bool) -> ExitCode {
    let status = match backup::status() {
        Ok(s) => s,
        Err(e) => return fail(&AdminError::Unavailable(e.to_string())),
    };
    if json {
        print_json(&status);
        return ExitCode::SUCCESS;
    }
    println!("stanza {}: {}", status.stanza, status.status);
    println!("WAL archived: {} … {}", status.wal_min.as_deref().unwrap_or("none"), status.wal_max.as_deref().unwrap_or("none"));
    let rows: Vec<Vec<String>> = status
        .backups
        .iter()
        .map(|b| vec![b.label.clone(), b.kind.clone(), b.stopped_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()])
        .collect();
    print_table(&["LABEL", "TYPE", "FINISHED"], &rows);
    ExitCode::SUCCESS
}

fn restore(to: Option<&str>) -> ExitCode {
    let target = match to.map(backup::parse_target).transpose() {
        Ok(t) => t,
        Err(e) => return fail(&AdminError::Invalid(e.to_string())),
    };
    match backup::restore(target.as_deref(), |step| println!("restore: {step}")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&AdminError::Failed(e.to_string())),
    }
}

fn fail(e: &AdminError) -> ExitCode {
    eprintln!("basecommerce: {e}");
    ExitCode::from(e.exit_code())
}

async fn run(cli: Cli, settings: infra::Settings) -> Result<(), AdminError> {
    let admin = Admin::new(settings)?;
    let json = cli.json;
    match cli.command {
        Command::Migrate => {
            let report = admin.migrate().await?;
            if json {
                print_json(&report);
            } else if report.applied.is_empty() {
                println!("schema is current (V{})", report.current_version);
            } else {
                for m in &report.applied {
                    println!("applied {m}");
                }
                println!("schema is now at V{}", report.current_version);
            }
        }
        Command::Tenant(TenantCmd::Create { slug, name, admin_email, admin_password_file }) => {
            let slug = parse_slug(&slug)?;
            let (admin_user, generated) = match admin_email {
                Some(email) => {
                    let email = Email::parse(&email).map_err(|m| AdminError::Invalid(format!("--admin-email {m}")))?;
                    let (password, generated) = password_from(admin_password_file.as_deref())?;
                    (Some((email, password)), generated)
                }
                None => (None, None),
            };
            let change = admin.create_tenant(&slug, &name, admin_user).await?;
            report_change(json, "created", &change, generated.as_deref());
        }
        Command::Tenant(TenantCmd::List) => {
            let tenants = admin.list_tenants().await?;
            if json {
                print_json(&tenants);
            } else {
                let rows: Vec<Vec<String>> = tenants
                    .iter()
                    .map(|t| vec![t.slug.clone(), t.name.clone(), t.status.into(), t.users.to_string(), t.created_at.format("%Y-%m-%d %H:%M").to_string()])
                    .collect();
                print_table(&["SLUG", "NAME", "STATUS", "USERS", "CREATED"], &rows);
            }
        }
        Command::Tenant(TenantCmd::Suspend { slug }) => {
            let change = admin.set_status(&parse_slug(&slug)?, TenantStatus::Suspended).await?;
            report_change(json, "suspended", &change, None);
        }
        Command::Tenant(TenantCmd::Resume { slug }) => {
            let change = admin.set_status(&parse_slug(&slug)?, TenantStatus::Active).await?;
            report_change(json, "resumed", &change, None);
        }
        Command::Events(EventsCmd::Status) => {
            let s = admin.events_status().await?;
            if json {
                print_json(&s);
            } else {
                let st = &s.stream;
                let lag = st.lag.map_or("?".to_string(), |l| l.to_string());
                let leader = s.relay_leader.as_ref().map_or("none".to_string(), |l| {
                    let since = l.since.map(|t| format!(" (since {})", t.format("%Y-%m-%d %H:%M:%S"))).unwrap_or_default();
                    format!("{}{since}", l.name.as_deref().unwrap_or("a relay"))
                });
                let rows = vec![
                    vec!["stream".into(), format!("{} ({} entries)", st.stream, st.length)],
                    vec!["group".into(), format!("{}: lag {lag}, pending {}, consumers {}", st.group, st.pending, st.consumers)],
                    vec!["dead letters".into(), format!("{} ({} entries)", st.dlq, st.dlq_length)],
                    vec!["relay leader".into(), leader],
                    vec!["outbox unpublished".into(), s.outbox_unpublished.to_string()],
                ];
                print_table(&["WHAT", "STATE"], &rows);
            }
        }
        Command::Cert(CertCmd::Status) => {
            let certs = admin.cert_status().await?;
            if json {
                print_json(&certs);
            } else {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string());
                let rows: Vec<Vec<String>> = certs
                    .iter()
                    .map(|c| {
                        let error =
                            c.last_error.as_ref().map_or("-".to_string(), |e| format!("{e} (failures {}, next try {})", c.failures, when(c.next_attempt_at)));
                        vec![c.name.clone(), c.issuer.clone().unwrap_or_else(|| "-".into()), when(c.not_after), error]
                    })
                    .collect();
                print_table(&["NAME", "ISSUER", "NOT AFTER", "LAST ERROR"], &rows);
            }
        }
        Command::Dlq(DlqCmd::List { limit }) => {
            let letters = admin.dlq_list(limit).await?;
            if json {
                print_json(&letters);
            } else {
                let rows: Vec<Vec<String>> = letters.iter().map(|d| vec![d.id.clone(), d.event_type.clone(), d.deliveries.clone(), d.reason.clone()]).collect();
                print_table(&["ID", "TYPE", "DELIVERIES", "REASON"], &rows);
            }
        }
        Command::Dlq(DlqCmd::Replay { id, all }) => {
            let replayed = admin.dlq_replay(if all { None } else { id.as_deref() }).await?;
            if json {
                print_json(&serde_json::json!({ "replayed": replayed }));
            } else {
                println!("replayed {} dead letter(s) onto the main stream", replayed.len());
            }
        }
        Command::Doctor | Command::Backup(_) | Command::Restore { .. } | Command::Status { .. } | Command::Redis(_) => {
            unreachable!("handled before a database is required")
        }
        Command::User(UserCmd::Create { slug, email, role, name, password_file }) => {
            let slug = parse_slug(&slug)?;
            let email = Email::parse(&email).map_err(|m| AdminError::Invalid(format!("email {m}")))?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Seller => Role::Seller,
            };
            let (password, generated) = password_from(password_file.as_deref())?;
            let user = admin.create_user(&slug, &email, name.trim(), role, &password).await?;
            if json {
                print_json(&serde_json::json!({ "user": user, "generated_password": generated }));
            } else {
                println!("created {} user {} in {}", role.as_str(), user.email, slug);
                if let Some(p) = generated {
                    println!("password (shown once): {p}");
                }
            }
        }
    }
    Ok(())
}

fn parse_slug(s: &str) -> Result<TenantSlug, AdminError> {
    TenantSlug::parse(s).map_err(|e| AdminError::Invalid(format!("slug: {e}")))
}

/// Reads a password from a file or stdin, or generates one (returned so it can be shown once).
fn password_from(file: Option<&Path>) -> Result<(NewPassword, Option<String>), AdminError> {
    let (text, generated) = match file {
        Some(p) if p == Path::new("-") => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s).map_err(|e| AdminError::Invalid(format!("reading password from stdin: {e}")))?;
            (s.trim_end_matches(['\n', '\r']).to_owned(), None)
        }
        Some(p) => {
            let s = std::fs::read_to_string(p).map_err(|e| AdminError::Invalid(format!("{}: {e}", p.display())))?;
            (s.trim_end_matches(['\n', '\r']).to_owned(), None)
        }
        None => {
            use rand::Rng;
            let p: String = rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(20).map(char::from).collect();
            (p.clone(), Some(p))
        }
    };
    let password = NewPassword::parse(&text).map_err(|m| AdminError::Invalid(format!("password {m}")))?;
    Ok((password, generated))
}

fn report_change(json: bool, verb: &str, change: &TenantChange, generated: Option<&str>) {
    if json {
        print_json(
            &serde_json::json!({ "tenant": change.tenant, "admin": change.admin, "generated_password": generated, "invalidation_published": change.invalidation_published }),
        );
        return;
    }
    println!("{verb} tenant {} ({}) — status {}", change.tenant.slug, change.tenant.name, change.tenant.status.as_str());
    if let Some(admin) = &change.admin {
        println!("admin user: {}", admin.email);
    }
    if let Some(p) = generated {
        println!("admin password (shown once): {p}");
    }
    if !change.invalidation_published {
        eprintln!("note: the change was not announced on Redis (redis.url unset or unreachable); edge caches catch up when their entries expire");
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
}

fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
