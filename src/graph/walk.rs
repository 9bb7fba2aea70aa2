//! The walker: runs the nodes of a dependency graph as their dependencies
//! complete (terraform's `dag.Walker`). Domain-free: a node is an index, its
//! work is a future the [`Visitor`] hands over, and the walker only decides
//! when a node may start, when it is skipped, and when the walk ends.
//!
//! Each event costs constant time: a node's unfinished dependencies are a
//! counter, ready nodes wait in a [`ReadySet`] that yields the lowest index
//! first (so, among ready nodes, the earliest in the caller's order starts
//! first) touching one word per 64-fold level (three levels up to 262,144
//! nodes, four up to 16.7 million), and a finished node releases only its
//! own dependents. A panicking node keeps its index, so its dependents are
//! reported as skipped because of it.

use rustc_hash::FxHashMap;
use std::future::Future;
use std::pin::Pin;
use tokio::task::{Id, JoinSet};

/// The work of one node.
pub type Work<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the walker asks of the domain.
pub trait Visitor {
    /// What a node's work produces.
    type Output: Send + 'static;

    /// Whether `node` has work to do. A node without work completes as soon
    /// as its dependencies have, without counting against the parallelism,
    /// also after a stop.
    fn needs_work(&self, node: usize) -> bool;

    /// Every dependency of `node` completed: its work.
    fn start(&mut self, node: usize) -> Work<Self::Output>;

    /// The work of `node` ended; `true` when it succeeded (its dependents may
    /// start), `false` when it failed (they are skipped).
    fn finish(&mut self, node: usize, output: Self::Output) -> bool;

    /// The work of `node` panicked; its dependents are skipped.
    fn panicked(&mut self, node: usize, message: String);

    /// `node` will not run because its dependency `because` failed or was
    /// skipped.
    fn skipped(&mut self, node: usize, because: usize);

    /// `true` to start nothing new (e.g. the domain cannot record results
    /// any more); running works are still awaited.
    fn halted(&self) -> bool {
        false
    }

    /// The stop signal arrived; nothing new starts from now on.
    fn stopping(&mut self) {}
}

/// How a walk ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walked {
    /// Nodes never started because the walk was stopped, in index order.
    pub not_started: Vec<usize>,
    /// The stop signal arrived.
    pub stopped: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
}

/// Walks nodes `0..dependencies.len()`, where `dependencies[i]` lists the
/// nodes `i` depends on (indices into the same list; others are ignored).
/// At most `parallelism` works run at once. When `stop` resolves, nothing
/// new starts; running works are awaited.
pub async fn walk<V, S>(
    dependencies: &[Vec<usize>],
    visitor: &mut V,
    parallelism: usize,
    stop: S,
) -> Walked
where
    V: Visitor,
    S: Future<Output = ()>,
{
    let mut w = Walker::new(dependencies, parallelism.max(1));
    w.release_initial(visitor);
    tokio::pin!(stop);
    loop {
        w.start_ready(visitor);
        if w.running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop, if !w.stopped => {
                w.stopped = true;
                visitor.stopping();
            }
            joined = w.running.join_next_with_id() => match joined {
                Some(Ok((id, output))) => {
                    let node = w.ids.remove(&id).expect("every task has a node");
                    let ok = visitor.finish(node, output);
                    w.settle(visitor, node, ok);
                }
                Some(Err(e)) => {
                    let node = w.ids.remove(&e.id()).expect("every task has a node");
                    visitor.panicked(node, panic_message(e));
                    w.settle(visitor, node, false);
                }
                None => break,
            },
        }
    }
    w.finish()
}

struct Walker<'a, T> {
    dependencies: &'a [Vec<usize>],
    dependents: Vec<Vec<usize>>,
    /// Unfinished dependencies per node.
    remaining: Vec<usize>,
    status: Vec<Status>,
    /// Ready nodes with work, earliest index first.
    ready: ReadySet,
    running: JoinSet<T>,
    ids: FxHashMap<Id, usize>,
    parallelism: usize,
    stopped: bool,
}

impl<'a, T: Send + 'static> Walker<'a, T> {
    fn new(dependencies: &'a [Vec<usize>], parallelism: usize) -> Self {
        let n = dependencies.len();
        let mut dependents = vec![Vec::new(); n];
        let mut remaining = vec![0; n];
        for (i, deps) in dependencies.iter().enumerate() {
            for &d in deps.iter().filter(|&&d| d < n && d != i) {
                dependents[d].push(i);
                remaining[i] += 1;
            }
        }
        Walker {
            dependencies,
            dependents,
            remaining,
            status: vec![Status::Waiting; n],
            ready: ReadySet::new(n),
            running: JoinSet::new(),
            ids: FxHashMap::default(),
            parallelism,
            stopped: false,
        }
    }

    fn release_initial<V: Visitor<Output = T>>(&mut self, visitor: &mut V) {
        let roots: Vec<usize> = (0..self.remaining.len())
            .filter(|&i| self.remaining[i] == 0)
            .collect();
        for r in roots {
            self.became_ready(visitor, r);
        }
    }

    /// `node`'s dependencies all completed: queue its work, or complete it
    /// (and whatever that releases) at once when it has none.
    fn became_ready<V: Visitor<Output = T>>(&mut self, visitor: &mut V, node: usize) {
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if visitor.needs_work(n) {
                self.ready.insert(n);
                continue;
            }
            self.status[n] = Status::Done;
            for &d in &self.dependents[n] {
                self.remaining[d] -= 1;
                if self.remaining[d] == 0 && self.status[d] == Status::Waiting {
                    stack.push(d);
                }
            }
        }
    }

    /// Starts ready nodes while there is room and no stop.
    fn start_ready<V: Visitor<Output = T>>(&mut self, visitor: &mut V) {
        while !self.stopped && !visitor.halted() && self.running.len() < self.parallelism {
            let Some(node) = self.ready.pop_first() else {
                return;
            };
            self.status[node] = Status::Running;
            let handle = self.running.spawn(visitor.start(node));
            self.ids.insert(handle.id(), node);
        }
    }

    /// `node` ended: release its dependents, or skip everything downstream.
    fn settle<V: Visitor<Output = T>>(&mut self, visitor: &mut V, node: usize, ok: bool) {
        if ok {
            self.status[node] = Status::Done;
            for i in 0..self.dependents[node].len() {
                let d = self.dependents[node][i];
                self.remaining[d] -= 1;
                if self.remaining[d] == 0 && self.status[d] == Status::Waiting {
                    self.became_ready(visitor, d);
                }
            }
            return;
        }
        self.status[node] = Status::Failed;
        // Everything downstream, in index order, each naming the first of
        // its own dependencies that did not complete.
        let mut downstream = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            for &d in &self.dependents[n] {
                if self.status[d] == Status::Waiting {
                    self.status[d] = Status::Failed;
                    downstream.push(d);
                    stack.push(d);
                }
            }
        }
        downstream.sort_unstable();
        for d in downstream {
            let because = self.dependencies[d]
                .iter()
                .copied()
                .find(|&x| x < self.status.len() && self.status[x] == Status::Failed)
                .unwrap_or(node);
            visitor.skipped(d, because);
        }
    }

    fn finish(self) -> Walked {
        Walked {
            not_started: (0..self.status.len())
                .filter(|&i| self.status[i] == Status::Waiting)
                .collect(),
            stopped: self.stopped,
        }
    }
}

/// A set of node indices below a bound that yields its lowest member first,
/// in constant time per operation: a bitmap of the members with one
/// summary level per 64-fold (a bit of a summary word is set when the word
/// it stands for is not empty), so inserting or taking touches one word per
/// level.
pub struct ReadySet {
    /// `levels[0]` holds one bit per index; the last level is one word.
    levels: Vec<Vec<u64>>,
}

impl ReadySet {
    /// An empty set for indices `0..n`.
    pub fn new(n: usize) -> ReadySet {
        let mut levels = Vec::new();
        let mut len = n.max(1);
        loop {
            let words = len.div_ceil(64);
            levels.push(vec![0u64; words]);
            if words == 1 {
                return ReadySet { levels };
            }
            len = words;
        }
    }

    pub fn insert(&mut self, index: usize) {
        let mut i = index;
        for level in &mut self.levels {
            let word = &mut level[i / 64];
            let was_empty = *word == 0;
            *word |= 1 << (i % 64);
            if !was_empty {
                return;
            }
            i /= 64;
        }
    }

    /// Takes the lowest member out of the set.
    pub fn pop_first(&mut self) -> Option<usize> {
        if self.levels.last().is_some_and(|top| top[0] == 0) {
            return None;
        }
        let mut index = 0;
        for level in self.levels.iter().rev() {
            index = index * 64 + level[index].trailing_zeros() as usize;
        }
        let mut i = index;
        for level in &mut self.levels {
            let word = &mut level[i / 64];
            *word &= !(1 << (i % 64));
            if *word != 0 {
                break;
            }
            i /= 64;
        }
        Some(index)
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "the step was cancelled".into();
    }
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("internal error: the step panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("internal error: the step panicked: {s}")
    } else {
        "internal error: the step panicked".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Log {
        events: Vec<String>,
        fail: BTreeSet<usize>,
        panic: BTreeSet<usize>,
        noop: BTreeSet<usize>,
        running: Arc<Mutex<(usize, usize)>>,
    }

    impl Visitor for Log {
        type Output = bool;
        fn needs_work(&self, node: usize) -> bool {
            !self.noop.contains(&node)
        }
        fn start(&mut self, node: usize) -> Work<bool> {
            self.events.push(format!("start {node}"));
            let fail = self.fail.contains(&node);
            let panic = self.panic.contains(&node);
            let running = self.running.clone();
            Box::pin(async move {
                {
                    let mut r = running.lock().unwrap();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                tokio::task::yield_now().await;
                running.lock().unwrap().0 -= 1;
                if panic {
                    panic!("boom");
                }
                !fail
            })
        }
        fn finish(&mut self, node: usize, ok: bool) -> bool {
            self.events.push(format!("finish {node} {ok}"));
            ok
        }
        fn panicked(&mut self, node: usize, message: String) {
            self.events.push(format!("panicked {node}: {message}"));
        }
        fn skipped(&mut self, node: usize, because: usize) {
            self.events.push(format!("skip {node} because {because}"));
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn runs_dependencies_first_and_skips_downstream_of_a_failure() {
        // 0 <- 1 <- 2, 0 <- 3, 4 alone; 1 fails.
        let deps = vec![vec![], vec![0], vec![1], vec![0], vec![]];
        let mut v = Log {
            fail: [1].into(),
            ..Log::default()
        };
        let walked = rt().block_on(walk(&deps, &mut v, 1, std::future::pending()));
        assert_eq!(walked, Walked::default());
        assert_eq!(
            v.events,
            [
                "start 0",
                "finish 0 true",
                "start 1",
                "finish 1 false",
                "skip 2 because 1",
                "start 3",
                "finish 3 true",
                "start 4",
                "finish 4 true"
            ]
        );
    }

    #[test]
    fn a_panicking_node_keeps_its_address_and_no_ops_complete_at_once() {
        let deps = vec![vec![], vec![0], vec![1], vec![2]];
        let mut v = Log {
            noop: [0].into(),
            panic: [1].into(),
            ..Log::default()
        };
        rt().block_on(walk(&deps, &mut v, 4, std::future::pending()));
        assert_eq!(
            v.events,
            [
                "start 1",
                "panicked 1: internal error: the step panicked: boom",
                "skip 2 because 1",
                "skip 3 because 2"
            ]
        );
    }

    #[test]
    fn parallelism_is_a_cap_and_a_stop_starts_nothing_new() {
        let deps: Vec<Vec<usize>> = (0..8).map(|_| vec![]).collect();
        let mut v = Log::default();
        rt().block_on(walk(&deps, &mut v, 3, std::future::pending()));
        assert_eq!(v.running.lock().unwrap().1, 3);
        let mut v = Log::default();
        let walked = rt().block_on(walk(&deps, &mut v, 2, async {}));
        assert!(walked.stopped);
        assert_eq!(walked.not_started, [2, 3, 4, 5, 6, 7]);
        // The two running works finish in either order.
        v.events.sort();
        assert_eq!(
            v.events,
            ["finish 0 true", "finish 1 true", "start 0", "start 1"]
        );
    }

    #[test]
    fn the_ready_set_yields_its_lowest_member_first_at_every_size() {
        for n in [1, 63, 64, 65, 4096, 4097, 300_000] {
            let mut set = ReadySet::new(n);
            assert_eq!(set.pop_first(), None);
            let picks: Vec<usize> = [n - 1, 0, n / 2, n / 3, 64.min(n - 1)]
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for &i in picks.iter().rev() {
                set.insert(i);
            }
            // Taking the lowest, then inserting below what is left.
            assert_eq!(set.pop_first(), Some(picks[0]));
            set.insert(picks[0]);
            let mut out = Vec::new();
            while let Some(i) = set.pop_first() {
                out.push(i);
            }
            assert_eq!(out, picks, "n = {n}");
        }
    }

    #[test]
    fn a_long_chain_of_no_ops_walks_without_rescanning() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let mut v = Log {
            noop: (0..n).collect(),
            ..Log::default()
        };
        let walked = rt().block_on(walk(&deps, &mut v, 10, std::future::pending()));
        assert_eq!(walked, Walked::default());
        assert!(v.events.is_empty());
    }
}
