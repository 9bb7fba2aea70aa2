//! The Docker runtime (`compartment::docker`) against the real engine,
//! through its public API only. The Docker-backed tests are `docker` cases,
//! reported as ignored when no engine answers (see [`crate::harness`]); each
//! is a plain `fn` running its async body on a fresh current-thread tokio
//! runtime. They need the local test image `compartment-test/busybox:1`
//! (scripts/build-test-images.sh). Every object gets a unique `cmpt-dt-…`
//! name and is removed by a guard, also when the test fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use compartment::docker::{labels, ContainerSpec, Docker, DockerError, Mount};

cases! {
    plain connect_to_a_missing_socket_is_a_one_line_unreachable_error,
    docker connect_negotiates_the_engine_api_version,
    docker containers_reach_each_other_by_network_alias,
    docker container_spec_is_applied_and_reported,
    docker named_volume_keeps_data_across_container_recreation,
    docker wait_tcp_sees_a_listener_and_times_out_without_one,
    docker images_present_and_missing,
    docker build_image_builds_and_reports_the_failing_step,
    plain context_hash_is_stable_and_content_sensitive,
    docker run_to_completion_reports_exit_code_and_output_and_leaves_nothing,
    docker list_containers_filters_by_labels,
    docker logs_tail_and_follow,
}

const BUSYBOX: &str = "compartment-test/busybox:1";
/// Label marking every object of one test, for list filters.
const TEST_LABEL: &str = "io.compartment.test-run";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs a test's async body to completion on its own current-thread runtime
/// (what `#[tokio::test]` did).
fn block_on<F: Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(body)
}

/// A fresh `cmpt-dt-<pid>-<n>-<nonce>` prefix.
fn unique_prefix() -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xffff;
    format!(
        "cmpt-dt-{}-{}-{nonce:04x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The engine named by `DOCKER_HOST`, with the test image present. The
/// harness runs these tests only once an engine has answered its probe, so
/// failing to connect here is a failure, not a skip.
async fn connect() -> Docker {
    let docker = Docker::connect()
        .await
        .unwrap_or_else(|e| panic!("the harness found a Docker engine, but: {e}"));
    assert!(
        docker.image_exists(BUSYBOX).await.unwrap(),
        "the test image {BUSYBOX} is missing: run scripts/build-test-images.sh"
    );
    docker
}

/// Names the objects of one test and removes them all when dropped.
struct Scope {
    address: String,
    prefix: String,
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Scope {
    fn new(docker: &Docker) -> Scope {
        Scope {
            address: docker.address().to_string(),
            prefix: unique_prefix(),
            containers: Vec::new(),
            networks: Vec::new(),
            volumes: Vec::new(),
            images: Vec::new(),
        }
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    fn container(&mut self, suffix: &str) -> String {
        let name = self.name(suffix);
        self.containers.push(name.clone());
        name
    }

    fn network(&mut self, suffix: &str) -> String {
        let name = self.name(suffix);
        self.networks.push(name.clone());
        name
    }

    fn volume(&mut self, suffix: &str) -> String {
        let name = self.name(suffix);
        self.volumes.push(name.clone());
        name
    }

    fn image(&mut self, tag: &str) -> String {
        let image = format!("{}:{tag}", self.prefix);
        self.images.push(image.clone());
        image
    }

    /// The labels every object of this test carries.
    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(TEST_LABEL.to_string(), self.prefix.clone())])
    }

    /// A busybox spec named `<prefix>-<suffix>`, registered for cleanup.
    fn spec(&mut self, suffix: &str, command: &str) -> ContainerSpec {
        let mut spec = ContainerSpec::new(self.container(suffix), BUSYBOX);
        spec.command = Some(vec!["sh".into(), "-c".into(), command.into()]);
        spec.labels = self.labels();
        spec
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Async cleanup from a destructor: a fresh runtime and connection on a
        // helper thread, so it also runs while a failing test unwinds.
        let address = self.address.clone();
        let containers = std::mem::take(&mut self.containers);
        let networks = std::mem::take(&mut self.networks);
        let volumes = std::mem::take(&mut self.volumes);
        let images = std::mem::take(&mut self.images);
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                let docker = Docker::connect_to(&address).await.expect("cleanup connect");
                for c in &containers {
                    if let Err(e) = docker.remove_container(c, true).await {
                        eprintln!("cleanup: {e}");
                    }
                }
                for n in &networks {
                    if let Err(e) = docker.remove_network(n).await {
                        eprintln!("cleanup: {e}");
                    }
                }
                for v in &volumes {
                    if let Err(e) = docker.remove_volume(v).await {
                        eprintln!("cleanup: {e}");
                    }
                }
                for i in &images {
                    if let Err(e) = docker.remove_image(i).await {
                        eprintln!("cleanup: {e}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A busybox web server answering `GET /index.html` with `body` on `port`.
fn httpd(body: &str, port: u16) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {port} -h /www")
}

/// Waits until the container has stopped.
async fn wait_exited(docker: &Docker, name: &str) {
    for _ in 0..100 {
        let info = docker
            .inspect_container(name)
            .await
            .unwrap()
            .expect("container exists");
        if !info.running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("container {name} did not stop");
}

fn connect_to_a_missing_socket_is_a_one_line_unreachable_error() {
    block_on(async {
        let err = Docker::connect_to("unix:///nonexistent.sock")
            .await
            .unwrap_err();
        assert!(matches!(err, DockerError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("cannot reach the Docker engine at unix:///nonexistent.sock: "),
            "{text}"
        );
        assert!(text.ends_with("(is it running? set DOCKER_HOST)"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        eprintln!("{text}");

        let err = Docker::connect_to("tcp://127.0.0.1:1").await.unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, DockerError::Unreachable { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'), "{err}");

        let err = Docker::connect_to("ftp://nowhere").await.unwrap_err();
        assert!(err.to_string().contains("unsupported address"), "{err}");
    })
}

fn connect_negotiates_the_engine_api_version() {
    block_on(async {
        let docker = connect().await;
        let version = docker.api_version();
        let (major, minor) = version.split_once('.').unwrap();
        assert_eq!(major, "1");
        assert!(minor.parse::<u32>().unwrap() >= 24, "{version}");
        eprintln!("negotiated API {version} at {}", docker.address());
    })
}

fn containers_reach_each_other_by_network_alias() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let network = scope.network("net");
        let id = docker
            .ensure_network(&network, &scope.labels())
            .await
            .unwrap();
        assert!(!id.is_empty());
        assert_eq!(
            docker
                .ensure_network(&network, &scope.labels())
                .await
                .unwrap(),
            id,
            "an existing network is reused"
        );

        let alias = scope.name("web-alias");
        let mut server = scope.spec("server", &httpd("hello-by-alias", 8080));
        server.network = Some(network.clone());
        server.aliases = vec![alias.clone()];
        server.exposed_ports = vec![8080];
        docker.create_and_start(&server).await.unwrap();

        let info = docker
            .inspect_container(&server.name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.aliases.get(&network), Some(&vec![alias.clone()]));
        let ip = docker
            .container_ip(&server.name, &network)
            .await
            .unwrap()
            .expect("an IP");
        assert_eq!(info.ip_addresses.get(&network), Some(&ip));
        assert_eq!(
            docker.container_ip(&server.name, "bridge").await.unwrap(),
            None
        );
        docker
            .wait_tcp(&ip, 8080, Duration::from_secs(10))
            .await
            .unwrap();

        // busybox's wget crashes resolving names in this static build; nc works.
        let mut client = scope.spec(
            "client",
            &format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc {alias} 8080"),
        );
        client.network = Some(network.clone());
        let outcome = docker.run_to_completion(&client).await.unwrap();
        assert_eq!(outcome.exit_code, 0, "{}", outcome.output);
        assert!(
            outcome.output.contains("hello-by-alias"),
            "{}",
            outcome.output
        );

        // The network cannot go while used; it can once the server is gone.
        assert!(docker.remove_network(&network).await.is_err());
        docker.remove_container(&server.name, true).await.unwrap();
        docker.remove_network(&network).await.unwrap();
        docker.remove_network(&network).await.unwrap();
    })
}

fn container_spec_is_applied_and_reported() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let network = scope.network("net");
        docker
            .ensure_network(&network, &scope.labels())
            .await
            .unwrap();

        let mut spec = scope.spec("svc", &httpd("x", 8080));
        spec.network = Some(network.clone());
        spec.exposed_ports = vec![8080, 9090];
        spec.restart = Some("on-failure:3".into());
        spec.working_dir = Some("/www".into());
        spec.env = BTreeMap::from([
            ("GREETING".to_string(), "hello world".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]);
        spec.labels
            .extend(labels::standard("proj", "dev", labels::KIND_SERVICE, "svc"));
        let id = docker.create_and_start(&spec).await.unwrap();

        let info = docker.inspect_container(&spec.name).await.unwrap().unwrap();
        assert_eq!(info.id, id);
        assert_eq!(info.name, spec.name);
        assert_eq!(info.image, BUSYBOX);
        assert!(info.running);
        assert_eq!(info.status, "running");
        assert_eq!(
            info.env.get("GREETING").map(String::as_str),
            Some("hello world")
        );
        assert_eq!(info.env.get("EMPTY").map(String::as_str), Some(""));
        assert_eq!(
            info.labels.get(labels::KIND).map(String::as_str),
            Some("service")
        );
        assert_eq!(
            info.labels.get(labels::PROJECT).map(String::as_str),
            Some("proj")
        );
        assert_eq!(info.labels.get(TEST_LABEL), Some(&scope.prefix));
        assert_eq!(info.exposed_ports, vec![8080, 9090]);
        assert!(
            info.published_ports.is_empty(),
            "{:?}",
            info.published_ports
        );
        assert_eq!(info.restart.as_deref(), Some("on-failure:3"));
        assert_eq!(info.aliases.get(&network), Some(&Vec::new()));

        // The engine itself publishes nothing either.
        let ps = std::process::Command::new("docker")
            .args(["port", &spec.name])
            .output();
        if let Ok(ps) = ps {
            assert!(String::from_utf8_lossy(&ps.stdout).trim().is_empty());
        }

        // Same name again: refused; the caller removes first.
        let err = docker.create_and_start(&spec).await.unwrap_err();
        assert!(
            matches!(err, DockerError::ContainerExists { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&spec.name), "{err}");

        docker.stop_container(&spec.name, 1).await.unwrap();
        docker.stop_container(&spec.name, 1).await.unwrap();
        let stopped = docker.inspect_container(&spec.name).await.unwrap().unwrap();
        assert!(!stopped.running);
        assert_eq!(stopped.status, "exited");
        docker.start_container(&spec.name).await.unwrap();
        assert!(
            docker
                .inspect_container(&spec.name)
                .await
                .unwrap()
                .unwrap()
                .running
        );

        docker.remove_container(&spec.name, true).await.unwrap();
        docker.remove_container(&spec.name, true).await.unwrap();
        assert_eq!(docker.inspect_container(&spec.name).await.unwrap(), None);
        let err = docker.start_container(&spec.name).await.unwrap_err();
        assert!(
            matches!(err, DockerError::NoSuchContainer { .. }),
            "{err:?}"
        );
        let err = docker.stop_container(&spec.name, 1).await.unwrap_err();
        assert!(
            matches!(err, DockerError::NoSuchContainer { .. }),
            "{err:?}"
        );

        // Other restart policies round-trip; nonsense is refused before the engine.
        for policy in ["always", "unless-stopped", "no"] {
            let mut other = scope.spec(&format!("restart-{policy}"), "sleep 300");
            other.restart = Some(policy.into());
            docker.create_and_start(&other).await.unwrap();
            let info = docker
                .inspect_container(&other.name)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(info.restart.as_deref(), Some(policy));
            docker.remove_container(&other.name, true).await.unwrap();
        }
        let mut bad = scope.spec("bad", "true");
        bad.restart = Some("sometimes".into());
        let err = docker.create_and_start(&bad).await.unwrap_err();
        assert!(matches!(err, DockerError::InvalidSpec { .. }), "{err:?}");
        let mut bad = scope.spec("bad-bind", "true");
        bad.mounts = vec![Mount::bind("relative/dir", "/data")];
        let err = docker.create_and_start(&bad).await.unwrap_err();
        assert!(matches!(err, DockerError::InvalidSpec { .. }), "{err:?}");
    })
}

fn named_volume_keeps_data_across_container_recreation() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let volume = scope.volume("data");
        let mut volume_labels = scope.labels();
        volume_labels.insert(labels::KIND.into(), labels::KIND_VOLUME.into());
        docker.ensure_volume(&volume, &volume_labels).await.unwrap();
        docker.ensure_volume(&volume, &volume_labels).await.unwrap();

        let mut writer = scope.spec("writer", "echo persisted-$((6*7)) > /data/file");
        writer.mounts = vec![Mount::volume(&volume, "/data")];
        let outcome = docker.run_to_completion(&writer).await.unwrap();
        assert_eq!(outcome.exit_code, 0, "{}", outcome.output);
        assert_eq!(docker.inspect_container(&writer.name).await.unwrap(), None);

        // A long-lived container using the volume, removed and re-created.
        let mut holder = scope.spec("holder", "cat /data/file; exec sleep 300");
        holder.mounts = vec![Mount::volume(&volume, "/data")];
        docker.create_and_start(&holder).await.unwrap();
        let info = docker
            .inspect_container(&holder.name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.mounts, vec![(volume.clone(), "/data".to_string())]);
        docker.remove_container(&holder.name, true).await.unwrap();
        docker.create_and_start(&holder).await.unwrap();
        let mut lines = Vec::new();
        for _ in 0..50 {
            lines.clear();
            docker
                .logs(&holder.name, None, false, |l| lines.push(l.to_string()))
                .await
                .unwrap();
            if !lines.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(lines, vec!["persisted-42".to_string()]);

        let mut reader = scope.spec("reader", "cat /data/file");
        reader.mounts = vec![Mount {
            read_only: true,
            ..Mount::volume(&volume, "/data")
        }];
        let outcome = docker.run_to_completion(&reader).await.unwrap();
        assert_eq!(outcome.output.trim(), "persisted-42");

        let found = docker
            .list_volumes(&[
                (TEST_LABEL, &scope.prefix),
                (labels::KIND, labels::KIND_VOLUME),
            ])
            .await
            .unwrap();
        assert_eq!(found, vec![volume.clone()]);

        // In use: refused. Free: removed, then removing again is fine.
        assert!(docker.remove_volume(&volume).await.is_err());
        docker.remove_container(&holder.name, true).await.unwrap();
        docker.remove_volume(&volume).await.unwrap();
        docker.remove_volume(&volume).await.unwrap();
        assert!(docker
            .list_volumes(&[(TEST_LABEL, &scope.prefix)])
            .await
            .unwrap()
            .is_empty());
    })
}

fn wait_tcp_sees_a_listener_and_times_out_without_one() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let network = scope.network("net");
        docker
            .ensure_network(&network, &scope.labels())
            .await
            .unwrap();
        // The listener only starts after a delay, so the loop really retries.
        let mut server = scope.spec("listener", &format!("sleep 1; {}", httpd("up", 8081)));
        server.network = Some(network.clone());
        server.exposed_ports = vec![8081];
        docker.create_and_start(&server).await.unwrap();
        let ip = docker
            .container_ip(&server.name, &network)
            .await
            .unwrap()
            .unwrap();

        let waited = docker
            .wait_tcp(&ip, 8081, Duration::from_secs(15))
            .await
            .unwrap();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(15));

        let started = std::time::Instant::now();
        let err = docker
            .wait_tcp(&ip, 9, Duration::from_millis(700))
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(err, DockerError::ReadinessTimeout { port: 9, .. }),
            "{err:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{ip}:9 did not accept a TCP connection within 0.")),
            "{text}"
        );
        assert!(!text.contains('\n'));
    })
}

fn images_present_and_missing() {
    block_on(async {
        let docker = connect().await;
        let scope = Scope::new(&docker);
        assert!(docker.image_exists(BUSYBOX).await.unwrap());
        docker.ensure_image(BUSYBOX).await.unwrap();

        let missing = format!("compartment-test/{}-absent:1", scope.prefix);
        assert!(!docker.image_exists(&missing).await.unwrap());
        let err = docker.ensure_image(&missing).await.unwrap_err();
        assert!(
            matches!(&err, DockerError::Pull { image, .. } if *image == missing),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "image `{missing}` is not present on the engine at {} and it could not pull it: ",
                docker.address()
            )),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        eprintln!("{text}");
        docker.remove_image(&missing).await.unwrap();
    })
}

fn write(dir: &Path, rel: &str, contents: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

#[cfg(unix)]
fn set_exec(path: &Path, exec: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if exec { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn build_image_builds_and_reports_the_failing_step() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let context = tempfile::tempdir().unwrap();
        write(
            context.path(),
            "Dockerfile",
            &format!(
                "FROM {BUSYBOX}\nARG GREETING=unset\nCOPY hello.txt /app/hello.txt\nCOPY sub/ /app/sub/\n\
                 RUN echo \"$GREETING\" > /app/greeting\nCMD [\"cat\", \"/app/hello.txt\"]\n"
            ),
        );
        write(context.path(), "hello.txt", "hello from the context");
        write(context.path(), "sub/nested.txt", "nested");
        write(context.path(), "sub/secret.log", "must not be sent");
        write(context.path(), ".dockerignore", "**/*.log\n");
        let hash = Docker::context_hash(context.path()).unwrap();
        let tag = scope.image(&hash[..12]);
        let build_args = BTreeMap::from([("GREETING".to_string(), "hi-arg".to_string())]);
        let mut image_labels = scope.labels();
        image_labels.insert(labels::DEFINITION_HASH.into(), hash.clone());
        docker
            .build_image(context.path(), &tag, &build_args, &image_labels)
            .await
            .unwrap();
        assert!(docker.image_exists(&tag).await.unwrap());

        let mut run = ContainerSpec::new(scope.container("run"), &tag);
        run.command = Some(vec![
            "sh".into(),
            "-c".into(),
            "cat /app/hello.txt; echo; cat /app/greeting; cat /app/sub/nested.txt; echo; ls /app/sub"
                .into(),
        ]);
        let outcome = docker.run_to_completion(&run).await.unwrap();
        assert_eq!(outcome.exit_code, 0, "{}", outcome.output);
        let lines: Vec<&str> = outcome.output.lines().collect();
        assert_eq!(
            lines,
            vec!["hello from the context", "hi-arg", "nested", "nested.txt"]
        );

        // A failing step: the error names it and quotes the engine's message.
        let broken = tempfile::tempdir().unwrap();
        write(
            broken.path(),
            "Dockerfile",
            &format!("FROM {BUSYBOX}\nRUN echo about to fail && exit 3\n"),
        );
        let broken_tag = scope.image("broken");
        let err = docker
            .build_image(
                broken.path(),
                &broken_tag,
                &BTreeMap::new(),
                &scope.labels(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DockerError::Build { .. }), "{err:?}");
        let text = err.to_string();
        eprintln!("{text}");
        assert!(
            text.starts_with(&format!("building image `{broken_tag}` failed: ")),
            "{text}"
        );
        assert!(
            text.contains("exit 3") && text.contains("non-zero code: 3"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert!(!docker.image_exists(&broken_tag).await.unwrap());

        // An unknown instruction fails before any step runs.
        write(
            broken.path(),
            "Dockerfile",
            &format!("FROM {BUSYBOX}\nFROBNICATE now\n"),
        );
        let err = docker
            .build_image(
                broken.path(),
                &broken_tag,
                &BTreeMap::new(),
                &scope.labels(),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().to_lowercase().contains("frobnicate"),
            "{err}"
        );

        // No Dockerfile at all.
        let empty = tempfile::tempdir().unwrap();
        let err = docker
            .build_image(empty.path(), &broken_tag, &BTreeMap::new(), &scope.labels())
            .await
            .unwrap_err();
        assert!(matches!(err, DockerError::Build { .. }), "{err:?}");
        let err = docker
            .build_image(
                &empty.path().join("missing"),
                &broken_tag,
                &BTreeMap::new(),
                &scope.labels(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, DockerError::BuildContext { .. }), "{err:?}");
    })
}

fn context_hash_is_stable_and_content_sensitive() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Same files written in a different order, at different times.
    write(a.path(), "Dockerfile", "FROM scratch\n");
    write(a.path(), "src/main.sh", "echo hi\n");
    write(a.path(), "src/lib/util.sh", "true\n");
    write(b.path(), "src/lib/util.sh", "true\n");
    std::thread::sleep(Duration::from_millis(20));
    write(b.path(), "src/main.sh", "echo hi\n");
    write(b.path(), "Dockerfile", "FROM scratch\n");
    let hash = Docker::context_hash(a.path()).unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(hash, Docker::context_hash(a.path()).unwrap());
    assert_eq!(hash, Docker::context_hash(b.path()).unwrap());

    let mut seen = vec![hash];
    let mut changed = |what: &str| {
        let now = Docker::context_hash(b.path()).unwrap();
        assert!(!seen.contains(&now), "{what} did not change the hash");
        seen.push(now);
    };
    write(b.path(), "src/main.sh", "echo ho\n");
    changed("content");
    #[cfg(unix)]
    {
        set_exec(&b.path().join("src/main.sh"), true);
        changed("exec bit");
    }
    std::fs::rename(
        b.path().join("src/lib/util.sh"),
        b.path().join("src/lib/util2.sh"),
    )
    .unwrap();
    changed("rename");
    std::fs::create_dir(b.path().join("empty")).unwrap();
    changed("new directory");
    write(b.path(), ".dockerignore", "*.tmp\n");
    changed(".dockerignore");

    // Ignored files do not count.
    let before = Docker::context_hash(b.path()).unwrap();
    write(b.path(), "scratch.tmp", "noise");
    assert_eq!(before, Docker::context_hash(b.path()).unwrap());
    assert!(Docker::context_hash(&b.path().join("nope")).is_err());
}

fn run_to_completion_reports_exit_code_and_output_and_leaves_nothing() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let spec = scope.spec("op", "echo to-stdout; echo to-stderr >&2; exit 7");
        let outcome = docker.run_to_completion(&spec).await.unwrap();
        assert_eq!(outcome.exit_code, 7);
        assert!(
            outcome.output.contains("to-stdout\n"),
            "{:?}",
            outcome.output
        );
        assert!(
            outcome.output.contains("to-stderr\n"),
            "{:?}",
            outcome.output
        );
        assert_eq!(docker.inspect_container(&spec.name).await.unwrap(), None);

        let ok = scope.spec("ok", "echo fine");
        let outcome = docker.run_to_completion(&ok).await.unwrap();
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.output, "fine\n");
        assert_eq!(docker.inspect_container(&ok.name).await.unwrap(), None);

        // A container that cannot start is removed as well.
        let mut broken = scope.spec("broken", "true");
        broken.entrypoint = Some(vec!["/no/such/binary".into()]);
        let err = docker.run_to_completion(&broken).await.unwrap_err();
        assert!(matches!(err, DockerError::Engine { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'), "{err}");
        assert_eq!(docker.inspect_container(&broken.name).await.unwrap(), None);

        // Abandoning the run (future dropped) still removes the container.
        let slow = scope.spec("slow", "sleep 300");
        let abandoned =
            tokio::time::timeout(Duration::from_secs(2), docker.run_to_completion(&slow)).await;
        assert!(abandoned.is_err());
        let mut gone = false;
        for _ in 0..100 {
            if docker
                .inspect_container(&slow.name)
                .await
                .unwrap()
                .is_none()
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "the abandoned one-shot container is still there");
    })
}

fn list_containers_filters_by_labels() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let network = scope.network("net");
        docker
            .ensure_network(&network, &scope.labels())
            .await
            .unwrap();
        let mut names = Vec::new();
        for (suffix, kind) in [("a", labels::KIND_SERVICE), ("b", labels::KIND_RESOURCE)] {
            let mut spec = scope.spec(suffix, "exec sleep 300");
            spec.labels.insert(labels::KIND.into(), kind.into());
            spec.network = Some(network.clone());
            docker.create_and_start(&spec).await.unwrap();
            names.push(spec.name);
        }
        // Stopped containers are listed too.
        let exited = scope.spec("c", "true");
        docker.create_and_start(&exited).await.unwrap();
        wait_exited(&docker, &exited.name).await;
        names.push(exited.name.clone());
        // Same labels except the test run: must not show up.
        let mut other = ContainerSpec::new(scope.container("other"), BUSYBOX);
        other.command = Some(vec!["sleep".into(), "300".into()]);
        other.labels =
            BTreeMap::from([(TEST_LABEL.to_string(), format!("{}-other", scope.prefix))]);
        docker.create_and_start(&other).await.unwrap();

        let all = docker
            .list_containers(&[(TEST_LABEL, &scope.prefix)])
            .await
            .unwrap();
        let listed: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
        let a = &all[0];
        assert!(a.running);
        assert_eq!(a.status, "running");
        assert_eq!(a.image, BUSYBOX);
        assert!(a.ip_addresses.contains_key(&network), "{a:?}");
        assert_eq!(
            a.labels.get(labels::KIND).map(String::as_str),
            Some("service")
        );
        assert!(a.published_ports.is_empty());
        let c = &all[2];
        assert!(!c.running);
        assert_eq!(c.status, "exited");

        let services = docker
            .list_containers(&[
                (TEST_LABEL, &scope.prefix),
                (labels::KIND, labels::KIND_SERVICE),
            ])
            .await
            .unwrap();
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].name, names[0]);
        let with_kind = docker
            .list_containers(&[(TEST_LABEL, &scope.prefix), (labels::KIND, "")])
            .await
            .unwrap();
        assert_eq!(with_kind.len(), 2);
    })
}

fn logs_tail_and_follow() {
    block_on(async {
        let docker = connect().await;
        let mut scope = Scope::new(&docker);
        let spec = scope.spec(
            "logger",
            "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo oops >&2; printf no-newline",
        );
        docker.create_and_start(&spec).await.unwrap();

        // Follow while it runs: returns once the container stops.
        let mut followed = Vec::new();
        docker
            .logs(&spec.name, None, true, |l| followed.push(l.to_string()))
            .await
            .unwrap();
        // Engine 20.10 may end a follow before flushing a final partial line.
        assert_eq!(
            followed[..6],
            ["line1", "line2", "line3", "line4", "line5", "oops"],
            "{followed:?}"
        );
        wait_exited(&docker, &spec.name).await;

        let mut tail = Vec::new();
        docker
            .logs(&spec.name, Some(3), false, |l| tail.push(l.to_string()))
            .await
            .unwrap();
        assert_eq!(tail, vec!["line5", "oops", "no-newline"]);

        let mut none = Vec::new();
        docker
            .logs(&spec.name, Some(0), false, |l| none.push(l.to_string()))
            .await
            .unwrap();
        assert!(none.is_empty(), "{none:?}");

        let err = docker
            .logs(&scope.name("absent"), None, false, |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, DockerError::NoSuchContainer { .. }),
            "{err:?}"
        );
    })
}
