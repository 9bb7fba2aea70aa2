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
    Locked { path: String, info: Box<LockInfo> },
    #[error(
        "the lock on {path} is held by {} (pid {}) running `{}` since {}, and that process is still running on this host; wait for it to finish, or pass `--force` to remove the lock anyway",
        .info.holder, .info.pid, .info.operation, .info.since
    )]
    HolderAlive { path: String, info: Box<LockInfo> },
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
    /// `user@host`.
    pub holder: String,
    pub pid: u32,
    pub operation: String,
    pub since: String,
    /// The host name alone (absent in locks written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The holder process's start time as the kernel reports it (clock
    /// ticks since boot on Linux), so that a reused pid is not taken for
    /// the holder.
    #[serde(
        rename = "processStart",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub process_start: Option<u64>,
}

impl LockInfo {
    fn unknown() -> LockInfo {
        LockInfo {
            holder: "unknown".into(),
            pid: 0,
            operation: "unknown".into(),
            since: "unknown".into(),
            host: None,
            process_start: None,
        }
    }

    /// True when the holder is a process of this host that still runs (the
    /// same pid with the same start time).
    pub fn is_alive_here(&self) -> bool {
        if self.pid == 0 || self.host.as_deref() != Some(hostname().as_str()) {
            return false;
        }
        if !process_exists(self.pid) {
            return false;
        }
        match (self.process_start, process_start(self.pid)) {
            (Some(recorded), Some(now)) => recorded == now,
            _ => true,
        }
    }
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

    /// The file the state really is: `path` with symlinks followed (also
    /// a dangling one, whose target is created on the first write) and its
    /// directory made canonical when it exists. Writes, the backup and the
    /// lock all live beside it, so two names for one state share one lock
    /// and a symlinked `--state` is written through to its target.
    pub fn real_path(&self) -> PathBuf {
        resolve(&self.path)
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.real_path().into_os_string();
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
        let real = self.real_path();
        let dir = real
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        if real.exists() {
            let backup = self.backup_path();
            self.keep_other_lineage(&backup, &state.lineage)?;
            let tmp = self.sibling(&format!(".backup.tmp-{}", std::process::id()));
            std::fs::copy(&real, &tmp).map_err(io("cannot copy", &real))?;
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
        std::fs::rename(&tmp, &real).map_err(io("cannot replace", &real))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A `.backup` of another lineage (the state file was deleted or
    /// replaced, and this is a new one) may be the last copy of the old
    /// lineage's sealed secrets: it is moved aside to
    /// `<file>.backup.<lineage>`, never overwritten.
    fn keep_other_lineage(&self, backup: &Path, lineage: &str) -> Result<(), StoreError> {
        let Ok(text) = std::fs::read_to_string(backup) else {
            return Ok(());
        };
        let theirs = lineage_of(&text);
        if theirs.as_deref().is_none_or(|l| l == lineage) {
            return Ok(());
        }
        let old = theirs.unwrap_or_default();
        let mut aside = self.sibling(&format!(".backup.{old}"));
        let mut n = 1;
        while aside.exists() {
            aside = self.sibling(&format!(".backup.{old}.{n}"));
            n += 1;
        }
        std::fs::rename(backup, &aside).map_err(io("cannot keep", backup))
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
        let pid = std::process::id();
        let info = LockInfo {
            holder: holder(),
            pid,
            operation: operation.into(),
            since: crate::support::time::now_rfc3339(),
            host: Some(hostname()),
            process_start: process_start(pid),
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
                let info = Box::new(self.lock_info().unwrap_or_else(LockInfo::unknown));
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

    /// Removes the lock file; returns what it said. A lock whose holder
    /// still runs on this host is refused unless `force`.
    pub fn unlock(&self, force: bool) -> Result<Option<LockInfo>, StoreError> {
        let info = self.lock_info();
        if let Some(info) = info.as_ref().filter(|i| !force && i.is_alive_here()) {
            return Err(StoreError::HolderAlive {
                path: self.display(),
                info: Box::new(info.clone()),
            });
        }
        match std::fs::remove_file(self.lock_path()) {
            Ok(()) => Ok(Some(info.unwrap_or_else(LockInfo::unknown))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot remove", &self.lock_path())(e)),
        }
    }
}

/// `user@host` of this process: the user from the operating system (not
/// only `$USER`, which may be unset), the host name from the kernel.
/// The lineage of a state file's text: read off the top-level key our
/// writer puts on a line of its own, else from the parsed document (a file
/// that is not a state has none, and is left alone).
fn lineage_of(text: &str) -> Option<String> {
    const KEY: &str = "\n  \"lineage\": \"";
    if let Some(at) = text.find(KEY) {
        let rest = &text[at + KEY.len()..];
        return rest.find('"').map(|end| rest[..end].to_string());
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("lineage")?.as_str().map(str::to_string)
}

fn holder() -> String {
    let user = whoami::username()
        .ok()
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", hostname())
}

/// The host name from the kernel.
fn hostname() -> String {
    whoami::hostname()
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process with this pid exists (signal 0 checks without
/// sending; EPERM means it exists but belongs to someone else).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for the process.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A process's start time (field 22 of `/proc/<pid>/stat`); `None` where
/// there is no procfs.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `path` with its symlinks followed (up to 40, as the kernel does) and
/// its existing directory canonical.
fn resolve(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(target) => {
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                }
            }
            Err(_) => break,
        }
    }
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return p;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match std::fs::canonicalize(dir) {
        Ok(d) => d.join(name),
        Err(_) => p,
    }
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
    fn a_backup_of_another_lineage_is_moved_aside_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::at(dir.path().join("s.json"));
        let mut old = State::new("p", "e");
        store.save(&mut old).unwrap();
        store.save(&mut old).unwrap(); // .backup now holds the old lineage
        std::fs::remove_file(store.real_path()).unwrap();
        let mut new = State::new("p", "e");
        assert_ne!(old.lineage, new.lineage);
        store.save(&mut new).unwrap();
        store.save(&mut new).unwrap();
        let aside = dir.path().join(format!("s.json.backup.{}", old.lineage));
        let kept = format::read("a", &std::fs::read_to_string(&aside).unwrap()).unwrap();
        assert_eq!(
            (kept.lineage.as_str(), kept.serial),
            (old.lineage.as_str(), 1)
        );
        let backup =
            format::read("b", &std::fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.lineage, new.lineage);
        assert_eq!(lineage_of("{\"lineage\": \"x\"}").as_deref(), Some("x"));
        assert_eq!(lineage_of("not json"), None);
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
