//! The desired configuration of compartment.yml, as plain data: what the
//! planner diffs, what the state stores as "applied", and what apply runs.
//! Serialised field names follow the descriptor's spelling.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A resource after preset expansion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub generated_variables: BTreeMap<String, GeneratedVariable>,
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputDef>,
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Readiness>,
    #[serde(default = "default_restart")]
    pub restart: String,
    #[serde(default, skip_serializing_if = "Operations::is_empty")]
    pub operations: Operations,
}

pub fn default_restart() -> String {
    "unless-stopped".to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedVariable {
    pub generator: String,
    pub bytes: u32,
    pub encoding: String,
    /// Delivered as the file `/run/secrets/<NAME>` (a swarm secret on a
    /// swarm), with `<NAME>_FILE` naming it, instead of in the environment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file: bool,
}

impl Default for GeneratedVariable {
    fn default() -> Self {
        GeneratedVariable {
            generator: "token".into(),
            bytes: 24,
            encoding: "hex".into(),
            file: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDef {
    pub sensitive: bool,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// `tcp`, `http`, `command` or `healthcheck` (the image's own
    /// `HEALTHCHECK`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The port a `tcp` or `http` probe connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The path an `http` probe requests (starts with `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The status an `http` probe expects (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// What a `command` probe runs in the container (exit 0 means ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub timeout_ms: u64,
}

impl Readiness {
    /// A TCP wait on `port`.
    pub fn tcp(port: u16, timeout_ms: u64) -> Readiness {
        Readiness {
            kind: "tcp".into(),
            port: Some(port),
            path: None,
            expect_status: None,
            command: None,
            timeout_ms,
        }
    }
}

pub const DEFAULT_READINESS_TIMEOUT_MS: u64 = 30_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Operation>,
    /// What `resource backup verify` runs against the scratch resource
    /// after the restore (optional: without it, a restore that exits 0 and
    /// a resource that stays ready pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Operation>,
}

impl Operations {
    pub fn is_empty(&self) -> bool {
        self.backup.is_none() && self.restore.is_none() && self.verify.is_none()
    }
}

/// A restore (or the command part of a backup) operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupOperation {
    #[serde(flatten)]
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// `schedule.verify: true`: each scheduled backup is verified after it
    /// is taken.
    #[serde(
        rename = "verifyScheduled",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub verify_scheduled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Schedule {
    Interval(String),
    Cron(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    #[serde(default)]
    pub include_manual: bool,
}

/// A service: built from the Dockerfile in `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDef {
    pub path: String,
    #[serde(default)]
    pub connections: BTreeMap<String, Connection>,
    #[serde(default, skip_serializing_if = "Build::is_empty")]
    pub build: Build,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,
    /// How apply knows a new container is ready (default: TCP on the
    /// ingress port, else the image's `HEALTHCHECK`, else started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Readiness>,
    /// Seconds between SIGTERM and SIGKILL when the old container of a
    /// replace (or any stop) is stopped; [`DEFAULT_STOP_GRACE_SECS`] when
    /// `None`.
    #[serde(
        rename = "stopGracePeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_grace_period: Option<u32>,
    /// How many earlier releases `rollback` can return to (their images
    /// kept); 3 when `None`.
    #[serde(
        rename = "keepReleases",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_releases: Option<u32>,
    /// How many tasks run the service on a swarm (1 when `None`); a plain
    /// engine runs one container, and the plan refuses more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// Docker's own default stop timeout.
pub const DEFAULT_STOP_GRACE_SECS: u32 = 10;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Runtime variable name → output name of the connected resource.
    pub env: BTreeMap<String, String>,
}

/// Build-time environment: a literal value, or `None` for a runtime variable
/// of the service selected by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    #[serde(default)]
    pub env: BTreeMap<String, Option<String>>,
}

impl Build {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingress {
    pub port: u16,
}

/// An instance as declared: `type: <service>/<key>` and its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceDecl {
    #[serde(rename = "type")]
    pub type_ref: String,
    #[serde(default)]
    pub values: crate::support::fields::Fields,
}

/// compartment.yml, decoded and expanded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compartment {
    pub name: String,
    pub services: BTreeMap<String, ServiceDef>,
    pub resources: BTreeMap<String, ResourceDef>,
    /// As declared; `project::load` moves them into the project's resolved
    /// instances (`Project::instances`), leaving this empty.
    pub instances: BTreeMap<String, InstanceDecl>,
    /// `environments:`: per environment, where its engine is.
    pub environments: BTreeMap<String, EnvironmentDef>,
    /// `removed:`: resources no longer declared that the plan deletes.
    pub removed: BTreeMap<String, RemovedDef>,
}

impl Compartment {
    /// Whether environment `env` runs on a swarm (`orchestrator: swarm`).
    pub fn on_swarm(&self, env: &str) -> bool {
        self.environments
            .get(env)
            .is_some_and(|e| e.orchestrator == Orchestrator::Swarm)
    }
}

/// One entry of `removed:`: the explicit, reviewed deletion of a resource
/// taken out of `resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedDef {
    /// Delete its named volumes too (default: they are kept).
    #[serde(default, rename = "deleteData")]
    pub delete_data: bool,
}

/// One entry of `environments:`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentDef {
    /// The engine (`unix://`, `tcp://`, `ssh://` or a Docker context name);
    /// `--remote` overrides it. On a swarm, a manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// What runs the environment: plain containers (`engine`, the default)
    /// or swarm services (`swarm`).
    #[serde(default, skip_serializing_if = "Orchestrator::is_engine")]
    pub orchestrator: Orchestrator,
    /// Where a swarm environment's built images are pushed:
    /// `host[:port][/prefix]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Where every backup of the environment is copied after it is taken:
    /// target name → place.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backups: BTreeMap<String, BackupTargetDef>,
}

/// What runs an environment's resources and services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orchestrator {
    /// Plain containers on one engine.
    #[default]
    Engine,
    /// Docker Swarm mode: services and tasks across the swarm's nodes.
    Swarm,
}

impl Orchestrator {
    pub fn is_engine(&self) -> bool {
        *self == Orchestrator::Engine
    }

    pub fn name(&self) -> &'static str {
        match self {
            Orchestrator::Engine => "engine",
            Orchestrator::Swarm => "swarm",
        }
    }
}

/// One backup target of an environment: its URL as written and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct BackupTargetDef {
    pub url: String,
    pub location: crate::storage::Location,
}

impl From<BackupTargetDef> for String {
    fn from(t: BackupTargetDef) -> String {
        t.url
    }
}

impl TryFrom<String> for BackupTargetDef {
    type Error = String;
    fn try_from(url: String) -> Result<Self, String> {
        let location = crate::storage::Location::parse(&url)?;
        Ok(BackupTargetDef { url, location })
    }
}

impl ResourceDef {
    /// The internal hostname of a resource.
    pub fn host(resource: &str, environment: &str, project: &str) -> String {
        format!("{resource}.{environment}.{project}.resource.internal")
    }
}
