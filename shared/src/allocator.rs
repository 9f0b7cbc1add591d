//! How every Stormscope process tunes its allocator (mimalloc, the global allocator of the
//! binary and of the benchmarks): [`tune`] is called first thing in `main`.

/// How long mimalloc keeps freed memory before giving it back to the system, unless
/// `MIMALLOC_PURGE_DELAY` says otherwise. Its default, a second, kept a busy app about 40 MiB
/// larger at its peak than 250 ms does, and 250 ms cost no latency we could measure; shorter
/// delays did (BENCHMARKS.md).
const PURGE_DELAY_MS: std::ffi::c_long = 250;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e`, which the sys crate's constants skip.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's purge delay in milliseconds; negative when it does not purge at all.
pub fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reads one of mimalloc's integer options; no pointers are involved.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}

/// Sets mimalloc's purge delay: how long freed memory stays before it goes back to the
/// system; a negative delay keeps it.
pub fn set_purge_delay_ms(delay: std::ffi::c_long) {
    // SAFETY: sets one of mimalloc's integer options; no pointers are involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
}

/// Applies the settings below, each unless its environment variable says otherwise.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        set_purge_delay_ms(PURGE_DELAY_MS);
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        disable_transparent_huge_pages();
    }
}

/// Turns transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP` is set.
/// mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`). Where the kernel then
/// compacts memory to make each one (`defrag` set to `madvise`, Debian's default), each fault
/// of fresh memory cost about a millisecond. A tenant's first answer decodes a window into
/// fresh memory, and it spent more time in the kernel than decoding. Whole 2 MiB pages also
/// kept freed memory resident. With 4 KiB pages, the first `processes` answer at 100 probes
/// took 0.5 s instead of 0.75-0.9 s, and the app's peak RSS fell by about 50 MiB
/// (BENCHMARKS.md). mimalloc's own switch for this is read before `main` runs, so the kernel's
/// per-process flag is set here instead; it covers mappings made before as well as after.
fn disable_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only. Its result is not needed: a kernel built
    // without THP refuses it, and then there is nothing to turn off.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Faults in `bytes` of memory now, while nothing waits, and keeps it for the allocations that
/// come next. A freshly started app's first answer at 100 probes touches about 110 MiB, and on
/// a virtual machine each 4 KiB page's first touch cost the answer about 2 us of kernel time:
/// a quarter of its CPU (BENCHMARKS.md). The memory is allocated, written and freed with
/// purging suspended, so mimalloc hands the same resident pages to later allocations instead
/// of returning them to the system. Purging resumes, with the delay it had, once the process
/// has grown past what warming left resident: up to `bytes` of freed memory is kept until then.
pub fn warm_up(bytes: usize) {
    const CHUNK: usize = 1 << 20;
    if bytes == 0 {
        return;
    }
    let delay = purge_delay_ms();
    set_purge_delay_ms(-1);
    let chunks: Vec<Vec<u8>> = (0..bytes.div_ceil(CHUNK))
        .map(|_| std::hint::black_box(vec![1u8; CHUNK]))
        .collect();
    drop(std::hint::black_box(chunks));
    let Some(warm) = resident_bytes() else {
        return;
    };
    // Past this, the warm memory is in use and more is being faulted in anyway.
    let outgrown = warm + bytes / 8;
    let watch = move || {
        while resident_bytes().is_some_and(|now| now <= outgrown) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        set_purge_delay_ms(delay);
        tracing::debug!(
            delay_ms = delay,
            "warm memory outgrown: freed memory is purged again"
        );
    };
    if let Err(e) = std::thread::Builder::new()
        .name("warm-memory".into())
        .spawn(watch)
    {
        set_purge_delay_ms(delay);
        tracing::warn!(error = %e, "no thread to watch warm memory: purging resumes at once");
    }
}

/// This process's resident memory, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<usize> {
    let statm = procfs::process::Process::myself().ok()?.statm().ok()?;
    usize::try_from(statm.resident * procfs::page_size()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, as `tune` changes the whole process: the purge delay must be read before
    /// any other test could have tuned it.
    #[test]
    fn tune_sets_the_purge_delay_and_turns_huge_pages_off() {
        let get = purge_delay_ms;
        let delay_set = std::env::var_os("MIMALLOC_PURGE_DELAY").is_some();
        if !delay_set {
            // mimalloc's documented default for the purge delay, and no other option's.
            assert_eq!(
                get(),
                1000,
                "option {MI_OPTION_PURGE_DELAY} is not the purge delay"
            );
        }
        tune();
        if !delay_set {
            assert_eq!(get(), PURGE_DELAY_MS);
        }
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            // SAFETY: prctl with integer arguments only.
            let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(disabled, 1);
        }
    }
}
