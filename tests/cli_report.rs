//! `stormscope report` as an operator runs it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    let dir = std::env::var("STORMSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata"));
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}

fn stormscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning stormscope");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn inspect_summarises_a_real_probe_body() {
    let file = fixtures().join("scope-probe/hostA-01-full.msgpack.gz");
    let out = stormscope(&["report", "inspect", file.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("500b77fb74924034"), "probe id: {text}");
    assert!(text.contains("web-1.demo.local;<host>"), "host id: {text}");
    assert!(
        text.contains("endpoint                 5"),
        "endpoint count: {text}"
    );
    assert!(
        text.contains("ts:        2026-11-26T13:00:35.82"),
        "time: {text}"
    );
}

#[test]
fn convert_round_trips_through_stdin_and_both_encodings() {
    let body = std::fs::read(fixtures().join("scope-probe/hostB-04-full.msgpack.gz")).unwrap();
    let json = stormscope(&["report", "convert", "-", "--to", "json"], Some(&body));
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("convert wrote JSON");
    assert!(value["Host"]["nodes"]["db-1.demo.local;<host>"].is_object());
    let back = stormscope(
        &["report", "convert", "-", "--to", "msgpack", "--gzip"],
        Some(&json.stdout),
    );
    assert!(back.status.success());
    assert_eq!(&back.stdout[..2], &[0x1f, 0x8b], "gzip output");
    let summary = |bytes: &[u8]| stormscope(&["report", "inspect", "-"], Some(bytes)).stdout;
    assert_eq!(
        summary(&back.stdout),
        summary(&body),
        "the same report after two conversions"
    );
}

#[test]
fn bad_input_is_one_clear_line_and_a_failure() {
    let out = stormscope(&["report", "inspect", "-"], Some(b"{\"TS\": 5}"));
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("stormscope: - is not a Scope report: invalid JSON report"),
        "{err}"
    );
    let missing = stormscope(&["report", "inspect", "/nonexistent/report.json"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("opening /nonexistent/report.json"));
}

#[test]
fn help_and_version_work() {
    let help = stormscope(&["--help"], None);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("report"));
    let version = stormscope(&["--version"], None);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("stormscope {}", env!("CARGO_PKG_VERSION"))
    );
}
