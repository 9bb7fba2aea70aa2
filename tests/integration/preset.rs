//! `preset: postgres` expands to exactly the expanded form the Compartment
//! seed prints: compared with fixtures/presets/postgres-expanded.yml (the
//! seed's text re-indented) through the normal loader, and, where the seed
//! is available, with the seed's own paragraph field by field.

use crate::test::{fixture, repo};
use compartment::descriptor::model::{ResourceDef, Schedule};
use compartment::descriptor::preset;
use compartment::project::{load, Loaded};
use std::collections::BTreeMap;

cases! {
    plain preset_equals_the_expanded_form_loaded_from_yaml,
    plain a_project_using_the_preset_loads_the_same_resource,
    plain env_overrides_only_the_named_keys,
    plain any_other_field_with_a_preset_is_an_error,
    plain expansion_matches_the_seed_text_field_by_field,
}

fn load_file(path: &std::path::Path) -> Loaded {
    load(path, &BTreeMap::new())
}

fn load_text(yaml: &str) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compartment.yml");
    std::fs::write(&file, yaml).unwrap();
    load_file(&file)
}

fn db(loaded: &Loaded) -> ResourceDef {
    let problems: Vec<_> = loaded
        .diagnostics
        .sorted(&loaded.sources)
        .into_iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    loaded.project.as_ref().unwrap().compartment.resources["db"].clone()
}

fn expansion() -> ResourceDef {
    preset::expand("postgres", &BTreeMap::new()).expect("postgres is a preset")
}

fn preset_equals_the_expanded_form_loaded_from_yaml() {
    let written = db(&load_file(&fixture("presets/postgres-expanded.yml")));
    let mut expanded = expansion();
    assert_eq!(expanded.preset.as_deref(), Some("postgres"));
    // The only difference: the expansion remembers it came from a preset.
    expanded.preset = None;
    assert_eq!(expanded, written);
}

fn a_project_using_the_preset_loads_the_same_resource() {
    let r = db(&load_text(
        "name: x\nresources:\n  db:\n    preset: postgres\n",
    ));
    assert_eq!(r, expansion());
}

fn env_overrides_only_the_named_keys() {
    let r = db(&load_text(
        "name: x\nresources:\n  db:\n    preset: postgres\n    env:\n      POSTGRES_DB: x\n",
    ));
    let mut expected = expansion();
    expected.env.insert("POSTGRES_DB".into(), "x".into());
    assert_eq!(r, expected);
    assert_eq!(r.env["POSTGRES_USER"], "app");
}

fn any_other_field_with_a_preset_is_an_error() {
    for (field, yaml) in [
        ("image", "image: postgres:17"),
        ("ports", "ports: [5433]"),
        ("readiness", "readiness: {type: tcp, port: 5432}"),
        ("outputs", "outputs: {}"),
        ("volumes", "volumes: {data: /data}"),
        ("operations", "operations: {}"),
        ("command", "command: [postgres]"),
        ("generatedVariables", "generatedVariables: {}"),
        ("restart", "restart: always"),
    ] {
        let loaded = load_text(&format!(
            "name: x\nresources:\n  db:\n    preset: postgres\n    {yaml}\n"
        ));
        let d = loaded.diagnostics.sorted(&loaded.sources);
        assert_eq!(d.len(), 1, "{field}: {d:#?}");
        assert_eq!(d[0].code, "preset-field", "{field}");
        assert_eq!(d[0].path, format!("resources.db.{field}"));
        let loc = d[0].loc.unwrap();
        assert_eq!((loc.line, loc.col), (5, 5), "{field}");
        assert!(d[0].help.as_deref().unwrap().contains("expanded form"));
    }
}

/// The seed's "expanded resource config" paragraph, with its line breaks
/// lost: `resources: db: image: postgres:16-alpine env: ...`.
fn seed_paragraph() -> Option<String> {
    let path = repo().join("../shared/seeds/000_1196a99b113ea6b7.txt");
    let text = std::fs::read_to_string(path).ok()?;
    let start = text
        .find("The preset is equivalent to this expanded resource config:")
        .expect("the seed still has the expanded-config paragraph");
    let rest = &text[start..];
    let end = rest
        .find("The resource name is db.")
        .expect("the paragraph ends before `The resource name is db.`");
    Some(rest[..end].to_string())
}

/// How the seed writes a scalar: numbers-as-text quoted, like `'5432'`.
fn seed_scalar(s: &str) -> String {
    if s.parse::<f64>().is_ok() {
        format!("'{s}'")
    } else {
        s.to_string()
    }
}

fn expansion_matches_the_seed_text_field_by_field() {
    let Some(seed) = seed_paragraph() else {
        eprintln!("seed not found beside the repository; skipping the seed comparison");
        return;
    };
    let r = expansion();
    let mut fragments: Vec<String> = vec![format!("resources: db: image: {}", r.image)];
    let env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    fragments.push(format!("env: {}", env.join(" ")));
    for (k, g) in &r.generated_variables {
        // bytes and encoding are the documented defaults, not written.
        assert_eq!((g.bytes, g.encoding.as_str()), (24, "hex"));
        fragments.push(format!(
            "generatedVariables: {k}: generator: {}",
            g.generator
        ));
    }
    let ports: Vec<String> = r.ports.iter().map(|p| format!("- {p}")).collect();
    fragments.push(format!("ports: {}", ports.join(" ")));
    let rd = r.readiness.as_ref().unwrap();
    fragments.push(format!(
        "readiness: type: {} port: {} timeoutMs: {}",
        rd.kind,
        rd.port.unwrap_or_default(),
        rd.timeout_ms
    ));
    for (handle, path) in &r.volumes {
        fragments.push(format!("volumes: {handle}: {path}"));
    }
    for (name, o) in &r.outputs {
        fragments.push(format!(
            "{name}: sensitive: {} value: {}",
            o.sensitive,
            seed_scalar(&o.value)
        ));
    }
    let backup = r.operations.backup.as_ref().unwrap();
    assert!(backup.operation.image.is_none() && backup.operation.env.is_empty());
    let Some(Schedule::Interval(interval)) = &backup.schedule else {
        panic!("the preset's backup schedule is an interval")
    };
    let retention = backup.retention.as_ref().unwrap();
    assert_eq!(
        (retention.keep_last, retention.include_manual),
        (None, false)
    );
    fragments.push(format!(
        "operations: backup: command: {} schedule: interval: {interval} retention: maxAgeDays: {}",
        backup.operation.command,
        retention.max_age_days.unwrap()
    ));
    let restore = r.operations.restore.as_ref().unwrap();
    assert!(restore.image.is_none() && restore.env.is_empty());
    fragments.push(format!("restore: command: {}", restore.command));
    // Nothing the seed does not write: no command, the default restart.
    assert!(r.command.is_none());
    assert_eq!(r.restart, "unless-stopped");

    let missing: Vec<&String> = fragments.iter().filter(|f| !seed.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "not in the seed's expanded form:\n{missing:#?}\nseed:\n{seed}"
    );
    // And every output and env key the seed names is in the expansion.
    for name in ["connection-url:", "host:", "port:", "database:"] {
        assert!(seed.contains(name));
        assert!(r.outputs.contains_key(name.trim_end_matches(':')));
    }
    assert_eq!(r.outputs.len(), 4);
    assert_eq!(r.env.len(), 2);
}
