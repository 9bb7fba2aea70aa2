//! Docker Swarm mode, as far as compartment uses it: whether the engine is
//! a swarm manager, its nodes, replicated swarm services deployed from a
//! container spec (translated by `swarm_spec`) and waited for — the
//! swarm's rollback of a failed update, a task that keeps failing —, their
//! tasks and secrets, and images pushed to a registry every node can pull
//! from. Nothing here knows resources or services of compartment.yml:
//! `apply` maps them onto container specs.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Service, ServiceSpec};
use bollard::query_parameters::{
    ListTasksOptionsBuilder, PushImageOptionsBuilder, UpdateServiceOptions,
};
use futures_util::TryStreamExt;
use std::time::{Duration, Instant};

use super::resources::to_hash_map;
use super::swarm_spec::{service_info, service_spec, spec_replicas};
use super::{
    engine_error, is_not_found, reason_of, ContainerInfo, ContainerSpec, Docker, DockerError,
};

/// This engine's place in a swarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmNode {
    pub node_id: String,
    /// Whether it can manage the swarm (create services).
    pub manager: bool,
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
    /// Its container's ID (on its node's engine).
    pub container: Option<String>,
    /// Which configuration it runs ([`task_key`]).
    pub key: String,
    /// Its container's exit code, once it exited.
    pub exit_code: Option<i64>,
}

/// Where a command for a service runs.
pub(super) enum TaskPlace {
    /// In this container, on the engine this connection reaches.
    Here(String),
    /// In `container` on swarm node `node`, whose tasks run `image`.
    On {
        node: String,
        container: String,
        image: String,
    },
}

/// Names a service's task configuration: its definition label and its
/// forced-update counter. A task runs the service's current configuration
/// when its key is the one of the service's task template.
fn task_key(template: Option<&bollard::models::TaskSpec>) -> String {
    let label = template
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(super::labels::DEFINITION_HASH))
        .cloned()
        .unwrap_or_default();
    let force = template.and_then(|t| t.force_update).unwrap_or(0);
    format!("{label}/{force}")
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
                let exit_code = status.container_status.as_ref().and_then(|c| c.exit_code);
                let task = SwarmTask {
                    id: t.id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    desired: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                    error: status.err.filter(|e| !e.is_empty()),
                    container: status
                        .container_status
                        .and_then(|c| c.container_id)
                        .filter(|c| !c.is_empty()),
                    key: task_key(t.spec.as_ref()),
                    exit_code,
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

/// A node a task can be placed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmNodeInfo {
    pub id: String,
    pub hostname: String,
    /// Tasks the swarm wants running there now.
    pub tasks: usize,
}

/// The label naming the swarm service a secret belongs to.
const SECRET_OF: &str = "io.compartment.secret-of";

/// The swarm secret holding file `file` of service `service` at
/// `version`: a secret cannot change, so a new value is a new secret. At
/// most 64 characters, as the swarm requires.
fn secret_name(service: &str, file: &str, version: &str) -> String {
    let version = &version[..version.len().min(12)];
    let name = format!("{service}-{}-{version}", file.to_ascii_lowercase());
    match name.len() <= 64 {
        true => name,
        false => {
            let digest = crate::support::digest::sha256_hex(name.as_bytes());
            format!("cmpt-secret-{}", &digest[..40])
        }
    }
}

/// One secret a service's tasks mount: (file name, secret ID, secret name).
pub(super) type MountedSecret = (String, String, String);

/// How long a deploy waits for a service's tasks to run.
const CONVERGE: Duration = Duration::from_secs(300);
/// The pause between two looks at a service's tasks.
const POLL: Duration = Duration::from_millis(500);
/// Failed tasks of a deploy, with none running, that end its wait.
const FAILED_TASKS: usize = 3;

impl Docker {
    /// This connection for a swarm environment: containers become swarm
    /// services (see `swarm_spec`), networks attachable overlays, and
    /// probes and hooks go through the agent. Refuses an engine that does
    /// not manage a swarm.
    pub async fn into_swarm(mut self) -> Result<Docker, DockerError> {
        let refuse = |why: &str| DockerError::NotSwarmManager {
            address: self.address.clone(),
            why: why.to_string(),
        };
        match self.swarm_node().await? {
            Some(node) if node.manager => {
                self.swarm = Some(node);
                self.reach = super::agent::Reach::Engine;
                Ok(self)
            }
            Some(_) => Err(refuse("it is a worker of its swarm; point the environment's `remote` at a manager (`docker node ls` there lists them)")),
            None => Err(refuse("it is not part of a swarm (`docker swarm init` makes one; or point `remote` at a manager of yours)")),
        }
    }

    /// The ID of the swarm node this connection manages through.
    pub fn swarm_node_id(&self) -> Option<&str> {
        self.swarm.as_ref().map(|n| n.node_id.as_str())
    }

    /// Whether containers are swarm services on this connection.
    pub fn on_swarm(&self) -> bool {
        self.swarm.is_some()
    }

    /// The nodes that can take tasks (ready, active), with how many tasks
    /// each runs, by ID.
    pub async fn swarm_nodes(&self) -> Result<Vec<SwarmNodeInfo>, DockerError> {
        let nodes = self
            .client
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| engine_error("list the swarm's nodes", &e))?;
        let filters = HashMap::from([("desired-state", vec!["running"])]);
        let options = ListTasksOptionsBuilder::default().filters(&filters).build();
        let tasks = self
            .client
            .list_tasks(Some(options))
            .await
            .map_err(|e| engine_error("list the swarm's tasks", &e))?;
        let mut out: Vec<SwarmNodeInfo> = nodes
            .into_iter()
            .filter(|n| {
                let ready = n.status.as_ref().and_then(|s| s.state.as_ref())
                    == Some(&bollard::models::NodeState::READY);
                let active = n.spec.as_ref().and_then(|s| s.availability.as_ref())
                    == Some(&bollard::models::NodeSpecAvailabilityEnum::ACTIVE);
                ready && active
            })
            .map(|n| {
                let id = n.id.unwrap_or_default();
                SwarmNodeInfo {
                    tasks: tasks
                        .iter()
                        .filter(|t| t.node_id.as_deref() == Some(&id))
                        .count(),
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    id,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Creates the swarm service of `spec`, or updates the existing one
    /// to it (`force`: new tasks even when nothing changed), and waits
    /// until its tasks run: the update's own rollback on failure, a task
    /// that keeps failing, or [`CONVERGE`] end the wait with
    /// [`DockerError::ServiceFailed`]. Returns the service's ID.
    pub async fn deploy_service(
        &self,
        spec: &ContainerSpec,
        force: bool,
    ) -> Result<String, DockerError> {
        let before = self.task_ids(&spec.name).await?;
        let secrets = self.ensure_secrets(spec).await?;
        let (id, key) = match self.find_service(&spec.name).await? {
            Some(existing) => {
                let version = existing.version.and_then(|v| v.index).unwrap_or(0);
                let previous = existing
                    .spec
                    .and_then(|s| s.task_template)
                    .and_then(|t| t.force_update)
                    .unwrap_or(0);
                let body =
                    service_spec(spec, if force { previous + 1 } else { previous }, &secrets)?;
                let key = task_key(body.task_template.as_ref());
                self.update_to(&spec.name, body, version).await?;
                (existing.id.unwrap_or_default(), key)
            }
            None => {
                let body = service_spec(spec, 0, &secrets)?;
                let key = task_key(body.task_template.as_ref());
                let created = self.client.create_service(body, None).await.map_err(|e| {
                    engine_error(format!("create swarm service `{}`", spec.name), &e)
                })?;
                (created.id.unwrap_or_default(), key)
            }
        };
        let replicas = spec.replication.as_ref().map_or(1, |r| r.replicas.max(1));
        self.wait_converged(&spec.name, replicas as usize, &key, &before)
            .await?;
        // The tasks of the new configuration run: earlier values go.
        self.prune_secrets(&spec.name, &secrets).await?;
        Ok(id)
    }

    /// Swarm service `name`; `None` when there is none.
    async fn find_service(&self, name: &str) -> Result<Option<Service>, DockerError> {
        match self.client.inspect_service(name, None).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(format!("inspect swarm service `{name}`"), &e)),
        }
    }

    /// The IDs of the tasks service `name` has now.
    async fn task_ids(
        &self,
        name: &str,
    ) -> Result<std::collections::BTreeSet<String>, DockerError> {
        Ok(self
            .swarm_tasks(name)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect())
    }

    /// Sends the new specification `body` of service `name`, whose
    /// current version is `version`.
    async fn update_to(
        &self,
        name: &str,
        body: ServiceSpec,
        version: u64,
    ) -> Result<(), DockerError> {
        let options = UpdateServiceOptions {
            version: i32::try_from(version).unwrap_or(i32::MAX),
            ..UpdateServiceOptions::default()
        };
        self.client
            .update_service(name, body, options, None)
            .await
            .map(|_| ())
            .map_err(|e| engine_error(format!("update swarm service `{name}`"), &e))
    }

    /// Waits until service `name` runs `replicas` tasks of the
    /// configuration `key` and nothing else, with no update under way;
    /// tasks in `before` existed before this deploy.
    async fn wait_converged(
        &self,
        name: &str,
        replicas: usize,
        key: &str,
        before: &std::collections::BTreeSet<String>,
    ) -> Result<(), DockerError> {
        let started = Instant::now();
        let failed = |what: String| DockerError::ServiceFailed {
            service: name.to_string(),
            what,
        };
        loop {
            let service = self
                .client
                .inspect_service(name, None)
                .await
                .map_err(|e| engine_error(format!("inspect swarm service `{name}`"), &e))?;
            let update = service.update_status.unwrap_or_default();
            let state = update.state.map(|s| s.to_string()).unwrap_or_default();
            let message = update.message.unwrap_or_default();
            match state.as_str() {
                "rollback_completed" => {
                    return Err(failed(format!(
                        "was rolled back: its update failed ({message})"
                    )))
                }
                "paused" | "rollback_paused" => {
                    return Err(failed(format!("stopped updating: {message}")))
                }
                _ => {}
            }
            let tasks = self.swarm_tasks(name).await?;
            let wanted: Vec<&SwarmTask> = tasks.iter().filter(|t| t.desired == "running").collect();
            let running = wanted.iter().filter(|t| t.state == "running").count();
            let current = wanted
                .iter()
                .filter(|t| t.state == "running" && t.key == key)
                .count();
            let settled = matches!(state.as_str(), "" | "completed");
            if settled && current == replicas && wanted.len() == replicas {
                return Ok(());
            }
            let new_failures: Vec<&SwarmTask> = tasks
                .iter()
                .filter(|t| !before.contains(&t.id))
                .filter(|t| matches!(t.state.as_str(), "failed" | "rejected"))
                .collect();
            if running == 0 && new_failures.len() >= FAILED_TASKS {
                let last = new_failures.last().and_then(|t| t.error.clone());
                return Err(failed(format!(
                    "could not start a task ({} failed; last: {})",
                    new_failures.len(),
                    last.unwrap_or_else(|| "no reason given".into())
                )));
            }
            if started.elapsed() >= CONVERGE {
                return Err(failed(format!(
                    "did not run {replicas} task(s) within {}s ({running} running)",
                    CONVERGE.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The placement constraints of swarm service `name` (none when
    /// there is no such service).
    pub async fn swarm_constraints(&self, name: &str) -> Result<Vec<String>, DockerError> {
        Ok(self
            .find_service(name)
            .await?
            .and_then(|s| s.spec)
            .and_then(|s| s.task_template)
            .and_then(|t| t.placement)
            .and_then(|p| p.constraints)
            .unwrap_or_default())
    }

    /// The container to run in for `name`: off a swarm, or when no swarm
    /// service has that name, `name` itself; on a swarm, the container of
    /// one of the service's running tasks — on the manager this connection
    /// reaches when one runs there, else on another node (with the image
    /// of the service, which that node has).
    pub(super) async fn task_container(&self, name: &str) -> Result<TaskPlace, DockerError> {
        let Some(me) = &self.swarm else {
            return Ok(TaskPlace::Here(name.to_string()));
        };
        let Some(service) = self.find_service(name).await? else {
            return Ok(TaskPlace::Here(name.to_string()));
        };
        let tasks = self.swarm_tasks(name).await?;
        let mut running: Vec<&SwarmTask> = tasks
            .iter()
            .filter(|t| t.state == "running" && t.desired == "running")
            .filter(|t| t.container.is_some())
            .collect();
        // The manager's own first, then by node.
        running.sort_by_key(|t| (t.node_id != me.node_id, t.node_id.clone()));
        let Some(task) = running.first() else {
            return Err(DockerError::NoRunningTask {
                service: name.to_string(),
            });
        };
        let container = task.container.clone().unwrap_or_default();
        if task.node_id == me.node_id {
            return Ok(TaskPlace::Here(container));
        }
        let image = service
            .spec
            .and_then(|s| s.task_template)
            .and_then(|t| t.container_spec)
            .and_then(|c| c.image)
            .unwrap_or_default();
        Ok(TaskPlace::On {
            node: task.node_id.clone(),
            container,
            image,
        })
    }

    /// Replaces every task of swarm service `name` (its configuration
    /// unchanged) one at a time, as its updates do, and waits for them.
    pub(super) async fn restart_service(&self, name: &str) -> Result<(), DockerError> {
        let Some(existing) = self.find_service(name).await? else {
            return Err(DockerError::NoSuchContainer { name: name.into() });
        };
        let before = self.task_ids(name).await?;
        let version = existing.version.and_then(|v| v.index).unwrap_or(0);
        let mut spec = existing.spec.unwrap_or_default();
        let replicas = spec_replicas(&spec).unwrap_or(1);
        if let Some(t) = spec.task_template.as_mut() {
            t.force_update = Some(t.force_update.unwrap_or(0) + 1);
        }
        let key = task_key(spec.task_template.as_ref());
        self.update_to(name, spec, version).await?;
        self.wait_converged(name, replicas.max(1) as usize, &key, &before)
            .await
    }

    /// Whether a swarm service is named `name` (one engine call; a
    /// connection off a swarm has none).
    pub(super) async fn is_service(&self, name: &str) -> Result<bool, DockerError> {
        Ok(self.on_swarm() && self.find_service(name).await?.is_some())
    }

    /// Creates the swarm secrets of `spec`'s secret files that do not
    /// exist yet (labelled with the service they belong to).
    pub(super) async fn ensure_secrets(
        &self,
        spec: &ContainerSpec,
    ) -> Result<Vec<MountedSecret>, DockerError> {
        use base64::Engine;
        if spec.secret_files.is_empty() {
            return Ok(Vec::new());
        }
        let existing = self.secrets_of(&spec.name).await?;
        let mut out = Vec::new();
        for (file, secret) in &spec.secret_files {
            let name = secret_name(&spec.name, file, &secret.version);
            let id = match existing.get(&name) {
                Some(id) => id.clone(),
                None => {
                    let mut labels = spec.labels.clone();
                    labels.remove(super::labels::DEFINITION_HASH);
                    labels.insert(SECRET_OF.to_string(), spec.name.clone());
                    let body = bollard::models::SecretSpec {
                        name: Some(name.clone()),
                        labels: Some(to_hash_map(&labels)),
                        data: Some(
                            base64::engine::general_purpose::STANDARD.encode(&secret.content),
                        ),
                        ..Default::default()
                    };
                    let created =
                        self.client.create_secret(body).await.map_err(|e| {
                            engine_error(format!("create swarm secret `{name}`"), &e)
                        })?;
                    created.id
                }
            };
            out.push((file.clone(), id, name));
        }
        Ok(out)
    }

    /// The swarm secrets of service `service`: name → ID.
    async fn secrets_of(&self, service: &str) -> Result<BTreeMap<String, String>, DockerError> {
        let label = format!("{SECRET_OF}={service}");
        let filters = HashMap::from([("label", vec![label.as_str()])]);
        let options = bollard::query_parameters::ListSecretsOptionsBuilder::default()
            .filters(&filters)
            .build();
        let secrets = self
            .client
            .list_secrets(Some(options))
            .await
            .map_err(|e| engine_error("list swarm secrets", &e))?;
        Ok(secrets
            .into_iter()
            .filter_map(|s| Some((s.spec?.name?, s.id?)))
            .collect())
    }

    /// Removes the secrets of `service` not named in `keep` (earlier
    /// values, or all of them once the service is gone).
    async fn prune_secrets(
        &self,
        service: &str,
        keep: &[MountedSecret],
    ) -> Result<(), DockerError> {
        for (name, id) in self.secrets_of(service).await? {
            if keep.iter().any(|(_, _, k)| *k == name) {
                continue;
            }
            match self.client.delete_secret(&id).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(engine_error(format!("remove swarm secret `{name}`"), &e)),
            }
        }
        Ok(())
    }

    /// Swarm service `name` as a container; `None` when there is none.
    pub(super) async fn inspect_service_info(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        let Some(service) = self.find_service(name).await? else {
            return Ok(None);
        };
        let tasks = self.swarm_tasks(name).await?;
        let networks = self.network_names().await?;
        Ok(Some(service_info(service, &tasks, &networks)))
    }

    /// The swarm services carrying all `label_filters`, as containers,
    /// sorted by name.
    pub(super) async fn list_service_infos(
        &self,
        label_filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = bollard::query_parameters::ListServicesOptionsBuilder::default()
            .filters(&super::label_filter_query(label_filters))
            .build();
        let services = self
            .client
            .list_services(Some(options))
            .await
            .map_err(|e| engine_error("list swarm services", &e))?;
        let networks = self.network_names().await?;
        let mut out = Vec::new();
        for service in services {
            let name = service
                .spec
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_default();
            let tasks = self.swarm_tasks(&name).await?;
            out.push(service_info(service, &tasks, &networks));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Network IDs to names.
    async fn network_names(&self) -> Result<HashMap<String, String>, DockerError> {
        let networks = self
            .client
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .map_err(|e| engine_error("list networks", &e))?;
        Ok(networks
            .into_iter()
            .filter_map(|n| Some((n.id?, n.name?)))
            .collect())
    }

    /// Removes swarm service `name` and waits until its tasks are gone (so
    /// its volumes are free); absent is fine.
    pub(super) async fn remove_service_and_wait(&self, name: &str) -> Result<(), DockerError> {
        self.remove_swarm_service(name).await?;
        let started = Instant::now();
        while !self.swarm_tasks(name).await?.is_empty() {
            if started.elapsed() >= CONVERGE {
                return Err(DockerError::ServiceFailed {
                    service: name.to_string(),
                    what: format!(
                        "was removed but its tasks were still there after {}s",
                        CONVERGE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
        self.prune_secrets(name, &[]).await
    }

    /// `Some(why)` when swarm service `name` is gone or cannot run a task.
    pub(super) async fn service_stopped(&self, name: &str) -> Result<Option<String>, DockerError> {
        if self.find_service(name).await?.is_none() {
            return Ok(Some("the service is gone".into()));
        }
        let tasks = self.swarm_tasks(name).await?;
        if tasks.iter().any(|t| t.state == "running") {
            return Ok(None);
        }
        let failures: Vec<&SwarmTask> = tasks
            .iter()
            .filter(|t| matches!(t.state.as_str(), "failed" | "rejected"))
            .collect();
        Ok((failures.len() >= FAILED_TASKS).then(|| {
            let last = failures.last().and_then(|t| t.error.clone());
            format!(
                "its tasks keep failing (last: {})",
                last.unwrap_or_else(|| "no reason given".into())
            )
        }))
    }
}
