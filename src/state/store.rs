//! Where state files live and how they are written: atomically (temporary
//! file, fsync, rename, fsync of the directory) with the previous version
//! kept as `<file>.backup`, under an advisory lock file that names its
//! holder.

use super::format::{self, FormatError};
use super::State;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(
        "the state {path} is locked by {} (pid {}) running `{}` since {}; wait for it to finish, or if that process is gone run `compartment state unlock`",
        .info.holder, .info.pid, .info.operation, .info.since
    )]
    Locked { path: String, info: LockInfo },
    #[error("the state {path} belongs to project `{found_project}` environment `{found_env}`, not `{project}`/`{env}`")]
    WrongTarget {
        path: String,
        found_project: String,
        found_env: String,
        project: String,
        env: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: crate::support::paths::display_path(path),
        source,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub holder: String,
    pub pid: u32,
    pub operation: String,
    pub since: String,
}

/// One state file.
#[derive(Clone, Debug)]
pub struct StateStore {
    pub path: PathBuf,
    /// How long [`StateStore::lock`] waits for a held lock (`--lock-timeout`).
    pub lock_timeout: std::time::Duration,
}

/// Removes the lock file when dropped.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl StateStore {
    /// The default location, `.compartment/state/<project>/<env>.json` beside
    /// compartment.yml, unless `--state` names another.
    pub fn locate(root: &Path, project: &str, env: &str, explicit: Option<&Path>) -> StateStore {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => root
                .join(".compartment")
                .join("state")
                .join(project)
                .join(format!("{env}.json")),
        };
        StateStore::at(path)
    }

    /// The project-wide state (instances of `global: true` types).
    pub fn global(root: &Path, project: &str) -> StateStore {
        StateStore::at(
            root.join(".compartment")
                .join("state")
                .join(project)
                .join("_global.json"),
        )
    }

    pub fn display(&self) -> String {
        let shown = crate::support::paths::display_path(&self.path);
        match shown.strip_prefix("./") {
            Some(rest) if !rest.is_empty() => rest.to_string(),
            _ => shown,
        }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    pub fn backup_path(&self) -> PathBuf {
        self.sibling(".backup")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    /// Reads the state; a missing file is an empty state for `project`/`env`.
    pub fn load(&self, project: &str, env: &str) -> Result<State, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State::new(project, env))
            }
            Err(e) => return Err(io("cannot read", &self.path)(e)),
        };
        let state = format::read(&self.display(), &text)?;
        if state.project != project || state.environment != env {
            return Err(StoreError::WrongTarget {
                path: self.display(),
                found_project: state.project,
                found_env: state.environment,
                project: project.into(),
                env: env.into(),
            });
        }
        Ok(state)
    }

    /// Writes `state` with its serial incremented. The previous file is kept
    /// as `.backup`; the new one replaces it by an atomic rename, so a crash
    /// at any point leaves a complete file.
    pub fn save(&self, state: &mut State) -> Result<(), StoreError> {
        state.serial += 1;
        let text = format::write(state);
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        if self.path.exists() {
            let backup = self.backup_path();
            let tmp = self.sibling(&format!(".backup.tmp-{}", std::process::id()));
            std::fs::copy(&self.path, &tmp).map_err(io("cannot copy", &self.path))?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io("cannot sync", &tmp))?;
            std::fs::rename(&tmp, &backup).map_err(io("cannot write", &backup))?;
        }
        let tmp = self.sibling(&format!(".tmp-{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
            f.write_all(text.as_bytes())
                .map_err(io("cannot write", &tmp))?;
            f.sync_all().map_err(io("cannot sync", &tmp))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io("cannot replace", &self.path))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A store for `path` that does not wait for a held lock.
    pub fn at(path: PathBuf) -> StateStore {
        StateStore {
            path,
            lock_timeout: std::time::Duration::ZERO,
        }
    }

    /// The same store, waiting up to `timeout` for a held lock.
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> StateStore {
        self.lock_timeout = timeout;
        self
    }

    /// Takes the lock, waiting up to the store's lock timeout while someone
    /// else holds it; then refused, naming the holder.
    pub fn lock(&self, operation: &str) -> Result<LockGuard, StoreError> {
        let deadline = std::time::Instant::now() + self.lock_timeout;
        loop {
            match self.try_lock(operation) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Takes the lock once: `<file>.lock` appears atomically with its
    /// holder already written (a temporary file hard-linked into place), so
    /// a refusal always names who holds it.
    fn try_lock(&self, operation: &str) -> Result<LockGuard, StoreError> {
        let path = self.lock_path();
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        }
        let info = LockInfo {
            holder: holder(),
            pid: std::process::id(),
            operation: operation.into(),
            since: crate::support::time::now_rfc3339(),
        };
        let tmp = self.sibling(&format!(".lock.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(&info).expect("lock info serialises");
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
            .map_err(io("cannot write", &tmp))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(LockGuard { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let info = self.lock_info().unwrap_or(LockInfo {
                    holder: "unknown".into(),
                    pid: 0,
                    operation: "unknown".into(),
                    since: "unknown".into(),
                });
                Err(StoreError::Locked {
                    path: self.display(),
                    info,
                })
            }
            Err(e) => Err(io("cannot create", &path)(e)),
        }
    }

    pub fn lock_info(&self) -> Option<LockInfo> {
        let text = std::fs::read_to_string(self.lock_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Removes the lock file; returns what it said.
    pub fn unlock(&self) -> Result<Option<LockInfo>, StoreError> {
        let info = self.lock_info();
        match std::fs::remove_file(self.lock_path()) {
            Ok(()) => Ok(Some(info.unwrap_or(LockInfo {
                holder: "unknown".into(),
                pid: 0,
                operation: "unknown".into(),
                since: "unknown".into(),
            }))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot remove", &self.lock_path())(e)),
        }
    }
}

/// `user@host` of this process: the user from the operating system (not
/// only `$USER`, which may be unset), the host name from the kernel.
fn holder() -> String {
    let user = whoami::username()
        .ok()
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let host = whoami::hostname()
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_atomic_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::locate(dir.path(), "p", "production", None);
        let mut s = store.load("p", "production").unwrap();
        assert_eq!(s.serial, 0);
        store.save(&mut s).unwrap();
        assert!(!store.backup_path().exists());
        store.save(&mut s).unwrap();
        let backup =
            format::read("b", &std::fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
        assert_eq!(store.load("p", "production").unwrap().serial, 2);
        let leftovers: Vec<_> = std::fs::read_dir(store.path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::locate(dir.path(), "p", "e", None);
        let guard = store.lock("apply").unwrap();
        let err = store.lock("plan").unwrap_err().to_string();
        assert!(
            err.contains("running `apply`") && err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(guard);
        assert!(store.lock("apply").is_ok());
    }

    #[test]
    fn a_lock_timeout_waits_for_the_holder_and_the_holder_is_never_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::locate(dir.path(), "p", "e", None);
        let guard = store.lock("apply").unwrap();
        let info = store.lock_info().unwrap();
        assert!(!info.holder.starts_with("unknown@"), "{info:?}");
        let waiting = store
            .clone()
            .with_lock_timeout(std::time::Duration::from_secs(10));
        let released = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(guard);
        });
        let started = std::time::Instant::now();
        assert!(waiting.lock("apply").is_ok());
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        released.join().unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".compartment/state/p"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
