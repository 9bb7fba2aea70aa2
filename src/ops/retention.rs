//! Backup retention: which backup records of a resource a `retention`
//! policy cleans, and how a cleaned record is marked.
//!
//! Rules (the seed: "Retention applies to scheduled backups by default. Set
//! includeManual: true only when manual backups should also be eligible"):
//!
//! - Eligible: records of that resource with status `succeeded` and purpose
//!   `scheduled`; with `includeManual: true` also `manual` and
//!   `pre-restore`. A pre-restore backup is taken because a person ran a
//!   restore, so it counts as manual: it is never cleaned by default, which
//!   keeps the safety net of a destructive restore until someone opts in.
//! - Never selected: other resources, records already `deleted`, `failed`
//!   or `running` ones (they also do not count towards `keepLast`, so a
//!   failed run cannot push out a good backup), unknown purposes, and
//!   records whose `startedAt` is not a valid timestamp (they cannot be
//!   ordered or aged, so they are left for a person to look at), and
//!   records whose verification failed (kept with the reason, for a person
//!   to look at; they do not count towards `keepLast` either, so red
//!   backups never push out the last good one).
//! - `keepLast: N` keeps the N newest eligible backups by `startedAt`
//!   (ties broken by position in the state, later = newer) and cleans the
//!   rest.
//! - `maxAgeDays: D` cleans eligible backups strictly older than D days:
//!   a backup exactly D days old (to the second) is kept.
//! - Both set: a backup is cleaned when either rule says so (the union),
//!   so `keepLast` is a ceiling on the count and `maxAgeDays` a ceiling on
//!   the age; neither protects what the other cleans. The reason then names
//!   both rules.
//!
//! Cleaning keeps the record: `mark_deleted` sets status `deleted`,
//! `retentionDeletedAt` and `retentionReason`; deleting the artifact
//! directory is the caller's job.

use chrono::{DateTime, Duration, Utc};

use crate::descriptor::model::Retention;
use crate::state::BackupRecord;

use crate::support::time::{format_time, parse_time};

/// The backups of `resource` that `retention` cleans at `now`, as
/// `(backup id, reason)`, oldest first.
pub fn select(
    records: &[BackupRecord],
    resource: &str,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut eligible: Vec<(DateTime<Utc>, usize, &BackupRecord)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| is_eligible(r, resource, retention))
        .filter_map(|(i, r)| parse_time(&r.started_at).map(|t| (t, i, r)))
        .collect();
    // Newest first.
    eligible.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));

    let mut out = Vec::new();
    for (rank, (started, _, record)) in eligible.iter().enumerate() {
        let mut reasons = Vec::new();
        if let Some(n) = retention.keep_last {
            if rank >= n as usize {
                reasons.push(format!("keepLast {n}: {} newest", ordinal(rank + 1)));
            }
        }
        if let Some(d) = retention.max_age_days {
            if now - *started > Duration::days(i64::from(d)) {
                reasons.push(format!(
                    "older than {d} {}",
                    if d == 1 { "day" } else { "days" }
                ));
            }
        }
        if !reasons.is_empty() {
            out.push((record.id.clone(), reasons.join("; ")));
        }
    }
    out.reverse();
    out
}

/// Whether retention may clean this record at all (see the module docs).
pub fn is_eligible(record: &BackupRecord, resource: &str, retention: &Retention) -> bool {
    record.resource == resource
        && record.status == "succeeded"
        && record.verify_status.as_deref() != Some("failed")
        && !record
            .copies
            .iter()
            .any(|c| c.status == super::copies::FAILED)
        && match record.purpose.as_str() {
            "scheduled" => true,
            "manual" | "pre-restore" => retention.include_manual,
            _ => false,
        }
}

/// Marks a record cleaned by retention: status `deleted`, when, and why.
/// The record itself stays in the state.
pub fn mark_deleted(record: &mut BackupRecord, reason: &str, now: DateTime<Utc>) {
    record.status = "deleted".into();
    record.retention_deleted_at = Some(format_time(now));
    record.retention_reason = Some(reason.to_string());
}

/// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, ...
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn rec(id: &str, resource: &str, purpose: &str, status: &str, started: &str) -> BackupRecord {
        BackupRecord {
            id: id.into(),
            resource: resource.into(),
            purpose: purpose.into(),
            status: status.into(),
            started_at: started.into(),
            finished_at: None,
            artifact_dir: format!("/backups/{id}"),
            definition: None,
            operation: None,
            error: None,
            retention_deleted_at: None,
            retention_reason: None,
            verified_at: None,
            verify_status: None,
            verify_error: None,
            encrypted_with: None,
            checksums: Default::default(),
            copies: Default::default(),
        }
    }

    /// Ten daily scheduled backups of db, 2026-11-01 .. 2026-11-10 at 00:00.
    fn daily(resource: &str) -> Vec<BackupRecord> {
        (1..=10)
            .map(|d| {
                rec(
                    &format!("{resource}-{d:02}"),
                    resource,
                    "scheduled",
                    "succeeded",
                    &format!("2026-11-{d:02}T00:00:00Z"),
                )
            })
            .collect()
    }

    fn keep(n: u32) -> Retention {
        Retention {
            keep_last: Some(n),
            ..Retention::default()
        }
    }
    fn max_age(d: u32) -> Retention {
        Retention {
            max_age_days: Some(d),
            ..Retention::default()
        }
    }
    fn ids(sel: &[(String, String)]) -> Vec<&str> {
        sel.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn red_verified_backups_are_kept_and_never_push_out_a_good_one() {
        let mut records = daily("db");
        for r in &mut records[7..] {
            r.verify_status = Some("failed".into());
        }
        let now = t("2026-11-10T12:00:00Z");
        // keepLast 2 keeps the two newest good ones (08 .. 10 are red).
        let sel = select(&records, "db", &keep(2), now);
        assert_eq!(ids(&sel), ["db-01", "db-02", "db-03", "db-04", "db-05"]);
        // Red ones are never cleaned, not even by age.
        let sel = select(&records, "db", &max_age(0), now);
        assert!(ids(&sel)
            .iter()
            .all(|id| !["db-08", "db-09", "db-10"].contains(id)));
    }

    #[test]
    fn keep_last_alone() {
        let records = daily("db");
        let now = t("2026-11-10T12:00:00Z");
        let sel = select(&records, "db", &keep(7), now);
        assert_eq!(ids(&sel), ["db-01", "db-02", "db-03"]);
        assert_eq!(sel[0].1, "keepLast 7: 10th newest");
        assert_eq!(sel[1].1, "keepLast 7: 9th newest");
        assert_eq!(sel[2].1, "keepLast 7: 8th newest");
        assert!(select(&records, "db", &keep(10), now).is_empty());
        assert!(select(&records, "db", &keep(50), now).is_empty());
        // Order in the state does not matter; startedAt does.
        let mut shuffled = records.clone();
        shuffled.reverse();
        shuffled.swap(2, 7);
        assert_eq!(
            ids(&select(&shuffled, "db", &keep(7), now)),
            ["db-01", "db-02", "db-03"]
        );
        // keepLast alone cleans nothing for age.
        assert!(select(&records, "db", &keep(10), t("2030-01-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn max_age_alone() {
        let records = daily("db");
        let now = t("2026-11-10T12:00:00Z");
        let sel = select(&records, "db", &max_age(7), now);
        // 11-03 00:00 is 7d12h old; 11-04 is 6d12h old.
        assert_eq!(ids(&sel), ["db-01", "db-02", "db-03"]);
        assert!(sel.iter().all(|(_, r)| r == "older than 7 days"));
        assert_eq!(
            select(&records, "db", &max_age(1), now)[0].1,
            "older than 1 day"
        );
        assert!(select(&records, "db", &max_age(30), now).is_empty());
    }

    #[test]
    fn exactly_max_age_is_kept() {
        let records = daily("db");
        // db-03 is exactly 7 days old: kept; one second later: cleaned.
        let exact = t("2026-11-10T00:00:00Z");
        assert_eq!(
            ids(&select(&records, "db", &max_age(7), exact)),
            ["db-01", "db-02"]
        );
        let later = t("2026-11-10T00:00:01Z");
        assert_eq!(
            ids(&select(&records, "db", &max_age(7), later)),
            ["db-01", "db-02", "db-03"]
        );
    }

    #[test]
    fn both_rules_clean_the_union() {
        let records = daily("db");
        let both = Retention {
            keep_last: Some(8),
            max_age_days: Some(5),
            include_manual: false,
        };
        let now = t("2026-11-10T12:00:00Z");
        let sel = select(&records, "db", &both, now);
        // keepLast 8 cleans 01, 02; maxAgeDays 5 cleans 01..05.
        assert_eq!(ids(&sel), ["db-01", "db-02", "db-03", "db-04", "db-05"]);
        assert_eq!(sel[0].1, "keepLast 8: 10th newest; older than 5 days");
        assert_eq!(sel[1].1, "keepLast 8: 9th newest; older than 5 days");
        assert_eq!(sel[2].1, "older than 5 days");
        // The count rule cleans young backups too.
        let tight = Retention {
            keep_last: Some(2),
            max_age_days: Some(30),
            include_manual: false,
        };
        assert_eq!(select(&records, "db", &tight, now).len(), 8);
    }

    #[test]
    fn include_manual_on_and_off() {
        let mut records = daily("db");
        records.push(rec(
            "m-old",
            "db",
            "manual",
            "succeeded",
            "2026-10-01T00:00:00Z",
        ));
        records.push(rec(
            "pre-old",
            "db",
            "pre-restore",
            "succeeded",
            "2026-10-02T00:00:00Z",
        ));
        records.push(rec(
            "m-new",
            "db",
            "manual",
            "succeeded",
            "2026-11-10T06:00:00Z",
        ));
        let now = t("2026-11-10T12:00:00Z");

        let off = Retention {
            keep_last: Some(3),
            max_age_days: Some(7),
            include_manual: false,
        };
        let sel = select(&records, "db", &off, now);
        assert!(!ids(&sel)
            .iter()
            .any(|id| id.starts_with("m-") || id.starts_with("pre-")));
        assert_eq!(sel.len(), 7); // db-01 .. db-07

        let on = Retention {
            include_manual: true,
            ..off
        };
        let sel = select(&records, "db", &on, now);
        let got = ids(&sel);
        assert_eq!(&got[..2], ["m-old", "pre-old"]);
        // The new manual backup now takes one of the three kept places.
        assert_eq!(got.len(), 10);
        assert!(!got.contains(&"m-new"));
        assert!(got.contains(&"db-08"));
        assert_eq!(sel[0].1, "keepLast 3: 13th newest; older than 7 days");
    }

    #[test]
    fn only_succeeded_records_of_that_resource() {
        let mut records = daily("db");
        records.extend(daily("cache"));
        let mut gone = rec("gone", "db", "scheduled", "deleted", "2026-09-01T00:00:00Z");
        gone.retention_reason = Some("older than 7 days".into());
        records.push(gone);
        records.push(rec(
            "failed",
            "db",
            "scheduled",
            "failed",
            "2026-09-02T00:00:00Z",
        ));
        records.push(rec(
            "running",
            "db",
            "scheduled",
            "running",
            "2026-09-03T00:00:00Z",
        ));
        records.push(rec(
            "weird",
            "db",
            "nightly",
            "succeeded",
            "2026-09-04T00:00:00Z",
        ));
        records.push(rec(
            "undated",
            "db",
            "scheduled",
            "succeeded",
            "last tuesday",
        ));
        // Newer failures do not count towards keepLast.
        records.push(rec(
            "f-new",
            "db",
            "scheduled",
            "failed",
            "2026-11-10T01:00:00Z",
        ));
        let now = t("2026-11-10T12:00:00Z");
        let policy = Retention {
            keep_last: Some(9),
            max_age_days: Some(60),
            include_manual: true,
        };
        let sel = select(&records, "db", &policy, now);
        assert_eq!(ids(&sel), ["db-01"]);
        assert!(select(&records, "web", &policy, now).is_empty());
        assert_eq!(ids(&select(&records, "cache", &keep(9), now)), ["cache-01"]);
    }

    #[test]
    fn mark_deleted_keeps_the_record() {
        let mut records = daily("db");
        let now = t("2026-11-10T12:00:00Z");
        let sel = select(&records, "db", &keep(9), now);
        for (id, reason) in &sel {
            let r = records.iter_mut().find(|r| &r.id == id).unwrap();
            mark_deleted(r, reason, now);
        }
        let r = &records[0];
        assert_eq!(r.status, "deleted");
        assert_eq!(
            r.retention_deleted_at.as_deref(),
            Some("2026-11-10T12:00:00Z")
        );
        assert_eq!(
            r.retention_reason.as_deref(),
            Some("keepLast 9: 10th newest")
        );
        assert_eq!(r.artifact_dir, "/backups/db-01");
        assert_eq!(records.len(), 10);
        // Idempotent: the cleaned record is no longer selected or counted.
        assert!(select(&records, "db", &keep(9), now).is_empty());
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["retentionReason"], "keepLast 9: 10th newest");
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 9, 11, 12, 13, 21, 22, 23, 101, 111, 112]
            .iter()
            .map(|n| ordinal(*n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "9th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th", "112th"
            ]
        );
    }
}
