//! The byte estimates the memory budget runs on (`stormscope_app::size`) against the heap a
//! merged window really holds, counted by this test binary's allocator. An estimate far below
//! the truth lets the caches outgrow `--memory-budget`; this is what keeps it honest.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use stormscope_shared::merge::fast_merge;
use stormscope_shared::synth::{SynthSpec, full_and_deltas};
use stormscope_shared::{Report, Timestamp};

/// The system allocator, counting the bytes it holds for the program.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Probes' full reports and two deltas each, as `stormscope loadgen` sends them: the shape of
/// the benchmark's window.
fn window(probes: usize) -> Vec<Report> {
    (0..probes)
        .flat_map(|probe| {
            let mut spec = SynthSpec::probe(probe as u64 + 1, probe, probes);
            spec.ts = Timestamp::from_unix_millis(1_764_162_000_000);
            full_and_deltas(&spec)
        })
        .collect()
}

#[test]
fn a_merged_windows_estimate_is_within_a_quarter_of_its_heap() {
    let reports = window(6);
    let before = HELD.load(Ordering::SeqCst);
    let merged = fast_merge(reports.iter());
    let held = (HELD.load(Ordering::SeqCst) - before) as f64;
    let estimate = stormscope_app::size::report(&merged) as f64;
    let ratio = estimate / held;
    eprintln!("estimated {estimate} bytes for {held} held");
    assert!(
        (0.75..=1.25).contains(&ratio),
        "estimated {:.1} MB for {:.1} MB held (ratio {ratio:.2})",
        estimate / 1e6,
        held / 1e6
    );
}
