//! Running scheduled backups (`backup run-due`, `scheduler`), verifying
//! them when the schedule says `verify: true`, and applying retention
//! afterwards: a cleaned backup loses its artifact directory but keeps its
//! record, marked `deleted` with when and why.

use super::backup::{self, OpContext};
use super::error::OpsError;
use super::{copies, retention, schedule};
use crate::apply::steps::Shared;
use crate::descriptor::model::ResourceDef;
use crate::state::secrets::SecretKey;

type Result<T, E = OpsError> = std::result::Result<T, E>;
use crate::state::store::StateStore;
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Each scheduled backup that ran and succeeded.
    pub ran: Vec<Ran>,
    /// Each scheduled backup that was due but failed (or whose schedule is
    /// unusable).
    pub failed: Vec<Failed>,
    /// Each scheduled backup verified green after it was taken.
    pub verified: Vec<Ran>,
    /// Each scheduled backup whose verification failed (recorded on it).
    #[serde(rename = "verifyFailed")]
    pub verify_failed: Vec<BackupFailed>,
    /// Each record retention cleaned.
    pub cleaned: Vec<Cleaned>,
    /// Each copy made to a backup target (new backups, and retries of
    /// copies that failed before).
    pub copied: Vec<Copied>,
    /// Each copy that failed (recorded on the backup, which retention then
    /// keeps).
    #[serde(rename = "copyFailed")]
    pub copy_failed: Vec<Copied>,
    /// Each record retention selected but kept because deleting one of its
    /// copies failed.
    #[serde(rename = "cleanFailed")]
    pub clean_failed: Vec<BackupFailed>,
}

impl Report {
    /// Whether anything failed: `backup run-due` then exits non-zero.
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty()
            || !self.verify_failed.is_empty()
            || !self.copy_failed.is_empty()
            || !self.clean_failed.is_empty()
    }

    fn copies(&mut self, resource: &str, backup: &str, made: Vec<crate::state::BackupCopy>) {
        for c in made {
            let row = Copied {
                resource: resource.into(),
                backup: backup.into(),
                target: c.target,
                url: c.url,
                error: c.error,
            };
            match row.error.is_some() {
                true => self.copy_failed.push(row),
                false => self.copied.push(row),
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Copied {
    pub resource: String,
    pub backup: String,
    pub target: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A backup one step of a run failed for: its verification, or the
/// deletion of one of its copies.
#[derive(Debug, Serialize)]
pub struct BackupFailed {
    pub resource: String,
    pub backup: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Ran {
    pub resource: String,
    pub backup: String,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub resource: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Cleaned {
    pub resource: String,
    pub backup: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSummary {
    pub resource: String,
    pub schedule: Option<String>,
    pub last_scheduled_run: Option<String>,
    pub retention_cleaned: u64,
    /// The newest backup of the resource that passed verification.
    pub last_verified: Option<LastVerified>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastVerified {
    pub backup: String,
    pub verified_at: String,
}

/// The newest backup of `resource` (by start time) whose last
/// verification passed.
fn last_verified(state: &State, resource: &str) -> Option<LastVerified> {
    state
        .backups
        .iter()
        .filter(|b| b.resource == resource && b.verify_status.as_deref() == Some("passed"))
        .filter_map(|b| Some((parse(&b.started_at)?, b)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, b)| LastVerified {
            backup: b.id.clone(),
            verified_at: b.verified_at.clone().unwrap_or_default(),
        })
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The schedule line of `backup list` for each deployed resource.
pub fn summaries(
    declared: &BTreeMap<String, ResourceDef>,
    state: &State,
    only: Option<&str>,
) -> Vec<ScheduleSummary> {
    state
        .resources
        .keys()
        .filter(|n| only.is_none_or(|o| o == n.as_str()))
        .map(|n| {
            let sched = state.schedules.get(n);
            ScheduleSummary {
                resource: n.clone(),
                schedule: backup::operations_in_force(declared, state, n)
                    .and_then(|ops| ops.backup)
                    .as_ref()
                    .and_then(|b| b.schedule.as_ref())
                    .map(schedule::describe),
                last_scheduled_run: sched.and_then(|s| s.last_scheduled_run.clone()),
                retention_cleaned: sched.map(|s| s.retention_cleaned).unwrap_or(0),
                last_verified: last_verified(state, n),
            }
        })
        .collect()
}

/// Runs every due scheduled backup once (verifying it when asked), then
/// retention for every resource.
pub async fn run_due(
    shared: &Shared,
    store: &StateStore,
    state: &mut State,
    now: DateTime<Utc>,
) -> Result<Report> {
    let declared = &shared.project.compartment.resources;
    let cx = &OpContext {
        docker: &shared.docker,
        project: shared.project_name(),
        env: &shared.env,
        key: &shared.key,
        backup_key: Some(SecretKey::load_or_create_of(crate::state::secrets::BACKUP)?),
    };
    let mut report = Report::default();
    let project = shared.project_name();
    let targets = copies::targets(&shared.project.compartment, &shared.env);
    let names: Vec<String> = state.resources.keys().cloned().collect();
    for name in &names {
        let Some((sched, verify)) = backup::operations_in_force(declared, state, name)
            .and_then(|ops| ops.backup)
            .and_then(|b| b.schedule.clone().map(|s| (s, b.verify_scheduled)))
        else {
            continue;
        };
        let last = state
            .schedules
            .get(name)
            .and_then(|s| s.last_scheduled_run.as_deref())
            .and_then(parse);
        let created = state.resources[name]
            .applied
            .applied_at
            .as_deref()
            .and_then(parse)
            .unwrap_or(now);
        match schedule::is_due(&sched, last, created, now) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                report.failed.push(Failed {
                    resource: name.clone(),
                    error: e.to_string(),
                });
                continue;
            }
        }
        state
            .schedules
            .entry(name.clone())
            .or_default()
            .last_scheduled_run = Some(crate::support::time::format_time(now));
        match backup::create(cx, declared, store, state, name, "scheduled", now).await {
            Ok(r) => {
                report.ran.push(Ran {
                    resource: name.clone(),
                    backup: r.id.clone(),
                });
                if verify {
                    verify_one(shared, store, state, name, &r.id, now, &mut report).await?;
                }
                let made = copies::copy(&targets, store, state, project, &r.id, false, now).await?;
                report.copies(name, &r.id, made);
            }
            Err(e) => report.failed.push(Failed {
                resource: name.clone(),
                error: e.to_string(),
            }),
        }
    }
    retry_copies(&targets, store, state, project, now, &mut report).await?;
    for name in &names {
        let Some(ret) = backup::operations_in_force(declared, state, name)
            .and_then(|ops| ops.backup)
            .and_then(|b| b.retention.clone())
        else {
            continue;
        };
        let selected = retention::select(&state.backups, name, &ret, now);
        for (id, reason) in selected {
            // The copies go first: a copy that cannot be deleted keeps the
            // whole backup (and says so), never a copy without its record.
            match copies::delete(store, state, &id, now).await {
                Ok(()) => {}
                Err(e @ OpsError::Store(_)) => return Err(e),
                Err(e) => {
                    report.clean_failed.push(BackupFailed {
                        resource: name.clone(),
                        backup: id,
                        error: e.to_string(),
                    });
                    continue;
                }
            }
            if let Some(rec) = state.backups.iter_mut().find(|b| b.id == id) {
                let dir = backup::artifact_path(&backup::backup_root()?, rec)?;
                if dir.is_dir() {
                    std::fs::remove_dir_all(&dir).map_err(|source| OpsError::RetentionDelete {
                        path: dir.clone(),
                        source,
                    })?;
                }
                retention::mark_deleted(rec, &reason, now);
                state
                    .schedules
                    .entry(name.clone())
                    .or_default()
                    .retention_cleaned += 1;
                report.cleaned.push(Cleaned {
                    resource: name.clone(),
                    backup: id,
                    reason,
                });
            }
        }
    }
    store.save(state)?;
    Ok(report)
}

/// Copies again every backup whose copy to a declared target failed
/// before (and whose local artifacts are still there).
async fn retry_copies(
    targets: &BTreeMap<String, crate::descriptor::model::BackupTargetDef>,
    store: &StateStore,
    state: &mut State,
    project: &str,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    // Not the backups this run took: their copies were just attempted.
    let fresh: Vec<&str> = report.ran.iter().map(|r| r.backup.as_str()).collect();
    let pending: Vec<(String, String)> = state
        .backups
        .iter()
        .filter(|b| b.status == "succeeded" && !fresh.contains(&b.id.as_str()))
        .filter(|b| {
            b.copies
                .iter()
                .any(|c| c.status == copies::FAILED && targets.contains_key(&c.target))
        })
        .map(|b| (b.id.clone(), b.resource.clone()))
        .collect();
    for (id, resource) in pending {
        let made = copies::copy(targets, store, state, project, &id, true, now).await?;
        report.copies(&resource, &id, made);
    }
    Ok(())
}

/// Verifies a scheduled backup just taken; a failed verification goes to
/// the report (and is recorded on the backup), a broken state stops.
#[allow(clippy::too_many_arguments)]
async fn verify_one(
    shared: &Shared,
    store: &StateStore,
    state: &mut State,
    resource: &str,
    id: &str,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    match super::verify::verify(shared, store, state, id, None, now).await {
        Ok(_) => report.verified.push(Ran {
            resource: resource.into(),
            backup: id.into(),
        }),
        Err(e @ OpsError::Store(_)) => return Err(e),
        Err(OpsError::VerifyFailed { reason, .. }) => report.verify_failed.push(BackupFailed {
            resource: resource.into(),
            backup: id.into(),
            error: reason,
        }),
        Err(e) => report.verify_failed.push(BackupFailed {
            resource: resource.into(),
            backup: id.into(),
            error: e.to_string(),
        }),
    }
    Ok(())
}
