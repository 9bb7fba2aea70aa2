//! Copies of backups off the machine (compartment.yml's
//! `environments.<env>.backups`): after a backup is taken (and verified,
//! when asked) each artifact file goes to every target under
//! `<project>/<env>/<backup id>/`, with a `SHA256SUMS` file beside it; what
//! was sent is checked against the checksums recorded when the backup
//! finished, and the size the target reports against what was sent. Each
//! outcome is recorded on the backup (`copies`), saved after each target.
//! A restore or verification can read a backup back from a target
//! (`--from`), checked file by file against the same checksums, into a
//! directory of its own that is removed afterwards; retention deletes the
//! copies before the local artifacts. The artifacts are the encrypted ones:
//! no plaintext leaves the machine.

use super::error::OpsError;
use crate::descriptor::model::BackupTargetDef;
use crate::state::store::StateStore;
use crate::state::{BackupCopy, BackupRecord, State};
use crate::storage::{Location, StorageError, Store};
use crate::support::time::format_time;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Result<T, E = OpsError> = std::result::Result<T, E>;

/// The name of the checksum file beside every copy (`sha256sum -c` reads it).
pub const SUMS: &str = "SHA256SUMS";

pub const COPIED: &str = "copied";
pub const FAILED: &str = "failed";
pub const DELETED: &str = "deleted";

/// The backup targets of environment `env` in compartment.yml.
pub fn targets(
    compartment: &crate::descriptor::model::Compartment,
    env: &str,
) -> BTreeMap<String, BackupTargetDef> {
    compartment
        .environments
        .get(env)
        .map(|e| e.backups.clone())
        .unwrap_or_default()
}

/// The directory of backup `id` under every target.
pub fn copy_dir(project: &str, env: &str, id: &str) -> String {
    format!("{project}/{env}/{id}")
}

/// sha256 of every file under `dir` (relative path → hex), streamed.
pub fn checksums(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| OpsError::ArtifactRead {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let read = |source| OpsError::ArtifactRead {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read)?;
        let mut hash = Sha256::new();
        std::io::copy(&mut file, &mut hash).map_err(read)?;
        out.insert(
            rel.to_string_lossy().into_owned(),
            hex::encode(hash.finalize()),
        );
    }
    Ok(out)
}

/// The `SHA256SUMS` text of a record's checksums.
fn sums_file(checksums: &BTreeMap<String, String>) -> Vec<u8> {
    checksums
        .iter()
        .map(|(file, sum)| format!("{sum}  {file}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Why one copy failed: a target's error, or a file that is not what the
/// backup recorded.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("`{file}` now has sha256 {found}, not the {expected} recorded when the backup finished: the local artifact changed; it was not copied")]
    Changed {
        file: String,
        expected: String,
        found: String,
    },
    #[error("the target reports {found} bytes for `{file}` after {sent} were sent")]
    Short {
        file: String,
        sent: u64,
        found: String,
    },
}

/// Sends every artifact of `record` (in `local`) to the target, checks
/// each against the recorded checksum and the size the target reports,
/// then writes `SHA256SUMS`.
async fn send(
    name: &str,
    location: &Location,
    record: &BackupRecord,
    local: &Path,
    dir: &str,
) -> Result<(), CopyError> {
    let mut store = Store::open(name, location).await?;
    let result = async {
        for (file, expected) in &record.checksums {
            let key = format!("{dir}/{file}");
            let moved = store.put(&key, &local.join(file)).await?;
            if &moved.sha256 != expected {
                return Err(CopyError::Changed {
                    file: file.clone(),
                    expected: expected.clone(),
                    found: moved.sha256,
                });
            }
            let found = store.size(&key).await?;
            if found != Some(moved.bytes) {
                return Err(CopyError::Short {
                    file: file.clone(),
                    sent: moved.bytes,
                    found: found.map_or_else(|| "no file".into(), |n| n.to_string()),
                });
            }
        }
        store
            .put_bytes(&format!("{dir}/{SUMS}"), sums_file(&record.checksums))
            .await?;
        Ok(())
    }
    .await;
    store.close().await;
    result
}

/// Copies backup `id` to each of `targets` (all of them, or with
/// `only_failed` those whose earlier copy failed),
/// recording each outcome on the backup and saving after each. The copies
/// attempted, as recorded.
pub async fn copy(
    targets: &BTreeMap<String, BackupTargetDef>,
    store: &StateStore,
    state: &mut State,
    project: &str,
    id: &str,
    only_failed: bool,
    now: DateTime<Utc>,
) -> Result<Vec<BackupCopy>> {
    let record = super::backup::find(state, id)?.clone();
    // Without checksums (a backup made before copies existed) a copy could
    // not be checked: such backups stay local.
    if record.status != "succeeded" || targets.is_empty() || record.checksums.is_empty() {
        return Ok(Vec::new());
    }
    let local = super::backup::artifact_path(&super::backup::backup_root()?, &record)?;
    let dir = copy_dir(project, &state.environment, id);
    let mut attempted = Vec::new();
    for (name, target) in targets {
        let earlier = record.copies.iter().find(|c| &c.target == name);
        if only_failed && earlier.is_none_or(|c| c.status != FAILED) {
            continue;
        }
        let outcome = send(name, &target.location, &record, &local, &dir).await;
        let copy = BackupCopy {
            target: name.clone(),
            url: target.url.clone(),
            path: dir.clone(),
            status: match outcome {
                Ok(()) => COPIED.into(),
                Err(_) => FAILED.into(),
            },
            at: format_time(Utc::now().max(now)),
            error: outcome.err().map(|e| e.to_string()),
        };
        let r = state
            .backups
            .iter_mut()
            .find(|b| b.id == id)
            .expect("the record was found above");
        r.copies.retain(|c| c.target != copy.target);
        r.copies.push(copy.clone());
        r.copies.sort_by(|a, b| a.target.cmp(&b.target));
        store.save(state)?;
        attempted.push(copy);
    }
    Ok(attempted)
}

/// A backup's artifacts read back from a target into a directory of their
/// own (under the backup directory, so on the same disk), removed when
/// this is dropped.
pub struct Fetched {
    pub dir: PathBuf,
}

impl Drop for Fetched {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads backup `record` back from its copy on target `name`, checking
/// every file against the recorded checksums.
pub async fn fetch(root: &Path, record: &BackupRecord, name: &str) -> Result<Fetched> {
    let copy = record
        .copies
        .iter()
        .find(|c| c.target == name && c.status == COPIED)
        .ok_or_else(|| OpsError::NoCopy {
            id: record.id.clone(),
            target: name.into(),
            copies: copied_to(record),
        })?;
    let location = Location::parse(&copy.url).map_err(|why| OpsError::CopyUrl {
        id: record.id.clone(),
        url: copy.url.clone(),
        why,
    })?;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let fetched = Fetched {
        dir: root.join(format!(".from-{name}-{}-{}", record.id, &suffix[..8])),
    };
    make_private_dir(&fetched.dir)?;
    let mut store = Store::open(name, &location).await?;
    let result = receive(&mut store, record, &copy.path, &fetched.dir).await;
    store.close().await;
    result.map(|()| fetched)
}

async fn receive(store: &mut Store, record: &BackupRecord, dir: &str, to: &Path) -> Result<()> {
    if record.checksums.is_empty() {
        return Err(OpsError::NoChecksums {
            id: record.id.clone(),
        });
    }
    for (file, expected) in &record.checksums {
        let path = to.join(file);
        if let Some(parent) = path.parent() {
            make_private_dir(parent)?;
        }
        let moved = store.get(&format!("{dir}/{file}"), &path).await?;
        if &moved.sha256 != expected {
            return Err(OpsError::CopyCorrupt {
                id: record.id.clone(),
                file: file.clone(),
                expected: expected.clone(),
                found: moved.sha256,
            });
        }
    }
    Ok(())
}

fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| OpsError::CreateBackupDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// The targets a backup was copied to, for messages: `a, b` or `none`.
pub fn copied_to(record: &BackupRecord) -> String {
    let names: Vec<&str> = record
        .copies
        .iter()
        .filter(|c| c.status == COPIED)
        .map(|c| c.target.as_str())
        .collect();
    match names.is_empty() {
        true => "none".into(),
        false => names.join(", "),
    }
}

/// Deletes every copy of backup `id` (retention, before its local
/// artifacts), recording each; the first failure stops it, recorded on
/// the copy (still `copied`, with the error), and is returned.
pub async fn delete(
    store: &StateStore,
    state: &mut State,
    id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let record = super::backup::find(state, id)?.clone();
    for copy in record.copies.iter().filter(|c| c.status == COPIED) {
        let outcome = match Location::parse(&copy.url) {
            Ok(location) => remove(&copy.target, &location, &copy.path).await,
            Err(why) => Err(OpsError::CopyUrl {
                id: id.into(),
                url: copy.url.clone(),
                why,
            }),
        };
        let r = state
            .backups
            .iter_mut()
            .find(|b| b.id == id)
            .expect("the record was found above");
        let c = r
            .copies
            .iter_mut()
            .find(|c| c.target == copy.target)
            .expect("the copy was found above");
        match outcome {
            Ok(()) => {
                c.status = DELETED.into();
                c.at = format_time(now);
                c.error = None;
                store.save(state)?;
            }
            Err(e) => {
                c.error = Some(format!("deleting it failed: {e}"));
                store.save(state)?;
                return Err(OpsError::CopyDeleteFailed {
                    id: id.into(),
                    target: copy.target.clone(),
                    source: Box::new(e),
                });
            }
        }
    }
    Ok(())
}

async fn remove(name: &str, location: &Location, dir: &str) -> Result<()> {
    let mut store = Store::open(name, location).await?;
    let result = store.delete(dir).await;
    store.close().await;
    Ok(result?)
}
