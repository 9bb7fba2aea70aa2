//! `compartment validate` on the example project and option handling.

use crate::test::{fixture, Test};

cases! {
    plain example_is_valid,
    plain example_is_valid_as_json,
    plain missing_file_is_a_clear_error,
    plain json_output_lists_every_located_diagnostic,
    plain no_colour_unless_on_a_terminal,
    plain colour_on_a_terminal_and_not_with_no_color,
}

fn example_is_valid() {
    let run = Test::new(fixture("example")).args(["validate"]).output();
    assert_eq!(
        run.stdout,
        "compartment.yml is valid: project `internal-tools`, 3 services, 2 resources, 2 resource types, 3 instances (0 warnings)\n"
    );
    assert_eq!(run.stderr, "");
}

fn example_is_valid_as_json() {
    let run = Test::new(fixture("example"))
        .args(["validate", "--output", "json"])
        .output();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "errors": 0, "warnings": 0, "diagnostics": []})
    );
}

fn missing_file_is_a_clear_error() {
    let run = Test::new(fixture("example"))
        .args(["-f", "nope.yml", "validate"])
        .status(1)
        .output();
    assert!(
        run.stderr.contains("cannot read nope.yml"),
        "{}",
        run.stderr
    );
}

fn json_output_lists_every_located_diagnostic() {
    let run = Test::new(fixture("broken/several-problems"))
        .args(["validate", "--output", "json"])
        .status(1)
        .output();
    assert_eq!(run.stderr, "");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(
        (v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(7), Some(2))
    );
    let items = v["diagnostics"].as_array().unwrap();
    assert_eq!(items.len(), 9);
    for d in items {
        assert!(
            d["file"].is_string() && d["line"].is_u64() && d["column"].is_u64(),
            "{d}"
        );
        assert!(d["path"].as_str().is_some_and(|p| !p.is_empty()), "{d}");
        assert!(d["help"].is_string(), "{d}");
    }
    let first = &items[0];
    assert_eq!(first["code"], "unknown-output");
    assert_eq!(first["file"], "compartment.yml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(10), Some(25))
    );
    assert_eq!(
        first["path"],
        "services.api.connections.db.env.DATABASE_URL"
    );
    assert_eq!(
        first["source_line"],
        "          DATABASE_URL: connection_url"
    );
    // Errors before warnings; within each, by file then line.
    let severities: Vec<&str> = items
        .iter()
        .map(|d| d["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities.iter().filter(|s| **s == "error").count(), 7);
    assert!(severities[7..].iter().all(|s| *s == "warning"));
    assert_eq!(items[6]["file"], "services/storefront/platz/resources.yaml");
}

fn no_colour_unless_on_a_terminal() {
    // stderr is a pipe here: plain text even without --no-color.
    let run = Test::new(fixture("broken/unknown-field"))
        .args(["validate"])
        .status(1)
        .output();
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(run.stderr.contains("compartment.yml:4:5"));
}

fn colour_on_a_terminal_and_not_with_no_color() {
    // `script` (util-linux) runs the command on a pseudo-terminal.
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("`script` not installed; skipping the terminal colour test");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_compartment");
    let on_tty = |extra: &str| {
        let out = std::process::Command::new("script")
            .args(["-qec", &format!("{bin} validate {extra}"), "/dev/null"])
            .current_dir(fixture("broken/unknown-field"))
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty("");
    assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    let plain = on_tty("--no-color");
    assert!(plain.contains("unknown field"), "{plain:?}");
    assert!(!plain.contains("\u{1b}["), "{plain:?}");
}
