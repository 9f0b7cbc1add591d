//! The item format: every value starts with a header, so that foreign or torn items are detected,
//! and values larger than one memcached item are split across chunk items.
//!
//! Header (21 bytes, big-endian): magic `SSmc`, version, chunk count, total length, CRC-32 of the
//! whole value. A chunk count of 0 means the value follows the header in the same item (one item,
//! one round trip: the common case); otherwise the item holds only the header and the value is in
//! `<key>#1` .. `<key>#<count>`, each on whichever server its own key hashes to.

use bytes::{Bytes, BytesMut};

const MAGIC: &[u8; 4] = b"SSmc";
const VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 4 + 1 + 4 + 8 + 4;

/// Bounds the number of reads a corrupt header can ask for (4096 chunks of ~1 MiB is 4 GiB).
pub(crate) const MAX_CHUNKS: u32 = 4096;
/// The longest chunk suffix (`#4096`), so keys plus suffix stay within memcached's 250 bytes.
pub(crate) const MAX_SUFFIX_LEN: usize = 5;

/// Room for memcached's own item header, key and flags, which count against its item size limit.
const ITEM_OVERHEAD: usize = 1024;
/// A floor for absurdly small configured limits, so a value never needs millions of chunks.
const MIN_CHUNK_SIZE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) chunks: u32,
    pub(crate) len: u64,
    pub(crate) crc: u32,
}

impl Header {
    fn encode(&self, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION]);
        out.extend_from_slice(&self.chunks.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.crc.to_be_bytes());
        out.extend_from_slice(payload);
        out.freeze()
    }
}

/// The items to store for one value: `head` at the key, `chunks[i]` at `chunk_key(key, i + 1)`.
#[derive(Debug)]
pub(crate) struct Split {
    pub(crate) head: Bytes,
    pub(crate) chunks: Vec<Bytes>,
}

/// What the item at a key holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    Value(Bytes),
    Chunked(Header),
}

/// Why an item is not one of ours, or not intact.
#[derive(Debug, PartialEq)]
pub(crate) struct Corrupt(pub(crate) String);

pub(crate) fn chunk_size(item_size_limit: usize) -> usize {
    item_size_limit
        .saturating_sub(ITEM_OVERHEAD)
        .max(MIN_CHUNK_SIZE)
}

pub(crate) fn chunk_key(key: &str, index: u32) -> String {
    format!("{key}#{index}")
}

/// `None` when the value would need more than [`MAX_CHUNKS`] chunks.
pub(crate) fn split(value: &Bytes, chunk_size: usize) -> Option<Split> {
    let len = u64::try_from(value.len()).expect("usize fits in u64");
    let crc = crc32fast::hash(value);
    if HEADER_LEN + value.len() <= chunk_size {
        let head = Header {
            chunks: 0,
            len,
            crc,
        }
        .encode(value);
        return Some(Split {
            head,
            chunks: Vec::new(),
        });
    }
    let chunks: Vec<Bytes> = (0..value.len())
        .step_by(chunk_size)
        .map(|start| value.slice(start..value.len().min(start + chunk_size)))
        .collect();
    let count = u32::try_from(chunks.len())
        .ok()
        .filter(|&n| n <= MAX_CHUNKS)?;
    let head = Header {
        chunks: count,
        len,
        crc,
    }
    .encode(&[]);
    Some(Split { head, chunks })
}

pub(crate) fn decode(item: Bytes) -> Result<Decoded, Corrupt> {
    let bad = |why: &str| Corrupt(format!("{why} ({} byte item)", item.len()));
    // Counters (`incr` needs a bare decimal) are the one kind of item without a header.
    if is_counter(&item) {
        return Ok(Decoded::Value(item));
    }
    if item.len() < HEADER_LEN || &item[..4] != MAGIC {
        return Err(bad("not a Stormscope item: no header"));
    }
    if item[4] != VERSION {
        return Err(bad(&format!("unknown item format version {}", item[4])));
    }
    let field = |at: usize, n: usize| &item[at..at + n];
    let header = Header {
        chunks: u32::from_be_bytes(field(5, 4).try_into().expect("4 bytes")),
        len: u64::from_be_bytes(field(9, 8).try_into().expect("8 bytes")),
        crc: u32::from_be_bytes(field(17, 4).try_into().expect("4 bytes")),
    };
    if header.chunks == 0 {
        let payload = item.slice(HEADER_LEN..);
        if u64::try_from(payload.len()).ok() != Some(header.len) {
            return Err(bad(&format!("header says {} bytes", header.len)));
        }
        check_crc(&header, &payload)?;
        return Ok(Decoded::Value(payload));
    }
    if item.len() != HEADER_LEN {
        return Err(bad("chunked header with trailing bytes"));
    }
    if header.chunks > MAX_CHUNKS || u64::from(header.chunks) > header.len {
        return Err(bad(&format!(
            "implausible header: {} chunks for {} bytes",
            header.chunks, header.len
        )));
    }
    Ok(Decoded::Chunked(header))
}

/// A bare decimal of at most 20 digits, as memcached's `incr` keeps it (it may pad with spaces).
fn is_counter(item: &[u8]) -> bool {
    let digits = item.iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=20).contains(&digits) && item[digits..].iter().all(|&b| b == b' ')
}

/// Joins the chunks of a [`Decoded::Chunked`] value, in order.
pub(crate) fn assemble(header: &Header, parts: &[Bytes]) -> Result<Bytes, Corrupt> {
    let total: usize = parts.iter().map(Bytes::len).sum();
    if parts.len() != header.chunks as usize || u64::try_from(total).ok() != Some(header.len) {
        return Err(Corrupt(format!(
            "{} chunks of {total} bytes where the header says {} chunks of {} bytes",
            parts.len(),
            header.chunks,
            header.len
        )));
    }
    // Sized from the chunks actually read, never from the header, which may be garbage.
    let mut value = BytesMut::with_capacity(total);
    for part in parts {
        value.extend_from_slice(part);
    }
    let value = value.freeze();
    check_crc(header, &value)?;
    Ok(value)
}

fn check_crc(header: &Header, value: &[u8]) -> Result<(), Corrupt> {
    let crc = crc32fast::hash(value);
    if crc == header.crc {
        Ok(())
    } else {
        Err(Corrupt(format!(
            "CRC mismatch: stored {:08x}, computed {crc:08x}",
            header.crc
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(len: usize) -> Bytes {
        (0..len)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn small_value_is_inline_with_header() {
        let v = value(100);
        let split = split(&v, 1000).unwrap();
        assert!(split.chunks.is_empty());
        assert_eq!(split.head.len(), HEADER_LEN + 100);
        assert_eq!(decode(split.head).unwrap(), Decoded::Value(v));
    }

    #[test]
    fn empty_value_round_trips() {
        let split = split(&Bytes::new(), 1000).unwrap();
        assert_eq!(decode(split.head).unwrap(), Decoded::Value(Bytes::new()));
    }

    #[test]
    fn large_value_is_chunked_and_reassembled() {
        let v = value(2500);
        let split = split(&v, 1000).unwrap();
        assert_eq!(
            split.chunks.iter().map(Bytes::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let Decoded::Chunked(header) = decode(split.head).unwrap() else {
            panic!("not chunked")
        };
        assert_eq!(header.chunks, 3);
        assert_eq!(assemble(&header, &split.chunks).unwrap(), v);
    }

    #[test]
    fn value_just_over_inline_gets_one_chunk() {
        let v = value(1000 - HEADER_LEN + 1);
        let split = split(&v, 1000).unwrap();
        assert_eq!(split.chunks.len(), 1);
        let Decoded::Chunked(header) = decode(split.head).unwrap() else {
            panic!("not chunked")
        };
        assert_eq!(assemble(&header, &split.chunks).unwrap(), v);
    }

    #[test]
    fn too_many_chunks_is_refused() {
        assert!(split(&value(MAX_CHUNKS as usize * 10 + 1), 10).is_none());
    }

    #[test]
    fn foreign_and_torn_items_are_corrupt() {
        assert!(decode(Bytes::from_static(b"hello")).is_err());
        assert!(decode(Bytes::from_static(b"not our format but long enough")).is_err());
        let mut torn = split(&value(100), 1000).unwrap().head.to_vec();
        torn.truncate(torn.len() - 1);
        assert!(decode(torn.into()).is_err());
        let mut flipped = split(&value(100), 1000).unwrap().head.to_vec();
        flipped[HEADER_LEN + 3] ^= 1;
        assert!(decode(flipped.into()).unwrap_err().0.contains("CRC"));
    }

    #[test]
    fn swapped_or_missing_chunks_are_corrupt() {
        let split = split(&value(2500), 1000).unwrap();
        let Decoded::Chunked(header) = decode(split.head).unwrap() else {
            panic!("not chunked")
        };
        let swapped = [
            split.chunks[1].clone(),
            split.chunks[0].clone(),
            split.chunks[2].clone(),
        ];
        assert!(assemble(&header, &swapped).unwrap_err().0.contains("CRC"));
        assert!(assemble(&header, &split.chunks[..2]).is_err());
    }

    #[test]
    fn implausible_chunk_count_is_corrupt() {
        let head = Header {
            chunks: MAX_CHUNKS + 1,
            len: u64::MAX,
            crc: 0,
        }
        .encode(&[]);
        assert!(decode(head).is_err());
        let head = Header {
            chunks: 10,
            len: 5,
            crc: 0,
        }
        .encode(&[]);
        assert!(decode(head).is_err());
    }

    #[test]
    fn chunk_size_leaves_room_for_memcached_overhead() {
        assert_eq!(chunk_size(1024 * 1024), 1024 * 1024 - 1024);
        assert_eq!(chunk_size(10), MIN_CHUNK_SIZE);
    }
}
