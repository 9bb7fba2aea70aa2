//! The rollback planner (`compartment rollback [SERVICE…] [--to R]`): each
//! service asked for (every service with a recorded release when none is)
//! returns to a release an earlier apply replaced, as an ordinary plan: a
//! replace per service naming the release, with the differences between
//! what runs and what will run. Pure, like the planner. What cannot be
//! rolled back (a service that is not deployed, has no earlier release, or
//! no release matching `--to`) is a blocker, so the plan says it and is not
//! applied.

use super::planner::{diff_values, new_change, order, summarise, CycleError, Input};
use super::{Action, Blocker, Change, FieldChange, Kind, Mode, Plan, ReleaseRef, FORMAT_VERSION};
use crate::state::{ServiceRelease, ServiceState};
use std::collections::BTreeMap;

/// The rollback plan of `services` (all with a release when empty) to the
/// release `to` selects (the previous one when `None`).
pub fn plan(input: &Input, services: &[String], to: Option<&str>) -> Result<Plan, CycleError> {
    let st = input.state;
    let names: Vec<String> = match services {
        [] => st
            .services
            .iter()
            .filter(|(_, s)| !s.releases.is_empty())
            .map(|(n, _)| n.clone())
            .collect(),
        some => some.to_vec(),
    };
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    let mut blocked = Vec::new();
    for name in &names {
        match target(st.services.get(name), name, to) {
            Ok((current, release)) => {
                let ch = change(name, current, release);
                changes.insert(ch.address.clone(), ch);
            }
            Err(blocker) => blocked.push(blocker),
        }
    }
    if names.is_empty() {
        blocked.push(Blocker {
            address: "service.*".into(),
            reason: "no-release".into(),
            message: "no service of this environment has an earlier release to return to".into(),
            help: Some(
                "a release is recorded when an apply replaces a service's image or definition"
                    .into(),
            ),
        });
    }
    let ordered = order::order(input, changes.into_values().collect(), &BTreeMap::new())?;
    Ok(Plan {
        format_version: FORMAT_VERSION,
        project: input.project.compartment.name.clone(),
        environment: input.environment.into(),
        prior_state: super::planner::prior_state(input),
        inputs: input.project.inputs.clone(),
        summary: summarise(&ordered, blocked.len()),
        changes: ordered,
        blocked,
        warnings: Vec::new(),
        mode: Mode::Rollback {
            services: services.to_vec(),
            to: to.map(str::to_string),
        },
        teardown: None,
        targets: Vec::new(),
        engine: None,
        orchestrator: None,
        registry: None,
    })
}

/// The service's record and the release `to` selects, or why there is none.
fn target<'s>(
    service: Option<&'s ServiceState>,
    name: &str,
    to: Option<&str>,
) -> Result<(&'s ServiceState, &'s ServiceRelease), Blocker> {
    let blocker = |reason: &str, message: String, help: &str| Blocker {
        address: format!("service.{name}"),
        reason: reason.into(),
        message,
        help: Some(help.into()),
    };
    let Some(current) = service else {
        return Err(blocker(
            "not-deployed",
            format!("service `{name}` is not deployed in this environment"),
            "`compartment service list` names the deployed services",
        ));
    };
    if current.releases.is_empty() {
        return Err(blocker(
            "no-release",
            format!("service `{name}` has no earlier release to return to"),
            "a release is recorded when an apply replaces the service's image or definition",
        ));
    }
    let found = match to {
        None => current.releases.first(),
        Some(sel) => select(&current.releases, sel),
    };
    found.map(|r| (current, r)).ok_or_else(|| {
        let known: Vec<String> = current
            .releases
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{} ({})", i + 1, r.image))
            .collect();
        blocker(
            "unknown-release",
            format!(
                "service `{name}` has no release `{}`",
                to.unwrap_or_default()
            ),
            &format!(
                "--to takes a release number, its image or a prefix of its context hash (4 characters at least); recorded: {}",
                known.join(", ")
            ),
        )
    })
}

/// `1` is the newest recorded release; otherwise an image tag, or a
/// context-hash prefix of at least 4 characters naming one release.
fn select<'r>(releases: &'r [ServiceRelease], sel: &str) -> Option<&'r ServiceRelease> {
    if let Ok(n) = sel.parse::<usize>() {
        if (1..=releases.len()).contains(&n) && sel.len() < 4 {
            return releases.get(n - 1);
        }
    }
    if let Some(r) = releases.iter().find(|r| r.image == sel) {
        return Some(r);
    }
    let mut by_hash = releases
        .iter()
        .filter(|r| sel.len() >= 4 && r.context_hash.starts_with(sel));
    match (by_hash.next(), by_hash.next()) {
        (Some(r), None) => Some(r),
        _ => None,
    }
}

/// The replace that runs `release` again, with what differs from what runs.
fn change(name: &str, current: &ServiceState, release: &ServiceRelease) -> Change {
    let address = format!("service.{name}");
    let mut ch = new_change(&address, Kind::Service, name, Action::Replace);
    let when = release
        .applied_at
        .as_deref()
        .unwrap_or("an unrecorded time");
    ch.reason = Some(format!(
        "rollback to the release applied at {when} (image {})",
        release.image
    ));
    if current.context_hash != release.context_hash {
        ch.diff.push(FieldChange {
            path: "contextHash".into(),
            before: Some(current.context_hash.clone().into()),
            after: Some(release.context_hash.clone().into()),
            sensitive: false,
            forces_replacement: true,
            unchanged: false,
        });
    }
    let before = serde_json::to_value(&current.applied.definition).expect("serialises");
    let after = serde_json::to_value(&release.definition).expect("serialises");
    diff_values("", Some(&before), Some(&after), &mut ch.diff);
    let (_, prune) = crate::state::releases::next(
        Some(current),
        String::new(),
        &release.context_hash,
        &release.definition,
        "",
    );
    ch.prune_images = prune;
    ch.release = Some(ReleaseRef {
        image: release.image.clone(),
        context_hash: release.context_hash.clone(),
        applied_at: release.applied_at.clone(),
    });
    ch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(image: &str, hash: &str) -> ServiceRelease {
        ServiceRelease {
            image: image.into(),
            image_id: String::new(),
            context_hash: hash.into(),
            definition: crate::state::ServiceConfig {
                path: "web".into(),
                connections: BTreeMap::new(),
                build: Default::default(),
                ingress: None,
                readiness: None,
                stop_grace_period: None,
                keep_releases: None,
                replicas: None,
            },
            applied_at: None,
            replaced_at: "t".into(),
        }
    }

    #[test]
    fn a_release_is_selected_by_number_image_or_hash_prefix() {
        let rs = [
            release("p-web:aaaa1111", "aaaa1111"),
            release("p-web:aaaa2222", "aaaa2222"),
            release("p-web:bbbb3333", "bbbb3333"),
        ];
        let image = |r: Option<&ServiceRelease>| r.map(|r| r.image.clone());
        assert_eq!(image(select(&rs, "1")), Some("p-web:aaaa1111".into()));
        assert_eq!(image(select(&rs, "3")), Some("p-web:bbbb3333".into()));
        assert_eq!(image(select(&rs, "4")), None);
        assert_eq!(image(select(&rs, "0")), None);
        assert_eq!(
            image(select(&rs, "p-web:aaaa2222")),
            Some("p-web:aaaa2222".into())
        );
        assert_eq!(image(select(&rs, "bbbb")), Some("p-web:bbbb3333".into()));
        // Ambiguous or too short a prefix selects nothing.
        assert_eq!(image(select(&rs, "aaaa")), None);
        assert_eq!(image(select(&rs, "bbb")), None);
    }
}
