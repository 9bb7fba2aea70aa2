//! What must run on one swarm node other than the manager this connection
//! reaches — where a resource's volumes are: an operation (backup,
//! restore, verify) as a one-shot task (one replica, never restarted),
//! and the removal of a volume. A
//! task on another node is out of the archive API's reach, so an
//! operation's files travel through the probe agent: a relay container on
//! the manager, on the environment's overlay, whose directory the usual
//! copy in and out (with the backups' encryption) fills or empties, and
//! the agent in the task, which fetches the files from it before the
//! command or sends them after. The agent reaches the task as two swarm
//! configs (it is larger than one may be) that the task's shell joins, so
//! the operation keeps its own image (its tools, its user). The relay
//! accepts only the holder of a one-time token, handed to the task as a
//! swarm secret and to the relay as a file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ConfigSpec, Mount as ApiMount, MountType, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::WaitContainerOptionsBuilder;
use futures_util::StreamExt;

use super::resources::to_hash_map;
use super::spec::SecretFile;
use super::swarm_spec::service_spec;
use super::{
    engine_error, labels, ContainerSpec, DirFiles, Docker, DockerError, ExecOutput, Mount,
    RunOutcome,
};

/// The port the relay listens on (its own address on the overlay).
const RELAY_PORT: &str = "7469";
/// Where the relay keeps the files, in its container.
const RELAY_DIR: &str = "/relay";
/// The token's secret file, in the relay and in the task.
const TOKEN_FILE: &str = "compartment-relay-token";
/// Where the token's file is (as every secret file: `/run/secrets/<name>`).
const TOKEN_PATH: &str = "/run/secrets/compartment-relay-token";
/// Largest part of the agent in one swarm config (the swarm allows
/// 1000 KiB).
const CONFIG_PART: usize = 900 * 1024;
/// How long a task may take to start (its image pulled, its node free).
const START: Duration = Duration::from_secs(300);
/// How long the relay may take to finish once the task has.
const RELAY_DONE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(500);

/// How a one-shot task ended: its exit code and what it wrote.
struct JobOutcome {
    exit_code: i64,
    output: Vec<ExecOutput>,
}

impl JobOutcome {
    /// As a disposable container's run: the output as one text.
    fn run(self) -> RunOutcome {
        let mut output = Vec::new();
        for chunk in self.output {
            match chunk {
                ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => output.extend(b),
            }
        }
        RunOutcome {
            exit_code: self.exit_code,
            output: String::from_utf8_lossy(&output).into_owned(),
        }
    }
}

impl Docker {
    /// [`Docker::run_with_dir`] on swarm node `node`: `spec` runs there as
    /// a one-shot task (its named volumes are that node's), `dir` a
    /// directory of its own; the files of `files.upload` arrive in it
    /// before the command runs, and what it holds after a successful exit
    /// comes back into `files.download`. Everything it made is removed.
    pub async fn run_with_dir_on_node(
        &self,
        spec: &ContainerSpec,
        node: &str,
        dir: &str,
        files: DirFiles<'_>,
    ) -> Result<RunOutcome, DockerError> {
        let token = hex::encode(rand::random::<[u8; 32]>());
        // The relay's side and the task's side of the same transfer.
        let (relay_mode, job_mode) = match files.upload.is_some() {
            true => ("send", "restore"),
            false => ("receive", "backup"),
        };
        let volume = format!("{}-files", spec.name);
        let relay = format!("{}-relay", spec.name);
        let started = self
            .start_relay(spec, &relay, &volume, relay_mode, &token, &files)
            .await;
        let outcome = match started {
            Ok(ip) => {
                let at = (ip.as_str(), relay.as_str());
                self.relayed_job(spec, node, dir, job_mode, at, &token, &files)
                    .await
            }
            Err(e) => Err(e),
        };
        let removed = self.remove_container(&relay, true).await;
        let volume_removed = self.remove_volume(&volume).await;
        let outcome = outcome?;
        removed?;
        volume_removed?;
        Ok(outcome)
    }

    /// The job (`mode`: backup or restore) of
    /// [`Docker::run_with_dir_on_node`] once its relay (address, container
    /// name) listens; after a successful backup, the relay's files come
    /// out.
    #[allow(clippy::too_many_arguments)]
    async fn relayed_job(
        &self,
        spec: &ContainerSpec,
        node: &str,
        dir: &str,
        mode: &str,
        (ip, relay): (&str, &str),
        token: &str,
        files: &DirFiles<'_>,
    ) -> Result<RunOutcome, DockerError> {
        let mut job = spec.clone();
        job.name = job_name();
        job.mounts.retain(|m| m.target != dir);
        job.secret_files.insert(
            TOKEN_FILE.to_string(),
            SecretFile {
                content: token.to_string(),
                version: "once".to_string(),
            },
        );
        let mut args: Vec<String> = ["job", mode, ip, RELAY_PORT, dir, TOKEN_PATH, "--"]
            .map(String::from)
            .to_vec();
        args.extend(spec.entrypoint.clone().unwrap_or_default());
        args.extend(spec.command.clone().unwrap_or_default());
        let outcome = self.run_agent_job(&job, node, args, Some(dir)).await?.run();
        if let (Some(local), 0) = (files.download, outcome.exit_code) {
            self.relay_finished(relay).await?;
            self.copy_out(relay, RELAY_DIR, local, files.seal.clone())
                .await?;
        }
        Ok(outcome)
    }

    /// Creates and starts the relay container `name` (the probe agent on
    /// `spec`'s network, `volume` at [`RELAY_DIR`], filled from
    /// `files.upload` first); returns its address on the network.
    async fn start_relay(
        &self,
        spec: &ContainerSpec,
        name: &str,
        volume: &str,
        mode: &str,
        token: &str,
        files: &DirFiles<'_>,
    ) -> Result<String, DockerError> {
        let network = spec
            .network
            .clone()
            .ok_or_else(|| DockerError::InvalidSpec {
                name: spec.name.clone(),
                reason: "an operation on another node needs the environment's network".into(),
            })?;
        let image = self.ensure_agent().await?;
        let mut relay = ContainerSpec::new(name, image);
        relay.command = Some(
            ["relay", mode, RELAY_PORT, RELAY_DIR, TOKEN_PATH]
                .map(String::from)
                .to_vec(),
        );
        relay.network = Some(network.clone());
        relay.labels = spec.labels.clone();
        relay.labels.insert(labels::AGENT.into(), "true".into());
        relay.mounts.push(Mount::volume(volume, RELAY_DIR));
        relay.secret_files.insert(
            TOKEN_FILE.to_string(),
            SecretFile {
                content: token.to_string(),
                version: String::new(),
            },
        );
        let id = self.create_container(&relay).await?;
        if let Some(local) = files.upload {
            self.copy_in(&id, RELAY_DIR, local, files.unseal.clone())
                .await?;
        }
        self.put_secret_files(&id, &relay).await?;
        self.client
            .start_container(&id, None)
            .await
            .map_err(|e| engine_error(format!("start container `{name}`"), &e))?;
        let info = self.client.inspect_container(&id, None).await;
        let info = info.map_err(|e| engine_error(format!("inspect container `{name}`"), &e))?;
        super::ContainerInfo::from_inspect(info)
            .ip_addresses
            .get(&network)
            .cloned()
            .ok_or_else(|| DockerError::Engine {
                action: format!("start the relay `{name}`"),
                reason: format!("it has no address on `{network}`"),
            })
    }

    /// Waits until the relay container `name` has exited 0.
    async fn relay_finished(&self, name: &str) -> Result<(), DockerError> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = self.client.wait_container(name, Some(options));
        let code = match tokio::time::timeout(RELAY_DONE, wait.next()).await {
            Ok(Some(Ok(r))) => r.status_code,
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => code,
            Ok(Some(Err(e))) => return Err(engine_error(format!("wait for `{name}`"), &e)),
            Ok(None) | Err(_) => 1,
        };
        if code == 0 {
            return Ok(());
        }
        let mut said = Vec::new();
        self.logs(name, Some(5), false, |l| said.push(l.to_string()))
            .await?;
        Err(DockerError::Engine {
            action: format!("bring the files back through `{name}`"),
            reason: match said.is_empty() {
                true => format!("it did not finish within {}s", RELAY_DONE.as_secs()),
                false => said.join("; "),
            },
        })
    }

    /// Removes volume `name` on swarm node `node` (the manager's own
    /// directly; another's by a one-shot task of `image`, an image that
    /// node has, asking its engine through its socket). Absent is fine.
    pub async fn remove_volume_on_node(
        &self,
        node: &str,
        name: &str,
        image: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), DockerError> {
        // Off a swarm, or on the manager itself: this engine's volume.
        if self.swarm_node_id().is_none_or(|me| me == node) {
            return self.remove_volume(name).await;
        }
        let mut job = ContainerSpec::new(job_name(), image);
        job.labels = labels.clone();
        job.mounts.push(Mount::bind(SOCKET, SOCKET));
        let args = ["volume-rm", SOCKET, name].map(String::from).to_vec();
        let outcome = self.run_agent_job(&job, node, args, None).await?.run();
        match outcome.exit_code {
            0 => Ok(()),
            _ => Err(DockerError::Engine {
                action: format!("remove volume `{name}` on node {node}"),
                reason: outcome.output.trim().to_string(),
            }),
        }
    }

    /// Runs the agent with `args` in a one-shot task of `spec` on `node`
    /// (with an empty directory of its own at `scratch`), waits for it and
    /// returns its exit code and output; the job and its secrets are
    /// removed.
    async fn run_agent_job(
        &self,
        spec: &ContainerSpec,
        node: &str,
        args: Vec<String>,
        scratch: Option<&str>,
    ) -> Result<JobOutcome, DockerError> {
        let configs = self.agent_configs().await?;
        let secrets = self.ensure_secrets(spec).await?;
        let mut body = job_spec(spec, node, &secrets, &configs, args)?;
        if let Some(dir) = scratch {
            add_scratch(&mut body, dir);
        }
        let mut guard = super::containers::RemoveOnDrop {
            client: self.client.clone(),
            id: Some(spec.name.clone()),
            service: true,
        };
        let created = self.client.create_service(body, None).await;
        let outcome = match created {
            Ok(_) => self.wait_job(&spec.name).await,
            Err(e) => Err(engine_error(
                format!("create swarm job `{}`", spec.name),
                &e,
            )),
        };
        guard.id = None;
        let removed = self.remove_service_and_wait(&spec.name).await;
        let outcome = outcome?;
        removed?;
        Ok(outcome)
    }

    /// Waits until job `name`'s task has ended; its exit code and output.
    async fn wait_job(&self, name: &str) -> Result<JobOutcome, DockerError> {
        let started = Instant::now();
        let task = loop {
            let tasks = self.swarm_tasks(name).await?;
            if let Some(t) = tasks.iter().find(|t| ENDED.contains(&t.state.as_str())) {
                break t.clone();
            }
            let begun = tasks
                .iter()
                .any(|t| matches!(t.state.as_str(), "starting" | "running"));
            if !begun && started.elapsed() >= START {
                return Err(DockerError::ServiceFailed {
                    service: name.to_string(),
                    what: format!("did not start within {}s", START.as_secs()),
                });
            }
            tokio::time::sleep(POLL).await;
        };
        if task.state == "rejected" {
            return Err(DockerError::ServiceFailed {
                service: name.to_string(),
                what: format!(
                    "was rejected by its node: {}",
                    task.error.unwrap_or_else(|| "no reason given".into())
                ),
            });
        }
        let exit_code = match task.state.as_str() {
            "complete" => 0,
            _ => task.exit_code.filter(|c| *c != 0).unwrap_or(1),
        };
        let output = self.job_output(name).await?;
        Ok(JobOutcome { exit_code, output })
    }

    /// What job `name` wrote, stdout and stderr apart, in order.
    async fn job_output(&self, name: &str) -> Result<Vec<ExecOutput>, DockerError> {
        let options = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail("all")
            .build();
        let mut stream = self.client.service_logs(name, Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| engine_error(format!("read the output of `{name}`"), &e))?;
            out.extend(ExecOutput::from_log(chunk));
        }
        Ok(out)
    }

    /// Runs `command` in `container` on swarm node `node` (no terminal,
    /// no input): the agent, in a one-shot task of `image` (that node runs
    /// it), asks the node's engine through its socket. Its output goes to
    /// `sink`, stdout and stderr apart; returns its exit code.
    pub(super) async fn exec_on_node(
        &self,
        node: &str,
        container: &str,
        image: &str,
        command: &[String],
        mut sink: impl FnMut(ExecOutput),
    ) -> Result<i64, DockerError> {
        let mut job = ContainerSpec::new(job_name(), image);
        job.labels.insert(labels::AGENT.into(), "true".into());
        job.mounts.push(Mount::bind(SOCKET, SOCKET));
        let mut args = ["exec", SOCKET, container, "--"].map(String::from).to_vec();
        args.extend(command.iter().cloned());
        let outcome = self.run_agent_job(&job, node, args, None).await?;
        for chunk in outcome.output {
            sink(chunk);
        }
        Ok(outcome.exit_code)
    }

    /// The swarm configs holding this build's agent, in order, created
    /// when missing: (ID, name).
    async fn agent_configs(&self) -> Result<Vec<(String, String)>, DockerError> {
        use base64::Engine;
        let agent = super::agent::executable();
        if agent.is_empty() {
            return Err(DockerError::NoAgent);
        }
        let tag = super::agent::image();
        let digest = tag.rsplit(':').next().unwrap_or_default();
        let mut out = Vec::new();
        for (i, part) in agent.chunks(CONFIG_PART).enumerate() {
            let name = format!("compartment-agent-{digest}-{i}");
            let found = self.client.inspect_config(&name).await;
            let id = match found {
                Ok(c) => c.id.unwrap_or_default(),
                Err(e) if super::is_not_found(&e) => {
                    let body = ConfigSpec {
                        name: Some(name.clone()),
                        labels: Some(to_hash_map(&BTreeMap::from([(
                            labels::AGENT.to_string(),
                            "true".to_string(),
                        )]))),
                        data: Some(base64::engine::general_purpose::STANDARD.encode(part)),
                        ..ConfigSpec::default()
                    };
                    let created = self.client.create_config(body).await;
                    created
                        .map_err(|e| engine_error(format!("create swarm config `{name}`"), &e))?
                        .id
                }
                Err(e) => return Err(engine_error(format!("inspect swarm config `{name}`"), &e)),
            };
            out.push((id, name));
        }
        Ok(out)
    }
}

/// A new one-shot service's name (a swarm service's name is at most 63
/// characters; what it belongs to is in its labels).
fn job_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("cmpt-job-{}", &id[..16])
}

/// The engine's socket on a node.
const SOCKET: &str = "/var/run/docker.sock";

/// The states a task ends in.
const ENDED: [&str; 5] = ["complete", "failed", "rejected", "shutdown", "orphaned"];

/// Where the agent's parts are mounted in a task.
fn part_path(i: usize) -> String {
    format!("/run/compartment-agent.{i}")
}

/// The one-shot swarm service running the agent (joined from `configs`)
/// with `args` on `node`, in `spec`'s image, env, network and volumes.
fn job_spec(
    spec: &ContainerSpec,
    node: &str,
    secrets: &[super::swarm::MountedSecret],
    configs: &[(String, String)],
    args: Vec<String>,
) -> Result<ServiceSpec, DockerError> {
    let mut body = service_spec(spec, 0, secrets)?;
    let parts: Vec<String> = (0..configs.len()).map(part_path).collect();
    let agent = "/tmp/.compartment-agent";
    let script = format!(
        "cat {} > {agent} && chmod 700 {agent} && exec {agent} \"$@\"",
        parts.join(" ")
    );
    // One replica that is never restarted, not a `replicated-job`: the
    // swarm keeps a job's tasks and containers after the service is
    // removed (moby/moby#44312), and with them the volumes they mount.
    body.mode = Some(ServiceSpecMode {
        replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
        ..ServiceSpecMode::default()
    });
    body.update_config = None;
    body.rollback_config = None;
    let template = body.task_template.get_or_insert_with(Default::default);
    template.restart_policy = Some(TaskSpecRestartPolicy {
        condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
        ..TaskSpecRestartPolicy::default()
    });
    template
        .placement
        .get_or_insert_with(Default::default)
        .constraints = Some(vec![format!("node.id=={node}")]);
    let container = template.container_spec.get_or_insert_with(Default::default);
    container.command = Some(
        ["/bin/sh", "-c", &script, "compartment-job"]
            .map(String::from)
            .to_vec(),
    );
    container.args = Some(args);
    container.health_check = None;
    container.configs = Some(
        configs
            .iter()
            .enumerate()
            .map(|(i, (id, name))| TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(part_path(i)),
                    uid: Some("0".into()),
                    gid: Some("0".into()),
                    mode: Some(0o444),
                }),
                config_id: Some(id.clone()),
                config_name: Some(name.clone()),
                ..TaskSpecContainerSpecConfigs::default()
            })
            .collect(),
    );
    Ok(body)
}

/// An anonymous volume at `dir`: the task's own, gone with its container.
fn add_scratch(body: &mut ServiceSpec, dir: &str) {
    let container = body
        .task_template
        .get_or_insert_with(Default::default)
        .container_spec
        .get_or_insert_with(Default::default);
    container
        .mounts
        .get_or_insert_with(Vec::new)
        .push(ApiMount {
            target: Some(dir.to_string()),
            typ: Some(MountType::VOLUME),
            ..ApiMount::default()
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_the_joined_agent_once_on_its_node() {
        let mut spec = ContainerSpec::new("cmpt-p-e-db-backup-x-job", "postgres:16");
        spec.network = Some("cmpt-p-e".into());
        spec.mounts.push(Mount::volume("cmpt-p-e-db-data", "/data"));
        let configs = vec![
            ("c0".to_string(), "compartment-agent-d-0".to_string()),
            ("c1".to_string(), "compartment-agent-d-1".to_string()),
        ];
        let args = vec!["job".to_string(), "backup".to_string()];
        let mut body = job_spec(&spec, "node1", &[], &configs, args).unwrap();
        add_scratch(&mut body, "/backup");
        let mode = body.mode.as_ref().unwrap();
        assert!(mode.replicated_job.is_none(), "jobs' tasks outlive them");
        assert_eq!(mode.replicated.as_ref().unwrap().replicas, Some(1));
        let t = body.task_template.as_ref().unwrap();
        assert_eq!(
            t.restart_policy.as_ref().unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::NONE)
        );
        assert_eq!(
            t.placement.as_ref().unwrap().constraints,
            Some(vec!["node.id==node1".to_string()])
        );
        let c = t.container_spec.as_ref().unwrap();
        let command = c.command.as_ref().unwrap();
        assert_eq!(command[..2], ["/bin/sh", "-c"]);
        assert_eq!(
            command[2],
            "cat /run/compartment-agent.0 /run/compartment-agent.1 > /tmp/.compartment-agent \
             && chmod 700 /tmp/.compartment-agent && exec /tmp/.compartment-agent \"$@\""
        );
        assert_eq!(
            c.args.as_deref(),
            Some(&["job".to_string(), "backup".to_string()][..])
        );
        let mounts = c.mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1].target.as_deref(), Some("/backup"));
        assert_eq!(mounts[1].source, None, "an anonymous volume");
        let files: Vec<_> = c
            .configs
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.file.as_ref().unwrap().name.clone().unwrap())
            .collect();
        assert_eq!(
            files,
            ["/run/compartment-agent.0", "/run/compartment-agent.1"]
        );
        assert!(body.update_config.is_none() && body.rollback_config.is_none());
    }

    #[test]
    fn the_agent_fits_in_swarm_configs() {
        let parts = super::super::agent::executable()
            .chunks(CONFIG_PART)
            .count();
        assert!((1..=3).contains(&parts), "{parts} parts");
    }
}
