//! The state file format, kept apart from the model: reading any known
//! version (upgrading older ones step by step) and writing the current one
//! as pretty JSON with sorted keys.
//!
//! Version history:
//! - 0: the pre-release layout: `resources`, `services`, `instances` and
//!   `variables` as lists of records, dependencies as a separate edge list.
//! - 1: maps keyed by name, direct dependencies on each object
//!   (`dependsOn`), variables by scope, bindings, backups, schedules.
//! - 2: the state's own applied records: what resources and services share
//!   once applied (`definition`, `configDigest` — formerly `definitionHash`
//!   —, container name and id, `dependsOn`, `appliedAt`,
//!   `appliedVariables`) is one `applied` object inside each of them.
//! - 3: the values of sensitive instance inputs (and the property leaves
//!   made from them) are salted argon2id hashes, where version 2 kept an
//!   unsalted `sha256:<hex>`; the upgrade hashes the old digest (salted by
//!   lineage, instance and input), so it needs no secret.
//! - 4: `creating`, the intent an apply records (with the sealed generated
//!   variables) before it creates a resource's container and volumes; a
//!   version 3 file has none, so the upgrade changes nothing else.

use super::{State, CURRENT_VERSION};
use serde_json::{json, Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FormatError {
    #[error("{path} is not valid JSON: {reason}")]
    Json { path: String, reason: String },
    #[error("{path} has no `version` field; it is not a compartment state file")]
    NoVersion { path: String },
    #[error("{path} has `version` {found}; a state format version is a whole number from 0 to {CURRENT_VERSION}")]
    BadVersion { path: String, found: String },
    #[error("{path} holds a plaintext value for the sensitive variable {what}; a sensitive value is only ever stored sealed, so this file was edited by hand or written by another tool; seal it with `compartment variable set --sensitive` or remove it")]
    Plaintext { path: String, what: String },
    #[error("{path} has state format version {found}, newer than this compartment understands (up to {CURRENT_VERSION}); upgrade compartment to read it")]
    TooNew { path: String, found: u64 },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} (state format version {version}) is malformed: {reason}")]
    Malformed {
        path: String,
        version: u64,
        reason: String,
    },
}

/// Reads and parses a state file of any known version.
pub fn read_file(path: &std::path::Path) -> Result<State, FormatError> {
    let shown = crate::support::paths::display_path(path);
    let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
        path: shown.clone(),
        source,
    })?;
    read(&shown, &text)
}

/// Parses a state file of any known version into the current model.
pub fn read(path: &str, text: &str) -> Result<State, FormatError> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| FormatError::Json {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let version = match v.get("version") {
        None => return Err(FormatError::NoVersion { path: path.into() }),
        Some(found) => found.as_u64().ok_or_else(|| FormatError::BadVersion {
            path: path.into(),
            found: match found {
                Value::String(_) => format!("{found} (a string, not a number)"),
                _ => found.to_string(),
            },
        })?,
    };
    if version > CURRENT_VERSION as u64 {
        return Err(FormatError::TooNew {
            path: path.into(),
            found: version,
        });
    }
    for (from, step) in UPGRADES.iter().skip(version as usize) {
        v = step(v).map_err(|reason| FormatError::Malformed {
            path: path.into(),
            version: *from,
            reason,
        })?;
    }
    // Unknown fields are refused (the model denies them) with the path of
    // the field, instead of being dropped silently on the next write.
    let state: State = serde_path_to_error::deserialize(v).map_err(|e| {
        let at = e.path().to_string();
        let reason = e.into_inner().to_string();
        FormatError::Malformed {
            path: path.into(),
            version,
            reason: if at == "." {
                reason
            } else {
                format!("at `{at}`: {reason}")
            },
        }
    })?;
    refuse_plaintext(path, &state)?;
    Ok(state)
}

/// A sensitive variable must be sealed: a plaintext value where a sealed
/// one is expected is refused rather than used (and later written back).
fn refuse_plaintext(path: &str, state: &State) -> Result<(), FormatError> {
    let scopes = [
        ("resource", &state.variables.resource),
        ("service", &state.variables.service),
    ];
    for (scope, targets) in scopes {
        for (target, vars) in targets {
            for (key, var) in vars {
                if var.sensitive && var.value.is_some() {
                    return Err(FormatError::Plaintext {
                        path: path.into(),
                        what: format!("{scope} {target} {key}"),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The current format: pretty JSON, keys sorted, trailing newline.
pub fn write(state: &State) -> String {
    let v = serde_json::to_value(state).expect("state serialises");
    let mut s = serde_json::to_string_pretty(&v).expect("value serialises");
    s.push('\n');
    s
}

/// One upgrade step: a file of version `n` to version `n + 1`.
type Upgrade = fn(Value) -> Result<Value, String>;

/// The upgrade chain, by source version: a file of version `n` goes through
/// every step from the `n`th on.
const UPGRADES: [(u64, Upgrade); CURRENT_VERSION as usize] = [
    (0, upgrade_v0),
    (1, upgrade_v1),
    (2, upgrade_v2),
    (3, upgrade_v3),
    (4, upgrade_v4),
    (5, upgrade_v5),
];

fn take_list(v: &mut Value, key: &str) -> Vec<Value> {
    match v.as_object_mut().and_then(|o| o.remove(key)) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// 3 → 4: no intent was recorded before version 4.
fn upgrade_v3(mut v: Value) -> Result<Value, String> {
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(4));
    Ok(v)
}

/// 4 → 5: version 5 adds only optional fields (a backup's `checksums`
/// and `copies`, and those added while version 4 was current: `releases`,
/// `engine`, `stopGracePeriod`, `keepReleases`, `appliedVariables`,
/// `appliedVariableVersions`, the verify fields, `encryptedWith`), so a
/// version 4 file reads unchanged; an older compartment refuses a version 5
/// file as newer instead of naming an unknown field.
fn upgrade_v4(mut v: Value) -> Result<Value, String> {
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(5));
    Ok(v)
}

/// 5 → 6: version 6 adds only an optional field (a resource's `node`, the
/// swarm node it is pinned to), so a version 5 file reads unchanged.
fn upgrade_v5(mut v: Value) -> Result<Value, String> {
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(6));
    Ok(v)
}

/// 0 → 1.
fn upgrade_v0(mut v: Value) -> Result<Value, String> {
    let edges = take_list(&mut v, "dependencies");
    let mut deps: Map<String, Value> = Map::new();
    for e in edges {
        let pair = e
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or("a dependency is not a [from, to] pair")?;
        let (from, to) = (
            pair[0]
                .as_str()
                .ok_or("dependency source is not a string")?,
            pair[1]
                .as_str()
                .ok_or("dependency target is not a string")?,
        );
        let entry = deps.entry(from.to_string()).or_insert_with(|| json!([]));
        entry.as_array_mut().expect("array").push(json!(to));
    }
    let mut objects = |key: &str, kind: &str| -> Result<Value, String> {
        let mut out = Map::new();
        for mut item in take_list(&mut v, key) {
            let obj = item
                .as_object_mut()
                .ok_or_else(|| format!("an entry of `{key}` is not an object"))?;
            let name = obj
                .remove("name")
                .and_then(|n| n.as_str().map(String::from))
                .ok_or_else(|| format!("an entry of `{key}` has no name"))?;
            let address = format!("{kind}.{name}");
            obj.insert(
                "dependsOn".into(),
                deps.get(&address).cloned().unwrap_or(json!([])),
            );
            out.insert(name, item);
        }
        Ok(Value::Object(out))
    };
    let resources = objects("resources", "resource")?;
    let services = objects("services", "service")?;
    let instances = objects("instances", "instance")?;
    let mut variables = json!({"resource": {}, "service": {}});
    for item in take_list(&mut v, "variables") {
        let scope = item
            .get("scope")
            .and_then(Value::as_str)
            .ok_or("a variable has no scope")?;
        if scope != "resource" && scope != "service" {
            return Err(format!("unknown variable scope `{scope}`"));
        }
        let target = item
            .get("target")
            .and_then(Value::as_str)
            .ok_or("a variable has no target")?;
        let key = item
            .get("key")
            .and_then(Value::as_str)
            .ok_or("a variable has no key")?;
        let mut var = Map::new();
        var.insert(
            "sensitive".into(),
            item.get("sensitive").cloned().unwrap_or(json!(false)),
        );
        var.insert(
            "generated".into(),
            item.get("generated").cloned().unwrap_or(json!(false)),
        );
        for k in ["value", "sealed"] {
            if let Some(x) = item.get(k) {
                var.insert(k.into(), x.clone());
            }
        }
        let scope_map = variables[scope].as_object_mut().expect("object");
        let t = scope_map
            .entry(target.to_string())
            .or_insert_with(|| json!({}));
        t.as_object_mut()
            .expect("object")
            .insert(key.to_string(), Value::Object(var));
    }
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(1));
    obj.insert("resources".into(), resources);
    obj.insert("services".into(), services);
    obj.insert("instances".into(), instances);
    obj.insert("variables".into(), variables);
    Ok(v)
}

/// The keys of a v1 resource or service that v2 keeps in its `applied`
/// record (`definitionHash` becomes `configDigest`).
const APPLIED_KEYS: [(&str, &str); 7] = [
    ("definition", "definition"),
    ("definitionHash", "configDigest"),
    ("containerName", "containerName"),
    ("containerId", "containerId"),
    ("dependsOn", "dependsOn"),
    ("appliedAt", "appliedAt"),
    ("appliedVariables", "appliedVariables"),
];

/// 1 → 2.
fn upgrade_v1(mut v: Value) -> Result<Value, String> {
    for key in ["resources", "services"] {
        let Some(objects) = v.get_mut(key) else {
            continue;
        };
        let objects = objects
            .as_object_mut()
            .ok_or_else(|| format!("`{key}` is not an object"))?;
        for (name, object) in objects.iter_mut() {
            let object = object
                .as_object_mut()
                .ok_or_else(|| format!("`{key}.{name}` is not an object"))?;
            let mut applied = Map::new();
            for (old, new) in APPLIED_KEYS {
                if let Some(x) = object.remove(old) {
                    applied.insert(new.into(), x);
                }
            }
            object.insert("applied".into(), Value::Object(applied));
        }
    }
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(2));
    Ok(v)
}

/// 2 → 3: every legacy `sha256:<hex>` of a sensitive instance input, in its
/// values and in the property leaves that held the same digest, becomes the
/// argon2id hash of that digest. The salt comes from the lineage, the
/// instance and the input, so reading one old file twice gives one state
/// (a plan made against it stays current).
fn upgrade_v2(mut v: Value) -> Result<Value, String> {
    let lineage = v
        .get("lineage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(instances) = v.get_mut("instances") {
        let instances = instances
            .as_object_mut()
            .ok_or("`instances` is not an object")?;
        for (name, inst) in instances.iter_mut() {
            upgrade_instance_hashes(&lineage, name, inst)?;
        }
    }
    let obj = v.as_object_mut().ok_or("the state is not an object")?;
    obj.insert("version".into(), json!(3));
    Ok(v)
}

fn upgrade_instance_hashes(lineage: &str, name: &str, inst: &mut Value) -> Result<(), String> {
    use crate::support::digest::upgrade_legacy_secret;
    let sensitive: Vec<String> = inst
        .get("sensitiveInputs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut replaced: Vec<(String, String)> = Vec::new();
    if let Some(values) = inst.get_mut("values").and_then(Value::as_object_mut) {
        for id in &sensitive {
            let Some(Value::String(old)) = values.get(id) else {
                continue;
            };
            let salt = format!("{lineage}/{name}/{id}");
            if let Some(new) = upgrade_legacy_secret(old, &salt) {
                replaced.push((old.clone(), new.clone()));
                values.insert(id.clone(), Value::String(new));
            }
        }
    } else if inst.get("values").is_some() {
        return Err(format!("`instances.{name}.values` is not an object"));
    }
    fn walk(v: &mut Value, replaced: &[(String, String)]) {
        match v {
            Value::String(s) => {
                if let Some((_, new)) = replaced.iter().find(|(old, _)| old == s) {
                    *s = new.clone();
                }
            }
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, replaced)),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, replaced)),
            _ => {}
        }
    }
    if let Some(props) = inst.get_mut("properties") {
        walk(props, &replaced);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V0: &str = include_str!("../../state/samples/state-v0.json");
    const V1: &str = include_str!("../../state/samples/state-v1.json");
    const V2: &str = include_str!("../../state/samples/state-v2.json");
    const V3: &str = include_str!("../../state/samples/state-v3.json");
    const V4: &str = include_str!("../../state/samples/state-v4.json");
    const V5: &str = include_str!("../../state/samples/state-v5.json");
    const V6: &str = include_str!("../../state/samples/state-v6.json");

    #[test]
    fn every_older_sample_upgrades_to_the_current_one() {
        let current = read("v6", V6).unwrap();
        assert_eq!(current.version, CURRENT_VERSION);
        assert_eq!(read("v5", V5).unwrap(), current);
        assert_eq!(read("v4", V4).unwrap(), current);
        assert_eq!(read("v3", V3).unwrap(), current);
        assert_eq!(read("v2", V2).unwrap(), current);
        assert_eq!(read("v1", V1).unwrap(), current);
        assert_eq!(read("v0", V0).unwrap(), current);
        assert_eq!(write(&current), V6);
    }

    #[test]
    fn legacy_hashes_of_sensitive_inputs_become_salted_argon2id() {
        use crate::support::digest::{secret_matches, sha256_hex};
        let mut v: Value = serde_json::from_str(V2).unwrap();
        let legacy = format!("sha256:{}", sha256_hex(b"\"whsec-1\""));
        v["instances"]["hook"] = json!({
            "type": "billing/webhook",
            "values": {"url": "https://x", "signing_secret": legacy},
            "properties": {"auth": {"secret": legacy}, "url": "https://x"},
            "dependsOn": [],
            "sensitiveInputs": ["signing_secret"],
        });
        let text = v.to_string();
        let st = read("v2", &text).unwrap();
        let inst = &st.instances["hook"];
        let stored = inst.values["signing_secret"].as_str().unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(secret_matches("\"whsec-1\"", stored));
        assert_eq!(inst.properties["auth"]["secret"], stored);
        assert_eq!(inst.values["url"], "https://x");
        assert!(!write(&st).contains(&legacy), "no unsalted digest is kept");
        assert_eq!(read("v2", &text).unwrap(), st, "one old file, one state");
    }

    #[test]
    fn an_old_lineage_is_kept_on_upgrade() {
        let old: Value = serde_json::from_str(V1).unwrap();
        let lineage = old["lineage"].as_str().unwrap();
        assert_eq!(read("v1", V1).unwrap().lineage, lineage);
        // Any string was accepted as a lineage, and still is.
        let odd = V1.replacen(lineage, "not-a-uuid", 1);
        assert_eq!(read("odd", &odd).unwrap().lineage, "not-a-uuid");
    }

    #[test]
    fn a_version_that_is_not_a_whole_number_is_named() {
        let cases = [
            (
                r#"{"version": "1"}"#,
                "has `version` \"1\" (a string, not a number)",
            ),
            (r#"{"version": -1}"#, "has `version` -1;"),
            (r#"{"version": null}"#, "has `version` null;"),
            (r#"{"version": 1.5}"#, "has `version` 1.5;"),
        ];
        for (text, expected) in cases {
            let err = read("s.json", text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("no `version` field"), "{err}");
        }
        let err = read("s.json", "{}").unwrap_err().to_string();
        assert!(err.contains("no `version` field"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_path() {
        let mut v: Value = serde_json::from_str(V3).unwrap();
        v["resources"]["db"]["applied"]["surprise"] = json!(1);
        let err = read("s.json", &v.to_string()).unwrap_err().to_string();
        assert!(
            err.starts_with("s.json (state format version 3) is malformed: at `resources.db.applied.surprise`: unknown field `surprise`"),
            "{err}"
        );
        let mut v: Value = serde_json::from_str(V2).unwrap();
        v["topLevelTypo"] = json!(true);
        let err = read("s.json", &v.to_string()).unwrap_err().to_string();
        assert!(err.contains("unknown field `topLevelTypo`"), "{err}");
    }

    #[test]
    fn a_plaintext_sensitive_value_is_refused() {
        let mut v: Value = serde_json::from_str(V2).unwrap();
        v["variables"]["service"]["api"] = json!({"TOKEN": {"sensitive": true, "value": "plain"}});
        let err = read("s.json", &v.to_string()).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "s.json holds a plaintext value for the sensitive variable service api TOKEN;"
            ),
            "{err}"
        );
        assert!(!err.contains("plain\""), "{err}");
    }

    #[test]
    fn a_malformed_v1_names_its_version() {
        let bad = r#"{"version": 1, "resources": {"db": 3}}"#;
        let err = read("bad", bad).unwrap_err().to_string();
        assert!(
            err.contains("version 1") && err.contains("`resources.db`"),
            "{err}"
        );
    }
}
