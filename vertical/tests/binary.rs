//! The `basecommerce-vertical` binary as systemd starts it: it says its version, and a bad
//! configuration stops it with EX_CONFIG (78) and one line naming the problem.

use std::process::Command;

#[test]
fn the_binary_reports_its_version_and_refuses_a_missing_config_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce-vertical")).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce-vertical")).args(["--config", "/nonexistent/basecommerce.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}
