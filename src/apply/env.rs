//! Runtime environments: what a resource or service container gets, and the
//! resolution of resource outputs (connections, bindings, `output show`).
//! Secrets are opened here, with the key, and only here.

use super::naming;
use crate::descriptor::model::ResourceDef;
use crate::descriptor::template;
use crate::state::secrets::{SecretError, SecretKey};
use crate::state::{State, Variable};
use std::borrow::Cow;
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EnvError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("output `{output}` of resource `{resource}` cannot be resolved: {reason}")]
    Output {
        resource: String,
        output: String,
        reason: template::RenderError,
    },
    #[error("resource `{0}` has no output `{1}`")]
    NoOutput(String, String),
    #[error("resource `{0}` is not declared and not in the state")]
    NoResource(String),
}

/// The identity a sealed variable is bound to.
pub fn variable_identity(project: &str, env: &str, scope: &str, target: &str, key: &str) -> String {
    format!("{project}/{env}/{scope}/{target}/{key}")
}

pub fn hook_secret_identity(project: &str, env: &str) -> String {
    format!("{project}/{env}/hook-secret")
}

/// The plaintext of a stored variable.
pub fn open_variable(
    key: Option<&SecretKey>,
    identity: &str,
    v: &Variable,
) -> Result<String, SecretError> {
    if let Some(value) = &v.value {
        return Ok(value.clone());
    }
    match (&v.sealed, key) {
        (Some(sealed), Some(k)) => k.open(identity, sealed),
        (Some(_), None) => Err(SecretError::NoKey {
            path: crate::state::secrets::key_file().display().to_string(),
        }),
        (None, _) => Ok(String::new()),
    }
}

/// The final runtime env of a resource: its literal `env`, then its
/// generated variables and resource-scoped runtime variables (never service
/// or environment ones).
pub fn resource_env(
    project: &str,
    env: &str,
    name: &str,
    def: &ResourceDef,
    variables: Option<&BTreeMap<String, Variable>>,
    key: Option<&SecretKey>,
) -> Result<BTreeMap<String, String>, SecretError> {
    let mut out = def.env.clone();
    if let Some(vars) = variables {
        for (k, v) in vars {
            out.insert(
                k.clone(),
                open_variable(
                    key,
                    &variable_identity(project, env, "resource", name, k),
                    v,
                )?,
            );
        }
    }
    Ok(out)
}

/// Renders one output of a resource, opening only the runtime variables
/// its template reads: a non-sensitive output (`host`, `port`) needs no key
/// even when the resource has sealed variables. Variables override the
/// literal `env`, as in the resource's container.
pub fn resolve_output(
    project: &str,
    env: &str,
    resource: &str,
    def: &ResourceDef,
    output: &str,
    state: &State,
    key: Option<&SecretKey>,
) -> Result<String, EnvError> {
    let o = def
        .outputs
        .get(output)
        .ok_or_else(|| EnvError::NoOutput(resource.into(), output.into()))?;
    let vars = state.variables.resource.get(resource);
    let mut runtime = BTreeMap::new();
    for k in template::env_keys(&o.value) {
        let value = match vars.and_then(|v| v.get(&k)) {
            Some(v) => open_variable(
                key,
                &variable_identity(project, env, "resource", resource, &k),
                v,
            )?,
            None => match def.env.get(&k) {
                Some(v) => v.clone(),
                None => continue,
            },
        };
        runtime.insert(k, value);
    }
    let host = naming::resource_host(project, env, resource);
    let cx = template::Context {
        resource,
        host: &host,
        project,
        environment: env,
        env: &runtime,
    };
    template::render(&o.value, &cx).map_err(|reason| EnvError::Output {
        resource: resource.into(),
        output: output.into(),
        reason,
    })
}

/// The runtime env of a service: its direct variables, then descriptor
/// connections and CLI bindings resolved to the outputs' values now.
pub fn service_env(
    project: &str,
    env: &str,
    name: &str,
    def: &crate::descriptor::model::ServiceDef,
    resources: &BTreeMap<String, ResourceDef>,
    state: &State,
    key: Option<&SecretKey>,
) -> Result<BTreeMap<String, String>, EnvError> {
    let mut out = BTreeMap::new();
    if let Some(vars) = state.variables.service.get(name) {
        for (k, v) in vars {
            out.insert(
                k.clone(),
                open_variable(key, &variable_identity(project, env, "service", name, k), v)?,
            );
        }
    }
    let lookup = |r: &str| {
        resources
            .get(r)
            .map(Cow::Borrowed)
            .or_else(|| {
                state
                    .resources
                    .get(r)
                    .map(|s| Cow::Owned(ResourceDef::from(&s.applied.definition)))
            })
            .ok_or_else(|| EnvError::NoResource(r.into()))
    };
    for (var, b) in state.bindings.get(name).into_iter().flatten() {
        out.insert(
            var.clone(),
            resolve_output(
                project,
                env,
                &b.resource,
                &*lookup(&b.resource)?,
                &b.output,
                state,
                key,
            )?,
        );
    }
    for (res, conn) in &def.connections {
        for (var, output) in &conn.env {
            out.insert(
                var.clone(),
                resolve_output(project, env, res, &*lookup(res)?, output, state, key)?,
            );
        }
    }
    Ok(out)
}

/// A new random token for a generated variable.
pub fn generate_token(bytes: u32, encoding: &str) -> String {
    use base64::Engine;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    match encoding {
        "base64url" => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        _ => hex::encode(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_declared_size_and_encoding() {
        let h = generate_token(24, "hex");
        assert_eq!(h.len(), 48);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        let b = generate_token(32, "base64url");
        assert_eq!(b.len(), 43);
        assert!(b
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(generate_token(24, "hex"), generate_token(24, "hex"));
    }
}
