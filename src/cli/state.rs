//! `compartment state show|unlock`.

use super::args::StateCommand;
use super::Context;
use crate::error::Result;
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

pub fn run(cx: &Context, cmd: StateCommand) -> Result<i32> {
    let target = cx.target()?;
    match cmd {
        StateCommand::Show => {
            let state = target.store.load(&target.project, &cx.global.env)?;
            let mut v = serde_json::to_value(&state).expect("state serialises");
            mask(&mut v);
            println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
        }
        StateCommand::Unlock => {
            super::ops::guard(cx, &target.root, crate::ops::roles::Command::StateUnlock)?;
            match target.store.unlock()? {
                Some(info) => println!(
                    "Removed the lock on {} held by {} (pid {}) running `{}` since {}.",
                    target.store.display(),
                    info.holder,
                    info.pid,
                    info.operation,
                    info.since
                ),
                None => println!("{} is not locked.", target.store.display()),
            }
        }
    }
    Ok(0)
}
