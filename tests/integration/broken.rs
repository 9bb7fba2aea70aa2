//! The broken-descriptor corpus: every directory under fixtures/broken holds
//! a project with one kind of mistake and `expected.txt`, the exact output of
//! `compartment validate --no-color`. Each must exit 1 and match.

use crate::test::{fixture, golden, Test};

#[test]
fn every_broken_descriptor_is_reported_exactly() {
    let root = fixture("broken");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("compartment.yml").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    let mut failures = Vec::new();
    for case in &cases {
        let run = Test::new(case)
            .args(["validate", "--no-color"])
            .status(None)
            .run();
        if run.status != 1 {
            failures.push(format!(
                "{}: exit {} (expected 1)\n{}",
                case.display(),
                run.status,
                run.stderr
            ));
            continue;
        }
        if !run.stderr.contains(".yml:") && !run.stderr.contains(".yaml:") {
            failures.push(format!(
                "{}: no file:line:column in\n{}",
                case.display(),
                run.stderr
            ));
        }
        if let Err(e) = golden(
            &case.join("expected.txt"),
            &format!("{}{}", run.stdout, run.stderr),
        ) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
