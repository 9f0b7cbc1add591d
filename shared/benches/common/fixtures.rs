//! The real probe bodies in `testdata/` (copied from `../shared/fixtures`), for the benchmarks.

use std::path::PathBuf;

pub fn fixture(rel: &str) -> Vec<u8> {
    let dir = std::env::var("STORMSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata"));
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
