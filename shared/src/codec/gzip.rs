use std::io::{self, Read};

use flate2::Compression as Level;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::error::{DecodeError, Limit};

/// Deflate cannot expand input by more than about 1032:1 (a 258-byte match per 2 bits).
const MAX_DEFLATE_RATIO: usize = 1032;

pub fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

/// Inflates at most `max` bytes. Multi-member streams are read whole, as Go's gzip reader does.
///
/// The trailer's ISIZE (the inflated size mod 2^32) refuses most bombs before any inflation;
/// the bounded read refuses the rest (ISIZE can lie or wrap) after at most `max` bytes.
/// A claim deflate could not have produced from this many bytes is a truncated or corrupt
/// trailer, not a bomb, so it is left for the inflater to report as such.
pub fn inflate(body: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    let plausible = claimed_size(body).filter(|&claimed| claimed / MAX_DEFLATE_RATIO <= body.len());
    if plausible.is_some_and(|claimed| claimed > max) {
        return Err(DecodeError::limit(Limit::DecompressedSize, max));
    }
    let capacity = plausible.unwrap_or(body.len() * 4).min(max);
    let mut out = Vec::with_capacity(capacity);
    let mut reader = MultiGzDecoder::new(body).take(max as u64 + 1);
    reader.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() > max {
        return Err(DecodeError::limit(Limit::DecompressedSize, max));
    }
    Ok(out)
}

/// The first `n` inflated bytes, for sniffing the format inside a gzip body.
pub fn inflate_prefix(body: &[u8], n: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(n);
    let mut reader = MultiGzDecoder::new(body).take(n as u64);
    match reader.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(out),
        Err(e) => Err(DecodeError::Gzip(e)),
    }
}

/// ISIZE of a single-member stream; `None` when the body is too short to have a trailer.
fn claimed_size(body: &[u8]) -> Option<usize> {
    let trailer = body.len().checked_sub(4).map(|at| &body[at..])?;
    if body.len() < 18 {
        return None;
    }
    Some(u32::from_le_bytes(trailer.try_into().ok()?) as usize)
}

pub fn deflate(plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 8 + 64), Level::default());
    encoder
        .write_all(plain)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}
