//! The check: an actor's role in an environment, whether it holds what a
//! command requires, and the refusal (`Denied`) that says how to get it.

use super::file::Access;
use super::model::{Command, Permission};
use super::{ACTOR_ENV, DEFAULT_ACCESS_FILE};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use thiserror::Error;

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

impl Access {
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

/// What an actor holds in one environment: its role and that role's
/// permissions (everything when there is no access file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub actor: String,
    pub environment: String,
    pub role: Option<String>,
    pub permissions: BTreeSet<Permission>,
    pub file: std::path::PathBuf,
}

/// An instance change whose Platz `allowed_role` the actor lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRefusal {
    pub instance: String,
    /// create, update, replace or delete.
    pub operation: String,
    /// `Owner` or `Maintainer`.
    pub role: String,
}

/// The refusal of an apply: every instance change the actor may not make.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct RoleDenied {
    pub grant: Box<Grant>,
    pub refused: Vec<InstanceRefusal>,
}

impl fmt::Display for RoleDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.grant;
        let who = match &g.role {
            Some(r) => format!("{} (role {r} in {})", g.actor, g.environment),
            None => format!("{} (no role in {})", g.actor, g.environment),
        };
        let each: Vec<String> = self
            .refused
            .iter()
            .map(|r| {
                let perms: Vec<String> = super::model::platz_role_permissions(&r.role)
                    .unwrap_or(&[])
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect();
                format!(
                    "{} of instance `{}` needs the Platz role {} ({})",
                    r.operation,
                    r.instance,
                    r.role,
                    perms.join(" or ")
                )
            })
            .collect();
        write!(
            f,
            "{who} may not apply this plan, nothing was executed: {}; ask an admin to grant a role with it in {}",
            each.join("; "),
            g.file.display()
        )
    }
}

impl Grant {
    /// Whether the grant allows `command`.
    pub fn check(&self, command: Command) -> Result<(), Denied> {
        let missing: Vec<Permission> = command
            .required()
            .iter()
            .copied()
            .filter(|p| !self.permissions.contains(p))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Denied {
            actor: self.actor.as_str().into(),
            environment: self.environment.as_str().into(),
            command,
            role: self.role.as_deref().map(Into::into),
            missing: missing.into(),
            file: self.file.as_path().into(),
        })
    }

    /// Whether the grant satisfies a Platz `allowed_role`.
    pub fn holds_platz_role(&self, role: &str) -> bool {
        super::model::platz_role_permissions(role)
            .is_some_and(|ps| ps.iter().any(|p| self.permissions.contains(p)))
    }

    /// Refuses the instance changes (instance, operation, Platz role)
    /// whose role the grant lacks, all of them in one error.
    pub fn check_instances<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<(), RoleDenied> {
        let refused: Vec<InstanceRefusal> = changes
            .into_iter()
            .filter(|(_, _, role)| !self.holds_platz_role(role))
            .map(|(i, op, role)| InstanceRefusal {
                instance: i.into(),
                operation: op.into(),
                role: role.into(),
            })
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(RoleDenied {
            grant: Box::new(self.clone()),
            refused,
        })
    }
}

impl Access {
    /// What `actor` holds in `environment`.
    pub fn grant(&self, actor: &str, environment: &str) -> Grant {
        let role = self.role_of(actor, environment).map(String::from);
        let permissions = role
            .as_deref()
            .and_then(|r| self.roles.get(r))
            .cloned()
            .unwrap_or_default();
        Grant {
            actor: actor.into(),
            environment: environment.into(),
            role,
            permissions,
            file: self
                .file
                .clone()
                .unwrap_or_else(|| DEFAULT_ACCESS_FILE.into()),
        }
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
