//! Fixtures the option and registry tests share: the two-host demo's 14 real bodies, Scope's
//! own fixture report, and a JSON diff that names the first difference; the real services the
//! HTTP tests run against ([`services`]).

#![allow(dead_code)]

pub mod services;

use std::path::PathBuf;

use stormscope_shared::merge::fast_merge;
use stormscope_shared::{Limits, Report, codec};

pub fn fixtures() -> PathBuf {
    std::env::var_os("STORMSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata"))
}

pub fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(rel)).unwrap()).unwrap()
}

/// The 14 demo bodies in arrival order, merged as the app merges a window.
pub fn demo() -> Report {
    let mut reports = Vec::new();
    for n in 1..=7 {
        for host in ["hostB", "hostA"] {
            let kind = if n % 3 == 1 { "full" } else { "delta" };
            let body = std::fs::read(
                fixtures().join(format!("scope-probe/{host}-{n:02}-{kind}.msgpack.gz")),
            )
            .unwrap();
            reports.push(codec::decode_sniffed(&body, &Limits::default()).unwrap());
        }
    }
    let mut merged = fast_merge(reports.iter());
    merged.remove_part_merged_nodes();
    merged
}

/// Scope's fixture report as the original app served it (`--app.collector=file://`):
/// upgraded, fast-merged, part-merged nodes removed.
pub fn fixture_report() -> Report {
    let body = std::fs::read(fixtures().join("scope-reference/fixture.msgpack.gz")).unwrap();
    let mut report = codec::decode_sniffed(&body, &Limits::default()).unwrap();
    report.upgrade();
    let mut merged = fast_merge([&report]);
    merged.remove_part_merged_nodes();
    merged
}

pub fn first_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_diff(p, q, &format!("{path}/{k}")),
                    (p, q) => Some(format!("{path}/{k}: ours {p:?}, original {q:?}")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a}, original {b}")),
    }
}
