use std::fmt;

/// A bound that decoding enforces; each names itself in the error it causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    CompressedSize,
    DecompressedSize,
    NestingDepth,
    StringLength,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::CompressedSize => "compressed size",
            Limit::DecompressedSize => "decompressed size",
            Limit::NestingDepth => "nesting depth",
            Limit::StringLength => "string length",
        })
    }
}

/// Why a body is not a report. Every variant is the sender's fault (HTTP 400, or 413 for
/// [`DecodeError::LimitExceeded`] on sizes); none is a server fault.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is empty")]
    Empty,
    #[error("body exceeds the {limit} limit of {max}")]
    LimitExceeded { limit: Limit, max: usize },
    #[error("invalid gzip stream: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("invalid JSON report: {0}")]
    Json(#[source] serde_json::Error),
    /// msgpack errors are ours (the hand-written reader) or rmp-serde's (for the rare parts
    /// read through serde), so they are carried as their message.
    #[error("invalid msgpack report: {0}")]
    Msgpack(String),
    #[error("invalid report: {0}")]
    Invalid(String),
}

impl DecodeError {
    pub fn limit(limit: Limit, max: usize) -> Self {
        DecodeError::LimitExceeded { limit, max }
    }

    /// A short, stable label for metrics (`decode_errors_total{kind=...}`).
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::LimitExceeded {
                limit: Limit::CompressedSize,
                ..
            } => "compressed_size",
            DecodeError::LimitExceeded {
                limit: Limit::DecompressedSize,
                ..
            } => "decompressed_size",
            DecodeError::LimitExceeded {
                limit: Limit::NestingDepth,
                ..
            } => "nesting_depth",
            DecodeError::LimitExceeded {
                limit: Limit::StringLength,
                ..
            } => "string_length",
            DecodeError::Gzip(_) => "gzip",
            DecodeError::Json(_) => "json",
            DecodeError::Msgpack(_) => "msgpack",
            DecodeError::Invalid(_) => "invalid",
        }
    }

    /// Size limits mean "too large" (413); everything else is malformed input (400).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            DecodeError::LimitExceeded {
                limit: Limit::CompressedSize | Limit::DecompressedSize,
                ..
            }
        )
    }
}
