//! `compartment plan`, `show` and `graph`: the plan in every output format,
//! plan files (`--out`, `--check`), and exit codes.

use super::args::{GraphArgs, GraphFormat, PlanArgs, PlanFormat, ShowArgs};
use super::Context;
use crate::error::Result;
use crate::graph::Graph;
use crate::plan::{file, render, Plan};

fn print_plan(cx: &Context, plan: &Plan, format: PlanFormat) {
    match format {
        PlanFormat::Text => print!("{}", render::text(plan, cx.color)),
        PlanFormat::Json => print!("{}", file::to_json(plan)),
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

pub fn plan(cx: &Context, args: PlanArgs) -> Result<i32> {
    let loaded = cx.load_all()?;
    let drift = if args.refresh {
        crate::apply::refresh::drift(&loaded.project, &cx.global.env, &loaded.state)?
    } else {
        Default::default()
    };
    let plan = loaded.plan(cx, &drift)?;
    let format = format_of(args.json, args.format, cx);
    if let Some(path) = &args.check {
        let committed = file::read(path)?;
        let diffs = file::differences(&committed, &plan);
        if diffs.is_empty() {
            println!(
                "{} is up to date",
                crate::support::paths::display_path(path)
            );
            return Ok(0);
        }
        eprintln!(
            "error: {} is out of date:",
            crate::support::paths::display_path(path)
        );
        for d in diffs {
            eprintln!("  - {d}");
        }
        eprintln!(
            "regenerate it with `compartment plan --out {}` and commit it",
            crate::support::paths::display_path(path)
        );
        return Ok(1);
    }
    print_plan(cx, &plan, format);
    if plan.is_blocked() {
        eprintln!(
            "error: the plan is blocked by {} change(s); nothing was written",
            plan.blocked.len()
        );
        return Ok(1);
    }
    if let Some(path) = &args.out {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, file::to_json(&plan))?;
        if format == PlanFormat::Text {
            println!(
                "Saved the plan to {}. Apply it with `compartment apply {}`.",
                crate::support::paths::display_path(path),
                crate::support::paths::display_path(path)
            );
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    })
}

pub fn show(cx: &Context, args: ShowArgs) -> Result<i32> {
    let plan = file::read(&args.file)?;
    print_plan(cx, &plan, format_of(args.json, args.format, cx));
    Ok(0)
}

pub fn graph(cx: &Context, args: GraphArgs) -> Result<i32> {
    let loaded = cx.load_all()?;
    let plan = loaded.plan(cx, &Default::default())?;
    let mut g = Graph::new();
    for ch in &plan.changes {
        g.add_node(&ch.address);
        for d in &ch.depends_on {
            g.add_dependency(&ch.address, d);
        }
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
