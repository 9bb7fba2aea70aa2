//! The command line: every clap type lives here and nowhere else.

use clap::{Args, Parser, Subcommand as ClapSubcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "compartment", version, about = "Plan and apply Docker-backed applications declared in compartment.yml", long_about = None)]
pub struct Arguments {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Subcommand,
}

/// Options every command accepts.
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// Path of compartment.yml [default: the nearest compartment.yml in the
    /// working directory or above it]
    #[arg(short = 'f', long = "file", global = true, env = "COMPARTMENT_FILE")]
    pub file: Option<PathBuf>,
    /// Environment to work on
    #[arg(
        long = "env",
        global = true,
        env = "COMPARTMENT_ENV",
        default_value = "production"
    )]
    pub env: String,
    /// Project name (defaults to `name` in compartment.yml)
    #[arg(long, global = true, env = "COMPARTMENT_PROJECT")]
    pub project: Option<String>,
    /// State file (default: .compartment/state/<project>/<env>.json beside compartment.yml)
    #[arg(long, global = true, env = "COMPARTMENT_STATE")]
    pub state: Option<PathBuf>,
    /// Wait this long for a state lock another command holds (e.g. `30s`, `2m`)
    #[arg(long, global = true, env = "COMPARTMENT_LOCK_TIMEOUT", value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// The Docker engine: unix:///path, tcp://host:port, ssh://user@host[:port] or a Docker context name [default: the environment's `remote` in compartment.yml, else DOCKER_HOST, else the current Docker context, else the local socket]
    #[arg(long, global = true, env = "COMPARTMENT_REMOTE", value_name = "TARGET")]
    pub remote: Option<String>,
    /// TLS: the CA certificate a tcp:// engine's certificate is verified with (with --tlscert and --tlskey)
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tlscert", "tlskey"])]
    pub tlscacert: Option<std::path::PathBuf>,
    /// TLS: the client certificate for a tcp:// engine
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tlscacert", "tlskey"])]
    pub tlscert: Option<std::path::PathBuf>,
    /// TLS: the client key for a tcp:// engine
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tlscacert", "tlscert"])]
    pub tlskey: Option<std::path::PathBuf>,
    /// With --remote: work on the environment on that engine although its state was applied to another (apply moves it there, recreating what is missing and keeping variables and backups)
    #[arg(long, global = true, requires = "remote")]
    pub move_engine: bool,
    /// Output format
    #[arg(long, global = true, env = "COMPARTMENT_OUTPUT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Never colour the output
    #[arg(long, global = true, env = "COMPARTMENT_NO_COLOR", action = clap::ArgAction::SetTrue, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Compartment,
    Resources,
}

#[derive(Debug, ClapSubcommand)]
pub enum Subcommand {
    /// Parse and check compartment.yml and every platz/resources.yaml (no state, no Docker)
    Validate,
    /// Show what apply would change
    Plan(PlanArgs),
    /// Render a saved plan file
    Show(ShowArgs),
    /// Execute a plan against the Docker engine
    #[command(visible_alias = "deploy")]
    Apply(ApplyArgs),
    /// Plan the removal of everything deployed in the environment and apply it
    Destroy(DestroyArgs),
    /// Plan a return of services to an earlier release, and apply it (or save it with --out)
    Rollback(RollbackArgs),
    /// Print the dependency graph
    Graph(GraphArgs),
    /// Print the JSON Schema of a descriptor, for editors
    Schema(SchemaArgs),
    /// Operate deployed resources
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Operate deployed services
    #[command(subcommand)]
    Service(ServiceCommand),
    /// The status of every resource and service of the environment
    Ps,
    /// Runtime variables and output bindings
    #[command(subcommand)]
    Variable(VariableCommand),
    /// Scheduled backups
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Run scheduled backups and retention in the foreground, forever
    Scheduler(SchedulerArgs),
    /// Inspect the state file; clear a stale lock; forget or rename a node
    #[command(subcommand)]
    State(StateCommand),
    /// Record an existing container as a declared resource or service
    Import(ImportArgs),
    /// Print a shell completion script (e.g. `compartment completions bash > /etc/bash_completion.d/compartment`)
    Completions(CompletionsArgs),
    /// Print the manual page (roff; e.g. `compartment man > compartment.1`)
    Man,
    /// Scaffold compartment.yml (and a service with platz/resources.yaml) here
    Init(InitArgs),
    /// Print the fully expanded configuration (presets expanded, defaults filled, secrets masked)
    Config,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project name [default: the directory's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Also scaffold this service: services/NAME with a Dockerfile and a platz/resources.yaml
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Write the plan file (pretty JSON, deterministic) to FILE
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 1 when FILE differs from a fresh plan
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub check: Option<PathBuf>,
    /// Print the plan as JSON (same as --format json)
    #[arg(long)]
    pub json: bool,
    /// Output format of the plan
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
    /// Exit 0 for no changes, 2 for changes, 1 for errors
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also compare the state with the live Docker engine (drift)
    #[arg(long)]
    pub refresh: bool,
    /// Plan the removal of everything deployed in the environment
    #[arg(long)]
    pub destroy: bool,
    /// With --destroy: delete the resources' named volumes too
    #[arg(long, requires = "destroy")]
    pub delete_data: bool,
    /// Plan only this address (e.g. service.api) and what it depends on
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Also delete the resources' named volumes (their data)
    #[arg(long)]
    pub delete_data: bool,
    /// How many independent steps run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The services to roll back (default: every service with an earlier release)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Which release: 1 is the previous one (the default), 2 the one before; or an image tag or a prefix of its context hash
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,
    /// Only save the plan to FILE, for review; `compartment apply FILE` applies it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long, conflicts_with = "out")]
    pub yes: bool,
    /// How many independent steps run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file
    #[arg(id = "plan_file", value_name = "PLAN_FILE")]
    pub file: PathBuf,
    /// Print it as JSON
    #[arg(long)]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A reviewed plan file (plan --out); without it apply plans and asks
    #[arg(id = "plan_file", value_name = "PLAN_FILE")]
    pub file: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// How many independent steps run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Apply only this address (e.g. service.api) and what it depends on
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which descriptor
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

#[derive(Debug, ClapSubcommand)]
pub enum ResourceCommand {
    /// List resources of the environment
    List,
    /// Show a resource's definition and runtime status
    Inspect(ResourceArg),
    /// Print a resource's logs
    Logs(LogsArgs),
    /// Stop a resource's container
    Stop(ResourceArg),
    /// Start a stopped resource
    Start(ResourceArg),
    /// Delete a resource (volumes kept unless --delete-data)
    Delete(DeleteArgs),
    /// Run a command in a resource's running container: resource exec NAME -- CMD…
    Exec(ExecArgs),
    /// Resource outputs
    #[command(subcommand)]
    Output(OutputCommand),
    /// Backups and restores
    #[command(subcommand)]
    Backup(ResourceBackupCommand),
}

#[derive(Debug, ClapSubcommand)]
pub enum ServiceCommand {
    /// List services of the environment
    List,
    /// Show a service's applied definition and its container
    Inspect(ServiceArg),
    /// Print a service's logs
    Logs(ServiceLogsArgs),
    /// Restart a service's container (stopped with its grace period)
    Restart(ServiceArg),
    /// Run a command in a service's running container: service exec NAME -- CMD…
    Exec(ExecArgs),
}

#[derive(Debug, Args)]
pub struct ServiceArg {
    /// The service
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ServiceLogsArgs {
    /// The service
    pub name: String,
    /// Only the last N lines
    #[arg(long)]
    pub tail: Option<usize>,
    /// Keep following new output
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The service or resource
    pub name: String,
    /// The command and its arguments (after `--`)
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ResourceArg {
    #[arg(long)]
    pub resource: String,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(long)]
    pub resource: String,
    /// Only the last N lines
    #[arg(long)]
    pub tail: Option<usize>,
    /// Keep following new output
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[arg(long)]
    pub resource: String,
    /// Also delete the resource's named volumes
    #[arg(long)]
    pub delete_data: bool,
}

#[derive(Debug, ClapSubcommand)]
pub enum OutputCommand {
    /// List a resource's outputs (sensitive ones masked)
    List(ResourceArg),
    /// Show one output
    Show(OutputShowArgs),
}

#[derive(Debug, Args)]
pub struct OutputShowArgs {
    /// Output name
    pub name: String,
    #[arg(long)]
    pub resource: String,
    /// Print a sensitive value in plaintext (audited)
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, ClapSubcommand)]
pub enum ResourceBackupCommand {
    /// Run the backup operation now
    Create(ResourceArg),
    /// List backup records
    List(BackupListArgs),
    /// Show one backup record
    Show(BackupShowArgs),
    /// Restore a backup in place (--resource, --yes) or into a new resource (--as)
    Restore(RestoreArgs),
    /// Restore a backup into a scratch resource, check it, record the outcome, remove the scratch resource
    Verify(VerifyArgs),
    /// Write a backup's artifacts, decrypted, into a new directory (audited: they hold the resource's data)
    Export(BackupExportArgs),
}

#[derive(Debug, Args)]
pub struct BackupExportArgs {
    #[arg(long)]
    pub backup: String,
    /// A directory that does not exist yet, or is empty
    #[arg(long)]
    pub to: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupListArgs {
    #[arg(long)]
    pub resource: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackupShowArgs {
    #[arg(long)]
    pub backup: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub backup: String,
    /// Read the backup from its copy on this backup target (compartment.yml environments.<env>.backups)
    #[arg(long, value_name = "TARGET")]
    pub from: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[arg(long)]
    pub backup: String,
    /// Read the backup from its copy on this backup target, e.g. when the local artifacts are gone
    #[arg(long, value_name = "TARGET")]
    pub from: Option<String>,
    /// Restore in place into this resource
    #[arg(long)]
    pub resource: Option<String>,
    /// Restore into a new resource with this name
    #[arg(long = "as", value_name = "NEW")]
    pub as_name: Option<String>,
    /// Confirm a destructive in-place restore
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, ClapSubcommand)]
pub enum VariableCommand {
    /// Set a runtime variable or an output binding
    Set(VariableSetArgs),
    /// Remove a runtime variable or binding
    Remove(VariableTargetArgs),
    /// List runtime variables (sensitive values masked)
    List(VariableListArgs),
}

#[derive(Debug, Args)]
pub struct VariableSetArgs {
    pub key: String,
    /// The value (or --stdin, or --from-resource)
    pub value: Option<String>,
    #[arg(long, conflicts_with = "service")]
    pub resource: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    /// Store encrypted and print masked
    #[arg(long)]
    pub sensitive: bool,
    /// Read the value from standard input
    #[arg(long, conflicts_with = "value")]
    pub stdin: bool,
    /// Bind to a resource output: RESOURCE.OUTPUT (services only)
    #[arg(long, value_name = "RESOURCE.OUTPUT", conflicts_with_all = ["value", "stdin", "sensitive"])]
    pub from_resource: Option<String>,
}

#[derive(Debug, Args)]
pub struct VariableTargetArgs {
    pub key: String,
    #[arg(long, conflicts_with = "service")]
    pub resource: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
}

#[derive(Debug, Args)]
pub struct VariableListArgs {
    #[arg(long, conflicts_with = "service")]
    pub resource: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
}

#[derive(Debug, ClapSubcommand)]
pub enum BackupCommand {
    /// Run every due scheduled backup once, then retention
    RunDue,
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Seconds between checks
    #[arg(long, default_value_t = 30)]
    pub interval_seconds: u64,
}

#[derive(Debug, ClapSubcommand)]
pub enum StateCommand {
    /// Print the state with secrets masked
    Show,
    /// Remove a stale lock left by a crashed process
    Unlock {
        /// Remove the lock even though its holder still runs on this host
        #[arg(long)]
        force: bool,
    },
    /// Forget a node (resource.NAME, service.NAME, instance.NAME) without touching Docker
    Rm(StateRmArgs),
    /// Rename a node in the state (its data is kept; the next apply renames its container)
    Mv(StateMvArgs),
}

#[derive(Debug, Args)]
pub struct StateRmArgs {
    /// The address, e.g. resource.db
    pub address: String,
}

#[derive(Debug, Args)]
pub struct StateMvArgs {
    /// The recorded address, e.g. resource.db
    pub old: String,
    /// Its new address, e.g. resource.database
    pub new: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The declared address to record it as, e.g. resource.db
    pub address: String,
    /// The existing container's name or id
    pub container: String,
}
