//! Services as day-2 objects, and what both kinds share: `service list |
//! inspect | logs | restart | exec`, `resource exec` and `compartment ps`
//! (one status table for resources and services: running, exited with its
//! code, restarting, health). Each function is one command's library call.

use super::error::OpsError;
use super::resource;
use crate::apply::naming;
use crate::docker::{labels, ContainerInfo, Docker, ExecOutput};
use crate::state::State;
use crate::workspace::Workspace;
use serde::Serialize;
use std::collections::BTreeMap;

type Result<T, E = OpsError> = std::result::Result<T, E>;

/// The stop grace period of a service restart when none is declared.
pub const DEFAULT_GRACE_SECS: u32 = 10;

/// The state's record of a service, or a clear error.
pub fn record<'s>(state: &'s State, name: &str) -> Result<&'s crate::state::ServiceState> {
    state.services.get(name).ok_or_else(|| {
        let known: Vec<&str> = state.services.keys().map(String::as_str).collect();
        let hint = match crate::diagnostics::suggest(name, known.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None if known.is_empty() => "; no service has been applied in this environment".into(),
            None => format!("; deployed services: {}", known.join(", ")),
        };
        OpsError::ServiceNotDeployed {
            name: name.into(),
            environment: state.environment.clone(),
            hint,
        }
    })
}

/// One line of `service list`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub name: String,
    pub status: String,
    pub image: String,
    pub host: String,
    pub ingress: Option<u16>,
    pub applied_at: Option<String>,
}

/// One line of `compartment ps`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PsRow {
    /// `resource` or `service`.
    pub kind: &'static str,
    pub name: String,
    /// `running`, `exited`, `restarting`, … or `missing`.
    pub state: String,
    pub exit_code: Option<i64>,
    pub health: Option<String>,
    /// The state in words: `running (healthy)`, `exited (code 1)`.
    pub status: String,
    pub image: String,
    pub container: String,
}

/// A container's state in words.
fn status_text(c: Option<&ContainerInfo>) -> String {
    let Some(c) = c else {
        return "missing".into();
    };
    let mut s = c.status.clone();
    if c.status == "exited" {
        s = format!("exited (code {})", c.exit_code.unwrap_or(-1));
    }
    if let Some(h) = &c.health {
        s.push_str(&format!(" ({h})"));
    }
    s
}

async fn live(
    docker: &Docker,
    p: &str,
    env: &str,
    kind: &str,
) -> Result<BTreeMap<String, ContainerInfo>> {
    let list = docker
        .list_containers(&[
            (labels::PROJECT, p),
            (labels::ENVIRONMENT, env),
            (labels::KIND, kind),
        ])
        .await?;
    Ok(list.into_iter().map(|c| (c.name.clone(), c)).collect())
}

/// `service list`: every applied service with its live status.
pub async fn list(ws: &Workspace) -> Result<Vec<ServiceRow>> {
    let docker = ws.connect().await?;
    let (p, env) = (ws.name(), ws.env.as_str());
    let containers = live(&docker, p, env, labels::KIND_SERVICE).await?;
    Ok(ws
        .state
        .services
        .iter()
        .map(|(name, s)| ServiceRow {
            name: name.clone(),
            status: containers
                .get(&naming::container(p, env, name))
                .map_or_else(|| "missing".into(), |c| c.status.clone()),
            image: s.image.clone(),
            host: naming::service_host(p, env, name),
            ingress: s.applied.definition.ingress.as_ref().map(|i| i.port),
            applied_at: s.applied.applied_at.clone(),
        })
        .collect())
}

/// `service inspect`: the applied record and the live container.
pub async fn inspect(ws: &Workspace, name: &str) -> Result<serde_json::Value> {
    let s = record(&ws.state, name)?.clone();
    let (p, env) = (ws.name(), ws.env.as_str());
    let docker = ws.connect().await?;
    let info = docker
        .inspect_container(&naming::container(p, env, name))
        .await?;
    Ok(serde_json::json!({
        "name": name,
        "host": naming::service_host(p, env, name),
        "image": s.image,
        "contextHash": s.context_hash,
        "container": info.as_ref().map(|c| {
            let mut container = serde_json::json!({
                "name": c.name, "id": c.id, "status": status_text(Some(c)), "running": c.running, "image": c.image,
            });
            // On a swarm: how many tasks it declares.
            if let Some(replicas) = c.replicas {
                container["replicas"] = replicas.into();
            }
            container
        }),
        "definition": s.applied.definition,
        "dependsOn": s.applied.depends_on,
        "appliedAt": s.applied.applied_at,
        "connections": ws.state.bindings.get(name),
    }))
}

/// `service logs`: each line to `on_line` (`follow` streams until the
/// container stops or the command is interrupted).
pub async fn logs(
    ws: &Workspace,
    name: &str,
    tail: Option<usize>,
    follow: bool,
    on_line: impl FnMut(&str),
) -> Result<()> {
    record(&ws.state, name)?;
    let docker = ws.connect().await?;
    let container = naming::container(ws.name(), &ws.env, name);
    Ok(docker.logs(&container, tail, follow, on_line).await?)
}

/// `service restart`: the container is stopped with the service's grace
/// period and started again.
pub async fn restart(ws: &Workspace, name: &str) -> Result<()> {
    record(&ws.state, name)?;
    let grace = ws
        .project
        .compartment
        .services
        .get(name)
        .map_or(DEFAULT_GRACE_SECS, grace_secs);
    let docker = ws.connect().await?;
    let container = naming::container(ws.name(), &ws.env, name);
    Ok(docker.restart_container(&container, grace).await?)
}

/// A service's stop grace period in whole seconds.
pub fn grace_secs(_def: &crate::descriptor::model::ServiceDef) -> u32 {
    DEFAULT_GRACE_SECS
}

/// Which kind of node `exec` runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Resource,
    Service,
}

/// `service exec` / `resource exec`: `command` in the running container,
/// its output to `sink`; the command's exit code.
pub async fn exec(
    ws: &Workspace,
    kind: Kind,
    name: &str,
    command: &[String],
    sink: impl FnMut(ExecOutput),
) -> Result<i64> {
    match kind {
        Kind::Service => drop(record(&ws.state, name)?),
        Kind::Resource => drop(resource::record(&ws.state, name)?),
    }
    let docker = ws.connect().await?;
    let container = naming::container(ws.name(), &ws.env, name);
    match docker.inspect_container(&container).await? {
        Some(c) if c.running => {}
        c => {
            let start = match kind {
                Kind::Service => format!("compartment service restart {name}"),
                Kind::Resource => format!("compartment resource start --resource {name}"),
            };
            return Err(OpsError::NotRunning {
                name: name.into(),
                status: status_text(c.as_ref()),
                start,
            });
        }
    }
    Ok(docker.exec(&container, command, sink).await?)
}

/// `compartment ps`: every applied resource and service, with the state of
/// its container (each inspected: exit codes and health are not in a list).
pub async fn ps(ws: &Workspace) -> Result<Vec<PsRow>> {
    let docker = ws.connect().await?;
    let (p, env) = (ws.name(), ws.env.as_str());
    let nodes = ws
        .state
        .resources
        .iter()
        .map(|(n, r)| ("resource", n, r.applied.definition.image.clone()))
        .chain(
            ws.state
                .services
                .iter()
                .map(|(n, s)| ("service", n, s.image.clone())),
        );
    let mut rows = Vec::new();
    for (kind, name, image) in nodes {
        let container = naming::container(p, env, name);
        let info = docker.inspect_container(&container).await?;
        rows.push(PsRow {
            kind,
            name: name.clone(),
            state: info
                .as_ref()
                .map_or_else(|| "missing".into(), |c| c.status.clone()),
            exit_code: info
                .as_ref()
                .filter(|c| !c.running)
                .and_then(|c| c.exit_code),
            health: info.as_ref().and_then(|c| c.health.clone()),
            status: status_text(info.as_ref()),
            image,
            container,
        });
    }
    Ok(rows)
}
