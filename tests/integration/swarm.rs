//! Environments on Docker Swarm (issue #12), as far as they go today: an
//! environment declares `orchestrator: swarm` and a `registry`, both
//! validated and located; the plan says where it goes (a plan file made for
//! another orchestrator or registry is stale: `plan::file`'s unit tests),
//! and `apply` refuses a swarm environment before it connects to anything,
//! changing nothing.

use crate::applied::Sandbox;
use crate::test::assert_text;

cases! {
    plain a_swarm_environment_is_planned_and_apply_refuses_it,
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
