//! The executor: runs a plan's nodes through the graph walker
//! (`graph::walk`), up to `parallelism` at once, service containers only
//! after every resource is ready, saving the state after
//! every finished node, never starting a node whose dependency failed (and
//! naming it), and on an interrupt starting nothing new, waiting for running
//! nodes and saving. It always returns the state it reached.
//!
//! Steps read an `Arc` snapshot of the state taken when they start; the
//! state is copied only when a step finishes while another still holds an
//! older snapshot.

use super::error::StepError;
use super::steps::{self, Shared, StepOutcome, StepResult};
use crate::graph::walk::{self, Visitor, Work};
use crate::interrupt::Interrupt;
use crate::plan::{Action, Change, Kind};
use crate::state::store::{StateStore, StoreError};
use crate::state::State;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What happened to every node of a run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Address → what the step did.
    pub done: Vec<(String, StepOutcome)>,
    pub failed: Vec<(String, StepError)>,
    /// Address → the failed (or skipped) dependency that stopped it.
    pub skipped: Vec<(String, String)>,
    /// Never started because of an interrupt (or a failed save).
    pub not_started: Vec<String>,
    pub warnings: Vec<(String, String)>,
    /// What a destroy removed after its nodes (`network.…`, `image.…`).
    pub removed: Vec<String>,
    pub interrupted: bool,
    pub save_error: Option<StoreError>,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && !self.interrupted
            && self.save_error.is_none()
    }

    /// How many finished steps did `what`.
    pub fn count(&self, what: impl Fn(StepOutcome) -> bool) -> usize {
        self.done.iter().filter(|(_, o)| what(*o)).count()
    }
}

pub struct Stores {
    pub state: StateStore,
    pub global: StateStore,
}

/// Runs the changes of a plan (already scoped by `--target`), in
/// execution order.
pub async fn execute(
    changes: &[Change],
    shared: Arc<Shared>,
    stores: &Stores,
    state: &mut State,
    global: &mut State,
    parallelism: usize,
    interrupt: &Interrupt,
) -> Outcome {
    let nodes: Vec<&Change> = changes.iter().collect();
    let dependencies = dependencies(changes);
    let mut run = Run {
        resources: dependencies[changes.len()].iter().copied().collect(),
        walker_failed: BTreeSet::new(),
        nodes,
        shared,
        stores,
        state: Arc::new(std::mem::take(state)),
        global: Arc::new(std::mem::take(global)),
        outcome: Outcome::default(),
        running: BTreeSet::new(),
        failed: BTreeSet::new(),
        held_back: BTreeMap::new(),
    };
    let stop = async {
        interrupt.wait().await;
    };
    let walked = walk::walk(&dependencies, &mut run, parallelism, stop).await;
    let mut outcome = run.outcome;
    outcome.interrupted = walked.stopped;
    outcome.not_started = walked
        .not_started
        .into_iter()
        .filter_map(|i| run.nodes.get(i).map(|c| c.address.clone()))
        .collect();
    *state = Arc::unwrap_or_clone(run.state);
    *global = Arc::unwrap_or_clone(run.global);
    outcome
}

/// What each node of `changes` waits for, as indices for `graph::walk`,
/// with one node more at the end: the barrier "every resource is ready".
///
/// As the Compartment seed orders a deploy, service containers start only
/// once every resource of the environment is ready (not only those they
/// connect to); a resource being deleted is not waited for. Services wait
/// for the barrier, which waits for the resources, so that rule costs one
/// edge per service and per resource, not one per pair (a thousand of each
/// were a million edges).
pub fn dependencies(changes: &[Change]) -> Vec<Vec<usize>> {
    let barrier = changes.len();
    let index: FxHashMap<&str, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.as_str(), i))
        .collect();
    let mut dependencies: Vec<Vec<usize>> = changes
        .iter()
        .map(|c| {
            let mut deps: Vec<usize> = c
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            if c.kind == Kind::Service && c.action != Action::Delete {
                deps.push(barrier);
            }
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect();
    dependencies.push(
        changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == Kind::Resource && c.action != Action::Delete)
            .map(|(i, _)| i)
            .collect(),
    );
    dependencies
}

struct Run<'a> {
    nodes: Vec<&'a Change>,
    /// The resources the barrier node (`nodes.len()`) waits for.
    resources: BTreeSet<usize>,
    /// Nodes the walker counts as failed (panicked or skipped): a service
    /// skipped because of the barrier names the first such resource.
    walker_failed: BTreeSet<usize>,
    shared: Arc<Shared>,
    stores: &'a Stores,
    state: Arc<State>,
    global: Arc<State>,
    outcome: Outcome,
    running: BTreeSet<String>,
    /// Addresses that failed or were skipped.
    failed: BTreeSet<String>,
    /// Service nodes released (every resource finished) whose own
    /// dependency failed: node → that dependency.
    held_back: BTreeMap<usize, String>,
}

impl Run<'_> {
    /// Applies a step's updates and saves what they touched.
    fn record(&mut self, result: &mut StepResult) {
        let touches_global = result.updates.iter().any(|u| {
            matches!(
                u,
                steps::Update::PutInstance { global: true, .. }
                    | steps::Update::RemoveInstance { global: true, .. }
            )
        });
        let state = Arc::make_mut(&mut self.state);
        let global = Arc::make_mut(&mut self.global);
        for u in result.updates.drain(..) {
            u.apply(state, global);
        }
        if let Err(e) = self.stores.state.save(state) {
            self.outcome.save_error = Some(e);
        }
        if touches_global {
            if let Err(e) = self.stores.global.save(global) {
                self.outcome.save_error = Some(e);
            }
        }
    }
}

impl Run<'_> {
    /// Records what `node` did; `true` when its dependents may start.
    fn finished(&mut self, node: usize, mut result: StepResult) -> bool {
        let address = self.nodes[node].address.clone();
        self.running.remove(&address);
        if let Some(bad) = self.held_back.remove(&node) {
            self.skip(address, bad);
            return false;
        }
        self.record(&mut result);
        let progress = &self.shared.progress;
        for w in result.warnings {
            progress.note(&format!("warning: {address}: {w}"));
            self.outcome.warnings.push((address.clone(), w));
        }
        match result.outcome {
            Ok(o) => {
                progress.finish(&address, true, &o.to_string());
                self.outcome.done.push((address, o));
                true
            }
            Err(e) => {
                progress.finish(&address, false, &format!("failed: {e}"));
                self.failed.insert(address.clone());
                self.outcome.failed.push((address, e));
                // Services wait for every resource; a failed one stops
                // only the services that depend on it (see `start`).
                self.nodes[node].kind == Kind::Resource
            }
        }
    }

    fn skip(&mut self, address: String, bad: String) {
        self.shared.progress.note(&format!(
            "{address}: skipped because {bad} did not complete"
        ));
        self.failed.insert(address.clone());
        self.outcome.skipped.push((address, bad));
    }
}

impl Visitor for Run<'_> {
    type Output = StepResult;

    fn needs_work(&self, node: usize) -> bool {
        // The barrier has no work.
        self.nodes
            .get(node)
            .is_some_and(|c| c.action != Action::NoOp)
    }

    fn halted(&self) -> bool {
        self.outcome.save_error.is_some()
    }

    fn start(&mut self, node: usize) -> Work<StepResult> {
        let change = self.nodes[node].clone();
        // A service waits for every resource but is stopped only by those
        // it depends on.
        if let Some(bad) = change.depends_on.iter().find(|d| self.failed.contains(*d)) {
            self.held_back.insert(node, bad.clone());
            return Box::pin(async {
                StepResult {
                    updates: vec![],
                    outcome: Ok(StepOutcome::Unchanged),
                    warnings: vec![],
                }
            });
        }
        self.running.insert(change.address.clone());
        let sh = self.shared.clone();
        let st = self.state.clone();
        let gl = self.global.clone();
        Box::pin(async move {
            match change.kind {
                Kind::Resource => steps::resource(sh, st, change).await,
                Kind::Service => steps::service(sh, st, change).await,
                Kind::Instance => steps::instance(sh, st, gl, change).await,
            }
        })
    }

    fn finish(&mut self, node: usize, result: StepResult) -> bool {
        let ok = self.finished(node, result);
        if !ok {
            self.walker_failed.insert(node);
        }
        ok
    }

    fn panicked(&mut self, node: usize, message: String) {
        self.walker_failed.insert(node);
        let address = self.nodes[node].address.clone();
        self.running.remove(&address);
        self.shared
            .progress
            .finish(&address, false, &format!("failed: {message}"));
        self.failed.insert(address.clone());
        self.outcome
            .failed
            .push((address, StepError::Panicked(message)));
    }

    fn skipped(&mut self, node: usize, because: usize) {
        let Some(change) = self.nodes.get(node) else {
            return; // the barrier
        };
        self.walker_failed.insert(node);
        let address = change.address.clone();
        // Waiting for every resource, a service names the first one that
        // did not complete unless one of its own dependencies comes first.
        let first_resource = self
            .walker_failed
            .iter()
            .copied()
            .find(|i| self.resources.contains(i));
        let because = match first_resource {
            Some(r) if because == self.nodes.len() || r < because => r,
            _ => because,
        };
        let bad = self.nodes[because].address.clone();
        self.skip(address, bad);
    }

    fn stopping(&mut self) {
        self.shared.progress.note(&format!(
            "Interrupt received: starting nothing new; waiting for {} running step(s): {}",
            self.running.len(),
            self.running.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: Kind, name: &str, action: Action, depends_on: &[&str]) -> Change {
        let prefix = match kind {
            Kind::Resource => "resource",
            Kind::Service => "service",
            Kind::Instance => "instance",
        };
        let mut ch =
            crate::plan::planner::new_change(&format!("{prefix}.{name}"), kind, name, action);
        ch.depends_on = depends_on.iter().map(|d| d.to_string()).collect();
        ch
    }

    #[test]
    fn services_wait_for_one_barrier_that_waits_for_every_kept_resource() {
        let changes = [
            change(Kind::Resource, "db", Action::Create, &[]),
            change(Kind::Resource, "old", Action::Delete, &[]),
            change(Kind::Resource, "cache", Action::NoOp, &[]),
            change(
                Kind::Service,
                "api",
                Action::Create,
                &["resource.db", "resource.db"],
            ),
            change(Kind::Service, "gone", Action::Delete, &["resource.old"]),
            change(
                Kind::Instance,
                "i",
                Action::Create,
                &["service.api", "elsewhere"],
            ),
        ];
        // Node 6 is the barrier.
        assert_eq!(
            dependencies(&changes),
            [
                vec![],
                vec![],
                vec![],
                vec![0, 6],
                vec![1],
                vec![3],
                vec![0, 2],
            ]
        );
    }
}
