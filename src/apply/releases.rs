//! A service's releases: what a service node runs (its declared definition
//! and the image built from its context, or in a rollback plan a recorded
//! release, run as it is), and the list of earlier releases an apply keeps
//! in the state (newest first, at most [`KEEP_RELEASES`]), pruning the
//! images no kept release needs.

use super::error::StepError;
use super::naming;
use super::steps::Shared;
use crate::descriptor::model::ServiceDef;
use crate::plan::Change;
use crate::state::{ServiceConfig, ServiceRelease, ServiceState, State, KEEP_RELEASES};

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
            image: naming::service_image(sh.project_name(), name, &context),
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

/// The releases to record once `prior` was replaced by `image` running
/// `definition` at `now`, and the images no release needs any more. A
/// release identical to the new one (a rollback returning to it) leaves
/// the list.
pub fn next(
    prior: Option<&ServiceState>,
    prior_image_id: String,
    image: &str,
    definition: &ServiceConfig,
    now: &str,
) -> (Vec<ServiceRelease>, Vec<String>) {
    let Some(prior) = prior else {
        return (Vec::new(), Vec::new());
    };
    if prior.image == image && prior.applied.definition == *definition {
        return (prior.releases.clone(), Vec::new());
    }
    let replaced = ServiceRelease {
        image: prior.image.clone(),
        image_id: prior_image_id,
        context_hash: prior.context_hash.clone(),
        definition: prior.applied.definition.clone(),
        applied_at: prior.applied.applied_at.clone(),
        replaced_at: now.to_string(),
    };
    let mut all = vec![replaced];
    all.extend(prior.releases.iter().cloned());
    let mut kept: Vec<ServiceRelease> = Vec::new();
    for r in &all {
        let current = r.image == image && r.definition == *definition;
        let seen = kept
            .iter()
            .any(|k| k.image == r.image && k.definition == r.definition);
        if !current && !seen && !r.image.is_empty() {
            kept.push(r.clone());
        }
    }
    kept.truncate(KEEP_RELEASES);
    let mut dropped: Vec<String> = all
        .iter()
        .map(|r| r.image.clone())
        .filter(|i| !i.is_empty() && i != image && !kept.iter().any(|k| &k.image == i))
        .collect();
    dropped.sort();
    dropped.dedup();
    (kept, dropped)
}

/// Records the releases of the service `prior` was and removes the images
/// no kept release needs (an image another container uses stays). Returns
/// the releases and a warning per image that could not be removed.
pub async fn record(
    sh: &Shared,
    prior: Option<&ServiceState>,
    image: &str,
    definition: &ServiceConfig,
) -> (Vec<ServiceRelease>, Vec<String>) {
    let prior_id = match prior {
        Some(p) if p.image != image => sh.docker.image_id(&p.image).await.ok().flatten(),
        _ => None,
    };
    let now = crate::support::time::now_rfc3339();
    let (kept, dropped) = next(prior, prior_id.unwrap_or_default(), image, definition, &now);
    let mut warnings = Vec::new();
    for old in dropped {
        if let Err(e) = sh.docker.remove_image_unless_used(&old).await {
            warnings.push(format!(
                "could not prune the image {old} of an old release: {e}"
            ));
        }
    }
    (kept, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Applied;

    fn config(path: &str) -> ServiceConfig {
        ServiceConfig {
            path: path.into(),
            connections: Default::default(),
            build: Default::default(),
            ingress: None,
            readiness: None,
            stop_grace_period: None,
        }
    }

    fn service(image: &str, releases: Vec<ServiceRelease>) -> ServiceState {
        ServiceState {
            applied: Applied {
                definition: config("web"),
                config_digest: String::new(),
                container_name: "c".into(),
                container_id: "id".into(),
                depends_on: Default::default(),
                applied_at: Some(format!("applied {image}")),
                applied_variables: None,
            },
            context_hash: image.rsplit(':').next().unwrap().into(),
            image: image.into(),
            inputs: None,
            releases,
        }
    }

    fn images(rs: &[ServiceRelease]) -> Vec<&str> {
        rs.iter().map(|r| r.image.as_str()).collect()
    }

    #[test]
    fn each_replace_records_the_release_it_replaced_and_keeps_three() {
        let web = config("web");
        let (r1, _) = next(
            Some(&service("w:1", vec![])),
            "sha256:1".into(),
            "w:2",
            &web,
            "t2",
        );
        assert_eq!(images(&r1), ["w:1"]);
        assert_eq!(
            (r1[0].image_id.as_str(), r1[0].replaced_at.as_str()),
            ("sha256:1", "t2")
        );
        assert_eq!(r1[0].applied_at.as_deref(), Some("applied w:1"));
        let (r2, _) = next(Some(&service("w:2", r1)), String::new(), "w:3", &web, "t3");
        let (r3, _) = next(Some(&service("w:3", r2)), String::new(), "w:4", &web, "t4");
        let (r4, dropped) = next(Some(&service("w:4", r3)), String::new(), "w:5", &web, "t5");
        assert_eq!(images(&r4), ["w:4", "w:3", "w:2"]);
        assert_eq!(dropped, ["w:1"]);
        // Unchanged: nothing recorded, nothing pruned.
        let (same, dropped) = next(
            Some(&service("w:5", r4.clone())),
            String::new(),
            "w:5",
            &web,
            "t6",
        );
        assert_eq!((same, dropped), (r4, vec![]));
    }

    #[test]
    fn a_rollback_swaps_the_current_release_with_the_one_it_returns_to() {
        let web = config("web");
        let releases = vec![next(
            Some(&service("w:1", vec![])),
            String::new(),
            "w:2",
            &web,
            "t",
        )
        .0[0]
            .clone()];
        let (back, dropped) = next(
            Some(&service("w:2", releases)),
            String::new(),
            "w:1",
            &web,
            "t",
        );
        assert_eq!(images(&back), ["w:2"]);
        assert!(dropped.is_empty());
        // A definition change on the same image is a release too.
        let (env_change, dropped) = next(
            Some(&service("w:2", vec![])),
            String::new(),
            "w:2",
            &config("other"),
            "t",
        );
        assert_eq!(images(&env_change), ["w:2"]);
        assert!(dropped.is_empty(), "the image still runs");
    }
}
