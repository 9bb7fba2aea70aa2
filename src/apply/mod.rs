//! Apply: executing a plan against the Docker engine. `executor` walks the
//! plan graph, `steps` is what each node does, `hooks` the lifecycle
//! callbacks, `env` runtime environments and outputs, `naming` the engine
//! object names, `refresh` drift detection, `progress` live output.

pub mod env;
pub mod executor;
pub mod hooks;
pub mod naming;
pub mod progress;
pub mod refresh;
pub mod steps;

use crate::docker::{labels, Docker};
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
) -> Result<bool, String> {
    let mut changed = false;
    let name = naming::network(project, env);
    let net_labels = labels::standard(project, env, labels::KIND_NETWORK, &name);
    let id = docker
        .ensure_network(&name, &net_labels)
        .await
        .map_err(|e| e.to_string())?;
    let net = NetworkState { name, id };
    if state.network.as_ref() != Some(&net) {
        state.network = Some(net);
        changed = true;
    }
    if state.hook_secret.is_none() {
        let secret = env::generate_token(32, "base64url");
        state.hook_secret = Some(key.seal(&env::hook_secret_identity(project, env), &secret));
        changed = true;
    }
    Ok(changed)
}
