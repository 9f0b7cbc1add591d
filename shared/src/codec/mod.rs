//! Reading and writing reports as probes and the original app do: gzip or identity, JSON or
//! msgpack. Decoding runs behind [`Limits`] so that hostile bodies (gzip bombs, deep nesting,
//! huge strings) are refused with a typed error before they cost unbounded memory or stack.

mod error;
mod gzip;
mod json;
mod limits;
mod msgpack;
mod validate;

pub use error::{DecodeError, Limit};
pub use limits::Limits;
pub use msgpack::Checked;
pub use validate::validate;

use std::borrow::Cow;

use crate::model::Report;

/// The serialisation of a report body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Msgpack,
}

impl Format {
    /// The format of a `Content-Type`, by prefix as the original app matches it.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let ct = content_type.trim().to_ascii_lowercase();
        if ct.starts_with("application/msgpack") {
            Some(Format::Msgpack)
        } else if ct.starts_with("application/json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Msgpack => "application/msgpack",
        }
    }

    /// Guesses the format of an uncompressed body: JSON starts with `{` (after white space),
    /// a msgpack report with a map marker.
    pub fn sniff(body: &[u8]) -> Format {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'n') => Format::Json,
            _ => Format::Msgpack,
        }
    }
}

/// Whether a body is gzip-compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Identity,
}

impl Compression {
    /// As the original app decides: gzip iff `Content-Encoding` mentions gzip.
    pub fn from_content_encoding(content_encoding: Option<&str>) -> Compression {
        match content_encoding {
            Some(ce) if ce.to_ascii_lowercase().contains("gzip") => Compression::Gzip,
            _ => Compression::Identity,
        }
    }

    pub fn sniff(body: &[u8]) -> Compression {
        if gzip::is_gzip(body) {
            Compression::Gzip
        } else {
            Compression::Identity
        }
    }
}

/// Decodes a report body within `limits`. The report is checked with [`validate`].
pub fn decode(
    body: &[u8],
    compression: Compression,
    format: Format,
    limits: &Limits,
) -> Result<Report, DecodeError> {
    let plain = inflate_within(body, compression, limits)?;
    let report = match format {
        Format::Json => json::decode(&plain, limits)?,
        Format::Msgpack => msgpack::decode(&plain, limits)?,
    };
    validate(&report, limits)?;
    Ok(report)
}

/// Checks a body as [`decode`] would, without building the report when it is msgpack, and
/// says what Scope's processing would look at. Anything [`check`] accepts, [`decode`] accepts.
pub fn check(
    body: &[u8],
    compression: Compression,
    format: Format,
    limits: &Limits,
) -> Result<Checked, DecodeError> {
    if format == Format::Json {
        return Ok(Checked::of(&decode(body, compression, format, limits)?));
    }
    let plain = inflate_within(body, compression, limits)?;
    msgpack::check(&plain, limits)
}

/// The size checks and inflation shared by [`decode`] and [`check`]: the plain body.
fn inflate_within<'a>(
    body: &'a [u8],
    compression: Compression,
    limits: &Limits,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    if body.len() > limits.max_compressed_bytes {
        return Err(DecodeError::limit(
            Limit::CompressedSize,
            limits.max_compressed_bytes,
        ));
    }
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let plain = match compression {
        Compression::Gzip => Cow::Owned(gzip::inflate(body, limits.max_decompressed_bytes)?),
        Compression::Identity if body.len() > limits.max_decompressed_bytes => {
            return Err(DecodeError::limit(
                Limit::DecompressedSize,
                limits.max_decompressed_bytes,
            ));
        }
        Compression::Identity => Cow::Borrowed(body),
    };
    if plain.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(plain)
}

/// Decodes a body of unknown compression and format (files, stdin), sniffing both.
pub fn decode_sniffed(body: &[u8], limits: &Limits) -> Result<Report, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let compression = Compression::sniff(body);
    let format = match compression {
        Compression::Identity => Format::sniff(body),
        Compression::Gzip => {
            let head = gzip::inflate_prefix(body, 64)?;
            Format::sniff(&head)
        }
    };
    decode(body, compression, format, limits)
}

/// Encodes a report: JSON as Scope's Go encoder writes it, msgpack as the original app reads it.
pub fn encode(report: &Report, format: Format, compression: Compression) -> Vec<u8> {
    let plain = match format {
        Format::Json => json::encode(report),
        Format::Msgpack => msgpack::encode(report),
    };
    match compression {
        Compression::Identity => plain,
        Compression::Gzip => gzip::deflate(&plain),
    }
}
