//! A segment: the object the collector writes per tenant per flush interval, holding that
//! interval's reports as they were stored in the cache (gzip msgpack), each with its key and
//! arrival time. Framed so a reader can walk it without decoding the reports.
//!
//! Layout: `STORMSEG` magic, version byte 1, then per report: key length (u16 BE), key,
//! arrival unix ms (i64 BE), body length (u32 BE), body.

pub const MAGIC: &[u8; 8] = b"STORMSEG";
const VERSION: u8 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentEntry {
    /// The report's cache key (`r/<tenant>/<unix_ms>-<collector>-<seq>`).
    pub key: String,
    pub received_ms: i64,
    /// The report, gzip msgpack.
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SegmentError {
    #[error("not a segment (bad magic)")]
    Magic,
    #[error("unsupported segment version {0}")]
    Version(u8),
    #[error("segment truncated at byte {0}")]
    Truncated(usize),
    #[error("segment key at byte {0} is not UTF-8")]
    Key(usize),
}

pub fn is_segment(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Builds a segment one report at a time, so a writer never holds its reports and the
/// segment at once.
pub struct SegmentWriter {
    out: Vec<u8>,
    entries: usize,
}

impl SegmentWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = Vec::with_capacity(bytes + MAGIC.len() + 1);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        SegmentWriter { out, entries: 0 }
    }

    pub fn push(&mut self, key: &str, received_ms: i64, body: &[u8]) {
        let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
        self.out
            .extend_from_slice(&(key.len() as u16).to_be_bytes());
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(&received_ms.to_be_bytes());
        self.out
            .extend_from_slice(&(body.len() as u32).to_be_bytes());
        self.out.extend_from_slice(body);
        self.entries += 1;
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Writes a segment of `entries` (key, arrival ms, body) in order.
pub fn encode<'a>(entries: impl IntoIterator<Item = (&'a str, i64, &'a [u8])>) -> Vec<u8> {
    let mut writer = SegmentWriter::with_capacity(64 * 1024);
    for (key, received_ms, body) in entries {
        writer.push(key, received_ms, body);
    }
    writer.finish()
}

pub fn decode(bytes: &[u8]) -> Result<Vec<SegmentEntry>, SegmentError> {
    if !is_segment(bytes) {
        return Err(SegmentError::Magic);
    }
    match bytes.get(MAGIC.len()) {
        Some(&VERSION) => {}
        Some(&v) => return Err(SegmentError::Version(v)),
        None => return Err(SegmentError::Truncated(MAGIC.len())),
    }
    let mut pos = MAGIC.len() + 1;
    let mut entries = Vec::new();
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], SegmentError> {
        let end = pos
            .checked_add(n)
            .filter(|&e| e <= bytes.len())
            .ok_or(SegmentError::Truncated(*pos))?;
        let slice = &bytes[*pos..end];
        *pos = end;
        Ok(slice)
    };
    while pos < bytes.len() {
        let key_len = u16::from_be_bytes(take(&mut pos, 2)?.try_into().expect("2 bytes")) as usize;
        let key_at = pos;
        let key = std::str::from_utf8(take(&mut pos, key_len)?)
            .map_err(|_| SegmentError::Key(key_at))?
            .to_owned();
        let received_ms = i64::from_be_bytes(take(&mut pos, 8)?.try_into().expect("8 bytes"));
        let body_len = u32::from_be_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes")) as usize;
        let body = take(&mut pos, body_len)?.to_vec();
        entries.push(SegmentEntry {
            key,
            received_ms,
            body,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_truncation() {
        let bytes = encode([("r/a/1-c-1", 1, &b"one"[..]), ("r/a/2-c-2", 2, &b""[..])]);
        let entries = decode(&bytes).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            SegmentEntry {
                key: "r/a/1-c-1".into(),
                received_ms: 1,
                body: b"one".to_vec()
            }
        );
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(SegmentError::Truncated(_))
        ));
        assert_eq!(decode(b"nope"), Err(SegmentError::Magic));
        assert_eq!(decode(&encode([])).unwrap(), vec![]);
    }
}
