//! `stormscope probe` as an operator starts it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn stormscope() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stormscope"));
    command.stdin(Stdio::null());
    command
}

#[test]
fn help_lists_every_flag_and_its_variable() {
    let out = stormscope().args(["probe", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "[URL]",
        "--collector",
        "--interval",
        "--token",
        "--tenant",
        "--tenant-header",
        "--probe-id",
        "--log-level",
        "STORMSCOPE_COLLECTOR",
        "STORMSCOPE_INTERVAL",
        "STORMSCOPE_PROBE_TOKEN",
        "STORMSCOPE_TENANT",
        "STORMSCOPE_TENANT_HEADER",
        "STORMSCOPE_PROBE_ID",
        "STORMSCOPE_LOG_LEVEL",
        "http://127.0.0.1:4041",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_bad_collector_url_fails_at_once_and_the_token_is_never_printed() {
    let started = Instant::now();
    let out = stormscope()
        .args(["probe", "not a url", "--log-level", "debug"])
        .env("STORMSCOPE_PROBE_TOKEN", "very-secret-token")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("collector URL"), "{stderr}");
    assert!(!stderr.contains("very-secret-token"), "{stderr}");
}
