//! `allocator::warm_up` in a process of its own (it changes process-wide allocator options),
//! with mimalloc as the global allocator, as in the binary.

use std::time::{Duration, Instant};

use stormscope_shared::allocator::{purge_delay_ms, resident_bytes, set_purge_delay_ms, warm_up};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIB: usize = 1 << 20;

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
    set_purge_delay_ms(10);
    let before = resident_mib();
    warm_up(64 * MIB);
    assert_eq!(
        purge_delay_ms(),
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
    assert_eq!(purge_delay_ms(), -1, "not outgrown yet");

    // Past what warming left resident, purging resumes with the delay it had.
    let more = touched(64 * MIB);
    let deadline = Instant::now() + Duration::from_secs(5);
    while purge_delay_ms() != 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        purge_delay_ms(),
        10,
        "purging resumes once warm memory is outgrown"
    );
    drop((answer, more));
}
