//! Drift: the state compared with the live engine, in one container, one
//! volume and one network list call filtered by the project's labels (never
//! one call per object), plus one image inspect per distinct image.
//!
//! What it finds: a recorded container that is gone, stopped, running
//! another configuration or image, or off the environment network; a
//! removed volume or network; a container of the project the state does not
//! record (a leftover of an interrupted replace, one made by hand or by an
//! older state).

use super::naming;
use crate::docker::{labels, ContainerInfo, Docker, DockerError};
use crate::plan::planner::Drift;
use crate::project::Project;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

/// A container the state records: its address, name and what it should be.
struct Recorded<'a> {
    address: String,
    name: String,
    digest: &'a str,
    image: &'a str,
    /// The tasks it runs on a swarm.
    replicas: u64,
}

/// The containers the state records, by address.
fn recorded<'a>(project: &str, env: &str, state: &'a State) -> Vec<Recorded<'a>> {
    let name_of = |n: &str, cname: &str| match cname.is_empty() {
        true => naming::container(project, env, n),
        false => cname.to_string(),
    };
    let resources = state.resources.iter().map(|(n, r)| Recorded {
        address: format!("resource.{n}"),
        name: name_of(n, &r.applied.container_name),
        digest: &r.applied.config_digest,
        image: &r.applied.definition.image,
        replicas: 1,
    });
    let services = state.services.iter().map(|(n, s)| Recorded {
        address: format!("service.{n}"),
        name: name_of(n, &s.applied.container_name),
        digest: &s.applied.config_digest,
        image: &s.image,
        replicas: u64::from(s.applied.definition.replicas.unwrap_or(1)),
    });
    resources.chain(services).collect()
}

pub async fn detect(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
) -> Result<Drift, DockerError> {
    let filters = [(labels::PROJECT, project), (labels::ENVIRONMENT, env)];
    let containers = docker.list_containers(&filters).await?;
    let by_name: BTreeMap<&str, &ContainerInfo> =
        containers.iter().map(|c| (c.name.as_str(), c)).collect();
    let volumes: BTreeSet<String> = docker.list_volumes(&filters).await?.into_iter().collect();
    let networks: BTreeSet<String> = docker.list_networks(&filters).await?.into_iter().collect();
    let mut drift = Drift::default();
    let network = state.network.as_ref().map(|n| n.name.clone());
    if let Some(net) = network.as_ref().filter(|n| !networks.contains(*n)) {
        drift.missing_network = Some(net.clone());
    }
    let objects = recorded(project, env, state);
    let mut images = BTreeMap::new();
    for object in &objects {
        let expected = naming::container(project, env, object.address.split_once('.').unwrap().1);
        if object.name != expected && by_name.contains_key(object.name.as_str()) {
            drift.changed_containers.insert(
                object.address.clone(),
                format!("it runs as `{}` (imported or renamed); apply recreates it as `{expected}`, volumes kept", object.name),
            );
            continue;
        }
        let Some(c) = by_name.get(object.name.as_str()) else {
            drift.missing_containers.insert(object.address.clone());
            continue;
        };
        if let Some(what) = differs(docker, object, c, network.as_deref(), &mut images).await? {
            drift
                .changed_containers
                .insert(object.address.clone(), what);
        } else if !c.running && c.status != "paused" {
            drift
                .stopped_containers
                .insert(object.address.clone(), c.status.clone());
        }
    }
    unrecorded(&objects, &containers, state, &mut drift);
    // A swarm's volumes live on the nodes their resources are pinned to,
    // out of the manager's sight: they are not compared.
    let resources = state.resources.iter().filter(|_| !docker.on_swarm());
    for (name, r) in resources {
        let missing: Vec<String> = r
            .volumes
            .values()
            .filter(|v| !volumes.contains(*v))
            .cloned()
            .collect();
        if !missing.is_empty() {
            drift
                .missing_volumes
                .insert(format!("resource.{name}"), missing);
        }
    }
    Ok(drift)
}

/// What differs between a recorded container and the one running: its
/// configuration label, the image it runs (another image, or the tag moved
/// since), its attachment to the environment network.
async fn differs(
    docker: &Docker,
    object: &Recorded<'_>,
    c: &ContainerInfo,
    network: Option<&str>,
    images: &mut BTreeMap<String, Option<String>>,
) -> Result<Option<String>, DockerError> {
    if c.labels.get(labels::DEFINITION_HASH).map(String::as_str) != Some(object.digest) {
        return Ok(Some(
            "its configuration label differs from the applied definition".into(),
        ));
    }
    if let Some(n) = c.replicas {
        return Ok(swarm_differs(object, c, n));
    }
    if !object.image.is_empty() {
        if !images.contains_key(object.image) {
            let id = docker.image_id(object.image).await?;
            images.insert(object.image.to_string(), id);
        }
        if let Some(id) = &images[object.image] {
            if !c.image_id.is_empty() && c.image_id != *id {
                return Ok(Some(format!(
                    "it runs another image than `{}` names now ({} instead of {}): apply recreates it on `{}`",
                    object.image,
                    short_id(&c.image_id),
                    short_id(id),
                    object.image
                )));
            }
        }
    }
    if let Some(net) = network {
        if c.running && !c.ip_addresses.contains_key(net) && !c.aliases.contains_key(net) {
            return Ok(Some(format!(
                "it is not attached to the environment network `{net}`"
            )));
        }
    }
    Ok(None)
}

/// What differs on a swarm service beyond its configuration label: its
/// number of tasks or its image changed outside compartment.
fn swarm_differs(object: &Recorded<'_>, c: &ContainerInfo, replicas: u64) -> Option<String> {
    if replicas != object.replicas {
        return Some(format!(
            "it runs {replicas} task(s) where {} are declared (scaled outside compartment): apply sets it back",
            object.replicas
        ));
    }
    let live = super::swarm::live_image(&c.image);
    (!object.image.is_empty() && live != object.image).then(|| {
        format!(
            "it runs image `{live}` instead of `{}` (changed outside compartment): apply puts it back",
            object.image
        )
    })
}

/// An image ID's first 12 hex digits, as `docker images` shows it.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Containers of the project (resource and service kinds) that no record
/// names: a `-next` leftover of an interrupted replace is noted on its
/// service; any other is unrecorded, by the address its labels give.
fn unrecorded(
    objects: &[Recorded],
    containers: &[ContainerInfo],
    state: &State,
    drift: &mut Drift,
) {
    let known: BTreeSet<&str> = objects
        .iter()
        .map(|o| o.name.as_str())
        .chain(state.creating.values().map(|c| c.container.as_str()))
        .collect();
    for c in containers {
        let kind = c.labels.get(labels::KIND).map(String::as_str);
        let (Some(kind @ (labels::KIND_RESOURCE | labels::KIND_SERVICE)), Some(name)) =
            (kind, c.labels.get(labels::NAME))
        else {
            continue;
        };
        if known.contains(c.name.as_str()) {
            continue;
        }
        let address = format!("{kind}.{name}");
        let leftover = c
            .name
            .strip_suffix("-next")
            .is_some_and(|base| known.contains(base));
        if leftover {
            drift.leftovers.insert(address, c.name.clone());
        } else {
            drift.unrecorded.insert(address, c.name.clone());
        }
    }
}

/// `plan --refresh`: connects to the engine `remote` names (the default
/// one when `None`; refused unless it is `required`, the one the state
/// recorded), compares, returns the drift.
pub async fn drift(
    project: &Project,
    env: &str,
    state: &State,
    (remote, required): (Option<&str>, Option<(&str, &str)>),
) -> Result<Drift, DockerError> {
    let docker = crate::workspace::connect(project, env, remote, required).await?;
    detect(&docker, &project.compartment.name, env, state).await
}
