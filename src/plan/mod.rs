//! Plans: the model (this file), the planner that diffs the desired
//! configuration against the state (`planner`), renderers for people
//! (`render`), the plan-file format (`file`) and the conversions between
//! descriptor definitions and the state's applied records (`applied`),
//! and the planners of the other modes: `destroy` and `rollback`.

pub mod applied;
pub mod destroy;
pub mod file;
pub mod planner;
mod pretty;
pub mod render;
pub mod roles;
pub mod rollback;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const FORMAT_VERSION: u32 = 1;

/// The plan of `mode`: the one entry point for every kind of plan.
pub fn plan_for(input: &planner::Input, mode: &Mode) -> Result<Plan, planner::CycleError> {
    let mut plan = match mode {
        Mode::Apply => planner::plan(input)?,
        Mode::Destroy { delete_data } => destroy::plan(input, *delete_data)?,
        Mode::Rollback { services, to } => rollback::plan(input, services, to.as_deref())?,
    };
    roles::annotate(&mut plan, input);
    Ok(plan)
}

/// A `--target` address that is not in the plan.
#[derive(Debug, thiserror::Error)]
#[error("--target {target} is not in the plan; addresses look like resource.db, service.api, instance.downtown")]
pub struct UnknownTarget {
    pub target: String,
}

impl Plan {
    /// The plan scoped to `targets` (`--target`): each target with
    /// everything it depends on, its summary counted again, the targets
    /// recorded (a targeted plan file applies only its scope). Blockers stay:
    /// a blocked environment is not applied even in part.
    pub fn targeted(mut self, targets: &[String]) -> Result<Plan, UnknownTarget> {
        if targets.is_empty() {
            return Ok(self);
        }
        let g = self.graph();
        let mut scope = std::collections::BTreeSet::new();
        for t in targets {
            if !g.contains(t) {
                return Err(UnknownTarget { target: t.clone() });
            }
            scope.extend(g.with_dependencies(t));
        }
        self.changes.retain(|c| scope.contains(&c.address));
        self.warnings.retain(|w| scope.contains(&w.address));
        let mut targets = targets.to_vec();
        targets.sort();
        targets.dedup();
        self.targets = targets;
        self.summary = Summary::count(&self.changes, self.blocked.len());
        Ok(self)
    }

    /// The dependency graph of the plan's changes (the one conversion from a
    /// plan to a graph, for `--target` scoping and `compartment graph`).
    pub fn graph(&self) -> crate::graph::Graph {
        let mut g = crate::graph::Graph::new();
        for ch in &self.changes {
            g.add_node(&ch.address);
            for d in &ch.depends_on {
                g.add_dependency(&ch.address, d);
            }
        }
        g
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub project: String,
    pub environment: String,
    pub prior_state: PriorState,
    /// `sha256:<hex>` of every input file, by path relative to compartment.yml.
    pub inputs: BTreeMap<String, String>,
    /// In a valid execution order.
    pub changes: Vec<Change>,
    pub blocked: Vec<Blocker>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    pub summary: Summary,
    /// What kind of plan this is (an ordinary one is not written): apply
    /// re-plans a saved file in the same mode.
    #[serde(default, skip_serializing_if = "Mode::is_apply")]
    pub mode: Mode,
    /// A destroy plan: what goes after every node (network, built images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
    /// `--target` addresses the plan is scoped to (empty: the whole
    /// environment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The engine asked for (`--remote` or the environment's `remote`);
    /// absent when the docker CLI's default is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// `swarm` for an environment on a swarm (`environments.<env>.orchestrator`);
    /// absent for plain containers on one engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<String>,
    /// Where a swarm environment's built images are pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

impl Plan {
    /// Records what the environment runs on: its engine (`--remote` or the
    /// environment's `remote`), and its orchestrator and registry when it
    /// is a swarm.
    pub fn target(
        &mut self,
        engine: Option<&str>,
        declared: Option<&crate::descriptor::model::EnvironmentDef>,
    ) {
        self.engine = engine.map(str::to_string);
        let swarm =
            declared.filter(|e| e.orchestrator == crate::descriptor::model::Orchestrator::Swarm);
        self.orchestrator = swarm.map(|_| "swarm".to_string());
        self.registry = swarm.and_then(|e| e.registry.clone());
    }
}

/// The kind of plan asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Mode {
    /// The configuration against the state.
    #[default]
    Apply,
    /// Everything deployed in the environment removed (`plan --destroy`).
    Destroy {
        /// Named volumes are deleted too (`--delete-data`).
        #[serde(default)]
        delete_data: bool,
    },
    /// Services returned to a recorded release (`compartment rollback`).
    Rollback {
        /// The services asked for (empty: every service with a release).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        services: Vec<String>,
        /// `--to`: which release (`1` is the previous one; or an image tag
        /// or a prefix of its context hash); the previous one when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
}

impl Mode {
    pub fn is_apply(&self) -> bool {
        *self == Mode::Apply
    }
}

/// What a destroy removes once every node is gone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teardown {
    /// The environment's network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The service images built for the environment (kept when another
    /// container still uses one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// What a plan was made against. The serials are shown; staleness is
/// decided by `deployed` (and `global_deployed`): a digest per part of the
/// state that the plan depends on, so day-2 bookkeeping (backups,
/// schedules) that bumps the serial leaves a reviewed plan current.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriorState {
    pub lineage: Option<String>,
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_serial: Option<u64>,
    /// Part of the state (`resources`, `services`, `instances`,
    /// `variables`, `bindings`, `network`) → digest. Absent in plan files
    /// written before it was recorded (the serial decides for those).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployed: BTreeMap<String, String>,
    /// The same for the project-wide state of global instances.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub global_deployed: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Resource,
    Service,
    Instance,
}

/// Fields of `Change` and of the types in it are declared in the
/// alphabetical order of their JSON names: the plan's JSON has its keys
/// sorted, and `plan::file` serialises changes straight to the output
/// (a unit test there compares with the sorted rendering).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub address: String,
    /// `api.DATABASE_URL ← db.connection-url`, never resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<String>,
    /// A delete of a container the state does not record (drift): the
    /// container apply removes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Direct dependencies: addresses that must be done first.
    pub depends_on: Vec<String>,
    /// Field-level differences of the definition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldChange>,
    /// Generated variables: `generate`, `keep` or `regenerate`. Never a value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generated: BTreeMap<String, String>,
    /// Instances only: the global (project-wide) state holds it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub global: bool,
    /// Lifecycle hooks apply will fire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    pub kind: Kind,
    pub name: String,
    /// Resources with volumes on a swarm: the node they are pinned to (or
    /// how apply will choose it, for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Services only: images of earlier releases apply removes because the
    /// release this change records pushes them past the ones kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prune_images: Vec<String>,
    /// Why an update or replace happens (first changed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Services only, in a rollback plan: the recorded release the service
    /// returns to (its image is run as it is, never rebuilt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRef>,
    /// Instances only: the Platz role (`Owner`, `Maintainer`) the change
    /// needs, from its type's `allowed_role` (`roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A deleted resource's named volumes: Docker volume → `keep` or
    /// `delete` (only with `--delete-data`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
}

/// A recorded release of a service, as a rollback plan names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRef {
    /// When that release had been applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    pub context_hash: String,
    pub image: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// This field alone forces a replace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
    /// Dotted path inside the definition, e.g. `env.POSTGRES_DB`.
    pub path: String,
    /// The value is sensitive: before/after are masked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Not a change: a field a replace keeps, listed so that the plan holds
    /// its full definition (text and Markdown count these instead of
    /// listing them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub method: String,
    pub operation: String,
    pub path: String,
    pub service: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    pub address: String,
    pub reason: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub address: String,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    pub blocked: usize,
}

impl Summary {
    /// The counts of each action, and of blockers.
    pub fn count(changes: &[Change], blocked: usize) -> Summary {
        let mut summary = Summary {
            blocked,
            ..Summary::default()
        };
        for ch in changes {
            match ch.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
                Action::NoOp => summary.no_op += 1,
            }
        }
        summary
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn is_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }

    pub fn change(&self, address: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.address == address)
    }
}
