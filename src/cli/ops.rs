//! The day-2 commands: `resource …`, `variable …`, `backup run-due`,
//! `scheduler`. Each handler parses, calls one function of
//! `ops::command` (or `ops::scheduler`), and prints text or
//! `--output json`.

use super::args::{
    OutputCommand, ResourceBackupCommand, ResourceCommand, SchedulerArgs, VariableCommand,
};
use super::render::{print_backups, print_deleted, print_json, print_or_json, print_report, table};
use super::Context;
use crate::access::current_actor;
use crate::apply::progress::Progress;
use crate::error::{Error, Result};
use crate::ops::command::{self, NewValue, RestoreTarget, Restored};
use crate::ops::scheduler::{self, Pass};
use crate::ops::variable::VariableError;
use std::io::Read;

pub fn resource_command(cx: &Context, cmd: ResourceCommand) -> Result<i32> {
    let mut ws = cx.open()?;
    let (p, env) = (ws.name().to_string(), ws.env.clone());
    match cmd {
        ResourceCommand::List => {
            let rows = cx.block_on(command::list(&ws))??;
            if cx.json() {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No resources are deployed in {p}/{env}.");
            } else {
                let rows = rows.into_iter().map(|r| {
                    let volumes = r.volumes.keys().cloned().collect::<Vec<_>>().join(",");
                    vec![r.name, r.status, r.image, r.host, volumes]
                });
                table(
                    &["NAME", "STATUS", "IMAGE", "HOST", "VOLUMES"],
                    rows.collect(),
                );
            }
        }
        ResourceCommand::Inspect(a) => {
            print_json(&cx.block_on(command::inspect(&ws, &a.resource))??)
        }
        ResourceCommand::Logs(a) => {
            cx.block_on(command::logs(&ws, &a.resource, a.tail, a.follow, |line| {
                println!("{}", line.trim_end_matches('\n'))
            }))??
        }
        ResourceCommand::Stop(a) => {
            cx.block_on(command::stop(&ws, &a.resource))??;
            print_or_json(
                cx,
                &serde_json::json!({"resource": a.resource, "stopped": true}),
                || println!("Stopped resource `{}`.", a.resource),
            );
        }
        ResourceCommand::Start(a) => {
            cx.block_on(command::start(&ws, &a.resource))??;
            print_or_json(
                cx,
                &serde_json::json!({"resource": a.resource, "started": true}),
                || println!("Started resource `{}`.", a.resource),
            );
        }
        ResourceCommand::Delete(a) => {
            let report = cx.block_on(command::delete(&mut ws, &a.resource, a.delete_data))??;
            print_or_json(cx, &report, || print_deleted(&report));
        }
        ResourceCommand::Output(OutputCommand::List(a)) => {
            let rows = command::outputs(&ws, &a.resource)?;
            if cx.json() {
                print_json(&rows);
            } else {
                let rows = rows
                    .into_iter()
                    .map(|r| vec![r.name, r.sensitive.to_string(), r.value]);
                table(&["OUTPUT", "SENSITIVE", "VALUE"], rows.collect());
            }
        }
        ResourceCommand::Output(OutputCommand::Show(a)) => {
            let row = if a.reveal {
                command::reveal(&ws, &current_actor(), &a.resource, &a.name)?
            } else {
                command::show_output(&ws, &a.resource, &a.name)?
            };
            print_or_json(cx, &row, || println!("{}", row.value));
        }
        ResourceCommand::Backup(b) => return backup_command(cx, ws, b),
        ResourceCommand::Exec(a) => {
            return super::service::exec(cx, &ws, crate::ops::service::Kind::Resource, a)
        }
    }
    Ok(0)
}

fn backup_command(
    cx: &Context,
    mut ws: crate::workspace::Workspace,
    cmd: ResourceBackupCommand,
) -> Result<i32> {
    match cmd {
        ResourceBackupCommand::Create(a) => {
            let record = cx.block_on(command::backup(&mut ws, &a.resource))??;
            print_or_json(cx, &record, || {
                let root = crate::ops::backup::backup_root().unwrap_or_default();
                println!(
                    "Created backup {} of `{}` in {}.",
                    record.id,
                    record.resource,
                    root.join(&record.artifact_dir).display()
                );
                for c in record.copies.iter().filter(|c| c.error.is_none()) {
                    println!("Copied it to `{}` ({}/{}).", c.target, c.url, c.path);
                }
            });
            if let Some(e) = command::copy_failure(&record) {
                return Err(e.into());
            }
        }
        ResourceBackupCommand::List(a) => {
            let listing = command::backups(&ws, a.resource.as_deref());
            print_or_json(cx, &listing, || print_backups(&listing));
        }
        ResourceBackupCommand::Show(a) => print_json(command::backup_record(&ws, &a.backup)?),
        ResourceBackupCommand::Export(a) => {
            let e = command::backup_export(&ws, &current_actor(), &a.backup, &a.to)?;
            print_or_json(cx, &e, || {
                println!(
                    "Exported backup {} of `{}` ({} file(s), decrypted) to {}. They hold the resource's data in plaintext: keep them safe, and delete them when done.",
                    e.backup,
                    e.resource,
                    e.files.len(),
                    e.to.display()
                )
            });
        }
        ResourceBackupCommand::Verify(a) => {
            let progress = if cx.json() {
                Progress::silent()
            } else {
                Progress::new(false)
            };
            let v = cx.block_on(command::verify(ws, &a.backup, a.from.as_deref(), progress))??;
            print_or_json(cx, &v, || {
                if let Some(out) = v.output.as_deref().filter(|o| !o.is_empty()) {
                    println!("{out}");
                }
                println!(
                    "Verified backup {} of `{}`: restored into the scratch resource `{}`, ready{}; the scratch resource and its volumes are removed.",
                    v.record.id,
                    v.record.resource,
                    v.scratch,
                    if v.output.is_some() { ", the verify command passed" } else { " (no operations.verify.command)" }
                )
            });
        }
        ResourceBackupCommand::Restore(a) => {
            let target = RestoreTarget::from_args(a.resource, a.as_name, a.yes)?;
            let progress = if cx.json() {
                Progress::silent()
            } else {
                Progress::new(false)
            };
            let restored = cx.block_on(command::restore(
                ws,
                &a.backup,
                target,
                a.from.as_deref(),
                progress,
            ))??;
            if cx.json() {
                print_json(&serde_json::json!({"backup": a.backup, "restored": restored}));
                return Ok(0);
            }
            match restored {
                Restored::InPlace {
                    resource,
                    pre_restore,
                } => println!(
                    "Restored backup {} into `{resource}` (pre-restore backup: {pre_restore}).",
                    a.backup
                ),
                Restored::As { resource, host } => {
                    println!(
                        "Restored backup {} into the new resource `{resource}` ({host}).",
                        a.backup
                    );
                    println!("`{resource}` is not declared in compartment.yml: declare it or delete it (`compartment resource delete --resource {resource}`) before the next apply.");
                }
            }
        }
    }
    Ok(0)
}

pub fn variable_command(cx: &Context, cmd: VariableCommand) -> Result<i32> {
    let mut ws = cx.open()?;
    match cmd {
        VariableCommand::Set(a) => {
            let new = match (a.from_resource, a.value, a.stdin) {
                (Some(from), _, _) => NewValue::Binding(from),
                (None, Some(v), false) => NewValue::Value {
                    value: v,
                    sensitive: a.sensitive,
                },
                (None, None, true) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    let value = s.strip_suffix('\n').map(String::from).unwrap_or(s);
                    NewValue::Value {
                        value,
                        sensitive: a.sensitive,
                    }
                }
                _ => return Err(crate::ops::OpsError::from(VariableError::NoValue).into()),
            };
            let set = command::set_variable(&mut ws, a.resource, a.service, &a.key, new)?;
            print_or_json(cx, &set, || match set.kind {
                "binding" => println!(
                    "Bound `{}.{}` to `{}`; it is resolved when the service starts (next apply).",
                    set.target,
                    set.key,
                    set.value.trim_start_matches("← ")
                ),
                _ => println!(
                    "Set {}`{}`; the next apply restarts what uses it.",
                    if set.sensitive {
                        "sensitive variable "
                    } else {
                        "variable "
                    },
                    set.key
                ),
            });
        }
        VariableCommand::Remove(a) => {
            let what = command::remove_variable(&mut ws, a.resource, a.service, &a.key)?;
            print_or_json(
                cx,
                &serde_json::json!({"key": a.key, "removed": what}),
                || println!("Removed {what} `{}`.", a.key),
            );
        }
        VariableCommand::List(a) => {
            let rows = command::variables(&ws, a.resource, a.service)?;
            if cx.json() {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No variables.");
            } else {
                let rows = rows
                    .into_iter()
                    .map(|r| vec![r.scope, r.target, r.key, r.kind, r.value]);
                table(&["SCOPE", "TARGET", "KEY", "KIND", "VALUE"], rows.collect());
            }
        }
    }
    Ok(0)
}

/// `backup run-due`: once.
pub fn backup_run_due(cx: &Context) -> Result<i32> {
    let mut ws = cx.open()?;
    let report = cx.block_on(command::run_due(&mut ws))??;
    print_report(cx, &report);
    Ok(if report.has_failures() { 1 } else { 0 })
}

/// `scheduler`: refusals (role, backup directory, a broken descriptor)
/// stop it at once; later failures are reported and it keeps going.
pub fn scheduler(cx: &Context, args: SchedulerArgs) -> Result<i32> {
    let first = cx.open()?;
    let options = cx.options();
    let interval = std::time::Duration::from_secs(args.interval_seconds);
    let banner = || {
        if !cx.json() {
            println!(
                "compartment scheduler: checking every {}s for due backups of {} (Ctrl-C to stop)",
                args.interval_seconds, cx.global.env
            );
        }
    };
    cx.block_on(scheduler::run(first, || options.open(), interval, banner, |pass| match pass {
        Pass::Ran(report) => print_report(cx, &report),
        Pass::Failed(e) => eprintln!("error: {e} (the scheduler keeps running)"),
        Pass::NotLoaded(e @ crate::workspace::WorkspaceError::Invalid { .. }) => {
            super::render_error(cx, &Error::from(e));
            eprintln!("error: compartment.yml does not load; nothing ran (the scheduler keeps running)")
        }
        Pass::NotLoaded(e) => eprintln!("error: {e} (the scheduler keeps running)"),
    }))??;
    println!("scheduler stopped");
    Ok(0)
}
