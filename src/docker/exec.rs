//! Commands run inside a running container (`service exec`, `resource
//! exec`) and container restarts.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::RestartContainerOptionsBuilder;
use futures_util::StreamExt;

use super::{engine_error, is_not_found, Docker, DockerError};

/// One chunk of a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

impl ExecOutput {
    /// A chunk of an attached or logged stream (none for its input).
    pub(super) fn from_log(chunk: bollard::container::LogOutput) -> Option<ExecOutput> {
        use bollard::container::LogOutput;
        match chunk {
            LogOutput::StdErr { message } => Some(ExecOutput::Stderr(message.to_vec())),
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                Some(ExecOutput::Stdout(message.to_vec()))
            }
            LogOutput::StdIn { .. } => None,
        }
    }
}

impl Docker {
    /// Runs `command` in the running container `name` (no terminal, no
    /// input), feeding its output to `sink` as it comes; returns its exit
    /// code. On a swarm, `name` may be a service: the command runs in one of
    /// its tasks, on the manager when one runs there, else through the
    /// agent on the task's node ([`Docker::exec_on_node`]).
    pub async fn exec(
        &self,
        name: &str,
        command: &[String],
        mut sink: impl FnMut(ExecOutput),
    ) -> Result<i64, DockerError> {
        let container = match self.task_container(name).await? {
            super::swarm::TaskPlace::Here(container) => container,
            super::swarm::TaskPlace::On {
                node,
                container,
                image,
            } => {
                return self
                    .exec_on_node(&node, &container, &image, command, sink)
                    .await
            }
        };
        let name = container.as_str();
        let options = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(command.to_vec()),
            ..Default::default()
        };
        let created = match self.client.create_exec(name, options).await {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => {
                return Err(DockerError::NoSuchContainer { name: name.into() })
            }
            Err(e) => return Err(engine_error(format!("run a command in `{name}`"), &e)),
        };
        let started = self
            .client
            .start_exec(&created.id, Some(StartExecOptions::default()))
            .await
            .map_err(|e| engine_error(format!("run a command in `{name}`"), &e))?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                let chunk =
                    chunk.map_err(|e| engine_error(format!("read the output of `{name}`"), &e))?;
                if let Some(chunk) = ExecOutput::from_log(chunk) {
                    sink(chunk);
                }
            }
        }
        let inspected = self
            .client
            .inspect_exec(&created.id)
            .await
            .map_err(|e| engine_error(format!("inspect a command in `{name}`"), &e))?;
        Ok(inspected.exit_code.unwrap_or(-1))
    }

    /// Restarts the container `name`, killing it after `timeout_secs` if it
    /// does not stop. On a swarm, the service's tasks are replaced one at a
    /// time, as in its updates.
    pub async fn restart_container(
        &self,
        name: &str,
        timeout_secs: u32,
    ) -> Result<(), DockerError> {
        if self.is_service(name).await? {
            return self.restart_service(name).await;
        }
        let t = i32::try_from(timeout_secs).unwrap_or(i32::MAX);
        let options = RestartContainerOptionsBuilder::default().t(t).build();
        match self.client.restart_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Err(DockerError::NoSuchContainer { name: name.into() }),
            Err(e) => Err(engine_error(format!("restart container `{name}`"), &e)),
        }
    }
}
