//! A [`ContainerSpec`] as a swarm service, and a swarm service read back as
//! a [`ContainerInfo`]: the translation that lets `apply` and `ops` call the
//! same container operations on a swarm environment. A spec's container
//! becomes a replicated service of the same name (its `replication`, else
//! one replica), with the same image, command, environment, labels, named
//! volumes, restart policy and stop grace period, on the spec's network
//! under its aliases, resolved by DNS round robin.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Mount as ApiMount, MountType,
    MountVolumeOptions, NetworkAttachmentConfig, Service, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use super::resources::to_hash_map;
use super::spec::{ContainerInfo, ContainerSpec, MountSource};
use super::swarm::{MountedSecret, SwarmTask};
use super::DockerError;

/// Nanoseconds in a second (the swarm API's durations).
const SECOND: i64 = 1_000_000_000;

/// The swarm service of `spec` (`force` bumps the task template's update
/// counter, so an unchanged spec still gets new tasks).
pub(super) fn service_spec(
    spec: &ContainerSpec,
    force: u64,
    secrets: &[MountedSecret],
) -> Result<ServiceSpec, DockerError> {
    let invalid = |reason: String| DockerError::InvalidSpec {
        name: spec.name.clone(),
        reason,
    };
    let replication = spec.replication.clone().unwrap_or_default();
    let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut mounts = Vec::new();
    for m in &spec.mounts {
        let (typ, source, volume_options) = match &m.source {
            MountSource::Volume(name) => (
                MountType::VOLUME,
                name.clone(),
                Some(MountVolumeOptions {
                    labels: Some(to_hash_map(&volume_labels(spec))),
                    ..MountVolumeOptions::default()
                }),
            ),
            MountSource::Bind(path) => (MountType::BIND, path.display().to_string(), None),
        };
        mounts.push(ApiMount {
            target: Some(m.target.clone()),
            source: Some(source),
            typ: Some(typ),
            read_only: Some(m.read_only),
            volume_options,
            ..ApiMount::default()
        });
    }
    let restart = spec
        .restart
        .as_deref()
        .map(restart_policy)
        .transpose()
        .map_err(invalid)?;
    let container = TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        env: Some(env),
        labels: Some(to_hash_map(&spec.labels)),
        command: spec.entrypoint.clone(),
        args: spec.command.clone(),
        dir: spec.working_dir.clone(),
        mounts: Some(mounts),
        secrets: Some(
            secrets
                .iter()
                .map(|(file, id, name)| TaskSpecContainerSpecSecrets {
                    file: Some(TaskSpecContainerSpecFile {
                        name: Some(file.clone()),
                        uid: Some("0".into()),
                        gid: Some("0".into()),
                        mode: Some(0o444),
                    }),
                    secret_id: Some(id.clone()),
                    secret_name: Some(name.clone()),
                })
                .collect(),
        ),
        stop_grace_period: spec.stop_timeout.map(|s| i64::from(s) * SECOND),
        health_check: replication.health.as_ref().map(|command| HealthConfig {
            test: Some([vec!["CMD".to_string()], command.clone()].concat()),
            interval: Some(SECOND),
            timeout: Some(5 * SECOND),
            retries: Some(3),
            start_period: Some(0),
            start_interval: None,
        }),
        ..TaskSpecContainerSpec::default()
    };
    let network = spec.network.as_ref().map(|n| NetworkAttachmentConfig {
        target: Some(n.clone()),
        aliases: Some(spec.aliases.clone()),
        ..NetworkAttachmentConfig::default()
    });
    let (order, rollback_order) = match replication.start_first {
        true => (
            ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        ),
        false => (
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        ),
    };
    Ok(ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(to_hash_map(&spec.labels)),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            restart_policy: restart,
            placement: Some(TaskSpecPlacement {
                constraints: Some(replication.constraints.clone()),
                ..TaskSpecPlacement::default()
            }),
            networks: network.map(|n| vec![n]),
            force_update: (force > 0).then_some(force),
            ..TaskSpec::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replication.replicas.max(1) as i64),
            }),
            ..ServiceSpecMode::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(5 * SECOND),
            order: Some(order),
            ..ServiceSpecUpdateConfig::default()
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            order: Some(rollback_order),
            ..ServiceSpecRollbackConfig::default()
        }),
        // Aliases by DNS round robin: the virtual-IP balancer needs IPVS.
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ..EndpointSpec::default()
        }),
        ..ServiceSpec::default()
    })
}

/// The labels of a volume the swarm creates on a node for `spec`: the
/// spec's own, minus its configuration digest.
fn volume_labels(spec: &ContainerSpec) -> BTreeMap<String, String> {
    let mut labels = spec.labels.clone();
    labels.remove(super::labels::DEFINITION_HASH);
    labels.insert(
        super::labels::KIND.to_string(),
        super::labels::KIND_VOLUME.to_string(),
    );
    labels
}

/// A container restart policy as the swarm's: `no` → none, `on-failure[:N]`
/// → on-failure (N attempts), `always` and `unless-stopped` → any.
fn restart_policy(text: &str) -> Result<TaskSpecRestartPolicy, String> {
    let parsed = super::spec::parse_restart(text)?;
    let name = parsed.name.map(|n| n.to_string()).unwrap_or_default();
    let condition = match name.as_str() {
        "no" => TaskSpecRestartPolicyConditionEnum::NONE,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        _ => TaskSpecRestartPolicyConditionEnum::ANY,
    };
    Ok(TaskSpecRestartPolicy {
        condition: Some(condition),
        delay: Some(SECOND),
        max_attempts: parsed.maximum_retry_count.filter(|n| *n > 0),
        window: None,
    })
}

/// The number of tasks a replicated service's specification asks for.
pub(super) fn spec_replicas(spec: &ServiceSpec) -> Option<i64> {
    spec.mode
        .as_ref()
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
}

/// A swarm service as the container operations see it: running while one
/// of its tasks runs; its "address" on a network is its first alias there
/// (the tasks' addresses by DNS round robin, from the probe agent on the
/// overlay). `networks` maps network IDs to names.
pub(super) fn service_info(
    service: Service,
    tasks: &[SwarmTask],
    networks: &HashMap<String, String>,
) -> ContainerInfo {
    let spec = service.spec.unwrap_or_default();
    let replicas = spec_replicas(&spec).map(|n| n.max(0) as u64);
    let template = spec.task_template.unwrap_or_default();
    let container = template.container_spec.unwrap_or_default();
    let running = tasks
        .iter()
        .any(|t| t.state == "running" && t.desired == "running");
    let status = match (running, tasks.last()) {
        (true, _) => "running".to_string(),
        (false, None) => "without tasks".to_string(),
        (false, Some(t)) => match &t.error {
            Some(e) => format!("{} (its last task: {e})", t.state),
            None => t.state.clone(),
        },
    };
    let mut ip_addresses = BTreeMap::new();
    let mut aliases = BTreeMap::new();
    for n in template.networks.unwrap_or_default() {
        let target = n.target.unwrap_or_default();
        let name = networks.get(&target).cloned().unwrap_or(target);
        let names = n.aliases.unwrap_or_default();
        if running {
            if let Some(first) = names.first() {
                ip_addresses.insert(name.clone(), first.clone());
            }
        }
        aliases.insert(name, names);
    }
    let env = container
        .env
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect();
    ContainerInfo {
        id: service.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        image: container.image.unwrap_or_default(),
        // The tasks' images are the nodes' business: none to compare here.
        image_id: String::new(),
        running,
        status,
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
        env,
        ip_addresses,
        aliases,
        exposed_ports: Vec::new(),
        published_ports: Vec::new(),
        mounts: container
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.source.unwrap_or_default(), m.target.unwrap_or_default()))
            .collect(),
        restart: None,
        exit_code: None,
        health: None,
        replicas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::{Mount, Replication};

    #[test]
    fn a_container_spec_becomes_a_replicated_service_behind_dns_round_robin() {
        let mut spec = ContainerSpec::new("p-prod-db", "postgres:16-alpine");
        spec.command = Some(vec!["postgres".into()]);
        spec.env.insert("A".into(), "1".into());
        spec.network = Some("p-prod".into());
        spec.aliases = vec!["db.prod.p.resource.internal".into()];
        spec.mounts = vec![Mount::volume("p-prod-db-data", "/var/lib/postgresql/data")];
        spec.restart = Some("unless-stopped".into());
        spec.stop_timeout = Some(30);
        spec.replication = Some(Replication {
            replicas: 1,
            constraints: vec!["node.id==abc".into()],
            start_first: false,
            health: Some(vec!["pg_isready".into()]),
        });
        let secrets = [(
            "P".to_string(),
            "id1".to_string(),
            "p-prod-db-p-1".to_string(),
        )];
        let s = service_spec(&spec, 0, &secrets).unwrap();
        let t = s.task_template.clone().unwrap();
        let c = t.container_spec.unwrap();
        assert_eq!(c.args, Some(vec!["postgres".to_string()]));
        assert_eq!(c.command, None);
        assert_eq!(c.env, Some(vec!["A=1".to_string()]));
        assert_eq!(c.stop_grace_period, Some(30 * SECOND));
        assert_eq!(
            c.health_check.unwrap().test.unwrap(),
            ["CMD", "pg_isready"].map(String::from)
        );
        let m = &c.mounts.unwrap()[0];
        assert_eq!(m.typ, Some(MountType::VOLUME));
        assert_eq!(m.source.as_deref(), Some("p-prod-db-data"));
        assert_eq!(
            t.restart_policy.unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::ANY)
        );
        assert_eq!(
            t.placement.unwrap().constraints.unwrap(),
            ["node.id==abc".to_string()]
        );
        assert_eq!(t.force_update, None);
        let mounted = &s
            .task_template
            .clone()
            .unwrap()
            .container_spec
            .unwrap()
            .secrets
            .unwrap()[0];
        assert_eq!(mounted.secret_id.as_deref(), Some("id1"));
        assert_eq!(mounted.file.as_ref().unwrap().name.as_deref(), Some("P"));
        assert_eq!(
            s.endpoint_spec.unwrap().mode,
            Some(EndpointSpecModeEnum::DNSRR)
        );
        assert_eq!(
            s.update_config.unwrap().order,
            Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST)
        );
        assert_eq!(
            service_spec(&spec, 3, &[])
                .unwrap()
                .task_template
                .unwrap()
                .force_update,
            Some(3)
        );
        spec.restart = Some("sometimes".into());
        assert!(service_spec(&spec, 0, &[]).is_err());
    }
}
