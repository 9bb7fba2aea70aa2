//! Applied records: what the state keeps of the resources and services that
//! `apply` ran, in the state file's own types. They mirror the descriptor's
//! model today but do not depend on it: a descriptor struct gaining or
//! renaming a field changes the state file only when this module changes
//! (and then with a new format version). Every field names its JSON key
//! explicitly. Conversions from and to the descriptor model live in the
//! layer that knows both (`plan::applied`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What resources and services share once applied: the configuration that
/// was applied, the digest of the container configuration it produced, the
/// container, direct dependencies, when, and with which runtime variables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied<D> {
    /// The applied configuration (after preset expansion).
    #[serde(rename = "definition")]
    pub definition: D,
    /// sha256 of the container configuration that was applied; the
    /// container carries the same value as its
    /// `io.compartment.definition-hash` label, so drift shows as a
    /// difference.
    #[serde(rename = "configDigest")]
    pub config_digest: String,
    #[serde(rename = "containerName", default)]
    pub container_name: String,
    #[serde(rename = "containerId", default)]
    pub container_id: String,
    /// Direct dependencies only (addresses).
    #[serde(rename = "dependsOn", default)]
    pub depends_on: BTreeSet<String>,
    #[serde(rename = "appliedAt", default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// Digest of the runtime variables (and, for a service, bindings) the
    /// container was started with ([`super::variables_digest`]); a different
    /// digest now means an update.
    #[serde(
        rename = "appliedVariables",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub applied_variables: Option<String>,
    /// Each runtime variable (and, for a service, binding) the container was
    /// started with, by key ([`super::variable_versions`]): what lets a plan
    /// name the key a `variable set` or `remove` changed. `None` in states
    /// written before compartment recorded it.
    #[serde(
        rename = "appliedVariableVersions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub variable_versions: Option<BTreeMap<String, VariableVersion>>,
}

/// One runtime variable as a container was started with it: never a
/// secret's value, only a version that changes when the value does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableVersion {
    /// 16 hex digits of the sha256 of its stored (sealed or plain) form,
    /// or `binding:<resource>.<output>` for a binding.
    #[serde(rename = "version")]
    pub version: String,
    #[serde(rename = "sensitive", default)]
    pub sensitive: bool,
    /// The value of a variable that is not sensitive (it is in the state
    /// already, as plain text).
    #[serde(rename = "value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// An applied resource configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    #[serde(rename = "preset", default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(rename = "image")]
    pub image: String,
    #[serde(rename = "command", default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(rename = "env", default)]
    pub env: BTreeMap<String, String>,
    #[serde(rename = "generatedVariables", default)]
    pub generated_variables: BTreeMap<String, GeneratedVariable>,
    #[serde(rename = "ports", default)]
    pub ports: Vec<u16>,
    #[serde(rename = "outputs", default)]
    pub outputs: BTreeMap<String, Output>,
    /// Volume handle → mount path.
    #[serde(rename = "volumes", default)]
    pub volumes: BTreeMap<String, String>,
    #[serde(rename = "readiness", default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Readiness>,
    #[serde(rename = "restart", default = "default_restart")]
    pub restart: String,
    #[serde(
        rename = "operations",
        default,
        skip_serializing_if = "Operations::is_empty"
    )]
    pub operations: Operations,
}

fn default_restart() -> String {
    "unless-stopped".to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedVariable {
    #[serde(rename = "generator")]
    pub generator: String,
    #[serde(rename = "bytes")]
    pub bytes: u32,
    #[serde(rename = "encoding")]
    pub encoding: String,
    #[serde(rename = "file", default, skip_serializing_if = "std::ops::Not::not")]
    pub file: bool,
}

/// An output template (never a resolved value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    #[serde(rename = "sensitive")]
    pub sensitive: bool,
    #[serde(rename = "value")]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "port", default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(rename = "path", default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(
        rename = "expectStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expect_status: Option<u16>,
    #[serde(rename = "command", default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(rename = "timeoutMs")]
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    #[serde(rename = "backup", default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupOperation>,
    #[serde(rename = "restore", default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Operation>,
    #[serde(rename = "verify", default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Operation>,
}

impl Operations {
    pub fn is_empty(&self) -> bool {
        self.backup.is_none() && self.restore.is_none() && self.verify.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    #[serde(rename = "command")]
    pub command: String,
    #[serde(rename = "image", default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(rename = "env", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupOperation {
    #[serde(flatten)]
    pub operation: Operation,
    #[serde(rename = "schedule", default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(rename = "retention", default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(
        rename = "verifyScheduled",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub verify_scheduled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    #[serde(rename = "interval")]
    Interval(String),
    #[serde(rename = "cron")]
    Cron(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(rename = "keepLast", default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(
        rename = "maxAgeDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age_days: Option<u32>,
    #[serde(rename = "includeManual", default)]
    pub include_manual: bool,
}

/// An applied service configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    #[serde(rename = "path")]
    pub path: String,
    #[serde(rename = "connections", default)]
    pub connections: BTreeMap<String, Connection>,
    #[serde(rename = "build", default, skip_serializing_if = "Build::is_empty")]
    pub build: Build,
    #[serde(rename = "ingress", default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,
    #[serde(rename = "readiness", default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Readiness>,
    #[serde(
        rename = "stopGracePeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_grace_period: Option<u32>,
    #[serde(rename = "replicas", default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(
        rename = "keepReleases",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_releases: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// Runtime variable name → output name of the connected resource.
    #[serde(rename = "env")]
    pub env: BTreeMap<String, String>,
}

/// Build-time environment: a literal value, or `None` for a runtime
/// variable selected by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    #[serde(rename = "env", default)]
    pub env: BTreeMap<String, Option<String>>,
}

impl Build {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    #[serde(rename = "port")]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const SCHEMA: &str = include_str!("../../state/state.schema.json");

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn schema_keys(def: &str) -> BTreeSet<String> {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        keys(&schema["$defs"][def]["properties"])
    }

    fn full_resource() -> ResourceConfig {
        let op = Operation {
            command: "c".into(),
            image: Some("i".into()),
            env: BTreeMap::from([("K".into(), "v".into())]),
        };
        ResourceConfig {
            preset: Some("postgres".into()),
            image: "img".into(),
            command: Some(vec!["x".into()]),
            env: BTreeMap::new(),
            generated_variables: BTreeMap::new(),
            ports: vec![1],
            outputs: BTreeMap::new(),
            volumes: BTreeMap::new(),
            readiness: Some(Readiness {
                kind: "http".into(),
                port: Some(1),
                path: Some("/health".into()),
                expect_status: Some(204),
                command: None,
                timeout_ms: 1,
            }),
            restart: "always".into(),
            operations: Operations {
                backup: Some(BackupOperation {
                    operation: op.clone(),
                    schedule: Some(Schedule::Cron("* * * * *".into())),
                    retention: Some(Retention::default()),
                    verify_scheduled: true,
                }),
                restore: Some(op.clone()),
                verify: Some(op),
            },
        }
    }

    /// The applied records and the JSON Schema name the same fields: the
    /// file changes shape only when this module (and the schema) does.
    #[test]
    fn records_and_schema_name_the_same_fields() {
        let resource = full_resource();
        let applied = Applied {
            definition: resource.clone(),
            config_digest: "0".repeat(64),
            container_name: "n".into(),
            container_id: "i".into(),
            depends_on: BTreeSet::new(),
            applied_at: Some("t".into()),
            applied_variables: Some("v".into()),
            variable_versions: Some(BTreeMap::new()),
        };
        let applied = serde_json::to_value(applied).unwrap();
        assert_eq!(keys(&applied), schema_keys("applied"));
        assert_eq!(
            keys(&applied["definition"]),
            schema_keys("resourceDefinition")
        );
        let service = ServiceConfig {
            path: "p".into(),
            connections: BTreeMap::new(),
            build: Build {
                env: BTreeMap::from([("B".into(), None)]),
            },
            ingress: Some(Ingress { port: 1 }),
            readiness: Some(Readiness {
                kind: "command".into(),
                port: None,
                path: None,
                expect_status: None,
                command: Some(vec!["true".into()]),
                timeout_ms: 1,
            }),
            stop_grace_period: Some(30),
            keep_releases: Some(5),
            replicas: None,
        };
        let service = serde_json::to_value(service).unwrap();
        assert_eq!(keys(&service), schema_keys("serviceDefinition"));
    }
}
