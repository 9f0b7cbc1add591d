//! Large views split their per-node work across the machine's cores: a query for a hundred
//! probes' processes summarises tens of thousands of nodes, and one core alone would keep the
//! user waiting for most of the answer. Small views stay on the calling thread.
//!
//! The work runs on rayon's pool of long-lived threads. Starting threads per render, as this
//! did before, gave every render fresh allocator heaps that were abandoned when the threads
//! ended while the summaries they allocated lived on in caches: memory came back to the
//! system late and in pieces, and the app's RSS swung by a couple of hundred megabytes.

use rayon::prelude::*;

/// Below this many items one thread is faster than handing work out.
const MIN_PER_THREAD: usize = 2048;

/// `items.iter().map(&f).collect()`, in order, across the cores for large inputs.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 * MIN_PER_THREAD {
        return items.iter().map(&f).collect();
    }
    items
        .par_iter()
        .with_min_len(MIN_PER_THREAD)
        .map(&f)
        .collect()
}

/// As [`par_map`] for items that each take long (decoding a report): split from two items on.
pub fn par_map_heavy<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    items.par_iter().map(&f).collect()
}

/// `f` of consecutive parts of `items`, in order: one part for small inputs, else about one
/// per core.
pub fn par_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let parts = (items.len() / MIN_PER_THREAD).clamp(1, rayon::current_num_threads());
    if parts <= 1 {
        return vec![f(items)];
    }
    items
        .par_chunks(items.len().div_ceil(parts))
        .map(&f)
        .collect()
}

/// `(a(), b())`, possibly at the same time on two cores.
pub fn join<RA: Send, RB: Send>(
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    rayon::join(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_on_any_number_of_threads() {
        for n in [0, 1, 100, MIN_PER_THREAD * 3 + 7] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = par_map(&items, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let heavy = par_map_heavy(&items, |i| i * 2);
            assert_eq!(heavy, doubled);
            let double = |part: &[usize]| part.iter().map(|i| i * 2).collect::<Vec<_>>();
            let chunked: Vec<usize> = par_chunks(&items, double).concat();
            assert_eq!(chunked, doubled);
        }
    }

    #[test]
    fn small_inputs_stay_in_one_part() {
        let items: Vec<usize> = (0..MIN_PER_THREAD).collect();
        assert_eq!(par_chunks(&items, |p| p.len()), vec![MIN_PER_THREAD]);
    }
}
