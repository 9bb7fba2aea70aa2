//! The destroy planner (`plan --destroy`, `compartment destroy`): the
//! removal of everything the environment's state records as deployed.
//! Pure, like the planner: instances first (each with its type's delete
//! hook), then services, then resources (their named volumes kept unless
//! `--delete-data`, stated per volume; a create an earlier apply started
//! and did not finish is removed too), and, once every node is gone, the
//! network and the service images built for the environment (`teardown`).
//! Instances of global types belong to the project, not to one
//! environment: a destroy leaves them alone.

use super::planner::{new_change, order, summarise, CycleError, Input};
use super::{Action, Change, Hook, Kind, Mode, Plan, Teardown, FORMAT_VERSION};
use std::collections::BTreeMap;

/// The destroy plan of `input`'s environment.
pub fn plan(input: &Input, delete_data: bool) -> Result<Plan, CycleError> {
    let st = input.state;
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    for (name, prior) in &st.instances {
        let address = format!("instance.{name}");
        let mut ch = new_change(&address, Kind::Instance, name, Action::Delete);
        ch.reason = Some("destroy".into());
        let lifecycle = input.project.types.get(&prior.type_id).map(|t| {
            let target = t.lifecycle.delete.as_ref().and_then(|l| l.target.as_ref());
            (t.owner.clone(), target.cloned())
        });
        if let Some((owner, Some(target))) = lifecycle {
            ch.hooks.push(Hook {
                operation: "delete".into(),
                method: target.method,
                path: target.path,
                service: owner,
            });
        }
        changes.insert(address, ch);
    }
    for name in st.services.keys() {
        let address = format!("service.{name}");
        let mut ch = new_change(&address, Kind::Service, name, Action::Delete);
        ch.reason = Some("destroy".into());
        changes.insert(address, ch);
    }
    for (name, r) in &st.resources {
        let address = format!("resource.{name}");
        let mut ch = new_change(&address, Kind::Resource, name, Action::Delete);
        ch.reason = Some(if delete_data || r.volumes.is_empty() {
            "destroy".into()
        } else {
            "destroy (named volumes are kept; --delete-data deletes them)".into()
        });
        let fate = if delete_data { "delete" } else { "keep" };
        for volume in r.volumes.values() {
            ch.volumes.insert(volume.clone(), fate.into());
        }
        changes.insert(address, ch);
    }
    for (name, intent) in &st.creating {
        let address = format!("resource.{name}");
        if changes.contains_key(&address) {
            continue;
        }
        let mut ch = new_change(&address, Kind::Resource, name, Action::Delete);
        ch.reason = Some(format!(
            "what an unfinished create (started at {}) left: container {}{}",
            intent.started_at,
            intent.container,
            match delete_data || intent.volumes.is_empty() {
                true => "",
                false => " (named volumes are kept; --delete-data deletes them)",
            }
        ));
        let fate = if delete_data { "delete" } else { "keep" };
        for volume in intent.volumes.values() {
            ch.volumes.insert(volume.clone(), fate.into());
        }
        changes.insert(address, ch);
    }
    if delete_data {
        for (name, kept) in &st.kept_volumes {
            let address = format!("resource.{name}");
            if changes.contains_key(&address) {
                continue;
            }
            let mut ch = new_change(&address, Kind::Resource, name, Action::Delete);
            ch.reason = Some("the named volumes an earlier destroy kept".into());
            for volume in kept.values() {
                ch.volumes.insert(volume.clone(), "delete".into());
            }
            changes.insert(address, ch);
        }
    }
    let ordered = order::order(input, changes.into_values().collect(), &BTreeMap::new())?;
    // The image each service runs and those of its recorded releases.
    let mut images: Vec<String> = st
        .services
        .values()
        .flat_map(|s| std::iter::once(&s.image).chain(s.releases.iter().map(|r| &r.image)))
        .filter(|i| !i.is_empty())
        .cloned()
        .collect();
    images.sort();
    images.dedup();
    let teardown = Teardown {
        network: st.network.as_ref().map(|n| n.name.clone()),
        images,
    };
    Ok(Plan {
        format_version: FORMAT_VERSION,
        project: input.project.compartment.name.clone(),
        environment: input.environment.into(),
        prior_state: super::planner::prior_state(input),
        inputs: input.project.inputs.clone(),
        summary: summarise(&ordered, 0),
        changes: ordered,
        blocked: Vec::new(),
        warnings: Vec::new(),
        mode: Mode::Destroy { delete_data },
        teardown: (teardown != Teardown::default()).then_some(teardown),
        targets: Vec::new(),
        engine: None,
        orchestrator: None,
        registry: None,
    })
}
