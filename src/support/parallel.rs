//! Two pieces of independent work at once: the first on a second thread,
//! the second on this one. Loading a large project uses it where its parts
//! do not depend on each other (docs/benchmarks.md). When the system
//! refuses a thread, both run here, one after the other.

use std::sync::{Mutex, PoisonError};

/// Runs `a` on a thread named `name` while `b` runs on this one; returns
/// both results. A panic in either is resumed here.
pub fn join<A, B, RA, RB>(name: &str, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    RA: Send,
    B: FnOnce() -> RB,
{
    // The work waits here until a thread takes it, so it is still here to
    // run if no thread starts.
    let slot = Mutex::new(Some(a));
    let take = || slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    std::thread::scope(|s| {
        let other = std::thread::Builder::new()
            .name(name.into())
            .spawn_scoped(s, || take().map(|a| a()));
        let rb = b();
        let ra = match other {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => None,
        };
        let ra = ra.unwrap_or_else(|| take().expect("the work runs once")());
        (ra, rb)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_run_and_return_their_results() {
        let mut here = Vec::new();
        let (a, ()) = super::join("test", || (1..=10).sum::<u32>(), || here.push(1));
        assert_eq!((a, here), (55, vec![1]));
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_on_the_other_thread_reaches_the_caller() {
        super::join("test", || panic!("boom"), || ());
    }
}
