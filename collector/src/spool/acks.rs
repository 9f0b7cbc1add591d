//! Confirmation log: one `.ack` file beside each spool file, listing the offsets of its records
//! that the object store has confirmed.
//!
//! Entries are fixed-size (`offset:u64le crc32(offset):u32le`), so a torn or flipped entry is
//! skipped without losing alignment for the entries after it, and a damaged entry can never
//! confirm a record by accident: its checksum would have to match too.
//!
//! Appends are not fsync'd. Losing an acknowledgement (power loss before writeback) only makes the
//! next start re-upload records the object store already holds; segments are keyed by collector
//! and sequence, and readers merge reports, so a duplicate costs a request, never data. Paying an
//! fsync per confirmation would buy nothing the durability promise needs.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

const ENTRY_LEN: usize = 12;

/// Offsets confirmed in a previous run (a missing file means none were), and the length the file
/// now has.
pub(crate) fn load(path: &Path) -> io::Result<(HashSet<u64>, u64)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((HashSet::new(), 0)),
        Err(e) => return Err(e),
    };
    let offsets = bytes
        .chunks_exact(ENTRY_LEN)
        .filter_map(|entry| {
            let offset: [u8; 8] = entry[..8].try_into().expect("8 bytes");
            let crc = u32::from_le_bytes(entry[8..].try_into().expect("4 bytes"));
            (crc32fast::hash(&offset) == crc).then(|| u64::from_le_bytes(offset))
        })
        .collect();
    let mut len = bytes.len() as u64;
    let aligned = len - len % ENTRY_LEN as u64;
    if aligned != len {
        // A crash mid-append left part of an entry; this run appends to the same file, and its
        // entries must start on the 12-byte grid. Failing to cut it only costs duplicate uploads.
        if OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(aligned))
            .is_ok()
        {
            len = aligned;
        }
    }
    Ok((offsets, len))
}

/// Append handle for one spool file's acknowledgements, opened on first use because most spool
/// files are deleted whole without ever needing one.
pub(crate) struct AckLog {
    file: Option<File>,
    len: u64,
}

impl AckLog {
    /// `len` is the size of an ack file left by a previous run (0 if none).
    pub(crate) fn new(len: u64) -> AckLog {
        AckLog { file: None, len }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Returns how many bytes the file grew by.
    pub(crate) fn append(&mut self, path: &Path, offsets: &[u64]) -> io::Result<u64> {
        let mut buf = Vec::with_capacity(offsets.len() * ENTRY_LEN);
        for offset in offsets {
            let bytes = offset.to_le_bytes();
            buf.extend_from_slice(&bytes);
            buf.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self
                .file
                .insert(OpenOptions::new().create(true).append(true).open(path)?),
        };
        if let Err(e) = file.write_all(&buf) {
            // A partial write would shift every later entry off the 12-byte grid; cutting it
            // off keeps the entries written after this failure readable.
            let _ = file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        Ok(buf.len() as u64)
    }
}
