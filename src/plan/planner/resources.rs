//! Resources: each declared one against its applied record (diff, volume
//! blockers, generated-variable notes, runtime variables, drift), and every
//! applied one that is no longer declared (a blocker: removing a resource
//! from compartment.yml never deletes it).

use super::{action_of, drift_action, first_reason, new_change, Draft, Input};
use crate::descriptor::model::ResourceDef;
use crate::plan::{Action, Blocker, Change, Kind, Warning};
use crate::state::{Origin, ResourceConfig, ResourceState};

pub(super) fn draft(input: &Input) -> Draft {
    let mut draft = Draft::default();
    for (name, def) in &input.project.compartment.resources {
        let address = format!("resource.{name}");
        let ch = declared(input, name, def, &mut draft);
        draft.changes.insert(address.clone(), ch);
        draft.desired_deps.insert(address, Vec::new());
    }
    for (name, prior) in &input.state.resources {
        if !input.project.compartment.resources.contains_key(name) {
            draft.blocked.push(undeclared(input, name, prior));
        }
    }
    for (name, intent) in &input.state.creating {
        let declared = input.project.compartment.resources.contains_key(name);
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
        if ch.action == Action::NoOp && *applied != now {
            ch.action = Action::Update;
            ch.reason = Some("its runtime variables changed (variable set/remove)".into());
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
            format!("declare it again, or delete it explicitly: `compartment resource delete --resource {name}` (keeps its volumes) or add `--delete-data` to remove its data too"),
        ),
    };
    Blocker {
        address,
        reason: reason.into(),
        message,
        help: Some(help),
    }
}
