/// Bounds on what a single report body may cost to decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted as sent (compressed, if it is).
    pub max_compressed_bytes: usize,
    /// Largest body after inflation; inflation stops as soon as it is passed.
    pub max_decompressed_bytes: usize,
    /// Deepest nesting of maps and arrays. A report needs about 8; children nest a little more.
    pub max_depth: usize,
    /// Longest single string (ids, keys, values).
    pub max_string_bytes: usize,
}

impl Default for Limits {
    /// Generous for real probes (a busy host's full report is ~15 KB gzip, ~210 KB msgpack),
    /// yet small enough that a hostile body costs little.
    fn default() -> Self {
        Limits {
            max_compressed_bytes: 16 << 20,
            max_decompressed_bytes: 128 << 20,
            max_depth: 64,
            max_string_bytes: 1 << 20,
        }
    }
}
