//! `compartment config`: the fully expanded configuration, as
//! `docker compose config` shows it — presets expanded, defaults filled,
//! every instance with its values and the properties it will store, and
//! sensitive instance values masked. Generated variables appear by name and
//! generator only: their values never exist outside the sealed state.

use super::Project;
use crate::support::fields::Fields;
use serde_json::{json, Map, Value};

/// What replaces a sensitive value.
pub const MASK: &str = "(sensitive)";

/// The expanded configuration as one document.
pub fn expanded(project: &Project) -> Value {
    let c = &project.compartment;
    let instances: Map<String, Value> = project
        .instances
        .iter()
        .map(|(name, i)| {
            let mut values = i.values.to_map();
            for (id, v) in values.iter_mut() {
                if i.sensitive_inputs.contains(id) {
                    *v = Value::String(MASK.into());
                }
            }
            let doc = json!({
                "type": i.type_id,
                "global": i.global,
                "values": values,
                "properties": masked_properties(&i.properties, &i.values, &i.sensitive_inputs),
                "references": i.references,
            });
            (name.clone(), doc)
        })
        .collect();
    json!({
        "name": c.name,
        "services": c.services,
        "resources": c.resources,
        "instances": instances,
        "resourceTypes": project.types.keys().collect::<Vec<_>>(),
    })
}

/// Properties that carry a sensitive input's value are masked too.
fn masked_properties(
    properties: &Fields,
    values: &Fields,
    sensitive: &std::collections::BTreeSet<String>,
) -> Value {
    let secrets: Vec<&Value> = sensitive.iter().filter_map(|id| values.get(id)).collect();
    fn mask(v: &Value, secrets: &[&Value]) -> Value {
        if secrets.contains(&v) {
            return Value::String(MASK.into());
        }
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), mask(x, secrets)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| mask(x, secrets)).collect()),
            other => other.clone(),
        }
    }
    mask(&Value::Object(properties.to_map()), &secrets)
}
