//! The Docker runtime: the only module that talks to the engine (and the only
//! one that imports `bollard`). It exposes a small engine-agnostic API —
//! networks, volumes, images, containers, readiness and one-shot runs — in
//! terms of this crate's own types; no `bollard` type leaks out of it.
//!
//! Layout: `error` (the `DockerError` enum), `labels` (label keys), `spec`
//! (container specs and reports), `resources` (networks, volumes, images),
//! `build` (build contexts, context hashes, image builds) and `containers`
//! (container lifecycle, logs, one-shot runs), `exec` (commands in a
//! running container) and `probe` (readiness: tcp, http, command, the
//! image's HEALTHCHECK).

pub mod agent;
mod build;
mod containers;
mod error;
mod exec;
mod files;
mod http;
pub mod labels;
mod probe;
mod resources;
mod spec;
mod swarm;
mod swarm_job;
mod swarm_spec;
pub mod target;

use std::time::Duration;

pub use error::DockerError;
pub use exec::ExecOutput;
pub use files::{DirFiles, Seal, Unseal};
pub use http::{HttpAnswer, HttpRequest};
pub use probe::Probe;
pub use spec::{
    ContainerInfo, ContainerSpec, Mount, MountSource, Replication, RunOutcome, SecretFile,
};
pub use swarm::{SwarmNode, SwarmNodeInfo, SwarmTask};

use error::one_line;

/// The address used when `DOCKER_HOST` is not set.
pub const DEFAULT_ADDRESS: &str = "unix:///var/run/docker.sock";

/// The first 12 characters of an engine ID, as `docker info` users read it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// An engine behind a Unix socket is this machine's: its containers'
/// addresses are routable from here. Any other is reached through the
/// probe agent. `COMPARTMENT_PROBE=engine|direct` overrides (tests use it
/// to run both paths on one engine).
fn reach_for(address: &str) -> agent::Reach {
    match std::env::var("COMPARTMENT_PROBE").ok().as_deref() {
        Some("engine") => agent::Reach::Engine,
        Some("direct") => agent::Reach::Direct,
        _ if address.starts_with("unix://") => agent::Reach::Direct,
        _ => agent::Reach::Engine,
    }
}

/// How long connecting (version negotiation + ping) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// A connection to a Docker engine whose API version has been negotiated.
#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    address: String,
    /// How network probes and hooks reach containers.
    reach: agent::Reach,
    /// The manager this connection deploys through, for a swarm
    /// environment ([`Docker::into_swarm`]).
    swarm: Option<SwarmNode>,
    /// The ssh process of an `ssh://` engine, alive as long as a clone is.
    _tunnel: Option<std::sync::Arc<target::Tunnel>>,
}

impl std::fmt::Debug for Docker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docker")
            .field("address", &self.address)
            .field("api_version", &self.api_version())
            .finish()
    }
}

impl Docker {
    /// Connects to the docker CLI's default engine ([`target::resolve`]
    /// with nothing chosen).
    pub async fn connect() -> Result<Docker, DockerError> {
        Docker::connect_target(None).await
    }

    /// Connects to the engine `chosen` names (an address or a Docker
    /// context; `--remote` or the environment's `remote`), or to the
    /// default one; an `ssh://` engine through an ssh tunnel.
    pub async fn connect_target(chosen: Option<&str>) -> Result<Docker, DockerError> {
        let target = target::resolve(chosen)?;
        if !target.address.starts_with("ssh://") {
            return Docker::connect_with(&target.address, target.context_tls()).await;
        }
        let address = target.address.clone();
        let (tunnel, local) = tokio::task::spawn_blocking(move || target::ssh_tunnel(&address))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?;
        let mut docker = Docker::connect_to(&local).await?;
        docker.address = target.address;
        docker.reach = reach_for(&docker.address);
        docker._tunnel = Some(std::sync::Arc::new(tunnel));
        Ok(docker)
    }

    /// Connects to the engine at `address` (`unix:///path` or `tcp://host:port`),
    /// negotiates the API version down to the engine's and pings it.
    pub async fn connect_to(address: &str) -> Result<Docker, DockerError> {
        Docker::connect_with(address, None).await
    }

    /// [`Docker::connect_to`] with `tls` (a context's material), else the
    /// TLS the `--tls*` flags or the environment ask for.
    async fn connect_with(address: &str, tls: Option<target::Tls>) -> Result<Docker, DockerError> {
        let unreachable = |reason: String| DockerError::Unreachable {
            address: address.to_string(),
            reason: one_line(&reason),
        };
        let tls = match tls {
            Some(t) => Some(t),
            None => target::tls_material(address).map_err(unreachable)?,
        };
        let connected = match &tls {
            Some(t) => bollard::Docker::connect_with_ssl(
                address,
                &t.key,
                &t.cert,
                &t.ca,
                120,
                bollard::API_DEFAULT_VERSION,
            ),
            None => bollard::Docker::connect_with_host(address),
        };
        let client = connected.map_err(|e| match e {
            bollard::errors::Error::SocketNotFoundError(path) => {
                unreachable(format!("no socket at {path}"))
            }
            bollard::errors::Error::UnsupportedURISchemeError { .. } => {
                unreachable("unsupported address (use unix:///path, tcp://host:port, ssh://user@host or a Docker context name)".into())
            }
            other => unreachable(error_chain(&other)),
        })?;
        let handshake = async {
            let client = client.negotiate_version().await?;
            client.ping().await?;
            Ok::<_, bollard::errors::Error>(client)
        };
        let client = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(unreachable(root_cause(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        };
        Ok(Docker {
            client,
            address: address.to_string(),
            reach: reach_for(address),
            swarm: None,
            _tunnel: None,
        })
    }

    /// The engine's ID and host name (`docker info`).
    pub async fn identity(&self) -> Result<(String, String), DockerError> {
        let info = self
            .client
            .info()
            .await
            .map_err(|e| engine_error("read the engine's identity", &e))?;
        Ok((info.id.unwrap_or_default(), info.name.unwrap_or_default()))
    }

    /// Connects as [`Docker::connect_target`] and refuses an engine other
    /// than `recorded` (the ID an environment's state recorded).
    pub async fn connect_checked(
        chosen: Option<&str>,
        recorded: Option<(&str, &str)>,
    ) -> Result<Docker, DockerError> {
        let docker = Docker::connect_target(chosen).await?;
        let Some((id, name)) = recorded.filter(|(id, _)| !id.is_empty()) else {
            return Ok(docker);
        };
        let (found, found_name) = docker.identity().await?;
        if found != id {
            return Err(DockerError::OtherEngine {
                recorded: format!("{name} ({})", short(id)),
                found: format!("{found_name} ({}) at {}", short(&found), docker.address),
            });
        }
        Ok(docker)
    }

    /// How this connection's probes and hooks reach containers.
    pub fn reach(&self) -> agent::Reach {
        self.reach
    }

    /// The address this connection was made to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        let v = self.client.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }
}

/// The message of an error and of its sources, deduplicated, on one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// The innermost message of an error chain (e.g. "Connection refused (os error 111)").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    one_line(&current.to_string())
}

/// The engine's HTTP status for an error, if it came from the engine.
fn status_of(err: &bollard::errors::Error) -> Option<u16> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn is_not_found(err: &bollard::errors::Error) -> bool {
    status_of(err) == Some(404)
}

/// The user-facing reason of an engine error: the engine's own message when
/// there is one, else the error chain.
fn reason_of(err: &bollard::errors::Error) -> String {
    match err {
        bollard::errors::Error::DockerResponseServerError { message, .. } => one_line(message),
        bollard::errors::Error::DockerStreamError { error } => one_line(error),
        other => error_chain(other),
    }
}

/// A [`DockerError::Engine`] for a failed `action` ("create network `x`").
fn engine_error(action: impl Into<String>, err: &bollard::errors::Error) -> DockerError {
    DockerError::Engine {
        action: action.into(),
        reason: reason_of(err),
    }
}

/// The `filters` query parameter selecting objects carrying all `labels`
/// (`key=value`; an empty value only requires the key to be present).
fn label_filter_query(labels: &[(&str, &str)]) -> std::collections::HashMap<String, Vec<String>> {
    let mut filters = std::collections::HashMap::new();
    if !labels.is_empty() {
        filters.insert(
            "label".to_string(),
            labels
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.to_string()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect(),
        );
    }
    filters
}
