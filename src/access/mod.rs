//! Who may run which command: permissions, built-in and custom roles
//! (`model`), the access file that maps actors to roles per environment,
//! loaded through the positioned YAML loader so its problems are located
//! diagnostics (`file`), and the check that turns a missing permission into
//! an actionable refusal (`check`).
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
//! | `deployer` | `deployment.create`, `deployment.delete`, `deployment.logs.read`, `variable.read`, `variable.value.write`, `instance.maintainer` |
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
//! - Platz's `allowed_role` of a resource type's lifecycle operation maps
//!   onto `instance.owner` (Owner: admin) and `instance.maintainer`
//!   (Maintainer: deployer; `instance.owner` satisfies it too); apply
//!   checks them on the plan's instance changes (`Grant::check_instances`).
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
//! like a built-in one and malformed files are located diagnostics
//! (file:line:column, YAML path, the source line, help), all of them in one
//! run, carried by `AccessError::Invalid`.
//!
//! When there is no access file at all, access control is off: the local
//! user is `admin` (the local default admin), as a single-user CLI should
//! behave. An access file named explicitly by `COMPARTMENT_ACCESS_FILE` must
//! exist, so that a typo cannot turn access control off.
//!
//! The acting identity comes from `COMPARTMENT_ACTOR`, else the login name.

mod check;
mod file;
mod model;

pub use check::{actor_from, current_actor, Denied, Grant, InstanceRefusal, RoleDenied};
pub use file::{Access, AccessError};
pub use model::{builtin_permissions, platz_role_permissions, Command, Permission, BUILTIN_ROLES};

/// The environment variable naming the access file.
pub const ACCESS_FILE_ENV: &str = "COMPARTMENT_ACCESS_FILE";
/// The environment variable naming the acting identity.
pub const ACTOR_ENV: &str = "COMPARTMENT_ACTOR";
/// The access file's default place, relative to compartment.yml's directory.
pub const DEFAULT_ACCESS_FILE: &str = ".compartment/access.yml";

#[cfg(test)]
mod tests;
