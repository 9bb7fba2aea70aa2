//! `compartment apply [FILE]`: parse, call `apply::run`, render the plan,
//! the prompt and the summary.

use super::args::ApplyArgs;
use super::Context;
use crate::apply::executor::Outcome;
use crate::apply::progress::Progress;
use crate::apply::steps::StepOutcome;
use crate::apply::{self, Answer, Applied, ApplyRequest};
use crate::error::Result;
use crate::plan::{render, Plan};
use std::io::{BufRead, IsTerminal, Write};

struct Terminal {
    color: bool,
}

impl apply::Ui for Terminal {
    fn planned(&mut self, plan: &Plan) {
        print!("{}", render::text(plan, self.color));
    }

    fn ask(&self) -> fn() -> std::io::Result<Answer> {
        confirm
    }

    fn executing(&mut self) {
        println!();
    }
}

fn confirm() -> std::io::Result<Answer> {
    println!("\nDo you want to apply these changes? Only 'yes' will be accepted.");
    print!("  Enter a value: ");
    std::io::stdout().flush()?;
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
        progress: Progress::new(std::io::stdout().is_terminal()),
    };
    let mut ui = Terminal { color: cx.color };
    let report = cx.block_on(apply::run(request, &mut ui))??;
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
        outcome.count(|o| matches!(o, StepOutcome::Updated { .. } | StepOutcome::Recreated)),
        outcome.count(|o| o == StepOutcome::Replaced),
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
