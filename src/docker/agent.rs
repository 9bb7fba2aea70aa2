//! The probe agent: how compartment reaches a container from inside its
//! network. Container addresses on a remote engine are not routable from
//! the machine running compartment, so readiness waits (tcp, http) and
//! lifecycle hooks run as a short-lived container of the agent (a static
//! executable built from agent/probe.rs and shipped inside compartment) on
//! the environment's network. Its image, `compartment-probe:<digest>`, is
//! built on the engine from a two-file context the first time it is needed
//! and reused after. On this machine's own engine the direct path (a
//! connection from this process) is kept unless `COMPARTMENT_PROBE=engine`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::labels;
use super::{ContainerSpec, Docker, DockerError};

/// The agent executable (empty when build.rs could not link it statically).
const AGENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/compartment-probe"));

/// How network probes and hooks reach containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A connection from this process to the container's address.
    Direct,
    /// A short-lived agent container on the container's network.
    Engine,
}

/// This build's agent executable (empty when it could not be built).
pub(super) fn executable() -> &'static [u8] {
    AGENT
}

/// The image of this build's agent.
pub fn image() -> String {
    let digest = crate::support::digest::sha256_hex(AGENT);
    format!("compartment-probe:{}", &digest[..16])
}

/// What one agent run answered: its exit code and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAnswer {
    pub code: i64,
    pub output: String,
}

impl Docker {
    /// Builds the agent's image on the engine unless it is there already.
    pub(super) async fn ensure_agent(&self) -> Result<String, DockerError> {
        let tag = image();
        if self.image_exists(&tag).await? {
            return Ok(tag);
        }
        if AGENT.is_empty() {
            return Err(DockerError::NoAgent);
        }
        let archive = agent_context().map_err(|e| DockerError::Engine {
            action: "pack the probe agent".into(),
            reason: e.to_string(),
        })?;
        let labels = BTreeMap::from([(labels::AGENT.to_string(), "true".to_string())]);
        self.build_archive(archive, &tag, &BTreeMap::new(), &labels)
            .await?;
        Ok(tag)
    }

    /// Runs the agent with `args` (and `env`) on `network`, to completion,
    /// within `limit` (the agent's own time limit plus its start-up).
    pub async fn run_agent(
        &self,
        network: &str,
        args: &[String],
        env: BTreeMap<String, String>,
        limit: Duration,
    ) -> Result<AgentAnswer, DockerError> {
        let image = self.ensure_agent().await?;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut spec = ContainerSpec::new(format!("compartment-probe-{}", &suffix[..12]), image);
        spec.command = Some(args.to_vec());
        spec.env = env;
        spec.network = Some(network.to_string());
        spec.labels
            .insert(labels::AGENT.to_string(), "true".to_string());
        let run = tokio::time::timeout(limit, self.run_to_completion(&spec)).await;
        let outcome = run.map_err(|_| DockerError::Engine {
            action: "run the probe agent".into(),
            reason: format!("no answer within {}s", limit.as_secs()),
        })??;
        Ok(AgentAnswer {
            code: outcome.exit_code,
            output: outcome.output,
        })
    }
}

/// The agent's build context: a Dockerfile and the executable.
fn agent_context() -> std::io::Result<Vec<u8>> {
    let dockerfile = b"FROM scratch\nCOPY compartment-probe /compartment-probe\nENTRYPOINT [\"/compartment-probe\"]\n";
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in [
        ("Dockerfile", &dockerfile[..], 0o644),
        ("compartment-probe", AGENT, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)?;
    }
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_ships_a_static_agent() {
        assert!(
            AGENT.starts_with(b"\x7fELF"),
            "the agent is an ELF executable"
        );
        assert!(image().starts_with("compartment-probe:"));
        let archive = agent_context().unwrap();
        let mut names = Vec::new();
        for entry in tar::Archive::new(&archive[..]).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["Dockerfile", "compartment-probe"]);
    }
}
