//! The command layer: one `execute` per subcommand, shared context (global
//! options, colour, loading the project and state), terminal output.

mod apply;
pub mod args;
mod ops;
mod plan;
mod schema;
mod state;
mod validate;

use crate::diagnostics::{render_json, render_text, Diagnostics, Sources};
use crate::error::{Error, Result};
use crate::plan::{planner, Plan};
use crate::project::{self, Project};
use crate::state::store::StateStore;
use crate::state::State;
use args::{Global, OutputFormat, Subcommand};
use is_terminal::IsTerminal;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What every command gets: the global options and terminal facts.
pub struct Context {
    pub global: Global,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr.
    pub color_err: bool,
}

impl Context {
    pub fn new(global: Global) -> Self {
        let allowed = !global.no_color && std::env::var_os("NO_COLOR").is_none();
        Context {
            color: allowed && std::io::stdout().is_terminal(),
            color_err: allowed && std::io::stderr().is_terminal(),
            global,
        }
    }

    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }

    /// Prints diagnostics (text on stderr, or JSON on stdout).
    pub fn print_diagnostics(&self, sources: &Sources, diagnostics: &Diagnostics) {
        let sorted = diagnostics.sorted(sources);
        if self.json() {
            println!(
                "{}",
                serde_json::to_string_pretty(&render_json(sources, &sorted)).unwrap_or_default()
            );
        } else if !sorted.is_empty() {
            eprint!("{}", render_text(sources, &sorted, self.color_err));
        }
    }

    /// Loads the project; prints its diagnostics; fails (exit 1) on errors.
    pub fn load_project(&self) -> Result<Project> {
        let loaded = project::load(&self.global.file, &BTreeMap::new());
        if loaded.diagnostics.has_errors() || loaded.project.is_none() {
            self.print_diagnostics(&loaded.sources, &loaded.diagnostics);
            if !self.json() {
                eprintln!("error: {}", summary(&loaded.diagnostics));
            }
            return Err(Error::Exit(1));
        }
        if !loaded.diagnostics.is_empty() && !self.json() {
            self.print_diagnostics(&loaded.sources, &loaded.diagnostics);
        }
        let mut p = loaded.project.expect("checked above");
        if let Some(name) = &self.global.project {
            p.compartment.name = name.clone();
        }
        Ok(p)
    }
}

/// Where a command's state lives.
pub struct Target {
    pub project: String,
    pub root: PathBuf,
    pub store: StateStore,
    pub global_store: StateStore,
}

/// The project, its state and the project-wide state, loaded together.
pub struct Loaded {
    pub project: Project,
    pub target: Target,
    pub state: State,
    pub global: State,
}

impl Loaded {
    pub fn plan(&self, cx: &Context, drift: &planner::Drift) -> Result<Plan> {
        let input = planner::Input {
            project: &self.project,
            environment: &cx.global.env,
            state: &self.state,
            global: Some(&self.global),
            drift,
        };
        Ok(planner::plan(&input)?)
    }
}

impl Context {
    pub fn root(&self) -> PathBuf {
        match self.global.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn target_for(&self, project: &str) -> Target {
        let root = self.root();
        Target {
            project: project.to_string(),
            store: StateStore::locate(
                &root,
                project,
                &self.global.env,
                self.global.state.as_deref(),
            ),
            global_store: StateStore::global(&root, project),
            root,
        }
    }

    /// The state location without a full, checked load of the project.
    pub fn target(&self) -> Result<Target> {
        if let Some(p) = &self.global.project {
            return Ok(self.target_for(p));
        }
        let loaded = project::load(&self.global.file, &BTreeMap::new());
        match loaded.project.map(|p| p.compartment.name).filter(|n| !n.is_empty()) {
            Some(name) => Ok(self.target_for(&name)),
            None => Err(Error::msg(format!(
                "cannot tell the project name: {} does not load (run `compartment validate`) and --project is not set",
                crate::support::paths::display_path(&self.global.file)
            ))),
        }
    }

    /// Refuses `command` unless the actor's role allows it. The access file
    /// is `COMPARTMENT_ACCESS_FILE` (which must exist) or
    /// `.compartment/access.yml` under `root` (optional: without it the
    /// local user is admin).
    pub fn guard(&self, root: &std::path::Path, command: crate::access::Command) -> Result<()> {
        use crate::access::{current_actor, Access, ACCESS_FILE_ENV};
        let access = match Access::resolve(root, std::env::var_os(ACCESS_FILE_ENV).as_deref()) {
            Ok(access) => access,
            Err(e @ crate::access::AccessError::Invalid { .. }) => {
                if let crate::access::AccessError::Invalid {
                    sources,
                    diagnostics,
                    ..
                } = &e
                {
                    self.print_diagnostics(sources, diagnostics);
                }
                if !self.json() {
                    eprintln!("error: {e}");
                }
                return Err(Error::Exit(1));
            }
            Err(e) => return Err(Error::msg(e.to_string())),
        };
        access
            .check(&current_actor(), &self.global.env, command)
            .map_err(|e| Error::msg(e.to_string()))
    }

    /// The checked project with its state and the project-wide state.
    pub fn load_all(&self) -> Result<Loaded> {
        let project = self.load_project()?;
        let target = self.target_for(&project.compartment.name);
        let state = target.store.load(&target.project, &self.global.env)?;
        let global = target.global_store.load(&target.project, "_global")?;
        Ok(Loaded {
            project,
            target,
            state,
            global,
        })
    }
}

pub fn summary(d: &Diagnostics) -> String {
    d.summary()
}

impl Subcommand {
    /// Runs the command; the value is the process exit code.
    pub fn execute(self, cx: &Context) -> Result<i32> {
        match self {
            Subcommand::Validate => validate::run(cx),
            Subcommand::Schema(a) => schema::run(a.kind),
            Subcommand::Plan(a) => plan::plan(cx, a),
            Subcommand::Apply(a) => apply::run(cx, a),
            Subcommand::Resource(c) => ops::resource_command(cx, c),
            Subcommand::Variable(c) => ops::variable_command(cx, c),
            Subcommand::Backup(c) => ops::backup_run_due(cx, c),
            Subcommand::Scheduler(a) => ops::scheduler(cx, a),
            Subcommand::Show(a) => plan::show(cx, a),
            Subcommand::Graph(a) => plan::graph(cx, a),
            Subcommand::State(c) => state::run(cx, c),
        }
    }
}
