//! Running scheduled backups (`backup run-due`, `scheduler`) and applying
//! retention afterwards: a cleaned backup loses its artifact directory but
//! keeps its record, marked `deleted` with when and why.

use super::backup::{self, OpContext};
use super::error::OpsError;
use super::{retention, schedule};
use crate::descriptor::model::ResourceDef;

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
    /// Each record retention cleaned.
    pub cleaned: Vec<Cleaned>,
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
            }
        })
        .collect()
}

/// Runs every due scheduled backup once, then retention for every resource.
pub async fn run_due(
    cx: &OpContext<'_>,
    declared: &BTreeMap<String, ResourceDef>,
    store: &StateStore,
    state: &mut State,
    now: DateTime<Utc>,
) -> Result<Report> {
    let mut report = Report::default();
    let names: Vec<String> = state.resources.keys().cloned().collect();
    for name in &names {
        let Some(sched) = backup::operations_in_force(declared, state, name)
            .and_then(|ops| ops.backup)
            .and_then(|b| b.schedule.clone())
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
            Ok(r) => report.ran.push(Ran {
                resource: name.clone(),
                backup: r.id,
            }),
            Err(e) => report.failed.push(Failed {
                resource: name.clone(),
                error: e.to_string(),
            }),
        }
    }
    for name in &names {
        let Some(ret) = backup::operations_in_force(declared, state, name)
            .and_then(|ops| ops.backup)
            .and_then(|b| b.retention.clone())
        else {
            continue;
        };
        let selected = retention::select(&state.backups, name, &ret, now);
        for (id, reason) in selected {
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
