//! The day-2 commands: `resource …`, `variable …`, `backup run-due`,
//! `scheduler`. Each checks the actor's role, takes the state lock when it
//! writes, and prints text or `--output json`.

use super::args::{
    BackupCommand, OutputCommand, ResourceBackupCommand, ResourceCommand, SchedulerArgs,
    VariableCommand,
};
use super::{Context, Loaded};
use crate::access::Command;
use crate::apply::naming;
use crate::apply::progress::Progress;
use crate::apply::steps::Shared;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::ops::backup::{self, OpContext};
use crate::ops::{audit, output, resource, schedule_run, variable};
use crate::state::secrets::SecretKey;
use serde::Serialize;
use std::io::Read;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn docker() -> Result<Docker> {
    Docker::connect()
        .await
        .map_err(|e| Error::msg(e.to_string()))
}

fn actor() -> String {
    crate::access::current_actor()
}

/// Refuses the command unless the actor's role allows it.
pub(super) fn guard(cx: &Context, root: &std::path::Path, command: Command) -> Result<()> {
    cx.guard(root, command)
}

fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialises"));
}

/// A simple aligned table.
fn table(headers: &[&str], rows: Vec<Vec<String>>) {
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

fn now() -> Result<chrono::DateTime<chrono::Utc>> {
    match std::env::var("COMPARTMENT_NOW") {
        Ok(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| {
                Error::msg(format!(
                    "COMPARTMENT_NOW must be an RFC 3339 time such as 2026-11-23T02:00:00Z, not `{t}` ({e})"
                ))
            }),
        Err(_) => Ok(chrono::Utc::now()),
    }
}

pub fn resource_command(cx: &Context, cmd: ResourceCommand) -> Result<i32> {
    let mut loaded = cx.load_all()?;
    let p = loaded.project.compartment.name.clone();
    let env = cx.global.env.clone();
    let rt = runtime()?;
    match cmd {
        ResourceCommand::List => {
            guard(cx, &loaded.target.root, Command::ResourceList)?;
            let rows = rt.block_on(async {
                resource::list(&docker().await?, &p, &env, &loaded.state).await
            })?;
            if cx.json() {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No resources are deployed in {p}/{env}.");
            } else {
                table(
                    &["NAME", "STATUS", "IMAGE", "HOST", "VOLUMES"],
                    rows.into_iter()
                        .map(|r| {
                            vec![
                                r.name,
                                r.status,
                                r.image,
                                r.host,
                                r.volumes.keys().cloned().collect::<Vec<_>>().join(","),
                            ]
                        })
                        .collect(),
                );
            }
        }
        ResourceCommand::Inspect(a) => {
            guard(cx, &loaded.target.root, Command::ResourceInspect)?;
            let r = resource::record(&loaded.state, &a.resource)?.clone();
            let info = rt.block_on(async {
                docker()
                    .await?
                    .inspect_container(&naming::container(&p, &env, &a.resource))
                    .await
                    .map_err(|e| Error::msg(e.to_string()))
            })?;
            let outputs = output::list(
                &p,
                &env,
                &loaded.state,
                &a.resource,
                SecretKey::load()?.as_ref(),
            )
            .unwrap_or_default();
            let backups = loaded
                .state
                .backups
                .iter()
                .filter(|b| b.resource == a.resource)
                .count();
            let v = serde_json::json!({
                "name": a.resource,
                "host": naming::resource_host(&p, &env, &a.resource),
                "container": info.as_ref().map(|c| serde_json::json!({"name": c.name, "id": c.id, "status": c.status, "running": c.running, "image": c.image})),
                "definition": r.definition,
                "volumes": r.volumes,
                "origin": r.origin,
                "appliedAt": r.applied_at,
                "outputs": outputs,
                "backups": backups,
            });
            print_json(&v);
        }
        ResourceCommand::Logs(a) => {
            guard(cx, &loaded.target.root, Command::ResourceLogs)?;
            rt.block_on(async {
                resource::logs(
                    &docker().await?,
                    &p,
                    &env,
                    &loaded.state,
                    &a.resource,
                    a.tail,
                    a.follow,
                )
                .await
            })?;
        }
        ResourceCommand::Stop(a) => {
            guard(cx, &loaded.target.root, Command::ResourceStop)?;
            rt.block_on(async {
                resource::stop(&docker().await?, &p, &env, &loaded.state, &a.resource).await
            })?;
            if cx.json() {
                print_json(&serde_json::json!({"resource": a.resource, "stopped": true}));
            } else {
                println!("Stopped resource `{}`.", a.resource);
            }
        }
        ResourceCommand::Start(a) => {
            guard(cx, &loaded.target.root, Command::ResourceStart)?;
            rt.block_on(async {
                resource::start(&docker().await?, &p, &env, &loaded.state, &a.resource).await
            })?;
            if cx.json() {
                print_json(&serde_json::json!({"resource": a.resource, "started": true}));
            } else {
                println!("Started resource `{}`.", a.resource);
            }
        }
        ResourceCommand::Delete(a) => {
            guard(cx, &loaded.target.root, Command::ResourceDelete)?;
            let _lock = loaded.target.store.lock("resource delete")?;
            let report = rt.block_on(async {
                resource::delete(
                    &docker().await?,
                    &p,
                    &env,
                    &mut loaded.state,
                    &a.resource,
                    a.delete_data,
                )
                .await
            })?;
            loaded.target.store.save(&mut loaded.state)?;
            if cx.json() {
                print_json(&report);
            } else {
                if report.record_removed {
                    println!(
                        "Deleted resource `{}`{}.",
                        a.resource,
                        if report.container_removed {
                            " and its container"
                        } else {
                            " (it had no container)"
                        }
                    );
                } else {
                    println!(
                        "Deleted the data kept from the earlier delete of `{}`.",
                        a.resource
                    );
                }
                for v in &report.volumes_deleted {
                    println!("  deleted volume {v}");
                }
                for v in &report.volumes_kept {
                    println!("  kept volume {v}");
                }
                if !report.volumes_kept.is_empty() {
                    println!(
                        "  (delete the kept data later with `compartment resource delete --resource {} --delete-data`)",
                        a.resource
                    );
                }
            }
        }
        ResourceCommand::Output(OutputCommand::List(a)) => {
            guard(cx, &loaded.target.root, Command::OutputList)?;
            let rows = output::list(
                &p,
                &env,
                &loaded.state,
                &a.resource,
                SecretKey::load()?.as_ref(),
            )?;
            if cx.json() {
                print_json(&rows);
            } else {
                table(
                    &["OUTPUT", "SENSITIVE", "VALUE"],
                    rows.into_iter()
                        .map(|r| vec![r.name, r.sensitive.to_string(), r.value])
                        .collect(),
                );
            }
        }
        ResourceCommand::Output(OutputCommand::Show(a)) => {
            guard(
                cx,
                &loaded.target.root,
                Command::OutputShow { reveal: a.reveal },
            )?;
            let key = if a.reveal {
                Some(SecretKey::require()?)
            } else {
                SecretKey::load()?
            };
            let row = output::show(
                &p,
                &env,
                &loaded.state,
                &a.resource,
                &a.name,
                a.reveal,
                key.as_ref(),
            )?;
            if a.reveal && row.sensitive {
                let event = audit::AuditEvent::output_reveal(
                    now()?,
                    &actor(),
                    &env,
                    &p,
                    &a.resource,
                    &a.name,
                );
                audit::append(&audit::audit_path(&loaded.target.store.path), &event)
                    .map_err(|e| Error::msg(e.to_string()))?;
            }
            if cx.json() {
                print_json(&row);
            } else {
                println!("{}", row.value);
            }
        }
        ResourceCommand::Backup(b) => return backup_command(cx, loaded, b, &rt),
    }
    Ok(0)
}

fn backup_command(
    cx: &Context,
    mut loaded: Loaded,
    cmd: ResourceBackupCommand,
    rt: &tokio::runtime::Runtime,
) -> Result<i32> {
    let p = loaded.project.compartment.name.clone();
    let env = cx.global.env.clone();
    match cmd {
        ResourceBackupCommand::Create(a) => {
            guard(cx, &loaded.target.root, Command::BackupCreate)?;
            backup::backup_root()?;
            let _lock = loaded.target.store.lock("resource backup create")?;
            let key = SecretKey::require()?;
            let record = rt.block_on(async {
                let d = docker().await?;
                let ocx = OpContext {
                    docker: &d,
                    project: &p,
                    env: &env,
                    key: &key,
                };
                backup::create(
                    &ocx,
                    &loaded.project.compartment.resources,
                    &loaded.target.store,
                    &mut loaded.state,
                    &a.resource,
                    "manual",
                    now()?,
                )
                .await
            })?;
            if cx.json() {
                print_json(&record);
            } else {
                println!(
                    "Created backup {} of `{}` in {}.",
                    record.id, record.resource, record.artifact_dir
                );
            }
        }
        ResourceBackupCommand::List(a) => {
            guard(cx, &loaded.target.root, Command::BackupList)?;
            let records: Vec<_> = loaded
                .state
                .backups
                .iter()
                .filter(|b| a.resource.as_ref().is_none_or(|r| &b.resource == r))
                .cloned()
                .collect();
            let schedules = schedule_run::summaries(
                &loaded.project.compartment.resources,
                &loaded.state,
                a.resource.as_deref(),
            );
            if cx.json() {
                print_json(&serde_json::json!({"backups": records, "schedules": schedules}));
            } else {
                for s in &schedules {
                    println!(
                        "{}: schedule {}, last scheduled run {}, {} record(s) cleaned by retention",
                        s.resource,
                        s.schedule.as_deref().unwrap_or("none"),
                        s.last_scheduled_run.as_deref().unwrap_or("never"),
                        s.retention_cleaned
                    );
                }
                if !schedules.is_empty() {
                    println!();
                }
                if records.is_empty() {
                    println!("No backups.");
                } else {
                    table(
                        &["ID", "RESOURCE", "PURPOSE", "STATUS", "STARTED", "FINISHED"],
                        records
                            .into_iter()
                            .map(|r| {
                                vec![
                                    r.id,
                                    r.resource,
                                    r.purpose,
                                    r.status,
                                    r.started_at,
                                    r.finished_at.unwrap_or_default(),
                                ]
                            })
                            .collect(),
                    );
                }
            }
        }
        ResourceBackupCommand::Show(a) => {
            guard(cx, &loaded.target.root, Command::BackupShow)?;
            print_json(backup::find(&loaded.state, &a.backup)?);
        }
        ResourceBackupCommand::Restore(a) => {
            guard(cx, &loaded.target.root, Command::BackupRestore)?;
            match (&a.resource, &a.as_name) {
                (Some(_), Some(_)) => return Err(Error::msg("--resource and --as cannot be combined: in-place restore (--resource R --yes) and restore into a new resource (--as NEW) are separate restore targets")),
                (None, None) => return Err(Error::msg("say where to restore: --resource <name> --yes (in place, destructive) or --as <new name> (into a new resource)")),
                (Some(r), None) if !a.yes => {
                    return Err(Error::msg(format!("in-place restore overwrites the data of `{r}` (after taking a pre-restore backup); pass --yes to confirm")));
                }
                _ => {}
            }
            backup::backup_root()?;
            let _lock = loaded.target.store.lock("resource backup restore")?;
            let key = SecretKey::require()?;
            if let Some(r) = &a.resource {
                let Loaded {
                    project,
                    target,
                    mut state,
                    ..
                } = loaded;
                let pre = rt.block_on(async {
                    let progress = if cx.json() {
                        Progress::silent()
                    } else {
                        Progress::new(false)
                    };
                    let shared = Shared::new(docker().await?, project, env.clone(), key, progress);
                    backup::restore_in_place(
                        &shared,
                        &target.store,
                        &mut state,
                        r,
                        &a.backup,
                        now()?,
                    )
                    .await
                })?;
                println!(
                    "Restored backup {} into `{r}` (pre-restore backup: {}).",
                    a.backup, pre.id
                );
                return Ok(0);
            }
            if let Some(new) = &a.as_name {
                let Loaded {
                    project,
                    target,
                    mut state,
                    ..
                } = loaded;
                let services = project.compartment.services.clone();
                let resources = project.compartment.resources.clone();
                rt.block_on(async {
                    let progress = if cx.json() {
                        Progress::silent()
                    } else {
                        Progress::new(false)
                    };
                    let shared = Shared::new(docker().await?, project, env.clone(), key, progress);
                    backup::restore_as(
                        &shared,
                        &target.store,
                        &mut state,
                        &services,
                        &resources,
                        &a.backup,
                        new,
                    )
                    .await
                })?;
                println!(
                    "Restored backup {} into the new resource `{new}` ({}).",
                    a.backup,
                    naming::resource_host(&p, &env, new)
                );
                println!("`{new}` is not declared in compartment.yml: declare it or delete it (`compartment resource delete --resource {new}`) before the next apply.");
            }
        }
    }
    Ok(0)
}

pub fn variable_command(cx: &Context, cmd: VariableCommand) -> Result<i32> {
    let mut loaded = cx.load_all()?;
    match cmd {
        VariableCommand::Set(a) => {
            guard(cx, &loaded.target.root, Command::VariableSet)?;
            let _lock = loaded.target.store.lock("variable set")?;
            if let Some(from) = &a.from_resource {
                let service = a.service.clone().ok_or_else(|| {
                    Error::msg("--from-resource binds a service variable: use it with --service")
                })?;
                variable::bind(&loaded.project, &mut loaded.state, &service, &a.key, from)?;
                loaded.target.store.save(&mut loaded.state)?;
                if cx.json() {
                    print_json(
                        &serde_json::json!({"scope": "service", "target": service, "key": a.key, "kind": "binding", "sensitive": false, "value": format!("← {from}")}),
                    );
                } else {
                    println!("Bound `{service}.{}` to `{from}`; it is resolved when the service starts (next apply).", a.key);
                }
                return Ok(0);
            }
            let scope = variable::Scope::from_args(a.resource.clone(), a.service.clone())?;
            let value = match (&a.value, a.stdin) {
                (Some(v), false) => v.clone(),
                (None, true) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.strip_suffix('\n').map(String::from).unwrap_or(s)
                }
                _ => return Err(Error::msg("give the value as an argument, or --stdin to read it (use --stdin for secrets, so they stay out of shell history)")),
            };
            let key = if a.sensitive {
                Some(SecretKey::load_or_create()?)
            } else {
                None
            };
            variable::set(
                &loaded.project,
                &mut loaded.state,
                &scope,
                &a.key,
                &value,
                a.sensitive,
                key.as_ref(),
            )?;
            loaded.target.store.save(&mut loaded.state)?;
            if cx.json() {
                let (scope_name, target) = match &scope {
                    variable::Scope::Resource(r) => ("resource", r),
                    variable::Scope::Service(s) => ("service", s),
                };
                print_json(
                    &serde_json::json!({"scope": scope_name, "target": target, "key": a.key, "kind": "value", "sensitive": a.sensitive, "value": if a.sensitive { "(sensitive)" } else { value.as_str() }}),
                );
                return Ok(0);
            }
            println!(
                "Set {}`{}`; the next apply restarts what uses it.",
                if a.sensitive {
                    "sensitive variable "
                } else {
                    "variable "
                },
                a.key
            );
        }
        VariableCommand::Remove(a) => {
            guard(cx, &loaded.target.root, Command::VariableRemove)?;
            let _lock = loaded.target.store.lock("variable remove")?;
            let scope = variable::Scope::from_args(a.resource, a.service)?;
            let what = variable::remove(&mut loaded.state, &scope, &a.key)?;
            loaded.target.store.save(&mut loaded.state)?;
            if cx.json() {
                print_json(&serde_json::json!({"key": a.key, "removed": what}));
            } else {
                println!("Removed {what} `{}`.", a.key);
            }
        }
        VariableCommand::List(a) => {
            guard(cx, &loaded.target.root, Command::VariableList)?;
            let scope = match (a.resource, a.service) {
                (None, None) => None,
                (r, s) => Some(variable::Scope::from_args(r, s)?),
            };
            let rows = variable::list(&loaded.state, scope.as_ref());
            if cx.json() {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No variables.");
            } else {
                table(
                    &["SCOPE", "TARGET", "KEY", "KIND", "VALUE"],
                    rows.into_iter()
                        .map(|r| vec![r.scope, r.target, r.key, r.kind, r.value])
                        .collect(),
                );
            }
        }
    }
    Ok(0)
}

/// `backup run-due` once, or `scheduler` in a loop.
pub fn backup_run_due(cx: &Context, _cmd: BackupCommand) -> Result<i32> {
    let mut loaded = cx.load_all()?;
    guard(cx, &loaded.target.root, Command::BackupRunDue)?;
    backup::backup_root()?;
    let rt = runtime()?;
    let report = rt.block_on(async { run_due_once(&mut loaded, &cx.global.env, now()?).await })?;
    print_report(cx, &report);
    Ok(if report.failed.is_empty() { 0 } else { 1 })
}

async fn run_due_once(
    loaded: &mut Loaded,
    env: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<schedule_run::Report> {
    let _lock = loaded.target.store.lock("backup run-due")?;
    let key = SecretKey::require()?;
    let d = docker().await?;
    let p = loaded.project.compartment.name.clone();
    let ocx = OpContext {
        docker: &d,
        project: &p,
        env,
        key: &key,
    };
    schedule_run::run_due(
        &ocx,
        &loaded.project.compartment.resources,
        &loaded.target.store,
        &mut loaded.state,
        now,
    )
    .await
}

fn print_report(cx: &Context, report: &schedule_run::Report) {
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

pub fn scheduler(cx: &Context, args: SchedulerArgs) -> Result<i32> {
    // Refusals (role, backup directory, a broken descriptor) stop it at once;
    // later failures are reported and it keeps going.
    let first = cx.load_all()?;
    guard(cx, &first.target.root, Command::BackupRunDue)?;
    backup::backup_root()?;
    let rt = runtime()?;
    if !cx.json() {
        println!(
            "compartment scheduler: checking every {}s for due backups of {} (Ctrl-C to stop)",
            args.interval_seconds, cx.global.env
        );
    }
    let mut next = Some(first);
    rt.block_on(async {
        loop {
            let loaded = match next.take() {
                Some(l) => Ok(l),
                None => cx.load_all(),
            };
            match loaded {
                Ok(mut loaded) => {
                    let result = match now() {
                        Ok(t) => run_due_once(&mut loaded, &cx.global.env, t).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(report) => print_report(cx, &report),
                        Err(e) => eprintln!("error: {e} (the scheduler keeps running)"),
                    }
                }
                // Diagnostics were printed by the loader.
                Err(Error::Exit(_)) => {
                    eprintln!("error: compartment.yml does not load; nothing ran (the scheduler keeps running)")
                }
                Err(e) => eprintln!("error: {e} (the scheduler keeps running)"),
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(args.interval_seconds)) => {}
                _ = tokio::signal::ctrl_c() => { println!("scheduler stopped"); return Ok(0); }
            }
        }
    })
}
