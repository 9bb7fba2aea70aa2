//! The state: what was applied to one project and environment. The model
//! here is plain data; `format` reads and writes its versioned JSON file,
//! `store` makes writes atomic and locked, `secrets` seals sensitive values.

pub mod format;
pub mod secrets;
pub mod store;

use crate::descriptor::model::{ResourceDef, ServiceDef};
use secrets::Sealed;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The state of one project and environment (format version 1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    pub project: String,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkState>,
    /// HS256 secret signing lifecycle-hook JWTs, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_secret: Option<Sealed>,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceState>,
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceState>,
    #[serde(default)]
    pub variables: Variables,
    /// Service → variable → resource output (CLI bindings).
    #[serde(default)]
    pub bindings: BTreeMap<String, BTreeMap<String, Binding>>,
    #[serde(default)]
    pub backups: Vec<BackupRecord>,
    /// Resource → schedule bookkeeping.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleState>,
}

pub const CURRENT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkState {
    pub name: String,
    #[serde(default)]
    pub id: String,
}

/// Where a resource came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    #[default]
    Descriptor,
    /// Created by `resource backup restore --as`: outside compartment.yml.
    Restore,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    pub definition: ResourceDef,
    pub definition_hash: String,
    #[serde(default)]
    pub container_name: String,
    #[serde(default)]
    pub container_id: String,
    /// Volume handle → Docker volume name.
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
    /// Direct dependencies only (addresses).
    #[serde(default)]
    pub depends_on: BTreeSet<String>,
    #[serde(default)]
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// Digest of the runtime variables the container was started with
    /// ([`variables_digest`]); a different digest now means an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_variables: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    pub definition: ServiceDef,
    pub definition_hash: String,
    /// sha256 of the build context the image was built from.
    #[serde(default)]
    pub context_hash: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub container_name: String,
    #[serde(default)]
    pub container_id: String,
    #[serde(default)]
    pub depends_on: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// Digest of the runtime variables and bindings the container was
    /// started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_variables: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceState {
    /// `<owner>/<key>`.
    #[serde(rename = "type")]
    pub type_id: String,
    pub values: Map<String, Value>,
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub depends_on: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive_inputs: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_hook: Option<HookResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResult {
    pub operation: String,
    pub method: String,
    pub url: String,
    /// HTTP status, when an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: String,
}

/// Runtime variables by scope. Resources never inherit service or
/// environment variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variables {
    #[serde(default)]
    pub resource: BTreeMap<String, BTreeMap<String, Variable>>,
    #[serde(default)]
    pub service: BTreeMap<String, BTreeMap<String, Variable>>,
}

/// One runtime variable: plaintext only when not sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    pub sensitive: bool,
    /// Made by a `generatedVariables` generator (as opposed to `variable set`).
    #[serde(default)]
    pub generated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binding {
    pub resource: String,
    pub output: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    pub id: String,
    pub resource: String,
    /// manual | scheduled | pre-restore
    pub purpose: String,
    /// running | succeeded | failed | deleted
    pub status: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub artifact_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<ResourceDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_run: Option<String>,
    #[serde(default)]
    pub retention_cleaned: u64,
}

impl State {
    /// An empty state for a new lineage.
    pub fn new(project: &str, environment: &str) -> State {
        State {
            version: CURRENT_VERSION,
            lineage: new_lineage(),
            serial: 0,
            project: project.into(),
            environment: environment.into(),
            ..State::default()
        }
    }

    /// True for a state never written.
    pub fn is_new(&self) -> bool {
        self.serial == 0
    }
}

/// A random id in the shape of a UUID v4.
pub fn new_lineage() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A digest of one target's runtime variables (and bindings): keys with
/// their stored (sealed or plain) form, so a changed value changes it
/// without the planner needing the key.
pub fn variables_digest(
    scope: &BTreeMap<String, BTreeMap<String, Variable>>,
    target: &str,
    bindings: Option<&BTreeMap<String, Binding>>,
) -> String {
    let v = serde_json::json!({"variables": scope.get(target), "bindings": bindings});
    crate::support::digest::sha256_hex(v.to_string().as_bytes())[..16].to_string()
}

/// The sha256 of a serialisable definition (canonical: sorted keys).
pub fn definition_hash<T: Serialize>(def: &T) -> String {
    let v = serde_json::to_value(def).unwrap_or(Value::Null);
    crate::support::digest::sha256_hex(v.to_string().as_bytes())
}
