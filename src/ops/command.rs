//! The day-2 commands as library calls. Each takes the loaded workspace,
//! connects to the engine when it needs one, takes the state lock and saves
//! when it writes, audits what must be audited, and returns what the
//! command line renders. The command line adds nothing but parsing and
//! output.

use super::backup::{self, OpContext};
use super::error::OpsError;
use super::resource::{self, Deleted, ResourceRow};
use super::schedule_run::{self, ScheduleSummary};
use super::variable::{self, Scope, VariableError};
use super::verify::Verified;
use super::{audit, clock, copies, output};
use crate::apply::naming;
use crate::apply::progress::Progress;
use crate::apply::steps::Shared;
use crate::docker::Docker;
use crate::state::secrets::SecretKey;
use crate::state::store::LockGuard;
use crate::state::BackupRecord;
use crate::workspace::Workspace;
use serde::Serialize;

type Result<T, E = OpsError> = std::result::Result<T, E>;

/// `resource list`.
pub async fn list(ws: &Workspace) -> Result<Vec<ResourceRow>> {
    let docker = ws.connect().await?;
    resource::list(&docker, ws.name(), &ws.env, &ws.state).await
}

/// `resource inspect`: the applied record, the live container, outputs
/// (sensitive ones masked) and how many backups exist.
pub async fn inspect(ws: &Workspace, name: &str) -> Result<serde_json::Value> {
    let r = resource::record(&ws.state, name)?.clone();
    let (p, env) = (ws.name(), ws.env.as_str());
    let docker = ws.connect().await?;
    let info = docker
        .inspect_container(&naming::container(p, env, name))
        .await?;
    let outputs =
        output::list(p, env, &ws.state, name, SecretKey::load()?.as_ref()).unwrap_or_default();
    let backups = ws
        .state
        .backups
        .iter()
        .filter(|b| b.resource == name)
        .count();
    let mut out = serde_json::json!({
        "name": name,
        "host": naming::resource_host(p, env, name),
        "container": info.as_ref().map(|c| serde_json::json!({"name": c.name, "id": c.id, "status": c.status, "running": c.running, "image": c.image})),
        "definition": r.applied.definition,
        "volumes": r.volumes,
        "origin": r.origin,
        "appliedAt": r.applied.applied_at,
        "outputs": outputs,
        "backups": backups,
    });
    // On a swarm: the node its volumes are on.
    if let Some(node) = &r.node {
        out["node"] = serde_json::json!(node);
    }
    Ok(out)
}

/// `resource logs`: each line to `on_line`.
pub async fn logs(
    ws: &Workspace,
    name: &str,
    tail: Option<usize>,
    follow: bool,
    on_line: impl FnMut(&str),
) -> Result<()> {
    resource::record(&ws.state, name)?;
    let docker = ws.connect().await?;
    let container = naming::container(ws.name(), &ws.env, name);
    Ok(docker.logs(&container, tail, follow, on_line).await?)
}

/// `resource stop`.
pub async fn stop(ws: &Workspace, name: &str) -> Result<()> {
    let docker = ws.connect().await?;
    resource::stop(&docker, ws.name(), &ws.env, &ws.state, name).await
}

/// `resource start`.
pub async fn start(ws: &Workspace, name: &str) -> Result<()> {
    let docker = ws.connect().await?;
    resource::start(&docker, ws.name(), &ws.env, &ws.state, name).await
}

/// `resource delete [--delete-data]`, under the state lock.
pub async fn delete(ws: &mut Workspace, name: &str, delete_data: bool) -> Result<Deleted> {
    let _lock = ws.target.store.lock("resource delete")?;
    let docker = ws.connect().await?;
    let p = ws.name().to_string();
    let report = resource::delete(&docker, &p, &ws.env, &mut ws.state, name, delete_data).await?;
    ws.target.store.save(&mut ws.state)?;
    Ok(report)
}

/// `resource output list`: sensitive outputs masked.
pub fn outputs(ws: &Workspace, resource: &str) -> Result<Vec<output::OutputRow>> {
    output::list(
        ws.name(),
        &ws.env,
        &ws.state,
        resource,
        SecretKey::load()?.as_ref(),
    )
}

/// `resource output show` without `--reveal`: a sensitive output masked.
pub fn show_output(ws: &Workspace, resource: &str, name: &str) -> Result<output::OutputRow> {
    let key = SecretKey::load()?;
    output::show(
        ws.name(),
        &ws.env,
        &ws.state,
        resource,
        name,
        false,
        key.as_ref(),
    )
}

/// `resource output show --reveal`: the plaintext, and for a sensitive
/// output an audit event (who, when, what; never the value) appended before
/// the value is returned. No caller can reveal without the audit.
pub fn reveal(
    ws: &Workspace,
    actor: &str,
    resource: &str,
    name: &str,
) -> Result<output::OutputRow> {
    let key = SecretKey::require()?;
    let row = output::show(
        ws.name(),
        &ws.env,
        &ws.state,
        resource,
        name,
        true,
        Some(&key),
    )?;
    if row.sensitive {
        let event = audit::AuditEvent::output_reveal(
            clock::now()?,
            actor,
            &ws.env,
            ws.name(),
            resource,
            name,
        );
        audit::append(&audit::audit_path(&ws.target.store.path), &event)?;
    }
    Ok(row)
}

/// What `resource backup export` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Exported {
    pub backup: String,
    pub resource: String,
    pub to: std::path::PathBuf,
    /// Each file (relative path) and its plaintext length.
    pub files: std::collections::BTreeMap<String, u64>,
}

/// `resource backup export`: a backup's artifacts, decrypted (or copied
/// when plaintext), into `to` (new or empty; files mode 0600). The audit
/// event is on disk before the first plaintext byte is written.
pub fn backup_export(
    ws: &Workspace,
    actor: &str,
    id: &str,
    to: &std::path::Path,
) -> Result<Exported> {
    let record = backup::find(&ws.state, id)?;
    let dir = backup::usable(record)?;
    let key = SecretKey::load_of(crate::state::secrets::BACKUP)?;
    backup::opens(key.as_ref(), record, &dir)?;
    let event = audit::AuditEvent::backup_export(
        clock::now()?,
        actor,
        (&ws.env, ws.name()),
        &record.resource,
        id,
    );
    audit::append(&audit::audit_path(&ws.target.store.path), &event)?;
    let files = super::artifacts::export(key.as_ref(), id, &dir, to).map_err(|source| {
        OpsError::Export {
            to: to.to_path_buf(),
            source,
        }
    })?;
    Ok(Exported {
        backup: id.into(),
        resource: record.resource.clone(),
        to: to.to_path_buf(),
        files,
    })
}

/// What a backup operation runs under and with: the state lock (named
/// after the command), the secret key, the engine.
async fn operation(ws: &Workspace, command: &str) -> Result<(LockGuard, SecretKey, Docker)> {
    let lock = ws.target.store.lock(command)?;
    let key = SecretKey::require()?;
    let docker = ws.connect().await?;
    Ok((lock, key, docker))
}

/// `resource backup create`: runs the backup now, under the state lock.
pub async fn backup(ws: &mut Workspace, resource: &str) -> Result<BackupRecord> {
    backup::backup_root()?;
    let (_lock, key, docker) = operation(ws, "resource backup create").await?;
    let p = ws.name().to_string();
    let ocx = OpContext {
        docker: &docker,
        project: &p,
        env: &ws.env,
        key: &key,
        backup_key: Some(SecretKey::load_or_create_of(crate::state::secrets::BACKUP)?),
    };
    let now = clock::now()?;
    let record = backup::create(
        &ocx,
        &ws.project.compartment.resources,
        &ws.target.store,
        &mut ws.state,
        resource,
        "manual",
        now,
    )
    .await?;
    let targets = copies::targets(&ws.project.compartment, &ws.env);
    copies::copy(
        &targets,
        &ws.target.store,
        &mut ws.state,
        &p,
        &record.id,
        false,
        now,
    )
    .await?;
    Ok(backup::find(&ws.state, &record.id)?.clone())
}

/// The error a command ends with when a backup it took was not copied to
/// every target (the backup itself is kept and recorded).
pub fn copy_failure(record: &BackupRecord) -> Option<OpsError> {
    let failed: Vec<&crate::state::BackupCopy> = record
        .copies
        .iter()
        .filter(|c| c.status == copies::FAILED)
        .collect();
    if failed.is_empty() {
        return None;
    }
    Some(OpsError::CopyFailed {
        id: record.id.clone(),
        failed: failed
            .iter()
            .map(|c| format!("`{}`", c.target))
            .collect::<Vec<_>>()
            .join(", "),
        errors: failed
            .iter()
            .filter_map(|c| c.error.as_deref())
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// `resource backup list`.
#[derive(Debug, Serialize)]
pub struct BackupListing {
    pub backups: Vec<BackupRecord>,
    pub schedules: Vec<ScheduleSummary>,
}

pub fn backups(ws: &Workspace, resource: Option<&str>) -> BackupListing {
    BackupListing {
        backups: ws
            .state
            .backups
            .iter()
            .filter(|b| resource.is_none_or(|r| b.resource == r))
            .cloned()
            .collect(),
        schedules: schedule_run::summaries(&ws.project.compartment.resources, &ws.state, resource),
    }
}

/// `resource backup show`.
pub fn backup_record<'w>(ws: &'w Workspace, id: &str) -> Result<&'w BackupRecord> {
    backup::find(&ws.state, id)
}

/// Where a restore goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreTarget {
    /// Into the resource that made the backup, replacing its data.
    InPlace(String),
    /// Into a new resource of this name.
    As(String),
}

impl RestoreTarget {
    /// The rules of `--resource R --yes` and `--as NEW`.
    pub fn from_args(resource: Option<String>, as_name: Option<String>, yes: bool) -> Result<Self> {
        match (resource, as_name) {
            (Some(_), Some(_)) => Err(OpsError::RestoreBothTargets),
            (None, None) => Err(OpsError::RestoreNoTarget),
            (Some(r), None) if !yes => Err(OpsError::RestoreUnconfirmed { resource: r }),
            (Some(r), None) => Ok(RestoreTarget::InPlace(r)),
            (None, Some(n)) => Ok(RestoreTarget::As(n)),
        }
    }
}

/// What a restore did.
#[derive(Debug, Serialize)]
#[serde(
    tag = "restore",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Restored {
    /// In place; the data before it is in this pre-restore backup.
    InPlace {
        resource: String,
        pre_restore: String,
    },
    /// Into a new resource reachable at `host`.
    As { resource: String, host: String },
}

/// `resource backup restore`, under the state lock.
pub async fn restore(
    ws: Workspace,
    id: &str,
    target: RestoreTarget,
    from: Option<&str>,
    progress: Progress,
) -> Result<Restored> {
    backup::backup_root()?;
    let _lock = ws.target.store.lock("resource backup restore")?;
    let key = SecretKey::require()?;
    let docker = ws.connect().await?;
    let Workspace {
        project,
        env,
        target: place,
        mut state,
        ..
    } = ws;
    let p = project.compartment.name.clone();
    let services = project.compartment.services.clone();
    let resources = project.compartment.resources.clone();
    let targets = copies::targets(&project.compartment, &env);
    let shared = Shared::new(docker, project, env.clone(), key, progress);
    match target {
        RestoreTarget::InPlace(r) => {
            let now = clock::now()?;
            let pre =
                backup::restore_in_place(&shared, &place.store, &mut state, &r, id, from, now)
                    .await?;
            // The pre-restore backup is a backup like any other: copied
            // (a failure is recorded on it, and `backup run-due` retries).
            copies::copy(&targets, &place.store, &mut state, &p, &pre.id, false, now).await?;
            Ok(Restored::InPlace {
                resource: r,
                pre_restore: pre.id,
            })
        }
        RestoreTarget::As(new) => {
            backup::restore_as(
                &shared,
                &place.store,
                &mut state,
                &services,
                &resources,
                id,
                from,
                &new,
            )
            .await?;
            Ok(Restored::As {
                host: naming::resource_host(&p, &env, &new),
                resource: new,
            })
        }
    }
}

/// What `variable set` stored, as the command line reports it.
#[derive(Debug, Serialize)]
pub struct SetVariable {
    // Fields in alphabetical order: the JSON output sorts its keys.
    pub key: String,
    /// value | binding
    pub kind: &'static str,
    pub scope: &'static str,
    pub sensitive: bool,
    pub target: String,
    /// The plaintext of a non-sensitive value, a mask, or `← resource.output`.
    pub value: String,
}

/// What `variable set` is asked to store.
pub enum NewValue {
    Value {
        value: String,
        sensitive: bool,
    },
    /// `--from-resource RESOURCE.OUTPUT`.
    Binding(String),
}

/// `variable set`, under the state lock.
pub fn set_variable(
    ws: &mut Workspace,
    resource: Option<String>,
    service: Option<String>,
    key: &str,
    new: NewValue,
) -> Result<SetVariable> {
    let _lock = ws.target.store.lock("variable set")?;
    let set = match new {
        NewValue::Binding(from) => {
            let service = service.ok_or(VariableError::BindingNeedsService)?;
            variable::bind(&ws.project, &mut ws.state, &service, key, &from)?;
            SetVariable {
                scope: "service",
                target: service,
                key: key.into(),
                kind: "binding",
                sensitive: false,
                value: format!("← {from}"),
            }
        }
        NewValue::Value { value, sensitive } => {
            let scope = Scope::from_args(resource, service)?;
            let secret = if sensitive {
                let key = SecretKey::load_or_create()?;
                ws.state.bind_key(&key)?;
                Some(key)
            } else {
                None
            };
            variable::set(
                &ws.project,
                &mut ws.state,
                &scope,
                key,
                &value,
                sensitive,
                secret.as_ref(),
            )?;
            let (scope, target) = match scope {
                Scope::Resource(r) => ("resource", r),
                Scope::Service(s) => ("service", s),
            };
            SetVariable {
                scope,
                target,
                key: key.into(),
                kind: "value",
                sensitive,
                value: if sensitive {
                    "(sensitive)".into()
                } else {
                    value
                },
            }
        }
    };
    ws.target.store.save(&mut ws.state)?;
    Ok(set)
}

/// `variable remove`, under the state lock: what was removed (`variable`
/// or `binding`).
pub fn remove_variable(
    ws: &mut Workspace,
    resource: Option<String>,
    service: Option<String>,
    key: &str,
) -> Result<&'static str> {
    let _lock = ws.target.store.lock("variable remove")?;
    let scope = Scope::from_args(resource, service)?;
    let what = variable::remove(&mut ws.state, &scope, key)?;
    ws.target.store.save(&mut ws.state)?;
    Ok(what)
}

/// `variable list`.
pub fn variables(
    ws: &Workspace,
    resource: Option<String>,
    service: Option<String>,
) -> Result<Vec<variable::VariableRow>> {
    let scope = match (resource, service) {
        (None, None) => None,
        (r, s) => Some(Scope::from_args(r, s)?),
    };
    Ok(variable::list(&ws.state, scope.as_ref()))
}

/// `backup run-due` once: every due scheduled backup (verified when its
/// schedule says `verify: true`), then retention, under the state lock.
pub async fn run_due(ws: &mut Workspace) -> Result<schedule_run::Report> {
    backup::backup_root()?;
    let now = clock::now()?;
    let (_lock, key, docker) = operation(ws, "backup run-due").await?;
    let shared = Shared::new(
        docker,
        ws.project.clone(),
        ws.env.clone(),
        key,
        Progress::silent(),
    );
    schedule_run::run_due(&shared, &ws.target.store, &mut ws.state, now).await
}

/// `resource backup verify`, under the state lock: the backup restored
/// into a scratch resource and checked; the outcome recorded on it.
pub async fn verify(
    ws: Workspace,
    id: &str,
    from: Option<&str>,
    progress: Progress,
) -> Result<Verified> {
    backup::backup_root()?;
    let now = clock::now()?;
    let (_lock, key, docker) = operation(&ws, "resource backup verify").await?;
    let Workspace {
        project,
        env,
        target: place,
        mut state,
        ..
    } = ws;
    let shared = Shared::new(docker, project, env, key, progress);
    super::verify::verify(&shared, &place.store, &mut state, id, from, now).await
}
