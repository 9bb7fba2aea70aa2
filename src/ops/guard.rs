//! The one permission check of a command: the actor from the environment,
//! the project's access file (`COMPARTMENT_ACCESS_FILE`, which must exist,
//! or `.compartment/access.yml` beside compartment.yml, optional), and the
//! permissions of the actor's role in the environment.

use crate::access::{current_actor, Access, AccessError, Command, Denied, Grant, ACCESS_FILE_ENV};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GuardError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Denied(#[from] Denied),
}

/// Refuses `command` in `env` unless the current actor's role allows it.
pub fn authorize(root: &Path, env: &str, command: Command) -> Result<(), GuardError> {
    let access = Access::resolve(root, std::env::var_os(ACCESS_FILE_ENV).as_deref())?;
    access.check(&current_actor(), env, command)?;
    Ok(())
}

/// What the current actor holds in `env` (everything without an access
/// file), for the checks apply makes on the plan itself (`allowed_role`).
pub fn grant(root: &Path, env: &str) -> Result<Grant, GuardError> {
    let access = Access::resolve(root, std::env::var_os(ACCESS_FILE_ENV).as_deref())?;
    Ok(access.grant(&current_actor(), env))
}
