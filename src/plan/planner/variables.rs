//! The runtime variables a container was started with against those the
//! state holds now, by key: what a `variable set` or `variable remove`
//! changed, named in the plan (a sensitive value masked, a binding shown as
//! the output it reads).

use crate::plan::FieldChange;
use crate::state::VariableVersion;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How one side of a variable shows: its value when it is not sensitive,
/// the output a binding reads, or a mask.
fn shown(v: &VariableVersion, applied: bool) -> Value {
    if let Some(binding) = v.version.strip_prefix("binding:") {
        return json!(format!("← {binding} (variable binding)"));
    }
    match (&v.value, v.sensitive, applied) {
        (Some(value), false, _) => json!(value),
        (_, _, true) => json!("(sensitive, applied)"),
        (_, _, false) => json!("(sensitive, has a new value)"),
    }
}

/// Adds a `variables.KEY` entry to `out` for each key added, removed or
/// changed since `recorded`; returns the reason naming them.
pub(super) fn diff(
    recorded: &BTreeMap<String, VariableVersion>,
    now: &BTreeMap<String, VariableVersion>,
    out: &mut Vec<FieldChange>,
) -> Option<String> {
    let keys: BTreeSet<&String> = recorded.keys().chain(now.keys()).collect();
    let mut named = Vec::new();
    for key in keys {
        let (before, after) = (recorded.get(key), now.get(key));
        if before.map(|b| &b.version) == after.map(|a| &a.version) {
            continue;
        }
        let sensitive = before.is_some_and(|b| b.sensitive) || after.is_some_and(|a| a.sensitive);
        out.push(FieldChange {
            path: format!("variables.{key}"),
            before: before.map(|b| shown(b, true)),
            after: after.map(|a| shown(a, false)),
            sensitive,
            forces_replacement: false,
            unchanged: false,
        });
        named.push(match (before, after) {
            (None, _) => format!("`{key}` was set"),
            (_, None) => format!("`{key}` was removed"),
            _ => format!("`{key}` changed"),
        });
    }
    (!named.is_empty()).then(|| format!("runtime variables: {}", named.join(", ")))
}
