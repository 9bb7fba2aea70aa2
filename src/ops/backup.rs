//! Backups and restores: each operation runs in a disposable container on
//! the resource network with the artifact directory
//! (`$COMPARTMENT_RESOURCE_BACKUP_DIR/<id>`) mounted at `/backup` (read-only
//! for restores), the resource's named volumes at their declared paths, and
//! the resource's final runtime env overlaid by the operation's `env`. Every
//! backup leaves a record in the state.

use super::error::OpsError;
use crate::apply::naming;
use crate::apply::steps::{self, Shared};
use crate::descriptor::model::{Operation, Operations, ResourceDef};
use crate::docker::{labels, ContainerSpec, Docker, Mount};
use crate::plan::Action;
use crate::state::secrets::SecretKey;
use crate::state::store::StateStore;
use crate::state::{applied, BackupRecord, Origin, ResourceConfig, State};
use crate::support::time::format_time;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;

type Result<T, E = OpsError> = std::result::Result<T, E>;

pub const BACKUP_DIR_VAR: &str = "COMPARTMENT_RESOURCE_BACKUP_DIR";

/// The host directory holding backup artifacts: absolute only.
pub fn backup_root() -> Result<PathBuf> {
    let raw = std::env::var(BACKUP_DIR_VAR).map_err(|_| OpsError::BackupDirUnset)?;
    let p = PathBuf::from(&raw);
    if !p.is_absolute() {
        return Err(OpsError::BackupDirRelative { raw });
    }
    Ok(p)
}

/// What an operation runs with.
pub struct OpContext<'a> {
    pub docker: &'a Docker,
    pub project: &'a str,
    pub env: &'a str,
    pub key: &'a SecretKey,
    /// The backup key: new artifacts are encrypted under it, encrypted
    /// ones decrypted with it (`None`: none is configured).
    pub backup_key: Option<SecretKey>,
}

/// How each artifact of backup `id` passes between the backup directory and
/// the operation's `/backup`: encrypted on the way out of a backup,
/// decrypted on the way into a restore or a verification when `encrypted`.
fn transforms(
    cx: &OpContext<'_>,
    id: &str,
    read_only: bool,
    encrypted: bool,
) -> Result<(Option<crate::docker::Seal>, Option<crate::docker::Unseal>)> {
    use super::artifacts;
    let Some(key) = cx.backup_key.clone() else {
        return match read_only && encrypted {
            true => Err(crate::state::secrets::SecretError::NoBackupKey {
                path: crate::state::secrets::backup_key_file()
                    .display()
                    .to_string(),
            }
            .into()),
            false => Ok((None, None)),
        };
    };
    let id = id.to_string();
    if !read_only {
        let seal: crate::docker::Seal = std::sync::Arc::new(move |rel, from, to| {
            artifacts::encrypt(&key, &artifacts::binding(&id, rel), from, to).map(|_| ())
        });
        return Ok((Some(seal), None));
    }
    if !encrypted {
        return Ok((None, None));
    }
    let unseal: crate::docker::Unseal = std::sync::Arc::new(move |rel, file| {
        let len = file.metadata()?.len();
        let plain = artifacts::plain_len(len).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, artifacts::DOES_NOT_OPEN)
        })?;
        let reader = artifacts::Decrypting::new(key.clone(), artifacts::binding(&id, rel), file);
        Ok((plain, Box::new(reader) as Box<dyn std::io::Read + Send>))
    });
    Ok((None, Some(unseal)))
}

/// Runs one operation command for `resource` with `artifacts` at /backup;
/// its last lines (redacted of sensitive values) on success.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_operation(
    cx: &OpContext<'_>,
    state: &State,
    resource: &str,
    def: &ResourceDef,
    op: &Operation,
    kind: &str,
    id: &str,
    artifacts: &std::path::Path,
    read_only: bool,
) -> Result<String> {
    // On a swarm, the volumes are on the node the resource is pinned to:
    // when that is not the manager, the operation runs there, as a
    // one-shot task (a container here would find empty volumes).
    let elsewhere = state
        .resources
        .get(resource)
        .and_then(|r| r.node.as_ref())
        .filter(|n| cx.docker.swarm_node_id().is_some_and(|me| me != n.id))
        .map(|n| n.id.clone());
    let image = op.image.clone().unwrap_or_else(|| def.image.clone());
    cx.docker.ensure_image(&image).await?;
    let mut env = crate::apply::env::resource_env(
        cx.project,
        cx.env,
        resource,
        def,
        state.variables.resource.get(resource),
        Some(cx.key),
    )?;
    env.extend(op.env.clone());
    env.insert("COMPARTMENT_BACKUP_DIR".into(), "/backup".into());
    env.insert(
        "COMPARTMENT_RESOURCE_HOST".into(),
        naming::resource_host(cx.project, cx.env, resource),
    );
    env.insert("COMPARTMENT_RESOURCE_NAME".into(), resource.into());
    env.insert("COMPARTMENT_PROJECT_NAME".into(), cx.project.into());
    env.insert("COMPARTMENT_ENVIRONMENT_NAME".into(), cx.env.into());
    let sensitive: Vec<String> = state
        .variables
        .resource
        .get(resource)
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.sensitive)
        .filter_map(|(k, _)| env.get(k).cloned())
        .collect();
    let mut spec = ContainerSpec::new(
        format!(
            "{}-{kind}-{}",
            naming::container(cx.project, cx.env, resource),
            id.to_ascii_lowercase()
        ),
        image,
    );
    spec.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    spec.command = Some(vec![op.command.clone()]);
    spec.env = env;
    spec.labels = labels::standard(cx.project, cx.env, labels::KIND_OPERATION, resource);
    spec.network = Some(naming::network(cx.project, cx.env));
    // The artifacts travel through the engine (a scratch volume at
    // /backup, copied in for a restore, out after a backup), each file
    // encrypted on its way out and decrypted on its way in: the plaintext
    // never touches the backup directory, and the engine's machine need
    // not be this one. Plaintext artifacts of earlier versions, on the
    // local engine, are still bind-mounted.
    let encrypted = read_only && super::artifacts::any_encrypted(artifacts);
    let (seal, unseal) = transforms(cx, id, read_only, encrypted)?;
    let local = cx.docker.reach() != crate::docker::agent::Reach::Engine;
    let bind = local && seal.is_none() && unseal.is_none() && elsewhere.is_none();
    if bind {
        let mut mount = Mount::bind(artifacts.to_path_buf(), "/backup");
        mount.read_only = read_only;
        spec.mounts.push(mount);
    }
    // The resource's named volumes at their declared paths, so that a
    // file-level backup (`tar -C /data ...`) and its restore reach the data.
    let applied = state.resources.get(resource).map(|r| &r.volumes);
    for (handle, target) in &def.volumes {
        let vname = applied
            .and_then(|v| v.get(handle).cloned())
            .unwrap_or_else(|| naming::volume(cx.project, cx.env, resource, handle));
        spec.mounts.push(Mount::volume(vname, target.clone()));
    }
    let files = crate::docker::DirFiles {
        upload: read_only.then_some(artifacts),
        read_only,
        download: (!read_only).then_some(artifacts),
        seal,
        unseal,
    };
    let outcome = match (bind, elsewhere) {
        (_, Some(node)) => {
            cx.docker
                .run_with_dir_on_node(&spec, &node, "/backup", files)
                .await?
        }
        (true, None) => cx.docker.run_to_completion(&spec).await?,
        (false, None) => cx.docker.run_with_dir(&spec, "/backup", files).await?,
    };
    let tail: Vec<&str> = outcome
        .output
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tail = redact(&tail.join("\n"), &sensitive);
    if outcome.exit_code != 0 {
        return Err(OpsError::CommandFailed {
            kind: kind.into(),
            exit_code: outcome.exit_code,
            tail,
        });
    }
    Ok(tail)
}

/// The definition an operation of a deployed resource runs with: the
/// applied definition (what runs, and what its data belongs to) with the
/// operations declared in compartment.yml when it declares the resource,
/// else the applied operations. Unapplied edits to the image, env or
/// volumes never reach the engine through a backup or a restore: they go
/// through plan and apply.
pub fn current_definition(
    declared: &BTreeMap<String, ResourceDef>,
    state: &State,
    resource: &str,
) -> Result<ResourceDef> {
    let mut def = ResourceDef::from(&super::resource::record(state, resource)?.applied.definition);
    if let Some(ops) = operations_in_force(declared, state, resource) {
        def.operations = ops;
    }
    Ok(def)
}

/// The operations in force for a resource: the declared ones when
/// compartment.yml declares it, else the applied ones.
pub fn operations_in_force(
    declared: &BTreeMap<String, ResourceDef>,
    state: &State,
    resource: &str,
) -> Option<Operations> {
    match declared.get(resource) {
        Some(d) => Some(d.operations.clone()),
        None => state
            .resources
            .get(resource)
            .map(|r| Operations::from(&r.applied.definition.operations)),
    }
}

/// Where a record's artifacts are: its `artifactDir` resolved under the
/// backup directory `root`. New records store the path relative to `root`;
/// older ones an absolute path, accepted only inside `root`. `..`, another
/// absolute path, or a symlink leading out of `root` is refused, so that
/// neither restore nor retention ever reads or deletes anything else.
pub fn artifact_path(root: &std::path::Path, record: &BackupRecord) -> Result<PathBuf> {
    use std::path::Component;
    let outside = || OpsError::ArtifactOutside {
        id: record.id.clone(),
        recorded: record.artifact_dir.clone(),
        root: root.to_path_buf(),
    };
    let recorded = std::path::Path::new(&record.artifact_dir);
    let relative = if recorded.is_absolute() {
        recorded.strip_prefix(root).map_err(|_| outside())?
    } else {
        recorded
    };
    let mut parts = relative.components().peekable();
    if parts.peek().is_none() || !parts.all(|c| matches!(c, Component::Normal(_))) {
        return Err(outside());
    }
    let path = root.join(relative);
    if let (Ok(real), Ok(real_root)) = (std::fs::canonicalize(&path), std::fs::canonicalize(root)) {
        if real == real_root || !real.starts_with(&real_root) {
            return Err(outside());
        }
    }
    Ok(path)
}

/// Replaces every sensitive value the operation received by `(sensitive)`.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    // Longest first, so that a value containing another is replaced whole.
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s.as_str(), "(sensitive)");
    }
    out
}

/// Runs the backup operation of `resource` now and records it.
pub async fn create(
    cx: &OpContext<'_>,
    declared: &BTreeMap<String, ResourceDef>,
    store: &StateStore,
    state: &mut State,
    resource: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<BackupRecord> {
    let def = current_definition(declared, state, resource)?;
    let op = def
        .operations
        .backup
        .clone()
        .ok_or_else(|| OpsError::NoOperation {
            resource: resource.into(),
            operation: "backup",
            hint:
                "add one to compartment.yml before creating backups (the postgres preset has one)",
        })?;
    let root = backup_root()?;
    let id = super::ids::new_backup_id();
    let dir = root.join(&id);
    std::fs::create_dir_all(&dir).map_err(|source| OpsError::CreateBackupDir {
        path: dir.clone(),
        source,
    })?;
    let mut record = BackupRecord {
        id: id.clone(),
        resource: resource.into(),
        purpose: purpose.into(),
        status: "running".into(),
        started_at: format_time(now),
        finished_at: None,
        // Relative to the backup directory (see `artifact_path`).
        artifact_dir: id.clone(),
        definition: Some(ResourceConfig::from(&def)),
        operation: Some(
            serde_json::to_value(applied::Operations::from(&def.operations)).expect("serialises"),
        ),
        error: None,
        retention_deleted_at: None,
        retention_reason: None,
        verified_at: None,
        verify_status: None,
        verify_error: None,
        encrypted_with: None,
        checksums: Default::default(),
        copies: Default::default(),
    };
    state.backups.push(record.clone());
    store.save(state)?;
    let result = run_operation(
        cx,
        state,
        resource,
        &def,
        &op.operation,
        "backup",
        &id,
        &dir,
        false,
    )
    .await
    // The checksums every copy is checked against; a backup whose
    // artifacts cannot be read back is a failed one (never a record left
    // `running`).
    .and_then(|_| super::copies::checksums(&dir))
    .map(|sums| record.checksums = sums);
    record.finished_at = Some(format_time(Utc::now().max(now)));
    match &result {
        Ok(()) => {
            record.status = "succeeded".into();
            record.encrypted_with = cx.backup_key.as_ref().map(SecretKey::fingerprint);
        }
        Err(e) => {
            record.status = "failed".into();
            // The command's output stays out of the state file (which is
            // committed): only what failed is recorded.
            record.error = Some(match e {
                OpsError::CommandFailed {
                    kind, exit_code, ..
                } => format!("the {kind} command exited with {exit_code}"),
                e => e.to_string(),
            });
            // A failed backup leaves no partial artifact behind.
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if let Some(r) = state.backups.iter_mut().find(|b| b.id == id) {
        *r = record.clone();
    }
    store.save(state)?;
    result.map(|_| record)
}

pub fn find<'s>(state: &'s State, id: &str) -> Result<&'s BackupRecord> {
    state
        .backups
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| OpsError::NoBackup {
            id: id.into(),
            environment: state.environment.clone(),
        })
}

/// Whether the artifacts of `record` in `dir` can be read with the
/// configured backup key: plaintext ones always; encrypted ones need the
/// key they were written with.
pub(super) fn opens(
    key: Option<&SecretKey>,
    record: &BackupRecord,
    dir: &std::path::Path,
) -> Result<()> {
    if !super::artifacts::any_encrypted(dir) {
        return Ok(());
    }
    let Some(key) = key else {
        return Err(crate::state::secrets::SecretError::NoBackupKey {
            path: crate::state::secrets::backup_key_file()
                .display()
                .to_string(),
        }
        .into());
    };
    match &record.encrypted_with {
        Some(recorded) if *recorded != key.fingerprint() => Err(OpsError::OtherBackupKey {
            id: record.id.clone(),
            recorded: recorded.clone(),
            found: key.fingerprint(),
        }),
        _ => Ok(()),
    }
}

pub(super) fn usable(record: &BackupRecord) -> Result<PathBuf> {
    if record.status != "succeeded" {
        return Err(OpsError::NotRestorable {
            id: record.id.clone(),
            status: record.status.clone(),
        });
    }
    let dir = artifact_path(&backup_root()?, record)?;
    if !dir.is_dir() {
        return Err(OpsError::ArtifactsMissing {
            id: record.id.clone(),
            dir,
            copies: super::copies::copied_to(record),
        });
    }
    Ok(dir)
}

/// Where a restore or a verification reads a backup's artifacts: its
/// local directory, or (`--from TARGET`) its copy on a target, read back
/// and checked into a directory of its own, removed when this is dropped.
pub(super) enum Artifacts {
    Local(PathBuf),
    Fetched(super::copies::Fetched),
}

impl Artifacts {
    pub(super) fn dir(&self) -> &std::path::Path {
        match self {
            Artifacts::Local(d) => d,
            Artifacts::Fetched(f) => &f.dir,
        }
    }
}

/// The artifacts of `record`, from the local directory or target `from`.
pub(super) async fn artifacts(record: &BackupRecord, from: Option<&str>) -> Result<Artifacts> {
    let Some(target) = from else {
        return usable(record).map(Artifacts::Local);
    };
    if record.status != "succeeded" {
        return Err(OpsError::NotRestorable {
            id: record.id.clone(),
            status: record.status.clone(),
        });
    }
    super::copies::fetch(&backup_root()?, record, target)
        .await
        .map(Artifacts::Fetched)
}

/// In-place restore: only into the resource that made the backup. After a
/// pre-restore backup, the resource's data is replaced: its container and
/// named volumes are recreated empty, it is waited for until ready, and the
/// restore command runs with the selected backup at /backup (read-only).
/// Restoring into a live database would merge rows instead of bringing the
/// backed-up data back.
#[allow(clippy::too_many_arguments)]
pub async fn restore_in_place(
    shared: &Shared,
    store: &StateStore,
    state: &mut State,
    resource: &str,
    id: &str,
    from: Option<&str>,
    now: DateTime<Utc>,
) -> Result<BackupRecord> {
    let declared = &shared.project.compartment.resources;
    let project = shared.project.compartment.name.clone();
    let record = find(state, id)?.clone();
    if record.resource != resource {
        return Err(OpsError::OtherResource {
            id: id.into(),
            resource: record.resource,
        });
    }
    let def = current_definition(declared, state, resource)?;
    let restore = def
        .operations
        .restore
        .clone()
        .ok_or_else(|| OpsError::NoOperation {
            resource: resource.into(),
            operation: "restore",
            hint: "in-place restore needs one (it also takes a pre-restore backup with operations.backup.command)",
        })?;
    if def.operations.backup.is_none() {
        return Err(OpsError::NoOperation {
            resource: resource.into(),
            operation: "backup",
            hint: "in-place restore first takes a pre-restore backup",
        });
    }
    let artifacts = artifacts(&record, from).await?;
    let dir = artifacts.dir();
    let cx = OpContext {
        docker: &shared.docker,
        project: &project,
        env: &shared.env,
        key: &shared.key,
        backup_key: Some(SecretKey::load_or_create_of(crate::state::secrets::BACKUP)?),
    };
    // An artifact that will not open is found before anything is reset.
    opens(cx.backup_key.as_ref(), &record, dir)?;
    let pre = create(&cx, declared, store, state, resource, "pre-restore", now)
        .await
        .map_err(|e| OpsError::PreRestoreFailed(Box::new(e)))?;
    let origin = state.resources[resource].origin;
    // Recreated exactly as applied (only the operations come from
    // compartment.yml).
    let applied = ResourceDef::from(&state.resources[resource].applied.definition);
    let volumes: Vec<String> = state.resources[resource]
        .volumes
        .values()
        .cloned()
        .collect();
    shared.progress.note(&format!("resetting `{resource}`: recreating its container and volumes empty (pre-restore backup {})", pre.id));
    shared
        .docker
        .remove_container(&naming::container(&project, &shared.env, resource), true)
        .await?;
    let of = (project.as_str(), shared.env.as_str(), resource);
    for v in volumes {
        let recorded = state.resources.get(resource);
        crate::apply::swarm::remove_resource_volume(&shared.docker, of, recorded, &v).await?;
    }
    let mut result =
        steps::converge_resource(shared, state, resource, applied, Action::Replace, origin).await;
    result.apply_to(state);
    store.save(state)?;
    if let Err(source) = result.outcome {
        return Err(OpsError::RecreateFailed {
            resource: resource.into(),
            pre: pre.id,
            source: Box::new(source),
        });
    }
    run_operation(
        &cx, state, resource, &def, &restore, "restore", id, dir, true,
    )
    .await
    .map_err(|e| OpsError::RestoreFailed {
        pre: pre.id.clone(),
        source: Box::new(e),
    })?;
    Ok(pre)
}

/// Restore into a new resource built from the captured definition. Fails
/// before creating anything when `new_name` exists; keeps the new resource
/// when its restore fails.
#[allow(clippy::too_many_arguments)]
pub async fn restore_as(
    shared: &Shared,
    store: &StateStore,
    state: &mut State,
    declared_services: &BTreeMap<String, crate::descriptor::model::ServiceDef>,
    declared: &BTreeMap<String, ResourceDef>,
    id: &str,
    from: Option<&str>,
    new_name: &str,
) -> Result<()> {
    let record = find(state, id)?.clone();
    let def = record
        .definition
        .as_ref()
        .map(ResourceDef::from)
        .ok_or_else(|| OpsError::NoDefinition { id: id.into() })?;
    let ops: Operations = record
        .operation
        .clone()
        .and_then(|v| serde_json::from_value::<applied::Operations>(v).ok())
        .map(|o| Operations::from(&o))
        .unwrap_or_else(|| def.operations.clone());
    let restore = ops
        .restore
        .clone()
        .ok_or_else(|| OpsError::NoRestoreCommand { id: id.into() })?;
    let name = || new_name.to_string();
    if !crate::yaml::decode::valid_name(new_name) {
        return Err(OpsError::InvalidName { name: name() });
    }
    let project = shared.project.compartment.name.clone();
    if declared_services.contains_key(new_name) {
        return Err(OpsError::NameIsService { name: name() });
    }
    if declared.contains_key(new_name) && !state.resources.contains_key(new_name) {
        return Err(OpsError::NameIsDeclared { name: name() });
    }
    let exists = state.resources.contains_key(new_name)
        || shared
            .docker
            .inspect_container(&naming::container(&project, &shared.env, new_name))
            .await?
            .is_some();
    if exists {
        return Err(OpsError::NameExists { name: name() });
    }
    // Volumes kept by an earlier `resource delete` of the same name would be
    // mounted again, and the restore would land on top of their old data.
    let leftover =
        super::resource::leftover_volumes(&shared.docker, &project, &shared.env, new_name).await?;
    if !leftover.is_empty() {
        return Err(OpsError::NameHasVolumes {
            name: name(),
            volumes: leftover,
        });
    }
    let artifacts = artifacts(&record, from).await?;
    let dir = artifacts.dir();
    let backup_key = SecretKey::load_of(crate::state::secrets::BACKUP)?;
    opens(backup_key.as_ref(), &record, dir)?;
    if crate::apply::prepare(&shared.docker, &shared.key, &project, &shared.env, state).await? {
        store.save(state)?;
    }
    let mut def = def;
    def.operations = ops;
    let mut result = steps::converge_resource(
        shared,
        state,
        new_name,
        def.clone(),
        Action::Create,
        Origin::Restore,
    )
    .await;
    result.apply_to(state);
    store.save(state)?;
    if let Err(source) = result.outcome {
        return Err(OpsError::CreateFailed {
            name: name(),
            source: Box::new(source),
        });
    }
    let cx = OpContext {
        docker: &shared.docker,
        project: &project,
        env: &shared.env,
        key: &shared.key,
        backup_key,
    };
    run_operation(
        &cx, state, new_name, &def, &restore, "restore", id, dir, true,
    )
    .await
    .map_err(|e| OpsError::RestoreAsFailed {
        name: name(),
        source: Box::new(e),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &str) -> BackupRecord {
        BackupRecord {
            id: "db-1".into(),
            resource: "db".into(),
            purpose: "manual".into(),
            status: "succeeded".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            artifact_dir: dir.into(),
            definition: None,
            operation: None,
            error: None,
            retention_deleted_at: None,
            retention_reason: None,
            verified_at: None,
            verify_status: None,
            verify_error: None,
            encrypted_with: None,
            checksums: Default::default(),
            copies: Default::default(),
        }
    }

    #[test]
    fn artifacts_resolve_only_inside_the_backup_directory() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        assert_eq!(artifact_path(r, &record("db-1")).unwrap(), r.join("db-1"));
        let legacy = r.join("db-1").display().to_string();
        assert_eq!(artifact_path(r, &record(&legacy)).unwrap(), r.join("db-1"));
        for bad in ["/tmp/victim", "..", "../x", "db-1/../..", "", ".", "/"] {
            let err = artifact_path(r, &record(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("backup `db-1` records its artifacts at `{bad}`, which is not inside the backup directory")),
                "{bad}: {err}"
            );
        }
        // A symlink inside the directory that leads out of it.
        let victim = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(victim.path(), r.join("escape")).unwrap();
        assert!(artifact_path(r, &record("escape")).is_err());
    }

    #[test]
    fn failed_output_is_redacted_of_every_sensitive_value() {
        let secrets = vec![
            "hunter2".to_string(),
            "hunter2-long".to_string(),
            String::new(),
        ];
        assert_eq!(
            redact("pw=hunter2-long url=postgres://u:hunter2@db", &secrets),
            "pw=(sensitive) url=postgres://u:(sensitive)@db"
        );
    }
}
