//! Instances, of the environment and global ones: each declared one against
//! its applied record (a changed type replaces, changed values or
//! properties update; sensitive values masked) with the lifecycle hooks the
//! change fires; applied instances no longer declared are deleted (delete
//! hook), and those whose type vanished are orphaned: kept, with a warning.

use super::{action_of, new_change, Draft, Input, MASK};
use crate::plan::{Action, Change, Hook, Kind, Warning};
use crate::platz::instances::Instance;
use crate::state::{InstanceState, State};
use serde_json::{json, Map, Value};

pub(super) fn draft(input: &Input) -> Draft {
    let mut draft = Draft::default();
    let empty = State::default();
    let global_state = input.global.unwrap_or(&empty);
    // Built in bulk: instances come sorted by name, so their addresses are
    // sorted (an ordered insert of each change, moving its neighbours in
    // the node, was half of drafting 10,000 instances, docs/benchmarks.md).
    let (changes, deps): (Vec<_>, Vec<_>) = input
        .project
        .instances
        .iter()
        .map(|(name, inst)| {
            let prior_state = if inst.global {
                global_state
            } else {
                input.state
            };
            let prior = prior_state.instances.get(name);
            let ch = declared(input, name, inst, prior);
            let mut deps = Vec::with_capacity(1 + inst.references.len());
            deps.push(["service.", &inst.owner].concat());
            deps.extend(inst.references.iter().map(|r| ["instance.", r].concat()));
            ((ch.address.clone(), ch), (ch_address(name), deps))
        })
        .unzip();
    draft.changes = changes.into_iter().collect();
    draft.desired_deps = deps.into_iter().collect();
    for (state, global) in [(input.state, false), (global_state, true)] {
        for (name, prior) in &state.instances {
            applied(input, name, prior, global, &mut draft);
        }
    }
    draft
}

fn instance_view(
    type_id: &str,
    values: &Map<String, Value>,
    properties: &Map<String, Value>,
) -> Value {
    json!({"type": type_id, "values": values, "properties": properties})
}

/// The address of instance `name`.
fn ch_address(name: &str) -> String {
    ["instance.", name].concat()
}

/// The change of one declared instance, with its hooks.
fn declared(input: &Input, name: &str, inst: &Instance, prior: Option<&InstanceState>) -> Change {
    let mut ch = new_change(&ch_address(name), Kind::Instance, name, Action::Create);
    ch.global = inst.global;
    let op = match prior {
        None => "create",
        Some(prior) => {
            diff_prior(&mut ch, inst, prior);
            "update"
        }
    };
    hooks(input, &mut ch, inst, prior, op);
    ch
}

/// The diff of an instance against its applied record; values of sensitive
/// inputs (and what was made from them) are masked.
fn diff_prior(ch: &mut Change, inst: &Instance, prior: &InstanceState) {
    let (stored_values, stored_properties) = crate::platz::instances::stored_form(
        &inst.values,
        &inst.properties,
        &inst.sensitive_inputs,
        Some(&prior.values),
    );
    let after = instance_view(&inst.type_id, &stored_values, &stored_properties);
    let sensitive_values: Vec<&Value> = inst
        .sensitive_inputs
        .iter()
        .filter_map(|i| stored_values.get(i))
        .collect();
    let before = instance_view(&prior.type_id, &prior.values, &prior.properties);
    super::diff_values("", Some(&before), Some(&after), &mut ch.diff);
    let prior_sensitive: Vec<&Value> = prior
        .sensitive_inputs
        .iter()
        .filter_map(|i| prior.values.get(i))
        .collect();
    for f in &mut ch.diff {
        f.forces_replacement = f.path == "type";
        let input_id = f
            .path
            .strip_prefix("values.")
            .map(|s| s.split('.').next().unwrap_or(s));
        let secret = input_id.is_some_and(|i| {
            inst.sensitive_inputs.contains(i) || prior.sensitive_inputs.contains(i)
        }) || f
            .before
            .as_ref()
            .is_some_and(|v| prior_sensitive.contains(&v))
            || f.after
                .as_ref()
                .is_some_and(|v| sensitive_values.contains(&v));
        if secret {
            f.sensitive = true;
            f.before = f.before.as_ref().map(|_| json!(MASK));
            f.after = f.after.as_ref().map(|_| json!(MASK));
        }
    }
    ch.action = action_of(&ch.diff);
    // Values are the cause; properties follow from them.
    ch.reason = ch
        .diff
        .iter()
        .find(|f| f.forces_replacement)
        .or(ch.diff.iter().find(|f| f.path.starts_with("values.")))
        .or(ch.diff.first())
        .map(|f| format!("`{}` changed", f.path));
}

/// The lifecycle hooks a change of a declared instance fires: the delete
/// hook of a replaced instance is the old type's (a type that is gone has
/// none).
fn hooks(input: &Input, ch: &mut Change, inst: &Instance, prior: Option<&InstanceState>, op: &str) {
    let p = input.project;
    let Some(t) = p.types.get(&inst.type_id) else {
        return;
    };
    let ops: Vec<&str> = match ch.action {
        Action::Create => vec!["create"],
        Action::Update => vec![op],
        Action::Replace => vec!["delete", "create"],
        _ => vec![],
    };
    for o in ops {
        let lt = if o == "delete" {
            match prior.and_then(|pr| p.types.get(&pr.type_id)) {
                Some(old) => old,
                None => continue,
            }
        } else {
            t
        };
        if let Some(target) = lt.lifecycle.get(o).and_then(|l| l.target.as_ref()) {
            ch.hooks.push(Hook {
                operation: o.into(),
                method: target.method.clone(),
                path: target.path.clone(),
                service: lt.owner.clone(),
            });
        }
    }
}

/// An applied instance: a warning when its type vanished (orphaned when it
/// is not declared any more), a delete when it is no longer declared.
fn applied(input: &Input, name: &str, prior: &InstanceState, global: bool, draft: &mut Draft) {
    let p = input.project;
    let address = format!("instance.{name}");
    if !p.types.contains_key(&prior.type_id) && p.instances.contains_key(name) {
        // Re-declared with a type that exists: a replace (planned
        // above), without the vanished type's delete hook.
        draft.warnings.push(Warning {
            address: address.clone(),
            reason: "type-removed".into(),
            message: format!("the type `{}` of instance `{name}` is no longer declared: apply replaces it with a `{}` without calling a delete hook for the old one", prior.type_id, p.instances[name].type_id),
        });
        return;
    }
    if !p.types.contains_key(&prior.type_id) {
        draft.warnings.push(Warning {
            address: address.clone(),
            reason: "orphaned".into(),
            message: format!("instance `{name}` is orphaned: its type `{}` is no longer declared by its owning service; it is kept, not deleted", prior.type_id),
        });
        draft.changes.remove(&address);
        draft.desired_deps.remove(&address);
        return;
    }
    if p.instances.contains_key(name) {
        return;
    }
    let mut ch = new_change(&address, Kind::Instance, name, Action::Delete);
    ch.global = global;
    ch.reason = Some("no longer declared in compartment.yml".into());
    let t = &p.types[&prior.type_id];
    if let Some(target) = t.lifecycle.delete.as_ref().and_then(|l| l.target.as_ref()) {
        ch.hooks.push(Hook {
            operation: "delete".into(),
            method: target.method.clone(),
            path: target.path.clone(),
            service: t.owner.clone(),
        });
    }
    draft.changes.insert(address, ch);
}
