//! The tokens file: read at start, and read again on SIGHUP and whenever its contents change,
//! so rotating a probe's token needs no restart. A file that no longer parses (or is gone)
//! leaves the tokens in force as they were, and the log says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use stormscope_shared::tenancy::{TokenSet, Tokens};

/// Reads and parses a tokens file; an empty one is an error (no probe could report).
pub fn load(path: &Path) -> anyhow::Result<Tokens> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let tokens = Tokens::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(!tokens.is_empty(), "{} holds no tokens", path.display());
    Ok(tokens)
}

/// Reloads `path` into `set` on SIGHUP, and when its contents differ from the last read every
/// `check`. The contents are compared, not the modification time: a Kubernetes secret
/// swaps a symlink, and a file rewritten twice within a second keeps its mtime. A file watch
/// (inotify) would miss the symlink swap the same way, so a small file read every few seconds
/// is both simpler and more reliable. Runs until the process stops.
pub async fn keep_reloaded(path: PathBuf, set: TokenSet, check: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler; the tokens file is reloaded when it changes only");
            None
        }
    };
    let mut seen = std::fs::read(&path).ok();
    let mut last_failure: Option<String> = None;
    let mut ticks = tokio::time::interval(check.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = ticks.tick() => false,
            Some(()) = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        let contents = std::fs::read(&path).ok();
        if !asked && contents == seen {
            continue;
        }
        seen = contents;
        match load(&path) {
            Ok(tokens) => {
                tracing::info!(tokens = tokens.len(), file = %path.display(), sighup = asked, "tokens reloaded");
                set.replace(tokens);
                last_failure = None;
            }
            Err(e) => {
                let why = format!("{e:#}");
                // Said once per distinct failure (and on every SIGHUP), not on every check.
                if asked || last_failure.as_ref() != Some(&why) {
                    tracing::error!(error = %why, kept = set.current().len(), "tokens file not reloaded; the tokens in force stay");
                }
                last_failure = Some(why);
            }
        }
    }
}
