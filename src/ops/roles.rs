//! Who may run which day-2 command: permissions, built-in and custom roles,
//! the access file that maps actors to roles per environment, and the check
//! that turns a missing permission into an actionable refusal.
//!
//! # What the seed says, and how it is read here
//!
//! "Built-in deployer and admin roles can inspect resource inventory and
//! logs. Built-in readonly and viewer roles cannot. If you use custom roles,
//! resource list, inspect, logs, output list, output show, and backup
//! create|list|show|restore require deployment.create on the target
//! environment. This includes restore-to-new-resource with --as. [...]
//! resource logs also requires deployment.logs.read. Revealing a sensitive
//! resource output with output show --reveal also requires
//! variable.value.read." And: "Revealing sensitive output plaintext requires
//! variable value disclosure access for the environment."
//!
//! Built-in roles are plain permission sets, checked exactly like custom
//! roles (`Command::required`):
//!
//! | role       | permissions                                                        |
//! |------------|--------------------------------------------------------------------|
//! | `admin`    | all of them                                                        |
//! | `deployer` | `deployment.create`, `deployment.delete`, `deployment.logs.read`, `variable.read`, `variable.value.write` |
//! | `readonly` | `variable.read`                                                    |
//! | `viewer`   | none                                                               |
//!
//! - deployer and admin "can inspect resource inventory and logs", so they
//!   hold `deployment.create` and `deployment.logs.read`; readonly and
//!   viewer "cannot", so they hold neither, and every resource command is
//!   refused to them.
//! - Only admin holds `variable.value.read`: revealing a sensitive output is
//!   "variable value disclosure access", kept from deployers (they can still
//!   set and replace values, `variable.value.write`, without reading them).
//! - deployer holds `deployment.delete`: `restore --as` (allowed with
//!   `deployment.create`) creates resources outside compartment.yml that
//!   block the next deploy until deleted, so a deployer must be able to
//!   delete them.
//! - `state.write` (forced state changes such as `state unlock`) is admin
//!   only.
//! - `variable.read` (list variables; sensitive values stay masked) is the
//!   one thing readonly adds over viewer. viewer may run none of the guarded
//!   commands (unguarded ones such as `validate` and `plan` stay open).
//!
//! # The access file
//!
//! YAML or JSON, at `COMPARTMENT_ACCESS_FILE` or `.compartment/access.yml`
//! beside compartment.yml:
//!
//! ```yaml
//! actors:
//!   alice: {production: deployer, staging: admin}
//!   bob: {"*": readonly}      # "*": any environment not listed
//!   ci: deployer              # a plain role: every environment
//! roles:
//!   auditor:
//!     permissions: [deployment.create, deployment.logs.read]
//! default: viewer             # actors not listed (optional)
//! ```
//!
//! An actor's role in an environment is its entry for that environment,
//! else its `"*"` entry, else `default`. With none of these the actor has
//! no role there and every guarded command is refused, with a message
//! saying how to get one (an unknown actor is never silently let in).
//! Unknown roles, unknown permissions, unknown keys, custom roles named
//! like a built-in one and malformed files are errors naming the file and
//! the entry.
//!
//! When there is no access file at all, access control is off: the local
//! user is `admin` (the local default admin), as a single-user CLI should
//! behave. An access file named explicitly by `COMPARTMENT_ACCESS_FILE` must
//! exist, so that a typo cannot turn access control off.
//!
//! The acting identity comes from `COMPARTMENT_ACTOR`, else the login name.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use thiserror::Error;

/// The environment variable naming the access file.
pub const ACCESS_FILE_ENV: &str = "COMPARTMENT_ACCESS_FILE";
/// The environment variable naming the acting identity.
pub const ACTOR_ENV: &str = "COMPARTMENT_ACTOR";
/// The access file's default place, relative to compartment.yml's directory.
pub const DEFAULT_ACCESS_FILE: &str = ".compartment/access.yml";

/// A permission a role can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Deploy, and operate resources: list, inspect, stop, start, outputs,
    /// backups and restores.
    DeploymentCreate,
    /// Delete resources (and their data with `--delete-data`).
    DeploymentDelete,
    /// Read resource logs.
    DeploymentLogsRead,
    /// List variables (sensitive values masked).
    VariableRead,
    /// Disclose sensitive values (`output show --reveal`).
    VariableValueRead,
    /// Set and remove variables.
    VariableValueWrite,
    /// Force state changes (`state unlock`).
    StateWrite,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::DeploymentCreate,
        Permission::DeploymentDelete,
        Permission::DeploymentLogsRead,
        Permission::VariableRead,
        Permission::VariableValueRead,
        Permission::VariableValueWrite,
        Permission::StateWrite,
    ];

    /// The name used in access files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Permission::DeploymentCreate => "deployment.create",
            Permission::DeploymentDelete => "deployment.delete",
            Permission::DeploymentLogsRead => "deployment.logs.read",
            Permission::VariableRead => "variable.read",
            Permission::VariableValueRead => "variable.value.read",
            Permission::VariableValueWrite => "variable.value.write",
            Permission::StateWrite => "state.write",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A guarded command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    ResourceList,
    ResourceInspect,
    ResourceLogs,
    ResourceStop,
    ResourceStart,
    ResourceDelete,
    OutputList,
    OutputShow {
        reveal: bool,
    },
    BackupCreate,
    BackupList,
    BackupShow,
    /// In place or with `--as`: both need the same permissions.
    BackupRestore,
    VariableSet,
    VariableRemove,
    VariableList,
    Apply,
    /// `backup run-due` and the `scheduler` loop.
    BackupRunDue,
    StateUnlock,
}

impl Command {
    pub const ALL: [Command; 19] = [
        Command::ResourceList,
        Command::ResourceInspect,
        Command::ResourceLogs,
        Command::ResourceStop,
        Command::ResourceStart,
        Command::ResourceDelete,
        Command::OutputList,
        Command::OutputShow { reveal: false },
        Command::OutputShow { reveal: true },
        Command::BackupCreate,
        Command::BackupList,
        Command::BackupShow,
        Command::BackupRestore,
        Command::VariableSet,
        Command::VariableRemove,
        Command::VariableList,
        Command::Apply,
        Command::BackupRunDue,
        Command::StateUnlock,
    ];

    /// The command line, as users type it.
    pub fn name(self) -> &'static str {
        match self {
            Command::ResourceList => "resource list",
            Command::ResourceInspect => "resource inspect",
            Command::ResourceLogs => "resource logs",
            Command::ResourceStop => "resource stop",
            Command::ResourceStart => "resource start",
            Command::ResourceDelete => "resource delete",
            Command::OutputList => "resource output list",
            Command::OutputShow { reveal: false } => "resource output show",
            Command::OutputShow { reveal: true } => "resource output show --reveal",
            Command::BackupCreate => "resource backup create",
            Command::BackupList => "resource backup list",
            Command::BackupShow => "resource backup show",
            Command::BackupRestore => "resource backup restore",
            Command::VariableSet => "variable set",
            Command::VariableRemove => "variable remove",
            Command::VariableList => "variable list",
            Command::Apply => "apply",
            Command::BackupRunDue => "backup run-due",
            Command::StateUnlock => "state unlock",
        }
    }

    /// Every permission the command needs on the target environment.
    pub fn required(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Command::ResourceList
            | Command::ResourceInspect
            | Command::ResourceStop
            | Command::ResourceStart
            | Command::OutputList
            | Command::OutputShow { reveal: false }
            | Command::BackupCreate
            | Command::BackupList
            | Command::BackupShow
            | Command::BackupRestore
            | Command::Apply
            | Command::BackupRunDue => &[DeploymentCreate],
            Command::ResourceLogs => &[DeploymentCreate, DeploymentLogsRead],
            Command::ResourceDelete => &[DeploymentCreate, DeploymentDelete],
            Command::OutputShow { reveal: true } => &[DeploymentCreate, VariableValueRead],
            Command::VariableSet | Command::VariableRemove => &[VariableValueWrite],
            Command::VariableList => &[VariableRead],
            Command::StateUnlock => &[StateWrite],
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The built-in roles.
pub const BUILTIN_ROLES: [&str; 4] = ["admin", "deployer", "readonly", "viewer"];

/// A built-in role's permissions (see the module docs); `None` for other
/// names.
pub fn builtin_permissions(role: &str) -> Option<BTreeSet<Permission>> {
    use Permission::*;
    let perms: &[Permission] = match role {
        "admin" => &Permission::ALL,
        "deployer" => &[
            DeploymentCreate,
            DeploymentDelete,
            DeploymentLogsRead,
            VariableRead,
            VariableValueWrite,
        ],
        "readonly" => &[VariableRead],
        "viewer" => &[],
        _ => return None,
    };
    Some(perms.iter().copied().collect())
}

/// A problem with the access file. Every variant names the file.
#[derive(Debug, Error)]
pub enum AccessError {
    #[error("cannot read the access file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the access file {path} named by {ACCESS_FILE_ENV} does not exist; create it, or unset {ACCESS_FILE_ENV} to use {DEFAULT_ACCESS_FILE} beside compartment.yml")]
    NotFound { path: PathBuf },
    #[error("the access file {path} is not valid: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error(
        "the access file {path}: `{entry}` names the unknown role `{role}`; roles are {known}"
    )]
    UnknownRole {
        path: PathBuf,
        entry: String,
        role: String,
        known: String,
    },
    #[error("the access file {path}: `{entry}` names the unknown permission `{permission}`{hint}")]
    UnknownPermission {
        path: PathBuf,
        entry: String,
        permission: String,
        hint: String,
    },
    #[error("the access file {path}: `{entry}` redefines the built-in role `{role}`; give the custom role another name")]
    BuiltinRedefined {
        path: PathBuf,
        entry: String,
        role: String,
    },
}

/// A refused command: who, what, which permission is missing, and how to
/// get it. (Boxed fields keep `Result<(), Denied>` small.)
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct Denied {
    actor: Box<str>,
    environment: Box<str>,
    command: Command,
    role: Option<Box<str>>,
    missing: Box<[Permission]>,
    file: Box<Path>,
}

impl Denied {
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn environment(&self) -> &str {
        &self.environment
    }
    pub fn command(&self) -> Command {
        self.command
    }
    /// The actor's role in the environment; `None` when it has none.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
    /// The required permissions the role lacks (all of them without a role).
    pub fn missing(&self) -> &[Permission] {
        &self.missing
    }
    /// The access file to change.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (actor, env, cmd, file) = (
            &self.actor,
            &self.environment,
            self.command.name(),
            self.file.display(),
        );
        let Some(role) = &self.role else {
            return write!(
                f,
                "{actor} has no role in {env} and may not run `{cmd}`; ask an admin to give {actor} a role for {env} under `actors` in {file}"
            );
        };
        let names: Vec<String> = self.missing.iter().map(|p| format!("`{p}`")).collect();
        let (noun, them, list) = match names.as_slice() {
            [one] => ("permission", "it", one.clone()),
            [init @ .., last] => (
                "permissions",
                "them",
                format!("{} and {last}", init.join(", ")),
            ),
            [] => ("permission", "it", "(none)".into()),
        };
        write!(
            f,
            "{actor} (role {role} in {env}) may not run `{cmd}`: it needs the {noun} {list}; ask an admin to grant a role with {them} in {file}"
        )
    }
}

/// The roles of actors per environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// `None`: no access file, the local default admin.
    file: Option<PathBuf>,
    /// Role name → permissions, built-in and custom.
    roles: BTreeMap<String, BTreeSet<Permission>>,
    /// Actor → environment (or `*`) → role.
    actors: BTreeMap<String, BTreeMap<String, String>>,
    default: Option<String>,
}

impl Access {
    /// No access file: everyone is `admin`.
    pub fn local_default() -> Access {
        Access {
            file: None,
            roles: builtin_roles(),
            actors: BTreeMap::new(),
            default: Some("admin".into()),
        }
    }

    /// Loads an access file. No path, or a path where no file exists, is
    /// the local default admin.
    pub fn load(path: Option<&Path>) -> Result<Access, AccessError> {
        let Some(path) = path else {
            return Ok(Access::local_default());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Access::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Access::local_default()),
            Err(source) => Err(AccessError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Finds and loads the access file for the project whose compartment.yml
    /// is in `descriptor_dir`: `env_override` (the value of
    /// `COMPARTMENT_ACCESS_FILE`, which must exist) or
    /// `.compartment/access.yml` there (optional).
    pub fn resolve(
        descriptor_dir: &Path,
        env_override: Option<&OsStr>,
    ) -> Result<Access, AccessError> {
        match env_override.filter(|v| !v.is_empty()) {
            Some(p) => {
                let path = PathBuf::from(p);
                if !path.exists() {
                    return Err(AccessError::NotFound { path });
                }
                Access::load(Some(&path))
            }
            None => Access::load(Some(&descriptor_dir.join(DEFAULT_ACCESS_FILE))),
        }
    }

    /// `resolve` with `COMPARTMENT_ACCESS_FILE` from the process environment.
    pub fn from_env(descriptor_dir: &Path) -> Result<Access, AccessError> {
        Access::resolve(descriptor_dir, std::env::var_os(ACCESS_FILE_ENV).as_deref())
    }

    /// Parses the text of the access file at `path` (YAML or JSON).
    pub fn parse(path: &Path, text: &str) -> Result<Access, AccessError> {
        parse_file(path, text)
    }

    /// Whether there is no access file (everyone is admin).
    pub fn is_local_default(&self) -> bool {
        self.file.is_none()
    }

    /// The access file, if there is one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The actor's role in the environment.
    pub fn role_of(&self, actor: &str, environment: &str) -> Option<&str> {
        let own = self.actors.get(actor);
        own.and_then(|m| m.get(environment))
            .or_else(|| own.and_then(|m| m.get("*")))
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    /// The permissions of a role (built-in or custom).
    pub fn permissions(&self, role: &str) -> Option<&BTreeSet<Permission>> {
        self.roles.get(role)
    }

    /// Whether `actor` may run `command` in `environment`.
    pub fn check(&self, actor: &str, environment: &str, command: Command) -> Result<(), Denied> {
        let role = self.role_of(actor, environment);
        let held = role.and_then(|r| self.roles.get(r));
        let missing: Vec<Permission> = command
            .required()
            .iter()
            .copied()
            .filter(|p| !held.is_some_and(|h| h.contains(p)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Denied {
            actor: actor.into(),
            environment: environment.into(),
            command,
            role: role.map(Into::into),
            missing: missing.into(),
            file: self
                .file
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_ACCESS_FILE))
                .into(),
        })
    }
}

/// The acting identity: `COMPARTMENT_ACTOR`, else the login name (`USER`,
/// `USERNAME`), else `local`. Empty values count as unset.
pub fn actor_from(
    compartment_actor: Option<&str>,
    user: Option<&str>,
    username: Option<&str>,
) -> String {
    [compartment_actor, user, username]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("local")
        .to_string()
}

/// `actor_from` with the process environment.
pub fn current_actor() -> String {
    let var = |k: &str| std::env::var(k).ok();
    actor_from(
        var(ACTOR_ENV).as_deref(),
        var("USER").as_deref(),
        var("USERNAME").as_deref(),
    )
}

fn builtin_roles() -> BTreeMap<String, BTreeSet<Permission>> {
    BUILTIN_ROLES
        .iter()
        .map(|r| (r.to_string(), builtin_permissions(r).unwrap_or_default()))
        .collect()
}

fn parse_file(path: &Path, text: &str) -> Result<Access, AccessError> {
    let malformed = |message: String| AccessError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    if text.trim().is_empty() {
        return Err(malformed(
            "it is empty; map actors to roles under `actors`, or delete the file to turn access control off".into(),
        ));
    }
    let doc: Value = serde_yaml::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Value::Mapping(top) = doc else {
        return Err(malformed(
            "the top level must be a mapping with `actors`, `roles` and `default`".into(),
        ));
    };

    let mut actors_node = None;
    let mut roles_node = None;
    let mut default_node = None;
    for (k, v) in &top {
        match key(k, "the top level").map_err(&malformed)?.as_str() {
            "actors" => actors_node = Some(v),
            "roles" => roles_node = Some(v),
            "default" => default_node = Some(v),
            other => {
                return Err(malformed(format!(
                "unknown key `{other}` at the top level (expected `actors`, `roles` or `default`)"
            )))
            }
        }
    }

    let mut roles = builtin_roles();
    if let Some(node) = roles_node.filter(|n| !n.is_null()) {
        for (name, def) in mapping(node, "roles").map_err(&malformed)? {
            let name = key(name, "roles").map_err(&malformed)?;
            let entry = format!("roles.{name}");
            if BUILTIN_ROLES.contains(&name.as_str()) {
                return Err(AccessError::BuiltinRedefined {
                    path: path.to_path_buf(),
                    entry,
                    role: name,
                });
            }
            let mut perms_node = None;
            for (k, v) in mapping(def, &entry).map_err(&malformed)? {
                match key(k, &entry).map_err(&malformed)?.as_str() {
                    "permissions" => perms_node = Some(v),
                    "description" => {}
                    other => {
                        return Err(malformed(format!(
                            "unknown key `{other}` in `{entry}` (expected `permissions` and optionally `description`)"
                        )))
                    }
                }
            }
            let Some(Value::Sequence(list)) = perms_node else {
                return Err(malformed(format!(
                    "`{entry}` needs `permissions`, a list such as [deployment.create, deployment.logs.read]"
                )));
            };
            let mut perms = BTreeSet::new();
            for (i, p) in list.iter().enumerate() {
                let entry = format!("{entry}.permissions[{i}]");
                let Value::String(p) = p else {
                    return Err(malformed(format!("`{entry}` must be a permission name")));
                };
                let perm =
                    Permission::from_name(p).ok_or_else(|| AccessError::UnknownPermission {
                        path: path.to_path_buf(),
                        entry: entry.clone(),
                        permission: p.clone(),
                        hint: permission_hint(p),
                    })?;
                perms.insert(perm);
            }
            roles.insert(name, perms);
        }
    }

    let known_role = |entry: String, role: &str| -> Result<String, AccessError> {
        if roles.contains_key(role) {
            Ok(role.to_string())
        } else {
            Err(AccessError::UnknownRole {
                path: path.to_path_buf(),
                entry,
                role: role.to_string(),
                known: roles
                    .keys()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };

    let mut actors = BTreeMap::new();
    if let Some(node) = actors_node.filter(|n| !n.is_null()) {
        for (actor, envs) in mapping(node, "actors").map_err(&malformed)? {
            let actor = key(actor, "actors").map_err(&malformed)?;
            let entry = format!("actors.{actor}");
            let mut per_env = BTreeMap::new();
            match envs {
                Value::String(role) => {
                    per_env.insert("*".to_string(), known_role(entry, role)?);
                }
                Value::Mapping(m) => {
                    for (env, role) in m {
                        let env = key(env, &entry).map_err(&malformed)?;
                        let entry = format!("{entry}.{env}");
                        let Value::String(role) = role else {
                            return Err(malformed(format!("`{entry}` must be a role name")));
                        };
                        per_env.insert(env, known_role(entry, role)?);
                    }
                }
                _ => {
                    return Err(malformed(format!(
                        "`{entry}` must map environments to roles (e.g. {{production: deployer}}) or be a role name"
                    )))
                }
            }
            actors.insert(actor, per_env);
        }
    }

    let default = match default_node {
        None | Some(Value::Null) => None,
        Some(Value::String(role)) => Some(known_role("default".into(), role)?),
        Some(_) => return Err(malformed("`default` must be a role name".into())),
    };

    Ok(Access {
        file: Some(path.to_path_buf()),
        roles,
        actors,
        default,
    })
}

fn mapping<'a>(node: &'a Value, entry: &str) -> Result<&'a serde_yaml::Mapping, String> {
    match node {
        Value::Mapping(m) => Ok(m),
        _ => Err(format!("`{entry}` must be a mapping")),
    }
}

fn key(k: &Value, within: &str) -> Result<String, String> {
    match k {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::String(_) => Err(format!("an empty name in `{within}`")),
        other => Err(format!(
            "the key {} in `{within}` must be a string; quote it",
            serde_yaml::to_string(other)
                .map(|s| format!("`{}`", s.trim()))
                .unwrap_or_default()
        )),
    }
}

fn permission_hint(p: &str) -> String {
    let best = Permission::ALL
        .iter()
        .map(|k| (strsim::jaro_winkler(p, k.name()), k.name()))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let all = Permission::ALL
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match best {
        Some((score, name)) if score > 0.85 => format!("; did you mean `{name}`?"),
        _ => format!("; permissions are {all}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = ".compartment/access.yml";

    fn access(text: &str) -> Access {
        Access::parse(Path::new(FILE), text).unwrap_or_else(|e| panic!("{e}"))
    }
    fn err(text: &str) -> String {
        Access::parse(Path::new(FILE), text)
            .unwrap_err()
            .to_string()
    }

    /// The expected verdict of every built-in role on every command.
    #[test]
    fn builtin_roles_on_every_command() {
        use Command::*;
        #[rustfmt::skip]
        let table: &[(Command, [bool; 4])] = &[
            //                                   admin  deployer readonly viewer
            (ResourceList,                       [true, true,  false, false]),
            (ResourceInspect,                    [true, true,  false, false]),
            (ResourceLogs,                       [true, true,  false, false]),
            (ResourceStop,                       [true, true,  false, false]),
            (ResourceStart,                      [true, true,  false, false]),
            (ResourceDelete,                     [true, true,  false, false]),
            (OutputList,                         [true, true,  false, false]),
            (OutputShow { reveal: false },       [true, true,  false, false]),
            (OutputShow { reveal: true },        [true, false, false, false]),
            (BackupCreate,                       [true, true,  false, false]),
            (BackupList,                         [true, true,  false, false]),
            (BackupShow,                         [true, true,  false, false]),
            (BackupRestore,                      [true, true,  false, false]),
            (VariableSet,                        [true, true,  false, false]),
            (VariableRemove,                     [true, true,  false, false]),
            (VariableList,                       [true, true,  true,  false]),
            (Apply,                              [true, true,  false, false]),
            (BackupRunDue,                       [true, true,  false, false]),
            (StateUnlock,                        [true, false, false, false]),
        ];
        assert_eq!(table.len(), Command::ALL.len());
        let a = access("actors: {admin-user: admin, dep: deployer, ro: readonly, view: viewer}");
        for (cmd, verdicts) in table {
            for (actor, want) in ["admin-user", "dep", "ro", "view"].iter().zip(verdicts) {
                let got = a.check(actor, "production", *cmd);
                assert_eq!(got.is_ok(), *want, "{actor} on {cmd}: {got:?}");
                if let Err(d) = got {
                    assert!(!d.missing().is_empty());
                    assert!(d.missing().iter().all(|p| cmd.required().contains(p)));
                }
            }
        }
    }

    #[test]
    fn custom_roles_follow_the_seed_requirements() {
        use Command::*;
        let a = access(
            "actors:\n  alice: {production: auditor}\n  carol: {production: operator}\n  dave: {production: revealer}\n\
             roles:\n  auditor:\n    permissions: [deployment.logs.read]\n  operator:\n    description: ops without logs\n    permissions: [deployment.create]\n  revealer:\n    permissions: [deployment.create, variable.value.read, deployment.logs.read]\n",
        );
        // Without deployment.create nothing on resources works, not even logs.
        for cmd in [
            ResourceList,
            ResourceInspect,
            ResourceLogs,
            OutputList,
            BackupRestore,
        ] {
            let d = a.check("alice", "production", cmd).unwrap_err();
            assert_eq!(d.missing(), [Permission::DeploymentCreate], "{cmd}");
        }
        // deployment.create: list, inspect, outputs, backups incl. restore (--as too).
        for cmd in [
            ResourceList,
            ResourceInspect,
            OutputList,
            OutputShow { reveal: false },
            BackupCreate,
            BackupList,
            BackupShow,
            BackupRestore,
        ] {
            assert!(a.check("carol", "production", cmd).is_ok(), "{cmd}");
        }
        // ... but logs also need deployment.logs.read, reveal variable.value.read.
        let d = a.check("carol", "production", ResourceLogs).unwrap_err();
        assert_eq!(d.missing(), [Permission::DeploymentLogsRead]);
        let d = a
            .check("carol", "production", OutputShow { reveal: true })
            .unwrap_err();
        assert_eq!(d.missing(), [Permission::VariableValueRead]);
        for cmd in [ResourceLogs, OutputShow { reveal: true }] {
            assert!(a.check("dave", "production", cmd).is_ok(), "{cmd}");
        }
        assert_eq!(
            a.permissions("auditor")
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [Permission::DeploymentLogsRead]
        );
    }

    #[test]
    fn denied_says_who_what_which_permission_and_how() {
        let a = access("actors:\n  alice:\n    production: viewer\n    staging: admin\n");
        let d = a
            .check("alice", "production", Command::ResourceLogs)
            .unwrap_err();
        assert_eq!(
            d.to_string(),
            "alice (role viewer in production) may not run `resource logs`: it needs the permissions `deployment.create` and `deployment.logs.read`; ask an admin to grant a role with them in .compartment/access.yml"
        );
        let b = access("actors: {alice: {production: auditor}}\nroles: {auditor: {permissions: [deployment.create]}}");
        assert_eq!(
            b.check("alice", "production", Command::ResourceLogs).unwrap_err().to_string(),
            "alice (role auditor in production) may not run `resource logs`: it needs the permission `deployment.logs.read`; ask an admin to grant a role with it in .compartment/access.yml"
        );
        assert!(a.check("alice", "staging", Command::ResourceLogs).is_ok());
        // Another environment alice has no role in.
        let d = a.check("alice", "qa", Command::ResourceList).unwrap_err();
        assert_eq!(d.role(), None);
        assert_eq!(
            d.to_string(),
            "alice has no role in qa and may not run `resource list`; ask an admin to give alice a role for qa under `actors` in .compartment/access.yml"
        );
    }

    #[test]
    fn unknown_actor_is_denied_unless_there_is_a_default() {
        let a = access("actors: {alice: {production: admin}}");
        let d = a
            .check("mallory", "production", Command::BackupList)
            .unwrap_err();
        assert_eq!(d.role(), None);
        assert_eq!(d.missing(), [Permission::DeploymentCreate]);
        assert!(
            d.to_string()
                .starts_with("mallory has no role in production"),
            "{d}"
        );
        // Even commands needing nothing special are refused without a role.
        assert!(a
            .check("mallory", "production", Command::VariableList)
            .is_err());

        let a = access("actors: {alice: {production: admin}}\ndefault: readonly");
        assert_eq!(a.role_of("mallory", "production"), Some("readonly"));
        assert!(a
            .check("mallory", "production", Command::VariableList)
            .is_ok());
        let d = a
            .check("mallory", "production", Command::ResourceList)
            .unwrap_err();
        assert_eq!(d.role(), Some("readonly"));
    }

    #[test]
    fn environment_wildcard_and_plain_roles() {
        let a = access(
            "actors:\n  alice: {production: viewer, '*': deployer}\n  ci: admin\ndefault: viewer\n",
        );
        assert_eq!(a.role_of("alice", "production"), Some("viewer"));
        assert_eq!(a.role_of("alice", "staging"), Some("deployer"));
        assert_eq!(a.role_of("ci", "production"), Some("admin"));
        assert_eq!(a.role_of("bob", "staging"), Some("viewer"));
        assert!(!a.is_local_default());
        assert_eq!(a.file(), Some(Path::new(FILE)));
    }

    #[test]
    fn json_access_files_work_too() {
        let a = Access::parse(
            Path::new("access.json"),
            r#"{"actors": {"alice": {"production": "auditor"}},
                "roles": {"auditor": {"permissions": ["deployment.create", "deployment.logs.read"]}}}"#,
        )
        .unwrap();
        assert!(a
            .check("alice", "production", Command::ResourceLogs)
            .is_ok());
        assert!(a
            .check("alice", "production", Command::VariableSet)
            .is_err());
    }

    #[test]
    fn missing_file_is_the_local_default_admin() {
        let dir = tempfile::tempdir().unwrap();
        for a in [
            Access::load(None).unwrap(),
            Access::load(Some(&dir.path().join("nope.yml"))).unwrap(),
            Access::resolve(dir.path(), None).unwrap(),
            Access::resolve(dir.path(), Some(OsStr::new(""))).unwrap(),
        ] {
            assert!(a.is_local_default());
            for cmd in Command::ALL {
                assert!(a.check("anyone", "production", cmd).is_ok(), "{cmd}");
            }
            assert_eq!(a.role_of("anyone", "staging"), Some("admin"));
        }
    }

    #[test]
    fn files_are_found_beside_compartment_yml_or_by_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".compartment")).unwrap();
        let default = dir.path().join(DEFAULT_ACCESS_FILE);
        std::fs::write(&default, "actors: {alice: {production: viewer}}\n").unwrap();
        let a = Access::resolve(dir.path(), None).unwrap();
        assert_eq!(a.file(), Some(default.as_path()));
        assert!(a
            .check("alice", "production", Command::ResourceList)
            .is_err());

        let other = dir.path().join("team-access.json");
        std::fs::write(&other, r#"{"actors": {"alice": {"production": "admin"}}}"#).unwrap();
        let a = Access::resolve(dir.path(), Some(other.as_os_str())).unwrap();
        assert!(a
            .check("alice", "production", Command::ResourceList)
            .is_ok());

        // An explicit file that does not exist does not turn access control off.
        let typo = dir.path().join("acess.yml");
        let e = Access::resolve(dir.path(), Some(typo.as_os_str())).unwrap_err();
        assert!(matches!(e, AccessError::NotFound { .. }));
        assert!(e.to_string().contains("acess.yml"), "{e}");
        assert!(e.to_string().contains(ACCESS_FILE_ENV), "{e}");
    }

    #[test]
    fn unknown_roles_and_permissions_name_the_file_and_entry() {
        let e = err("actors: {alice: {production: deploer}}");
        assert_eq!(
            e,
            "the access file .compartment/access.yml: `actors.alice.production` names the unknown role `deploer`; roles are `admin`, `deployer`, `readonly`, `viewer`"
        );
        let e = err("roles: {auditor: {permissions: [deployment.create, deployment.log.read]}}");
        assert_eq!(
            e,
            "the access file .compartment/access.yml: `roles.auditor.permissions[1]` names the unknown permission `deployment.log.read`; did you mean `deployment.logs.read`?"
        );
        let e = err("roles: {auditor: {permissions: [everything]}}");
        assert!(e.contains("permissions are `deployment.create`"), "{e}");
        assert!(err("default: root").contains("`default` names the unknown role `root`"));
        let e = err("actors: {ci: superuser}");
        assert!(
            e.contains("`actors.ci` names the unknown role `superuser`"),
            "{e}"
        );
        // Custom roles are known to actors.
        let e = err("actors: {a: {production: auditr}}\nroles: {auditor: {permissions: []}}");
        assert!(
            e.contains("roles are `admin`, `auditor`, `deployer`"),
            "{e}"
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        for (text, needle) in [
            ("", "it is empty"),
            ("   \n", "it is empty"),
            ("actors: [alice]", "`actors` must be a mapping"),
            ("- alice", "the top level must be a mapping"),
            (
                "actor: {alice: admin}",
                "unknown key `actor` at the top level",
            ),
            (
                "actors: {alice: [admin]}",
                "`actors.alice` must map environments to roles",
            ),
            (
                "actors: {alice: {production: 3}}",
                "`actors.alice.production` must be a role name",
            ),
            (
                "roles: {auditor: {}}",
                "`roles.auditor` needs `permissions`",
            ),
            (
                "roles: {auditor: {permissions: deployment.create}}",
                "needs `permissions`",
            ),
            (
                "roles: {auditor: {permissions: [1]}}",
                "`roles.auditor.permissions[0]` must be a permission name",
            ),
            (
                "roles: {auditor: {permissions: [], can: all}}",
                "unknown key `can` in `roles.auditor`",
            ),
            ("actors: {alice: {production: admin}", "not valid"),
            ("actors: {1: admin}", "must be a string; quote it"),
            ("actors: {alice: admin, alice: viewer}", "duplicate"),
            ("default: [admin]", "`default` must be a role name"),
        ] {
            let e = err(text);
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.contains(FILE), "{text:?}: {e}");
        }
        let e = err("roles: {admin: {permissions: [state.write]}}");
        assert!(
            e.contains("`roles.admin` redefines the built-in role `admin`"),
            "{e}"
        );
        // Unreadable: a directory.
        let dir = tempfile::tempdir().unwrap();
        let e = Access::load(Some(dir.path())).unwrap_err();
        assert!(matches!(e, AccessError::Read { .. }), "{e}");
    }

    #[test]
    fn the_actor_comes_from_compartment_actor_then_the_login() {
        assert_eq!(actor_from(Some("alice"), Some("root"), None), "alice");
        assert_eq!(actor_from(Some(""), Some("root"), None), "root");
        assert_eq!(actor_from(None, None, Some("Alice")), "Alice");
        assert_eq!(actor_from(None, Some("  "), None), "local");
    }

    #[test]
    fn permission_and_command_names() {
        for p in Permission::ALL {
            assert_eq!(Permission::from_name(p.name()), Some(p));
        }
        for name in [
            "deployment.create",
            "deployment.logs.read",
            "variable.value.read",
            "variable.value.write",
            "deployment.delete",
            "state.write",
        ] {
            assert!(Permission::from_name(name).is_some(), "{name}");
        }
        assert_eq!(
            Command::OutputShow { reveal: true }.to_string(),
            "resource output show --reveal"
        );
        assert_eq!(
            builtin_permissions("admin").unwrap().len(),
            Permission::ALL.len()
        );
        assert_eq!(builtin_permissions("root"), None);
    }
}
