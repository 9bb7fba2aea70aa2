//! Benchmark of the apply executor's walker alone (`graph::walk`): N no-op
//! works (each a future that returns at once) in a chain and in a
//! fan-out/fan-in shape, on the same 4-worker multi-thread runtime the CLI
//! uses, with apply's default parallelism. Prints the median of several
//! walks for N = 1,000 and N = 10,000 and the growth factor (linear is 10×).
//!
//! `cargo build --release --example walk_bench && target/release/examples/walk_bench`
//! (`bench/plan_bench.py` runs it when built).

use compartment::graph::walk::{walk, Visitor, Work};
use std::time::Instant;

struct NoOp;

impl Visitor for NoOp {
    type Output = ();
    fn needs_work(&self, _: usize) -> bool {
        true
    }
    fn start(&mut self, _: usize) -> Work<()> {
        Box::pin(async {})
    }
    fn finish(&mut self, _: usize, _: ()) -> bool {
        true
    }
    fn panicked(&mut self, _: usize, message: String) {
        panic!("{message}");
    }
    fn skipped(&mut self, node: usize, because: usize) {
        panic!("{node} skipped because of {because}");
    }
}

/// A chain (each node waits for the previous one).
fn chain(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect()
}

/// One root, n - 2 nodes on it, and one node waiting for all of them.
fn fan(n: usize) -> Vec<Vec<usize>> {
    let mut deps: Vec<Vec<usize>> = (0..n - 1)
        .map(|i| if i == 0 { vec![] } else { vec![0] })
        .collect();
    deps.push((1..n - 1).collect());
    deps
}

fn median_ms(rt: &tokio::runtime::Runtime, deps: &[Vec<usize>], runs: usize) -> (f64, f64) {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let walked = rt.block_on(walk(deps, &mut NoOp, 10, std::future::pending()));
            assert!(walked.not_started.is_empty());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[runs / 2], times[0])
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    for (shape, make) in [("chain", chain as fn(usize) -> _), ("fan", fan)] {
        let (t1, m1) = median_ms(&rt, &make(1_000), 21);
        let (t10, m10) = median_ms(&rt, &make(10_000), 7);
        println!(
            "walk {shape}: 1,000 no-op nodes median {t1:.2} ms (min {m1:.2}); 10,000 median {t10:.2} ms (min {m10:.2}); growth {:.1}x",
            t10 / t1
        );
    }
}
