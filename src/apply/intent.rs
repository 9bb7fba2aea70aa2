//! Durable intent: before any Docker object of a resource create exists,
//! its generated variables are sealed and what it will create (container,
//! volumes) is recorded in the state as `creating`, saved in the same write
//! as the environment's network. A crash, `kill -9` or failed step at any
//! later point leaves a state that knows what it started, so the next apply
//! adopts those objects with the credentials they were made with.
//!
//! The other half: a resource the state knows nothing of (no record, no
//! intent, no kept volumes) whose container or volumes already exist on the
//! engine is refused before anything changes. Re-creating it would start a
//! container with newly generated credentials on a volume initialised with
//! the lost ones (a PostgreSQL data directory ignores the new password), so
//! the operator adopts it with `import` or removes it knowingly.

use super::env::{generate_token, variable_identity};
use super::error::ApplyError;
use super::naming;
use crate::descriptor::model::ResourceDef;
use crate::docker::{labels, Docker};
use crate::plan::{Action, Change, Kind};
use crate::project::Project;
use crate::state::secrets::SecretKey;
use crate::state::{CreateIntent, State, Variable};
use crate::support::time::now_rfc3339;
use std::collections::{BTreeMap, BTreeSet};

/// A resource create the state has no claim on whose objects exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecorded {
    pub address: String,
    /// The existing container, when there is one.
    pub container: Option<String>,
    /// Existing volumes it would mount.
    pub volumes: Vec<String>,
}

impl std::fmt::Display for Unrecorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = &self.container {
            parts.push(format!("container `{c}`"));
        }
        if !self.volumes.is_empty() {
            let names: Vec<String> = self.volumes.iter().map(|v| format!("`{v}`")).collect();
            parts.push(format!("volume(s) {}", names.join(", ")));
        }
        write!(f, "{}: {}", self.address, parts.join(" and "))
    }
}

/// The resources a plan creates.
fn creates<'a>(changes: &'a [Change]) -> impl Iterator<Item = &'a str> + 'a {
    changes
        .iter()
        .filter(|c| c.kind == Kind::Resource && c.action == Action::Create)
        .map(|c| c.name.as_str())
}

/// Whether the state may take over `name`'s existing objects: it records
/// the resource, an earlier apply's intent for it, volumes a destroy or
/// `resource delete` kept, or the generated variables its data was made
/// with.
fn claimed(state: &State, name: &str) -> bool {
    state.resources.contains_key(name)
        || state.creating.contains_key(name)
        || state.kept_volumes.contains_key(name)
        || state
            .variables
            .resource
            .get(name)
            .is_some_and(|vars| vars.values().any(|v| v.generated))
}

/// The Docker volume of each of `def`'s volume handles: the one the state
/// recorded (kept by a destroy, imported, moved) or compartment's own name.
pub fn volume_names(
    state: &State,
    project: &str,
    env: &str,
    name: &str,
    def: &ResourceDef,
) -> BTreeMap<String, String> {
    let recorded = state
        .resources
        .get(name)
        .map(|r| &r.volumes)
        .or_else(|| state.kept_volumes.get(name));
    def.volumes
        .keys()
        .map(|handle| {
            let v = recorded
                .and_then(|r| r.get(handle).cloned())
                .unwrap_or_else(|| naming::volume(project, env, name, handle));
            (handle.clone(), v)
        })
        .collect()
}

/// Refuses, before anything changes, every resource the plan creates that
/// the state has no claim on while its container or volumes exist. Two
/// engine calls (containers and volumes by the project's labels).
pub async fn refuse_unrecorded(
    docker: &Docker,
    changes: &[Change],
    project: &Project,
    env: &str,
    state: &State,
) -> Result<(), ApplyError> {
    let p = project.compartment.name.as_str();
    let unclaimed: Vec<&str> = creates(changes).filter(|n| !claimed(state, n)).collect();
    if unclaimed.is_empty() {
        return Ok(());
    }
    let filters = [(labels::PROJECT, p), (labels::ENVIRONMENT, env)];
    let containers: BTreeSet<String> = docker
        .list_containers(&filters)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let volumes: BTreeSet<String> = docker.list_volumes(&filters).await?.into_iter().collect();
    let mut found = Vec::new();
    for name in unclaimed {
        let Some(def) = project.compartment.resources.get(name) else {
            continue;
        };
        let cname = naming::container(p, env, name);
        let existing = Unrecorded {
            address: format!("resource.{name}"),
            container: containers.contains(&cname).then_some(cname),
            volumes: volume_names(state, p, env, name, def)
                .into_values()
                .filter(|v| volumes.contains(v))
                .collect(),
        };
        if existing.container.is_some() || !existing.volumes.is_empty() {
            found.push(existing);
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Unrecorded { objects: found })
    }
}

/// Seals the generated variables of `name` that do not exist yet into
/// `vars`; returns whether any was made.
pub fn generate(
    key: &SecretKey,
    project: &str,
    env: &str,
    name: &str,
    def: &ResourceDef,
    vars: &mut BTreeMap<String, Variable>,
) -> bool {
    let mut made = false;
    for (k, g) in &def.generated_variables {
        if vars.contains_key(k) {
            continue;
        }
        let value = generate_token(g.bytes, &g.encoding);
        let identity = variable_identity(project, env, "resource", name, k);
        vars.insert(
            k.clone(),
            Variable {
                sensitive: true,
                generated: true,
                value: None,
                sealed: Some(key.seal(&identity, &value)),
            },
        );
        made = true;
    }
    made
}

/// Records, for every resource the plan creates, its sealed generated
/// variables and its intent. Returns whether the state changed (the caller
/// saves it before any node runs).
pub fn record(
    changes: &[Change],
    project: &Project,
    env: &str,
    key: &SecretKey,
    state: &mut State,
) -> bool {
    let p = project.compartment.name.as_str();
    let mut changed = false;
    for name in creates(changes) {
        let Some(def) = project.compartment.resources.get(name) else {
            continue;
        };
        if !def.generated_variables.is_empty() {
            let vars = state
                .variables
                .resource
                .entry(name.to_string())
                .or_default();
            changed |= generate(key, p, env, name, def, vars);
        }
        let intent = CreateIntent {
            started_at: now_rfc3339(),
            container: naming::container(p, env, name),
            volumes: volume_names(state, p, env, name, def),
        };
        let same = state
            .creating
            .get(name)
            .is_some_and(|old| old.container == intent.container && old.volumes == intent.volumes);
        if !same {
            state.creating.insert(name.to_string(), intent);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_container_and_the_volumes() {
        let u = Unrecorded {
            address: "resource.db".into(),
            container: Some("p-e-db".into()),
            volumes: vec!["p-e-db-data".into(), "p-e-db-wal".into()],
        };
        assert_eq!(
            u.to_string(),
            "resource.db: container `p-e-db` and volume(s) `p-e-db-data`, `p-e-db-wal`"
        );
        let v = Unrecorded {
            container: None,
            volumes: vec!["v".into()],
            ..u
        };
        assert_eq!(v.to_string(), "resource.db: volume(s) `v`");
    }

    #[test]
    fn a_state_claims_what_it_records_intends_or_kept() {
        let mut st = State::default();
        assert!(!claimed(&st, "db"));
        st.creating.insert(
            "db".into(),
            CreateIntent {
                started_at: "t".into(),
                container: "c".into(),
                volumes: BTreeMap::new(),
            },
        );
        assert!(claimed(&st, "db"));
        st.kept_volumes
            .insert("cache".into(), BTreeMap::from([("d".into(), "v".into())]));
        assert!(claimed(&st, "cache"));
        assert!(!claimed(&st, "other"));
    }
}
