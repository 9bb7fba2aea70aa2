//! Benchmark of the apply executor's own overhead, without Docker: the
//! executor's node graph (`apply::executor::dependencies`, with its barrier
//! "every resource is ready") walked by `graph::walk` on the 4-worker
//! multi-thread runtime the CLI uses, with apply's default parallelism (10).
//!
//! The plan has the shape of `bench/plan_bench.py`'s project: a chain of
//! instances, resources, and one service per resource connected to it
//! (80 %, 10 %, 10 % of the nodes). Two walks of it:
//! - `no-op`: every change is a no-op, as in a repeated apply: the executor
//!   completes such nodes without spawning anything;
//! - `spawned`: every node's work is spawned as a task that returns at once,
//!   so each node costs a spawn, a join and the walker's bookkeeping.
//!
//! Prints the median of several walks for 1,000 and 10,000 nodes and the
//! growth factor (linear is 10×). Wall time grows faster than the work
//! where the larger plan outgrows a cache (the 10,000 changes and their
//! strings are ~5 MB, beyond this machine's 2 MiB L2), so `once N` walks
//! N no-op nodes a single time in `walk_once`, whose instructions
//! `bench/plan_bench.py` has callgrind count: the measure of linearity.
//!
//! `cargo build --release --example walk_bench && target/release/examples/walk_bench [once N]`
//! (`bench/plan_bench.py` runs it when built).

use compartment::apply::executor::dependencies;
use compartment::graph::walk::{walk, Visitor, Work};
use compartment::plan::planner::new_change;
use compartment::plan::{Action, Change, Kind};
use std::time::Instant;

/// The allocator of the `compartment` binary (src/main.rs), so that the
/// executor is measured as apply runs it.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Mirrors the executor's visitor: no-op changes have no work.
struct Walk<'a> {
    changes: &'a [Change],
    spawn: bool,
}

impl Visitor for Walk<'_> {
    type Output = ();
    fn needs_work(&self, node: usize) -> bool {
        self.spawn && node < self.changes.len()
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

fn change(kind: Kind, name: String, depends_on: Vec<String>) -> Change {
    let prefix = match kind {
        Kind::Resource => "resource",
        Kind::Service => "service",
        Kind::Instance => "instance",
    };
    let mut ch = new_change(&format!("{prefix}.{name}"), kind, &name, Action::NoOp);
    ch.depends_on = depends_on;
    ch
}

/// `n` changes in execution order: resources, services, then the chain.
fn plan(n: usize) -> Vec<Change> {
    let pairs = n / 10;
    let mut out: Vec<Change> = (0..pairs)
        .map(|i| change(Kind::Resource, format!("res{i}"), vec![]))
        .collect();
    out.extend((0..pairs).map(|i| {
        change(
            Kind::Service,
            format!("svc{i}"),
            vec![format!("resource.res{i}")],
        )
    }));
    let chain = n - 2 * pairs;
    out.extend((0..chain).map(|i| {
        let deps = if i == 0 {
            vec!["service.svc0".to_string()]
        } else {
            vec![format!("instance.link{}", i - 1)]
        };
        change(Kind::Instance, format!("link{i}"), deps)
    }));
    out
}

fn median_ms(rt: &tokio::runtime::Runtime, changes: &[Change], spawn: bool, runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let deps = dependencies(changes);
            let mut visitor = Walk { changes, spawn };
            let walked = rt.block_on(walk(&deps, &mut visitor, 10, std::future::pending()));
            assert!(walked.not_started.is_empty());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// One no-op walk of `changes`, dependency resolution included: the
/// function `bench/plan_bench.py` has callgrind count the instructions of.
#[inline(never)]
fn walk_once(rt: &tokio::runtime::Runtime, changes: &[Change]) {
    let deps = dependencies(changes);
    let mut visitor = Walk {
        changes,
        spawn: false,
    };
    let walked = rt.block_on(walk(&deps, &mut visitor, 10, std::future::pending()));
    assert!(walked.not_started.is_empty());
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    // `walk_bench once N`: a single no-op walk of N nodes, for callgrind.
    let args: Vec<String> = std::env::args().collect();
    if let [_, once, n] = args.as_slice() {
        assert_eq!(once, "once", "usage: walk_bench [once N]");
        let changes = plan(n.parse().expect("a number of nodes"));
        walk_once(&rt, &changes);
        return;
    }
    let (small, large) = (plan(1_000), plan(10_000));
    for (shape, spawn) in [("no-op", false), ("spawned", true)] {
        let t1 = median_ms(&rt, &small, spawn, 21);
        let t10 = median_ms(&rt, &large, spawn, 7);
        println!(
            "walk {shape}: 1,000 nodes median {t1:.2} ms; 10,000 nodes median {t10:.2} ms; growth {:.1}x",
            t10 / t1
        );
    }
}
