//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

use std::path::PathBuf;

use stormscope_shared::{Limits, Report, codec};

/// `testdata/` in the repository (a copy of `../shared/fixtures`), unless `STORMSCOPE_FIXTURES` names another.
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("STORMSCOPE_FIXTURES") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    assert!(
        dir.is_dir(),
        "fixtures not found at {} (set STORMSCOPE_FIXTURES)",
        dir.display()
    );
    dir
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn decode_file(rel: &str) -> Report {
    codec::decode_sniffed(&read(rel), &Limits::default())
        .unwrap_or_else(|e| panic!("decoding {rel}: {e}"))
}

/// The stems of the real probe bodies (`hostA-01-full`, ...).
pub fn probe_bodies() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(fixtures_dir().join("scope-probe"))
        .expect("scope-probe fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".msgpack.gz").map(str::to_owned))
        .collect();
    stems.sort();
    assert!(
        stems.len() >= 17,
        "expected the 17 probe bodies, found {}",
        stems.len()
    );
    stems
}

/// The first path at which two JSON values differ, for readable assertion messages.
pub fn first_diff(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q) {
                            return Some(format!("{key}/{d}"));
                        }
                    }
                    (p, q) => return Some(format!("{key}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q).map(|d| format!("{i}/{d}"))),
        _ if a == b => None,
        _ => Some(format!("{a} vs {b}")),
    }
}

/// Asserts two reports are equal, naming the first difference.
pub fn assert_same(a: &Report, b: &Report, what: &str) {
    if a != b {
        let (x, y) = (
            serde_json::to_value(a).unwrap(),
            serde_json::to_value(b).unwrap(),
        );
        panic!(
            "{what}: reports differ at {}",
            first_diff(&x, &y).unwrap_or_else(|| "(only in non-JSON detail)".into())
        );
    }
}

/// The plain msgpack inside a gzip body.
pub fn inflate(gz: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}
