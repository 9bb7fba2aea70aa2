//! Runtime variables and resource-output bindings: set, remove, list.
//! Sensitive values are sealed; a direct variable and a binding for the
//! same service key conflict instead of silently choosing a winner.

use crate::apply::env::{open_variable, variable_identity};
use crate::descriptor::model::ResourceDef;
use crate::project::Project;
use crate::state::secrets::SecretKey;
use crate::state::{Binding, State, Variable};
use serde::Serialize;
use thiserror::Error;

type Result<T, E = VariableError> = std::result::Result<T, E>;

/// Why a variable or binding cannot be set or removed.
#[derive(Debug, Error)]
pub enum VariableError {
    #[error("say whose variable this is: --resource <name> or --service <name>")]
    NoScope,
    #[error("{kind} `{name}` is not declared in compartment.yml (nor deployed)")]
    Undeclared { kind: &'static str, name: String },
    #[error("`{key}` is not a valid variable name: use letters, digits and `_`, not starting with a digit")]
    InvalidKey { key: String },
    #[error("`{service}.{key}` is already bound to `{resource}.{output}`; a direct value and a binding for the same key conflict: remove the binding first (`compartment variable remove {key} --service {service}`)")]
    AlreadyBound {
        service: String,
        key: String,
        resource: String,
        output: String,
    },
    #[error("`{service}.{key}` comes from the connection `{resource}.{output}` in compartment.yml; a direct value would conflict with it")]
    FromConnection {
        service: String,
        key: String,
        resource: String,
        output: String,
    },
    #[error("sealing a sensitive value needs the secret key")]
    NoKey,
    #[error("--from-resource takes RESOURCE.OUTPUT, e.g. db.connection-url (got `{from}`)")]
    BadReference { from: String },
    #[error("--from-resource binds a service variable: use it with --service")]
    BindingNeedsService,
    #[error("{kind} `{name}` is not declared in compartment.yml")]
    NotDeclared { kind: &'static str, name: String },
    #[error("resource `{resource}` has no output `{output}`; its outputs: {}", if outputs.is_empty() { "none".to_string() } else { outputs.join(", ") })]
    NoOutput {
        resource: String,
        output: String,
        outputs: Vec<String>,
    },
    #[error("`{key}` is selected in services.{service}.build.env; output bindings are runtime variables and cannot be used at build time")]
    InBuildEnv { service: String, key: String },
    #[error("`{service}.{key}` already has a direct value; a direct value and a binding for the same key conflict: remove it first (`compartment variable remove {key} --service {service}`)")]
    HasValue { service: String, key: String },
    #[error("`{service}.{key}` is connected to `{connected}` in compartment.yml; a binding to `{wanted}` would conflict with it")]
    Connected {
        service: String,
        key: String,
        connected: String,
        wanted: String,
    },
    #[error("{kind} `{target}` has no variable `{key}`")]
    NoVariable {
        kind: &'static str,
        target: String,
        key: String,
    },
    #[error("`{service}.{key}` is selected in services.{service}.build.env: a sensitive value there would be kept in the image, where `docker history` shows it; remove it from build.env first, or set it without --sensitive if it is not a secret")]
    SensitiveInBuild { service: String, key: String },
    #[error("`{resource}.{key}` is a generated sensitive variable; set it with --sensitive (and --stdin) so it stays sealed")]
    GeneratedNeedsSensitive { resource: String, key: String },
    #[error("`{target}.{key}` is a sensitive variable; set it with --sensitive (and --stdin) so it stays sealed, or `variable remove` it first to store a plaintext value")]
    SensitiveNeedsSensitive { target: String, key: String },
    #[error("give the value as an argument, or --stdin to read it (use --stdin for secrets, so they stay out of shell history)")]
    NoValue,
}

/// Which runtime variables a command addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Resource(String),
    Service(String),
}

impl Scope {
    pub fn from_args(resource: Option<String>, service: Option<String>) -> Result<Scope> {
        match (resource, service) {
            (Some(r), None) => Ok(Scope::Resource(r)),
            (None, Some(s)) => Ok(Scope::Service(s)),
            _ => Err(VariableError::NoScope),
        }
    }

    fn words(&self) -> (&'static str, &str) {
        match self {
            Scope::Resource(r) => ("resource", r),
            Scope::Service(s) => ("service", s),
        }
    }
}

fn check_target(project: &Project, state: &State, scope: &Scope) -> Result<()> {
    let ok = match scope {
        Scope::Resource(r) => {
            project.compartment.resources.contains_key(r) || state.resources.contains_key(r)
        }
        Scope::Service(s) => {
            project.compartment.services.contains_key(s) || state.services.contains_key(s)
        }
    };
    if ok {
        Ok(())
    } else {
        let (kind, name) = scope.words();
        Err(VariableError::Undeclared {
            kind,
            name: name.into(),
        })
    }
}

/// A sensitive service variable is never selected in build.env; a
/// generated variable (declared, or recorded in the state) stays sensitive.
fn check_sensitivity(
    project: &Project,
    state: &State,
    scope: &Scope,
    key_name: &str,
    sensitive: bool,
) -> Result<()> {
    match scope {
        Scope::Service(s) if sensitive => {
            let selected = project
                .compartment
                .services
                .get(s)
                .is_some_and(|d| d.build.env.get(key_name) == Some(&None));
            if selected {
                return Err(VariableError::SensitiveInBuild {
                    service: s.clone(),
                    key: key_name.into(),
                });
            }
        }
        Scope::Resource(r) if !sensitive => {
            let declared = project
                .compartment
                .resources
                .get(r)
                .is_some_and(|d| d.generated_variables.contains_key(key_name));
            let recorded = state
                .variables
                .resource
                .get(r)
                .and_then(|m| m.get(key_name))
                .is_some_and(|v| v.generated);
            if declared || recorded {
                return Err(VariableError::GeneratedNeedsSensitive {
                    resource: r.clone(),
                    key: key_name.into(),
                });
            }
        }
        _ => {}
    }
    // Any other sensitive variable stays sealed too: a plain `set` over it
    // would write the new value into the state (and the committed file) in
    // plaintext.
    let (target, existing) = match scope {
        Scope::Resource(r) => (r, state.variables.resource.get(r)),
        Scope::Service(s) => (s, state.variables.service.get(s)),
    };
    if !sensitive
        && existing
            .and_then(|m| m.get(key_name))
            .is_some_and(|v| v.sensitive)
    {
        return Err(VariableError::SensitiveNeedsSensitive {
            target: target.clone(),
            key: key_name.into(),
        });
    }
    Ok(())
}

/// `variable set KEY --resource R|--service S [--sensitive] VALUE`.
pub fn set(
    project: &Project,
    state: &mut State,
    scope: &Scope,
    key_name: &str,
    value: &str,
    sensitive: bool,
    key: Option<&SecretKey>,
) -> Result<()> {
    check_target(project, state, scope)?;
    if key_name.is_empty()
        || !key_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        || key_name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(VariableError::InvalidKey {
            key: key_name.into(),
        });
    }
    let (kind, target) = scope.words();
    check_sensitivity(project, state, scope, key_name, sensitive)?;
    if let Scope::Service(s) = scope {
        if let Some(b) = state.bindings.get(s).and_then(|b| b.get(key_name)) {
            return Err(VariableError::AlreadyBound {
                service: s.clone(),
                key: key_name.into(),
                resource: b.resource.clone(),
                output: b.output.clone(),
            });
        }
        if let Some((res, out)) = project.compartment.services.get(s).and_then(|d| {
            d.connections
                .iter()
                .find_map(|(r, c)| c.env.get(key_name).map(|o| (r.clone(), o.clone())))
        }) {
            return Err(VariableError::FromConnection {
                service: s.clone(),
                key: key_name.into(),
                resource: res,
                output: out,
            });
        }
    }
    let identity = variable_identity(&state.project, &state.environment, kind, target, key_name);
    let variable = if sensitive {
        let k = key.ok_or(VariableError::NoKey)?;
        Variable {
            sensitive: true,
            generated: false,
            value: None,
            sealed: Some(k.seal(&identity, value)),
        }
    } else {
        Variable {
            sensitive: false,
            generated: false,
            value: Some(value.to_string()),
            sealed: None,
        }
    };
    let map = match scope {
        Scope::Resource(r) => state.variables.resource.entry(r.clone()).or_default(),
        Scope::Service(s) => state.variables.service.entry(s.clone()).or_default(),
    };
    map.insert(key_name.to_string(), variable);
    Ok(())
}

/// `variable set KEY --service S --from-resource R.OUTPUT`: stores a
/// reference, resolvable before the first deploy when compartment.yml
/// declares the service, the resource and the output.
pub fn bind(
    project: &Project,
    state: &mut State,
    service: &str,
    key_name: &str,
    from: &str,
) -> Result<()> {
    let (resource, output) = from
        .split_once('.')
        .ok_or_else(|| VariableError::BadReference { from: from.into() })?;
    let svc =
        project
            .compartment
            .services
            .get(service)
            .ok_or_else(|| VariableError::NotDeclared {
                kind: "service",
                name: service.into(),
            })?;
    let def = project
        .compartment
        .resources
        .get(resource)
        .cloned()
        .or_else(|| {
            state
                .resources
                .get(resource)
                .map(|r| ResourceDef::from(&r.applied.definition))
        })
        .ok_or_else(|| VariableError::NotDeclared {
            kind: "resource",
            name: resource.into(),
        })?;
    if !def.outputs.contains_key(output) {
        return Err(VariableError::NoOutput {
            resource: resource.into(),
            output: output.into(),
            outputs: def.outputs.keys().cloned().collect(),
        });
    }
    if svc.build.env.contains_key(key_name) {
        return Err(VariableError::InBuildEnv {
            service: service.into(),
            key: key_name.into(),
        });
    }
    if state
        .variables
        .service
        .get(service)
        .is_some_and(|v| v.contains_key(key_name))
    {
        return Err(VariableError::HasValue {
            service: service.into(),
            key: key_name.into(),
        });
    }
    if let Some((res, out)) = svc
        .connections
        .iter()
        .find_map(|(r, c)| c.env.get(key_name).map(|o| (r.clone(), o.clone())))
    {
        if (res.as_str(), out.as_str()) != (resource, output) {
            return Err(VariableError::Connected {
                service: service.into(),
                key: key_name.into(),
                connected: format!("{res}.{out}"),
                wanted: from.into(),
            });
        }
    }
    state
        .bindings
        .entry(service.to_string())
        .or_default()
        .insert(
            key_name.to_string(),
            Binding {
                resource: resource.into(),
                output: output.into(),
            },
        );
    Ok(())
}

/// Removes a direct variable or a binding. Returns what was removed.
pub fn remove(state: &mut State, scope: &Scope, key_name: &str) -> Result<&'static str> {
    let removed = match scope {
        Scope::Resource(r) => state
            .variables
            .resource
            .get_mut(r)
            .and_then(|m| m.remove(key_name))
            .map(|_| "variable"),
        Scope::Service(s) => state
            .variables
            .service
            .get_mut(s)
            .and_then(|m| m.remove(key_name))
            .map(|_| "variable")
            .or_else(|| {
                state
                    .bindings
                    .get_mut(s)
                    .and_then(|m| m.remove(key_name))
                    .map(|_| "binding")
            }),
    };
    state.variables.resource.retain(|_, m| !m.is_empty());
    state.variables.service.retain(|_, m| !m.is_empty());
    state.bindings.retain(|_, m| !m.is_empty());
    let (kind, target) = scope.words();
    removed.ok_or_else(|| VariableError::NoVariable {
        kind,
        target: target.into(),
        key: key_name.into(),
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct VariableRow {
    pub scope: String,
    pub target: String,
    pub key: String,
    /// value | generated | binding
    pub kind: String,
    pub sensitive: bool,
    /// Plaintext of non-sensitive values; a mask or the binding's reference otherwise.
    pub value: String,
}

/// Every variable (filtered by scope when given), sensitive values masked.
pub fn list(state: &State, scope: Option<&Scope>) -> Vec<VariableRow> {
    let mut rows = Vec::new();
    let wanted = |kind: &str, target: &str| {
        scope.is_none_or(|s| {
            s.words()
                == (
                    if kind == "resource" {
                        "resource"
                    } else {
                        "service"
                    },
                    target,
                )
        })
    };
    for (kind, map) in [
        ("resource", &state.variables.resource),
        ("service", &state.variables.service),
    ] {
        for (target, vars) in map {
            if !wanted(kind, target) {
                continue;
            }
            for (k, v) in vars {
                let shown = if v.sensitive {
                    "(sensitive)".to_string()
                } else {
                    open_variable(None, "", v).unwrap_or_default()
                };
                rows.push(VariableRow {
                    scope: kind.into(),
                    target: target.clone(),
                    key: k.clone(),
                    kind: if v.generated { "generated" } else { "value" }.into(),
                    sensitive: v.sensitive,
                    value: shown,
                });
            }
        }
    }
    for (svc, bindings) in &state.bindings {
        if !wanted("service", svc) {
            continue;
        }
        for (k, b) in bindings {
            rows.push(VariableRow {
                scope: "service".into(),
                target: svc.clone(),
                key: k.clone(),
                kind: "binding".into(),
                sensitive: false,
                value: format!("← {}.{}", b.resource, b.output),
            });
        }
    }
    rows.sort_by(|a, b| (&a.scope, &a.target, &a.key).cmp(&(&b.scope, &b.target, &b.key)));
    rows
}
