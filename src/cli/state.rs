//! `compartment state show|unlock`. `show` masks sealed values and the
//! values of sensitive instance inputs; it never needs the secret key.

use super::args::StateCommand;
use super::Context;
use crate::error::{Error, Result};
use crate::state::format;
use crate::state::store::StateStore;
use serde_json::Value;

/// Replaces every sealed value by a marker, recursively.
fn mask(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if (k == "sealed" || k == "hookSecret") && x.is_string() {
                    *x = Value::String("(sealed)".into());
                } else {
                    mask(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Masks the values of an instance's sensitive inputs, and properties that
/// copy them.
fn mask_instances(v: &mut Value) {
    let Some(instances) = v.get_mut("instances").and_then(Value::as_object_mut) else {
        return;
    };
    for inst in instances.values_mut() {
        let sensitive: Vec<String> = inst
            .get("sensitiveInputs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut secrets = Vec::new();
        if let Some(values) = inst.get_mut("values").and_then(Value::as_object_mut) {
            for id in &sensitive {
                if let Some(x) = values.get_mut(id) {
                    secrets.push(x.take());
                    *x = Value::String("(sensitive)".into());
                }
            }
        }
        fn walk(v: &mut Value, secrets: &[Value]) {
            if secrets.contains(v) {
                *v = Value::String("(sensitive)".into());
            } else if let Value::Object(m) = v {
                m.values_mut().for_each(|x| walk(x, secrets));
            } else if let Value::Array(a) = v {
                a.iter_mut().for_each(|x| walk(x, secrets));
            }
        }
        if let Some(props) = inst.get_mut("properties") {
            walk(props, &secrets);
        }
    }
}

pub fn run(cx: &Context, cmd: StateCommand) -> Result<i32> {
    // With --state, a state file can be inspected (or unlocked) without the
    // project it belongs to; otherwise the project says where it is.
    let (project, store) = match (cx.target(), &cx.global.state) {
        (Ok(target), _) => (Some(target.project), target.store),
        (Err(_), Some(path)) => (None, StateStore { path: path.clone() }),
        (Err(e), None) => return Err(e),
    };
    match cmd {
        StateCommand::Show => {
            let state = match &project {
                Some(p) => store.load(p, &cx.global.env)?,
                None => {
                    let text = std::fs::read_to_string(&store.path)
                        .map_err(|e| Error::msg(format!("cannot read {}: {e}", store.display())))?;
                    format::read(&store.display(), &text)?
                }
            };
            let mut v = serde_json::to_value(&state).expect("state serialises");
            mask(&mut v);
            mask_instances(&mut v);
            println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
        }
        StateCommand::Unlock => match store.unlock()? {
            Some(info) => println!(
                "Removed the lock on {} held by {} (pid {}) running `{}` since {}.",
                store.display(),
                info.holder,
                info.pid,
                info.operation,
                info.since
            ),
            None => println!("{} is not locked.", store.display()),
        },
    }
    Ok(0)
}
