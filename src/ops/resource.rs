//! Resource commands after deploy: list, inspect, logs, stop, start and a
//! safe delete that keeps named volumes unless asked to delete data.

use super::error::OpsError;
use crate::apply::naming;
use crate::docker::{labels, ContainerInfo, Docker};
use crate::state::State;
use serde::Serialize;
use std::collections::BTreeMap;

type Result<T, E = OpsError> = std::result::Result<T, E>;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRow {
    pub name: String,
    pub image: String,
    /// running, exited, created, ... or `missing` when no container exists.
    pub status: String,
    pub host: String,
    pub ports: Vec<u16>,
    pub volumes: BTreeMap<String, String>,
    pub origin: String,
    pub applied_at: Option<String>,
}

/// The state's record of a resource, or a clear error.
pub fn record<'s>(state: &'s State, name: &str) -> Result<&'s crate::state::ResourceState> {
    state.resources.get(name).ok_or_else(|| {
        let known: Vec<&str> = state.resources.keys().map(String::as_str).collect();
        let hint = match crate::diagnostics::suggest(name, known.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None if known.is_empty() => "; nothing has been applied in this environment yet".into(),
            None => format!("; deployed resources: {}", known.join(", ")),
        };
        OpsError::NotDeployed {
            name: name.into(),
            environment: state.environment.clone(),
            hint,
        }
    })
}

async fn containers(
    docker: &Docker,
    project: &str,
    env: &str,
) -> Result<BTreeMap<String, ContainerInfo>> {
    let list = docker
        .list_containers(&[
            (labels::PROJECT, project),
            (labels::ENVIRONMENT, env),
            (labels::KIND, labels::KIND_RESOURCE),
        ])
        .await?;
    Ok(list.into_iter().map(|c| (c.name.clone(), c)).collect())
}

/// Every resource of the state with its live status (one list call).
pub async fn list(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
) -> Result<Vec<ResourceRow>> {
    let live = containers(docker, project, env).await?;
    Ok(state
        .resources
        .iter()
        .map(|(name, r)| {
            let cname = naming::container(project, env, name);
            ResourceRow {
                name: name.clone(),
                image: r.applied.definition.image.clone(),
                status: live
                    .get(&cname)
                    .map(|c| c.status.clone())
                    .unwrap_or_else(|| "missing".into()),
                host: naming::resource_host(project, env, name),
                ports: r.applied.definition.ports.clone(),
                volumes: r.volumes.clone(),
                origin: format!("{:?}", r.origin).to_lowercase(),
                applied_at: r.applied.applied_at.clone(),
            }
        })
        .collect())
}

pub async fn stop(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
    name: &str,
) -> Result<()> {
    record(state, name)?;
    docker
        .stop_container(&naming::container(project, env, name), 10)
        .await
        .map_err(OpsError::from)
}

pub async fn start(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
    name: &str,
) -> Result<()> {
    record(state, name)?;
    docker
        .start_container(&naming::container(project, env, name))
        .await
        .map_err(OpsError::from)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub resource: String,
    /// Whether the state had a record of the resource (a name whose record
    /// an earlier delete removed can still have kept volumes).
    pub record_removed: bool,
    pub container_removed: bool,
    pub volumes_deleted: Vec<String>,
    pub volumes_kept: Vec<String>,
}

/// Named volumes a deleted resource left behind: created by compartment
/// for `resource` (by their labels), still in the engine.
pub async fn leftover_volumes(
    docker: &Docker,
    project: &str,
    env: &str,
    resource: &str,
) -> Result<Vec<String>> {
    docker
        .list_volumes(&[
            (labels::PROJECT, project),
            (labels::ENVIRONMENT, env),
            (labels::KIND, labels::KIND_VOLUME),
            (labels::NAME, resource),
        ])
        .await
        .map_err(OpsError::from)
}

/// Removes the container (running or stopped) and the state record; named
/// volumes only with `delete_data`. Without it the resource's runtime
/// variables are kept too, so the kept data stays readable (a database's
/// password) if the resource is declared again. A name without a record
/// whose volumes an earlier delete kept can be deleted with `delete_data`
/// (its volumes and kept variables go).
pub async fn delete(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &mut State,
    name: &str,
    delete_data: bool,
) -> Result<Deleted> {
    let cname = naming::container(project, env, name);
    // Handle → volume of a recorded resource: kept ones are recorded as a
    // destroy records them, so declaring the resource again reuses them.
    let mut handles = BTreeMap::new();
    let mut volumes: Vec<String> = match state.resources.get(name) {
        Some(r) => {
            handles = r.volumes.clone();
            for handle in r.applied.definition.volumes.keys() {
                handles
                    .entry(handle.clone())
                    .or_insert_with(|| naming::volume(project, env, name, handle));
            }
            let mut v: Vec<String> = handles.values().cloned().collect();
            v.dedup();
            v
        }
        None => {
            // Not recorded: what a lost state or a crashed apply left, which
            // apply refuses to take over (a container alone holds no data).
            let leftover = leftover_volumes(docker, project, env, name).await?;
            if leftover.is_empty() {
                if docker.inspect_container(&cname).await?.is_none() {
                    record(state, name)?;
                }
            } else if !delete_data {
                return Err(OpsError::KeptVolumes {
                    name: name.into(),
                    environment: env.into(),
                    volumes: leftover,
                });
            }
            leftover
        }
    };
    volumes.sort();
    let existed = docker.inspect_container(&cname).await?.is_some();
    docker.remove_container(&cname, true).await?;
    let mut out = Deleted {
        resource: name.into(),
        record_removed: state.resources.contains_key(name),
        container_removed: existed,
        volumes_deleted: vec![],
        volumes_kept: vec![],
    };
    let of = (project, env, name);
    for v in volumes {
        if delete_data {
            let recorded = state.resources.get(name);
            crate::apply::swarm::remove_resource_volume(docker, of, recorded, &v).await?;
            out.volumes_deleted.push(v);
        } else {
            out.volumes_kept.push(v);
        }
    }
    state.resources.remove(name);
    state.schedules.remove(name);
    state.creating.remove(name);
    if delete_data {
        state.variables.resource.remove(name);
        state.kept_volumes.remove(name);
    } else if !handles.is_empty() {
        state.kept_volumes.insert(name.to_string(), handles);
    }
    Ok(out)
}
