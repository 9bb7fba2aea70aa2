//! The state: what was applied to one project and environment. The model
//! here is plain data; `format` reads and writes its versioned JSON file,
//! `store` makes writes atomic and locked, `secrets` seals sensitive values,
//! `applied` holds the applied records of resources and services. The state
//! depends on no other layer's model: its types are its file format.

pub mod applied;
pub mod format;
pub mod releases;
pub mod secrets;
pub mod store;

pub use applied::{Applied, ResourceConfig, ServiceConfig, VariableVersion};
use secrets::Sealed;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The state of one project and environment (format version 2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    pub project: String,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkState>,
    /// The engine the environment was applied to: commands connected to
    /// another are refused.
    #[serde(rename = "engine", default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineRecord>,
    /// The fingerprint of the key that sealed this state's values
    /// ([`secrets::SecretKey::fingerprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
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
    /// Resource → volume handle → Docker volume: the named volumes a
    /// destroy kept (`destroy --delete-data` deletes them later).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_volumes: BTreeMap<String, BTreeMap<String, String>>,
    /// Resource → what an apply started to create for it, saved (with its
    /// sealed generated variables) before any of its Docker objects
    /// existed; cleared when the resource is recorded. A crash leaves the
    /// intent, so the next apply adopts those objects instead of taking
    /// them over with new credentials.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub creating: BTreeMap<String, CreateIntent>,
}

/// A resource create that has started: the Docker objects it makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntent {
    /// When the apply that started it recorded the intent (RFC 3339).
    pub started_at: String,
    /// The container it creates.
    pub container: String,
    /// Volume handle → the Docker volume it creates or reuses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
}

pub const CURRENT_VERSION: u32 = 6;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// An applied resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    #[serde(rename = "applied")]
    pub applied: Applied<ResourceConfig>,
    /// Volume handle → Docker volume name.
    #[serde(rename = "volumes", default)]
    pub volumes: BTreeMap<String, String>,
    #[serde(rename = "origin", default)]
    pub origin: Origin,
    /// On a swarm, the node its volumes live on: its task is placed
    /// there only (recorded when it is first created).
    #[serde(rename = "node", default, skip_serializing_if = "Option::is_none")]
    pub node: Option<PinnedNode>,
}

/// The swarm node a resource is pinned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedNode {
    /// The node's ID (`docker node ls`).
    pub id: String,
    /// Its host name when it was pinned, for people.
    pub hostname: String,
}

/// An applied service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceState {
    #[serde(rename = "applied")]
    pub applied: Applied<ServiceConfig>,
    /// sha256 of the build context the image was built from.
    #[serde(rename = "contextHash", default)]
    pub context_hash: String,
    #[serde(rename = "image", default)]
    pub image: String,
    /// What every connection and binding of the service read when its
    /// container started (variable → [`ResolvedInput`]); `None` in states
    /// written before compartment recorded it.
    #[serde(rename = "inputs", default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<BTreeMap<String, ResolvedInput>>,
    /// The releases an apply replaced, newest first, at most
    /// [`KEEP_RELEASES`]: what `compartment rollback` returns to.
    #[serde(rename = "releases", default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<ServiceRelease>,
}

/// The engine an environment lives on, from `docker info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineRecord {
    /// The engine's ID (stable for the life of its data root).
    #[serde(rename = "id")]
    pub id: String,
    /// Its host name, for people.
    #[serde(rename = "name")]
    pub name: String,
    /// The address it was reached at when recorded.
    #[serde(rename = "address")]
    pub address: String,
}

/// How many earlier releases of a service (and their images) are kept.
pub const KEEP_RELEASES: usize = 3;

/// A release of a service that a later apply replaced: its image and the
/// definition it ran with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRelease {
    /// The image tag (`cmpt-<project>-<service>:<context hash>`).
    #[serde(rename = "image")]
    pub image: String,
    /// The engine's id of that image when it was replaced (`sha256:…`), so
    /// a tag that later names another image is noticed.
    #[serde(rename = "imageId", default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    #[serde(rename = "contextHash")]
    pub context_hash: String,
    #[serde(rename = "definition")]
    pub definition: ServiceConfig,
    /// When it had been applied.
    #[serde(rename = "appliedAt", default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// When an apply replaced it.
    #[serde(rename = "replacedAt")]
    pub replaced_at: String,
}

/// What one service variable, connected or bound to a resource output,
/// resolves from: the output, its template, the resource's host, the
/// literal `env` values it reads and, for each runtime (generated or set)
/// variable it reads, a version that changes when the value changes. Never
/// a value of a runtime variable: the version is a digest of its stored
/// (sealed) form, so plans need no key and reveal nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedInput {
    /// `<resource>.<output>`.
    #[serde(rename = "from")]
    pub from: String,
    #[serde(rename = "template")]
    pub template: String,
    #[serde(rename = "host")]
    pub host: String,
    #[serde(rename = "env", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Runtime variable → version ([`variable_version`]), or
    /// [`PENDING_VERSION`] for one that apply will generate.
    #[serde(
        rename = "variables",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub variables: BTreeMap<String, String>,
}

/// The version of a generated variable not generated yet.
pub const PENDING_VERSION: &str = "pending";

/// A version of a stored runtime variable: a digest of its stored form
/// (the sealed value for a secret), never of a plaintext secret.
pub fn variable_version(v: &Variable) -> String {
    short_digest(v)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Variables {
    #[serde(default)]
    pub resource: BTreeMap<String, BTreeMap<String, Variable>>,
    #[serde(default)]
    pub service: BTreeMap<String, BTreeMap<String, Variable>>,
}

/// One runtime variable: plaintext only when not sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub resource: String,
    pub output: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The applied configuration of the resource when the backup was made
    /// (what `restore --as` recreates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<ResourceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_reason: Option<String>,
    /// When `resource backup verify` last finished with this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// passed | failed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_status: Option<String>,
    /// Why the last verification failed: what failed and the command's
    /// last lines, redacted of sensitive values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_error: Option<String>,
    /// The fingerprint of the backup key its artifacts were encrypted
    /// with; `None` for plaintext artifacts (made before encryption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_with: Option<String>,
    /// sha256 of each artifact file (its path relative to the backup's
    /// directory → lowercase hex), taken when the backup finished: what
    /// every copy is checked against, on the way out and back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// The backup's copies on the environment's backup targets, one per
    /// target, by target name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<BackupCopy>,
}

/// A backup's copy on one backup target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct BackupCopy {
    /// The target's name in compartment.yml.
    pub target: String,
    /// The target's URL when the copy was made (where restore `--from` and
    /// retention find it, even after compartment.yml stops naming it).
    pub url: String,
    /// The backup's directory under the target: `<project>/<env>/<id>`.
    pub path: String,
    /// copied | failed | deleted
    pub status: String,
    /// When it was copied, failed or deleted.
    pub at: String,
    /// Why the copy (or its deletion) failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_run: Option<String>,
    #[serde(default)]
    pub retention_cleaned: u64,
}

impl State {
    /// The recorded engine's (ID, name), for `Docker::connect_checked`.
    pub fn engine_id(&self) -> Option<(&str, &str)> {
        self.engine
            .as_ref()
            .map(|e| (e.id.as_str(), e.name.as_str()))
    }

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

    /// Binds this state to `key` before anything is sealed with it: a state
    /// sealed under another key is refused; a state with no fingerprint yet
    /// records this key's.
    pub fn bind_key(&mut self, key: &secrets::SecretKey) -> Result<(), secrets::SecretError> {
        let found = key.fingerprint();
        match &self.key_fingerprint {
            Some(recorded) if *recorded != found => Err(secrets::SecretError::OtherKey {
                recorded: recorded.clone(),
                found,
            }),
            Some(_) => Ok(()),
            None => {
                self.key_fingerprint = Some(found);
                Ok(())
            }
        }
    }

    /// True for a state never written.
    pub fn is_new(&self) -> bool {
        self.serial == 0
    }
}

impl State {
    /// A digest of each part of the state that apply acts on (what a plan
    /// depends on): the applied resources, services and instances, the
    /// runtime variables, the bindings, and the network with the hook
    /// secret. Backup records and schedule bookkeeping are left out: day-2
    /// work that only adds to them changes no plan. Empty for a new state.
    pub fn deployed_digests(&self) -> BTreeMap<String, String> {
        if self.is_new() {
            return BTreeMap::new();
        }
        BTreeMap::from([
            ("resources".to_string(), short_digest(&self.resources)),
            ("services".to_string(), short_digest(&self.services)),
            ("instances".to_string(), short_digest(&self.instances)),
            ("variables".to_string(), short_digest(&self.variables)),
            ("bindings".to_string(), short_digest(&self.bindings)),
            (
                "network".to_string(),
                short_digest(&(&self.network, &self.hook_secret)),
            ),
        ])
    }
}

/// 16 hex digits of the sha256 of a value's canonical JSON.
fn short_digest<T: Serialize>(value: &T) -> String {
    json_digest(value)[..16].to_string()
}

/// A new lineage: a random UUID (version 4, RFC 9562 variant). Lineages
/// read from older files are kept as they are, whatever their shape.
pub fn new_lineage() -> String {
    uuid::Uuid::new_v4().to_string()
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

/// Each of a target's runtime variables and bindings by key, with a
/// version that changes when its stored form does (never a secret value).
pub fn variable_versions(
    scope: &BTreeMap<String, BTreeMap<String, Variable>>,
    target: &str,
    bindings: Option<&BTreeMap<String, Binding>>,
) -> BTreeMap<String, VariableVersion> {
    let mut out = BTreeMap::new();
    for (key, var) in scope.get(target).into_iter().flatten() {
        out.insert(
            key.clone(),
            VariableVersion {
                version: variable_version(var),
                sensitive: var.sensitive,
                value: var.value.clone().filter(|_| !var.sensitive),
            },
        );
    }
    for (key, b) in bindings.into_iter().flatten() {
        out.insert(
            key.clone(),
            VariableVersion {
                version: format!("binding:{}.{}", b.resource, b.output),
                sensitive: false,
                value: None,
            },
        );
    }
    out
}

/// `variables_digest` of a service, marked for a service that receives
/// hooks with the scheme of its hook secret (its own, derived per service):
/// a service started with the environment's shared secret by an older
/// version is restarted with its own by the next apply.
pub fn service_variables_digest(
    scope: &BTreeMap<String, BTreeMap<String, Variable>>,
    target: &str,
    bindings: Option<&BTreeMap<String, Binding>>,
    receives_hooks: bool,
) -> String {
    if !receives_hooks {
        return variables_digest(scope, target, bindings);
    }
    let v = serde_json::json!({"variables": scope.get(target), "bindings": bindings, "hookSecret": "per-service"});
    crate::support::digest::sha256_hex(v.to_string().as_bytes())[..16].to_string()
}

/// The sha256 of a serialisable value's canonical JSON (sorted keys).
pub fn json_digest<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    crate::support::digest::sha256_hex(v.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_lineage_is_a_version_4_uuid_of_the_rfc_variant() {
        let lineage = new_lineage();
        let id = uuid::Uuid::parse_str(&lineage).expect("a UUID");
        assert_eq!(id.get_version(), Some(uuid::Version::Random));
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        // The variant nibble (first of the fourth group) is 8, 9, a or b.
        let nibble = lineage.split('-').nth(3).unwrap().chars().next().unwrap();
        assert!("89ab".contains(nibble), "{lineage}");
        assert_ne!(new_lineage(), lineage);
    }
}
