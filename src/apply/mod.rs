//! Apply: executing a plan against the Docker engine. `executor` walks the
//! plan graph, `steps` is what each node does, `hooks` the lifecycle
//! callbacks, `env` runtime environments and outputs, `naming` the engine
//! object names, `refresh` drift detection, `progress` live output, `intent` the
//! durable record of a create made before its Docker objects, `releases`
//! what a service node runs and the earlier releases it keeps, `rollout`
//! the start-first replace of a service's container, `run`
//! the whole command (locks, staleness, confirmation, execution), `error`
//! its typed failures.

pub mod env;
pub mod error;
pub mod executor;
pub mod hooks;
pub mod intent;
pub mod naming;
pub mod progress;
pub mod refresh;
pub mod releases;
pub mod rollout;
pub mod run;
pub mod steps;
pub mod swarm;
pub mod teardown;

pub use error::{ApplyError, StepError};
pub use run::{run, Answer, Applied, ApplyReport, ApplyRequest, Ui};

use crate::docker::{labels, Docker, DockerError};
use crate::state::secrets::SecretKey;
use crate::state::{NetworkState, State};

/// Before any node: the environment's network and hook secret exist.
/// Returns whether the state changed.
pub async fn prepare(
    docker: &Docker,
    key: &SecretKey,
    project: &str,
    env: &str,
    state: &mut State,
) -> Result<bool, DockerError> {
    let mut changed = false;
    let name = naming::network(project, env);
    let net_labels = labels::standard(project, env, labels::KIND_NETWORK, &name);
    let id = docker.ensure_network(&name, &net_labels).await?;
    let net = NetworkState { name, id };
    if state.network.as_ref() != Some(&net) {
        state.network = Some(net);
        changed = true;
    }
    if state.engine.is_none() {
        let (id, name) = docker.identity().await?;
        state.engine = Some(crate::state::EngineRecord {
            id,
            name,
            address: docker.address().to_string(),
        });
        changed = true;
    }
    if state.hook_secret.is_none() {
        let secret = env::generate_token(32, "base64url");
        state.hook_secret = Some(key.seal(&env::hook_secret_identity(project, env), &secret));
        changed = true;
    }
    Ok(changed)
}
