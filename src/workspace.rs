//! Where a command's project and state live, and loading them together:
//! the checked project (its diagnostics when it does not load), the
//! environment's state and the project-wide state of global instances.

use crate::diagnostics::{Diagnostics, Sources};
use crate::docker::{Docker, DockerError};
use crate::project::{self, Project};
use crate::state::store::{StateStore, StoreError};
use crate::state::State;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What the global options say about where to look.
#[derive(Clone, Debug)]
pub struct Options {
    /// compartment.yml.
    pub file: PathBuf,
    pub env: String,
    /// Overrides the project's `name`.
    pub project: Option<String>,
    /// Overrides the state file's location.
    pub state: Option<PathBuf>,
    /// How long to wait for a held state lock.
    pub lock_timeout: std::time::Duration,
    /// `--remote`: the engine to talk to, over the environment's `remote`.
    pub remote: Option<String>,
    /// `--move-engine` (only with `--remote`): the engine the state
    /// recorded is not enforced, and apply records the new one.
    pub move_engine: bool,
}

#[derive(Debug, Error)]
pub enum WorkspaceError {
    /// The descriptors have errors; the diagnostics say which.
    #[error("{}", .diagnostics.summary())]
    Invalid {
        sources: Box<Sources>,
        diagnostics: Diagnostics,
    },
    #[error("cannot tell the project name: {file} does not load (run `compartment validate`) and --project is not set")]
    NoProjectName { file: String },
    /// `--env` or `--project` (or their `COMPARTMENT_*` variables) is not
    /// a name: it would reach file paths and Docker object names.
    #[error("{flag} `{value}` is not a valid name: use lowercase letters, digits and `-` (at most 63, not starting or ending with `-`), as for resources")]
    BadName { flag: &'static str, value: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a command's state lives.
#[derive(Clone, Debug)]
pub struct Target {
    pub project: String,
    pub root: PathBuf,
    pub store: StateStore,
    pub global_store: StateStore,
}

/// The project, its state and the project-wide state, loaded together.
pub struct Workspace {
    pub project: Project,
    pub env: String,
    pub target: Target,
    pub state: State,
    pub global: State,
    /// Warnings of a project that loaded (for the caller to show).
    pub warnings: (Sources, Diagnostics),
    /// The engine asked for: `--remote`, else the environment's `remote`
    /// in compartment.yml; `None` leaves it to `DOCKER_HOST`, the Docker
    /// context and the local socket.
    pub remote: Option<String>,
    /// `--move-engine`: the environment moves to the engine `--remote` names.
    pub move_engine: bool,
}

impl Options {
    /// The directory of compartment.yml.
    pub fn root(&self) -> PathBuf {
        root_of(&self.file)
    }

    fn target_for(&self, project: &str) -> Target {
        let root = self.root();
        Target {
            project: project.to_string(),
            store: StateStore::locate(&root, project, &self.env, self.state.as_deref())
                .with_lock_timeout(self.lock_timeout),
            global_store: StateStore::global(&root, project).with_lock_timeout(self.lock_timeout),
            root,
        }
    }

    /// `--env` and `--project` are held to the rule of resource names: they
    /// become part of the state file's path and of Docker object names, so
    /// `../../x` or `a/b` is refused before either is built.
    fn check_names(&self) -> Result<(), WorkspaceError> {
        let named = [
            ("--env (COMPARTMENT_ENV)", Some(&self.env)),
            ("--project (COMPARTMENT_PROJECT)", self.project.as_ref()),
        ];
        for (flag, value) in named {
            if let Some(v) = value.filter(|v| !crate::yaml::decode::valid_name(v)) {
                return Err(WorkspaceError::BadName {
                    flag,
                    value: v.clone(),
                });
            }
        }
        Ok(())
    }

    /// The state location without a full, checked load of the project.
    pub fn target(&self) -> Result<Target, WorkspaceError> {
        self.check_names()?;
        if let Some(p) = &self.project {
            return Ok(self.target_for(p));
        }
        let loaded = project::load(&self.file, &BTreeMap::new());
        match loaded
            .project
            .map(|p| p.compartment.name)
            .filter(|n| !n.is_empty())
        {
            Some(name) => Ok(self.target_for(&name)),
            None => Err(WorkspaceError::NoProjectName {
                file: crate::support::paths::display_path(&self.file),
            }),
        }
    }

    /// The checked project (with `--project` applied).
    pub fn project(&self) -> Result<(Project, (Sources, Diagnostics)), WorkspaceError> {
        self.check_names()?;
        let loaded = project::load(&self.file, &BTreeMap::new());
        match loaded.project {
            Some(mut p) if !loaded.diagnostics.has_errors() => {
                if let Some(name) = &self.project {
                    p.compartment.name = name.clone();
                }
                Ok((p, (loaded.sources, loaded.diagnostics)))
            }
            _ => Err(WorkspaceError::Invalid {
                sources: Box::new(loaded.sources),
                diagnostics: loaded.diagnostics,
            }),
        }
    }

    /// The checked project with its state and the project-wide state.
    pub fn open(&self) -> Result<Workspace, WorkspaceError> {
        let (project, warnings) = self.project()?;
        let target = self.target_for(&project.compartment.name);
        let state = target.store.load(&target.project, &self.env)?;
        let global = target.global_store.load(&target.project, "_global")?;
        let declared = project.compartment.environments.get(&self.env);
        let remote = self
            .remote
            .clone()
            .or_else(|| declared.and_then(|e| e.remote.clone()));
        Ok(Workspace {
            project,
            env: self.env.clone(),
            target,
            state,
            global,
            warnings,
            remote,
            move_engine: self.move_engine && self.remote.is_some(),
        })
    }
}

impl Workspace {
    pub fn name(&self) -> &str {
        &self.project.compartment.name
    }

    /// The engine asked for ([`Workspace::remote`]), for `Docker::connect_target`.
    pub fn remote(&self) -> Option<&str> {
        self.remote.as_deref()
    }

    /// The engine the state requires (its ID and name), for
    /// `Docker::connect_checked`; none when moving (`--move-engine`).
    pub fn required_engine(&self) -> Option<(&str, &str)> {
        match self.move_engine {
            true => None,
            false => self.state.engine_id(),
        }
    }

    /// Connects to the environment's engine (refusing another than the
    /// one its state recorded), in swarm mode for a swarm environment.
    pub async fn connect(&self) -> Result<Docker, DockerError> {
        connect(
            &self.project,
            &self.env,
            self.remote(),
            self.required_engine(),
        )
        .await
    }
}

/// Connects to engine `remote` (refusing another than `required`), in
/// swarm mode when environment `env` runs on a swarm.
pub async fn connect(
    project: &Project,
    env: &str,
    remote: Option<&str>,
    required: Option<(&str, &str)>,
) -> Result<Docker, DockerError> {
    let docker = Docker::connect_checked(remote, required).await?;
    match project.compartment.on_swarm(env) {
        true => docker.into_swarm().await,
        false => Ok(docker),
    }
}

/// The file name looked for.
pub const DESCRIPTOR: &str = "compartment.yml";

/// The nearest compartment.yml in `start` or a directory above it (like
/// cargo and git), as a path relative to `start` (`../../compartment.yml`)
/// so that diagnostics stay short; `compartment.yml` when there is none, so
/// the error names the file expected here.
pub fn discover(start: &Path) -> PathBuf {
    let Ok(mut dir) = std::fs::canonicalize(start) else {
        return PathBuf::from(DESCRIPTOR);
    };
    let mut relative = PathBuf::new();
    loop {
        if dir.join(DESCRIPTOR).is_file() {
            return relative.join(DESCRIPTOR);
        }
        if !dir.pop() {
            return PathBuf::from(DESCRIPTOR);
        }
        relative.push("..");
    }
}

/// The directory of a compartment.yml path (`.` for a bare file name).
pub fn root_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
