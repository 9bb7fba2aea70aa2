//! Tests against the real Docker engine: the `docker` CLI, the offline test
//! images, a unique project per test, and a guard that removes every
//! container, volume, network and image the test's project created, even
//! when the test fails. Whether an engine answers is asked once, by
//! [`crate::harness`].

use crate::test::Test;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, e.to_string()),
    }
}

pub fn docker_ok(args: &[&str]) -> String {
    let (ok, out) = docker(args);
    assert!(ok, "docker {} failed: {out}", args.join(" "));
    out
}

static IMAGES: std::sync::Once = std::sync::Once::new();

/// The offline test images exist (built once by scripts/build-test-images.sh
/// when one is missing, so `cargo test` works on a fresh machine).
pub fn ensure_images() {
    IMAGES.call_once(|| {
        let missing = [
            "compartment-test/busybox:1",
            "compartment-test/debian:12",
            "compartment-test/postgres:16",
            "postgres:16-alpine",
        ]
        .iter()
        .any(|i| !docker(&["image", "inspect", i]).0);
        if missing {
            let status = Command::new("bash")
                .arg(crate::test::repo().join("scripts/build-test-images.sh"))
                .status()
                .expect("run scripts/build-test-images.sh");
            assert!(status.success(), "scripts/build-test-images.sh failed");
        }
    });
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A copy of a fixture project with its own project name, key and config
/// directory; everything it created in the engine is removed on drop.
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Project {
    pub fn new(fixture: &str) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        copy_dir(&crate::test::fixture(fixture), &dir);
        std::fs::create_dir_all(tmp.path().join("config")).unwrap();
        let name = format!(
            "t{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        Project {
            name,
            dir,
            _tmp: tmp,
        }
    }

    /// The binary on this project, with its key and config directory; its
    /// outputs are compared with the temporary directory as `[TMP]` and the
    /// project name as `[PROJECT]`.
    pub fn cmd<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, args: I) -> Test {
        Test::new(&self.dir)
            .args(["--project", &self.name])
            .args(args)
            .env("COMPARTMENT_SECRET_KEY", "integration-test-key")
            .env("COMPARTMENT_BACKUP_KEY", "integration-test-backup-key")
            .env(
                "XDG_CONFIG_HOME",
                self._tmp.path().join("config").to_str().unwrap(),
            )
            .replace(self._tmp.path().to_str().unwrap(), "[TMP]")
            .replace(&self.name, "[PROJECT]")
    }

    /// `text` normalised as [`Project::cmd`] normalises its outputs: for
    /// the outputs of a [`Project::spawn`]ed process.
    pub fn normalize(&self, text: &str) -> String {
        crate::test::normalize(
            text,
            &[
                (self._tmp.path().to_str().unwrap().into(), "[TMP]".into()),
                (self.name.clone(), "[PROJECT]".into()),
            ],
        )
    }

    /// A per-test absolute backup directory (created on first use).
    pub fn backup_dir(&self) -> PathBuf {
        let d = self._tmp.path().join("backups");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `cmd` with `COMPARTMENT_RESOURCE_BACKUP_DIR` set to `backup_dir()`.
    pub fn ops<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, args: I) -> Test {
        self.cmd(args).env(
            "COMPARTMENT_RESOURCE_BACKUP_DIR",
            self.backup_dir().to_str().unwrap(),
        )
    }

    /// The plaintext of the backup artifact `file` of backup `id`: decrypted
    /// with the backup key [`Project::cmd`] passes, as a restore does (or
    /// as it is, for a plaintext artifact).
    pub fn artifact(&self, id: &str, file: &str) -> Vec<u8> {
        use compartment::ops::artifacts;
        let path = self.backup_dir().join(id).join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !bytes.starts_with(artifacts::MAGIC) {
            return bytes;
        }
        let key = compartment::state::secrets::SecretKey::from_text("integration-test-backup-key");
        let aad = artifacts::binding(id, std::path::Path::new(file));
        let mut out = Vec::new();
        artifacts::decrypt(&key, &aad, &mut &bytes[..], &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out
    }

    /// The file `member` of the tar artifact `file` of backup `id`.
    pub fn artifact_member(&self, id: &str, file: &str, member: &str) -> String {
        let tar = self.artifact(id, file);
        let mut archive = tar::Archive::new(&tar[..]);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_string_lossy() == member {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                return text;
            }
        }
        panic!("no {member} in {file} of {id}")
    }

    /// The append-only audit log beside the state file.
    pub fn audit_path(&self) -> PathBuf {
        let mut p = self.state_path().into_os_string();
        p.push(".audit.jsonl");
        PathBuf::from(p)
    }

    /// The binary on this project as a child process (stdin piped and kept
    /// open, stdout and stderr collected as they come), for tests that
    /// interrupt it.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_compartment"))
            .args(["--project", &self.name])
            .args(args)
            .current_dir(&self.dir)
            .env("COMPARTMENT_SECRET_KEY", "integration-test-key")
            .env("COMPARTMENT_BACKUP_KEY", "integration-test-backup-key")
            .env("XDG_CONFIG_HOME", self._tmp.path().join("config"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn compartment");
        Running::new(child)
    }

    pub fn container(&self, name: &str) -> String {
        format!("cmpt-{}-production-{name}", self.name)
    }

    pub fn network(&self) -> String {
        format!("cmpt-{}-production", self.name)
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir
            .join(".compartment/state")
            .join(&self.name)
            .join("production.json")
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let p = self.dir.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }

    /// `docker inspect -f FORMAT NAME`.
    pub fn inspect(&self, container: &str, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.container(container)])
            .trim()
            .to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let label = format!("label=io.compartment.project={}", self.name);
        let (_, ids) = docker(&["ps", "-aq", "--filter", &label]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            docker(&args);
        }
        let (_, vols) = docker(&["volume", "ls", "-q", "--filter", &label]);
        for v in vols.split_whitespace() {
            docker(&["volume", "rm", "-f", v]);
        }
        let (_, nets) = docker(&["network", "ls", "-q", "--filter", &label]);
        for n in nets.split_whitespace() {
            docker(&["network", "rm", n]);
        }
        let (_, images) = docker(&["images", "-q", "--filter", &label]);
        for i in images.split_whitespace() {
            // Without pruning its parents: they are build cache other
            // tests' builds of the same context may be using right now
            // (deleting one fails their build with "failed to get digest").
            docker(&["rmi", "-f", "--no-prune", i]);
        }
    }
}

/// Sends SIGINT (Ctrl-C) to a process.
pub fn interrupt(pid: u32) {
    send_signal(pid, "INT");
}

/// Sends a signal (`INT`, `TERM`, `HUP`, `KILL`) to a process.
pub fn send_signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{name} {pid}");
}

/// A running `compartment` whose stdout and stderr are read as they come
/// (partial lines too, e.g. a prompt), so a test can wait for the output
/// that marks the moment it means instead of sleeping.
pub struct Running {
    child: Option<std::process::Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// What a finished [`Running`] left: its exit code and whole outputs.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Running {
    fn new(mut child: std::process::Child) -> Running {
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Running {
            child: Some(child),
            stdout,
            stderr,
            readers,
        }
    }

    /// Waits (up to `secs`) until stdout contains `needle`; panics with
    /// both outputs so far when it does not come.
    pub fn wait_for_stdout(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.stdout.lock().unwrap().contains(needle) {
            if Instant::now() > deadline {
                panic!(
                    "no {needle:?} on stdout within {secs}s\n--- stdout\n{}\n--- stderr\n{}",
                    self.stdout.lock().unwrap(),
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends Ctrl-C.
    pub fn interrupt(&self) {
        interrupt(self.child.as_ref().expect("running").id());
    }

    /// Sends the signal `name` (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        send_signal(self.child.as_ref().expect("running").id(), name);
    }

    /// Waits for the exit and for all its output. Stdin stays open until
    /// the process has exited: closed earlier, a prompt would read the end
    /// of its input and race the interrupt the test sent.
    pub fn finish(mut self) -> Finished {
        let mut child = self.child.take().expect("running");
        let stdin = child.stdin.take();
        let status = child.wait().expect("wait for compartment");
        drop(stdin);
        for r in self.readers.drain(..) {
            r.join().expect("output reader");
        }
        let take = |s: &Arc<Mutex<String>>| std::mem::take(&mut *s.lock().unwrap());
        Finished {
            code: status.code(),
            stdout: take(&self.stdout),
            stderr: take(&self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Appends everything `from` yields to `into`, chunk by chunk.
fn collect(
    mut from: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut pending = Vec::new();
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            // Keep an incomplete UTF-8 sequence for the next chunk.
            let valid = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(e) => e.valid_up_to(),
            };
            into.lock()
                .unwrap()
                .push_str(std::str::from_utf8(&pending[..valid]).unwrap());
            pending.drain(..valid);
        }
        into.lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&pending));
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() == ".compartment" {
                continue;
            }
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
