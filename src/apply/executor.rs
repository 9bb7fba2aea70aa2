//! The executor: walks the plan graph with tokio, running independent nodes
//! in parallel (up to `parallelism`), saving the state after every finished
//! node, never starting a node whose dependency failed (and naming it), and
//! on Ctrl-C starting nothing new, waiting for running nodes and saving.
//! It always returns the state it reached.

use super::steps::{self, Shared, StepResult};
use crate::plan::{Action, Change, Kind, Plan};
use crate::state::store::StateStore;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::task::JoinSet;

#[derive(Debug, Default)]
pub struct Outcome {
    /// Address → what happened (created, updated, ...).
    pub done: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
    /// Address → the failed (or skipped) dependency that stopped it.
    pub skipped: Vec<(String, String)>,
    /// Never started because of an interrupt.
    pub not_started: Vec<String>,
    pub warnings: Vec<(String, String)>,
    pub interrupted: bool,
    pub save_error: Option<String>,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && !self.interrupted
            && self.save_error.is_none()
    }
}

pub struct Stores {
    pub state: StateStore,
    pub global: StateStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Done,
    Failed,
    Skipped,
}

/// Runs `plan` (only the nodes in `scope`, all when `None`).
pub async fn execute(
    plan: &Plan,
    shared: Arc<Shared>,
    stores: &Stores,
    state: &mut State,
    global: &mut State,
    parallelism: usize,
    scope: Option<&BTreeSet<String>>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let nodes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| scope.is_none_or(|s| s.contains(&c.address)))
        .collect();
    let in_scope: BTreeSet<&str> = nodes.iter().map(|c| c.address.as_str()).collect();
    let mut status: BTreeMap<String, Status> = BTreeMap::new();
    let mut pending: Vec<&Change> = nodes.clone();
    let mut running: JoinSet<(String, StepResult)> = JoinSet::new();
    let mut running_names: BTreeSet<String> = BTreeSet::new();
    let mut stop = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // Settle what can be settled, start what is ready.
        let mut progressed = true;
        while progressed {
            progressed = false;
            let mut i = 0;
            while i < pending.len() {
                let ch = pending[i];
                let deps: Vec<&String> = ch
                    .depends_on
                    .iter()
                    .filter(|d| in_scope.contains(d.as_str()))
                    .collect();
                if let Some(bad) = deps.iter().find(|d| {
                    matches!(
                        status.get(d.as_str()),
                        Some(Status::Failed | Status::Skipped)
                    )
                }) {
                    status.insert(ch.address.clone(), Status::Skipped);
                    outcome.skipped.push((ch.address.clone(), (*bad).clone()));
                    shared.progress.note(&format!(
                        "{}: skipped because {bad} did not complete",
                        ch.address
                    ));
                    pending.remove(i);
                    progressed = true;
                    continue;
                }
                let ready = deps
                    .iter()
                    .all(|d| status.get(d.as_str()) == Some(&Status::Done));
                if ready && ch.action == Action::NoOp {
                    status.insert(ch.address.clone(), Status::Done);
                    pending.remove(i);
                    progressed = true;
                    continue;
                }
                if ready && !stop && running.len() < parallelism {
                    let change = ch.clone();
                    let sh = shared.clone();
                    let st = Arc::new(state.clone());
                    let gl = Arc::new(global.clone());
                    running_names.insert(change.address.clone());
                    running.spawn(async move {
                        let address = change.address.clone();
                        let result = match change.kind {
                            Kind::Resource => steps::resource(sh, st, change).await,
                            Kind::Service => steps::service(sh, st, change).await,
                            Kind::Instance => steps::instance(sh, st, gl, change).await,
                        };
                        (address, result)
                    });
                    pending.remove(i);
                    progressed = true;
                    continue;
                }
                i += 1;
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                let (address, result) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        // A panicking step: which one is unknown to JoinError; report it.
                        outcome.failed.push(("(a step)".into(), format!("internal error: {e}")));
                        continue;
                    }
                };
                running_names.remove(&address);
                let touches_global = result.updates.iter().any(|u| matches!(u, steps::Update::PutInstance { global: true, .. } | steps::Update::RemoveInstance { global: true, .. }));
                for u in result.updates {
                    u.apply(state, global);
                }
                if let Err(e) = stores.state.save(state) {
                    outcome.save_error = Some(e.to_string());
                    stop = true;
                }
                if touches_global {
                    if let Err(e) = stores.global.save(global) {
                        outcome.save_error = Some(e.to_string());
                        stop = true;
                    }
                }
                for w in result.warnings {
                    shared.progress.note(&format!("warning: {address}: {w}"));
                    outcome.warnings.push((address.clone(), w));
                }
                match result.error {
                    None => {
                        shared.progress.finish(&address, true, &result.outcome);
                        status.insert(address.clone(), Status::Done);
                        outcome.done.push((address, result.outcome));
                    }
                    Some(e) => {
                        shared.progress.finish(&address, false, &format!("failed: {e}"));
                        status.insert(address.clone(), Status::Failed);
                        outcome.failed.push((address, e));
                    }
                }
            }
            _ = &mut ctrl_c, if !stop => {
                stop = true;
                outcome.interrupted = true;
                shared.progress.note(&format!("Interrupt received: starting nothing new; waiting for {} running step(s): {}", running.len(), running_names.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    outcome.not_started = pending.iter().map(|c| c.address.clone()).collect();
    outcome
}
