//! Drift: the state compared with the live engine, in one container list
//! call and one volume list call filtered by the project's labels (never one
//! call per object).

use super::naming;
use crate::docker::{labels, Docker, DockerError};
use crate::plan::planner::Drift;
use crate::project::Project;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

pub async fn detect(
    docker: &Docker,
    project: &str,
    env: &str,
    state: &State,
) -> Result<Drift, DockerError> {
    let filters = [(labels::PROJECT, project), (labels::ENVIRONMENT, env)];
    let containers = docker.list_containers(&filters).await?;
    let by_name: BTreeMap<&str, _> = containers.iter().map(|c| (c.name.as_str(), c)).collect();
    let volumes: BTreeSet<String> = docker.list_volumes(&filters).await?.into_iter().collect();
    let mut drift = Drift::default();
    let objects = state
        .resources
        .iter()
        .map(|(n, r)| {
            (
                format!("resource.{n}"),
                n,
                &r.applied.container_name,
                &r.applied.config_digest,
            )
        })
        .chain(state.services.iter().map(|(n, s)| {
            (
                format!("service.{n}"),
                n,
                &s.applied.container_name,
                &s.applied.config_digest,
            )
        }));
    for (address, name, cname, hash) in objects {
        let cname = if cname.is_empty() {
            naming::container(project, env, name)
        } else {
            cname.clone()
        };
        let expected = naming::container(project, env, name);
        if cname != expected && by_name.contains_key(cname.as_str()) {
            drift.changed_containers.insert(
                address,
                format!("it runs as `{cname}` (imported or renamed); apply recreates it as `{expected}`, volumes kept"),
            );
            continue;
        }
        match by_name.get(cname.as_str()) {
            None => {
                drift.missing_containers.insert(address);
            }
            Some(c) if c.labels.get(labels::DEFINITION_HASH) != Some(hash) => {
                drift.changed_containers.insert(
                    address,
                    "its configuration label differs from the applied definition".into(),
                );
            }
            Some(_) => {}
        }
    }
    for (name, r) in &state.resources {
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

/// `plan --refresh`: connects to the engine `remote` names (the default
/// one when `None`; refused unless it is `required`, the one the state
/// recorded), compares, returns the drift.
pub async fn drift(
    project: &Project,
    env: &str,
    state: &State,
    (remote, required): (Option<&str>, Option<(&str, &str)>),
) -> Result<Drift, DockerError> {
    let docker = Docker::connect_checked(remote, required).await?;
    detect(&docker, &project.compartment.name, env, state).await
}
