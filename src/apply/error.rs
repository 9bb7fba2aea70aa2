//! The typed errors of apply: why a plan is not executed (`ApplyError`) and
//! why one node failed (`StepError`). Each displays as the one line a user
//! reads after `error: ` (or after the node's address in the summary).

use crate::docker::DockerError;
use crate::plan::file::PlanFileError;
use crate::plan::planner::CycleError;
use crate::state::secrets::SecretError;
use crate::state::store::StoreError;
use thiserror::Error;

/// Why `apply` stopped before (or instead of) executing a plan.
#[derive(Debug, Error)]
pub enum ApplyError {
    #[error("the plan is blocked by {count} change(s); nothing was applied")]
    Blocked { count: usize },
    #[error(
        "Saved plan is stale: {path} cannot be applied because {}. Make a new plan with `compartment plan --out {path}` and review it.",
        reasons.join("; ")
    )]
    Stale { path: String, reasons: Vec<String> },
    #[error(
        "the saved plan {path} no longer matches the environment ({}); the engine may have drifted: run `compartment plan --refresh` and make a new plan",
        differences.join("; ")
    )]
    Drifted {
        path: String,
        differences: Vec<String>,
    },
    #[error(transparent)]
    UnknownTarget(#[from] crate::plan::UnknownTarget),
    #[error("apply cancelled: no answer on standard input (pass --yes to apply without asking)")]
    NoAnswer,
    /// Ctrl-C before anything was executed; the locks are released.
    #[error("Apply cancelled; nothing was changed.")]
    Interrupted,
    /// The actor may not destroy (`deployment.delete`).
    #[error(transparent)]
    Denied(#[from] crate::access::Denied),
    /// Instance changes whose `allowed_role` the actor lacks.
    #[error(transparent)]
    RoleDenied(#[from] crate::access::RoleDenied),
    /// Resources the plan creates whose container or volumes exist while
    /// the state records nothing of them: never taken over.
    #[error(
        "refusing to create {} resource(s) over objects the state does not record (their data may have been written with credentials this state does not hold); nothing was changed:\n{}\nAdopt each with `compartment import ADDRESS CONTAINER`, or, if its data is not needed, delete it with `compartment resource delete --resource NAME --delete-data`, and apply again.",
        objects.len(),
        objects.iter().map(|o| format!("  {o}")).collect::<Vec<_>>().join("\n")
    )]
    Unrecorded {
        objects: Vec<super::intent::Unrecorded>,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why one node of an apply (or a restore) failed.
#[derive(Debug, Error)]
pub enum StepError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("not ready: {0}")]
    NotReady(DockerError),
    /// The release a rollback plan names cannot run again.
    #[error("cannot roll back to {image}: {why}")]
    ReleaseGone { image: String, why: String },
    /// The new container of a start-first replace never got ready: it was
    /// removed, and the old one keeps serving.
    #[error("the new container was removed and the old one keeps serving: {source}{}", log_tail(.logs))]
    ReplaceNotReady {
        source: Box<StepError>,
        logs: Vec<String>,
    },
    #[error(transparent)]
    Env(#[from] super::env::EnvError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the environment has no hook secret yet")]
    NoHookSecret,
    #[error("no node of the swarm can take a task (none is ready and active: `docker node ls` on a manager)")]
    NoSwarmNode,
    /// The step's task panicked (a bug); its dependents are skipped.
    #[error("{0}")]
    Panicked(String),
}

/// `; last log lines of the new container: a | b` (nothing without lines).
fn log_tail(lines: &[String]) -> String {
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    match lines.is_empty() {
        true => String::new(),
        false => format!(
            "; last log lines of the new container: {}",
            lines.join(" | ")
        ),
    }
}
