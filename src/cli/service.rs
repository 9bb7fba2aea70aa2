//! `compartment service …`, `resource exec` and `ps`: parse, call one
//! function of `ops::service`, print text or `--output json`.

use super::args::{ExecArgs, ServiceCommand};
use super::render::{print_json, print_or_json, table};
use super::Context;
use crate::docker::ExecOutput;
use crate::error::Result;
use crate::ops::service::{self, Kind};
use crate::workspace::Workspace;
use std::io::Write;

pub fn run(cx: &Context, cmd: ServiceCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        ServiceCommand::List => {
            let rows = cx.block_on(service::list(&ws))??;
            if cx.json() {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No services are deployed in {}/{}.", ws.name(), ws.env);
            } else {
                let rows = rows.into_iter().map(|r| {
                    let ingress = r.ingress.map(|p| p.to_string()).unwrap_or_default();
                    vec![r.name, r.status, r.image, r.host, ingress]
                });
                table(
                    &["NAME", "STATUS", "IMAGE", "HOST", "INGRESS"],
                    rows.collect(),
                );
            }
        }
        ServiceCommand::Inspect(a) => print_json(&cx.block_on(service::inspect(&ws, &a.name))??),
        ServiceCommand::Logs(a) => {
            cx.block_on(service::logs(&ws, &a.name, a.tail, a.follow, |l| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{l}");
                let _ = out.flush();
            }))??
        }
        ServiceCommand::Restart(a) => {
            cx.block_on(service::restart(&ws, &a.name))??;
            print_or_json(
                cx,
                &serde_json::json!({"service": a.name, "restarted": true}),
                || println!("Restarted service `{}`.", a.name),
            );
        }
        ServiceCommand::Exec(a) => return exec(cx, &ws, Kind::Service, a),
    }
    Ok(0)
}

/// `service exec` / `resource exec`: the command's output as it comes
/// (text), or one object with both outputs and the exit code (JSON); the
/// process exits with the command's exit code.
pub fn exec(cx: &Context, ws: &Workspace, kind: Kind, a: ExecArgs) -> Result<i32> {
    let json = cx.json();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cx.block_on(service::exec(
        ws,
        kind,
        &a.name,
        &a.command,
        |chunk| match (chunk, json) {
            (ExecOutput::Stdout(b), true) => out.extend(b),
            (ExecOutput::Stderr(b), true) => err.extend(b),
            (ExecOutput::Stdout(b), false) => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&b);
                let _ = o.flush();
            }
            (ExecOutput::Stderr(b), false) => {
                let _ = std::io::stderr().write_all(&b);
            }
        },
    ))??;
    if json {
        print_json(&serde_json::json!({
            "exitCode": code,
            "stdout": String::from_utf8_lossy(&out),
            "stderr": String::from_utf8_lossy(&err),
        }));
    }
    Ok(i32::try_from(code).unwrap_or(1).clamp(0, 255))
}

pub fn ps(cx: &Context) -> Result<i32> {
    let ws = cx.open()?;
    let rows = cx.block_on(service::ps(&ws))??;
    if cx.json() {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("Nothing is deployed in {}/{}.", ws.name(), ws.env);
    } else {
        let rows = rows
            .into_iter()
            .map(|r| vec![r.kind.to_string(), r.name, r.status, r.image, r.container]);
        table(
            &["KIND", "NAME", "STATUS", "IMAGE", "CONTAINER"],
            rows.collect(),
        );
    }
    Ok(0)
}
