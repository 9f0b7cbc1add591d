//! The group-commit writer: one thread owns the active spool file, drains every append queued
//! while it was busy, writes them, pays one `fdatasync` for all of them, and only then answers.
//! Under load, the fsync cost is shared by every report that arrived during the previous one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use tokio::sync::oneshot;

use super::{RecordId, Shared, SpoolError, SpoolFile, log_path, sync_dir};

/// Bounds how long the first append of a batch waits behind the others, and how much the writer
/// holds in flight.
const MAX_BATCH_BYTES: u64 = 16 << 20;

pub(crate) type Reply = oneshot::Sender<Result<RecordId, SpoolError>>;

pub(crate) struct Request {
    /// A complete frame (see `frame::encode`).
    pub(crate) frame: Vec<u8>,
    pub(crate) reply: Reply,
}

struct Active {
    seq: u64,
    file: Arc<File>,
    /// Bytes written, synced or not.
    len: u64,
    /// Bytes known to be on stable storage.
    synced_len: u64,
}

/// Written but not yet synced: nobody hears about these until the fsync covering them returns.
#[derive(Default)]
struct Unsynced {
    waiters: Vec<(Reply, RecordId)>,
    bytes: u64,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    active: Option<Active>,
    next_seq: u64,
    file_bytes: u64,
    max_bytes: u64,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, next_seq: u64, file_bytes: u64, max_bytes: u64) -> Self {
        Writer {
            shared,
            active: None,
            next_seq,
            file_bytes,
            max_bytes,
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        // Ends when the Spool drops its sender; everything queued before that is still answered.
        while let Ok(first) = rx.recv() {
            let mut bytes = first.frame.len() as u64;
            let mut batch = vec![first];
            while bytes < MAX_BATCH_BYTES {
                let Ok(next) = rx.try_recv() else { break };
                bytes += next.frame.len() as u64;
                batch.push(next);
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Request>) {
        let mut unsynced = Unsynced::default();
        for Request { frame, reply } in batch {
            // The caller stopped waiting (its request was cancelled); writing the record anyway
            // would leave an entry nobody will upload or confirm until the next restart.
            if reply.is_closed() {
                continue;
            }
            let len = frame.len() as u64;
            if let Err(e) = self.make_room(len, &unsynced) {
                let _ = reply.send(Err(e));
                continue;
            }
            if self.needs_rotation(len)
                && let Err(e) = self.sync(&mut unsynced).and_then(|()| self.rotate())
            {
                self.shared.write_failed(&e);
                let _ = reply.send(Err(SpoolError::Io(e)));
                continue;
            }
            let active = self
                .active
                .as_mut()
                .expect("rotation leaves an active file");
            match active.file.write_all_at(&frame, active.len) {
                Ok(()) => {
                    let id = RecordId {
                        file: active.seq,
                        offset: active.len,
                    };
                    active.len += len;
                    unsynced.waiters.push((reply, id));
                    unsynced.bytes += len;
                }
                Err(e) => {
                    self.fail(&mut unsynced, &e);
                    let _ = reply.send(Err(SpoolError::Io(e)));
                }
            }
        }
        // Its error was already delivered to every waiter it concerned.
        let _ = self.sync(&mut unsynced);
    }

    fn make_room(&mut self, len: u64, unsynced: &Unsynced) -> Result<(), SpoolError> {
        let used = self.shared.state().bytes + unsynced.bytes;
        if used + len <= self.max_bytes {
            return Ok(());
        }
        // A fully confirmed active file is only deleted once something else is being written;
        // without this rotation a spool that filled a single file would refuse forever.
        if unsynced.waiters.is_empty() && self.active_is_reclaimable() {
            self.rotate()?;
            let used = self.shared.state().bytes;
            if used + len <= self.max_bytes {
                return Ok(());
            }
        }
        Err(SpoolError::Full {
            bytes: self.shared.state().bytes + unsynced.bytes,
            max: self.max_bytes,
        })
    }

    fn active_is_reclaimable(&self) -> bool {
        let Some(active) = &self.active else {
            return false;
        };
        active.len > 0
            && self
                .shared
                .state()
                .files
                .get(&active.seq)
                .is_some_and(|f| f.pending.is_empty())
    }

    fn needs_rotation(&self, len: u64) -> bool {
        match &self.active {
            None => true,
            // A record larger than file_bytes still gets written, alone in its own file.
            Some(a) => a.len > 0 && a.len + len > self.file_bytes,
        }
    }

    /// Starts a new spool file. Callers sync the current one first.
    pub(crate) fn rotate(&mut self) -> io::Result<()> {
        let seq = self.next_seq;
        // Never reuse a sequence number, even after a failed create: its file may exist.
        self.next_seq += 1;
        let dir = &self.shared.dir;
        let path = log_path(dir, seq);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // fdatasync on the file does not make its directory entry durable; without this a power
        // loss could drop a whole file of acknowledged records.
        if let Err(e) = sync_dir(dir) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let file = Arc::new(file);
        self.active = Some(Active {
            seq,
            file: Arc::clone(&file),
            len: 0,
            synced_len: 0,
        });
        let mut state = self.shared.state();
        state
            .files
            .insert(seq, SpoolFile::new(file, 0, Default::default(), 0));
        state.active = Some(seq);
        if let Err(e) = state.sweep(dir) {
            tracing::warn!(error = %e, "could not delete a fully confirmed spool file; will retry");
        }
        Ok(())
    }

    /// Makes the unsynced records durable, publishes them, and answers their callers.
    fn sync(&mut self, unsynced: &mut Unsynced) -> io::Result<()> {
        if unsynced.waiters.is_empty() {
            return Ok(());
        }
        let file = Arc::clone(
            &self
                .active
                .as_ref()
                .expect("unsynced records have a file")
                .file,
        );
        if let Err(e) = file.sync_data() {
            self.fail(unsynced, &e);
            return Err(e);
        }
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        let active = self.active.as_mut().expect("unsynced records have a file");
        active.synced_len = active.len;
        {
            let mut state = self.shared.state();
            state.bytes += unsynced.bytes;
            if let Some(f) = state.files.get_mut(&active.seq) {
                f.len = active.len;
                f.pending
                    .extend(unsynced.waiters.iter().map(|(_, id)| id.offset));
            }
        }
        let n = unsynced.waiters.len() as u64;
        self.shared.appends.fetch_add(n, Ordering::Relaxed);
        self.shared.write_succeeded();
        for (reply, id) in unsynced.waiters.drain(..) {
            let _ = reply.send(Ok(id));
        }
        unsynced.bytes = 0;
        Ok(())
    }

    /// Fails every unsynced record and abandons the file: after a failed write or fsync the
    /// kernel's view of it is unknown (a failed fsync may have dropped dirty pages), so nothing
    /// more is written there; the next append starts a new file.
    fn fail(&mut self, unsynced: &mut Unsynced, e: &io::Error) {
        self.shared.write_failed(e);
        for (reply, _) in unsynced.waiters.drain(..) {
            let _ = reply.send(Err(SpoolError::Io(io::Error::new(e.kind(), e.to_string()))));
        }
        unsynced.bytes = 0;
        let Some(active) = self.active.take() else {
            return;
        };
        // Cutting the unacknowledged tail keeps replay from resurrecting records whose callers
        // were told they failed, and keeps the byte count honest.
        let len = match active.file.set_len(active.synced_len) {
            Ok(()) => active.synced_len,
            Err(_) => active.file.metadata().map_or(active.len, |m| m.len()),
        };
        tracing::debug!(error = %e, file = active.seq, "spool write failed; starting a new spool file");
        let mut state = self.shared.state();
        state.active = None;
        if let Some(f) = state.files.get_mut(&active.seq) {
            let old = std::mem::replace(&mut f.len, len);
            state.bytes = state.bytes - old + len;
        }
        if let Err(e) = state.sweep(&self.shared.dir) {
            tracing::warn!(error = %e, "could not delete a fully confirmed spool file; will retry");
        }
    }
}
