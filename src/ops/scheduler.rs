//! `compartment scheduler`: `backup run-due` in a loop until Ctrl-C. The
//! project is loaded afresh on every pass (so edits to compartment.yml take
//! effect), a failed pass is reported and the loop goes on, and one
//! interrupt listener for the whole loop means a Ctrl-C pressed during a
//! backup stops the scheduler as soon as that pass ends.

use super::command;
use super::error::OpsError;
use super::schedule_run::Report;
use crate::interrupt::Interrupt;
use crate::workspace::{Workspace, WorkspaceError};
use std::time::Duration;

/// The result of one pass.
pub enum Pass {
    Ran(Report),
    Failed(OpsError),
    /// compartment.yml (or the state) did not load; nothing ran.
    NotLoaded(WorkspaceError),
}

/// Runs passes every `interval` until interrupted. `first` is the workspace
/// the caller already opened; later passes call `open`. A refusal (no usable
/// backup directory) stops it before the first pass, and before `on_start`.
pub async fn run(
    first: Workspace,
    open: impl Fn() -> Result<Workspace, WorkspaceError>,
    interval: Duration,
    on_start: impl FnOnce(),
    mut on_pass: impl FnMut(Pass),
) -> Result<(), OpsError> {
    super::backup::backup_root()?;
    on_start();
    let interrupt = Interrupt::listen();
    let mut next = Some(first);
    loop {
        let loaded = match next.take() {
            Some(ws) => Ok(ws),
            None => open(),
        };
        on_pass(match loaded {
            Ok(mut ws) => match command::run_due(&mut ws).await {
                Ok(report) => Pass::Ran(report),
                Err(e) => Pass::Failed(e),
            },
            Err(e) => Pass::NotLoaded(e),
        });
        tokio::select! {
            biased;
            _ = interrupt.wait() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
