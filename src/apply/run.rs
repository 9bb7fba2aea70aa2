//! `apply` as one library call: lock the states (the project-wide one too
//! when global instances are involved), plan against the live engine, refuse
//! a stale or drifted plan file, show the plan and ask, prepare the network,
//! execute (scoped by `--target`), and report the state reached. Ctrl-C
//! before execution releases the locks and changes nothing; during
//! execution the executor stops starting nodes and saves.

use super::error::ApplyError;
use super::executor::{self, Outcome, Stores};
use super::progress::Progress;
use super::steps::Shared;
use super::{intent, prepare, refresh};
use crate::docker::Docker;
use crate::interrupt::Interrupt;
use crate::plan::{file, planner, Mode, Plan};
use crate::state::secrets::SecretKey;
use crate::state::store::LockGuard;
use crate::workspace::Workspace;
use std::path::PathBuf;
use std::sync::Arc;

/// The answer to "Do you want to apply these changes?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Standard input ended without an answer.
    NoInput,
}

/// What the command line shows and asks during an apply.
pub trait Ui {
    /// The plan that is about to be executed (also when it is blocked or
    /// empty).
    fn planned(&mut self, plan: &Plan);
    /// Asks for confirmation; blocking, so it runs on its own thread.
    fn ask(&self) -> fn() -> std::io::Result<Answer>;
    /// Execution starts now (progress follows).
    fn executing(&mut self);
}

pub struct ApplyRequest {
    pub workspace: Workspace,
    /// A reviewed plan file to execute instead of a fresh plan.
    pub plan_file: Option<PathBuf>,
    /// Execute without asking (`--yes`); a plan file never asks.
    pub yes: bool,
    pub parallelism: usize,
    /// `--target` addresses: each with what it depends on.
    pub targets: Vec<String>,
    pub progress: Progress,
    /// The kind of plan made when there is no plan file (a plan file
    /// carries its own).
    pub mode: Mode,
    /// What the actor holds: a destroy needs `deployment.delete`, an
    /// instance change the Platz role its type's `allowed_role` names.
    pub grant: crate::access::Grant,
}

/// How an apply ended.
pub enum Applied {
    /// The environment already matched.
    NoChanges,
    /// The user did not answer `yes`.
    Cancelled,
    Executed(Box<Outcome>),
}

pub struct ApplyReport {
    pub applied: Applied,
    /// Where the state was saved, and its serial after the run.
    pub state_path: String,
    pub serial: u64,
}

impl ApplyReport {
    /// 0 when everything asked for was done, 128 + the signal's number
    /// after an interrupt (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
    pub fn exit_code(&self) -> i32 {
        match &self.applied {
            Applied::NoChanges => 0,
            Applied::Cancelled => 1,
            Applied::Executed(o) if o.interrupted => crate::interrupt::exit_code(),
            Applied::Executed(o) if o.success() => 0,
            Applied::Executed(_) => 1,
        }
    }
}

/// Runs `apply`. Interrupts (Ctrl-C, SIGTERM, SIGHUP) are listened for from
/// the start.
pub async fn run(req: ApplyRequest, ui: &mut impl Ui) -> Result<ApplyReport, ApplyError> {
    let interrupt = Interrupt::listen();
    let ApplyRequest {
        workspace: ws,
        plan_file,
        yes,
        parallelism,
        targets,
        progress,
        mode,
        grant,
    } = req;
    let saved = plan_file.as_deref().map(file::read).transpose()?;
    let mode = saved.as_ref().map_or(mode, |s| s.mode.clone());
    if let Mode::Destroy { .. } = mode {
        grant.check(crate::access::Command::Destroy)?;
    }
    let _locks = lock(&ws)?;
    let docker = until_interrupted(&interrupt, async { Ok(ws.connect().await?) }).await?;
    // A targeted plan file applies its own scope.
    let targets = saved.as_ref().map_or(targets, |s| s.targets.clone());
    let plan = plan_live(&docker, &ws, &mode).await?.targeted(&targets)?;
    // A resource deleted by an ordinary plan (`removed:`) needs what
    // `resource delete` needs.
    let deletes_resource = |c: &crate::plan::Change| {
        c.kind == crate::plan::Kind::Resource && c.action == crate::plan::Action::Delete
    };
    if mode == Mode::Apply && plan.changes.iter().any(deletes_resource) {
        grant.check(crate::access::Command::ApplyResourceDelete)?;
    }
    if let (Some(path), Some(saved)) = (&plan_file, &saved) {
        check_saved(path, saved, &plan)?;
    }
    ui.planned(&plan);
    if plan.is_blocked() {
        return Err(ApplyError::Blocked {
            count: plan.blocked.len(),
        });
    }
    let report = |applied, ws: &Workspace| ApplyReport {
        applied,
        state_path: ws.target.store.display(),
        serial: ws.state.serial,
    };
    if !plan.has_changes() && plan.teardown.is_none() {
        return Ok(report(Applied::NoChanges, &ws));
    }
    check_roles(&plan, &grant)?;
    if plan_file.is_none() && !yes {
        let ask = ui.ask();
        let answer = until_interrupted(&interrupt, async move {
            tokio::task::spawn_blocking(ask)
                .await
                .map_err(std::io::Error::other)?
                .map_err(ApplyError::from)
        })
        .await?;
        match answer {
            Answer::Yes => {}
            Answer::No => return Ok(report(Applied::Cancelled, &ws)),
            Answer::NoInput => return Err(ApplyError::NoAnswer),
        }
    }
    let mut ws = ws;
    let key = SecretKey::load_or_create()?;
    ws.state.bind_key(&key)?;
    let p = ws.name().to_string();
    intent::refuse_unrecorded(&docker, &plan.changes, &ws.project, &ws.env, &ws.state).await?;
    // A destroy creates nothing, not even the network it is removing. The
    // network, the hook secret and every create's intent (with its sealed
    // generated variables) are saved in one write before any node runs.
    if !matches!(mode, Mode::Destroy { .. }) {
        // Moving: the environment is recorded on the engine it moves to.
        if ws.move_engine {
            ws.state.engine = None;
        }
        let mut changed = prepare(&docker, &key, &p, &ws.env, &mut ws.state).await?;
        changed |= intent::record(&plan.changes, &ws.project, &ws.env, &key, &mut ws.state);
        if changed {
            ws.target.store.save(&mut ws.state)?;
        }
    }
    if interrupt.is_set() {
        return Err(ApplyError::Interrupted);
    }
    let stores = Stores {
        state: ws.target.store.clone(),
        global: ws.target.global_store.clone(),
    };
    let Workspace {
        project,
        env,
        target,
        mut state,
        mut global,
        ..
    } = ws;
    let shared = Arc::new(Shared::new(docker, project, env, key, progress));
    ui.executing();
    let mut outcome = executor::execute(
        &plan.changes,
        shared.clone(),
        &stores,
        &mut state,
        &mut global,
        parallelism,
        &interrupt,
    )
    .await;
    if let (Some(teardown), true) = (&plan.teardown, outcome.success() && plan.targets.is_empty()) {
        super::teardown::run(&shared, teardown, &stores.state, &mut state, &mut outcome).await;
    }
    Ok(ApplyReport {
        applied: Applied::Executed(Box::new(outcome)),
        state_path: target.store.display(),
        serial: state.serial,
    })
}

/// The environment's state lock, and the project-wide one when global
/// instances are involved: they live in the project-wide state, shared by
/// every environment.
fn lock(ws: &Workspace) -> Result<Vec<LockGuard>, ApplyError> {
    let mut locks = vec![ws.target.store.lock("apply")?];
    if ws.project.instances.values().any(|i| i.global) || !ws.global.instances.is_empty() {
        locks.push(ws.target.global_store.lock("apply")?);
    }
    Ok(locks)
}

/// A fresh plan of `mode` against the state and the live engine (drift
/// included).
async fn plan_live(docker: &Docker, ws: &Workspace, mode: &Mode) -> Result<Plan, ApplyError> {
    let drift = refresh::detect(docker, ws.name(), &ws.env, &ws.state).await?;
    let input = planner::Input {
        project: &ws.project,
        environment: &ws.env,
        state: &ws.state,
        global: Some(&ws.global),
        drift: &drift,
    };
    let mut plan = crate::plan::plan_for(&input, mode)?;
    plan.target(
        ws.remote(),
        ws.project.compartment.environments.get(&ws.env),
    );
    Ok(plan)
}

/// Runs `work` unless an interrupt comes first.
async fn until_interrupted<T>(
    interrupt: &Interrupt,
    work: impl std::future::Future<Output = Result<T, ApplyError>>,
) -> Result<T, ApplyError> {
    tokio::select! {
        biased;
        _ = interrupt.wait() => Err(ApplyError::Interrupted),
        r = work => r,
    }
}

/// A reviewed plan file applies only while it is what a fresh plan says.
fn check_saved(path: &std::path::Path, saved: &Plan, fresh: &Plan) -> Result<(), ApplyError> {
    let shown = crate::support::paths::display_path(path);
    let reasons = file::stale_reasons(saved, fresh);
    if !reasons.is_empty() {
        return Err(ApplyError::Stale {
            path: shown,
            reasons,
        });
    }
    let differences = file::differences(saved, fresh);
    if !differences.is_empty() {
        return Err(ApplyError::Drifted {
            path: shown,
            differences,
        });
    }
    Ok(())
}

/// Refuses, before anything runs, every instance change of the (targeted)
/// plan whose type's `allowed_role` the actor lacks.
fn check_roles(plan: &Plan, grant: &crate::access::Grant) -> Result<(), ApplyError> {
    let guarded = plan
        .changes
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.action.word(), c.role.as_deref()?)));
    Ok(grant.check_instances(guarded)?)
}
