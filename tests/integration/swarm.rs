//! Environments on Docker Swarm (issue #12): an environment declares
//! `orchestrator: swarm` and a `registry`, both validated and located; the
//! plan says where it goes (a plan file made for another orchestrator or
//! registry is stale: `plan::file`'s unit tests), and `replicas` above 1 is
//! refused on a plain engine. On a real two-node swarm (`cluster`): the
//! Docker runtime's swarm operations, and the example project applied —
//! every resource and service a swarm service, replicas across the nodes,
//! built images in the swarm's registry, hooks through the overlay, a
//! volume that survives a forced reschedule, a start-first rollout, and a
//! replan with no changes.

use crate::applied::Sandbox;

cases! {
    plain a_swarm_environment_is_planned_and_replicas_need_one,
    docker the_runtime_runs_a_replicated_service_across_a_two_node_swarm,
    docker the_example_project_runs_on_a_two_node_swarm,
}

const SWARM: &str = "environments:\n  production:\n    remote: tcp://10.0.0.5:2375\n    orchestrator: swarm\n    registry: 10.0.0.5:5000/shop\n";

fn a_swarm_environment_is_planned_and_replicas_need_one() {
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "    path: services/api\n",
        "    path: services/api\n    replicas: 2\n",
    );
    // On a plain engine (no environments declared), replicas are refused.
    let blocked = sb.cmd().args(["plan", "--no-color"]).status(1).output();
    assert!(
        blocked.stdout.contains("service `api` declares `replicas: 2`, but environment `production` runs on a plain Docker engine, which runs one container per service"),
        "{}",
        blocked.stdout
    );
    let yml = sb.read("compartment.yml");
    sb.write("compartment.yml", &format!("{yml}\n{SWARM}"));
    sb.cmd()
        .args(["validate"])
        .stdout("compartment.yml is valid: project `internal-tools`, 3 services, 2 resources, 2 resource types, 3 instances (0 warnings)\n")
        .run();
    let plan = sb.cmd().args(["plan", "--no-color"]).output();
    let first = plan.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "Plan for internal-tools / production on a swarm (registry 10.0.0.5:5000/shop) against engine tcp://10.0.0.5:2375 (new state)"
    );
    assert!(
        plan.stdout.contains("+ resource.cache create\n")
            && plan.stdout.contains("    node: chosen by apply (the ready node running the fewest tasks), then pinned: its volumes stay there\n"),
        "{}",
        plan.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&sb.cmd().args(["plan", "--json"]).output().stdout).unwrap();
    assert_eq!(
        (&json["orchestrator"], &json["registry"], &json["engine"]),
        (
            &"swarm".into(),
            &"10.0.0.5:5000/shop".into(),
            &"tcp://10.0.0.5:2375".into()
        )
    );
    assert_eq!(json["blocked"], serde_json::json!([]));
    // Apply needs a manager of a swarm: this address answers nothing, and
    // no state is written.
    let run = sb.cmd().args(["apply", "--yes"]).status(1).output();
    assert!(
        run.stderr
            .contains("cannot reach the Docker engine at tcp://10.0.0.5:2375"),
        "{}",
        run.stderr
    );
    assert!(!sb.state_path().exists());
}

fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(body)
}

/// The runtime's swarm operations on a manager of a two-node swarm: an
/// image pushed to the swarm's registry (the worker pulls it from there),
/// an attachable overlay network, a service of two replicas placed one on
/// each node, both answering behind one alias by DNS round robin to a
/// container on the overlay, and the service removed with its tasks.
fn the_runtime_runs_a_replicated_service_across_a_two_node_swarm() {
    use compartment::docker::{ContainerSpec, Docker, Replication};
    let swarm = crate::cluster::Swarm::start(&["compartment-test/busybox:1"]);
    let (manager, worker) = (swarm.manager(), &swarm.nodes[1]);
    let image = format!("{}/compartment-test/busybox:1", swarm.registry);
    manager.docker_ok(&["tag", "compartment-test/busybox:1", &image]);
    block_on(async {
        let docker = Docker::connect_to(&manager.address).await.unwrap();
        let node = docker.swarm_node().await.unwrap().expect("in a swarm");
        assert!(node.manager);
        let docker = docker.into_swarm().await.unwrap();
        docker.push_image(&image).await.unwrap();
        worker.docker_ok(&["rmi", "compartment-test/busybox:1"]);
        worker.docker_ok(&["pull", &image]);
        let labels = std::collections::BTreeMap::from([(
            "io.compartment.test-run".to_string(),
            "swarm".to_string(),
        )]);
        // In swarm mode, the network is an attachable overlay.
        docker
            .ensure_network("cmpt-swarm-test", &labels)
            .await
            .unwrap();
        let alias = "echo.production.swarm-test.resource.internal";
        let mut spec = ContainerSpec::new("cmpt-swarm-test-echo", image.clone());
        spec.labels = labels.clone();
        spec.command = Some(vec![
            "sh".into(),
            "-c".into(),
            "exec nc -ll -p 7000 -e hostname".into(),
        ]);
        spec.network = Some("cmpt-swarm-test".into());
        spec.aliases = vec![alias.into()];
        spec.replication = Some(Replication {
            replicas: 2,
            ..Replication::default()
        });
        docker.deploy_service(&spec, false).await.unwrap();
        let started = std::time::Instant::now();
        let tasks = loop {
            let tasks = docker.swarm_tasks(&spec.name).await.unwrap();
            let running: Vec<_> = tasks.iter().filter(|t| t.state == "running").collect();
            if running.len() == 2 {
                break tasks;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(90),
                "{tasks:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        let mut nodes: Vec<&str> = tasks.iter().map(|t| t.node_id.as_str()).collect();
        nodes.sort();
        nodes.dedup();
        assert_eq!(nodes.len(), 2, "one task on each node: {tasks:?}");
        // Both tasks answer behind the alias, from a container on the
        // overlay (the manager's side).
        let probe = format!(
            "for ip in $(nslookup {alias} | sed -n 's/^Address:[[:space:]]*//p' | grep -v ':53$'); do echo | nc -w 3 $ip 7000; done | sort"
        );
        let answers = manager.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "cmpt-swarm-test",
            &image,
            "sh",
            "-c",
            &probe,
        ]);
        let hosts: Vec<&str> = answers.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(hosts.len(), 2, "{answers}");
        assert_ne!(hosts[0], hosts[1], "{answers}");
        docker.remove_swarm_service(&spec.name).await.unwrap();
        docker.remove_swarm_service(&spec.name).await.unwrap();
        let started = std::time::Instant::now();
        while !docker.swarm_tasks(&spec.name).await.unwrap().is_empty() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60));
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
}

/// The container of swarm service `service`'s task on `node`.
fn task_of(node: &crate::cluster::Node, service: &str) -> String {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    node.docker_ok(&["ps", "-q", "--filter", &filter])
        .trim()
        .to_string()
}

/// The node IDs of the running tasks of service `name`, sorted (the
/// nodes share this machine's host name).
fn task_nodes(manager: &crate::cluster::Node, name: &str) -> Vec<String> {
    let ids = manager.docker_ok(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        name,
    ]);
    let mut args = vec!["inspect", "--format", "{{.NodeID}} {{.Status.State}}"];
    args.extend(ids.split_whitespace());
    let out = manager.docker_ok(&args);
    let mut nodes: Vec<String> = out
        .lines()
        .filter(|l| l.ends_with(" running"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    nodes.sort();
    nodes
}

/// A shell snippet that GETs `http://HOST:PORT/PATH` from inside a
/// container and prints the body, failing unless the answer is 200:
/// busybox's static `wget` crashes here, so `nslookup` finds one of the
/// host's addresses (DNS round robin) and `nc` asks.
fn get_script(host: &str, port: u16, path: &str) -> String {
    format!(
        "ip=$(nslookup {host} | sed -n 's/^Address:[[:space:]]*//p' | grep -v ':53$' | head -1) && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $ip {port} > /tmp/answer; head -1 /tmp/answer | grep -q ' 200 ' && sed '1,/^\\r$/d' /tmp/answer"
    )
}

/// `GET http://host:8080/path` from a container on the overlay `network`.
fn fetch_on_overlay(
    manager: &crate::cluster::Node,
    network: &str,
    host: &str,
    path: &str,
) -> String {
    let script = get_script(host, 8080, path);
    manager.docker_ok(&[
        "run",
        "--rm",
        "--network",
        network,
        "compartment-test/busybox:1",
        "sh",
        "-c",
        &script,
    ])
}

/// The example project on a two-node swarm: apply makes every resource
/// and service a swarm service (api with two replicas, one on each node),
/// pushes the built images to the swarm's registry, delivers the create
/// hooks through the overlay, pins the cache (it has a volume) to a node
/// where its data survives a forced reschedule, rolls a changed api out
/// start-first while a client keeps asking (no failed request), and plans
/// no change after each apply.
fn the_example_project_runs_on_a_two_node_swarm() {
    let swarm = crate::cluster::Swarm::start(&[
        "compartment-test/busybox:1",
        "compartment-test/debian:12",
        "postgres:16-alpine",
    ]);
    let manager = swarm.manager();
    let sb = Sandbox::copy("example");
    sb.edit(
        "compartment.yml",
        "    path: services/api\n",
        "    path: services/api\n    replicas: 2\n",
    );
    sb.edit(
        "compartment.yml",
        "        encoding: base64url\n",
        "        encoding: base64url\n        file: true\n",
    );
    let yml = sb.read("compartment.yml");
    sb.write(
        "compartment.yml",
        &format!(
            "{yml}\nenvironments:\n  production:\n    remote: {}\n    orchestrator: swarm\n    registry: {}/tools\n",
            manager.address, swarm.registry
        ),
    );
    // The services' base images are on the manager, where they are built.
    let applied = sb.cmd().args(["apply", "--yes", "--no-color"]).output();
    assert!(
        applied
            .stdout
            .contains("Plan for internal-tools / production on a swarm"),
        "{}",
        applied.stdout
    );

    let services = manager.docker_ok(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    let mut rows: Vec<&str> = services.lines().collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            "cmpt-internal-tools-production-api 2/2",
            "cmpt-internal-tools-production-billing 1/1",
            "cmpt-internal-tools-production-cache 1/1",
            "cmpt-internal-tools-production-db 1/1",
            "cmpt-internal-tools-production-storefront 1/1",
        ],
        "{services}"
    );
    let api_nodes = task_nodes(manager, "cmpt-internal-tools-production-api");
    assert_eq!(api_nodes.len(), 2, "{api_nodes:?}");
    assert_ne!(api_nodes[0], api_nodes[1], "one api task on each node");

    let (_, catalog) = crate::host::sh(&[
        "curl",
        "-s",
        &format!("http://{}/v2/_catalog", swarm.registry),
    ]);
    for service in ["api", "billing", "storefront"] {
        assert!(
            catalog.contains(&format!("tools/cmpt-internal-tools-{service}")),
            "{catalog}"
        );
    }

    let network = "cmpt-internal-tools-production";
    let hooks = fetch_on_overlay(
        manager,
        network,
        "storefront.production.internal-tools.service.internal",
        "/_hooks",
    );
    let subjects = |json: &str| -> Vec<String> {
        let hooks: serde_json::Value = serde_json::from_str(json).expect(json);
        let mut subs: Vec<String> = hooks
            .as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{} {}", h["method"], h["claims"]["sub"]))
            .collect();
        subs.sort();
        subs
    };
    assert_eq!(
        subjects(&hooks),
        [
            "\"POST\" \"instance.downtown\"",
            "\"POST\" \"instance.uptown\""
        ]
    );
    let billing = fetch_on_overlay(
        manager,
        network,
        "billing.production.internal-tools.service.internal",
        "/_hooks",
    );
    assert_eq!(subjects(&billing), ["\"POST\" \"instance.order-hook\""]);

    let replan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);

    day_2_commands_reach_the_services(&swarm, &sb);
    operations_run_on_the_resources_node(&swarm, &sb);
    scaled_by_hand_is_drift(&swarm, &sb);
    survives_a_forced_reschedule(&swarm, &sb);
    rolls_out_start_first(&swarm, &sb, network);
    a_failed_update_is_rolled_back(&swarm, &sb, network);

    let replan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
    destroyed(&swarm, &sb);
}

/// Logs come from the tasks through the manager; `exec` runs in a task on
/// the manager.
fn day_2_commands_reach_the_services(swarm: &crate::cluster::Swarm, sb: &Sandbox) {
    let manager = swarm.manager();
    let logs = sb.cmd().args(["service", "logs", "billing"]).output();
    assert!(
        logs.stdout.contains("listening on 8080"),
        "{}\n{}",
        logs.stdout,
        logs.stderr
    );
    let listed = sb.cmd().args(["service", "list"]).output();
    assert!(listed.status == 0, "{}", listed.stderr);
    let manager_id = manager
        .docker_ok(&["info", "-f", "{{.Swarm.NodeID}}"])
        .trim()
        .to_string();
    let inspected = sb.cmd().args(["service", "inspect", "api"]).output();
    let inspected: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    assert_eq!(inspected["container"]["replicas"], 2, "{inspected}");
    assert_eq!(inspected["container"]["running"], true, "{inspected}");
    // api runs a task on each node: one is on the manager.
    sb.cmd()
        .args(["service", "exec", "api", "--", "cat", "/www/index.html"])
        .stdout("api 1.4.2\n")
        .run();
    assert!(!manager_id.is_empty());
}

/// Backups, an in-place restore, `exec`, a verification and
/// `--delete-data` of a resource pinned to the worker (the manager paused
/// while it is first placed): each runs as a one-shot task on the worker,
/// a backup's files relayed to the manager and encrypted here; nothing is
/// left behind.
fn operations_run_on_the_resources_node(swarm: &crate::cluster::Swarm, sb: &Sandbox) {
    let (manager, worker) = (swarm.manager(), &swarm.nodes[1]);
    let node_id = |n: &crate::cluster::Node| {
        n.docker_ok(&["info", "-f", "{{.Swarm.NodeID}}"])
            .trim()
            .to_string()
    };
    let (manager_id, worker_id) = (node_id(manager), node_id(worker));
    let original = sb.read("compartment.yml");
    sb.edit(
        "compartment.yml",
        "\ninstances:\n",
        "  files:\n    image: compartment-test/busybox:1\n    command: [\"sleep\", \"86400\"]\n    volumes:\n      data: /data\n    operations:\n      backup:\n        command: tar -C /data -cf \"$COMPARTMENT_BACKUP_DIR/data.tar\" .\n      restore:\n        command: tar -C /data -xf \"$COMPARTMENT_BACKUP_DIR/data.tar\"\n      verify:\n        command: grep -qx kept /data/marker\n\ninstances:\n",
    );
    manager.docker_ok(&["node", "update", "--availability", "pause", &manager_id]);
    sb.cmd().args(["apply", "--yes", "--no-color"]).output();
    manager.docker_ok(&["node", "update", "--availability", "active", &manager_id]);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_path()).unwrap()).unwrap();
    assert_eq!(
        state["resources"]["files"]["node"]["id"],
        worker_id.as_str()
    );
    let inspected = sb
        .cmd()
        .args(["resource", "inspect", "--resource", "files"])
        .output();
    let inspected: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    assert_eq!(inspected["node"]["id"], worker_id.as_str(), "{inspected}");
    assert_eq!(inspected["container"]["running"], true, "{inspected}");
    let service = "cmpt-internal-tools-production-files";
    let task = || task_of(worker, service);
    let marker = |text: &str| {
        worker.docker_ok(&[
            "exec",
            &task(),
            "sh",
            "-c",
            &format!("echo {text} > /data/marker"),
        ]);
    };
    marker("kept");
    let backups = sb.file("backups").display().to_string();
    let ops = |args: &[&str]| {
        sb.cmd()
            .args(args)
            .env("COMPARTMENT_RESOURCE_BACKUP_DIR", &backups)
            .output()
    };
    let created = ops(&[
        "resource",
        "backup",
        "create",
        "--resource",
        "files",
        "--output",
        "json",
    ]);
    let created: serde_json::Value = serde_json::from_str(&created.stdout).expect(&created.stdout);
    assert_eq!(created["status"], "succeeded", "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let artifact = std::fs::read(sb.file("backups").join(&id).join("data.tar")).unwrap();
    assert!(artifact.len() > 1024, "{} bytes", artifact.len());
    assert!(
        !artifact.windows(5).any(|w| w == b"kept\n"),
        "the artifact is encrypted"
    );

    marker("changed");
    ops(&[
        "resource",
        "backup",
        "restore",
        "--resource",
        "files",
        "--backup",
        &id,
        "--yes",
    ]);
    assert_eq!(
        worker
            .docker_ok(&["exec", &task(), "cat", "/data/marker"])
            .trim(),
        "kept",
        "restored in place, on the worker"
    );
    // `exec` reaches the task on the worker (through the agent there),
    // its output and exit code as from a local container.
    sb.cmd()
        .args([
            "resource",
            "exec",
            "files",
            "--",
            "sh",
            "-c",
            "cat /data/marker; echo oops >&2; exit 3",
        ])
        .status(3)
        .stdout("kept\n")
        .stderr("oops\n")
        .run();
    let verified = ops(&[
        "resource", "backup", "verify", "--backup", &id, "--output", "json",
    ]);
    assert!(
        verified.stdout.contains("\"passed\""),
        "{}",
        verified.stdout
    );

    ops(&["resource", "delete", "--resource", "files", "--delete-data"]);
    let volumes = worker.docker_ok(&["volume", "ls", "-q"]);
    assert!(!volumes.contains("-files-data"), "{volumes}");
    assert!(!volumes.contains("verify-"), "{volumes}");
    let services = manager.docker_ok(&["service", "ls", "--format", "{{.Name}}"]);
    assert!(!services.contains("cmpt-job-"), "{services}");
    let containers = manager.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!containers.contains("-relay"), "{containers}");
    let secrets = manager.docker_ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(!secrets.contains("cmpt-job-"), "{secrets}");
    sb.write("compartment.yml", &original);
    let replan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
}

/// A service scaled outside compartment is drift the plan names, and
/// apply sets it back.
fn scaled_by_hand_is_drift(swarm: &crate::cluster::Swarm, sb: &Sandbox) {
    let manager = swarm.manager();
    let service = "cmpt-internal-tools-production-api";
    manager.docker_ok(&["service", "scale", "--detach", &format!("{service}=3")]);
    let plan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(
        plan.stdout.contains("it runs 3 task(s) where 2 are declared (scaled outside compartment): apply sets it back"),
        "{}",
        plan.stdout
    );
    sb.cmd().args(["apply", "--yes", "--no-color"]).output();
    let replicas = manager.docker_ok(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.Mode.Replicated.Replicas}}",
        service,
    ]);
    assert_eq!(replicas.trim(), "2");
    let replan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
}

/// The cache's volume is on the node the state pinned it to; a forced
/// reschedule brings its task back there, with its data.
fn survives_a_forced_reschedule(swarm: &crate::cluster::Swarm, sb: &Sandbox) {
    let manager = swarm.manager();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.state_path()).unwrap()).unwrap();
    let pinned = &state["resources"]["cache"]["node"];
    let id = pinned["id"]
        .as_str()
        .expect("the cache is pinned")
        .to_string();
    let service = "cmpt-internal-tools-production-cache";
    assert_eq!(task_nodes(manager, service), vec![id.clone()]);
    let node = swarm
        .nodes
        .iter()
        .find(|n| n.docker_ok(&["info", "-f", "{{.Swarm.NodeID}}"]).trim() == id)
        .expect("the pinned node is one of ours");
    let container = |node: &crate::cluster::Node| task_of(node, service);
    let before = container(node);
    node.docker_ok(&["exec", &before, "sh", "-c", "echo kept > /data/marker"]);
    // The generated password declared `file: true` is a swarm secret: a
    // file in the task, nowhere in the service's configuration.
    let password = node.docker_ok(&["exec", &before, "cat", "/run/secrets/CACHE_PASSWORD"]);
    assert_eq!(password.len(), 43, "{password}");
    let inspected = manager.docker_ok(&["service", "inspect", service]);
    assert!(
        inspected.contains("\"CACHE_PASSWORD_FILE=/run/secrets/CACHE_PASSWORD\""),
        "{inspected}"
    );
    let secrets = manager.docker_ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(
        secrets.starts_with("cmpt-internal-tools-production-cache-cache_password-"),
        "{secrets}"
    );
    for (what, text) in [
        ("docker service inspect", inspected),
        (
            "the state",
            std::fs::read_to_string(sb.state_path()).unwrap(),
        ),
    ] {
        assert!(!text.contains(&password), "the password is in {what}");
    }
    manager.docker_ok(&[
        "service",
        "update",
        "--force",
        "--detach=false",
        "-q",
        service,
    ]);
    assert_eq!(task_nodes(manager, service), vec![id.clone()]);
    let after = container(node);
    assert_ne!(before, after, "a new task");
    assert_eq!(
        node.docker_ok(&["exec", &after, "cat", "/data/marker"])
            .trim(),
        "kept"
    );
    // The swarm's own update changed nothing compartment declared.
    let replan = sb.cmd().args(["plan", "--refresh", "--no-color"]).output();
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
}

/// A changed api image rolls out start-first: a client asking through the
/// alias all along never gets a failed request, and ends up served by the
/// new image.
fn rolls_out_start_first(swarm: &crate::cluster::Swarm, sb: &Sandbox, network: &str) {
    let manager = swarm.manager();
    let get = get_script("api.production.internal-tools.service.internal", 8080, "/");
    let client = manager.docker_ok(&[
        "run",
        "-d",
        "--network",
        network,
        "compartment-test/busybox:1",
        "sh",
        "-c",
        &format!("while true; do {{ {get}; }} || echo FAILED; sleep 0.1; done"),
    ]);
    let client = client.trim().to_string();
    std::thread::sleep(std::time::Duration::from_secs(2));
    sb.edit(
        "services/api/Dockerfile",
        "echo \"api $APP_VERSION\"",
        "echo \"api $APP_VERSION rolled\"",
    );
    let applied = sb.cmd().args(["apply", "--yes", "--no-color"]).output();
    assert!(
        applied
            .stdout
            .contains("service.api: ✓ replaced (the new container started beside the old one)"),
        "{}",
        applied.stdout
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = manager.docker_ok(&["logs", &client]);
    manager.docker_ok(&["rm", "-f", &client]);
    assert!(
        !log.contains("FAILED"),
        "a request failed during the rollout:\n{log}"
    );
    assert!(log.contains("api 1.4.2\n"), "{log}");
    assert!(log.trim_end().ends_with("api 1.4.2 rolled"), "{log}");
    assert_eq!(
        task_nodes(manager, "cmpt-internal-tools-production-api").len(),
        2
    );
}

/// An update whose new tasks never pass their readiness (a `command`
/// readiness is the tasks' health check) is rolled back by the swarm: the
/// apply fails saying so, and the old tasks serve throughout.
fn a_failed_update_is_rolled_back(swarm: &crate::cluster::Swarm, sb: &Sandbox, network: &str) {
    let manager = swarm.manager();
    let healthy = "    replicas: 2\n";
    let failing = "    replicas: 2\n    readiness:\n      type: command\n      command: [\"false\"]\n      timeoutMs: 5000\n";
    sb.edit("compartment.yml", healthy, failing);
    let applied = sb
        .cmd()
        .args(["apply", "--yes", "--no-color"])
        .status(1)
        .output();
    let all = format!("{}{}", applied.stdout, applied.stderr);
    assert!(
        all.contains(
            "swarm service `cmpt-internal-tools-production-api` was rolled back: its update failed"
        ),
        "{all}"
    );
    let body = fetch_on_overlay(
        manager,
        network,
        "api.production.internal-tools.service.internal",
        "/",
    );
    assert_eq!(body.trim(), "api 1.4.2 rolled");
    assert_eq!(
        task_nodes(manager, "cmpt-internal-tools-production-api").len(),
        2
    );
    // Declared as before, the environment already matches.
    sb.edit("compartment.yml", failing, healthy);
}

/// `destroy` removes every swarm service, the overlay network and the
/// secrets; the volumes stay on their nodes (kept by default).
fn destroyed(swarm: &crate::cluster::Swarm, sb: &Sandbox) {
    let manager = swarm.manager();
    sb.cmd().args(["destroy", "--yes", "--no-color"]).output();
    let services = manager.docker_ok(&["service", "ls", "-q"]);
    assert_eq!(services.trim(), "", "no service left");
    let secrets = manager.docker_ok(&["secret", "ls", "-q"]);
    assert_eq!(secrets.trim(), "", "no secret left");
    // The manager's own copy of a removed overlay goes a moment later.
    let started = std::time::Instant::now();
    loop {
        let networks = manager.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
        if !networks.contains("cmpt-internal-tools-production") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{networks}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let volumes: String = swarm
        .nodes
        .iter()
        .map(|n| n.docker_ok(&["volume", "ls", "-q"]))
        .collect();
    assert!(
        volumes.contains("cmpt-internal-tools-production-cache-data"),
        "{volumes}"
    );
}
