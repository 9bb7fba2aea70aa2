//! The planner: desired configuration + state (+ drift) → a plan. Pure and
//! fast: no I/O, no Docker. Decides create / update / replace / delete /
//! no-op per object, with field-level diffs, blockers, generated-variable
//! and connection notes, hooks, and a dependency order from `graph`.
//!
//! Update or replace:
//! - resource: a new `image` (or `preset`) replaces the container; any other
//!   change (env, command, ports, volumes added, readiness, restart, outputs,
//!   operations, a regenerated variable) is an update, which recreates the
//!   container only when its runtime configuration changed. Volumes are kept
//!   by both; a changed mount path of an existing volume handle is blocked.
//! - service: a changed build context or build env replaces (new image);
//!   runtime changes (connections, ingress) update.
//! - instance: a changed type replaces (delete hook of the old type, then
//!   create hook of the new one); changed values or properties update
//!   (update hook, when the type declares one).
//!
//! A replaced resource keeps its named volumes: only the container is
//! recreated. Removing a resource from compartment.yml never deletes it (a
//! blocker); removing a service deletes its container; removing an instance
//! deletes it (delete hook); an instance whose type vanished is orphaned:
//! kept, with a warning.
//!
//! One submodule per seam, each a pure function of the [`Input`]:
//! `resources`, `services` and `instances` draft the changes, blockers and
//! warnings of their kind; `order` puts the drafted changes in a valid
//! execution order.

mod definition;
mod drift;
pub mod inputs;
mod instances;
pub(crate) mod order;
mod resources;
mod services;
mod variables;

use super::*;
use crate::project::Project;
use crate::state::State;
use std::collections::BTreeSet;

/// What `plan --refresh` (and apply) learned from the engine.
#[derive(Clone, Debug, Default)]
pub struct Drift {
    /// Addresses whose container is gone.
    pub missing_containers: BTreeSet<String>,
    /// Address → what differs from the applied definition.
    pub changed_containers: BTreeMap<String, String>,
    /// Address → Docker volume names that are gone.
    pub missing_volumes: BTreeMap<String, Vec<String>>,
    /// Address → the engine's state of its container when not running
    /// (`exited`, `created`, `dead`).
    pub stopped_containers: BTreeMap<String, String>,
    /// The environment network the state records, when it is gone.
    pub missing_network: Option<String>,
    /// Address (from the container's labels) → a container of the project
    /// that the state does not record.
    pub unrecorded: BTreeMap<String, String>,
    /// Address → the `-next` container an interrupted replace left.
    pub leftovers: BTreeMap<String, String>,
}

pub struct Input<'a> {
    pub project: &'a Project,
    pub environment: &'a str,
    pub state: &'a State,
    /// The project-wide state of global instances.
    pub global: Option<&'a State>,
    pub drift: &'a Drift,
}

/// A plan that cannot be ordered: every cycle, each with all its members.
#[derive(Debug)]
pub struct CycleError(pub Vec<Vec<String>>);

impl std::error::Error for CycleError {}

impl std::fmt::Display for CycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cycles: Vec<String> = self.0.iter().map(|c| c.join(" → ")).collect();
        write!(f, "the dependency graph has a cycle: {}", cycles.join("; "))
    }
}

/// Leaves of `before` and `after` that differ, by dotted path. Arrays and
/// scalars are leaves.
pub fn diff_values(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(&p, b.get(k), a.get(k), out);
            }
        }
        (b, a) if b == a => {}
        (b, a) => out.push(FieldChange {
            path: path.to_string(),
            before: b.cloned(),
            after: a.cloned(),
            sensitive: false,
            forces_replacement: false,
            unchanged: false,
        }),
    }
}

/// What a masked value shows in a diff.
const MASK: &str = "(sensitive)";

/// What one seam of the planner finds: changes by address, blockers,
/// warnings, and the desired direct dependencies of each change.
#[derive(Debug, Default)]
struct Draft {
    changes: BTreeMap<String, Change>,
    blocked: Vec<Blocker>,
    warnings: Vec<Warning>,
    desired_deps: BTreeMap<String, Vec<String>>,
}

impl Draft {
    /// `other`'s entries win, as with `extend`.
    fn merge(&mut self, other: Draft) {
        merge_into(&mut self.changes, other.changes);
        self.blocked.extend(other.blocked);
        self.warnings.extend(other.warnings);
        merge_into(&mut self.desired_deps, other.desired_deps);
    }
}

/// `into` with `other`'s entries, which win. The smaller map's entries are
/// inserted into the larger one: `append` rebuilt the whole tree, moving
/// every 400-byte change twice, to add 2,000 resources and services to
/// 10,000 instances (2 % of planning them, docs/benchmarks.md).
fn merge_into<V>(into: &mut BTreeMap<String, V>, mut other: BTreeMap<String, V>) {
    if other.len() > into.len() {
        std::mem::swap(into, &mut other);
        // `other` now holds the entries that lose to those of `into`.
        for (k, v) in other {
            into.entry(k).or_insert(v);
        }
    } else {
        into.extend(other);
    }
}

/// A change of `action` with nothing else known yet.
pub fn new_change(address: &str, kind: Kind, name: &str, action: Action) -> Change {
    Change {
        address: address.into(),
        action,
        depends_on: Vec::new(),
        kind,
        name: name.into(),
        reason: None,
        diff: Vec::new(),
        generated: BTreeMap::new(),
        connections: Vec::new(),
        hooks: Vec::new(),
        global: false,
        volumes: BTreeMap::new(),
        role: None,
        release: None,
        prune_images: Vec::new(),
        container: None,
        node: None,
    }
}

pub fn plan(input: &Input) -> Result<Plan, CycleError> {
    // Instances on a second thread beside resources and services when
    // there are many (docs/benchmarks.md); merged in the same order.
    let (instances, mut draft) = if input.project.instances.len() >= PARALLEL_INSTANCES {
        crate::support::parallel::join(|| instances::draft(input), || resources_and_services(input))
    } else {
        (instances::draft(input), resources_and_services(input))
    };
    draft.merge(instances);
    drift::unrecorded(input, &mut draft);
    crate::support::phases::mark("plan: drafts");
    let Draft {
        changes,
        mut blocked,
        mut warnings,
        desired_deps,
    } = draft;
    // Out of their map before the definitions are added: the map and the
    // vector are both whole only while the one is built from the other
    // (the peak of planning 10,000 nodes, docs/benchmarks.md).
    let mut changes: Vec<Change> = changes.into_values().collect();
    definition::complete(input, &mut changes);
    crate::support::phases::mark("plan: definitions");
    let ordered = order::order(input, changes, &desired_deps)?;
    crate::support::phases::mark("plan: order");
    let summary = Summary::count(&ordered, blocked.len());
    blocked.sort_by(|a, b| (&a.address, &a.reason).cmp(&(&b.address, &b.reason)));
    warnings.sort_by(|a, b| (&a.address, &a.reason).cmp(&(&b.address, &b.reason)));
    Ok(Plan {
        format_version: FORMAT_VERSION,
        project: input.project.compartment.name.clone(),
        environment: input.environment.into(),
        prior_state: prior_state(input),
        inputs: input.project.inputs.clone(),
        changes: ordered,
        blocked,
        warnings,
        summary,
        mode: Mode::Apply,
        teardown: None,
        targets: Vec::new(),
        engine: None,
        orchestrator: None,
        registry: None,
    })
}

/// From this many instances, their drafts and definitions are made on a
/// second thread beside the rest.
pub(super) const PARALLEL_INSTANCES: usize = 256;

/// The drafts of the resources and services.
fn resources_and_services(input: &Input) -> Draft {
    let mut draft = resources::draft(input);
    draft.merge(services::draft(input));
    draft
}

/// What a plan is made against: the state's lineage and serials, and the
/// digests of its deployed parts (what decides staleness).
pub(crate) fn prior_state(input: &Input) -> PriorState {
    let st = input.state;
    PriorState {
        lineage: (!st.is_new()).then(|| st.lineage.clone()),
        serial: st.serial,
        global_serial: input.global.filter(|g| !g.is_new()).map(|g| g.serial),
        deployed: st.deployed_digests(),
        global_deployed: input
            .global
            .map(|g| {
                let mut d = g.deployed_digests();
                d.retain(|k, _| k == "instances");
                d
            })
            .unwrap_or_default(),
    }
}

/// The counts of each action, and of blockers.
pub(crate) fn summarise(ordered: &[Change], blocked: usize) -> Summary {
    Summary::count(ordered, blocked)
}

/// The reason of a diffed change: the first field forcing replacement, else
/// the first changed field, as `f(path)`.
fn first_reason(diff: &[FieldChange], describe: impl Fn(&str) -> String) -> Option<String> {
    diff.iter()
        .find(|f| f.forces_replacement)
        .or(diff.first())
        .map(|f| describe(&f.path))
}

/// Replace when a field forcing replacement changed, update when anything
/// else did, no-op otherwise.
fn action_of(diff: &[FieldChange]) -> Action {
    if diff.iter().any(|f| f.forces_replacement) {
        Action::Replace
    } else if diff.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    }
}

/// Drift turns a no-op into an update and is reported: see `drift`.
fn drift_action(ch: &mut Change, drift: &Drift, warnings: &mut Vec<Warning>) {
    drift::action(ch, drift, warnings)
}
