//! Docker Swarm mode, as far as compartment uses it: whether the engine is
//! a swarm manager, attachable overlay networks, replicated swarm services
//! (an image, env, labels, a command, N replicas, a network alias resolved
//! by DNS round robin — this machine's kernel has no IPVS for the virtual-IP
//! load balancer — and placement constraints) with their tasks, and images
//! pushed to a registry every node can pull from. Nothing here knows
//! resources or services of compartment.yml: `apply` maps them onto these.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
};
use bollard::query_parameters::{ListTasksOptionsBuilder, PushImageOptionsBuilder};
use futures_util::TryStreamExt;

use super::resources::to_hash_map;
use super::{engine_error, is_not_found, reason_of, Docker, DockerError};

/// This engine's place in a swarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmNode {
    pub node_id: String,
    /// Whether it can manage the swarm (create services).
    pub manager: bool,
}

/// What compartment asks of one swarm service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmService {
    pub name: String,
    pub image: String,
    pub replicas: u64,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Replaces the image's command (`None`: the image's own).
    pub command: Option<Vec<String>>,
    /// The overlay network its tasks join, and the names they answer to.
    pub network: String,
    pub aliases: Vec<String>,
    /// Placement constraints, e.g. `node.id==…`.
    pub constraints: Vec<String>,
}

/// One task of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub node_id: String,
    /// The task's state (`running`, `failed`, `shutdown`, …).
    pub state: String,
    /// What the swarm wants it to be (`running`, `shutdown`).
    pub desired: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Docker {
    /// This engine's node in a swarm; `None` when it is in none.
    pub async fn swarm_node(&self) -> Result<Option<SwarmNode>, DockerError> {
        let info = self
            .client
            .info()
            .await
            .map_err(|e| engine_error("read the engine's swarm state", &e))?;
        let Some(swarm) = info.swarm else {
            return Ok(None);
        };
        let node_id = swarm.node_id.unwrap_or_default();
        if node_id.is_empty() {
            return Ok(None);
        }
        Ok(Some(SwarmNode {
            node_id,
            manager: swarm.control_available.unwrap_or(false),
        }))
    }

    /// Creates the attachable overlay network `name` with `labels`, or
    /// reuses one of that name. Returns its id.
    pub async fn ensure_overlay_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, DockerError> {
        self.ensure_network_with(name, labels, "overlay", true)
            .await
    }

    /// Creates the swarm service `spec` describes. Returns its id.
    pub async fn create_swarm_service(&self, spec: &SwarmService) -> Result<String, DockerError> {
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let service = ServiceSpec {
            name: Some(spec.name.clone()),
            labels: Some(to_hash_map(&spec.labels)),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(spec.image.clone()),
                    env: Some(env),
                    labels: Some(to_hash_map(&spec.labels)),
                    command: spec.command.clone(),
                    ..TaskSpecContainerSpec::default()
                }),
                placement: Some(TaskSpecPlacement {
                    constraints: Some(spec.constraints.clone()),
                    ..TaskSpecPlacement::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(spec.network.clone()),
                    aliases: Some(spec.aliases.clone()),
                    ..NetworkAttachmentConfig::default()
                }]),
                ..TaskSpec::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(spec.replicas as i64),
                }),
                ..ServiceSpecMode::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ..EndpointSpec::default()
            }),
            ..ServiceSpec::default()
        };
        let created = self
            .client
            .create_service(service, None)
            .await
            .map_err(|e| engine_error(format!("create swarm service `{}`", spec.name), &e))?;
        Ok(created.id.unwrap_or_default())
    }

    /// The tasks of swarm service `name`, oldest first (none when there is
    /// no such service).
    pub async fn swarm_tasks(&self, name: &str) -> Result<Vec<SwarmTask>, DockerError> {
        let filters = HashMap::from([("service", vec![name])]);
        let options = ListTasksOptionsBuilder::default().filters(&filters).build();
        let tasks = match self.client.list_tasks(Some(options)).await {
            Ok(tasks) => tasks,
            // No such service: no tasks.
            Err(e) if is_not_found(&e) => Vec::new(),
            Err(e) => return Err(engine_error(format!("list the tasks of `{name}`"), &e)),
        };
        let mut rows: Vec<(String, SwarmTask)> = tasks
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                let created = t.created_at.map(|d| d.to_string()).unwrap_or_default();
                let task = SwarmTask {
                    id: t.id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    desired: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                    error: status.err.filter(|e| !e.is_empty()),
                };
                (created, task)
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows.into_iter().map(|(_, t)| t).collect())
    }

    /// Removes swarm service `name` (its tasks go with it); absent is fine.
    pub async fn remove_swarm_service(&self, name: &str) -> Result<(), DockerError> {
        match self.client.delete_service(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_error(format!("remove swarm service `{name}`"), &e)),
        }
    }

    /// Pushes `image` (`registry/name:tag`) to its registry, so that every
    /// node can pull it.
    pub async fn push_image(&self, image: &str) -> Result<(), DockerError> {
        let (name, tag) = super::resources::pull_reference(image);
        let options = PushImageOptionsBuilder::default()
            .tag(tag.as_deref().unwrap_or("latest"))
            .build();
        let mut stream = self.client.push_image(&name, Some(options), None);
        let failed = |reason: String| DockerError::Engine {
            action: format!("push image `{image}`"),
            reason,
        };
        while let Some(info) = stream.try_next().await.map_err(|e| failed(reason_of(&e)))? {
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
        }
        Ok(())
    }
}
