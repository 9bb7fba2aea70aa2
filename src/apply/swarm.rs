//! What apply does differently on a swarm environment: a resource with
//! volumes is pinned to one node (recorded in the state when it is first
//! placed, so a reschedule never starts it on an empty volume), each
//! container becomes a swarm service (created, or updated in place: the
//! swarm's rolling update, start-first for services, with rollback), and
//! a service's image goes to the environment's registry, where every node
//! pulls it from.

use super::error::StepError;
use super::steps::Shared;
use crate::descriptor::model::{Readiness, ResourceDef};
use crate::docker::{labels, ContainerSpec, Docker, DockerError, Replication};
use crate::state::{PinnedNode, ResourceState, State};

/// The swarm's health check for a declared `readiness:` of type
/// `command` (it runs in each task, wherever the task runs).
pub fn health_command(declared: Option<&Readiness>) -> Option<Vec<String>> {
    declared
        .filter(|r| r.kind == "command")
        .and_then(|r| r.command.clone())
}

/// On a swarm, gives resource `name`'s spec one replica, its health
/// check, and — when it has volumes — the node it is pinned to: the one
/// the state recorded, else the one its service was already placed on (an
/// apply interrupted before it saved), else the ready node running the
/// fewest tasks. Returns the pinned node (none off a swarm or without
/// volumes).
pub async fn place_resource(
    sh: &Shared,
    state: &State,
    name: &str,
    def: &ResourceDef,
    spec: &mut ContainerSpec,
) -> Result<Option<PinnedNode>, StepError> {
    if !sh.docker.on_swarm() {
        return Ok(None);
    }
    let node = match def.volumes.is_empty() {
        true => None,
        false => Some(pinned_node(sh, state, name, &spec.name).await?),
    };
    spec.replication = Some(Replication {
        replicas: 1,
        constraints: node.iter().map(|n| format!("node.id=={}", n.id)).collect(),
        start_first: false,
        health: health_command(def.readiness.as_ref()),
    });
    Ok(node)
}

/// Removes `volume` of resource `name` (`record` its state): on the node
/// the resource is pinned to, through a one-shot task of its image when
/// that is not the manager (off a swarm, no node is recorded).
pub async fn remove_resource_volume(
    docker: &Docker,
    (project, env, name): (&str, &str, &str),
    record: Option<&ResourceState>,
    volume: &str,
) -> Result<(), DockerError> {
    let pinned = record.and_then(|r| Some((r.node.as_ref()?, &r.applied.definition.image)));
    match pinned {
        Some((node, image)) => {
            let labels = labels::standard(project, env, labels::KIND_OPERATION, name);
            docker
                .remove_volume_on_node(&node.id, volume, image, &labels)
                .await
        }
        _ => docker.remove_volume(volume).await,
    }
}

async fn pinned_node(
    sh: &Shared,
    state: &State,
    name: &str,
    service: &str,
) -> Result<PinnedNode, StepError> {
    if let Some(node) = state.resources.get(name).and_then(|r| r.node.clone()) {
        return Ok(node);
    }
    let nodes = sh.docker.swarm_nodes().await?;
    let placed = sh
        .docker
        .swarm_constraints(service)
        .await?
        .iter()
        .find_map(|c| c.strip_prefix("node.id==").map(str::to_string));
    let id = match placed {
        Some(id) => id,
        None => nodes
            .iter()
            .min_by(|a, b| (a.tasks, &a.id).cmp(&(b.tasks, &b.id)))
            .ok_or(StepError::NoSwarmNode)?
            .id
            .clone(),
    };
    // A node that left the swarm since keeps its ID, without a host name.
    let hostname = nodes
        .into_iter()
        .find(|n| n.id == id)
        .map(|n| n.hostname)
        .unwrap_or_default();
    Ok(PinnedNode { id, hostname })
}

/// Creates the swarm service of `spec`, or updates it in place when its
/// configuration (`hash`) changed, it runs no task, or `force`. Returns
/// (service id, hash, whether new tasks were started).
pub async fn converge_service(
    sh: &Shared,
    address: &str,
    mut spec: ContainerSpec,
    hash: &str,
    force: bool,
) -> Result<(String, String, bool), StepError> {
    spec.labels
        .insert(labels::DEFINITION_HASH.into(), hash.to_string());
    let existing = sh.docker.inspect_container(&spec.name).await?;
    let replicas = spec.replication.as_ref().map_or(1, |r| r.replicas);
    if let Some(c) = &existing {
        // Scaled or given another image outside compartment: put back.
        let same = c.labels.get(labels::DEFINITION_HASH).map(String::as_str) == Some(hash)
            && c.replicas == Some(replicas)
            && live_image(&c.image) == spec.image;
        if same && c.running && !force {
            return Ok((c.id.clone(), hash.to_string(), false));
        }
    }
    let what = match &existing {
        Some(_) => format!("updating the swarm service ({replicas} task(s))"),
        None => format!("creating the swarm service ({replicas} task(s))"),
    };
    sh.progress.step(address, &what);
    // A service with no running task gets new tasks even when its
    // configuration is the same.
    let stalled = existing.as_ref().is_some_and(|c| !c.running);
    let id = sh
        .docker
        .deploy_service(&spec, (force && existing.is_some()) || stalled)
        .await?;
    Ok((id, hash.to_string(), true))
}

/// The image a swarm service runs, without the digest the docker CLI pins
/// (`image:tag@sha256:…`).
pub fn live_image(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

/// The image of a service on a swarm: `<registry>/<image>` (every node
/// pulls it from there); the plain image elsewhere.
pub fn registry_image(sh: &Shared, image: String) -> String {
    let registry = sh
        .project
        .compartment
        .environments
        .get(&sh.env)
        .and_then(|e| e.registry.as_deref());
    match (sh.docker.on_swarm(), registry) {
        (true, Some(r)) => format!("{}/{image}", r.trim_end_matches('/')),
        _ => image,
    }
}
