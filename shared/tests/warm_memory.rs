//! `allocator::warm_up` in a process of its own (it changes process-wide allocator options),
//! with mimalloc as the global allocator, as in the binary.

use std::time::{Duration, Instant};

use stormscope_shared::allocator::{resident_bytes, warm_up};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIB: usize = 1 << 20;
/// `mi_option_purge_delay`, as in `allocator.rs`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn purge_delay() -> std::ffi::c_long {
    // SAFETY: reads an integer option.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

fn resident_mib() -> usize {
    resident_bytes().expect("/proc/self/statm") / MIB
}

/// Memory written through, as an answer's allocations write theirs.
fn touched(bytes: usize) -> Vec<Vec<u8>> {
    (0..bytes / MIB)
        .map(|_| std::hint::black_box(vec![7u8; MIB]))
        .collect()
}

#[test]
fn warm_memory_stays_resident_for_later_allocations_until_outgrown() {
    // A short delay, so that memory not held back would be purged within the sleeps below.
    // SAFETY: sets an integer option.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) };
    let before = resident_mib();
    warm_up(64 * MIB);
    assert_eq!(
        purge_delay(),
        -1,
        "purging is suspended while memory is warm"
    );
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: asks mimalloc to purge what it may; no pointers are involved.
    unsafe { libmimalloc_sys::mi_collect(true) };
    let warm = resident_mib();
    assert!(
        warm >= before + 60,
        "the freed warm memory stays resident: {before} MiB before, {warm} MiB after"
    );

    // Allocations now take the resident pages rather than fresh ones.
    let answer = touched(48 * MIB);
    let used = resident_mib();
    assert!(
        used < warm + 12,
        "48 MiB written into warm memory grew the process from {warm} to {used} MiB"
    );
    assert_eq!(purge_delay(), -1, "not outgrown yet");

    // Past what warming left resident, purging resumes with the delay it had.
    let more = touched(64 * MIB);
    let deadline = Instant::now() + Duration::from_secs(5);
    while purge_delay() != 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        purge_delay(),
        10,
        "purging resumes once warm memory is outgrown"
    );
    drop((answer, more));
}
