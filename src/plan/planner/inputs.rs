//! What a service's connections and bindings resolve from, and why a
//! service changes when one of them does: a change of a resource's output
//! template, host, a literal `env` value or a runtime variable that an output
//! reads cascades to every service reading that output. Pure: the record
//! is built from the desired configuration and the state, with versions of
//! runtime variables instead of values, so the plan needs no key.

use crate::descriptor::model::ResourceDef;
use crate::descriptor::template;
use crate::plan::FieldChange;
use crate::project::Project;
use crate::state::{variable_version, ResolvedInput, State, PENDING_VERSION};
use serde_json::json;
use std::collections::BTreeMap;

/// The literal `env` and the output templates of a resource: the declared
/// definition, or the applied one for a resource only the state knows.
struct Source<'a> {
    env: &'a BTreeMap<String, String>,
    template: Option<&'a str>,
    generated: bool,
}

fn source<'a>(
    project: &'a Project,
    state: &'a State,
    res: &str,
    output: &str,
) -> Option<Source<'a>> {
    if let Some(def) = project.compartment.resources.get(res) {
        return Some(declared_source(def, output));
    }
    let applied = &state.resources.get(res)?.applied.definition;
    Some(Source {
        env: &applied.env,
        template: applied.outputs.get(output).map(|o| o.value.as_str()),
        generated: false,
    })
}

fn declared_source<'a>(def: &'a ResourceDef, output: &str) -> Source<'a> {
    Source {
        env: &def.env,
        template: def.outputs.get(output).map(|o| o.value.as_str()),
        generated: !def.generated_variables.is_empty(),
    }
}

/// What every connected or bound variable of `service` resolves from now
/// (the desired record). Bindings come first and connections override
/// them, as when the container's environment is made.
pub fn service_inputs(
    project: &Project,
    environment: &str,
    state: &State,
    service: &str,
) -> BTreeMap<String, ResolvedInput> {
    let mut reads: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (var, b) in state.bindings.get(service).into_iter().flatten() {
        reads.insert(var, (&b.resource, &b.output));
    }
    if let Some(def) = project.compartment.services.get(service) {
        for (res, conn) in &def.connections {
            for (var, output) in &conn.env {
                reads.insert(var, (res, output));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (var, (res, output)) in reads {
        let Some(src) = source(project, state, res, output) else {
            continue;
        };
        let template = src.template.unwrap_or_default().to_string();
        let mut input = ResolvedInput {
            from: format!("{res}.{output}"),
            host: ResourceDef::host(res, environment, &project.compartment.name),
            env: BTreeMap::new(),
            variables: BTreeMap::new(),
            template,
        };
        let vars = state.variables.resource.get(res);
        let generated = project
            .compartment
            .resources
            .get(res)
            .map(|d| &d.generated_variables);
        for k in template::env_keys(&input.template) {
            if let Some(v) = vars.and_then(|v| v.get(&k)) {
                input.variables.insert(k, variable_version(v));
            } else if src.generated && generated.is_some_and(|g| g.contains_key(&k)) {
                input.variables.insert(k, PENDING_VERSION.into());
            } else if let Some(v) = src.env.get(&k) {
                input.env.insert(k, v.clone());
            }
        }
        out.insert(var.to_string(), input);
    }
    out
}

/// The differences between what a service's variables read when it was
/// applied and what they read now, as masked field changes under
/// `inputs.<VAR>`, and the reason of the first: `DATABASE_URL (from
/// db.connection-url) changes because resource.db env.POSTGRES_DB
/// changed`.
pub fn cascade(
    before: &BTreeMap<String, ResolvedInput>,
    after: &BTreeMap<String, ResolvedInput>,
    diff: &mut Vec<FieldChange>,
) -> Option<String> {
    let mut reason = None;
    for (var, now) in after {
        // A variable that reads another output now is the service's own
        // change (its connections or bindings), not a cascade.
        let Some(was) = before.get(var).filter(|w| w.from == now.from) else {
            continue;
        };
        if was == now {
            continue;
        }
        let res = now.from.split('.').next().unwrap_or_default();
        let mut causes = Vec::new();
        let mut push = |path: String,
                        b: Option<serde_json::Value>,
                        a: Option<serde_json::Value>,
                        sensitive: bool| {
            diff.push(FieldChange {
                path: format!("inputs.{var}.{path}"),
                before: b,
                after: a,
                sensitive,
                forces_replacement: false,
                unchanged: false,
            })
        };
        if was.template != now.template {
            causes.push(format!(
                "resource.{res} output `{}` changed",
                output_of(&now.from)
            ));
            push(
                "template".into(),
                Some(json!(was.template)),
                Some(json!(now.template)),
                false,
            );
        }
        if was.host != now.host {
            causes.push(format!("the host of resource.{res} changed"));
            push(
                "host".into(),
                Some(json!(was.host)),
                Some(json!(now.host)),
                false,
            );
        }
        for k in keys(&was.env, &now.env) {
            let (b, a) = (was.env.get(k), now.env.get(k));
            if b != a {
                causes.push(format!("resource.{res} env.{k} changed"));
                push(
                    format!("env.{k}"),
                    b.map(|v| json!(v)),
                    a.map(|v| json!(v)),
                    false,
                );
            }
        }
        for k in keys(&was.variables, &now.variables) {
            let (b, a) = (was.variables.get(k), now.variables.get(k));
            if b == a {
                continue;
            }
            let words = match a.map(String::as_str) {
                Some(PENDING_VERSION) => "will be generated",
                Some(_) => "has a new value",
                None => "is no longer a runtime variable",
            };
            causes.push(format!("resource.{res} {k} {words}"));
            let mask = |v: Option<&String>, w: &str| v.map(|_| json!(format!("(sensitive, {w})")));
            push(
                format!("variables.{k}"),
                mask(b, "applied"),
                mask(a, words),
                true,
            );
        }
        if reason.is_none() && !causes.is_empty() {
            reason = Some(format!(
                "{var} (from {}) changes because {}",
                now.from,
                causes.join(", ")
            ));
        }
    }
    reason
}

fn output_of(from: &str) -> &str {
    from.split_once('.').map_or(from, |(_, o)| o)
}

fn keys<'a>(
    a: &'a BTreeMap<String, String>,
    b: &'a BTreeMap<String, String>,
) -> std::collections::BTreeSet<&'a String> {
    a.keys().chain(b.keys()).collect()
}
