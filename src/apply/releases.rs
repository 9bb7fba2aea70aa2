//! A service's releases: what a service node runs (its declared definition
//! and the image built from its context, or in a rollback plan a recorded
//! release, run as it is), and the earlier releases an apply records in the
//! state ([`crate::state::releases`]), pruning the images the plan names.

use super::error::StepError;
use super::naming;
use super::steps::Shared;
use crate::descriptor::model::ServiceDef;
use crate::plan::Change;
use crate::state::releases::next;
use crate::state::{ServiceConfig, ServiceRelease, ServiceState, State};

/// What a service node runs.
pub struct Source {
    pub def: ServiceDef,
    pub context: String,
    pub image: String,
    /// A rollback: the image exists and is run as it is (never built).
    pub rollback: bool,
}

/// The definition, context hash and image the node runs: the declared
/// ones, or the recorded release a rollback plan names, whose image must
/// still be the one recorded.
pub async fn source(sh: &Shared, state: &State, change: &Change) -> Result<Source, StepError> {
    let name = &change.name;
    let Some(wanted) = &change.release else {
        let context = sh.project.contexts.get(name).cloned().unwrap_or_default();
        return Ok(Source {
            def: sh.project.compartment.services[name].clone(),
            image: super::swarm::registry_image(
                sh,
                naming::service_image(sh.project_name(), name, &context),
            ),
            context,
            rollback: false,
        });
    };
    let release = state
        .services
        .get(name)
        .and_then(|s| s.releases.iter().find(|r| r.image == wanted.image))
        .ok_or_else(|| StepError::ReleaseGone {
            image: wanted.image.clone(),
            why: "the state no longer records it".into(),
        })?;
    let gone = |why: &str| StepError::ReleaseGone {
        image: release.image.clone(),
        why: why.into(),
    };
    match sh.docker.image_id(&release.image).await? {
        None => return Err(gone("the image is gone from the engine (pruned or removed); an older build context cannot be rebuilt")),
        Some(id) if !release.image_id.is_empty() && id != release.image_id => {
            return Err(gone("its tag now names another image than the one that ran"))
        }
        Some(_) => {}
    }
    Ok(Source {
        def: ServiceDef::from(&release.definition),
        context: release.context_hash.clone(),
        image: release.image.clone(),
        rollback: true,
    })
}

/// Records the releases of the service `prior` was and removes the images
/// the plan said are pruned (an image another container uses stays).
/// Returns the releases and a warning per image that could not be removed.
pub async fn record(
    sh: &Shared,
    prior: Option<&ServiceState>,
    (image, context): (&str, &str),
    definition: &ServiceConfig,
    prune: &[String],
) -> (Vec<ServiceRelease>, Vec<String>) {
    let prior_id = match prior {
        Some(p) if p.image != image => sh.docker.image_id(&p.image).await.ok().flatten(),
        _ => None,
    };
    let now = crate::support::time::now_rfc3339();
    let (kept, _) = next(
        prior,
        prior_id.unwrap_or_default(),
        context,
        definition,
        &now,
    );
    let mut warnings = Vec::new();
    // What the plan said, never an image a kept release or the new one runs.
    let needed = |i: &String| i == image || kept.iter().any(|k| &k.image == i);
    for old in prune.iter().filter(|i| !needed(i)) {
        if let Err(e) = sh.docker.remove_image_unless_used(old).await {
            warnings.push(format!(
                "could not prune the image {old} of an old release: {e}"
            ));
        }
    }
    (kept, warnings)
}
