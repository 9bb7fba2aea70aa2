//! A small builder that runs the real binary and asserts its whole output,
//! in the manner of casey/just's `Test`: [`Test::run`] expects stdout and
//! stderr to be exactly what the test set (each empty unless set), after
//! normalising what legitimately varies (see [`normalize`]);
//! [`Test::output`] only checks the status and hands both streams back, for
//! tests that parse them or compare them with a golden file. Golden files
//! are compared byte for byte; `UPDATE_GOLDEN=1` rewrites them.

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
    stdout: String,
    stderr: String,
    stdout_unordered: bool,
    replacements: Vec<(String, String)>,
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
            stdout: String::new(),
            stderr: String::new(),
            stdout_unordered: false,
            replacements: Vec::new(),
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

    /// The whole stdout [`Test::run`] expects, after normalising.
    pub fn stdout(mut self, s: &str) -> Self {
        self.stdout = s.into();
        self
    }

    /// Compares stdout as a sorted list of lines: for output whose lines
    /// are printed by parallel steps in no fixed order.
    pub fn stdout_unordered(mut self, s: &str) -> Self {
        self.stdout = s.into();
        self.stdout_unordered = true;
        self
    }

    /// The whole stderr [`Test::run`] expects, after normalising.
    pub fn stderr(mut self, s: &str) -> Self {
        self.stderr = s.into();
        self
    }

    /// Before comparing, replaces `from` (e.g. a unique project name or a
    /// temporary directory) with `to` (e.g. `[PROJECT]`) in both outputs.
    pub fn replace(mut self, from: &str, to: &str) -> Self {
        self.replacements.push((from.into(), to.into()));
        self
    }

    /// Runs and asserts the status and the whole of stdout and stderr
    /// (each empty unless set), normalised; returns the raw outputs.
    pub fn run(self) -> Run {
        let expected_stdout = self.stdout.clone();
        let expected_stderr = self.stderr.clone();
        let unordered = self.stdout_unordered;
        let replacements = self.replacements.clone();
        let command = format!("compartment {}", self.args.join(" "));
        let run = self.output();
        let mut stdout = normalize(&run.stdout, &replacements);
        let mut want = expected_stdout;
        if unordered {
            stdout = sorted_lines(&stdout);
            want = sorted_lines(&want);
        }
        let stderr = normalize(&run.stderr, &replacements);
        let mut wrong = String::new();
        if stdout != want {
            wrong.push_str(&diff("stdout", &want, &stdout));
        }
        if stderr != expected_stderr {
            wrong.push_str(&diff("stderr", &expected_stderr, &stderr));
        }
        assert!(wrong.is_empty(), "`{command}`: output differs\n{wrong}");
        run
    }

    /// Runs and asserts only the status; the outputs are the caller's.
    pub fn output(self) -> Run {
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

fn diff(stream: &str, expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header(&format!("expected {stream}"), &format!("actual {stream}"))
        .to_string();
    format!("{diff}--- whole actual {stream}\n{actual}\n")
}

/// Panics with a diff unless `actual` is `expected`: for outputs that do not
/// come from [`Test::run`] (e.g. a process a test interrupted).
pub fn assert_text(what: &str, expected: &str, actual: &str) {
    assert!(
        expected == actual,
        "{what} differs\n{}",
        diff(what, expected, actual)
    );
}

/// The lines of `s`, sorted: to compare output whose lines parallel steps
/// print in no fixed order.
fn sorted_lines(s: &str) -> String {
    let mut lines: Vec<&str> = s.lines().collect();
    lines.sort_unstable();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What legitimately varies between runs, replaced by a placeholder: first
/// the test's own literal replacements (project name, temporary
/// directories), then step durations (`(1.2s)`, `in 0.3s` → `[TIME]`),
/// RFC 3339 timestamps (`[TIMESTAMP]`), UUIDs such as lineages (`[UUID]`),
/// container or image ids (64 or 12 hex digits → `[ID]`), a plan header's
/// short lineage (`lineage [LINEAGE]`), image tags' context hashes
/// (`:[HASH]`) and container addresses (`[IP]`).
pub fn normalize(text: &str, replacements: &[(String, String)]) -> String {
    use regex::Regex;
    use std::sync::LazyLock;
    static RULES: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r"\(\d+\.\ds\)", "([TIME])"),
            (r"\bin \d+\.\ds\b", "in [TIME]"),
            (
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
                "[TIMESTAMP]",
            ),
            (
                r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "[UUID]",
            ),
            (r"\b(sha256:)?([0-9a-f]{64}|[0-9a-f]{12})\b", "[ID]"),
            (r"\blineage [0-9a-f]{8}\b", "lineage [LINEAGE]"),
            (r":[0-9a-f]{16}\b", ":[HASH]"),
            (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "[IP]"),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).expect("normaliser"), to))
        .collect()
    });
    let mut text = text.to_string();
    for (from, to) in replacements {
        text = text.replace(from.as_str(), to);
    }
    for (re, to) in RULES.iter() {
        text = re.replace_all(&text, *to).into_owned();
    }
    text
}
