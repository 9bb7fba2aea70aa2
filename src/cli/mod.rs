//! The command layer: one `execute` for every subcommand (the permission
//! check once, then the handler), shared context (global options, colour,
//! the one tokio runtime), terminal output, and the one place errors are
//! rendered. Handlers only parse, call one library function and render;
//! every rule lives in the library.

mod apply;
pub mod args;
mod ops;
mod plan;
mod render;
mod schema;
mod service;
mod state;
mod validate;

use crate::access::Command;
use crate::diagnostics::{render_json, render_text, Diagnostics, Sources};
use crate::error::{Error, Result};
use crate::workspace::{Options, Workspace};
use args::{
    Global, OutputCommand, OutputFormat, ResourceBackupCommand, ResourceCommand, ServiceCommand,
    StateCommand, Subcommand, VariableCommand,
};
use std::io::IsTerminal;
use std::sync::OnceLock;

/// What every command gets: the global options and terminal facts.
pub struct Context {
    pub global: Global,
    /// compartment.yml: `-f`, else the nearest one upwards.
    pub file: std::path::PathBuf,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr.
    pub color_err: bool,
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl Context {
    pub fn new(global: Global) -> Self {
        let allowed = !global.no_color && std::env::var_os("NO_COLOR").is_none();
        // The --tls* flags reach the engine connection (docker::target) as
        // the environment does; set before the runtime's threads exist.
        for (key, value) in [
            ("COMPARTMENT_TLS_CACERT", &global.tlscacert),
            ("COMPARTMENT_TLS_CERT", &global.tlscert),
            ("COMPARTMENT_TLS_KEY", &global.tlskey),
        ] {
            if let Some(path) = value {
                std::env::set_var(key, path);
            }
        }
        let file = global
            .file
            .clone()
            .unwrap_or_else(|| crate::workspace::discover(std::path::Path::new(".")));
        Context {
            file,
            color: allowed && std::io::stdout().is_terminal(),
            color_err: allowed && std::io::stderr().is_terminal(),
            global,
            runtime: OnceLock::new(),
        }
    }

    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }

    pub fn options(&self) -> Options {
        Options {
            file: self.file.clone(),
            env: self.global.env.clone(),
            project: self.global.project.clone(),
            state: self.global.state.clone(),
            lock_timeout: self.global.lock_timeout,
            remote: self.global.remote.clone(),
            move_engine: self.global.move_engine,
        }
    }

    /// Runs a library future on the process's one tokio runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> std::io::Result<F::Output> {
        let rt = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(4)
                    .enable_all()
                    .build()?;
                self.runtime.get_or_init(|| rt)
            }
        };
        Ok(rt.block_on(f))
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

    /// The checked project with its states; its warnings are shown (text).
    pub fn open(&self) -> Result<Workspace> {
        let ws = self.options().open()?;
        let (sources, warnings) = &ws.warnings;
        if !warnings.is_empty() && !self.json() {
            self.print_diagnostics(sources, warnings);
        }
        Ok(ws)
    }
}

/// Renders an error, once: diagnostics as located text (or JSON), an
/// interrupt as its own line, everything else as `error: …`; under
/// `--output json` an object `{"error": {"kind", "message", "exitCode"}}` on
/// stdout (schema: state/error.schema.json).
pub fn render_error(cx: &Context, e: &Error) {
    if cx.json() {
        return render_error_json(cx, e);
    }
    if let Some((sources, diagnostics)) = e.diagnostics() {
        cx.print_diagnostics(sources, diagnostics);
        eprintln!("error: {e}");
        return;
    }
    match e {
        Error::Apply(crate::apply::ApplyError::Interrupted) => eprintln!("\n{e}"),
        _ => eprintln!("error: {e}"),
    }
}

/// What the user must hear once, after any command: a secret key created
/// by this run, with a line on backing it up.
pub fn notices() {
    if let Some(path) = crate::state::secrets::created_key_file() {
        eprintln!(
            "note: created the secret key {} (it seals the secrets in the state). Back it up now, e.g. in a password manager: without it the sealed values cannot be opened, and it never belongs in the repository.",
            path.display()
        );
    }
    if let Some(path) = crate::state::secrets::created_backup_key_file() {
        eprintln!(
            "note: created the backup key {} (backup artifacts are encrypted with it). Back it up now, apart from the backups: without it no encrypted backup can be restored, and it never belongs in the repository.",
            path.display()
        );
    }
}

fn render_error_json(cx: &Context, e: &Error) {
    // The diagnostics are the error document.
    if let Some((sources, diagnostics)) = e.diagnostics() {
        return cx.print_diagnostics(sources, diagnostics);
    }
    match e {
        // The plan printed (with its `blocked` list) is the document.
        Error::Blocked { .. } => {}
        _ => println!(
            "{}",
            serde_json::json!({"error": {
                "kind": e.kind(),
                "message": e.to_string(),
                "exitCode": e.exit_code(),
            }})
        ),
    }
}

impl Subcommand {
    /// The permission the command needs, if any (checked once, before it runs).
    pub fn permission(&self) -> Option<Command> {
        Some(match self {
            Subcommand::Apply(_) => Command::Apply,
            Subcommand::Destroy(_) => Command::Destroy,
            Subcommand::Rollback(_) => Command::Apply,
            Subcommand::Ps => Command::Ps,
            Subcommand::Service(c) => match c {
                ServiceCommand::List => Command::ServiceList,
                ServiceCommand::Inspect(_) => Command::ServiceInspect,
                ServiceCommand::Logs(_) => Command::ServiceLogs,
                ServiceCommand::Restart(_) => Command::ServiceRestart,
                ServiceCommand::Exec(_) => Command::Exec,
            },
            Subcommand::Backup(_) | Subcommand::Scheduler(_) => Command::BackupRunDue,
            Subcommand::State(StateCommand::Unlock { .. }) => Command::StateUnlock,
            Subcommand::State(StateCommand::Rm(_) | StateCommand::Mv(_))
            | Subcommand::Import(_) => Command::StateEdit,
            Subcommand::Variable(c) => match c {
                VariableCommand::Set(_) => Command::VariableSet,
                VariableCommand::Remove(_) => Command::VariableRemove,
                VariableCommand::List(_) => Command::VariableList,
            },
            Subcommand::Resource(c) => match c {
                ResourceCommand::List => Command::ResourceList,
                ResourceCommand::Inspect(_) => Command::ResourceInspect,
                ResourceCommand::Logs(_) => Command::ResourceLogs,
                ResourceCommand::Stop(_) => Command::ResourceStop,
                ResourceCommand::Start(_) => Command::ResourceStart,
                ResourceCommand::Delete(_) => Command::ResourceDelete,
                ResourceCommand::Exec(_) => Command::Exec,
                ResourceCommand::Output(OutputCommand::List(_)) => Command::OutputList,
                ResourceCommand::Output(OutputCommand::Show(a)) => {
                    Command::OutputShow { reveal: a.reveal }
                }
                ResourceCommand::Backup(b) => match b {
                    ResourceBackupCommand::Create(_) => Command::BackupCreate,
                    ResourceBackupCommand::List(_) => Command::BackupList,
                    ResourceBackupCommand::Show(_) => Command::BackupShow,
                    ResourceBackupCommand::Restore(_) => Command::BackupRestore,
                    ResourceBackupCommand::Verify(_) => Command::BackupVerify,
                    ResourceBackupCommand::Export(_) => Command::BackupExport,
                },
            },
            Subcommand::Validate
            | Subcommand::Plan(_)
            | Subcommand::Show(_)
            | Subcommand::Graph(_)
            | Subcommand::Schema(_)
            | Subcommand::Completions(_)
            | Subcommand::Man
            | Subcommand::Init(_)
            | Subcommand::Config
            | Subcommand::State(StateCommand::Show) => return None,
        })
    }

    /// Runs the command; the value is the process exit code.
    pub fn execute(self, cx: &Context) -> Result<i32> {
        if let Some(command) = self.permission() {
            crate::ops::guard::authorize(&cx.options().root(), &cx.global.env, command)?;
        }
        match self {
            Subcommand::Validate => validate::run(cx),
            Subcommand::Schema(a) => schema::run(a.kind),
            Subcommand::Plan(a) => plan::plan(cx, a),
            Subcommand::Apply(a) => apply::run(cx, a),
            Subcommand::Destroy(a) => apply::destroy(cx, a),
            Subcommand::Rollback(a) => match a.out.is_some() {
                true => plan::rollback(cx, a),
                false => apply::rollback(cx, a),
            },
            Subcommand::Resource(c) => ops::resource_command(cx, c),
            Subcommand::Service(c) => service::run(cx, c),
            Subcommand::Ps => service::ps(cx),
            Subcommand::Variable(c) => ops::variable_command(cx, c),
            Subcommand::Backup(_) => ops::backup_run_due(cx),
            Subcommand::Scheduler(a) => ops::scheduler(cx, a),
            Subcommand::Show(a) => plan::show(cx, a),
            Subcommand::Graph(a) => plan::graph(cx, a),
            Subcommand::State(c) => state::run(cx, c),
            Subcommand::Import(a) => state::import(cx, a),
            Subcommand::Completions(a) => schema::completions(a.shell),
            Subcommand::Man => schema::man(),
            Subcommand::Init(a) => schema::init(cx, a),
            Subcommand::Config => schema::config(cx),
        }
    }
}
