//! Readiness towards systemd. Pingora binds its listeners inside its own service threads, so
//! "ready" is observed from outside: the HTTP listener accepts a connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Waits until `listen` accepts TCP connections, then tells systemd this process is the
/// service's main process and ready (`MAINPID=` + `READY=1`). The `MAINPID=` part is what lets a
/// process started by `ExecReload=` (graceful upgrade, `-u`) take the service over from the old
/// one, which drains and exits; for the first process it is a no-op.
pub async fn ready_when_listening(listen: SocketAddr) {
    let probe = probe_address(listen);
    loop {
        if tokio::net::TcpStream::connect(probe).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!(%listen, "proxy ready");
    infra::systemd::ready_as_main_process();
}

/// On SIGHUP, starts the proxy binary again with `--upgrade` (same arguments, same environment)
/// so that it can take the listening sockets over once this process gets SIGQUIT — the first half
/// of the graceful reload that `basecommerce-proxy-reload` (`ExecReload=`) drives.
///
/// Why this process spawns its successor instead of `ExecReload=` doing it: systemd gives the
/// unit's credentials (`$CREDENTIALS_DIRECTORY`) only to the main process's mount namespace, not
/// to control processes, so a proxy started by `ExecReload=` could not read its secrets. The path
/// is `argv[0]` (`/opt/basecommerce/current/bin/…`), so a switched `current` symlink makes the
/// reload an upgrade to the new binary.
pub async fn spawn_successor_on_sighup() {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
    while hup.recv().await.is_some() {
        let mut args = std::env::args_os();
        let Some(program) = args.next() else { continue };
        let args: Vec<_> = args.filter(|a| a != "-u" && a != "--upgrade").collect();
        // The watchdog belongs to whichever process systemd follows; WATCHDOG_PID names this one.
        match std::process::Command::new(&program).args(&args).arg("--upgrade").env_remove("WATCHDOG_PID").spawn() {
            Ok(child) => tracing::info!(pid = child.id(), "SIGHUP: started a successor waiting for the listening sockets"),
            Err(e) => tracing::error!(error = %e, program = ?program, "SIGHUP: cannot start a successor"),
        }
    }
}

/// A wildcard listen address is probed on loopback of the same family.
fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        assert_eq!(probe_address("0.0.0.0:80".parse().unwrap()), "127.0.0.1:80".parse().unwrap());
        assert_eq!(probe_address("[::]:443".parse().unwrap()), "[::1]:443".parse().unwrap());
        assert_eq!(probe_address("10.0.0.5:8080".parse().unwrap()), "10.0.0.5:8080".parse().unwrap());
    }

    #[tokio::test]
    async fn ready_once_the_listener_accepts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::time::timeout(Duration::from_secs(10), ready_when_listening(addr)).await.expect("a bound listener is ready");
    }
}
