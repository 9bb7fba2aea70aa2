//! The engine-independent descriptions of containers used by the rest of the
//! crate (`ContainerSpec` in, `ContainerInfo`/`RunOutcome` out) and their
//! translation to and from the engine's API models.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings, HostConfig,
    Mount as ApiMount, MountPoint, MountType, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum,
};

use super::error::DockerError;

/// What a container should look like. Ports are only ever *exposed* on the
/// container network; nothing is published to the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name (unique on the engine).
    pub name: String,
    pub image: String,
    /// Overrides the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's command when set.
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Network to attach to (instead of the default bridge).
    pub network: Option<String>,
    /// DNS aliases on `network` (ignored without a network).
    pub aliases: Vec<String>,
    pub mounts: Vec<Mount>,
    /// TCP ports exposed on the container network, never published to the host.
    pub exposed_ports: Vec<u16>,
    /// `no`, `always`, `unless-stopped` or `on-failure[:N]`.
    pub restart: Option<String>,
    pub working_dir: Option<String>,
    /// Seconds `docker stop` waits after SIGTERM before SIGKILL (the
    /// engine's default, 10, when `None`).
    pub stop_timeout: Option<u32>,
    /// How it runs on a swarm (a plain engine ignores it).
    pub replication: Option<Replication>,
    /// Files under `/run/secrets/`, by file name: swarm secrets on a swarm,
    /// copied into the container before it starts on a plain engine; never
    /// in its environment, labels or inspected configuration.
    pub secret_files: BTreeMap<String, SecretFile>,
}

/// One file of [`ContainerSpec::secret_files`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub content: String,
    /// Names this content without revealing it (the version of the sealed
    /// variable it comes from): part of the swarm secret's name, which
    /// cannot change once made.
    pub version: String,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretFile")
            .field("content", &"(secret)")
            .field("version", &self.version)
            .finish()
    }
}

/// How a [`ContainerSpec`] runs as a swarm service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replication {
    pub replicas: u64,
    /// Placement constraints (`node.id==…`).
    pub constraints: Vec<String>,
    /// An update starts each new task before its old one stops (services);
    /// otherwise the old one stops first (a resource never has two tasks
    /// writing one volume).
    pub start_first: bool,
    /// A command the swarm runs in each task as its health check: a task
    /// counts as running only once it passes.
    pub health: Option<Vec<String>>,
}

impl ContainerSpec {
    /// A spec with only a name and an image.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            ..ContainerSpec::default()
        }
    }
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: MountSource,
    /// Absolute path inside the container.
    pub target: String,
    pub read_only: bool,
}

/// Where a mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A named volume (created on demand by the engine if missing).
    Volume(String),
    /// A host path; must be absolute.
    Bind(PathBuf),
}

impl Mount {
    /// A read-write named-volume mount.
    pub fn volume(name: impl Into<String>, target: impl Into<String>) -> Mount {
        Mount {
            source: MountSource::Volume(name.into()),
            target: target.into(),
            read_only: false,
        }
    }

    /// A read-write bind mount of a host path.
    pub fn bind(path: impl Into<PathBuf>, target: impl Into<String>) -> Mount {
        Mount {
            source: MountSource::Bind(path.into()),
            target: target.into(),
            read_only: false,
        }
    }
}

/// What the engine reports about a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Name without the engine's leading `/`.
    pub name: String,
    /// The image reference the container was created from (from a list
    /// call: the image ID instead once that reference names another image).
    pub image: String,
    /// The ID of the image the container runs.
    pub image_id: String,
    pub running: bool,
    /// Engine state: `created`, `running`, `exited`, `restarting`, ...
    pub status: String,
    pub labels: BTreeMap<String, String>,
    /// Environment (including variables inherited from the image). Empty when
    /// obtained from [`Docker::list_containers`](super::Docker::list_containers).
    pub env: BTreeMap<String, String>,
    /// Network name -> IP address on it.
    pub ip_addresses: BTreeMap<String, String>,
    /// Network name -> user-given aliases (the engine's automatic short-id
    /// alias is left out).
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Exposed container ports (TCP or not), sorted.
    pub exposed_ports: Vec<u16>,
    /// Host ports the container is published on, sorted (should stay empty).
    pub published_ports: Vec<u16>,
    /// (volume name or host path, target), in engine order.
    pub mounts: Vec<(String, String)>,
    /// Restart policy as in [`ContainerSpec::restart`]; `None` when the engine
    /// reports none (always `None` from `list_containers`).
    pub restart: Option<String>,
    /// The exit code of a container that ran (inspect only).
    pub exit_code: Option<i64>,
    /// `starting`, `healthy` or `unhealthy` for an image with a
    /// `HEALTHCHECK` (inspect only).
    pub health: Option<String>,
    /// A swarm service's declared number of tasks (`None` for a container).
    pub replicas: Option<u64>,
}

/// Result of a one-shot container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub exit_code: i64,
    /// Combined stdout and stderr, in arrival order.
    pub output: String,
}

fn invalid(spec: &ContainerSpec, reason: impl Into<String>) -> DockerError {
    DockerError::InvalidSpec {
        name: spec.name.clone(),
        reason: reason.into(),
    }
}

fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Parses `no | always | unless-stopped | on-failure[:N]`.
pub(super) fn parse_restart(text: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match text.split_once(':') {
        Some(("on-failure", n)) => {
            let n: i64 = n
                .parse()
                .map_err(|_| format!("restart policy `{text}`: `{n}` is not a retry count"))?;
            (RestartPolicyNameEnum::ON_FAILURE, Some(n))
        }
        Some(_) => return Err(format!("restart policy `{text}`: only on-failure takes a count")),
        None => match text {
            "no" => (RestartPolicyNameEnum::NO, None),
            "always" => (RestartPolicyNameEnum::ALWAYS, None),
            "unless-stopped" => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            "on-failure" => (RestartPolicyNameEnum::ON_FAILURE, None),
            _ => {
                return Err(format!(
                    "unknown restart policy `{text}` (expected no, always, unless-stopped or on-failure[:N])"
                ))
            }
        },
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: count,
    })
}

fn format_restart(policy: &RestartPolicy) -> Option<String> {
    let name = policy.name.as_ref()?.to_string();
    if name.is_empty() {
        return None;
    }
    match policy.maximum_retry_count {
        Some(n) if n > 0 && name == "on-failure" => Some(format!("{name}:{n}")),
        _ => Some(name),
    }
}

impl ContainerSpec {
    /// The create request for this spec.
    pub(super) fn to_create_body(&self) -> Result<ContainerCreateBody, DockerError> {
        if self.name.is_empty() {
            return Err(invalid(self, "the container name is empty"));
        }
        if self.image.is_empty() {
            return Err(invalid(self, "no image given"));
        }
        let restart_policy = match &self.restart {
            Some(text) => Some(parse_restart(text).map_err(|r| invalid(self, r))?),
            None => None,
        };
        let mut mounts = Vec::with_capacity(self.mounts.len());
        for mount in &self.mounts {
            let (typ, source) = match &mount.source {
                MountSource::Volume(name) => (MountType::VOLUME, name.clone()),
                MountSource::Bind(path) => {
                    if !path.is_absolute() {
                        return Err(invalid(
                            self,
                            format!(
                                "bind mount source {} is not an absolute path",
                                path.display()
                            ),
                        ));
                    }
                    let source = path.to_str().ok_or_else(|| {
                        invalid(
                            self,
                            format!("bind mount source {} is not UTF-8", path.display()),
                        )
                    })?;
                    (MountType::BIND, source.to_string())
                }
            };
            mounts.push(ApiMount {
                target: Some(mount.target.clone()),
                source: Some(source),
                typ: Some(typ),
                read_only: Some(mount.read_only),
                ..ApiMount::default()
            });
        }
        let networking_config = self.network.as_ref().map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.clone(),
                EndpointSettings {
                    aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
                    ..EndpointSettings::default()
                },
            )])),
        });
        let mut ports = self.exposed_ports.clone();
        ports.sort_unstable();
        ports.dedup();
        Ok(ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: self.entrypoint.clone(),
            cmd: self.command.clone(),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(to_hash_map(&self.labels)),
            exposed_ports: (!ports.is_empty())
                .then(|| ports.iter().map(|p| format!("{p}/tcp")).collect()),
            working_dir: self.working_dir.clone(),
            stop_timeout: self.stop_timeout.map(i64::from),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                restart_policy,
                network_mode: self.network.clone(),
                // Never publish anything to the host.
                port_bindings: None,
                publish_all_ports: Some(false),
                ..HostConfig::default()
            }),
            networking_config,
            ..ContainerCreateBody::default()
        })
    }
}

fn sorted_map(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

fn parse_env(env: Option<Vec<String>>) -> BTreeMap<String, String> {
    env.unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

fn mount_pair(point: MountPoint) -> (String, String) {
    let source = match point.typ {
        Some(typ) if typ == "volume" => point.name.or(point.source),
        _ => point.source.or(point.name),
    };
    (
        source.unwrap_or_default(),
        point.destination.unwrap_or_default(),
    )
}

fn strip_name(name: &str) -> String {
    name.trim_start_matches('/').to_string()
}

/// Network name -> (ip, user aliases), dropping the engine's short-id alias.
fn endpoints(
    id: &str,
    networks: Option<HashMap<String, EndpointSettings>>,
) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let mut ips = BTreeMap::new();
    let mut aliases = BTreeMap::new();
    for (network, endpoint) in networks.unwrap_or_default() {
        if let Some(ip) = endpoint.ip_address.filter(|ip| !ip.is_empty()) {
            ips.insert(network.clone(), ip);
        }
        let names: Vec<String> = endpoint
            .aliases
            .unwrap_or_default()
            .into_iter()
            .filter(|alias| !(alias.len() >= 12 && id.starts_with(alias.as_str())))
            .collect();
        aliases.insert(network, names);
    }
    (ips, aliases)
}

fn sorted_ports(mut ports: Vec<u16>) -> Vec<u16> {
    ports.sort_unstable();
    ports.dedup();
    ports
}

impl ContainerInfo {
    pub(super) fn from_inspect(c: ContainerInspectResponse) -> ContainerInfo {
        let id = c.id.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let state = c.state.unwrap_or_default();
        let settings = c.network_settings.unwrap_or_default();
        let (ip_addresses, aliases) = endpoints(&id, settings.networks);
        let exposed_ports = config
            .exposed_ports
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.split('/').next()?.parse().ok())
            .collect();
        let published_ports = settings
            .ports
            .unwrap_or_default()
            .into_values()
            .flatten()
            .flatten()
            .filter_map(|binding| binding.host_port?.parse().ok())
            .collect();
        ContainerInfo {
            name: strip_name(c.name.as_deref().unwrap_or_default()),
            image: config.image.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            running: state.running.unwrap_or(false),
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            labels: sorted_map(config.labels),
            env: parse_env(config.env),
            ip_addresses,
            aliases,
            exposed_ports: sorted_ports(exposed_ports),
            published_ports: sorted_ports(published_ports),
            mounts: c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .map(mount_pair)
                .collect(),
            restart: c
                .host_config
                .and_then(|h| h.restart_policy)
                .as_ref()
                .and_then(format_restart),
            exit_code: state.exit_code,
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            replicas: None,
            id,
        }
    }

    pub(super) fn from_summary(c: ContainerSummary) -> ContainerInfo {
        let id = c.id.unwrap_or_default();
        let (ip_addresses, aliases) = endpoints(&id, c.network_settings.and_then(|s| s.networks));
        let ports = c.ports.unwrap_or_default();
        let status = c.state.map(|s| s.to_string()).unwrap_or_default();
        ContainerInfo {
            name: c
                .names
                .unwrap_or_default()
                .first()
                .map(|n| strip_name(n))
                .unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            running: status == "running",
            status,
            labels: sorted_map(c.labels),
            env: BTreeMap::new(),
            ip_addresses,
            aliases,
            exposed_ports: sorted_ports(ports.iter().map(|p| p.private_port).collect()),
            published_ports: sorted_ports(ports.iter().filter_map(|p| p.public_port).collect()),
            mounts: c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .map(mount_pair)
                .collect(),
            restart: None,
            exit_code: None,
            health: None,
            replicas: None,
            id,
        }
    }
}
