//! The end of a destroy: once every node is gone, the service images built
//! for the environment (each kept, with a warning, while another container
//! still uses it: environments can share an image) and the environment's
//! network; the state then records no network.

use super::error::StepError;
use super::executor::Outcome;
use super::steps::Shared;
use crate::plan::Teardown;
use crate::state::store::StateStore;
use crate::state::State;

/// Removes what `teardown` names, reporting through `outcome`.
pub async fn run(
    sh: &Shared,
    teardown: &Teardown,
    store: &StateStore,
    state: &mut State,
    outcome: &mut Outcome,
) {
    for image in &teardown.images {
        let address = format!("image.{image}");
        sh.progress.start(&address, "removing the image");
        match sh.docker.remove_image_unless_used(image).await {
            Ok(true) => {
                sh.progress.finish(&address, true, "removed");
                outcome.removed.push(address);
            }
            Ok(false) => {
                sh.progress
                    .finish(&address, true, "kept: another container uses it");
                outcome
                    .warnings
                    .push((address, "kept: another container uses it".into()));
            }
            Err(e) => {
                sh.progress.finish(&address, false, &format!("failed: {e}"));
                outcome.failed.push((address, StepError::Docker(e)));
            }
        }
    }
    if let Some(network) = &teardown.network {
        let address = format!("network.{network}");
        sh.progress.start(&address, "removing the network");
        match sh.docker.remove_network(network).await {
            Ok(()) => {
                sh.progress.finish(&address, true, "removed");
                outcome.removed.push(address);
                state.network = None;
                if let Err(e) = store.save(state) {
                    outcome.save_error = Some(e);
                }
            }
            Err(e) => {
                sh.progress.finish(&address, false, &format!("failed: {e}"));
                outcome.failed.push((address, StepError::Docker(e)));
            }
        }
    }
}
