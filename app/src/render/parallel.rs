//! Large views split their per-node work across the machine's cores: a query for a hundred
//! probes' processes summarises tens of thousands of nodes, and one core alone would keep the
//! user waiting for most of the answer. Small views stay on the calling thread. Hand-written
//! over `std::thread::scope` rather than a pool crate: three call shapes, no queueing needed.

use std::cell::Cell;

/// Below this many items one thread is faster than starting more.
const MIN_PER_THREAD: usize = 2048;
const MAX_THREADS: usize = 4;

/// `items.iter().map(f).collect()`, in order, on up to [`MAX_THREADS`] threads.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_chunks(items, |part| part.iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

/// As [`par_map`] for items that each take long (decoding a report): split across the cores
/// from two items on.
pub fn par_map_heavy<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = items.len().clamp(1, cores().min(MAX_THREADS));
    split(items, threads, |part| {
        part.iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// `f` of consecutive parts of `items`, one per thread, in order.
pub fn par_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    split(items, threads_for(items.len()), f)
}

fn split<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    if threads <= 1 {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = items.chunks(chunk);
        // The last part is done here rather than on a new thread: the caller would only wait,
        // and what it allocates it frees cheaply (memory allocated on another thread is
        // handed back to that thread's heap, at several times the cost of a free).
        let last = parts.next_back().expect("at least two parts");
        let handles: Vec<_> = parts.map(|part| scope.spawn(move || f(part))).collect();
        let last = f(last);
        let mut results: Vec<R> = handles
            .into_iter()
            .map(|h| h.join().expect("a render thread panicked"))
            .collect();
        results.push(last);
        results
    })
}

/// `(a(), b())`, `a` on another thread while this one does `b`. Work either splits further
/// stays on its own thread: the cores are busy already.
pub fn join<RA: Send, RB>(a: impl FnOnce() -> RA + Send, b: impl FnOnce() -> RB) -> (RA, RB) {
    if cores() <= 1 || JOINED.get() {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            JOINED.set(true);
            a()
        });
        let b = {
            let _joined = Joined::here();
            b()
        };
        (a.join().expect("a render thread panicked"), b)
    })
}

/// Marks this thread as one side of a [`join`] while it lives, even if its work panics.
struct Joined;

impl Joined {
    fn here() -> Self {
        JOINED.set(true);
        Joined
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        JOINED.set(false);
    }
}

thread_local! {
    /// Whether this thread is one side of a [`join`].
    static JOINED: Cell<bool> = const { Cell::new(false) };
}

fn threads_for(items: usize) -> usize {
    if JOINED.get() {
        return 1;
    }
    (items / MIN_PER_THREAD).clamp(1, cores().min(MAX_THREADS))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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
        }
    }

    #[test]
    fn joined_work_stays_on_its_thread() {
        let items: Vec<usize> = (0..MIN_PER_THREAD * 4).collect();
        let threads = || par_chunks(&items, |_| std::thread::current().id()).len();
        let (a, b) = join(threads, threads);
        assert_eq!((a, b), (1, 1));
        assert_eq!(threads(), threads_for(items.len()));
    }
}
