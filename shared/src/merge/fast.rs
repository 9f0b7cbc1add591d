use std::io::Cursor;

use crate::model::Report;

/// The app's fast merger: every report merged into a fresh `MakeReport()`, so default shapes
/// and labels are always present, with an id that hashes the ids of its inputs so that caches
/// keyed by report id stay valid exactly as long as the inputs are the same.
pub fn fast_merge<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Report {
    let mut merged = Report::make();
    let mut ids = Vec::new();
    for report in reports {
        merged.merge(report);
        ids.extend_from_slice(report.id.as_bytes());
    }
    merged.id = merged_id(&ids);
    merged
}

/// murmur3 x64 (seed 0) of the concatenated input ids, as lower-case hex of its first 64 bits,
/// which is what Go's `murmur3.New64()` fed each id in turn sums to.
pub fn merged_id(concatenated_ids: &[u8]) -> String {
    let hash = murmur3::murmur3_x64_128(&mut Cursor::new(concatenated_ids), 0)
        .expect("reading from memory cannot fail");
    format!("{:x}", hash as u64)
}
