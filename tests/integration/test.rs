//! A small builder that runs the real binary and asserts its whole output.
//! Golden files are compared byte for byte; `UPDATE_GOLDEN=1` rewrites them.

// Not every helper is used by every test module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

pub struct Test {
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    status: Option<i32>,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    /// Runs in `dir` (the directory of the project under test).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Test {
            args: Vec::new(),
            dir: dir.as_ref().to_path_buf(),
            env: Vec::new(),
            stdin: None,
            status: Some(0),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn stdin(mut self, s: &str) -> Self {
        self.stdin = Some(s.into());
        self
    }

    /// Expected exit status (default 0); `None` accepts any.
    pub fn status(mut self, s: impl Into<Option<i32>>) -> Self {
        self.status = s.into();
        self
    }

    pub fn run(self) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_compartment"));
        cmd.args(&self.args).current_dir(&self.dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("COMPARTMENT_") && k != "COMPARTMENT_REQUIRE_DOCKER" {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("NO_COLOR");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn compartment");
        if let Some(input) = &self.stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("wait");
        let run = Run {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        if let Some(expected) = self.status {
            assert_eq!(
                run.status,
                expected,
                "`compartment {}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
                self.args.join(" "),
                run.status,
                run.stdout,
                run.stderr
            );
        }
        run
    }
}

/// Compares `actual` with the golden file; `UPDATE_GOLDEN=1` rewrites it.
/// Returns a description of the mismatch instead of panicking, so callers
/// can collect every mismatch of a corpus before failing.
pub fn golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).expect("write golden");
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string();
    Err(format!("{} differs:\n{diff}", path.display()))
}

pub fn assert_golden(path: &Path, actual: &str) {
    if let Err(e) = golden(path, actual) {
        panic!("{e}");
    }
}
