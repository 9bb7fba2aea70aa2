//! The append-only audit log of sensitive reads: one JSON object per line
//! (JSON Lines) in `<state file>.audit.jsonl` beside the state file.
//!
//! "--reveal prints plaintext and records a sensitive access audit event."
//! An event says who revealed which output of which resource, where and
//! when, and never the value: `AuditEvent` has no field that could hold it.
//!
//! Appending opens the file in append mode (never truncating, creating it
//! when missing), writes the whole line with one write and fsyncs before
//! returning, so a reveal is only printed after its event is on disk. A
//! file whose last line lacks its newline (a crash or a hand edit) gets one
//! first, so the new event stays on a line of its own.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The action recorded by `resource output show --reveal`.
pub const OUTPUT_REVEAL: &str = "output.reveal";
/// The action recorded by `resource backup export`.
pub const BACKUP_EXPORT: &str = "backup.export";

/// One audited access. Deliberately without a value field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub environment: String,
    pub project: String,
    /// What happened, e.g. `output.reveal`.
    pub action: String,
    pub resource: String,
    /// The output revealed (`output.reveal`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// The backup exported (`backup.export`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

impl AuditEvent {
    /// The event for revealing a sensitive resource output.
    pub fn output_reveal(
        at: DateTime<Utc>,
        actor: &str,
        environment: &str,
        project: &str,
        resource: &str,
        output: &str,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.into(),
            environment: environment.into(),
            project: project.into(),
            action: OUTPUT_REVEAL.into(),
            resource: resource.into(),
            output: output.into(),
            backup: None,
        }
    }

    /// The event for exporting a backup's artifacts in plaintext.
    pub fn backup_export(
        at: DateTime<Utc>,
        actor: &str,
        (environment, project): (&str, &str),
        resource: &str,
        backup: &str,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.into(),
            environment: environment.into(),
            project: project.into(),
            action: BACKUP_EXPORT.into(),
            resource: resource.into(),
            output: String::new(),
            backup: Some(backup.into()),
        }
    }
}

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("cannot {what} the audit log {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the audit log {path} has an unreadable event on line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The audit log beside a state file: `<state file>.audit.jsonl`.
pub fn audit_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_os_string();
    name.push(".audit.jsonl");
    PathBuf::from(name)
}

/// Appends one event and fsyncs it. Existing content is never touched.
pub fn append(path: &Path, event: &AuditEvent) -> Result<(), AuditError> {
    let io = |what: &'static str| {
        move |source| AuditError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create the directory of"))?;
    let created = !path.exists();

    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("open"))?;

    let mut line = serde_json::to_string(event).expect("an audit event serialises");
    line.push('\n');
    let len = f.metadata().map_err(io("read"))?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1)).map_err(io("read"))?;
        f.read_exact(&mut last).map_err(io("read"))?;
        if last[0] != b'\n' {
            line.insert(0, '\n');
        }
    }
    // Append mode: the write goes to the end whatever the cursor says.
    f.write_all(line.as_bytes()).map_err(io("append to"))?;
    f.sync_all().map_err(io("sync"))?;
    if created {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// All events, oldest first. A missing log has none; blank lines are
/// skipped.
pub fn read(path: &Path) -> Result<Vec<AuditEvent>, AuditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::Io {
                what: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AuditError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::time::parse_time;

    fn event(at: &str, actor: &str, output: &str) -> AuditEvent {
        AuditEvent::output_reveal(
            parse_time(at).unwrap(),
            actor,
            "production",
            "internal-tools",
            "db",
            output,
        )
    }

    #[test]
    fn the_log_sits_beside_the_state_file() {
        assert_eq!(
            audit_path(Path::new(".compartment/production.state.json")),
            Path::new(".compartment/production.state.json.audit.jsonl")
        );
        assert_eq!(
            audit_path(Path::new("state")),
            Path::new("state.audit.jsonl")
        );
    }

    #[test]
    fn two_appends_give_two_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = audit_path(&dir.path().join("nested/state.json"));
        assert!(read(&path).unwrap().is_empty());
        let a = event("2026-11-23T02:00:00Z", "alice", "connection-url");
        let b = event("2026-11-23T02:00:01Z", "bob", "password");
        append(&path, &a).unwrap();
        append(&path, &b).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert_eq!(read(&path).unwrap(), [a.clone(), b]);
        // Exactly the documented fields: nothing that could carry a value.
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys = keys;
        keys.sort();
        assert_eq!(
            keys,
            [
                "action",
                "actor",
                "at",
                "environment",
                "output",
                "project",
                "resource"
            ]
        );
        assert_eq!(v["action"], "output.reveal");
        assert_eq!(v["at"], "2026-11-23T02:00:00Z");
    }

    #[test]
    fn existing_content_is_preserved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json.audit.jsonl");
        let first = event("2026-11-20T10:00:00Z", "carol", "connection-url");
        let old = serde_json::to_string(&first).unwrap();
        // An older line, without its trailing newline.
        std::fs::write(&path, &old).unwrap();
        let next = event("2026-11-23T02:00:00Z", "alice", "connection-url");
        append(&path, &next).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{old}\n")), "{text}");
        assert_eq!(read(&path).unwrap(), [first.clone(), next.clone()]);
        append(&path, &next).unwrap();
        assert_eq!(read(&path).unwrap(), [first, next.clone(), next]);
    }

    #[test]
    fn unreadable_lines_are_reported_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let ok = serde_json::to_string(&event("2026-11-23T02:00:00Z", "a", "o")).unwrap();
        std::fs::write(&path, format!("{ok}\n\n{{not json\n")).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("a.jsonl"), "{e}");
    }
}
