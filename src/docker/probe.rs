//! Readiness probes: how apply tells a new container is ready. A probe is a
//! TCP connection, an HTTP request, a command run in the container, or the
//! image's own `HEALTHCHECK` as the engine reports it. `wait_probe` repeats
//! one until it passes or its time is up, and keeps the last answer so a
//! failure says what was tried and what came back.

use std::time::{Duration, Instant};

use super::agent::Reach;
use super::error::one_line;
use super::{engine_error, is_not_found, Docker, DockerError, ExecOutput};

/// One way of asking "are you ready?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The port accepts a TCP connection.
    Tcp { port: u16 },
    /// `GET path` on the port answers `expect` (any 2xx when `None`).
    Http {
        port: u16,
        path: String,
        expect: Option<u16>,
    },
    /// The command, run in the container, exits 0.
    Command(Vec<String>),
    /// The engine reports the image's `HEALTHCHECK` as healthy.
    Health,
}

/// The last answer before the first attempt ends.
const NO_ATTEMPT: &str = "no attempt made";

/// How long one HTTP request or TCP connection attempt may take.
const ATTEMPT: Duration = Duration::from_secs(1);
/// The pause between two attempts of a network probe.
const NETWORK_RETRY: Duration = Duration::from_millis(100);
/// The pause between two runs of a command or two health reads (each is an
/// engine round trip, and a health check runs on its own interval).
const ENGINE_RETRY: Duration = Duration::from_millis(500);
/// The longest one run of the probe agent waits before the container's
/// state is checked again.
const AGENT_RUN: Duration = Duration::from_secs(10);
/// What a run of the agent may take beyond its wait: creating and starting
/// its container (and, the first time on an engine, building its image).
const AGENT_START: Duration = Duration::from_secs(60);
/// How often the container itself is checked while a probe fails.
const STATE_CHECK: Duration = Duration::from_secs(1);

impl Probe {
    /// What the probe tries, for progress lines and errors: `HTTP GET
    /// :8080/health (expecting 200)`.
    pub fn describe(&self) -> String {
        match self {
            Probe::Tcp { port } => format!("TCP port {port}"),
            Probe::Http { port, path, expect } => {
                let expect = expect.map_or("2xx".to_string(), |s| s.to_string());
                format!("HTTP GET :{port}{path} (expecting {expect})")
            }
            Probe::Command(c) => format!("`{}` in the container", quoted(c)),
            Probe::Health => "the image's HEALTHCHECK".to_string(),
        }
    }

    fn retry(&self) -> Duration {
        match self {
            Probe::Tcp { .. } | Probe::Http { .. } => NETWORK_RETRY,
            Probe::Command(_) | Probe::Health => ENGINE_RETRY,
        }
    }
}

/// The answer of one attempt: ready, or what came back instead.
type Attempt = Result<(), String>;

impl Docker {
    /// Repeats `probe` against `container` until it passes (returns how
    /// long that took) or `timeout` passes ([`DockerError::NotReady`] with
    /// the last answer). Network probes connect to the container's address
    /// on `network`. A container that stops for good fails the wait at once.
    pub async fn wait_probe(
        &self,
        container: &str,
        network: &str,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<Duration, DockerError> {
        let network_probe = matches!(probe, Probe::Tcp { .. } | Probe::Http { .. });
        if network_probe && self.reach() == Reach::Engine {
            return self
                .wait_through_agent(container, network, probe, timeout)
                .await;
        }
        let started = Instant::now();
        let deadline = started + timeout;
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DockerError::Engine {
                action: "prepare an HTTP probe".into(),
                reason: one_line(&e.to_string()),
            })?;
        let mut last = String::from(NO_ATTEMPT);
        let mut checked = started;
        let mut stopped_once = false;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = self.attempt(container, network, probe, &http);
            let Ok(answer) = tokio::time::timeout(left, attempt).await else {
                // Cut short by the deadline: an earlier answer says more.
                if last == NO_ATTEMPT {
                    last = format!("no answer within {:.1}s", left.as_secs_f64());
                }
                break;
            };
            match answer? {
                Ok(()) => return Ok(started.elapsed()),
                Err(said) => last = said,
            }
            if checked.elapsed() >= STATE_CHECK {
                checked = Instant::now();
                if let Some(gone) = self.stopped(container).await? {
                    // Twice in a row: a restart policy gets one chance.
                    if stopped_once {
                        last = format!("{last}; {gone}");
                        break;
                    }
                    stopped_once = true;
                } else {
                    stopped_once = false;
                }
            }
            let pause = probe
                .retry()
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
        }
        Err(DockerError::NotReady {
            container: container.to_string(),
            what: probe.describe(),
            waited: started.elapsed(),
            last,
        })
    }

    /// [`Docker::wait_probe`] of a network probe from inside the network:
    /// the probe agent repeats it on the environment's network in runs of
    /// at most [`AGENT_RUN`], the container's state checked between runs.
    async fn wait_through_agent(
        &self,
        container: &str,
        network: &str,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<Duration, DockerError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut last = String::from("no attempt made");
        while Instant::now() < deadline {
            let run = AGENT_RUN.min(deadline.saturating_duration_since(Instant::now()));
            let Some(ip) = self.container_ip(container, network).await? else {
                last = format!("the container has no address on {network}");
                tokio::time::sleep(ENGINE_RETRY.min(run)).await;
                continue;
            };
            let args = agent_args(probe, &ip, run);
            let limit = run + AGENT_START;
            let answer = self
                .run_agent(network, &args, Default::default(), limit)
                .await?;
            let said = answer.output.trim();
            if answer.code == 0 {
                return Ok(started.elapsed());
            }
            last = said.strip_prefix("last: ").unwrap_or(said).to_string();
            if let Some(gone) = self.stopped(container).await? {
                last = format!("{last}; {gone}");
                break;
            }
        }
        Err(DockerError::NotReady {
            container: container.to_string(),
            what: probe.describe(),
            waited: started.elapsed(),
            last: clip(&one_line(&last)),
        })
    }

    /// Whether `container` has an image `HEALTHCHECK` the engine runs.
    pub async fn has_healthcheck(&self, container: &str) -> Result<bool, DockerError> {
        Ok(self
            .inspect_container(container)
            .await?
            .is_some_and(|c| c.health.is_some()))
    }

    /// One attempt; the outer `Err` is an engine failure that ends the wait.
    async fn attempt(
        &self,
        container: &str,
        network: &str,
        probe: &Probe,
        http: &reqwest::Client,
    ) -> Result<Attempt, DockerError> {
        match probe {
            Probe::Tcp { port } | Probe::Http { port, .. } => {
                let Some(ip) = self.container_ip(container, network).await? else {
                    return Ok(Err(format!("the container has no address on {network}")));
                };
                Ok(match probe {
                    Probe::Http { path, expect, .. } => {
                        http_attempt(http, &ip, *port, path, *expect).await
                    }
                    _ => tcp_attempt(&ip, *port).await,
                })
            }
            Probe::Command(command) => self.command_attempt(container, command).await,
            Probe::Health => self.health_attempt(container).await,
        }
    }

    async fn command_attempt(
        &self,
        container: &str,
        command: &[String],
    ) -> Result<Attempt, DockerError> {
        let mut output = Vec::new();
        let code = match self
            .exec(container, command, |chunk| match chunk {
                ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => output.extend_from_slice(&b),
            })
            .await
        {
            Ok(code) => code,
            // Not running yet (or restarting): the engine refuses the exec.
            Err(DockerError::Engine { reason, .. }) => return Ok(Err(reason)),
            Err(e) => return Err(e),
        };
        if code == 0 {
            return Ok(Ok(()));
        }
        let text = String::from_utf8_lossy(&output);
        let tail = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Ok(Err(match tail {
            "" => format!("exit code {code}"),
            t => format!("exit code {code}: {}", clip(&one_line(t))),
        }))
    }

    async fn health_attempt(&self, container: &str) -> Result<Attempt, DockerError> {
        // A swarm task with a health check runs only once it passes.
        if self.on_swarm() {
            return Ok(match self.inspect_container(container).await? {
                Some(c) if c.running => Ok(()),
                Some(c) => Err(format!("no task running ({})", c.status)),
                None => Err("the service is gone".into()),
            });
        }
        let Some((status, output)) = self.health(container).await? else {
            return Ok(Err("the image declares no HEALTHCHECK".into()));
        };
        if status == "healthy" {
            return Ok(Ok(()));
        }
        Ok(Err(match output {
            Some(o) if !o.trim().is_empty() => format!("{status}: {}", clip(&one_line(&o))),
            _ => status,
        }))
    }

    /// The engine's health status of the container's `HEALTHCHECK` and the
    /// output of its last run; `None` when the image declares none.
    async fn health(
        &self,
        container: &str,
    ) -> Result<Option<(String, Option<String>)>, DockerError> {
        let inspected = match self.client.inspect_container(container, None).await {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => {
                return Err(DockerError::NoSuchContainer {
                    name: container.into(),
                })
            }
            Err(e) => return Err(engine_error(format!("inspect container `{container}`"), &e)),
        };
        let Some(health) = inspected.state.and_then(|s| s.health) else {
            return Ok(None);
        };
        let status = health.status.map(|s| s.to_string());
        let Some(status) = status.filter(|s| !s.is_empty() && s != "none") else {
            return Ok(None);
        };
        let output = health
            .log
            .and_then(|l| l.last().and_then(|r| r.output.clone()));
        Ok(Some((status, output)))
    }

    /// `Some(why)` when the container is not running and not restarting.
    async fn stopped(&self, container: &str) -> Result<Option<String>, DockerError> {
        if self.on_swarm() {
            return self.service_stopped(container).await;
        }
        let Some(info) = self.inspect_container(container).await? else {
            return Ok(Some("the container is gone".into()));
        };
        Ok(match info.status.as_str() {
            "exited" | "dead" => Some(match info.exit_code {
                Some(code) => format!("the container exited with code {code}"),
                None => "the container stopped".to_string(),
            }),
            _ => None,
        })
    }
}

/// The agent's arguments for a network probe of `ip` lasting `run`.
fn agent_args(probe: &Probe, ip: &str, run: Duration) -> Vec<String> {
    let ms = run.as_millis().max(1).to_string();
    match probe {
        Probe::Http { port, path, expect } => {
            let expect = expect.unwrap_or(0).to_string();
            ["wait", "http", ip, &port.to_string(), path, &expect, &ms]
                .map(String::from)
                .to_vec()
        }
        Probe::Tcp { port } => ["wait", "tcp", ip, &port.to_string(), &ms]
            .map(String::from)
            .to_vec(),
        Probe::Command(_) | Probe::Health => Vec::new(),
    }
}

async fn tcp_attempt(ip: &str, port: u16) -> Attempt {
    match tokio::time::timeout(ATTEMPT, tokio::net::TcpStream::connect((ip, port))).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(one_line(&e.to_string())),
        Err(_) => Err(format!("no answer within {} ms", ATTEMPT.as_millis())),
    }
}

async fn http_attempt(
    http: &reqwest::Client,
    ip: &str,
    port: u16,
    path: &str,
    expect: Option<u16>,
) -> Attempt {
    let url = format!("http://{ip}:{port}{path}");
    let response = match http.get(&url).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Err(format!("no answer within {} ms", ATTEMPT.as_millis()))
        }
        Err(e) => return Err(root_cause(&e)),
    };
    let status = response.status();
    let ok = match expect {
        Some(want) => status.as_u16() == want,
        None => status.is_success(),
    };
    if ok {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body = one_line(&body);
    Err(match body.is_empty() {
        true => format!("HTTP {}", status.as_u16()),
        false => format!("HTTP {}: {}", status.as_u16(), clip(&body)),
    })
}

/// An argument list as a shell would read it back: arguments with spaces
/// or shell characters in single quotes.
fn quoted(args: &[String]) -> String {
    let plain = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    };
    let words: Vec<String> = args
        .iter()
        .map(|a| match plain(a) {
            true => a.clone(),
            false => format!("'{}'", a.replace('\'', "'\\''")),
        })
        .collect();
    words.join(" ")
}

/// The innermost cause of an error (`Connection refused (os error 111)`
/// rather than reqwest's "error sending request for url …").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    one_line(&cause.to_string())
}

/// At most 200 characters of an answer.
fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_says_what_it_tries() {
        let http = Probe::Http {
            port: 8080,
            path: "/health".into(),
            expect: Some(204),
        };
        assert_eq!(http.describe(), "HTTP GET :8080/health (expecting 204)");
        let any = Probe::Http {
            port: 80,
            path: "/".into(),
            expect: None,
        };
        assert_eq!(any.describe(), "HTTP GET :80/ (expecting 2xx)");
        assert_eq!(Probe::Tcp { port: 5432 }.describe(), "TCP port 5432");
        let cmd = Probe::Command(vec!["pg_isready".into(), "-q".into()]);
        assert_eq!(cmd.describe(), "`pg_isready -q` in the container");
        assert_eq!(Probe::Health.describe(), "the image's HEALTHCHECK");
        let shell = Probe::Command(vec!["sh".into(), "-c".into(), "echo it's; exit 3".into()]);
        assert_eq!(
            shell.describe(),
            r#"`sh -c 'echo it'\''s; exit 3'` in the container"#
        );
    }

    #[test]
    fn long_answers_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(300);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), 201);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }
}
