//! On-disk record framing.
//!
//! ```text
//! frame   = magic[4] payload_len:u32le crc32(payload):u32le payload
//! payload = tenant_len:u32le tenant received_ms:i64le key_len:u32le key body_len:u32le body
//! ```
//!
//! The magic lets a scan find the next frame after damage; the CRC (not the magic) is what decides
//! whether a frame is real, so a body that happens to contain the magic cannot fake a record
//! unless it also carries a matching checksum.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::{Record, RecordMeta};

pub(crate) const MAGIC: [u8; 4] = *b"\xA7SPL";
pub(crate) const HEADER_LEN: u64 = 12;
/// Far above any report the collector accepts; it bounds what a damaged length field can make a
/// scan allocate.
pub(crate) const MAX_PAYLOAD: u32 = 256 << 20;

/// Builds a complete frame, so the writer thread only copies bytes and the CRC is computed on the
/// appending task's core rather than serialised behind the writer.
pub(crate) fn encode(record: &Record) -> io::Result<Vec<u8>> {
    let payload_len = 4 + record.tenant.len() + 8 + 4 + record.key.len() + 4 + record.body.len();
    let payload_len = u32::try_from(payload_len)
        .ok()
        .filter(|&n| n <= MAX_PAYLOAD)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "spool record of {payload_len} bytes exceeds the {MAX_PAYLOAD}-byte frame limit"
                ),
            )
        })?;
    let mut frame = Vec::with_capacity(HEADER_LEN as usize + payload_len as usize);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&payload_len.to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    // Each field fits in u32 because the whole payload does.
    put_bytes(&mut frame, record.tenant.as_bytes());
    frame.extend_from_slice(&record.received_ms.to_le_bytes());
    put_bytes(&mut frame, record.key.as_bytes());
    put_bytes(&mut frame, &record.body);
    let crc = crc32fast::hash(&frame[HEADER_LEN as usize..]);
    frame[8..12].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads the frame starting at `offset` into `payload` and checks it. `Ok(None)` means "no valid
/// frame here" (short, wrong magic, implausible length, bad CRC, malformed fields); `Err` is
/// reserved for the disk failing to read, which a scan must not mistake for a torn record.
pub(crate) fn read_at(
    file: &File,
    offset: u64,
    file_len: u64,
    payload: &mut Vec<u8>,
) -> io::Result<Option<u64>> {
    if offset.saturating_add(HEADER_LEN) > file_len {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut header, offset)?;
    if header[0..4] != MAGIC {
        return Ok(None);
    }
    let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    let frame_len = HEADER_LEN + u64::from(len);
    if len > MAX_PAYLOAD || offset + frame_len > file_len {
        return Ok(None);
    }
    payload.clear();
    payload.resize(len as usize, 0);
    file.read_exact_at(payload, offset + HEADER_LEN)?;
    if crc32fast::hash(payload) != crc || parse(payload).is_none() {
        return Ok(None);
    }
    Ok(Some(frame_len))
}

struct Fields<'a> {
    tenant: &'a str,
    received_ms: i64,
    key: &'a str,
    body: Range<usize>,
}

/// A CRC-valid payload whose fields don't add up can only come from a bug, but it is still
/// rejected rather than trusted.
fn parse(payload: &[u8]) -> Option<Fields<'_>> {
    let mut cur = Cursor { payload, pos: 0 };
    let n = cur.u32()?;
    let tenant = std::str::from_utf8(&payload[cur.take(n)?]).ok()?;
    let received_ms = i64::from_le_bytes(payload[cur.take(8)?].try_into().ok()?);
    let n = cur.u32()?;
    let key = std::str::from_utf8(&payload[cur.take(n)?]).ok()?;
    let n = cur.u32()?;
    let body = cur.take(n)?;
    (body.end == payload.len()).then_some(Fields {
        tenant,
        received_ms,
        key,
        body,
    })
}

struct Cursor<'a> {
    payload: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<Range<usize>> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.payload.len())?;
        let range = self.pos..end;
        self.pos = end;
        Some(range)
    }

    fn u32(&mut self) -> Option<usize> {
        let r = self.take(4)?;
        Some(u32::from_le_bytes(self.payload[r].try_into().ok()?) as usize)
    }
}

/// Only called on payloads `read_at` accepted, so parsing cannot fail here.
pub(crate) fn meta(payload: &[u8]) -> RecordMeta {
    let f = parse(payload).expect("payload was validated by read_at");
    RecordMeta {
        tenant: f.tenant.to_owned(),
        received_ms: f.received_ms,
        key: f.key.to_owned(),
        body_len: f.body.len() as u32,
    }
}

/// Takes the payload by value so the body is a slice of it rather than a second copy.
pub(crate) fn record(payload: Vec<u8>) -> Record {
    let payload = Bytes::from(payload);
    let f = parse(&payload).expect("payload was validated by read_at");
    Record {
        tenant: f.tenant.to_owned(),
        received_ms: f.received_ms,
        key: f.key.to_owned(),
        body: payload.slice(f.body),
    }
}
