//! The collector's durable spool: an append-only, framed, checksummed log on local disk.
//!
//! # Guarantees
//!
//! - **fsync before ack.** [`Spool::append`] returns only after the record's bytes are
//!   `fdatasync`'d, and after the directory holding a new spool file was synced. That is what the
//!   collector's 200 promises.
//! - **Checksums.** Every frame carries a CRC-32 of its payload; [`Spool::read`] and replay verify
//!   it, so a flipped bit is reported, never uploaded.
//! - **Replay.** [`Spool::open`] returns every record not yet confirmed, in append order, and each
//!   open writes to a new file, so nothing is ever appended after a possibly torn tail.
//! - **Damage is survivable.** A torn last frame (crash mid-write, never acknowledged) is counted
//!   and cut off; a bad frame with valid frames after it is counted as corrupt and skipped by
//!   scanning for the next magic with a valid CRC. Neither panics nor fails the open, so damaged
//!   data cannot put the collector into a crash loop.
//! - **Delete only after confirmation.** A spool file goes away only once the object store has
//!   confirmed every record in it ([`Spool::confirm`]) and it is no longer being written.
//!   Confirmations are persisted lazily (see `acks`): losing one costs a duplicate upload, not data.
//!
//! # Why hand-written
//!
//! The maintained embedded queues and logs each miss something this needs, from what we know of
//! them: `queue-file` and `yaque` are FIFO queues confirmed from the head, while segments for
//! different tenants are confirmed out of order, and neither shares one fsync among concurrent
//! async appends; `okaywal` is a database WAL whose segments are recycled by checkpointing, which
//! means keeping unconfirmed records somewhere else; `sled` is a whole storage engine, still
//! pre-1.0 with a stalled release line, whose durability needs explicit flushes, and is heavy for
//! a collector meant to stay under 64 MiB RSS. What is needed is small: length-prefixed CRC'd
//! frames, one writer thread, a scan, and a per-file confirmation list, about a thousand lines with
//! their comments, which the tests exercise directly.
//!
//! Linux/Unix only (`pread`, `pwrite`, directory fsync).

mod acks;
mod frame;
mod scan;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use acks::AckLog;
use writer::{Request, Writer};

/// Where and how much the spool may write.
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    /// Directory holding the spool files; created if missing. One collector per directory (it is
    /// locked while open).
    pub dir: PathBuf,
    /// Total bytes on disk above which append refuses (the collector answers 503 + Retry-After).
    /// The active file is only deleted after rotation, so keep this several times `file_bytes`.
    pub max_bytes: u64,
    /// A file is closed and a new one started past this size.
    pub file_bytes: u64,
}

impl SpoolConfig {
    /// The defaults: 1 GiB in total, 64 MiB files.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            max_bytes: 1 << 30,
            file_bytes: 64 << 20,
        }
    }
}

/// Where a record lives: which spool file and where in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub file: u64,
    pub offset: u64,
}

/// What the collector spools per report.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub tenant: String,
    pub received_ms: i64,
    pub key: String,
    pub body: bytes::Bytes,
}

/// What [`Spool::open`] found on disk.
#[derive(Debug)]
pub struct Replayed {
    /// Unconfirmed records, oldest first.
    pub records: Vec<(RecordId, RecordMeta)>,
    /// Files that ended in a partial or damaged frame (normal after a crash mid-write: that
    /// record was never acknowledged).
    pub torn_tails: u64,
    /// Damaged frames with valid frames after them: an acknowledged record may have been lost.
    pub corrupt_frames: u64,
}

/// A record without its body, which stays on disk until it is read back for upload.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordMeta {
    pub tenant: String,
    pub received_ms: i64,
    pub key: String,
    pub body_len: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full: {bytes} bytes on disk, limit {max}")]
    Full { bytes: u64, max: u64 },
    #[error("spool I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("spool writer has stopped")]
    Closed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Spool and ack files on disk.
    pub bytes: u64,
    /// Spool files, including the one being written.
    pub files: u64,
    /// Records not yet confirmed.
    pub pending_records: u64,
    /// `fdatasync`s of spool files since open (directory syncs not included).
    pub fsyncs: u64,
    /// Successful appends since open.
    pub appends: u64,
}

/// See the module docs. Share it as `Arc<Spool>`; dropping it lets queued appends finish, then
/// stops the writer thread.
pub struct Spool {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// Held (flock) for as long as the spool is open.
    _lock: File,
}

pub(crate) struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    fsyncs: AtomicU64,
    appends: AtomicU64,
    /// Why the last write or fsync failed, while writes keep failing (a full disk, an I/O
    /// error); `None` once one succeeds again.
    failing: Mutex<Option<String>>,
}

impl Shared {
    /// A panic while holding the lock leaves at worst a miscount; refusing every later append
    /// over it would turn a bug into an outage, so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a failed write. The log says it once when writes start failing, not once per
    /// refused report: a full disk would otherwise flood the log it may share.
    pub(crate) fn write_failed(&self, e: &io::Error) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if failing.is_none() {
            tracing::error!(error = %e, dir = %self.dir.display(), "spool writes are failing (disk full or I/O error); reports are refused with 503 until a write succeeds");
        } else {
            tracing::debug!(error = %e, "spool write failed again");
        }
        *failing = Some(e.to_string());
    }

    /// Records a successful write (after fsync), ending a failure if there was one.
    pub(crate) fn write_succeeded(&self) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = failing.take() {
            tracing::warn!(was = %why, "spool writes succeed again; accepting reports");
        }
    }
}

struct State {
    files: BTreeMap<u64, SpoolFile>,
    /// The file the writer appends to; `None` after a write failure until the next append.
    active: Option<u64>,
    bytes: u64,
}

struct SpoolFile {
    file: Arc<File>,
    /// Bytes that are synced; reads beyond this are refused.
    len: u64,
    /// Offsets of records not yet confirmed.
    pending: BTreeSet<u64>,
    acks: AckLog,
}

impl SpoolFile {
    fn new(file: Arc<File>, len: u64, pending: BTreeSet<u64>, ack_len: u64) -> SpoolFile {
        SpoolFile {
            file,
            len,
            pending,
            acks: AckLog::new(ack_len),
        }
    }
}

impl State {
    /// Deletes every file that is fully confirmed and not being written.
    fn sweep(&mut self, dir: &Path) -> io::Result<()> {
        let done: Vec<u64> = self
            .files
            .iter()
            .filter(|(seq, f)| Some(**seq) != self.active && f.pending.is_empty())
            .map(|(seq, _)| *seq)
            .collect();
        let mut result = Ok(());
        for seq in done {
            // Log first: a crash in between leaves an orphan ack file (removed on open), never a
            // log without its acks (which would re-upload all of it).
            if let Err(e) = remove_if_exists(&log_path(dir, seq)) {
                result = Err(e);
                continue;
            }
            if let Err(e) = remove_if_exists(&ack_path(dir, seq)) {
                tracing::warn!(error = %e, file = seq, "could not delete spool ack file");
            }
            if let Some(f) = self.files.remove(&seq) {
                self.bytes -= f.len + f.acks.len();
            }
        }
        result
    }
}

impl Spool {
    /// Opens (creating) the directory, scans existing files, and returns the records not yet
    /// confirmed. Damaged data is counted in [`Replayed`], not returned as an error; errors mean
    /// the directory cannot be used (unreadable, unwritable, or locked by another collector).
    ///
    /// Blocks while it reads every spool file: call it before serving, or via `spawn_blocking`.
    pub fn open(config: SpoolConfig) -> io::Result<(Spool, Replayed)> {
        let dir = config.dir;
        if !dir.is_dir() {
            fs::create_dir_all(&dir)?;
            // Otherwise a power loss soon after the first start could take the whole directory,
            // acknowledged records and all.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let lock = lock_dir(&dir)?;
        let (logs, ack_files) = list(&dir)?;

        let mut state = State {
            files: BTreeMap::new(),
            active: None,
            bytes: 0,
        };
        let mut replayed = Replayed {
            records: Vec::new(),
            torn_tails: 0,
            corrupt_frames: 0,
        };
        for &seq in &logs {
            let f = replay_file(&dir, seq, &mut replayed)?;
            state.bytes += f.len + f.acks.len();
            state.files.insert(seq, f);
        }
        for seq in ack_files.difference(&logs) {
            if let Err(e) = remove_if_exists(&ack_path(&dir, *seq)) {
                tracing::warn!(error = %e, file = seq, "could not delete orphan spool ack file");
            }
        }
        if let Err(e) = state.sweep(&dir) {
            tracing::warn!(error = %e, "could not delete a fully confirmed spool file; will retry");
        }

        let next_seq = logs.iter().chain(&ack_files).max().map_or(0, |max| max + 1);
        let shared = Arc::new(Shared {
            dir,
            state: Mutex::new(state),
            fsyncs: AtomicU64::new(0),
            appends: AtomicU64::new(0),
            failing: Mutex::new(None),
        });
        let mut writer = Writer::new(
            Arc::clone(&shared),
            next_seq,
            config.file_bytes,
            config.max_bytes,
        );
        // Fails the open, not the first append, when the directory is not writable.
        writer.rotate()?;
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        let spool = Spool {
            shared,
            tx: Some(tx),
            writer: Some(handle),
            _lock: lock,
        };
        Ok((spool, replayed))
    }

    /// Appends and returns once the record is on stable storage (fdatasync). Concurrent appends
    /// share fsyncs (group commit): one writer thread drains every queued append, writes them,
    /// syncs once, then answers all.
    ///
    /// If this future is dropped before the writer reaches the record, the record is not written;
    /// if dropped later, it is written and comes back from the next open's replay.
    pub async fn append(&self, record: &Record) -> Result<RecordId, SpoolError> {
        let frame = frame::encode(record)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let tx = self.tx.as_ref().ok_or(SpoolError::Closed)?;
        tx.send(Request { frame, reply })
            .map_err(|_| SpoolError::Closed)?;
        answer.await.map_err(|_| SpoolError::Closed)?
    }

    /// Reads a record back (verifying its checksum) for upload.
    pub fn read(&self, id: RecordId) -> Result<Record, SpoolError> {
        let (file, len) = {
            let state = self.shared.state();
            let f = state.files.get(&id.file).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("spool file {} is gone (already confirmed?)", id.file),
                )
            })?;
            (Arc::clone(&f.file), f.len)
        };
        let mut payload = Vec::new();
        match frame::read_at(&file, id.offset, len, &mut payload)? {
            Some(_) => Ok(frame::record(payload)),
            None => Err(SpoolError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no valid spool record at {id:?} (checksum or framing mismatch)"),
            ))),
        }
    }

    /// Marks records as safely in the object store. Files whose every record is confirmed (and
    /// that are no longer being written) are deleted. Confirmations survive a restart.
    ///
    /// Unknown or already confirmed ids are ignored, so retrying is safe. An `Err` means the
    /// confirmations took effect in this process but could not all be persisted or their files
    /// deleted; the cost is at worst a duplicate upload after a restart.
    pub fn confirm(&self, ids: &[RecordId]) -> Result<(), SpoolError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let dir = &self.shared.dir;
        let mut guard = self.shared.state();
        let State {
            files,
            active,
            bytes,
        } = &mut *guard;
        let mut first_err = None;
        for group in ids.chunk_by(|a, b| a.file == b.file) {
            let seq = group[0].file;
            let Some(f) = files.get_mut(&seq) else {
                continue;
            };
            let newly: Vec<u64> = group
                .iter()
                .map(|id| id.offset)
                .filter(|offset| f.pending.contains(offset))
                .collect();
            if newly.is_empty() {
                continue;
            }
            // A file about to be deleted needs no acks; skipping them keeps confirm working when
            // the disk is full, which is exactly when freeing space matters.
            let deleting = Some(seq) != *active && newly.len() == f.pending.len();
            if !deleting {
                match f.acks.append(&ack_path(dir, seq), &newly) {
                    Ok(grown) => *bytes += grown,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            for offset in &newly {
                f.pending.remove(offset);
            }
        }
        if let Err(e) = guard.sweep(dir) {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), |e| Err(SpoolError::Io(e)))
    }

    /// Why writes are failing, while they are (a full disk, an I/O error): the spool cannot
    /// accept anything, whatever its byte count says.
    pub fn write_failure(&self) -> Option<String> {
        self.shared
            .failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// While writes are failing, tries whether the disk takes a write of `bytes` again (a
    /// scratch file written, synced and deleted), and if so ends the failure. Without it a
    /// collector that answers 503 and is taken out of rotation would never get the append
    /// that shows the disk has room again. Blocking: call it from a blocking thread.
    pub fn recheck_writes(&self, bytes: usize) {
        if self.write_failure().is_none() {
            return;
        }
        let path = self.shared.dir.join("spool-probe.tmp");
        let probe = || -> io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&path)?;
            std::io::Write::write_all(&mut file, &vec![0u8; bytes])?;
            file.sync_data()
        };
        let result = probe();
        let _ = fs::remove_file(&path);
        match result {
            Ok(()) => self.shared.write_succeeded(),
            Err(e) => tracing::debug!(error = %e, "spool still cannot write"),
        }
    }

    pub fn stats(&self) -> SpoolStats {
        let state = self.shared.state();
        SpoolStats {
            bytes: state.bytes,
            files: state.files.len() as u64,
            pending_records: state.files.values().map(|f| f.pending.len() as u64).sum(),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
            appends: self.shared.appends.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and exit.
        self.tx.take();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

/// Scans one file left by a previous run, cutting off a torn tail, and adds its unconfirmed
/// records to `replayed`.
fn replay_file(dir: &Path, seq: u64, replayed: &mut Replayed) -> io::Result<SpoolFile> {
    let path = log_path(dir, seq);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| at(e, &path))?;
    let scanned = scan::scan(&file).map_err(|e| at(e, &path))?;
    let mut len = file.metadata().map_err(|e| at(e, &path))?.len();
    if scanned.torn_tail {
        replayed.torn_tails += 1;
        tracing::warn!(
            file = seq,
            valid_bytes = scanned.valid_len,
            dropped_bytes = len - scanned.valid_len,
            "spool file ends in a torn frame (crash mid-write); dropping the unacknowledged tail"
        );
        // Not appended to again, so this only reclaims space; failing it is harmless.
        if file.set_len(scanned.valid_len).is_ok() {
            len = scanned.valid_len;
        }
    }
    if scanned.corrupt_frames > 0 {
        replayed.corrupt_frames += scanned.corrupt_frames;
        tracing::error!(
            file = seq,
            corrupt_frames = scanned.corrupt_frames,
            "spool file has corrupt frames; acknowledged reports in them are lost"
        );
    }
    let ack_path = ack_path(dir, seq);
    let (acked, ack_len) = acks::load(&ack_path).map_err(|e| at(e, &ack_path))?;
    let mut pending = BTreeSet::new();
    for (offset, meta) in scanned.frames {
        if !acked.contains(&offset) {
            pending.insert(offset);
            let id = RecordId { file: seq, offset };
            replayed.records.push((id, meta));
        }
    }
    Ok(SpoolFile::new(Arc::new(file), len, pending, ack_len))
}

fn lock_dir(dir: &Path) -> io::Result<File> {
    // A process forked by this one (any Command::spawn) holds copies of every descriptor until
    // it execs, so a lock just released by a dropped Spool can look taken for a moment. Another
    // collector holds it for good, so a short wait separates the two.
    const PATIENCE: Duration = Duration::from_secs(1);
    let path = dir.join("spool.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "spool directory {} is in use by another collector",
                        dir.display()
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => return Err(at(e, &path)),
        }
    }
}

/// Sequence numbers of the spool logs and ack files in `dir`; anything else is left alone.
fn list(dir: &Path) -> io::Result<(BTreeSet<u64>, BTreeSet<u64>)> {
    let mut logs = BTreeSet::new();
    let mut ack_files = BTreeSet::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix("spool-") else {
            continue;
        };
        let (digits, set) = if let Some(d) = rest.strip_suffix(".log") {
            (d, &mut logs)
        } else if let Some(d) = rest.strip_suffix(".ack") {
            (d, &mut ack_files)
        } else {
            continue;
        };
        if digits.len() == 20
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(seq) = digits.parse()
        {
            set.insert(seq);
        }
    }
    Ok((logs, ack_files))
}

pub(crate) fn log_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("spool-{seq:020}.log"))
}

fn ack_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("spool-{seq:020}.ack"))
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// io::Error carries no path; an operator reading "Permission denied" needs to know which file.
fn at(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
