//! `compartment apply [FILE]`: plan (or check a reviewed plan file), ask,
//! execute through the apply engine, report what happened.

use super::args::ApplyArgs;
use super::Context;
use crate::apply::executor::{self, Stores};
use crate::apply::progress::Progress;
use crate::apply::steps::Shared;
use crate::apply::{prepare, refresh};
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::plan::{file, render, Plan};
use crate::state::secrets::SecretKey;
use is_terminal::IsTerminal;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::Arc;

/// Why a saved plan may not be applied (Terraform: "Saved plan is stale").
fn stale_reasons(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if saved.project != fresh.project || saved.environment != fresh.environment {
        out.push(format!(
            "it was made for {}/{}, not {}/{}",
            saved.project, saved.environment, fresh.project, fresh.environment
        ));
    }
    if saved.prior_state.lineage.is_some() && saved.prior_state.lineage != fresh.prior_state.lineage
    {
        out.push(format!(
            "the state's lineage changed ({} → {}): it is a different state",
            saved.prior_state.lineage.as_deref().unwrap_or("none"),
            fresh.prior_state.lineage.as_deref().unwrap_or("none")
        ));
    } else if saved.prior_state.serial != fresh.prior_state.serial {
        out.push(format!(
            "the state changed since the plan was made (serial {} → {})",
            saved.prior_state.serial, fresh.prior_state.serial
        ));
    }
    if saved.prior_state.global_serial != fresh.prior_state.global_serial {
        out.push(
            "the project-wide state of global instances changed since the plan was made".into(),
        );
    }
    let names: BTreeSet<&String> = saved.inputs.keys().chain(fresh.inputs.keys()).collect();
    for n in names {
        match (saved.inputs.get(n), fresh.inputs.get(n)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("{n} changed since the plan was made"))
            }
            (Some(_), None) => out.push(format!("{n} no longer exists")),
            (None, Some(_)) => out.push(format!("{n} is new since the plan was made")),
            _ => {}
        }
    }
    out
}

fn confirm() -> Result<bool> {
    println!("\nDo you want to apply these changes? Only 'yes' will be accepted.");
    print!("  Enter a value: ");
    use std::io::Write;
    std::io::stdout().flush()?;
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        println!();
        return Err(Error::msg(
            "apply cancelled: no answer on standard input (pass --yes to apply without asking)",
        ));
    }
    Ok(line.trim() == "yes")
}

pub fn run(cx: &Context, args: ApplyArgs) -> Result<i32> {
    let loaded = cx.load_all()?;
    cx.guard(&loaded.target.root, crate::access::Command::Apply)?;
    let _lock = loaded.target.store.lock("apply")?;
    // Instances of global types live in the project-wide state, shared by
    // every environment: lock it too when this project declares any.
    let _global_lock = if loaded.project.instances.values().any(|i| i.global)
        || !loaded.global.instances.is_empty()
    {
        Some(loaded.target.global_store.lock("apply")?)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let super::Loaded {
        project,
        target,
        mut state,
        mut global,
    } = loaded;
    // Until the executor runs (and handles Ctrl-C itself), an interrupt —
    // e.g. at the confirmation prompt — releases the locks and exits 130
    // instead of killing the process and leaving a stale lock behind.
    let executing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let executing = executing.clone();
        let locks: Vec<std::path::PathBuf> = std::iter::once(target.store.lock_path())
            .chain(
                _global_lock
                    .as_ref()
                    .map(|_| target.global_store.lock_path()),
            )
            .collect();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok()
                && !executing.load(std::sync::atomic::Ordering::SeqCst)
            {
                for l in &locks {
                    let _ = std::fs::remove_file(l);
                }
                eprintln!("\nApply cancelled; nothing was changed.");
                std::process::exit(130);
            }
        });
    }
    rt.block_on(async move {
        let docker = Docker::connect().await.map_err(|e| Error::msg(e.to_string()))?;
        let drift = refresh::detect(&docker, &project.compartment.name, &cx.global.env, &state).await?;
        let input = crate::plan::planner::Input { project: &project, environment: &cx.global.env, state: &state, global: Some(&global), drift: &drift };
        let plan = crate::plan::planner::plan(&input)?;
        if let Some(path) = &args.file {
            let saved = file::read(path)?;
            let reasons = stale_reasons(&saved, &plan);
            if !reasons.is_empty() {
                return Err(Error::msg(format!(
                    "Saved plan is stale: {} cannot be applied because {}. Make a new plan with `compartment plan --out {}` and review it.",
                    crate::support::paths::display_path(path),
                    reasons.join("; "),
                    crate::support::paths::display_path(path)
                )));
            }
            let diffs = file::differences(&saved, &plan);
            if !diffs.is_empty() {
                return Err(Error::msg(format!(
                    "the saved plan {} no longer matches the environment ({}); the engine may have drifted: run `compartment plan --refresh` and make a new plan",
                    crate::support::paths::display_path(path),
                    diffs.join("; ")
                )));
            }
        }
        print!("{}", render::text(&plan, cx.color));
        if plan.is_blocked() {
            eprintln!("error: the plan is blocked by {} change(s); nothing was applied", plan.blocked.len());
            return Ok(1);
        }
        if !plan.has_changes() {
            return Ok(0);
        }
        if args.file.is_none() && !args.yes && !confirm()? {
            println!("Apply cancelled.");
            return Ok(1);
        }
        let key = SecretKey::load_or_create()?;
        let p = project.compartment.name.clone();
        if prepare(&docker, &key, &p, &cx.global.env, &mut state).await.map_err(Error::msg)? {
            target.store.save(&mut state)?;
        }
        let scope = if args.target.is_empty() {
            None
        } else {
            let mut g = crate::graph::Graph::new();
            for ch in &plan.changes {
                g.add_node(&ch.address);
                for d in &ch.depends_on {
                    g.add_dependency(&ch.address, d);
                }
            }
            let mut scope = BTreeSet::new();
            for t in &args.target {
                if !g.contains(t) {
                    return Err(Error::msg(format!("--target {t} is not in the plan; addresses look like resource.db, service.api, instance.downtown")));
                }
                scope.extend(g.with_dependencies(t));
            }
            Some(scope)
        };
        let shared = Arc::new(Shared::new(docker, project, cx.global.env.clone(), key, Progress::new(std::io::stdout().is_terminal())));
        println!();
        let stores = Stores { state: target.store.clone(), global: target.global_store.clone() };
        executing.store(true, std::sync::atomic::Ordering::SeqCst);
        let outcome = executor::execute(&plan, shared, &stores, &mut state, &mut global, args.parallelism as usize, scope.as_ref()).await;
        println!();
        let count = |w: &str| outcome.done.iter().filter(|(_, o)| o.starts_with(w)).count();
        println!(
            "Apply {}: {} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped.",
            if outcome.success() { "complete" } else if outcome.interrupted { "interrupted" } else { "failed" },
            count("created"),
            count("updated") + count("recreated"),
            count("replaced"),
            count("deleted"),
            outcome.failed.len(),
            outcome.skipped.len()
        );
        for (a, e) in &outcome.failed {
            println!("  failed: {a}: {e}");
        }
        for (a, because) in &outcome.skipped {
            println!("  skipped: {a} (depends on {because}, which did not complete)");
        }
        for a in &outcome.not_started {
            println!("  not started: {a}");
        }
        for (a, w) in &outcome.warnings {
            println!("  warning: {a}: {w}");
        }
        if let Some(e) = &outcome.save_error {
            eprintln!("error: saving the state failed: {e}");
        }
        println!("State saved to {} (serial {}).", target.store.display(), state.serial);
        Ok(if outcome.interrupted { 130 } else if outcome.success() { 0 } else { 1 })
    })
}
