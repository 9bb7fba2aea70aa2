//! The descriptor corpora. Every directory under fixtures/broken holds a
//! project with one kind of mistake (and one, `several-problems`, with many)
//! and `expected.txt`, the exact output of `compartment validate --no-color`;
//! each must exit 1, name a file:line:column and match. fixtures/warnings
//! holds projects that are valid but warned about: they exit 0.
//! fixtures/access holds valid projects with a broken
//! `.compartment/access.yml`: a guarded command reports its problems, located,
//! before it runs (and before it needs an engine).

use crate::test::{fixture, golden, Test};

cases! {
    plain every_broken_descriptor_is_reported_exactly,
    plain warnings_are_reported_and_do_not_fail,
    plain every_code_has_a_case,
    plain every_code_is_documented,
    plain every_broken_access_file_is_reported_exactly,
}

fn cases(corpus: &str) -> Vec<std::path::PathBuf> {
    let root = fixture(corpus);
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("compartment.yml").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    cases
}

fn check_corpus(corpus: &str, expected_status: i32) {
    let cases = cases(corpus);
    let mut failures = Vec::new();
    for case in &cases {
        let run = Test::new(case)
            .args(["validate", "--no-color"])
            .status(None)
            .output();
        if run.status != expected_status {
            failures.push(format!(
                "{}: exit {} (expected {expected_status})\n{}",
                case.display(),
                run.status,
                run.stderr
            ));
            continue;
        }
        let located = run
            .stderr
            .lines()
            .any(|l| l.contains("─ compartment.yml:") || l.contains("/platz/resources.yaml:"));
        if !located {
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

fn every_broken_descriptor_is_reported_exactly() {
    check_corpus("broken", 1);
}

fn warnings_are_reported_and_do_not_fail() {
    check_corpus("warnings", 0);
}

fn every_broken_access_file_is_reported_exactly() {
    let mut failures = Vec::new();
    for case in cases("access") {
        let run = Test::new(&case)
            .args(["resource", "list", "--no-color"])
            .env(
                "DOCKER_HOST",
                "unix:///nonexistent/compartment-access-test.sock",
            )
            .status(1)
            .output();
        assert_eq!(run.stdout, "", "{}", case.display());
        if let Err(e) = golden(&case.join("expected.txt"), &run.stderr) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every diagnostic code the code can emit has a case in a corpus.
fn every_code_has_a_case() {
    let mut seen = std::collections::BTreeSet::new();
    for corpus in ["broken", "warnings", "access"] {
        for case in cases(corpus) {
            let text = std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default();
            for line in text.lines() {
                if let Some(rest) = line
                    .strip_prefix("error[")
                    .or_else(|| line.strip_prefix("warning["))
                {
                    if let Some(code) = rest.split(']').next() {
                        seen.insert(code.to_string());
                    }
                }
            }
        }
    }
    let mut missing = Vec::new();
    for code in compartment::diagnostics::CODES {
        // An unreadable file has no source to quote (see validate.rs); a
        // file over 8 MiB is not committed (see inputs.rs).
        if !["unreadable-file", "file-too-large"].contains(code) && !seen.contains(*code) {
            missing.push(*code);
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a corpus case: {missing:?}"
    );
}

/// docs/descriptors.md documents exactly the codes the code can emit.
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(crate::test::repo().join("docs/descriptors.md")).unwrap();
    let table = &doc[doc.find("### Diagnostic codes").expect("the codes table")..];
    let documented: std::collections::BTreeSet<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let codes: std::collections::BTreeSet<&str> =
        compartment::diagnostics::CODES.iter().copied().collect();
    assert_eq!(documented, codes);
}
