//! The typed errors of day-2 operations. Each displays as the one message a
//! user reads after `error: `, naming what to do next.

use crate::apply::env::EnvError;
use crate::apply::StepError;
use crate::docker::DockerError;
use crate::state::secrets::SecretError;
use crate::state::store::StoreError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OpsError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Variable(#[from] super::variable::VariableError),
    #[error(transparent)]
    Audit(#[from] super::audit::AuditError),
    #[error("resource `{name}` is not deployed in environment `{environment}`{hint}")]
    NotDeployed {
        name: String,
        environment: String,
        hint: String,
    },
    #[error("service `{name}` is not deployed in environment `{environment}`{hint}")]
    ServiceNotDeployed {
        name: String,
        environment: String,
        hint: String,
    },
    #[error("`{address}` is not an address: use resource.NAME, service.NAME or instance.NAME")]
    BadAddress { address: String },
    #[error("`{address}` is not in the state (see `compartment state show`)")]
    NotInState { address: String },
    #[error("`{address}` is already in the state; `compartment state rm {address}` first if it should be replaced")]
    AlreadyInState { address: String },
    #[error("`{from}` and `{to}` are of different kinds; state mv renames a node, it does not change its kind")]
    MoveKind { from: String, to: String },
    #[error("`{address}` is not declared in compartment.yml: declare it first, so that the next plan compares the container with its declaration")]
    NotDeclared { address: String },
    #[error("no container named `{name}` in the engine")]
    NoContainer { name: String },
    #[error("instances have no container to import; declare the instance and apply (its create hook runs)")]
    ImportInstance,
    #[error("`{name}` is not running ({status}); start it first (`{start}`)")]
    NotRunning {
        name: String,
        status: String,
        start: String,
    },
    #[error("resource `{name}` is not deployed in environment `{environment}`, but an earlier delete kept its volumes ({}); pass --delete-data to delete them", volumes.join(", "))]
    KeptVolumes {
        name: String,
        environment: String,
        volumes: Vec<String>,
    },
    #[error("resource `{resource}` has no output `{output}`; its outputs: {}", if outputs.is_empty() { "none".to_string() } else { outputs.join(", ") })]
    NoOutput {
        resource: String,
        output: String,
        outputs: Vec<String>,
    },
    #[error("{} is not set: set it to a persistent absolute host directory for backup artifacts, e.g. /var/lib/compartment/backups", super::backup::BACKUP_DIR_VAR)]
    BackupDirUnset,
    #[error("{} must be an absolute path, not `{raw}`: relative backup directories are rejected because they depend on the working directory; set it to e.g. /var/lib/compartment/backups", super::backup::BACKUP_DIR_VAR)]
    BackupDirRelative { raw: String },
    #[error("cannot create the backup directory {}: {source}", .path.display())]
    CreateBackupDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("retention could not delete {}: {source}", .path.display())]
    RetentionDelete {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {kind} command exited with {exit_code}:\n{tail}")]
    CommandFailed {
        kind: String,
        exit_code: i64,
        tail: String,
    },
    /// A resource without the operation a command needs; `hint` says why.
    #[error("resource `{resource}` has no operations.{operation}.command: {hint}")]
    NoOperation {
        resource: String,
        operation: &'static str,
        hint: &'static str,
    },
    #[error(
        "no backup `{id}` in environment `{environment}` (see `compartment resource backup list`)"
    )]
    NoBackup { id: String, environment: String },
    #[error("the artifacts of backup `{id}` were encrypted with the backup key {recorded}, but the configured backup key is {found}; set COMPARTMENT_BACKUP_KEY (or the key file) to the key that wrote them; nothing was changed")]
    OtherBackupKey {
        id: String,
        recorded: String,
        found: String,
    },
    #[error("cannot export to {}: {source}", .to.display())]
    Export { to: PathBuf, source: std::io::Error },
    #[error("backup `{id}` has status `{status}`; only succeeded backups can be restored")]
    NotRestorable { id: String, status: String },
    #[error("backup `{id}` records its artifacts at `{recorded}`, which is not inside the backup directory {}; refusing to read or delete it (a hand-edited or foreign state?)", .root.display())]
    ArtifactOutside {
        id: String,
        recorded: String,
        root: PathBuf,
    },
    #[error("the artifacts of backup `{id}` are missing from {}{}", .dir.display(), match copies.as_str() { "none" => String::new(), c => format!("; it has copies on {c}: read it from one with --from TARGET") })]
    ArtifactsMissing {
        id: String,
        dir: PathBuf,
        /// The targets holding a copy (`none`).
        copies: String,
    },
    #[error("cannot read the artifact {}: {source}", .path.display())]
    ArtifactRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(Box<crate::storage::StorageError>),
    #[error("backup `{id}` has no copy on `{target}` (copies: {copies})")]
    NoCopy {
        id: String,
        target: String,
        copies: String,
    },
    #[error("backup `{id}` records a copy at `{url}`, which is not a backup target URL ({why}); a hand-edited state?")]
    CopyUrl {
        id: String,
        url: String,
        why: String,
    },
    #[error("backup `{id}` has no recorded checksums (it was made before copies existed), so a copy of it cannot be checked; restore it from the local artifacts")]
    NoChecksums { id: String },
    #[error("the copy of `{file}` of backup `{id}` has sha256 {found}, not the recorded {expected}: it is corrupt or not this backup's; nothing was restored from it")]
    CopyCorrupt {
        id: String,
        file: String,
        expected: String,
        found: String,
    },
    #[error("deleting the copy of backup `{id}` on `{target}` failed (the backup and its local artifacts are kept): {source}")]
    CopyDeleteFailed {
        id: String,
        target: String,
        source: Box<OpsError>,
    },
    #[error("backup `{id}` was taken, but copying it failed for {failed} (recorded on the backup; `backup run-due` retries): {errors}")]
    CopyFailed {
        id: String,
        failed: String,
        errors: String,
    },
    #[error("backup `{id}` was taken from resource `{resource}`; in-place restore applies only to the resource that created it (use `--as <new name>` to restore it into a new resource)")]
    OtherResource { id: String, resource: String },
    #[error("the pre-restore backup failed, nothing was restored: {0}")]
    PreRestoreFailed(Box<OpsError>),
    #[error("recreating `{resource}` for the restore failed (its data is in the pre-restore backup {pre}): {source}")]
    RecreateFailed {
        resource: String,
        pre: String,
        source: Box<StepError>,
    },
    #[error(
        "the restore command failed (the data before the restore is in backup {pre}): {source}"
    )]
    RestoreFailed { pre: String, source: Box<OpsError> },
    #[error("backup `{id}` was created before resource definitions were recorded with backups; it can be restored in place but not with --as")]
    NoDefinition { id: String },
    #[error("the operation configuration saved with backup `{id}` has no restore command")]
    NoRestoreCommand { id: String },
    #[error("`{name}` is not a valid resource name: use lowercase letters, digits and `-`")]
    InvalidName { name: String },
    #[error("`{name}` is the name of a service in compartment.yml; nothing was created. Choose another name for the restored resource")]
    NameIsService { name: String },
    #[error("`{name}` is declared as a resource in compartment.yml; nothing was created. Choose another name for the restored resource")]
    NameIsDeclared { name: String },
    #[error("resource `{name}` already exists; nothing was created. Choose another name, or delete it first (`compartment resource delete --resource {name}`)")]
    NameExists { name: String },
    #[error("the volumes of a deleted resource `{name}` still exist ({}); nothing was created. Delete them first (`compartment resource delete --resource {name} --delete-data`), or choose another name", volumes.join(", "))]
    NameHasVolumes { name: String, volumes: Vec<String> },
    #[error("creating resource `{name}` failed: {source}")]
    CreateFailed {
        name: String,
        source: Box<StepError>,
    },
    #[error("resource `{name}` was created but its restore failed (it is kept: inspect it, or delete it with `compartment resource delete --resource {name}` before retrying): {source}")]
    RestoreAsFailed { name: String, source: Box<OpsError> },
    #[error("--resource and --as cannot be combined: in-place restore (--resource R --yes) and restore into a new resource (--as NEW) are separate restore targets")]
    RestoreBothTargets,
    #[error("say where to restore: --resource <name> --yes (in place, destructive) or --as <new name> (into a new resource)")]
    RestoreNoTarget,
    #[error("in-place restore overwrites the data of `{resource}` (after taking a pre-restore backup); pass --yes to confirm")]
    RestoreUnconfirmed { resource: String },
    #[error("`{name}` is not ready after the restore: {source}")]
    NotReadyAfterRestore {
        name: String,
        source: Box<StepError>,
    },
    #[error("backup `{id}` failed verification (recorded on the backup, see `compartment resource backup show --backup {id}`): {reason}")]
    VerifyFailed { id: String, reason: String },
    #[error("COMPARTMENT_NOW must be an RFC 3339 time such as 2026-11-23T02:00:00Z, not `{value}` ({reason})")]
    Clock { value: String, reason: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<crate::storage::StorageError> for OpsError {
    fn from(e: crate::storage::StorageError) -> Self {
        OpsError::Storage(Box::new(e))
    }
}
