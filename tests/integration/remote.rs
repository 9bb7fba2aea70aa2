//! Remote engines (issue #11) against a real second engine: a dockerd in
//! its own network namespace ([`crate::host::TestHost`]), whose containers'
//! addresses this machine cannot reach. Readiness (tcp and http) and exec
//! go through the engine; the environment's `remote` in compartment.yml
//! chooses it; the state records it and another engine is refused.

use crate::engine::{docker, Project};
use crate::host::TestHost;

cases! {
    docker an_environment_on_another_host_is_applied_probed_and_guarded,
    docker an_ssh_engine_is_reached_through_the_users_ssh,
    docker backups_of_a_remote_environment_land_here_and_restore_from_here,
    docker a_tls_engine_is_reached_with_the_docker_cli_environment,
    docker an_environment_moves_to_another_engine_only_when_asked,
    docker the_example_project_on_another_host_receives_its_hooks,
    docker hooks_and_readiness_through_the_probe_agent_on_the_local_engine,
}

fn an_environment_on_another_host_is_applied_probed_and_guarded() {
    let host = TestHost::start(&["compartment-test/busybox:1"]);
    let p = Project::new("remote");
    let remote = host.address.clone();
    let out = p
        .cmd(["--remote", &remote, "apply", "--yes"])
        .status(0)
        .output()
        .stdout;
    for line in [
        "resource.store: waiting for TCP port 7000 (up to 30s)",
        "service.web: waiting for HTTP GET :8080/ (expecting 200) (up to 30s)",
        "resource.store: ✓ created in",
        "service.web: ✓ created in",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    // The containers run there, not here, and this machine cannot reach
    // them: the readiness that passed went through the engine.
    let web = p.container("web");
    assert!(
        !docker(&["inspect", &web]).0,
        "nothing runs on the local engine"
    );
    let ip = host.docker_ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &web,
    ]);
    let addr: std::net::SocketAddr = format!("{}:8080", ip.trim()).parse().unwrap();
    assert_eq!(
        http_get(addr),
        None,
        "{addr} must not be reachable from here"
    );
    let id = host.docker_ok(&["info", "-f", "{{.ID}}"]);
    let st = p.state();
    assert_eq!(st["engine"]["id"], id.trim());
    assert_eq!(st["engine"]["address"], remote.as_str());

    // compartment.yml says where production lives: no flag needed.
    std::fs::write(
        p.dir.join("compartment.yml"),
        std::fs::read_to_string(p.dir.join("compartment.yml")).unwrap()
            + &format!("environments:\n  production:\n    remote: {remote}\n"),
    )
    .unwrap();
    p.cmd([
        "service",
        "exec",
        "web",
        "--",
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/",
    ])
    .stdout("remote\n")
    .run();
    let plan = p.cmd(["plan", "--refresh"]).status(0).output().stdout;
    assert!(
        plan.starts_with(&format!(
            "Plan for {} / production against engine {remote} (state serial",
            p.name
        )),
        "{plan}"
    );
    assert!(plan.contains("No changes."), "{plan}");

    // Another engine is refused before anything changes.
    let err = p
        .cmd(["--remote", "unix:///var/run/docker.sock", "apply", "--yes"])
        .status(None)
        .output();
    assert_ne!(err.status, 0);
    assert!(
        err.stderr
            .contains("this environment was applied to the engine")
            && err.stderr.contains("but this command is connected to"),
        "{}",
        err.stderr
    );
    assert!(!docker(&["inspect", &web]).0, "nothing was created locally");
    // An unreachable engine is one line within seconds.
    let started = std::time::Instant::now();
    let gone = p
        .cmd(["--remote", "tcp://10.231.250.250:2375", "ps"])
        .status(None)
        .output();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        gone.stderr
            .starts_with("error: cannot reach the Docker engine at tcp://10.231.250.250:2375: ")
            && gone.stderr.lines().count() == 1,
        "{}",
        gone.stderr
    );

    p.cmd(["destroy", "--yes"]).status(0).output();
    let (_, left) = (
        true,
        host.docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.compartment.project={}", p.name),
        ]),
    );
    assert_eq!(
        left.trim(),
        "",
        "destroy removed the containers on the remote engine"
    );
}

/// `ssh://root@HOST/path/to/docker.sock`: the user's ssh (here a config
/// given by `COMPARTMENT_SSH`, as GIT_SSH_COMMAND works) forwards a local
/// socket to the host's engine; Debian's sshd lets the test key in.
fn an_ssh_engine_is_reached_through_the_users_ssh() {
    let host = TestHost::start(&[
        "compartment-test/busybox:1",
        "compartment-test/debian:12",
        "postgres:16-alpine",
    ]);
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let _sshd = host.sshd(keys.path());
    let config = keys.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  UserKnownHostsFile {}/known_hosts\n  StrictHostKeyChecking accept-new\n",
            key.display(),
            keys.path().display()
        ),
    )
    .unwrap();
    let ssh = format!("ssh -F {}", config.display());
    let remote = format!(
        "ssh://root@{}{}",
        host.ip,
        host.root.join("docker.sock").display()
    );
    let p = Project::new("example");
    let out = p
        .cmd(["--remote", &remote, "apply", "--yes"])
        .env("COMPARTMENT_SSH", &ssh)
        .status(None)
        .output();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("service.storefront: ✓ created in"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.starts_with(&format!(
        "Plan for {} / production against engine {remote}",
        p.name
    )));
    // The example's create hooks reached the storefront over there.
    let hooks = host.docker_ok(&[
        "exec",
        &p.container("storefront"),
        "python3",
        "-c",
        "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())",
    ]);
    let hooks: serde_json::Value = serde_json::from_str(hooks.trim()).unwrap();
    assert_eq!(hooks.as_array().map(Vec::len), Some(2), "{hooks}");
    assert!(
        !docker(&["inspect", &p.container("storefront")]).0,
        "nothing runs here"
    );
    // A wrong key is one clear line, not a prompt.
    let err = p
        .cmd(["--remote", &remote, "ps"])
        .env("COMPARTMENT_SSH", "ssh -F /dev/null -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
        .status(None)
        .output();
    assert_ne!(err.status, 0);
    assert!(
        err.stderr
            .contains("cannot reach the Docker engine at ssh://"),
        "{}",
        err.stderr
    );
    p.cmd(["--remote", &remote, "destroy", "--yes", "--delete-data"])
        .env("COMPARTMENT_SSH", &ssh)
        .status(0)
        .output();
}

/// A backup of a resource on another host: the operation runs there, its
/// artifacts travel through the engine (a scratch volume copied out) and
/// land in this machine's backup directory; a restore copies them back in
/// (read-only for the operation, as on the local engine).
fn backups_of_a_remote_environment_land_here_and_restore_from_here() {
    let host = TestHost::start(&["compartment-test/busybox:1", "compartment-test/debian:12"]);
    let p = Project::new("ops/store");
    let remote = host.address.clone();
    let ops = |args: &[&str]| {
        let mut all = vec!["--remote", remote.as_str()];
        all.extend_from_slice(args);
        p.ops(all)
    };
    ops(&["apply", "--yes", "--target", "resource.store"])
        .status(0)
        .output();
    ops(&[
        "resource",
        "exec",
        "store",
        "--",
        "sh",
        "-c",
        "echo precious > /data/file",
    ])
    .status(0)
    .output();
    let run = ops(&["resource", "backup", "create", "--resource", "store"])
        .status(0)
        .output();
    let id = run
        .stdout
        .strip_prefix("Created backup ")
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    let artifacts = p.backup_dir().join(&id);
    assert!(
        artifacts.join("data.tar").is_file(),
        "the artifact is on this machine"
    );
    let tar = p.artifact(&id, "data.tar");
    assert!(String::from_utf8_lossy(&tar).contains("precious"));
    let os = String::from_utf8(p.artifact(&id, "image.txt")).unwrap();
    assert_eq!(
        os.trim(),
        "debian",
        "the backup ran in the operation's image"
    );
    let volumes = host.docker_ok(&["volume", "ls", "-q"]);
    assert!(
        !volumes.contains("-files"),
        "the scratch volume is removed: {volumes}"
    );

    ops(&[
        "resource",
        "exec",
        "store",
        "--",
        "sh",
        "-c",
        "echo lost > /data/file",
    ])
    .status(0)
    .output();
    ops(&[
        "resource",
        "backup",
        "restore",
        "--resource",
        "store",
        "--backup",
        &id,
        "--yes",
    ])
    .status(0)
    .output();
    ops(&["resource", "exec", "store", "--", "cat", "/data/file"])
        .stdout("precious\n")
        .run();
}

/// `tcp://HOST:2376` with `--tlsverify`: `DOCKER_TLS_VERIFY` and
/// `DOCKER_CERT_PATH` choose the client certificate, as for the docker CLI;
/// without them the engine is one clear line, not a hang.
fn a_tls_engine_is_reached_with_the_docker_cli_environment() {
    let host = TestHost::start_with(&["compartment-test/busybox:1"], true);
    let p = Project::new("remote");
    let remote = host.address.clone();
    let certs = host.tls_dir();
    let out = p
        .cmd(["--remote", &remote, "apply", "--yes"])
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", certs.to_str().unwrap())
        .status(None)
        .output();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("service.web: ✓ created in"),
        "{}",
        out.stdout
    );
    let running = host.docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.compartment.project={}", p.name),
    ]);
    assert_eq!(running.lines().count(), 2);
    // The docker CLI's flags do the same.
    let f = |n: &str| certs.join(n).display().to_string();
    p.cmd([
        "--remote",
        &remote,
        "--tlscacert",
        &f("ca.pem"),
        "--tlscert",
        &f("cert.pem"),
        "--tlskey",
        &f("key.pem"),
        "ps",
    ])
    .status(0)
    .output();
    let plain = p.cmd(["--remote", &remote, "ps"]).status(None).output();
    assert_ne!(plain.status, 0);
    assert!(
        plain.stderr.starts_with(&format!(
            "error: cannot reach the Docker engine at {remote}"
        )),
        "{}",
        plain.stderr
    );
    p.cmd(["--remote", &remote, "destroy", "--yes"])
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", certs.to_str().unwrap())
        .status(0)
        .output();
}

/// What `GET /` at `addr` answers from this machine, if anything: a
/// sandbox may accept any connection, so only an answer counts.
fn http_get(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let t = std::time::Duration::from_secs(2);
    let mut s = std::net::TcpStream::connect_timeout(&addr, t).ok()?;
    s.set_read_timeout(Some(t)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains("remote").then_some(out)
}

/// The engine path on the local engine (`COMPARTMENT_PROBE=engine`): the
/// example's lifecycle hooks and readiness waits are sent by the probe
/// agent from inside the network, with the same results as the direct path:
/// the hook server verified each JWT and the outcome is recorded.
fn hooks_and_readiness_through_the_probe_agent_on_the_local_engine() {
    let p = Project::new("example");
    let out = p
        .cmd(["apply", "--yes"])
        .env("COMPARTMENT_PROBE", "engine")
        .status(0)
        .output()
        .stdout;
    assert!(out.contains("resource.db: ✓ created in"), "{out}");
    let hooks = crate::engine::docker_ok(&[
        "exec",
        &p.container("storefront"),
        "python3",
        "-c",
        "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())",
    ]);
    let hooks: serde_json::Value = serde_json::from_str(hooks.trim()).unwrap();
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    assert!(
        hooks.iter().all(|h| h["claims"]["aud"] == "storefront"),
        "{hooks:?}"
    );
    let st = p.state();
    assert_eq!(
        st["instances"]["downtown"]["lastHook"]["status"], 200,
        "{st}"
    );
    let (ok, images) = docker(&["images", "-q", &compartment::docker::agent::image()]);
    assert!(ok && !images.trim().is_empty(), "the agent image was built");
}

/// The example project (PostgreSQL, Valkey-like cache, three services,
/// hooks) applied onto the other host: containers only there, both create
/// hooks received by the storefront with a verified JWT (sent by the agent
/// from inside the network), readiness waited for, and a no-op replan.
fn the_example_project_on_another_host_receives_its_hooks() {
    let host = TestHost::start(&[
        "compartment-test/busybox:1",
        "compartment-test/debian:12",
        "postgres:16-alpine",
    ]);
    let p = Project::new("example");
    let remote = host.address.clone();
    let out = p
        .cmd(["--remote", &remote, "apply", "--yes"])
        .status(None)
        .output();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("resource.db: waiting for TCP port 5432 (up to 60s)"),
        "{}",
        out.stdout
    );
    assert!(
        !docker(&["inspect", &p.container("storefront")]).0,
        "nothing runs here"
    );
    let hooks = host.docker_ok(&[
        "exec",
        &p.container("storefront"),
        "python3",
        "-c",
        "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_hooks').read().decode())",
    ]);
    let hooks: serde_json::Value = serde_json::from_str(hooks.trim()).unwrap();
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    assert!(
        hooks.iter().all(|h| h["claims"]["operation"] == "create"),
        "{hooks:?}"
    );
    let st = p.state();
    assert_eq!(
        st["instances"]["downtown"]["lastHook"]["status"], 200,
        "{st}"
    );
    let plan = p
        .cmd(["--remote", &remote, "plan", "--refresh"])
        .status(0)
        .output()
        .stdout;
    assert!(plan.contains("No changes."), "{plan}");
    p.cmd(["--remote", &remote, "destroy", "--yes", "--delete-data"])
        .status(0)
        .output();
}

/// `--remote X --move-engine`: the environment moves to X (what is missing
/// there is recreated, its variables kept) and the state records X from
/// then on; without `--remote`, `--move-engine` is a usage error.
fn an_environment_moves_to_another_engine_only_when_asked() {
    let host = TestHost::start(&["compartment-test/busybox:1"]);
    let p = Project::new("remote");
    p.cmd(["apply", "--yes"]).status(0).output();
    let local = p.state()["engine"]["id"].clone();
    let remote = host.address.clone();
    let refused = p
        .cmd(["--remote", &remote, "apply", "--yes"])
        .status(None)
        .output();
    assert_ne!(refused.status, 0, "{}", refused.stdout);
    let out = p
        .cmd(["--remote", &remote, "--move-engine", "apply", "--yes"])
        .status(0)
        .output()
        .stdout;
    assert!(out.contains("resource.store: ✓"), "{out}");
    let moved = p.state()["engine"].clone();
    assert_ne!(moved["id"], local);
    assert_eq!(moved["address"], remote.as_str());
    let label = format!("label=io.compartment.project={}", p.name);
    let there = host.docker_ok(&["ps", "-q", "--filter", &label]);
    assert_eq!(there.lines().count(), 2, "both run on the new engine");
    let usage = p.cmd(["--move-engine", "ps"]).status(None).output();
    assert_eq!(usage.status, 1, "{}", usage.stderr);
    p.cmd(["--remote", &remote, "destroy", "--yes"])
        .status(0)
        .output();
}
