//! Drift in the plan: what `plan --refresh` (and apply, which always
//! refreshes) found in the engine, turned into what apply will do, each
//! with its reason and a warning:
//!
//! - a recorded container gone, or running another configuration or image,
//!   or off the environment network → recreate (an update, volumes kept);
//! - a container stopped → start it (an update);
//! - the environment network gone → recreate it and every container on it;
//! - a volume gone → create it empty (POSSIBLE DATA LOSS) under a new
//!   container;
//! - a `-next` container an interrupted replace left → remove it (the
//!   service is updated);
//! - a container of the project the state does not record → adopt it (a
//!   service's create reuses it when its configuration matches), block (a
//!   resource's: its data may belong to other credentials; `import` adopts
//!   it) or remove it (nothing declares it).

use super::{new_change, Draft, Drift, Input};
use crate::plan::{Action, Blocker, Change, Kind, Warning};

/// Marks `ch` an update for `reason` when nothing else changes it.
fn update(ch: &mut Change, reason: String) {
    if ch.action == Action::NoOp {
        ch.action = Action::Update;
        ch.reason = Some(reason);
    }
}

/// The drift of one recorded object.
pub(super) fn action(ch: &mut Change, drift: &Drift, warnings: &mut Vec<Warning>) {
    if matches!(ch.action, Action::Create | Action::Delete) {
        return;
    }
    let mut warn = |reason: &str, message: String| {
        warnings.push(Warning {
            address: ch.address.clone(),
            reason: reason.into(),
            message,
        })
    };
    let address = ch.address.clone();
    let mut reasons = Vec::new();
    if drift.missing_containers.contains(&address) {
        warn(
            "container-missing",
            format!("the container of `{address}` is gone from the engine; apply recreates it"),
        );
        reasons.push("container missing (drift): it will be recreated".to_string());
    }
    if let Some(what) = drift.changed_containers.get(&address) {
        warn(
            "container-changed",
            format!("the container of `{address}` differs from what was applied: {what}"),
        );
        reasons.push(format!(
            "container changed outside compartment (drift): {what}"
        ));
    }
    if let Some(status) = drift.stopped_containers.get(&address) {
        warn(
            "container-stopped",
            format!("the container of `{address}` is {status}, not running; apply starts it"),
        );
        reasons.push(format!("container {status} (drift): it will be started"));
    }
    if let Some(net) = &drift.missing_network {
        reasons.push(format!(
            "the network `{net}` is gone (drift): the container is recreated on the new one"
        ));
    }
    if let Some(volumes) = drift.missing_volumes.get(&address) {
        reasons.push(format!(
            "volume(s) {} gone (drift): created EMPTY, the container recreated on them",
            volumes.join(", ")
        ));
    }
    if let Some(next) = drift.leftovers.get(&address) {
        warn(
            "leftover-container",
            format!("`{next}` was left by an interrupted replace of `{address}`; apply removes it"),
        );
        reasons.push(format!(
            "`{next}`, left by an interrupted replace, is removed (drift)"
        ));
    }
    if let Some(first) = reasons.into_iter().next() {
        update(ch, first);
    }
}

/// Whether the state has a claim on resource `name` without recording it:
/// an unfinished create, kept volumes, or generated variables (what its
/// data was made with). A create then resumes with them.
fn claimed(input: &Input, name: &str) -> bool {
    let st = input.state;
    st.creating.contains_key(name)
        || st.kept_volumes.contains_key(name)
        || st
            .variables
            .resource
            .get(name)
            .is_some_and(|vars| vars.values().any(|v| v.generated))
}

/// What the engine has that the state does not record, and a gone network.
pub(super) fn unrecorded(input: &Input, draft: &mut Draft) {
    let drift = input.drift;
    if let Some(net) = &drift.missing_network {
        draft.warnings.push(Warning {
            address: format!("network.{net}"),
            reason: "network-missing".into(),
            message: format!("the environment network `{net}` is gone from the engine; apply recreates it and every container on it"),
        });
    }
    for (address, container) in &drift.unrecorded {
        let (kind, name) = address.split_once('.').unwrap_or(("", address));
        match draft.changes.get_mut(address) {
            Some(ch) if ch.action == Action::Create && kind == "service" => {
                ch.reason = Some(format!("adopts the container `{container}` found in the engine (the state does not record it): kept when its configuration matches, recreated otherwise"));
            }
            Some(ch) if ch.action == Action::Create && !claimed(input, name) => {
                draft.blocked.push(Blocker {
                    address: address.clone(),
                    reason: "unrecorded".into(),
                    message: format!("a container `{container}` of resource `{name}` exists in the engine, but the state does not record it: creating over it could start its data with new credentials"),
                    help: Some(format!("adopt it with the credentials its data holds: `compartment import {address} {container}`; or, if its data is not needed, `compartment resource delete --resource {name} --delete-data`")),
                });
            }
            Some(_) => {}
            None => {
                let kind = if kind == "service" {
                    Kind::Service
                } else {
                    Kind::Resource
                };
                let mut ch = new_change(address, kind, name, Action::Delete);
                ch.reason = Some(format!("a container of this project that the state does not record and compartment.yml does not declare (drift): apply removes `{container}`{}", match kind {
                    Kind::Resource => "; its volumes are kept",
                    _ => "",
                }));
                ch.container = Some(container.clone());
                draft.warnings.push(Warning {
                    address: address.clone(),
                    reason: "container-unrecorded".into(),
                    message: format!("the container `{container}` belongs to this project and environment, but the state does not record it; apply removes it"),
                });
                draft.changes.insert(address.clone(), ch);
                draft.desired_deps.insert(address.clone(), Vec::new());
            }
        }
    }
}
