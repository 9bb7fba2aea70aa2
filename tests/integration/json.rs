//! `--output json` where it was missing: apply's JSON Lines events and
//! summary, errors as one object, the graph; each checked against its
//! schema in `state/`.

use crate::engine::Project;
use crate::test::{fixture, repo, Test};
use serde_json::Value;

cases! {
    docker apply_prints_json_lines_events_and_a_summary,
    plain errors_are_one_json_object_with_a_stable_shape,
    plain the_graph_is_json,
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("state").join(name)).unwrap();
    jsonschema::draft7::new(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
}

fn valid(validator: &jsonschema::Validator, v: &Value) {
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{v:#}\n{errors:#?}");
}

fn apply_prints_json_lines_events_and_a_summary() {
    let p = Project::new("example");
    let run = p.cmd(["apply", "--yes", "--output", "json"]).output();
    let schema = validator("events.schema.json");
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for e in &events {
        valid(&schema, e);
    }
    assert_eq!(events.first().unwrap()["event"], "plan");
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["status"], "complete", "{summary:#}");
    let planned = events[0]["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .count();
    assert!(planned > 0);
    assert_eq!(summary["created"], planned, "{summary:#}");
    // Every node that started finished, in the same JSON Lines.
    let of = |kind: &str| -> Vec<String> {
        let mut v: Vec<String> = events
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| e["node"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(of("start"), of("finish"));
    assert_eq!(of("start").len(), planned);
    // Nothing else is printed: stderr stays empty.
    assert_eq!(run.stderr, "");
    // A second apply has nothing to do.
    let again = p.cmd(["apply", "--yes", "--output", "json"]).output();
    let last: Value = serde_json::from_str(again.stdout.lines().last().unwrap()).unwrap();
    valid(&schema, &last);
    assert_eq!(last["status"], "no-changes");
}

fn errors_are_one_json_object_with_a_stable_shape() {
    let schema = validator("error.schema.json");
    let cases: [(&[&str], &str); 3] = [
        (
            &["show", "missing-plan.json", "--output", "json"],
            "plan-file",
        ),
        (&["apply", "--yes", "--output", "json"], "engine"),
        (
            &["plan", "--check", "missing-plan.json", "--output", "json"],
            "plan-file",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.json");
    for (args, kind) in cases {
        let run = Test::new(fixture("example"))
            .args(args)
            .env(
                "DOCKER_HOST",
                "unix:///nonexistent/compartment-json-test.sock",
            )
            .env("COMPARTMENT_STATE", state.to_str().unwrap())
            .status(1)
            .output();
        let v: Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{}", run.stdout));
        valid(&schema, &v);
        assert_eq!(v["error"]["kind"], kind, "{args:?}: {v:#}");
        assert_eq!(v["error"]["exitCode"], 1);
        assert_eq!(run.stderr, "", "{args:?}");
    }
}

fn the_graph_is_json() {
    let run = Test::new(fixture("example"))
        .args(["graph", "--output", "json"])
        .env("COMPARTMENT_STATE", "/nonexistent-dir/state.json")
        .output();
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let nodes: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&"resource.db") && nodes.contains(&"service.api"),
        "{v:#}"
    );
    assert!(
        v["edges"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"from": "resource.db", "to": "service.api"})),
        "{v:#}"
    );
}
