//! `compartment validate` on the example project and option handling.

use crate::test::{fixture, Test};

#[test]
fn example_is_valid() {
    let run = Test::new(fixture("example")).args(["validate"]).run();
    assert_eq!(
        run.stdout,
        "compartment.yml is valid: project `internal-tools`, 3 services, 2 resources, 2 resource types, 3 instances (0 warnings)\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn example_is_valid_as_json() {
    let run = Test::new(fixture("example"))
        .args(["validate", "--output", "json"])
        .run();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "errors": 0, "warnings": 0, "diagnostics": []})
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let run = Test::new(fixture("example"))
        .args(["-f", "nope.yml", "validate"])
        .status(1)
        .run();
    assert!(
        run.stderr.contains("cannot read nope.yml"),
        "{}",
        run.stderr
    );
}
