//! The full desired definition of every create and replace, as field
//! entries of its diff, so that a reviewer sees what a create creates: for
//! a resource its image (or preset), command, literal env values, ports,
//! volumes (handle → mount path), readiness, restart policy, outputs (name,
//! sensitive flag and template, never a resolved value) and operations with
//! their schedule; for a service its path, build arguments, ingress,
//! readiness, grace period and build-context hash; for an instance its
//! type, values (sensitive inputs masked) and the properties it will store.
//!
//! A create lists every leaf as added (`+`). A replace lists, after what
//! changed, every other leaf as unchanged (an entry whose `before` equals
//! its `after`). A delete lists what it removes, from the state (`-`). Generated variables and connections have lines of their
//! own and are left out here. An update keeps only what changed.

use super::{Input, MASK};
use crate::plan::{Action, Change, FieldChange, Kind};
use crate::platz::instances::Instance;
use crate::state::{ResourceConfig, ServiceConfig};
use serde_json::{json, Value};

/// Adds the desired definition to each create and replace of `changes`,
/// half of them on a second thread when there are many.
pub(super) fn complete(input: &Input, changes: &mut [Change]) {
    if changes.len() < super::PARALLEL_INSTANCES {
        return complete_each(input, changes);
    }
    let (first, second) = changes.split_at_mut(changes.len() / 2);
    crate::support::parallel::join(
        || complete_each(input, second),
        || complete_each(input, first),
    );
}

fn complete_each(input: &Input, changes: &mut [Change]) {
    for ch in changes.iter_mut() {
        let found = match ch.action {
            Action::Create | Action::Replace => desired(input, ch),
            Action::Delete if ch.container.is_none() => applied(input, ch),
            _ => None,
        };
        let Some((leaves, secret)) = found else {
            continue;
        };
        // What the planner diffed: a replace lists the other leaves.
        let diffed = ch.diff.len();
        ch.diff.reserve(leaves.len());
        for (path, value) in leaves {
            if ch.action == Action::Replace && covered(&ch.diff[..diffed], &path) {
                continue;
            }
            let sensitive = secret(&path, &value);
            let value = if sensitive { json!(MASK) } else { value };
            let (before, after) = match ch.action {
                Action::Create => (None, Some(value)),
                Action::Delete => (Some(value), None),
                _ => (Some(value.clone()), Some(value)),
            };
            ch.diff.push(FieldChange {
                before,
                after,
                path,
                sensitive,
                forces_replacement: false,
                unchanged: ch.action == Action::Replace,
            });
        }
    }
}

/// Whether `diff` already has an entry for `path`, a parent or a child of it.
fn covered(diff: &[FieldChange], path: &str) -> bool {
    diff.iter().any(|f| {
        f.path == path
            || path.starts_with(&format!("{}.", f.path))
            || f.path.starts_with(&format!("{path}."))
    })
}

/// Whether a leaf (path, value) of a definition is secret.
type Secret<'a> = Box<dyn Fn(&str, &Value) -> bool + 'a>;

/// A definition's leaves by dotted path, in the order of the paths.
type Leaves = Vec<(String, Value)>;

/// The leaves of a whole definition.
fn leaves_of(view: Value) -> Leaves {
    let mut leaves = Vec::new();
    flatten(String::new(), view, &mut leaves);
    leaves
}

/// The desired definition of the object `ch` creates or replaces, and
/// which of its leaves are secret.
fn desired<'a>(input: &'a Input, ch: &Change) -> Option<(Leaves, Secret<'a>)> {
    let not_secret: Secret = Box::new(|_, _| false);
    match ch.kind {
        Kind::Resource => {
            let def = input.project.compartment.resources.get(&ch.name)?;
            let mut v = serde_json::to_value(ResourceConfig::from(def)).ok()?;
            v.as_object_mut()?.remove("generatedVariables");
            Some((leaves_of(v), not_secret))
        }
        Kind::Service => {
            let def = input.project.compartment.services.get(&ch.name)?;
            let mut v = serde_json::to_value(ServiceConfig::from(def)).ok()?;
            v.as_object_mut()?.remove("connections");
            let context = input.project.contexts.get(&ch.name).cloned();
            v["contextHash"] = json!(context.unwrap_or_default());
            Some((leaves_of(v), not_secret))
        }
        Kind::Instance => {
            let inst = input.project.instances.get(&ch.name)?;
            Some(instance(inst))
        }
    }
}

/// The applied definition of the object `ch` deletes (from the state), and
/// which of its leaves are secret.
fn applied<'a>(input: &'a Input, ch: &Change) -> Option<(Leaves, Secret<'a>)> {
    let not_secret: Secret = Box::new(|_, _| false);
    let st = input.state;
    match ch.kind {
        Kind::Resource => {
            let prior = st.resources.get(&ch.name)?;
            let mut v = serde_json::to_value(&prior.applied.definition).ok()?;
            v.as_object_mut()?.remove("generatedVariables");
            Some((leaves_of(v), not_secret))
        }
        Kind::Service => {
            let prior = st.services.get(&ch.name)?;
            let mut v = serde_json::to_value(&prior.applied.definition).ok()?;
            v.as_object_mut()?.remove("connections");
            v["contextHash"] = json!(prior.context_hash);
            Some((leaves_of(v), not_secret))
        }
        Kind::Instance => {
            let global = input.global.and_then(|g| g.instances.get(&ch.name));
            let prior = st.instances.get(&ch.name).or(global)?;
            let view = json!({"type": prior.type_id, "values": prior.values, "properties": prior.properties});
            let secrets: Vec<Value> = prior
                .sensitive_inputs
                .iter()
                .filter_map(|i| prior.values.get(i).cloned())
                .collect();
            let secret = move |path: &str, value: &Value| {
                let input = path
                    .strip_prefix("values.")
                    .map(|s| s.split('.').next().unwrap_or(s));
                input.is_some_and(|i| prior.sensitive_inputs.contains(i)) || secrets.contains(value)
            };
            Some((leaves_of(view), Box::new(secret)))
        }
    }
}

/// An instance's type, values and properties as they will be stored; a
/// value of a sensitive input, and a property holding one, are secret.
fn instance(inst: &Instance) -> (Leaves, Secret<'_>) {
    if inst.sensitive_inputs.is_empty() {
        // Nothing is hashed or secret: the leaves are copied out of the
        // instance's own maps (the stored form would copy both maps whole
        // first, a fifth of completing 10,000 instances).
        let mut leaves = Vec::new();
        flatten_ref("properties", &inst.properties, &mut leaves);
        leaves.push(("type".into(), Value::String(inst.type_id.clone())));
        flatten_ref("values", &inst.values, &mut leaves);
        return (leaves, Box::new(|_, _| false));
    }
    let (values, properties) = crate::platz::instances::stored_form(
        &inst.values,
        &inst.properties,
        &inst.sensitive_inputs,
        None,
    );
    let secrets: Vec<Value> = inst
        .sensitive_inputs
        .iter()
        .filter_map(|i| values.get(i).cloned())
        .collect();
    // The leaves of `{"properties", "type", "values"}` in that order,
    // the maps moved in (a view built with `json!` copied them, and even
    // an object of the three was a map per instance: docs/benchmarks.md).
    let mut leaves = Vec::new();
    flatten("properties".into(), Value::Object(properties), &mut leaves);
    leaves.push(("type".into(), Value::String(inst.type_id.clone())));
    flatten("values".into(), Value::Object(values), &mut leaves);
    let secret = move |path: &str, value: &Value| {
        let input = path
            .strip_prefix("values.")
            .map(|s| s.split('.').next().unwrap_or(s));
        input.is_some_and(|i| inst.sensitive_inputs.contains(i)) || secrets.contains(value)
    };
    (leaves, Box::new(secret))
}

/// The leaves of `value` by dotted path, moved out of it: objects are
/// walked, arrays and scalars are leaves, nulls and empty objects are left
/// out.
/// [`flatten`] of the object `map` at `path`, its leaves copied.
fn flatten_ref<'m>(
    path: &str,
    map: impl IntoIterator<Item = (&'m String, &'m Value)>,
    out: &mut Leaves,
) {
    for (k, v) in map {
        let mut p = String::with_capacity(path.len() + 1 + k.len());
        p.push_str(path);
        p.push('.');
        p.push_str(k);
        match v {
            Value::Object(inner) => flatten_ref(&p, inner, out),
            Value::Null => {}
            Value::Array(a) if a.is_empty() => {}
            v => out.push((p, v.clone())),
        }
    }
}

fn flatten(path: String, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k
                } else {
                    let mut p = String::with_capacity(path.len() + 1 + k.len());
                    p.push_str(&path);
                    p.push('.');
                    p.push_str(&k);
                    p
                };
                flatten(p, v, out);
            }
        }
        Value::Null => {}
        Value::Array(a) if a.is_empty() => {}
        v => out.push((path, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_copied_are_the_leaves_moved() {
        let v = json!({"b": {"x": 1, "e": {}, "n": null, "a": [], "l": [1]}, "a": "s", "c": {"d": {"e": true}}});
        let mut moved = Vec::new();
        flatten("values".into(), v.clone(), &mut moved);
        let mut copied = Vec::new();
        flatten_ref("values", v.as_object().unwrap(), &mut copied);
        assert_eq!(copied, moved);
    }
}
