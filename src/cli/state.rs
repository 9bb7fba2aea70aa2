//! `compartment state show|unlock`. `show` masks sealed values (sensitive
//! instance values are stored hashed already); it never needs the secret key.

use super::args::{ImportArgs, StateCommand};
use super::render::print_or_json;
use super::Context;
use crate::error::Result;
use crate::ops::adopt;
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

pub fn run(cx: &Context, cmd: StateCommand) -> Result<i32> {
    // With --state, a state file can be inspected (or unlocked) without the
    // project it belongs to; otherwise the project says where it is.
    let (project, store) = match (cx.options().target(), &cx.global.state) {
        (Ok(target), _) => (Some(target.project), target.store),
        (Err(_), Some(path)) => (None, StateStore::at(path.clone())),
        (Err(e), None) => return Err(e.into()),
    };
    match cmd {
        StateCommand::Rm(a) => {
            let done = adopt::remove(&mut cx.open()?, &a.address)?;
            print_or_json(cx, &done, || {
                println!(
                    "Removed {} from the state (serial {}); its container and volumes are untouched.",
                    done.address, done.serial
                )
            });
        }
        StateCommand::Mv(a) => {
            let done = adopt::rename(&mut cx.open()?, &a.old, &a.new)?;
            print_or_json(cx, &done, || {
                println!(
                    "Moved {} to {} in the state (serial {}); the next apply runs its container under the new name, with the same volumes.",
                    a.old, a.new, done.serial
                )
            });
        }
        StateCommand::Show => {
            let state = match &project {
                Some(p) => store.load(p, &cx.global.env)?,
                None => format::read_file(&store.path)?,
            };
            let mut v = serde_json::to_value(&state).expect("state serialises");
            mask(&mut v);
            println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
            if !cx.json() {
                eprintln!("secret key: {}", crate::state::secrets::key_source());
            }
        }
        StateCommand::Unlock { force } if cx.json() => {
            let info = store.unlock(force)?;
            println!(
                "{}",
                serde_json::json!({"state": store.display(), "removed": info.is_some(), "lock": info})
            );
        }
        StateCommand::Unlock { force } => match store.unlock(force)? {
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

/// `compartment import ADDRESS CONTAINER`.
pub fn import(cx: &Context, a: ImportArgs) -> Result<i32> {
    let mut ws = cx.open()?;
    let done = cx.block_on(adopt::import(&mut ws, &a.address, &a.container))??;
    print_or_json(cx, &done, || {
        println!(
            "Imported container {} as {} (serial {}).",
            done.container.as_deref().unwrap_or(&a.container),
            done.address,
            done.serial
        );
        for (handle, volume) in &done.volumes {
            println!("  volume {handle}: {volume}");
        }
        println!("Run `compartment plan` to see how it differs from its declaration.");
    });
    Ok(0)
}
