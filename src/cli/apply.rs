//! `compartment apply [FILE]`: parse, call `apply::run`, render the plan,
//! the prompt and the summary.

use super::args::{ApplyArgs, DestroyArgs, RollbackArgs};
use super::Context;
use crate::apply::executor::Outcome;
use crate::apply::progress::Progress;
use crate::apply::steps::StepOutcome;
use crate::apply::{self, Answer, Applied, ApplyRequest};
use crate::error::Result;
use crate::plan::{render, Mode, Plan};
use std::io::{BufRead, IsTerminal, Write};

struct Terminal {
    color: bool,
    /// JSON Lines events on stdout (`--output json`).
    json: bool,
}

impl apply::Ui for Terminal {
    fn planned(&mut self, plan: &Plan) {
        if self.json {
            let plan = serde_json::to_value(plan).expect("plan serialises");
            println!("{}", serde_json::json!({"event": "plan", "plan": plan}));
        } else {
            print!("{}", render::text(plan, self.color));
        }
    }

    fn ask(&self) -> fn() -> std::io::Result<Answer> {
        if self.json {
            confirm_on_stderr
        } else {
            confirm
        }
    }

    fn executing(&mut self) {
        if !self.json {
            println!();
        }
    }
}

const QUESTION: &str = "Do you want to apply these changes? Only 'yes' will be accepted.";

fn confirm() -> std::io::Result<Answer> {
    println!("\n{QUESTION}");
    print!("  Enter a value: ");
    std::io::stdout().flush()?;
    answer()
}

/// The question on stderr, so that stdout stays JSON Lines.
fn confirm_on_stderr() -> std::io::Result<Answer> {
    eprint!("{QUESTION}\n  Enter a value: ");
    answer()
}

fn answer() -> std::io::Result<Answer> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        println!();
        return Ok(Answer::NoInput);
    }
    Ok(if line.trim() == "yes" {
        Answer::Yes
    } else {
        Answer::No
    })
}

pub fn run(cx: &Context, args: ApplyArgs) -> Result<i32> {
    let request = ApplyRequest {
        workspace: cx.open()?,
        plan_file: args.file,
        yes: args.yes,
        parallelism: args.parallelism as usize,
        targets: args.target,
        progress: progress(cx),
        mode: Mode::Apply,
        grant: crate::ops::guard::grant(&cx.options().root(), &cx.global.env)?,
    };
    execute(cx, request)
}

/// `compartment destroy`: a destroy plan, confirmed and applied.
pub fn destroy(cx: &Context, args: DestroyArgs) -> Result<i32> {
    let request = ApplyRequest {
        workspace: cx.open()?,
        plan_file: None,
        yes: args.yes,
        parallelism: args.parallelism as usize,
        targets: Vec::new(),
        progress: progress(cx),
        mode: Mode::Destroy {
            delete_data: args.delete_data,
        },
        grant: crate::ops::guard::grant(&cx.options().root(), &cx.global.env)?,
    };
    execute(cx, request)
}

/// `compartment rollback` without `--out`: a rollback plan, confirmed and
/// applied.
pub fn rollback(cx: &Context, args: RollbackArgs) -> Result<i32> {
    let request = ApplyRequest {
        workspace: cx.open()?,
        plan_file: None,
        yes: args.yes,
        parallelism: args.parallelism as usize,
        targets: Vec::new(),
        progress: progress(cx),
        mode: Mode::Rollback {
            services: args.services,
            to: args.to,
        },
        grant: crate::ops::guard::grant(&cx.options().root(), &cx.global.env)?,
    };
    execute(cx, request)
}

fn progress(cx: &Context) -> Progress {
    if cx.json() {
        Progress::json()
    } else {
        Progress::new(std::io::stdout().is_terminal())
    }
}

fn execute(cx: &Context, request: ApplyRequest) -> Result<i32> {
    let mut ui = Terminal {
        color: cx.color,
        json: cx.json(),
    };
    let report = cx.block_on(apply::run(request, &mut ui))??;
    if cx.json() {
        println!("{}", summary_json(&report));
        return Ok(report.exit_code());
    }
    match &report.applied {
        Applied::NoChanges => {}
        Applied::Cancelled => println!("Apply cancelled."),
        Applied::Executed(outcome) => {
            summary(outcome);
            println!(
                "State saved to {} (serial {}).",
                report.state_path, report.serial
            );
        }
    }
    Ok(report.exit_code())
}

/// The last JSON Lines event of an apply.
fn summary_json(report: &apply::ApplyReport) -> serde_json::Value {
    let Applied::Executed(o) = &report.applied else {
        let status = match report.applied {
            Applied::NoChanges => "no-changes",
            _ => "cancelled",
        };
        return serde_json::json!({"event": "summary", "status": status, "exitCode": report.exit_code()});
    };
    let status = if o.success() {
        "complete"
    } else if o.interrupted {
        "interrupted"
    } else {
        "failed"
    };
    let pairs = |v: &[(String, String)], k: &str| -> Vec<serde_json::Value> {
        v.iter()
            .map(|(a, b)| serde_json::json!({"node": a, k: b}))
            .collect()
    };
    serde_json::json!({
        "event": "summary",
        "status": status,
        "exitCode": report.exit_code(),
        "created": o.count(|x| x == StepOutcome::Created),
        "updated": o.count(StepOutcome::is_update),
        "replaced": o.count(StepOutcome::is_replace),
        "deleted": o.count(|x| x == StepOutcome::Deleted),
        "removed": o.removed,
        "failed": o.failed.iter().map(|(a, e)| serde_json::json!({"node": a, "error": e.to_string()})).collect::<Vec<_>>(),
        "skipped": pairs(&o.skipped, "because"),
        "notStarted": o.not_started,
        "warnings": pairs(&o.warnings, "warning"),
        "saveError": o.save_error.as_ref().map(|e| e.to_string()),
        "state": {"path": report.state_path, "serial": report.serial},
    })
}

fn summary(outcome: &Outcome) {
    println!();
    println!(
        "Apply {}: {} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped.",
        if outcome.success() {
            "complete"
        } else if outcome.interrupted {
            "interrupted"
        } else {
            "failed"
        },
        outcome.count(|o| o == StepOutcome::Created),
        outcome.count(StepOutcome::is_update),
        outcome.count(StepOutcome::is_replace),
        outcome.count(|o| o == StepOutcome::Deleted),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    for (a, e) in &outcome.failed {
        println!("  failed: {a}: {e}");
    }
    for (a, because) in &outcome.skipped {
        println!("  skipped: {a} (depends on {because}, which did not complete)");
    }
    for a in &outcome.removed {
        println!("  removed: {a}");
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
}
