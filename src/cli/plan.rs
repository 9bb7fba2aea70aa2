//! `compartment plan`, `show` and `graph`: the plan in every output format,
//! plan files (`--out`, `--check`), and exit codes.

use super::args::{GraphArgs, GraphFormat, PlanArgs, PlanFormat, RollbackArgs, ShowArgs};
use super::Context;
use crate::error::{Error, Result};
use crate::plan::{file, planner, render, Mode, Plan};
use std::io::Write;

fn print_plan(cx: &Context, plan: &Plan, format: PlanFormat) {
    match format {
        PlanFormat::Text => print!("{}", render::text(plan, cx.color)),
        PlanFormat::Json => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            // As `print!` does: a closed stdout ends quietly (`main`).
            if let Err(e) = file::write_json(plan, &mut out).and_then(|()| out.flush()) {
                panic!("failed printing to stdout: {e}");
            }
        }
        PlanFormat::Markdown => print!("{}", render::markdown(plan, render::MARKDOWN_LIMIT)),
    }
}

fn format_of(json: bool, format: Option<PlanFormat>, cx: &Context) -> PlanFormat {
    match (json, format) {
        (true, _) => PlanFormat::Json,
        (false, Some(f)) => f,
        (false, None) if cx.json() => PlanFormat::Json,
        _ => PlanFormat::Text,
    }
}

fn make_plan(
    ws: &crate::workspace::Workspace,
    drift: &planner::Drift,
    mode: &Mode,
) -> Result<Plan> {
    let input = planner::Input {
        project: &ws.project,
        environment: &ws.env,
        state: &ws.state,
        global: Some(&ws.global),
        drift,
    };
    let mut plan = crate::plan::plan_for(&input, mode)?;
    plan.target(
        ws.remote(),
        ws.project.compartment.environments.get(&ws.env),
    );
    Ok(plan)
}

pub fn plan(cx: &Context, args: PlanArgs) -> Result<i32> {
    let ws = cx.open()?;
    let drift = if args.refresh {
        cx.block_on(crate::apply::refresh::drift(
            &ws.project,
            &ws.env,
            &ws.state,
            (ws.remote(), ws.required_engine()),
        ))??
    } else {
        Default::default()
    };
    let mode = if args.destroy {
        Mode::Destroy {
            delete_data: args.delete_data,
        }
    } else {
        Mode::Apply
    };
    crate::support::phases::mark("open");
    let plan = make_plan(&ws, &drift, &mode)?;
    crate::support::phases::mark("plan");
    let format = format_of(args.json, args.format, cx);
    if let Some(path) = &args.check {
        let committed = file::read(path)?;
        // A targeted file is checked against the same scope.
        let plan = plan.targeted(if args.target.is_empty() {
            &committed.targets
        } else {
            &args.target
        })?;
        let differences = file::differences(&committed, &plan);
        if differences.is_empty() {
            println!(
                "{} is up to date",
                crate::support::paths::display_path(path)
            );
            return Ok(0);
        }
        return Err(Error::OutOfDate {
            path: crate::support::paths::display_path(path),
            differences,
        });
    }
    let plan = plan.targeted(&args.target)?;
    print_plan(cx, &plan, format);
    crate::support::phases::mark("print");
    if plan.is_blocked() {
        return Err(Error::Blocked {
            count: plan.blocked.len(),
        });
    }
    if let Some(path) = &args.out {
        save(path, &plan, format)?;
    }
    let code = if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    };
    // The process ends with this command: the operating system takes the
    // project and the plan back at once, where dropping them piece by
    // piece was 5 % of planning 10,000 instances (docs/benchmarks.md).
    std::mem::forget(ws);
    std::mem::forget(plan);
    Ok(code)
}

/// `compartment rollback --out FILE`: the rollback plan, printed and saved
/// for review.
pub fn rollback(cx: &Context, args: RollbackArgs) -> Result<i32> {
    let ws = cx.open()?;
    let mode = Mode::Rollback {
        services: args.services,
        to: args.to,
    };
    let plan = make_plan(&ws, &Default::default(), &mode)?;
    let format = format_of(false, None, cx);
    print_plan(cx, &plan, format);
    if plan.is_blocked() {
        return Err(Error::Blocked {
            count: plan.blocked.len(),
        });
    }
    if let Some(path) = &args.out {
        save(path, &plan, format)?;
    }
    Ok(0)
}

/// Writes `plan` to `path` (creating its directory) and says so.
fn save(path: &std::path::Path, plan: &Plan, format: PlanFormat) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, file::to_json(plan))?;
    if format == PlanFormat::Text {
        println!(
            "Saved the plan to {}. Apply it with `compartment apply {}`.",
            crate::support::paths::display_path(path),
            crate::support::paths::display_path(path)
        );
    }
    Ok(())
}

pub fn show(cx: &Context, args: ShowArgs) -> Result<i32> {
    let plan = file::read(&args.file)?;
    print_plan(cx, &plan, format_of(args.json, args.format, cx));
    Ok(0)
}

pub fn graph(cx: &Context, args: GraphArgs) -> Result<i32> {
    let ws = cx.open()?;
    let g = make_plan(&ws, &Default::default(), &Mode::Apply)?.graph();
    if cx.json() {
        let edges: Vec<_> = g
            .nodes()
            .flat_map(|a| {
                g.dependencies(a)
                    .into_iter()
                    .map(move |d| serde_json::json!({"from": d, "to": a}))
            })
            .collect();
        let nodes: Vec<&str> = g.nodes().collect();
        let doc = serde_json::json!({"nodes": nodes, "edges": edges});
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serialises")
        );
        return Ok(0);
    }
    print!(
        "{}",
        match args.format {
            GraphFormat::Dot => g.to_dot(),
            GraphFormat::Mermaid => g.to_mermaid(),
        }
    );
    Ok(0)
}
