//! Which engine a command talks to, as the docker CLI decides it: the
//! engine asked for (`--remote`, or the environment's `remote` in
//! compartment.yml) — an address or a Docker context name — else
//! `DOCKER_HOST`, else the context named by `DOCKER_CONTEXT` or the docker
//! CLI's current context, else the local socket. `ssh://` engines are
//! reached through the user's own `ssh` (keys, agent, `known_hosts`,
//! `~/.ssh/config`; `COMPARTMENT_SSH` names another ssh command), which
//! forwards a local socket to the remote one.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{DockerError, DEFAULT_ADDRESS};

/// The engine address chosen and what chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: String,
    /// `--remote or compartment.yml`, `DOCKER_HOST`, `context NAME`, `default`.
    pub source: String,
}

impl Target {
    /// The context's own TLS material when a context chose the engine.
    pub fn context_tls(&self) -> Option<Tls> {
        self.source.strip_prefix("context ").and_then(context_tls)
    }
}

/// The engine for `chosen` (an address or a context name), or the
/// docker CLI's default when nothing was chosen.
pub fn resolve(chosen: Option<&str>) -> Result<Target, DockerError> {
    let target = |address: String, source: &str| Target {
        address,
        source: source.to_string(),
    };
    if let Some(c) = chosen.filter(|c| !c.trim().is_empty()) {
        if c.contains("://") {
            return Ok(target(c.to_string(), "--remote"));
        }
        return context(c);
    }
    if let Some(host) = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
    {
        return Ok(target(host, "DOCKER_HOST"));
    }
    let named = std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(current_context);
    match named {
        Some(name) if name != "default" => context(&name),
        _ => Ok(target(DEFAULT_ADDRESS.to_string(), "default")),
    }
}

fn config_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => dirs::home_dir().unwrap_or_default().join(".docker"),
    }
}

/// The docker CLI's `currentContext` (config.json), if any.
fn current_context() -> Option<String> {
    let text = std::fs::read_to_string(config_dir().join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["currentContext"].as_str().map(str::to_string)
}

/// The engine address of the Docker context `name`.
fn context(name: &str) -> Result<Target, DockerError> {
    if name == "default" {
        return Ok(Target {
            address: DEFAULT_ADDRESS.into(),
            source: "context default".into(),
        });
    }
    let digest = crate::support::digest::sha256_hex(name.as_bytes());
    let meta = config_dir()
        .join("contexts/meta")
        .join(digest)
        .join("meta.json");
    let unknown = |why: String| DockerError::UnknownContext {
        name: name.to_string(),
        why,
    };
    let text = std::fs::read_to_string(&meta)
        .map_err(|e| unknown(format!("cannot read {}: {e}", meta.display())))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| unknown(format!("{}: {e}", meta.display())))?;
    let host = v["Endpoints"]["docker"]["Host"]
        .as_str()
        .ok_or_else(|| unknown(format!("{} names no docker endpoint", meta.display())))?;
    Ok(Target {
        address: host.to_string(),
        source: format!("context {name}"),
    })
}

/// The TLS material the docker CLI stores for the context `name`
/// (`contexts/tls/<digest>/docker/{ca,cert,key}.pem`), if it has any.
pub fn context_tls(name: &str) -> Option<Tls> {
    let digest = crate::support::digest::sha256_hex(name.as_bytes());
    let dir = config_dir()
        .join("contexts/tls")
        .join(digest)
        .join("docker");
    let t = Tls {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    (t.ca.is_file() && t.cert.is_file() && t.key.is_file()).then_some(t)
}

/// The client certificate, key and CA a TLS-verified `tcp://` engine is
/// reached with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// TLS for `address`, as the docker CLI decides it: the `--tls*` flags; else
/// a `tcp://` engine with
/// `DOCKER_TLS_VERIFY` set (non-empty, not `0`), or with `DOCKER_CERT_PATH`
/// set, uses `ca.pem`, `cert.pem` and `key.pem` from `DOCKER_CERT_PATH`
/// (default `~/.docker`); each file must exist.
pub fn tls_material(address: &str) -> Result<Option<Tls>, String> {
    if !address.starts_with("tcp://") {
        return Ok(None);
    }
    // `--tlscacert/--tlscert/--tlskey` (the command line puts them here).
    let flag = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let (Some(ca), Some(cert), Some(key)) = (
        flag("COMPARTMENT_TLS_CACERT"),
        flag("COMPARTMENT_TLS_CERT"),
        flag("COMPARTMENT_TLS_KEY"),
    ) {
        for p in [&ca, &cert, &key] {
            if !p.is_file() {
                return Err(format!("{} (a --tls* flag) is missing", p.display()));
            }
        }
        return Ok(Some(Tls { ca, cert, key }));
    }
    let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
    let dir = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty());
    if !verify && dir.is_none() {
        return Ok(None);
    }
    let dir = dir.map(PathBuf::from).unwrap_or_else(config_dir);
    let file = |name: &str| {
        let p = dir.join(name);
        match p.is_file() {
            true => Ok(p),
            false => Err(format!(
                "TLS is on (DOCKER_TLS_VERIFY or DOCKER_CERT_PATH) but {} is missing",
                p.display()
            )),
        }
    };
    Ok(Some(Tls {
        ca: file("ca.pem")?,
        cert: file("cert.pem")?,
        key: file("key.pem")?,
    }))
}

/// An `ssh` process forwarding a local socket to the remote engine's;
/// killed (and its socket removed) when dropped.
#[derive(Debug)]
pub struct Tunnel {
    child: Child,
    socket: PathBuf,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// How long the ssh connection may take to forward the socket.
const SSH_WAIT: Duration = Duration::from_secs(20);

/// Opens a tunnel to `ssh://[user@]host[:port][/remote/socket]`; returns it
/// with the local `unix://` address to connect to.
pub fn ssh_tunnel(address: &str) -> Result<(Tunnel, String), DockerError> {
    let failed = |reason: String| DockerError::Unreachable {
        address: address.to_string(),
        reason,
    };
    let rest = address.trim_start_matches("ssh://");
    let (authority, remote_socket) = match rest.find('/') {
        Some(i) if i + 1 < rest.len() => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], "/var/run/docker.sock".to_string()),
        None => (rest, "/var/run/docker.sock".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse::<u16>().ok()),
        _ => (authority, None),
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let socket = std::env::temp_dir().join(format!("compartment-ssh-{}.sock", &suffix[..12]));
    let mut cmd = crate::support::ssh::command(port);
    cmd.args(["-o", "ExitOnForwardFailure=yes"])
        .args(["-o", "StreamLocalBindUnlink=yes", "-nNT"])
        .arg("-L")
        .arg(format!("{}:{remote_socket}", socket.display()));
    let child = cmd
        .arg(host)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run ssh: {e}")))?;
    let mut tunnel = Tunnel { child, socket };
    wait_for_socket(&mut tunnel).map_err(failed)?;
    let local = format!("unix://{}", tunnel.socket.display());
    Ok((tunnel, local))
}

fn wait_for_socket(t: &mut Tunnel) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < SSH_WAIT {
        if is_socket(&t.socket) {
            return Ok(());
        }
        if let Ok(Some(status)) = t.child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = t.child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(format!("ssh exited ({status}): {err}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "ssh did not forward the engine's socket within {}s",
        SSH_WAIT.as_secs()
    ))
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_read_from_the_docker_cli_config() {
        let dir = tempfile::tempdir().unwrap();
        let name = "prod-eu";
        let digest = crate::support::digest::sha256_hex(name.as_bytes());
        let meta = dir.path().join("contexts/meta").join(digest);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"prod-eu","Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376"}}}"#,
        )
        .unwrap();
        // SAFETY-free: the variable is read by this test's calls only.
        std::env::set_var("DOCKER_CONFIG", dir.path());
        let t = context(name).unwrap();
        assert_eq!(
            (t.address.as_str(), t.source.as_str()),
            ("tcp://10.0.0.5:2376", "context prod-eu")
        );
        assert_eq!(t.context_tls(), None, "no TLS material stored");
        let tls = dir
            .path()
            .join("contexts/tls")
            .join(crate::support::digest::sha256_hex(name.as_bytes()))
            .join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(tls.join(f), "x").unwrap();
        }
        assert_eq!(t.context_tls().map(|t| t.ca), Some(tls.join("ca.pem")));
        let err = context("nope").unwrap_err().to_string();
        assert!(err.contains("Docker context `nope`"), "{err}");
        std::env::remove_var("DOCKER_CONFIG");
    }
}
