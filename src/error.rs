//! The one error type commands return (casey/just's `Error`): a variant per
//! layer, each with its exit code. It is rendered once, by the command line
//! (`cli::render_error`); nothing else prints `error:`.

use crate::access::{AccessError, Denied};
use crate::apply::ApplyError;
use crate::docker::DockerError;
use crate::ops::OpsError;
use crate::plan::file::PlanFileError;
use crate::plan::planner::CycleError;
use crate::state::format::FormatError;
use crate::state::secrets::SecretError;
use crate::state::store::StoreError;
use crate::workspace::WorkspaceError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The descriptors do not load, or the project cannot be found.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// `plan` found blocked changes (the plan itself was printed).
    #[error("the plan is blocked by {count} change(s); nothing was written")]
    Blocked { count: usize },
    /// `plan --check FILE`: the committed file is not what a fresh plan says.
    #[error(
        "{path} is out of date:\n{}\nregenerate it with `compartment plan --out {path}` and commit it",
        differences.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    OutOfDate {
        path: String,
        differences: Vec<String>,
    },
    /// The actor's role does not allow the command.
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Arguments that parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Ops(Box<OpsError>),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    Target(#[from] crate::plan::UnknownTarget),
    #[error(transparent)]
    Scaffold(#[from] crate::project::scaffold::ScaffoldError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A stable name of the kind of error, for `--output json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Workspace(WorkspaceError::Invalid { .. }) => "invalid-descriptors",
            Error::Workspace(_) => "project",
            Error::Blocked { .. } | Error::Apply(ApplyError::Blocked { .. }) => "blocked",
            Error::OutOfDate { .. } => "out-of-date",
            Error::Apply(ApplyError::Stale { .. }) => "stale-plan",
            Error::Apply(ApplyError::Drifted { .. }) => "drifted-plan",
            Error::Apply(ApplyError::Unrecorded { .. }) => "unrecorded-objects",
            Error::Apply(ApplyError::Interrupted) => "interrupted",
            Error::Apply(ApplyError::Docker(_)) | Error::Docker(_) => "engine",
            Error::Apply(ApplyError::Denied(_) | ApplyError::RoleDenied(_)) => "denied",
            Error::Apply(_) => "apply",
            Error::Denied(_) => "denied",
            Error::Access(_) => "access",
            Error::Usage(_) => "usage",
            Error::Ops(_) => "operation",
            Error::Store(_) | Error::Format(_) => "state",
            Error::Secret(_) => "secret",
            Error::PlanFile(_) => "plan-file",
            Error::Cycle(_) => "cycle",
            Error::Target(_) => "usage",
            Error::Scaffold(_) => "init",
            Error::Io(_) => "io",
        }
    }

    /// The located diagnostics an error carries (invalid descriptors or an
    /// invalid access file), which are rendered instead of a message.
    pub fn diagnostics(
        &self,
    ) -> Option<(
        &crate::diagnostics::Sources,
        &crate::diagnostics::Diagnostics,
    )> {
        match self {
            Error::Workspace(WorkspaceError::Invalid {
                sources,
                diagnostics,
            }) => Some((sources, diagnostics)),
            Error::Access(AccessError::Invalid {
                sources,
                diagnostics,
                ..
            }) => Some((sources, diagnostics)),
            _ => None,
        }
    }

    /// The process exit code: 128 + the signal's number for an interrupt
    /// (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), 1 for everything else
    /// (2 is reserved for `plan --detailed-exitcode`'s "changes present").
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Apply(ApplyError::Interrupted) => crate::interrupt::exit_code(),
            _ => 1,
        }
    }
}

impl From<OpsError> for Error {
    fn from(e: OpsError) -> Self {
        Error::Ops(Box::new(e))
    }
}

impl From<crate::ops::guard::GuardError> for Error {
    fn from(e: crate::ops::guard::GuardError) -> Self {
        match e {
            crate::ops::guard::GuardError::Access(e) => Error::Access(e),
            crate::ops::guard::GuardError::Denied(e) => Error::Denied(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
