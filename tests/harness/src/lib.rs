//! Hermetic test services: a real PostgreSQL cluster and a real Redis server, started from
//! Debian's binaries on random loopback ports in a temp dir, once per test binary, with a fresh
//! database per test. Nothing is mocked and nothing is shared between test binaries, so tests
//! run in parallel and leave no state behind.
//!
//! A reaper process watches the test binary and stops both servers (and deletes the temp dir)
//! when it exits, because Rust never runs destructors of statics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Login role that owns the schema and runs migrations (like `basecommerce migrate` does).
pub const OWNER_ROLE: &str = "bc_owner";
/// Login role the services use: a member of `basecommerce_app`, owning nothing, so RLS applies.
pub const APP_ROLE: &str = "bc_app";
/// Login role of the engines: `basecommerce_app` plus `basecommerce_relay` (reads the whole outbox).
pub const ENGINES_ROLE: &str = "bc_engines";
/// Login role of the edge: `basecommerce_edge` (tenants and domains read-only, the ACME tables).
pub const EDGE_ROLE: &str = "bc_edge";

/// How to start a set of servers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Redis with append-only persistence (for restart tests).
    pub redis_aof: bool,
}

/// A PostgreSQL cluster and a Redis server.
pub struct Services {
    pub dir: PathBuf,
    pub pg_port: u16,
    pub redis_port: u16,
    superuser: String,
    bin: PathBuf,
    as_root: bool,
    options: Options,
}

static SERVICES: OnceLock<Services> = OnceLock::new();

/// Starts (once) and returns the shared servers.
pub fn services() -> &'static Services {
    SERVICES.get_or_init(|| Services::start().unwrap_or_else(|e| panic!("test services failed to start: {e}")))
}

/// A fresh, empty database on the shared cluster, named uniquely for one test.
pub struct TestDatabase {
    pub name: String,
    /// URL as the schema owner (for migrations and fixtures).
    pub owner_url: String,
    /// URL as the application role (what services use: RLS applies).
    pub app_url: String,
    /// URL as the cluster superuser (bypasses RLS: for assertions on raw state).
    pub superuser_url: String,
    /// URL as the engines' role.
    pub engines_url: String,
    /// URL as the edge's role (the proxy).
    pub edge_url: String,
}

impl Services {
    fn start() -> Result<Self, String> {
        Self::start_with(Options::default())
    }

    /// Starts a dedicated set of servers (not shared with other tests of the binary): for tests
    /// that restart them.
    pub fn start_with(options: Options) -> Result<Self, String> {
        let bin = postgres_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("bc-test-").tempdir().map_err(|e| e.to_string())?.keep();
        let as_root = is_root();
        let superuser = if as_root { "postgres".to_string() } else { whoami() };
        if as_root {
            // initdb and postgres refuse to run as root: hand the directory to the postgres user.
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
        }
        let data = dir.join("pg");
        let pg_port = free_port();
        run(pg_command(as_root, &bin.join("initdb")).args(["-D"]).arg(&data).args([
            "-U",
            &superuser,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]))?;
        let log = dir.join("pg.log");
        run(pg_command(as_root, &bin.join("pg_ctl"))
            .args(["-D"])
            .arg(&data)
            .args(["-l"])
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -c port={pg_port} -c unix_socket_directories={} \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
                 -c shared_buffers=64MB",
                dir.display()
            ))
            .arg("start"))?;

        let redis_port = free_port();
        spawn_reaper(&dir, &bin, &data, as_root, redis_port);
        let services = Self { dir, pg_port, redis_port, superuser, bin, as_root, options };
        services.start_redis()?;
        services.psql(
            "postgres",
            &format!(
                "CREATE ROLE {OWNER_ROLE} LOGIN; \
             CREATE ROLE basecommerce_app NOLOGIN; \
             CREATE ROLE basecommerce_relay NOLOGIN; \
             CREATE ROLE basecommerce_edge NOLOGIN; \
             CREATE ROLE {EDGE_ROLE} LOGIN IN ROLE basecommerce_edge; \
             CREATE ROLE {APP_ROLE} LOGIN IN ROLE basecommerce_app; \
             CREATE ROLE {ENGINES_ROLE} LOGIN IN ROLE basecommerce_app, basecommerce_relay;"
            ),
        )?;
        Ok(services)
    }

    fn start_redis(&self) -> Result<(), String> {
        let redis = which("redis-server").ok_or("redis-server not found: apt-get install redis-server")?;
        let aof = if self.options.redis_aof { "yes" } else { "no" };
        let status = Command::new(redis)
            .args(["--port", &self.redis_port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", aof, "--appendfsync", "always"])
            .args(["--daemonize", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("redis-server: {e}"))?;
        if !status.success() {
            return Err(format!("redis-server exited with {status}"));
        }
        wait_tcp(self.redis_port)
    }

    /// Stops Redis (persisting its append-only file when enabled) and starts it again on the
    /// same port and directory.
    pub fn restart_redis(&self) -> Result<(), String> {
        let save = if self.options.redis_aof { "save" } else { "nosave" };
        let _ = Command::new("redis-cli").args(["-p", &self.redis_port.to_string(), "shutdown", save]).output();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.redis_port)).is_ok() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.start_redis()
    }

    /// Restarts PostgreSQL (fast shutdown: open connections are cut, as in a real restart).
    pub fn restart_postgres(&self) -> Result<(), String> {
        // -l matters: without it the new postmaster inherits our stdout pipe and `output()`
        // would wait for it forever.
        run(pg_command(self.as_root, &self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(self.dir.join("pg"))
            .args(["-l"])
            .arg(self.dir.join("pg.log"))
            .args(["-m", "fast", "-w", "-t", "60", "restart"]))
    }

    /// `postgres://…` for `role` on database `db`.
    pub fn pg_url(&self, role: &str, db: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{db}?sslmode=disable", self.pg_port)
    }

    /// `redis://…` of the shared Redis.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    /// Creates a fresh database owned by the owner role.
    pub fn create_database(&self) -> TestDatabase {
        let name = format!("t_{}", uuid_like());
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {OWNER_ROLE}")).unwrap_or_else(|e| panic!("create database: {e}"));
        TestDatabase {
            owner_url: self.pg_url(OWNER_ROLE, &name),
            app_url: self.pg_url(APP_ROLE, &name),
            superuser_url: self.pg_url(&self.superuser, &name),
            engines_url: self.pg_url(ENGINES_ROLE, &name),
            edge_url: self.pg_url(EDGE_ROLE, &name),
            name,
        }
    }

    fn psql(&self, db: &str, sql: &str) -> Result<(), String> {
        run(Command::new("psql").args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &self.pg_port.to_string(),
            "-U",
            &self.superuser,
            "-d",
            db,
            "-c",
            sql,
        ]))
    }
}

fn postgres_bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL server not installed: apt-get install postgresql".to_string())?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().ok_or_else(|| "no /usr/lib/postgresql/*/bin/initdb".into())
}

fn pg_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Stops the servers and removes the directory once this test process is gone.
fn spawn_reaper(dir: &Path, bin: &Path, data: &Path, as_root: bool, redis_port: u16) {
    let pg_ctl = bin.join("pg_ctl");
    let stop_pg = if as_root {
        format!("runuser -u postgres -- {} -D {} stop -m immediate", pg_ctl.display(), data.display())
    } else {
        format!("{} -D {} stop -m immediate", pg_ctl.display(), data.display())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop_pg} >/dev/null 2>&1; \
         redis-cli -p {redis_port} shutdown nosave >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("setsid").args(["sh", "-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn whoami() -> String {
    Command::new("id").arg("-un").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_else(|_| "postgres".into())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').chain(["/usr/bin", "/usr/sbin"]).map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

/// A port the kernel just handed out; released immediately for the server to take.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn wait_tcp(port: u16) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listening on 127.0.0.1:{port}"))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

/// A child process (a binary under test, a peer server) killed and reaped when the guard is
/// dropped, however the test ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
