//! The typed errors of the Docker runtime: every failure the engine (or the
//! local build context) can produce, each displayed as one clear line for a user.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while talking to the Docker engine.
///
/// `Display` is always a single line (engine messages are flattened), suitable
/// for printing after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answers at `address`.
    #[error(
        "cannot reach the Docker engine at {address}: {reason} (is it running? set DOCKER_HOST)"
    )]
    Unreachable { address: String, reason: String },

    /// The image is missing locally and pulling it failed.
    #[error("image `{image}` is not present on the engine at {engine} and it could not pull it: {reason}")]
    Pull {
        image: String,
        engine: String,
        reason: String,
    },

    /// `docker build` failed; `reason` names the failing step and its message.
    #[error("building image `{tag}` failed: {reason}")]
    Build { tag: String, reason: String },

    /// The build context could not be read or packed.
    #[error("cannot read the build context {}: {source}", .path.display())]
    BuildContext {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `create_and_start`/`run_to_completion` found a container with that name.
    #[error("a container named `{name}` already exists (remove it first)")]
    ContainerExists { name: String },

    /// The container an operation needs does not exist.
    #[error("no container named `{name}`")]
    NoSuchContainer { name: String },

    /// Nothing accepted a TCP connection on `host:port` in time.
    #[error("{host}:{port} did not accept a TCP connection within {:.1}s (last attempt: {last_error})", .waited.as_secs_f64())]
    ReadinessTimeout {
        host: String,
        port: u16,
        waited: Duration,
        last_error: String,
    },

    /// The environment lives on another engine than the one connected to.
    #[error("this environment was applied to the engine {recorded}, but this command is connected to {found}; choose its engine with --remote or `environments.<env>.remote` in compartment.yml (to move the environment to this engine on purpose, delete `engine` from its state file)")]
    OtherEngine { recorded: String, found: String },

    /// A Docker context named by `--remote`, `DOCKER_CONTEXT` or the docker
    /// CLI's configuration does not exist or names no engine.
    #[error("Docker context `{name}` cannot be used: {why} (`docker context ls` lists them)")]
    UnknownContext { name: String, why: String },

    /// This build of compartment has no probe agent, which an engine on
    /// another machine needs.
    #[error("this build of compartment has no probe agent (build.rs could not link agent/probe.rs statically), so containers on an engine on another machine cannot be probed; rebuild with a Rust toolchain that links static glibc, or set COMPARTMENT_PROBE=direct when the containers' addresses are routable from here")]
    NoAgent,

    /// A readiness probe did not pass in time (or the container stopped).
    #[error("{what} did not pass within {:.1}s (last answer: {last})", .waited.as_secs_f64())]
    NotReady {
        container: String,
        what: String,
        waited: Duration,
        last: String,
    },

    /// A [`ContainerSpec`](super::ContainerSpec) the engine cannot express.
    #[error("invalid container specification for `{name}`: {reason}")]
    InvalidSpec { name: String, reason: String },

    /// A swarm environment's engine does not manage a swarm.
    #[error("the engine at {address} cannot run a swarm environment: {why}")]
    NotSwarmManager { address: String, why: String },

    /// A swarm service did not reach its declared tasks, or its update
    /// failed (and was rolled back when it could be).
    #[error("swarm service `{service}` {what}")]
    ServiceFailed { service: String, what: String },

    /// On a swarm, a command needs a task's container, but the service
    /// runs no task.
    #[error("swarm service `{service}` runs no task to run the command in; `compartment plan --refresh` says why, `apply` starts it again")]
    NoRunningTask { service: String },

    /// Any other refusal or failure reported by the engine.
    #[error("the Docker engine failed to {action}: {reason}")]
    Engine { action: String, reason: String },
}

/// Flattens a (possibly multi-line) message into one trimmed line.
pub(super) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
