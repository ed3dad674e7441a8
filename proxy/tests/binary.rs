//! The `basecommerce-proxy` binary as systemd starts it, with nothing behind it: it says its
//! version, and a bad configuration stops it with EX_CONFIG (78) and one line naming the key.
//! (The edge in front of a real vertical is tested in `tests/stack/tests/edge.rs`.)

use std::process::Command;

#[test]
fn the_binary_reports_its_version_and_names_a_bad_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce-proxy")).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));

    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce-proxy")).env("BASECOMMERCE_PROXY__UPSTREAMS", "[not-an-address]").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("proxy.upstreams"), "{err}");
}
