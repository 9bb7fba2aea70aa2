//! A service's container brought to its new configuration. When an old
//! container is running, the replace is start-first, like Kamal's and
//! Swarm's: the new container starts beside it under a temporary name and
//! without the service's alias, must pass its readiness, then takes the
//! alias (both answer for a moment), and only then is the old one stopped
//! with the service's grace period and removed; the new one takes the
//! canonical name. If the new container never gets ready, it is removed
//! with its last log lines in the failure and the old one keeps serving.
//! Without a running old container it is the plain stop-then-start of
//! [`super::steps::converge_container`].

use super::error::StepError;
use super::steps::{self, converge_container, readiness_probe, wait_ready, Shared};
use crate::descriptor::model::Readiness;
use crate::docker::{labels, ContainerSpec};
use crate::plan::Action;

/// How many of the new container's log lines a failed replace shows.
const LOG_LINES: usize = 10;

/// What a service waits for and how it stops.
pub struct Rollout<'a> {
    pub declared: Option<&'a Readiness>,
    pub ingress: Option<u16>,
    pub grace_secs: u32,
}

/// Converges the service container of `spec` (start-first when an old one
/// runs) and waits for its readiness. Returns (container id, configuration
/// hash, whether a new container was started, whether it started beside
/// the old one).
pub async fn service_container(
    sh: &Shared,
    address: &str,
    mut spec: ContainerSpec,
    action: Action,
    how: &Rollout<'_>,
) -> Result<(String, String, bool, bool), StepError> {
    spec.stop_timeout = Some(how.grace_secs);
    // On a swarm, the swarm's own rolling update starts each new task
    // first (and rolls back a failed update).
    if sh.docker.on_swarm() {
        let existed = sh.docker.inspect_container(&spec.name).await?.is_some();
        let name = spec.name.clone();
        let (id, hash, recreated) = converge_container(sh, address, spec, action).await?;
        if let Some(probe) = readiness_probe(sh, &name, how.declared, how.ingress).await? {
            wait_ready(sh, address, &name, &probe).await?;
        }
        return Ok((id, hash, recreated, recreated && existed));
    }
    let hash = steps::config_hash(&spec);
    // A leftover of an interrupted replace never finished: it goes.
    let next = format!("{}-next", spec.name);
    sh.docker.remove_container(&next, true).await?;
    let old = match action {
        Action::Create => None,
        _ => sh.docker.inspect_container(&spec.name).await?,
    };
    let outdated = old.as_ref().is_some_and(|c| {
        c.running
            && (action == Action::Replace || c.labels.get(labels::DEFINITION_HASH) != Some(&hash))
    });
    if !outdated {
        let (id, hash, recreated) = converge_container(sh, address, spec.clone(), action).await?;
        if let Some(probe) = readiness_probe(sh, &spec.name, how.declared, how.ingress).await? {
            wait_ready(sh, address, &spec.name, &probe).await?;
        }
        return Ok((id, hash, recreated, false));
    }
    spec.labels
        .insert(labels::DEFINITION_HASH.into(), hash.clone());
    let id = start_beside(sh, address, &spec, how).await?;
    Ok((id, hash, true, true))
}

/// The start-first replace of a running container by `spec`.
async fn start_beside(
    sh: &Shared,
    address: &str,
    spec: &ContainerSpec,
    how: &Rollout<'_>,
) -> Result<String, StepError> {
    let next = format!("{}-next", spec.name);
    let mut staged = spec.clone();
    staged.name = next.clone();
    staged.aliases = Vec::new();
    sh.progress
        .step(address, "starting the new container beside the old one");
    let id = sh.docker.create_and_start(&staged).await?;
    ready_or_removed(sh, address, &next, how, &spec.env).await?;
    let network = spec.network.clone().unwrap_or_default();
    if !spec.aliases.is_empty() {
        sh.progress.step(
            address,
            &format!("moving {} to the new container", spec.aliases.join(", ")),
        );
        sh.docker.disconnect_network(&next, &network).await?;
        sh.docker
            .connect_network(&next, &network, &spec.aliases)
            .await?;
    }
    sh.progress.step(
        address,
        &format!(
            "stopping the old container (grace period {}s)",
            how.grace_secs
        ),
    );
    sh.docker
        .stop_container(&spec.name, how.grace_secs)
        .await
        .ok();
    sh.docker.remove_container(&spec.name, true).await?;
    sh.docker.rename_container(&next, &spec.name).await?;
    Ok(id)
}

/// Waits for the new container; when it never gets ready, removes it and
/// fails with its last log lines (every environment value redacted: the
/// old container is untouched and keeps serving).
async fn ready_or_removed(
    sh: &Shared,
    address: &str,
    next: &str,
    how: &Rollout<'_>,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<(), StepError> {
    let Some(probe) = readiness_probe(sh, next, how.declared, how.ingress).await? else {
        return Ok(());
    };
    let Err(e) = wait_ready(sh, address, next, &probe).await else {
        return Ok(());
    };
    let lines = sh
        .docker
        .last_log_lines(next, LOG_LINES)
        .await
        .unwrap_or_default();
    sh.docker.remove_container(next, true).await.ok();
    let secrets: Vec<&str> = env
        .values()
        .map(String::as_str)
        .filter(|v| v.len() >= 6)
        .collect();
    Err(StepError::ReplaceNotReady {
        source: Box::new(e),
        logs: lines.iter().map(|l| redact(l, &secrets)).collect(),
    })
}

/// `line` with every value of `secrets` replaced, longest first.
fn redact(line: &str, secrets: &[&str]) -> String {
    let mut sorted = secrets.to_vec();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    sorted
        .into_iter()
        .fold(line.to_string(), |out, s| out.replace(s, "(redacted)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_every_environment_value() {
        let line = "connecting to postgres://app:s3cr3tpw@db:5432/app as app";
        assert_eq!(
            redact(line, &["s3cr3tpw", "postgres://app:s3cr3tpw@db:5432/app"]),
            "connecting to (redacted) as app"
        );
    }
}
