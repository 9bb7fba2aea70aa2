//! A service's earlier releases: the list an apply records in the state
//! when it replaces a service's build or definition (newest first, at most
//! the service's `keepReleases`, [`KEEP_RELEASES`] by default, a release identical to the new one left out), and the
//! images no kept release needs, which the plan names and apply prunes.
//! Pure: the planner and apply both use it.

use super::{ServiceConfig, ServiceRelease, ServiceState, KEEP_RELEASES};

/// The releases to record once `prior` is replaced by the build of
/// `context` running `definition` at `now`, and the images no release
/// needs any more (what apply prunes). A release identical to the new one
/// (a rollback returning to it) leaves the list.
pub fn next(
    prior: Option<&ServiceState>,
    prior_image_id: String,
    context: &str,
    definition: &ServiceConfig,
    now: &str,
) -> (Vec<ServiceRelease>, Vec<String>) {
    let Some(prior) = prior else {
        return (Vec::new(), Vec::new());
    };
    if prior.context_hash == context && prior.applied.definition == *definition {
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
        let current = r.context_hash == context && r.definition == *definition;
        let seen = kept
            .iter()
            .any(|k| k.context_hash == r.context_hash && k.definition == r.definition);
        if !current && !seen && !r.image.is_empty() {
            kept.push(r.clone());
        }
    }
    let keep = definition
        .keep_releases
        .map_or(KEEP_RELEASES, |k| k as usize);
    kept.truncate(keep);
    let needed =
        |r: &ServiceRelease| r.context_hash == context || kept.iter().any(|k| k.image == r.image);
    let mut dropped: Vec<String> = all
        .iter()
        .filter(|r| !r.image.is_empty() && !needed(r))
        .map(|r| r.image.clone())
        .collect();
    dropped.sort();
    dropped.dedup();
    (kept, dropped)
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
            keep_releases: None,
            replicas: None,
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
                variable_versions: None,
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
            "2",
            &web,
            "t2",
        );
        assert_eq!(images(&r1), ["w:1"]);
        assert_eq!(
            (r1[0].image_id.as_str(), r1[0].replaced_at.as_str()),
            ("sha256:1", "t2")
        );
        assert_eq!(r1[0].applied_at.as_deref(), Some("applied w:1"));
        let (r2, _) = next(Some(&service("w:2", r1)), String::new(), "3", &web, "t3");
        let (r3, _) = next(Some(&service("w:3", r2)), String::new(), "4", &web, "t4");
        let (r4, dropped) = next(Some(&service("w:4", r3)), String::new(), "5", &web, "t5");
        assert_eq!(images(&r4), ["w:4", "w:3", "w:2"]);
        assert_eq!(dropped, ["w:1"]);
        // Unchanged: nothing recorded, nothing pruned.
        let (same, dropped) = next(
            Some(&service("w:5", r4.clone())),
            String::new(),
            "5",
            &web,
            "t6",
        );
        assert_eq!((same, dropped), (r4, vec![]));
    }

    #[test]
    fn keep_releases_sets_how_many_are_kept() {
        let mut web = config("web");
        web.keep_releases = Some(1);
        let (r1, _) = next(
            Some(&service("w:1", vec![])),
            String::new(),
            "2",
            &web,
            "t2",
        );
        let (r2, dropped) = next(Some(&service("w:2", r1)), String::new(), "3", &web, "t3");
        assert_eq!(
            (images(&r2), dropped),
            (vec!["w:2"], vec!["w:1".to_string()])
        );
        web.keep_releases = Some(0);
        let (r3, dropped) = next(Some(&service("w:3", r2)), String::new(), "4", &web, "t4");
        assert!(r3.is_empty());
        assert_eq!(dropped, ["w:2", "w:3"]);
    }

    #[test]
    fn a_rollback_swaps_the_current_release_with_the_one_it_returns_to() {
        let web = config("web");
        let releases =
            vec![next(Some(&service("w:1", vec![])), String::new(), "2", &web, "t").0[0].clone()];
        let (back, dropped) = next(
            Some(&service("w:2", releases)),
            String::new(),
            "1",
            &web,
            "t",
        );
        assert_eq!(images(&back), ["w:2"]);
        assert!(dropped.is_empty());
        // A definition change on the same image is a release too.
        let (env_change, dropped) = next(
            Some(&service("w:2", vec![])),
            String::new(),
            "2",
            &config("other"),
            "t",
        );
        assert_eq!(images(&env_change), ["w:2"]);
        assert!(dropped.is_empty(), "the image still runs");
    }
}
