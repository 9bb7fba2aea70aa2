//! Resource commands after deploy: list, inspect, logs, stop, start and a
//! safe delete that keeps named volumes unless asked to delete data.

use crate::apply::naming;
use crate::docker::{labels, ContainerInfo, Docker};
use crate::error::{Error, Result};
use crate::state::State;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize)]
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
        Error::msg(format!(
            "resource `{name}` is not deployed in environment `{}`{hint}",
            state.environment
        ))
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
        .await
        .map_err(|e| Error::msg(e.to_string()))?;
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
                image: r.definition.image.clone(),
                status: live
                    .get(&cname)
                    .map(|c| c.status.clone())
                    .unwrap_or_else(|| "missing".into()),
                host: naming::resource_host(project, env, name),
                ports: r.definition.ports.clone(),
                volumes: r.volumes.clone(),
                origin: format!("{:?}", r.origin).to_lowercase(),
                applied_at: r.applied_at.clone(),
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
        .map_err(|e| Error::msg(e.to_string()))
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
        .map_err(|e| Error::msg(e.to_string()))
}

pub async fn logs(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
    name: &str,
    tail: Option<usize>,
    follow: bool,
) -> Result<()> {
    record(state, name)?;
    docker
        .logs(
            &naming::container(project, env, name),
            tail,
            follow,
            |line| println!("{}", line.trim_end_matches('\n')),
        )
        .await
        .map_err(|e| Error::msg(e.to_string()))
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub resource: String,
    pub container_removed: bool,
    pub volumes_deleted: Vec<String>,
    pub volumes_kept: Vec<String>,
}

/// Removes the container (running or stopped) and the state record; named
/// volumes only with `delete_data`. Without it the resource's runtime
/// variables are kept too, so the kept data stays readable (a database's
/// password) if the resource is declared again.
pub async fn delete(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &mut State,
    name: &str,
    delete_data: bool,
) -> Result<Deleted> {
    let r = record(state, name)?.clone();
    let cname = naming::container(project, env, name);
    let existed = docker
        .inspect_container(&cname)
        .await
        .map_err(|e| Error::msg(e.to_string()))?
        .is_some();
    docker
        .remove_container(&cname, true)
        .await
        .map_err(|e| Error::msg(e.to_string()))?;
    let mut out = Deleted {
        resource: name.into(),
        container_removed: existed,
        volumes_deleted: vec![],
        volumes_kept: vec![],
    };
    let mut volumes: Vec<String> = r.volumes.values().cloned().collect();
    for handle in r.definition.volumes.keys() {
        let v = naming::volume(project, env, name, handle);
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    for v in volumes {
        if delete_data {
            docker
                .remove_volume(&v)
                .await
                .map_err(|e| Error::msg(e.to_string()))?;
            out.volumes_deleted.push(v);
        } else {
            out.volumes_kept.push(v);
        }
    }
    state.resources.remove(name);
    state.schedules.remove(name);
    if delete_data {
        state.variables.resource.remove(name);
    }
    Ok(out)
}
