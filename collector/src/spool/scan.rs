//! Replay: walks one spool file frame by frame, stepping over damage instead of stopping at it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::RecordMeta;
use super::frame::{self, MAGIC};

/// Resync reads ahead in windows of this size looking for the next magic.
const WINDOW: usize = 64 << 10;

pub(crate) struct Scanned {
    /// Valid frames in file order.
    pub(crate) frames: Vec<(u64, RecordMeta)>,
    /// End of the last valid frame when the file ends in damage, else the file's length.
    pub(crate) valid_len: u64,
    pub(crate) torn_tail: bool,
    pub(crate) corrupt_frames: u64,
}

/// A bad frame is "corrupt" if a valid one follows it (something overwrote or flipped data the
/// writer had finished; an acknowledged record may be lost), and a "torn tail" if nothing valid
/// follows (the expected result of a crash mid-write, before that record was acknowledged).
pub(crate) fn scan(file: &File) -> io::Result<Scanned> {
    let len = file.metadata()?.len();
    let mut payload = Vec::new();
    let mut out = Scanned {
        frames: Vec::new(),
        valid_len: len,
        torn_tail: false,
        corrupt_frames: 0,
    };
    let mut pos = 0;
    while pos < len {
        if let Some(frame_len) = frame::read_at(file, pos, len, &mut payload)? {
            out.frames.push((pos, frame::meta(&payload)));
            pos += frame_len;
            continue;
        }
        match resync(file, pos + 1, len, &mut payload)? {
            Some(next) => {
                out.corrupt_frames += 1;
                pos = next;
            }
            None => {
                out.torn_tail = true;
                out.valid_len = pos;
                break;
            }
        }
    }
    Ok(out)
}

/// The first offset at or after `from` holding a valid frame.
fn resync(file: &File, from: u64, len: u64, payload: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut window = vec![0u8; WINDOW];
    let mut start = from;
    while start + MAGIC.len() as u64 <= len {
        let n = usize::try_from(len - start).map_or(WINDOW, |rest| rest.min(WINDOW));
        file.read_exact_at(&mut window[..n], start)?;
        for i in magic_positions(&window[..n]) {
            let candidate = start + i as u64;
            if frame::read_at(file, candidate, len, payload)?.is_some() {
                return Ok(Some(candidate));
            }
        }
        // Overlap by one magic length less one byte so a magic split across windows is seen.
        start += (n - (MAGIC.len() - 1)) as u64;
    }
    Ok(None)
}

fn magic_positions(haystack: &[u8]) -> impl Iterator<Item = usize> + '_ {
    haystack
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
}
