//! Verifying a backup: its artifacts are restored into a scratch resource
//! on the environment network (the definition captured with the backup, a
//! throw-away name and fresh volumes), the resource must be ready after the
//! restore, and the optional `operations.verify.command` runs against it.
//! The outcome is recorded on the backup (`verifiedAt`, `verifyStatus`,
//! `verifyError` with the failing command's last lines, redacted), and the
//! scratch container and its volumes are removed whatever happened. The
//! scratch resource never enters the state.

use super::backup::{self, OpContext};
use super::error::OpsError;
use crate::apply::env::variable_identity;
use crate::apply::naming;
use crate::apply::steps::{self, Shared};
use crate::descriptor::model::{Operations, ResourceDef};
use crate::plan::Action;
use crate::state::secrets::SecretKey;
use crate::state::store::StateStore;
use crate::state::{applied, BackupRecord, Origin, State, Variable};
use crate::support::time::format_time;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

type Result<T, E = OpsError> = std::result::Result<T, E>;

/// What a passed verification reports.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub record: BackupRecord,
    /// The scratch resource's name (removed again).
    pub scratch: String,
    /// The verify command's last lines, when there is one.
    pub output: Option<String>,
}

/// The throw-away name of the scratch resource for backup `id`.
pub fn scratch_name(id: &str) -> String {
    let random = id.strip_prefix(super::ids::BACKUP_ID_PREFIX).unwrap_or(id);
    let short: String = random
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(10)
        .collect();
    format!("verify-{}", short.to_ascii_lowercase())
}

/// The definition and operations a verification restores with: the
/// captured definition, with the operations in force for the resource
/// (compartment.yml's when it declares it), else the captured ones.
fn plan_for(
    declared: &BTreeMap<String, ResourceDef>,
    state: &State,
    record: &BackupRecord,
) -> Result<ResourceDef> {
    let mut def = record
        .definition
        .as_ref()
        .map(ResourceDef::from)
        .ok_or_else(|| OpsError::NoDefinition {
            id: record.id.clone(),
        })?;
    let captured: Option<Operations> = record
        .operation
        .clone()
        .and_then(|v| serde_json::from_value::<applied::Operations>(v).ok())
        .map(|o| Operations::from(&o));
    if let Some(ops) = backup::operations_in_force(declared, state, &record.resource).or(captured) {
        def.operations = ops;
    }
    Ok(def)
}

/// `resource backup verify`: restores backup `id` (read from target
/// `from`, when given) into a scratch resource, checks it, records the
/// outcome and removes the scratch resource.
pub async fn verify(
    shared: &Shared,
    store: &StateStore,
    state: &mut State,
    id: &str,
    from: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Verified> {
    let record = backup::find(state, id)?.clone();
    let artifacts = backup::artifacts(&record, from).await?;
    let dir = artifacts.dir();
    // A key that cannot open the artifacts is no fault of the backup: it
    // fails here, before anything is recorded.
    let key = SecretKey::load_of(crate::state::secrets::BACKUP)?;
    backup::opens(key.as_ref(), &record, dir)?;
    let def = plan_for(&shared.project.compartment.resources, state, &record)?;
    if def.operations.restore.is_none() {
        return Err(OpsError::NoRestoreCommand { id: id.into() });
    }
    let scratch = scratch_name(id);
    if crate::apply::prepare(
        &shared.docker,
        &shared.key,
        shared.project_name(),
        &shared.env,
        state,
    )
    .await?
    {
        store.save(state)?;
    }
    // A state of its own for the scratch resource, never saved.
    let mut scratch_state = State {
        environment: state.environment.clone(),
        ..State::default()
    };
    let outcome = check(
        shared,
        state,
        &mut scratch_state,
        &record,
        &def,
        &scratch,
        dir,
    )
    .await;
    let removed = remove_scratch(shared, &scratch_state, &def, &scratch).await;
    let finished = format_time(Utc::now().max(now));
    let rec = state
        .backups
        .iter_mut()
        .find(|b| b.id == id)
        .expect("found above");
    rec.verified_at = Some(finished);
    let result = match outcome {
        Ok(output) => {
            rec.verify_status = Some("passed".into());
            rec.verify_error = None;
            Ok(output)
        }
        Err(e) => {
            let reason = e.to_string();
            rec.verify_status = Some("failed".into());
            rec.verify_error = Some(reason.clone());
            Err(OpsError::VerifyFailed {
                id: id.into(),
                reason,
            })
        }
    };
    let record = rec.clone();
    store.save(state)?;
    removed?;
    result.map(|output| Verified {
        record,
        scratch,
        output,
    })
}

/// The scratch resource's lifetime: created, restored into, checked.
#[allow(clippy::too_many_arguments)]
async fn check(
    shared: &Shared,
    state: &State,
    scratch_state: &mut State,
    record: &BackupRecord,
    def: &ResourceDef,
    scratch: &str,
    dir: &std::path::Path,
) -> Result<Option<String>> {
    // The scratch resource gets the source resource's variables (its
    // generated password, so the restore's env matches the dump's).
    scratch_state.network = state.network.clone();
    if let Some(vars) = state.variables.resource.get(&record.resource) {
        let vars = reseal(shared, vars, &record.resource, scratch)?;
        scratch_state
            .variables
            .resource
            .insert(scratch.to_string(), vars);
    }
    let mut result = steps::converge_resource(
        shared,
        scratch_state,
        scratch,
        def.clone(),
        Action::Create,
        Origin::Restore,
    )
    .await;
    result.apply_to(scratch_state);
    result.outcome.map_err(|source| OpsError::CreateFailed {
        name: scratch.into(),
        source: Box::new(source),
    })?;
    let cx = OpContext {
        docker: &shared.docker,
        project: shared.project_name(),
        env: &shared.env,
        key: &shared.key,
        backup_key: SecretKey::load_of(crate::state::secrets::BACKUP)?,
    };
    let restore = def.operations.restore.as_ref().expect("checked by verify");
    backup::run_operation(
        &cx,
        scratch_state,
        scratch,
        def,
        restore,
        "restore",
        &record.id,
        dir,
        true,
    )
    .await?;
    let cname = naming::container(shared.project_name(), &shared.env, scratch);
    let ready = steps::readiness_probe(shared, &cname, def.readiness.as_ref(), None)
        .await
        .map_err(|source| OpsError::NotReadyAfterRestore {
            name: scratch.into(),
            source: Box::new(source),
        })?;
    if let Some(probe) = &ready {
        let address = format!("resource.{scratch}");
        steps::wait_ready(shared, &address, &cname, probe)
            .await
            .map_err(|source| OpsError::NotReadyAfterRestore {
                name: scratch.into(),
                source: Box::new(source),
            })?;
    }
    let Some(op) = &def.operations.verify else {
        return Ok(None);
    };
    shared
        .progress
        .note(&format!("resource.{scratch}: running the verify command"));
    let output = backup::run_operation(
        &cx,
        scratch_state,
        scratch,
        def,
        op,
        "verify",
        &record.id,
        dir,
        true,
    )
    .await?;
    Ok(Some(output))
}

/// The source resource's variables for the scratch resource: a sealed
/// value is bound to its resource, so each is opened and sealed again
/// under the scratch resource's name.
fn reseal(
    shared: &Shared,
    vars: &BTreeMap<String, Variable>,
    from: &str,
    to: &str,
) -> Result<BTreeMap<String, Variable>> {
    let (p, env) = (shared.project_name(), shared.env.as_str());
    let mut out = BTreeMap::new();
    for (k, v) in vars {
        let mut v = v.clone();
        if let Some(sealed) = &v.sealed {
            let plain = shared
                .key
                .open(&variable_identity(p, env, "resource", from, k), sealed)?;
            v.sealed = Some(
                shared
                    .key
                    .seal(&variable_identity(p, env, "resource", to, k), &plain),
            );
        }
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// Removes the scratch container and its volumes (each one even when
/// another fails; on a swarm, on the node it was placed on); the first
/// failure is returned.
async fn remove_scratch(
    shared: &Shared,
    scratch_state: &State,
    def: &ResourceDef,
    scratch: &str,
) -> Result<()> {
    let p = shared.project_name();
    let container = naming::container(p, &shared.env, scratch);
    let mut first = shared.docker.remove_container(&container, true).await.err();
    let recorded = scratch_state.resources.get(scratch);
    for handle in def.volumes.keys() {
        let v = naming::volume(p, &shared.env, scratch, handle);
        let of = (p, shared.env.as_str(), scratch);
        let removed = crate::apply::swarm::remove_resource_volume(&shared.docker, of, recorded, &v);
        if let Err(e) = removed.await {
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_valid_resource_names() {
        let id = super::super::ids::new_backup_id();
        let name = scratch_name(&id);
        assert!(crate::yaml::decode::valid_name(&name), "{name}");
        assert_eq!(name.len(), "verify-".len() + 10);
        assert_eq!(
            scratch_name("rbak_abcdefghijklmnopqrst"),
            "verify-abcdefghij"
        );
    }
}
