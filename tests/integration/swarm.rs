//! Environments on Docker Swarm (issue #12), as far as they go today: an
//! environment declares `orchestrator: swarm` and a `registry`, both
//! validated and located; the plan says where it goes (a plan file made for
//! another orchestrator or registry is stale: `plan::file`'s unit tests),
//! and `apply` refuses a swarm environment before it connects to anything,
//! changing nothing. Below apply, the Docker runtime's swarm operations
//! run against a real two-node swarm (`cluster`).

use crate::applied::Sandbox;
use crate::test::assert_text;

cases! {
    plain a_swarm_environment_is_planned_and_apply_refuses_it,
    docker the_runtime_runs_a_replicated_service_across_a_two_node_swarm,
}

const SWARM: &str = "environments:\n  production:\n    remote: tcp://10.0.0.5:2375\n    orchestrator: swarm\n    registry: 10.0.0.5:5000/shop\n";

fn a_swarm_environment_is_planned_and_apply_refuses_it() {
    let sb = Sandbox::copy("example");
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

    // Apply refuses before it connects to anything (the engine address is
    // not reachable from here), and writes no state.
    let run = sb.cmd().args(["apply", "--yes"]).status(1).output();
    assert_text(
        "stderr",
        "error: environment `production` runs on a swarm (`orchestrator: swarm` in compartment.yml): this version of compartment validates and plans a swarm environment but does not apply one yet; nothing was changed\n",
        &run.stderr,
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
    use compartment::docker::{Docker, SwarmService};
    let swarm = crate::cluster::Swarm::start(&["compartment-test/busybox:1"]);
    let (manager, worker) = (swarm.manager(), &swarm.nodes[1]);
    let image = format!("{}/compartment-test/busybox:1", swarm.registry);
    manager.docker_ok(&["tag", "compartment-test/busybox:1", &image]);
    block_on(async {
        let docker = Docker::connect_to(&manager.address).await.unwrap();
        let node = docker.swarm_node().await.unwrap().expect("in a swarm");
        assert!(node.manager);
        docker.push_image(&image).await.unwrap();
        worker.docker_ok(&["rmi", "compartment-test/busybox:1"]);
        worker.docker_ok(&["pull", &image]);
        let labels = std::collections::BTreeMap::from([(
            "io.compartment.test-run".to_string(),
            "swarm".to_string(),
        )]);
        docker
            .ensure_overlay_network("cmpt-swarm-test", &labels)
            .await
            .unwrap();
        let alias = "echo.production.swarm-test.resource.internal";
        let spec = SwarmService {
            name: "cmpt-swarm-test-echo".into(),
            image: image.clone(),
            replicas: 2,
            labels: labels.clone(),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "exec nc -ll -p 7000 -e hostname".into(),
            ]),
            network: "cmpt-swarm-test".into(),
            aliases: vec![alias.into()],
            constraints: Vec::new(),
            ..SwarmService::default()
        };
        docker.create_swarm_service(&spec).await.unwrap();
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
