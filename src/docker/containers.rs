//! Container lifecycle (create/start/stop/remove, inspect, list), logs,
//! TCP readiness checks and disposable one-shot containers.

use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::error::one_line;
use super::{
    engine_error, is_not_found, label_filter_query, status_of, ContainerInfo, ContainerSpec,
    Docker, DockerError,
};

/// Pause between two connection attempts of [`Docker::wait_tcp`].
const TCP_RETRY: Duration = Duration::from_millis(25);
/// Longest single connection attempt of [`Docker::wait_tcp`].
const TCP_ATTEMPT: Duration = Duration::from_secs(1);

fn no_such(name: &str) -> DockerError {
    DockerError::NoSuchContainer {
        name: name.to_string(),
    }
}

/// Splits stdout and stderr chunks into complete lines.
#[derive(Default)]
struct LineSplitter {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, chunk: LogOutput, sink: &mut impl FnMut(&str)) {
        let (buffer, bytes) = match chunk {
            LogOutput::StdErr { message } => (&mut self.stderr, message),
            LogOutput::StdOut { message }
            | LogOutput::Console { message }
            | LogOutput::StdIn { message } => (&mut self.stdout, message),
        };
        buffer.extend_from_slice(&bytes);
        while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=pos).collect();
            emit(&line[..line.len() - 1], sink);
        }
    }

    fn finish(self, sink: &mut impl FnMut(&str)) {
        for rest in [self.stdout, self.stderr] {
            if !rest.is_empty() {
                emit(&rest, sink);
            }
        }
    }
}

fn emit(line: &[u8], sink: &mut impl FnMut(&str)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    sink(&String::from_utf8_lossy(line));
}

/// Files copied out of a disposable container after it exits: (directory
/// in the container, local directory).
#[derive(Default)]
pub(super) struct Around {
    pub after_exit: Option<(String, std::path::PathBuf)>,
    /// How each file copied out is written (plain copy when `None`).
    pub seal: Option<super::files::Seal>,
}

/// Removes a one-shot container (or, `service`, swarm service) if its
/// run is abandoned (the future dropped); disarmed by taking `id`.
pub(super) struct RemoveOnDrop {
    pub client: bollard::Docker,
    pub id: Option<String>,
    pub service: bool,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let (Some(id), Ok(runtime)) = (self.id.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (client, service) = (self.client.clone(), self.service);
        runtime.spawn(async move {
            if service {
                let _ = client.delete_service(&id).await;
                return;
            }
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            let _ = client.remove_container(&id, Some(options)).await;
        });
    }
}

impl Docker {
    /// Creates the container (not started); returns its id.
    pub(super) async fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> Result<String, DockerError> {
        let body = spec.to_create_body()?;
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        match self.client.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(e) if status_of(&e) == Some(409) => Err(DockerError::ContainerExists {
                name: spec.name.clone(),
            }),
            Err(e) => Err(engine_error(
                format!("create container `{}`", spec.name),
                &e,
            )),
        }
    }

    /// Creates and starts a container from `spec`; returns its id. Fails with
    /// [`DockerError::ContainerExists`] if the name is taken (the caller
    /// removes the old one first). A container that fails to start is removed.
    /// On a swarm, the swarm service of `spec` is created (or updated) and
    /// its tasks waited for.
    pub async fn create_and_start(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        if self.on_swarm() {
            return self.deploy_service(spec, false).await;
        }
        let id = self.create_container(spec).await?;
        if let Err(e) = self.put_secret_files(&id, spec).await {
            let _ = self.remove_container(&id, true).await;
            return Err(e);
        }
        if let Err(e) = self.client.start_container(&id, None).await {
            let _ = self.remove_container(&id, true).await;
            return Err(engine_error(format!("start container `{}`", spec.name), &e));
        }
        Ok(id)
    }

    /// Copies the spec's secret files into the created container `id`, at
    /// `/run/secrets/<name>`, readable by every user of the container (as
    /// the swarm's secrets are).
    pub(super) async fn put_secret_files(
        &self,
        id: &str,
        spec: &ContainerSpec,
    ) -> Result<(), DockerError> {
        if spec.secret_files.is_empty() {
            return Ok(());
        }
        let packing = |e: std::io::Error| DockerError::Engine {
            action: format!("pack the secret files of `{}`", spec.name),
            reason: e.to_string(),
        };
        let mut tar = tar::Builder::new(Vec::new());
        for (name, file) in &spec.secret_files {
            let mut header = tar::Header::new_gnu();
            header.set_size(file.content.len() as u64);
            header.set_mode(0o444);
            header.set_cksum();
            tar.append_data(
                &mut header,
                format!("run/secrets/{name}"),
                file.content.as_bytes(),
            )
            .map_err(packing)?;
        }
        let archive = tar.into_inner().map_err(packing)?;
        let options = bollard::query_parameters::UploadToContainerOptions {
            path: "/".to_string(),
            ..Default::default()
        };
        self.client
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| engine_error(format!("copy the secret files into `{}`", spec.name), &e))
    }

    /// Removes a container (and its anonymous volumes, never named ones);
    /// `force` kills it first if running. A missing container is not an error.
    /// On a swarm, the swarm service of that name goes first, with its tasks.
    pub async fn remove_container(&self, name_or_id: &str, force: bool) -> Result<(), DockerError> {
        if self.on_swarm() {
            self.remove_service_and_wait(name_or_id).await?;
        }
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .v(true)
            .build();
        match self
            .client
            .remove_container(name_or_id, Some(options))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) if status_of(&e) == Some(409) && format!("{e}").contains("in progress") => {
                Ok(())
            }
            Err(e) => Err(engine_error(format!("remove container `{name_or_id}`"), &e)),
        }
    }

    /// Stops a container, killing it after `timeout_secs`. Stopping a stopped
    /// container is fine; a missing one is [`DockerError::NoSuchContainer`].
    pub async fn stop_container(&self, name: &str, timeout_secs: u32) -> Result<(), DockerError> {
        // A swarm service's tasks stop when it is removed or updated.
        if self.is_service(name).await? {
            return Ok(());
        }
        let t = i32::try_from(timeout_secs).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(t).build();
        match self.client.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Err(no_such(name)),
            Err(e) => Err(engine_error(format!("stop container `{name}`"), &e)),
        }
    }

    /// Renames the container `from` to `to`.
    pub async fn rename_container(&self, from: &str, to: &str) -> Result<(), DockerError> {
        let options = RenameContainerOptionsBuilder::default().name(to).build();
        match self.client.rename_container(from, options).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Err(no_such(from)),
            Err(e) => Err(engine_error(
                format!("rename container `{from}` to `{to}`"),
                &e,
            )),
        }
    }

    /// The last `tail` lines of the container's output (stdout and stderr).
    pub async fn last_log_lines(
        &self,
        name: &str,
        tail: usize,
    ) -> Result<Vec<String>, DockerError> {
        let mut lines = Vec::new();
        self.logs(name, Some(tail), false, |l| lines.push(l.to_string()))
            .await?;
        Ok(lines)
    }

    /// Starts an existing container (a running one is left alone).
    pub async fn start_container(&self, name: &str) -> Result<(), DockerError> {
        // The swarm keeps a service's tasks running.
        if self.is_service(name).await? {
            return Ok(());
        }
        match self.client.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Err(no_such(name)),
            Err(e) => Err(engine_error(format!("start container `{name}`"), &e)),
        }
    }

    /// Everything the engine reports about a container; `None` if missing.
    /// On a swarm, a swarm service of that name comes first.
    pub async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        if self.on_swarm() {
            if let Some(service) = self.inspect_service_info(name).await? {
                return Ok(Some(service));
            }
        }
        match self.client.inspect_container(name, None).await {
            Ok(c) => Ok(Some(ContainerInfo::from_inspect(c))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(format!("inspect container `{name}`"), &e)),
        }
    }

    /// All containers (running or not) carrying all `label_filters`, sorted by
    /// name, from one list call: no env and no restart policy are filled in.
    /// On a swarm, the swarm services carrying them come too.
    pub async fn list_containers(
        &self,
        label_filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let mut services = match self.on_swarm() {
            true => self.list_service_infos(label_filters).await?,
            false => Vec::new(),
        };
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filter_query(label_filters))
            .build();
        let summaries = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| engine_error("list containers", &e))?;
        let mut infos: Vec<ContainerInfo> = summaries
            .into_iter()
            .map(ContainerInfo::from_summary)
            .collect();
        infos.append(&mut services);
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// The container's IP address on `network`; `None` if the container is
    /// missing, not attached to it, or has no address (not running). On a
    /// swarm, a service's address is its alias (its running tasks by DNS
    /// round robin, reached from the probe agent on the overlay).
    pub async fn container_ip(
        &self,
        name: &str,
        network: &str,
    ) -> Result<Option<String>, DockerError> {
        Ok(self
            .inspect_container(name)
            .await?
            .and_then(|info| info.ip_addresses.get(network).cloned()))
    }

    /// Tries to open a TCP connection from this process to `host:port` every
    /// 100 ms until one succeeds (returns how long it took) or `timeout`
    /// passes ([`DockerError::ReadinessTimeout`]). Callers pass the
    /// container's IP on the bridge network.
    pub async fn wait_tcp(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Duration, DockerError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut last_error = String::from("no attempt made");
        loop {
            let now = Instant::now();
            let attempt = TCP_ATTEMPT.min(deadline.saturating_duration_since(now));
            if attempt.is_zero() {
                break;
            }
            match tokio::time::timeout(attempt, tokio::net::TcpStream::connect((host, port))).await
            {
                Ok(Ok(_stream)) => return Ok(started.elapsed()),
                Ok(Err(e)) => last_error = one_line(&e.to_string()),
                Err(_) => last_error = format!("no answer within {} ms", attempt.as_millis()),
            }
            let pause = TCP_RETRY.min(deadline.saturating_duration_since(Instant::now()));
            if pause.is_zero() {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        Err(DockerError::ReadinessTimeout {
            host: host.to_string(),
            port,
            waited: started.elapsed(),
            last_error,
        })
    }

    /// Feeds the container's stdout and stderr to `sink` line by line (without
    /// the newline): the last `tail` lines (all when `None`), then — when
    /// `follow` — new lines until the container stops. A final line without a
    /// newline is passed too (though the engine may end a follow before it).
    pub async fn logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
        mut sink: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let tail = tail.map_or_else(|| "all".to_string(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let mut stream = match self.is_service(name).await? {
            true => self.client.service_logs(name, Some(options)).boxed(),
            false => self.client.logs(name, Some(options)).boxed(),
        };
        let mut lines = LineSplitter::default();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => lines.push(chunk, &mut sink),
                Err(e) if is_not_found(&e) => return Err(no_such(name)),
                Err(e) => return Err(engine_error(format!("read the logs of `{name}`"), &e)),
            }
        }
        lines.finish(&mut sink);
        Ok(())
    }

    /// Runs a disposable container to completion: create, attach, start,
    /// collect its combined output, wait for its exit code — and always
    /// remove it, on success, on error, and (best effort) when the returned
    /// future is dropped.
    pub async fn run_to_completion(
        &self,
        spec: &ContainerSpec,
    ) -> Result<super::RunOutcome, DockerError> {
        self.run_to_completion_around(spec, Around::default()).await
    }

    /// [`Docker::run_to_completion`] with files copied out of the
    /// container after it exits.
    pub(super) async fn run_to_completion_around(
        &self,
        spec: &ContainerSpec,
        around: Around,
    ) -> Result<super::RunOutcome, DockerError> {
        let id = self.create_container(spec).await?;
        let mut guard = RemoveOnDrop {
            client: self.client.clone(),
            id: Some(id.clone()),
            service: false,
        };
        let outcome = async {
            let outcome = self.run_created(&id, &spec.name).await?;
            if let Some((dir, local)) = &around.after_exit {
                self.copy_out(&id, dir, local, around.seal.clone()).await?;
            }
            Ok(outcome)
        }
        .await;
        guard.id = None;
        let removed = self.remove_container(&id, true).await;
        let outcome = outcome?;
        removed?;
        Ok(outcome)
    }

    async fn run_created(&self, id: &str, name: &str) -> Result<super::RunOutcome, DockerError> {
        let options = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            // Attached before the start, the stream sees every byte;
            // `logs` would replay them a second time when the start wins the
            // race with the attach (seen under load: duplicated lines).
            .logs(false)
            .build();
        let attached = self
            .client
            .attach_container(id, Some(options))
            .await
            .map_err(|e| engine_error(format!("attach to container `{name}`"), &e))?;
        // Keep the input half alive until the output ends.
        let (mut output, _input) = (attached.output, attached.input);
        self.client
            .start_container(id, None)
            .await
            .map_err(|e| engine_error(format!("start container `{name}`"), &e))?;
        let mut collected: Vec<u8> = Vec::new();
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(chunk) => collected.extend_from_slice(chunk.as_ref()),
                Err(e) => return Err(engine_error(format!("read the output of `{name}`"), &e)),
            }
        }
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = self.client.wait_container(id, Some(options));
        let exit_code = match wait.next().await {
            Some(Ok(response)) => response.status_code,
            // bollard reports non-zero exit codes as errors.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(engine_error(format!("wait for container `{name}`"), &e)),
            None => {
                return Err(DockerError::Engine {
                    action: format!("wait for container `{name}`"),
                    reason: "the engine closed the wait without an exit code".to_string(),
                })
            }
        };
        Ok(super::RunOutcome {
            exit_code,
            output: String::from_utf8_lossy(&collected).into_owned(),
        })
    }
}
