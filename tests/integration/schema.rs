//! `compartment schema compartment|resources`: real JSON Schemas that accept
//! the example project and reject broken descriptors, as an editor using
//! them would.

use crate::test::{fixture, Test};
use serde_json::Value;
use std::path::Path;

cases! {
    plain compartment_schema_accepts_the_example_and_the_expanded_preset,
    plain resources_schema_accepts_both_example_files,
    plain compartment_schema_rejects_broken_descriptors,
    plain resources_schema_rejects_broken_descriptors,
    plain schemas_describe_every_property,
}

fn schema(kind: &str) -> Value {
    let run = Test::new(fixture("example"))
        .args(["schema", kind])
        .output();
    assert_eq!(run.stderr, "");
    let schema: Value = serde_json::from_str(&run.stdout).expect("schema is JSON");
    assert!(
        jsonschema::draft7::meta::is_valid(&schema),
        "`compartment schema {kind}` is not a valid draft-07 schema"
    );
    schema
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(schema: &Value, path: &Path) -> Vec<String> {
    let validator = jsonschema::draft7::new(schema).expect("schema compiles");
    let doc = yaml(path);
    validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn compartment_schema_accepts_the_example_and_the_expanded_preset() {
    let s = schema("compartment");
    for file in [
        fixture("example/compartment.yml"),
        fixture("presets/postgres-expanded.yml"),
    ] {
        let errs = errors(&s, &file);
        assert!(errs.is_empty(), "{}: {errs:#?}", file.display());
    }
}

fn resources_schema_accepts_both_example_files() {
    let s = schema("resources");
    for svc in ["storefront", "billing"] {
        let file = fixture(&format!("example/services/{svc}/platz/resources.yaml"));
        let errs = errors(&s, &file);
        assert!(errs.is_empty(), "{}: {errs:#?}", file.display());
    }
}

fn compartment_schema_rejects_broken_descriptors() {
    let s = schema("compartment");
    // Cases the schema alone can see (cross-file checks need `validate`).
    for case in [
        "unknown-field",
        "unknown-field-top",
        "unknown-field-nested",
        "missing-field",
        "missing-field-name",
        "missing-field-output",
        "missing-field-schedule",
        "wrong-type",
        "wrong-type-command",
        "wrong-type-sensitive",
        "out-of-range",
        "invalid-name",
        "invalid-name-project",
        "preset-field",
        "unknown-preset",
        "unknown-generator",
        "unknown-encoding",
        "relative-volume-path",
        "invalid-volume",
        "invalid-env-key",
        "unknown-readiness",
        "unknown-restart",
        "schedule-conflict",
        "invalid-cron-fields",
        "unknown-interval",
        "missing-path-empty",
    ] {
        let file = fixture(&format!("broken/{case}/compartment.yml"));
        assert!(
            !errors(&s, &file).is_empty(),
            "the compartment schema accepts fixtures/broken/{case}"
        );
    }
}

fn resources_schema_rejects_broken_descriptors() {
    let s = schema("resources");
    for case in [
        "unknown-api-version",
        "unknown-kind",
        "unknown-field-platz",
        "missing-field-platz",
        "wrong-type-platz",
        "unknown-input-type",
        "misplaced-field",
        "missing-field-item-type",
        "missing-field-options",
        "missing-field-collection",
        "invalid-path-hook",
        "invalid-output-both",
        "secrets-not-applicable",
        "unknown-role",
        "unknown-endpoint",
        "unknown-method",
    ] {
        let file = fixture(&format!(
            "broken/{case}/services/storefront/platz/resources.yaml"
        ));
        assert!(
            !errors(&s, &file).is_empty(),
            "the resources schema accepts fixtures/broken/{case}"
        );
    }
}

fn schemas_describe_every_property() {
    // Every property of every object in both schemas has a description (or
    // is a $ref to a definition, or a constant), so editors can show hover
    // help.
    fn walk(v: &Value, at: &str, missing: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    for (k, p) in props {
                        let described = p.get("description").is_some()
                            || p.get("$ref").is_some()
                            || p.get("const").is_some();
                        if !described {
                            missing.push(format!("{at}.{k}"));
                        }
                    }
                }
                for (k, c) in m {
                    walk(c, &format!("{at}.{k}"), missing);
                }
            }
            Value::Array(items) => {
                for (i, c) in items.iter().enumerate() {
                    walk(c, &format!("{at}[{i}]"), missing);
                }
            }
            _ => {}
        }
    }
    for kind in ["compartment", "resources"] {
        let mut missing = Vec::new();
        walk(&schema(kind), kind, &mut missing);
        assert!(
            missing.is_empty(),
            "{kind}: undocumented properties {missing:#?}"
        );
    }
}
