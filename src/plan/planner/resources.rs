//! Resources: each declared one against its applied record (diff, volume
//! blockers, generated-variable notes, runtime variables, drift), and every
//! applied one that is no longer declared: a blocker (removing a resource
//! from compartment.yml never deletes it), unless the `removed:` map lists
//! it, which makes it a planned delete (volumes kept unless `deleteData`).

use super::{action_of, drift_action, first_reason, new_change, Draft, Input};
use crate::descriptor::model::ResourceDef;
use crate::plan::{Action, Blocker, Change, Kind, Warning};
use crate::state::{Origin, ResourceConfig, ResourceState};

/// On a swarm, where a resource with volumes runs: the node the state
/// pinned it to, or, before its first apply, how apply chooses one.
fn pinned_node(input: &Input, name: &str, def: &ResourceDef) -> Option<String> {
    if def.volumes.is_empty() || !input.project.compartment.on_swarm(input.environment) {
        return None;
    }
    let recorded = input
        .state
        .resources
        .get(name)
        .and_then(|r| r.node.as_ref());
    Some(match recorded {
        Some(n) => format!("{} ({}), where its volumes are", n.hostname, &n.id[..n.id.len().min(12)]),
        None => "chosen by apply (the ready node running the fewest tasks), then pinned: its volumes stay there".to_string(),
    })
}

pub(super) fn draft(input: &Input) -> Draft {
    let mut draft = Draft::default();
    for (name, def) in &input.project.compartment.resources {
        let address = format!("resource.{name}");
        let mut ch = declared(input, name, def, &mut draft);
        ch.node = pinned_node(input, name, def);
        draft.changes.insert(address.clone(), ch);
        draft.desired_deps.insert(address, Vec::new());
    }
    let removed = &input.project.compartment.removed;
    for (name, prior) in &input.state.resources {
        if input.project.compartment.resources.contains_key(name) {
            continue;
        }
        match removed.get(name) {
            Some(entry) => {
                let volumes = prior.volumes.values();
                let ch = removal(input, name, entry.delete_data, volumes, &mut draft);
                draft.changes.insert(ch.address.clone(), ch);
            }
            None => draft.blocked.push(undeclared(input, name, prior)),
        }
    }
    for (name, entry) in removed {
        let st = input.state;
        if st.resources.contains_key(name) {
            continue;
        }
        match st.creating.get(name) {
            // What an unfinished create left goes too.
            Some(intent) => {
                let mut ch = removal(input, name, entry.delete_data, intent.volumes.values(), &mut draft);
                ch.reason = Some(format!(
                    "listed under `removed`: what an unfinished create (started at {}) left goes: container {}{}",
                    intent.started_at,
                    intent.container,
                    kept_note(entry.delete_data, intent.volumes.is_empty())
                ));
                draft.changes.insert(ch.address.clone(), ch);
            }
            None => draft.warnings.push(Warning {
                address: format!("resource.{name}"),
                reason: "removed-absent".into(),
                message: format!("`removed.{name}` names a resource this environment does not have: nothing to delete; remove the entry from compartment.yml once every environment has applied it"),
            }),
        }
    }
    for (name, intent) in &input.state.creating {
        let declared =
            input.project.compartment.resources.contains_key(name) || removed.contains_key(name);
        if !declared && !input.state.resources.contains_key(name) {
            draft.warnings.push(Warning {
                address: format!("resource.{name}"),
                reason: "unfinished-create".into(),
                message: format!("resource `{name}` is no longer declared, but an apply started at {} began creating it (container {}) and did not finish; declare it again to finish it, or remove what it left: `compartment resource delete --resource {name} --delete-data`", intent.started_at, intent.container),
            });
        }
    }
    draft
}

/// The change of one declared resource.
fn declared(input: &Input, name: &str, def: &ResourceDef, draft: &mut Draft) -> Change {
    let st = input.state;
    let address = format!("resource.{name}");
    let prior = st.resources.get(name);
    let mut ch = new_change(&address, Kind::Resource, name, Action::Create);
    if let Some(prior) = prior {
        diff_prior(input, &mut ch, name, def, prior, draft);
    }
    let vars = st.variables.resource.get(name);
    for key in def.generated_variables.keys() {
        // Regenerate only what was generated before: a generated
        // variable new to an existing resource is generated.
        let was_generated =
            prior.is_some_and(|pr| pr.applied.definition.generated_variables.contains_key(key));
        let word = match (vars.and_then(|v| v.get(key)), was_generated) {
            (Some(_), _) => "keep",
            (None, true) => "regenerate",
            (None, false) => "generate",
        };
        ch.generated.insert(key.clone(), word.into());
    }
    if let (None, Some(intent)) = (prior, st.creating.get(name)) {
        ch.reason = Some(format!(
            "resumes the create an earlier apply started at {} and did not finish: its container and volumes are adopted with the recorded credentials",
            intent.started_at
        ));
    }
    if let Some(applied) = prior.and_then(|r| r.applied.applied_variables.as_ref()) {
        let now = crate::state::variables_digest(&st.variables.resource, name, None);
        if *applied != now {
            let versions = prior.and_then(|r| r.applied.variable_versions.as_ref());
            let named = versions.and_then(|recorded| {
                let now = crate::state::variable_versions(&st.variables.resource, name, None);
                super::variables::diff(recorded, &now, &mut ch.diff)
            });
            if ch.action == Action::NoOp {
                ch.action = Action::Update;
                ch.reason = Some(named.unwrap_or_else(|| {
                    "its runtime variables changed (variable set/remove)".into()
                }));
            }
        }
    }
    if ch.action == Action::NoOp {
        if let Some(k) = ch
            .generated
            .iter()
            .find(|(_, w)| *w == "regenerate")
            .map(|(k, _)| k.clone())
        {
            ch.action = Action::Update;
            ch.reason = Some(format!(
                "generated variable `{k}` was removed and will be regenerated"
            ));
        }
    }
    drift_action(&mut ch, input.drift, &mut draft.warnings);
    ch
}

/// The diff of a resource against its applied record: an image (or
/// preset) change replaces, anything else updates; a changed mount path of
/// a volume is blocked; volumes gone from the engine are reported.
fn diff_prior(
    input: &Input,
    ch: &mut Change,
    name: &str,
    def: &ResourceDef,
    prior: &ResourceState,
    draft: &mut Draft,
) {
    let address = ch.address.clone();
    let applied = &prior.applied.definition;
    let before = serde_json::to_value(applied).expect("serialises");
    let after = serde_json::to_value(ResourceConfig::from(def)).expect("serialises");
    super::diff_values("", Some(&before), Some(&after), &mut ch.diff);
    for f in &mut ch.diff {
        f.forces_replacement = f.path == "image" || f.path == "preset";
    }
    ch.action = action_of(&ch.diff);
    ch.reason = first_reason(&ch.diff, |p| format!("`{p}` changed"));
    if ch.action == Action::Replace && !applied.volumes.is_empty() {
        if let Some(r) = &mut ch.reason {
            let handles: Vec<&str> = applied.volumes.keys().map(String::as_str).collect();
            r.push_str(&format!("; volume data is kept ({})", handles.join(", ")));
        }
    }
    for (handle, path) in &def.volumes {
        if let Some(old) = applied.volumes.get(handle) {
            if old != path {
                draft.blocked.push(Blocker {
                    address: address.clone(),
                    reason: "volume-path".into(),
                    message: format!("the mount path of volume `{handle}` of resource `{name}` changed from `{old}` to `{path}`"),
                    help: Some(format!("changing where existing data is mounted is blocked: declare a new volume handle and migrate the data, or delete the resource (`compartment resource delete --resource {name} --delete-data`) when the data is no longer needed")),
                });
            }
        }
    }
    if let Some(missing) = input.drift.missing_volumes.get(&address) {
        draft.warnings.push(Warning {
            address: address.clone(),
            reason: "volume-missing".into(),
            message: format!("POSSIBLE DATA LOSS: volume(s) {} of resource `{name}` no longer exist in the engine; apply will create them empty", missing.join(", ")),
        });
    }
}

/// The planned delete of a resource listed under `removed`: its container
/// goes, its named volumes are kept unless `deleteData`. A service still
/// bound to one of its outputs (`variable set --from-resource`) blocks it:
/// nothing is left pointing at a resource that is gone.
fn removal<'a>(
    input: &Input,
    name: &str,
    delete_data: bool,
    volumes: impl Iterator<Item = &'a String>,
    draft: &mut Draft,
) -> Change {
    let address = format!("resource.{name}");
    let mut ch = new_change(&address, Kind::Resource, name, Action::Delete);
    let fate = if delete_data { "delete" } else { "keep" };
    for volume in volumes {
        ch.volumes.insert(volume.clone(), fate.into());
    }
    ch.reason = Some(format!(
        "listed under `removed` in compartment.yml{}",
        kept_note(delete_data, ch.volumes.is_empty())
    ));
    for (service, bound) in &input.state.bindings {
        for (var, b) in bound.iter().filter(|(_, b)| b.resource == name) {
            draft.blocked.push(Blocker {
                address: format!("service.{service}"),
                reason: "removed-in-use".into(),
                message: format!("`{service}.{var}` is bound to `{name}.{}` (`variable set --from-resource`), but resource `{name}` is being removed", b.output),
                help: Some(format!("remove the binding first: `compartment variable remove {var} --service {service}`; or keep the resource (delete `removed.{name}` and declare it again)")),
            });
        }
    }
    ch
}

/// What a removal says about the data.
fn kept_note(delete_data: bool, no_volumes: bool) -> &'static str {
    match (no_volumes, delete_data) {
        (true, _) => "",
        (false, false) => " (its named volumes are kept; `deleteData: true` deletes them)",
        (false, true) => " (deleteData: its named volumes are DELETED with their data)",
    }
}

/// The blocker of an applied resource that compartment.yml no longer
/// declares: a likely rename, a restored resource, or a plain removal.
fn undeclared(input: &Input, name: &str, prior: &ResourceState) -> Blocker {
    let st = input.state;
    let declared = &input.project.compartment.resources;
    let address = format!("resource.{name}");
    let renamed_to = declared
        .iter()
        .find(|(n, d)| {
            !st.resources.contains_key(*n)
                && d.image == prior.applied.definition.image
                && d.volumes == prior.applied.definition.volumes
        })
        .map(|(n, _)| n.clone());
    let (reason, message, help) = match (&renamed_to, prior.origin) {
        (Some(new), _) => (
            "rename",
            format!("resource `{name}` is no longer declared and `{new}` is new with the same image and volumes: this looks like a rename"),
            format!("a rename deletes `{name}` (and, with --delete-data, its data) and creates `{new}` empty: migrate the data first (e.g. `compartment resource backup create --resource {name}` then restore it into `{new}`), then run `compartment resource delete --resource {name} [--delete-data]`; or keep the old name in compartment.yml"),
        ),
        (None, Origin::Restore) => (
            "undeclared",
            format!("resource `{name}` was created by `resource backup restore --as` and is not declared in compartment.yml"),
            format!("declare `{name}` under `resources` in compartment.yml, or delete it: `compartment resource delete --resource {name} [--delete-data]`"),
        ),
        (None, _) => (
            "undeclared",
            format!("resource `{name}` exists but compartment.yml no longer declares it; removing it from the file does not delete it"),
            format!("declare it again, or plan its deletion for review: add `removed: {{ {name}: {{ deleteData: false }} }}` to compartment.yml (`deleteData: true` deletes its volumes too); on a workstation, `compartment resource delete --resource {name} [--delete-data]`"),
        ),
    };
    Blocker {
        address,
        reason: reason.into(),
        message,
        help: Some(help),
    }
}
