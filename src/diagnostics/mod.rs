//! Diagnostics: every problem found in a descriptor, with its file, position,
//! YAML path, message and fix, and the one place where they are rendered (as
//! annotated source text or as JSON).

mod render;

pub use render::{render_json, render_text};

use serde::Serialize;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is. Errors sort before warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A position in a loaded source file: index into [`Sources`], 1-based line
/// and column, and the length of the offending token in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: usize,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case identifier, documented in docs/descriptors.md.
    pub code: &'static str,
    pub loc: Option<Loc>,
    /// Dotted YAML path, e.g. `resources.db.volumes.data`.
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

/// Every diagnostic code, each documented (meaning and fix) in
/// docs/descriptors.md and exercised by a case in fixtures/broken or
/// fixtures/warnings. Creating a diagnostic with another code is a bug
/// (checked in debug builds).
pub const CODES: &[&str] = &[
    // The files themselves and YAML.
    "unreadable-file",
    "not-utf8",
    "nul-byte",
    "file-too-large",
    "outside-project",
    "yaml-syntax",
    "multiple-documents",
    "duplicate-key",
    "complex-key",
    // Shape of the descriptors.
    "unknown-field",
    "missing-field",
    "wrong-type",
    "out-of-range",
    "misplaced-field",
    // compartment.yml.
    "invalid-name",
    "duplicate-name",
    "preset-field",
    "unknown-preset",
    "unknown-generator",
    "unknown-encoding",
    "relative-volume-path",
    "invalid-volume",
    "invalid-mount",
    "invalid-env-key",
    "unknown-readiness",
    "readiness-field",
    "invalid-duration",
    "invalid-remote",
    "invalid-backup-target",
    "unknown-orchestrator",
    "invalid-registry",
    "missing-registry",
    "invalid-image",
    "removed-declared",
    "unknown-restart",
    "schedule-conflict",
    "invalid-cron",
    "unknown-interval",
    "env-shadows-generated",
    "invalid-placeholder",
    "unknown-env-key",
    "unknown-resource",
    "unknown-output",
    "connection-conflict",
    "connection-in-build",
    "missing-path",
    "missing-dockerfile",
    // platz/resources.yaml.
    "unknown-api-version",
    "unknown-kind",
    "unknown-input-type",
    "invalid-range",
    "invalid-path",
    "invalid-output",
    "secrets-not-applicable",
    "unknown-role",
    "unknown-endpoint",
    "unknown-method",
    "hook-without-ingress",
    // .compartment/access.yml.
    "empty-access-file",
    "redefined-role",
    "unknown-permission",
    // Instances and cross-file references.
    "unknown-type",
    "unknown-input",
    "unknown-instance",
    "wrong-instance-type",
    "missing-value",
    "invalid-value",
    "instance-cycle",
    // Warnings.
    "readiness-port",
    "global-type",
];

impl Diagnostic {
    pub fn error(
        code: &'static str,
        loc: Option<Loc>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        debug_assert!(
            CODES.contains(&code),
            "undocumented diagnostic code `{code}`"
        );
        Diagnostic {
            severity: Severity::Error,
            code,
            loc,
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(
        code: &'static str,
        loc: Option<Loc>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        debug_assert!(
            CODES.contains(&code),
            "undocumented diagnostic code `{code}`"
        );
        Diagnostic {
            severity: Severity::Warning,
            code,
            loc,
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The source files a run loaded, so diagnostics can quote them.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown to the user (relative to the working directory when possible).
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> usize {
        let name = crate::support::paths::display_path(path);
        self.files.push(SourceFile {
            name,
            path: path.to_path_buf(),
            text,
        });
        self.files.len() - 1
    }

    pub fn get(&self, id: usize) -> &SourceFile {
        &self.files[id]
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }
}

/// The diagnostics of one run, collected from every stage.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// `2 errors, 1 warning`: the closing line of a report.
    pub fn summary(&self) -> String {
        let plural = |n: usize, w: &str| {
            if n == 1 {
                format!("1 {w}")
            } else {
                format!("{n} {w}s")
            }
        };
        format!(
            "{}, {}",
            plural(self.error_count(), "error"),
            plural(self.warning_count(), "warning")
        )
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Errors before warnings, then by file, line and column; exact
    /// duplicates removed.
    pub fn sorted(&self, sources: &Sources) -> Vec<Diagnostic> {
        let mut items = self.items.clone();
        items.sort_by(|a, b| {
            let file = |d: &Diagnostic| d.loc.map(|l| sources.get(l.file).name.clone());
            (
                a.severity,
                file(a),
                a.loc.map(|l| (l.line, l.col)),
                &a.path,
                &a.message,
            )
                .cmp(&(
                    b.severity,
                    file(b),
                    b.loc.map(|l| (l.line, l.col)),
                    &b.path,
                    &b.message,
                ))
        });
        items.dedup();
        items
    }
}

/// "did you mean" for a misspelt name, if one of the candidates is close.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}
