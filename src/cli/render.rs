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

/// An aligned table without borders (comfy-table): columns two spaces
/// apart, widths by display width (so wide characters line up), and on a
/// terminal wrapped to its width.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    use comfy_table::{presets::NOTHING, ContentArrangement, Table};
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_content_arrangement(if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        })
        .set_header(headers.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    for line in t.lines() {
        println!("{}", line.trim_end());
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
            "{}: schedule {}, last scheduled run {}, {} record(s) cleaned by retention, last verified backup {}",
            s.resource,
            s.schedule.as_deref().unwrap_or("none"),
            s.last_scheduled_run.as_deref().unwrap_or("never"),
            s.retention_cleaned,
            s.last_verified
                .as_ref()
                .map(|l| format!("{} (verified {})", l.backup, l.verified_at))
                .unwrap_or_else(|| "none".into())
        );
    }
    if !listing.schedules.is_empty() {
        println!();
    }
    if listing.backups.is_empty() {
        println!("No backups.");
        return;
    }
    // The copies column only where there is something to show: an
    // environment without backup targets lists as it always did.
    let any_copies = listing.backups.iter().any(|r| !r.copies.is_empty());
    let rows = listing.backups.iter().cloned().map(|r| {
        let copies = r
            .copies
            .iter()
            .map(|c| match c.status.as_str() {
                "copied" => c.target.clone(),
                other => format!("{} ({other})", c.target),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut row = vec![
            r.id,
            r.resource,
            r.purpose,
            r.status,
            r.started_at,
            r.finished_at.unwrap_or_default(),
            r.verify_status.unwrap_or_else(|| "-".into()),
        ];
        if any_copies {
            row.push(match copies.is_empty() {
                true => "-".into(),
                false => copies,
            });
        }
        row
    });
    let headers = [
        "ID", "RESOURCE", "PURPOSE", "STATUS", "STARTED", "FINISHED", "VERIFIED", "COPIES",
    ];
    table(&headers[..if any_copies { 8 } else { 7 }], rows.collect());
    print_copies(listing);
}

/// Where each copy of the listed backups lives, and why one failed.
fn print_copies(listing: &command::BackupListing) {
    let rows: Vec<Vec<String>> = listing
        .backups
        .iter()
        .flat_map(|r| r.copies.iter().map(move |c| (r, c)))
        .map(|(r, c)| {
            vec![
                r.id.clone(),
                c.target.clone(),
                format!("{}/{}", c.url.trim_end_matches('/'), c.path),
                c.status.clone(),
                c.at.clone(),
                c.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    println!();
    table(&["BACKUP", "TARGET", "WHERE", "COPY", "AT", "ERROR"], rows);
}

pub fn print_report(cx: &Context, report: &schedule_run::Report) {
    if cx.json() {
        print_json(report);
        return;
    }
    if report.ran.is_empty()
        && report.cleaned.is_empty()
        && report.failed.is_empty()
        && report.copied.is_empty()
        && report.copy_failed.is_empty()
        && report.clean_failed.is_empty()
    {
        println!("No scheduled backup is due.");
    }
    for r in &report.ran {
        println!("scheduled backup of `{}`: {}", r.resource, r.backup);
    }
    for f in &report.failed {
        eprintln!("scheduled backup of `{}` failed: {}", f.resource, f.error);
    }
    for v in &report.verified {
        println!("verified scheduled backup {} of `{}`", v.backup, v.resource);
    }
    for f in &report.verify_failed {
        eprintln!(
            "verification of scheduled backup {} of `{}` failed: {}",
            f.backup, f.resource, f.error
        );
    }
    for c in &report.copied {
        println!(
            "copied backup {} of `{}` to `{}` ({})",
            c.backup, c.resource, c.target, c.url
        );
    }
    for c in &report.copy_failed {
        eprintln!(
            "copying backup {} of `{}` to `{}` failed: {}",
            c.backup,
            c.resource,
            c.target,
            c.error.as_deref().unwrap_or_default()
        );
    }
    for c in &report.cleaned {
        println!(
            "retention cleaned {} of `{}`: {}",
            c.backup, c.resource, c.reason
        );
    }
    for c in &report.clean_failed {
        eprintln!(
            "retention kept {} of `{}`: {}",
            c.backup, c.resource, c.error
        );
    }
}
