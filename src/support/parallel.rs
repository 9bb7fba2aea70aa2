//! Two pieces of independent work at once: the first on a second thread,
//! the second on this one. Loading and planning a large project use it
//! where their parts do not depend on each other, and drop large
//! structures aside (docs/benchmarks.md). When the system refuses a
//! thread, both run here, one after the other. The worker is rayon's
//! (`rayon-core`): a kept thread that takes scoped work, as `join` needs.

use std::sync::{Mutex, OnceLock, PoisonError};

/// The one worker thread that [`join`] gives work to, started on first use
/// and kept for the process: a thread started and joined per piece of work
/// cost 85 microseconds here, five of them in a plan (docs/benchmarks.md).
/// `None` when the system refuses a thread.
fn worker() -> Option<&'static rayon_core::ThreadPool> {
    static POOL: OnceLock<Option<rayon_core::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon_core::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "compartment-worker".into())
            .build()
            .ok()
    })
    .as_ref()
}

/// Whether [`join`] runs its two halves at once: a worker thread is
/// there, and this is not it (on the worker, `join` runs both halves on
/// it). Work whose halves wait for each other (a channel between them)
/// must not be given to `join` otherwise: one would wait forever for the
/// other, which runs after it.
pub fn concurrent() -> bool {
    worker().is_some() && rayon_core::current_thread_index().is_none()
}

/// Runs `a` on the worker thread while `b` runs on this one; returns both
/// results. A panic in either is resumed here.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    RA: Send,
    B: FnOnce() -> RB,
{
    let Some(pool) = worker() else {
        return (a(), b());
    };
    let mut ra = None;
    let rb = pool.in_place_scope(|s| {
        s.spawn(|_| ra = Some(a()));
        b()
    });
    (ra.expect("the scope waits for its work"), rb)
}

/// Threads dropping what [`drop_aside`] gave them, joined by [`settle`].
static ASIDE: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Drops `value` on a thread of its own, so that this one goes on while
/// a large structure is freed (a 10,000-node project's YAML tree and
/// position index: 2-3 ms each, docs/benchmarks.md). Here when the system
/// refuses a thread.
pub fn drop_aside<T: Send + 'static>(value: T) {
    // A refused thread drops its closure, and `value` with it, here.
    if let Ok(handle) = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value))
    {
        let mut aside = ASIDE.lock().unwrap_or_else(PoisonError::into_inner);
        // Those done are joined now: a process that loads projects again
        // and again keeps only the threads still freeing.
        aside.retain(|h| !h.is_finished());
        aside.push(handle);
    }
}

/// Waits for every [`drop_aside`] to finish (before the process exits).
pub fn settle() {
    let handles = std::mem::take(&mut *ASIDE.lock().unwrap_or_else(PoisonError::into_inner));
    for handle in handles {
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_run_and_return_their_results() {
        let mut here = Vec::new();
        let (a, ()) = super::join(|| (1..=10).sum::<u32>(), || here.push(1));
        assert_eq!((a, here), (55, vec![1]));
    }

    #[test]
    fn only_a_thread_other_than_the_worker_joins_concurrently() {
        assert!(super::concurrent(), "no worker thread started");
        let (on_worker, ()) = super::join(super::concurrent, || ());
        assert!(!on_worker);
    }

    #[test]
    fn what_is_dropped_aside_is_dropped_by_settle() {
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        super::drop_aside(Flag(dropped.clone()));
        super::settle();
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_on_the_other_thread_reaches_the_caller() {
        super::join(|| panic!("boom"), || ());
    }
}
