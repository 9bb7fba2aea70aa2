//! Terminal output shared by the day-2 commands: aligned tables, JSON
//! documents, and the text of reports (deletes, backup lists, scheduled
//! runs).

use super::Context;
use crate::ops::command;
use crate::ops::schedule_run;
use serde::Serialize;

pub fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialises"));
}

/// A simple aligned table.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

/// Text, or the JSON of `value` under `--output json`.
pub fn print_or_json<T: Serialize>(cx: &Context, value: &T, text: impl FnOnce()) {
    if cx.json() {
        print_json(value);
    } else {
        text();
    }
}

pub fn print_deleted(report: &crate::ops::resource::Deleted) {
    let name = &report.resource;
    if report.record_removed {
        let container = if report.container_removed {
            " and its container"
        } else {
            " (it had no container)"
        };
        println!("Deleted resource `{name}`{container}.");
    } else {
        println!("Deleted the data kept from the earlier delete of `{name}`.");
    }
    for v in &report.volumes_deleted {
        println!("  deleted volume {v}");
    }
    for v in &report.volumes_kept {
        println!("  kept volume {v}");
    }
    if !report.volumes_kept.is_empty() {
        println!("  (delete the kept data later with `compartment resource delete --resource {name} --delete-data`)");
    }
}

pub fn print_backups(listing: &command::BackupListing) {
    for s in &listing.schedules {
        println!(
            "{}: schedule {}, last scheduled run {}, {} record(s) cleaned by retention",
            s.resource,
            s.schedule.as_deref().unwrap_or("none"),
            s.last_scheduled_run.as_deref().unwrap_or("never"),
            s.retention_cleaned
        );
    }
    if !listing.schedules.is_empty() {
        println!();
    }
    if listing.backups.is_empty() {
        println!("No backups.");
        return;
    }
    let rows = listing.backups.iter().cloned().map(|r| {
        vec![
            r.id,
            r.resource,
            r.purpose,
            r.status,
            r.started_at,
            r.finished_at.unwrap_or_default(),
        ]
    });
    table(
        &["ID", "RESOURCE", "PURPOSE", "STATUS", "STARTED", "FINISHED"],
        rows.collect(),
    );
}

pub fn print_report(cx: &Context, report: &schedule_run::Report) {
    if cx.json() {
        print_json(report);
        return;
    }
    if report.ran.is_empty() && report.cleaned.is_empty() && report.failed.is_empty() {
        println!("No scheduled backup is due.");
    }
    for r in &report.ran {
        println!("scheduled backup of `{}`: {}", r.resource, r.backup);
    }
    for f in &report.failed {
        eprintln!("scheduled backup of `{}` failed: {}", f.resource, f.error);
    }
    for c in &report.cleaned {
        println!(
            "retention cleaned {} of `{}`: {}",
            c.backup, c.resource, c.reason
        );
    }
}
