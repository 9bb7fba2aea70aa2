//! Plan files: the plan as pretty JSON meant for git. Deterministic (same
//! inputs, same bytes), sorted keys, no timestamps, no secret values.
//! Newer format versions are refused.

use super::{Plan, FORMAT_VERSION};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a compartment plan file: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path} has plan format version {found}, newer than this compartment understands (up to {FORMAT_VERSION}); upgrade compartment to read it")]
    TooNew { path: String, found: u64 },
}

/// The canonical bytes of a plan.
pub fn to_json(plan: &Plan) -> String {
    let mut out = Vec::new();
    write_json(plan, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// The plan as pretty JSON with sorted keys, written straight to `w` (a
/// buffered stdout). The plan's top level (without its changes) is sorted
/// through a `Value`; the changes are serialised as they are (their fields
/// are declared in sorted order), so a plan of 11,000 changes is never
/// held twice. A large plan's changes are written in blocks, every other
/// block made into JSON on the worker thread meanwhile (`Changes`).
pub fn write_json(plan: &Plan, w: impl std::io::Write) -> std::io::Result<()> {
    let out = std::cell::RefCell::new(w);
    let mut ser =
        serde_json::Serializer::with_formatter(Shared(&out), super::pretty::Pretty::default());
    let changes = &plan.changes;
    let result = if changes.len() < 2 * BLOCK || !crate::support::parallel::concurrent() {
        Sorted(plan, Changes::Here(changes)).serialize(&mut ser)
    } else {
        let (to_writer, blocks) = std::sync::mpsc::sync_channel(2);
        let (spent, from_writer) = std::sync::mpsc::sync_channel(2);
        let ((), result) = crate::support::parallel::join(
            move || render_odd_blocks(changes, &to_writer, &from_writer),
            || {
                let changes = Changes::Interleaved {
                    changes,
                    blocks,
                    spent,
                    out: &|bytes: &[u8]| out.borrow_mut().write_all(bytes),
                };
                Sorted(plan, changes).serialize(&mut ser)
            },
        );
        result
    };
    result.map_err(std::io::Error::other)?;
    out.into_inner().write_all(b"\n")
}

/// Changes per block of a large plan's JSON.
const BLOCK: usize = 256;

/// The writer shared by the serialiser and the blocks made aside.
struct Shared<'a, W>(&'a std::cell::RefCell<W>);

impl<W: std::io::Write> std::io::Write for Shared<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.borrow_mut().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Blocks 1, 3, 5… of `changes` as JSON, each change as the elements of
/// the plan's `changes` array are written after the first (`,`, a line
/// break, the indentation of two levels, the change); until the writer
/// stops taking them. The buffers written come back `from_writer` and are
/// filled again: a fresh one per block was fresh memory each time (a page
/// fault per 4 KiB, docs/benchmarks.md).
fn render_odd_blocks(
    changes: &[super::Change],
    to_writer: &std::sync::mpsc::SyncSender<Vec<u8>>,
    from_writer: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    for block in changes.chunks(BLOCK).skip(1).step_by(2) {
        let mut bytes = match from_writer.try_recv() {
            Ok(mut spent) => {
                spent.clear();
                spent
            }
            // About 700 bytes a change: one allocation for most blocks.
            Err(_) => Vec::with_capacity(BLOCK * 1024),
        };
        for change in block {
            bytes.extend_from_slice(b",\n    ");
            let pretty = super::pretty::Pretty::at_depth(2);
            let mut ser = serde_json::Serializer::with_formatter(&mut bytes, pretty);
            change
                .serialize(&mut ser)
                .expect("a change serialises to memory");
        }
        if to_writer.send(bytes).is_err() {
            return;
        }
    }
}

/// [`Plan`] serialised with its keys in order and its changes streamed.
struct Sorted<'a>(&'a Plan, Changes<'a>);

/// A plan's changes, serialised as they are: `Change` and the types in it
/// declare their fields in the order of their sorted JSON names (no
/// `Value` per change: it was a fifth of a large plan's instructions,
/// docs/benchmarks.md).
enum Changes<'a> {
    /// All of them on this thread.
    Here(&'a [super::Change]),
    /// Even blocks here, odd ones as `blocks` brings them, written to
    /// `out` and given back to be filled again (`spent`).
    Interleaved {
        changes: &'a [super::Change],
        blocks: std::sync::mpsc::Receiver<Vec<u8>>,
        spent: std::sync::mpsc::SyncSender<Vec<u8>>,
        out: &'a dyn Fn(&[u8]) -> std::io::Result<()>,
    },
}

impl serde::Serialize for Changes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let (changes, blocks, spent, out) = match self {
            Changes::Here(changes) => return s.collect_seq(*changes),
            Changes::Interleaved {
                changes,
                blocks,
                spent,
                out,
            } => (changes, blocks, spent, out),
        };
        let mut seq = s.serialize_seq(Some(changes.len()))?;
        for (i, block) in changes.chunks(BLOCK).enumerate() {
            if i % 2 == 0 {
                for change in block {
                    seq.serialize_element(change)?;
                }
                continue;
            }
            // The serialiser has written the first block: its state (an
            // element written) is what it is after the ones written aside.
            let bytes = blocks
                .recv()
                .map_err(|_| S::Error::custom("the plan's JSON thread stopped"))?;
            out(&bytes).map_err(S::Error::custom)?;
            // Refused when two wait already: then it is freed.
            let _ = spent.try_send(bytes);
        }
        seq.end()
    }
}

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let p = self.0;
        // Everything but the changes (a field added to `Plan` must be
        // added here: the literal names them all).
        let head = Plan {
            format_version: p.format_version,
            project: p.project.clone(),
            environment: p.environment.clone(),
            prior_state: p.prior_state.clone(),
            inputs: p.inputs.clone(),
            changes: Vec::new(),
            blocked: p.blocked.clone(),
            warnings: p.warnings.clone(),
            summary: p.summary.clone(),
            mode: p.mode.clone(),
            teardown: p.teardown.clone(),
            targets: p.targets.clone(),
            engine: p.engine.clone(),
            orchestrator: p.orchestrator.clone(),
            registry: p.registry.clone(),
        };
        let Value::Object(top) = serde_json::to_value(&head).map_err(S::Error::custom)? else {
            return Err(S::Error::custom("a plan serialises as an object"));
        };
        let mut map = s.serialize_map(Some(top.len()))?;
        for (key, value) in &top {
            match key.as_str() {
                "changes" => map.serialize_entry(key, &self.1)?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

pub fn parse(path: &str, text: &str) -> Result<Plan, PlanFileError> {
    let v: Value = serde_json::from_str(text).map_err(|e| PlanFileError::Invalid {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let version = v
        .get("format_version")
        .and_then(Value::as_u64)
        .ok_or_else(|| PlanFileError::Invalid {
            path: path.into(),
            reason: "no `format_version`".into(),
        })?;
    if version > FORMAT_VERSION as u64 {
        return Err(PlanFileError::TooNew {
            path: path.into(),
            found: version,
        });
    }
    serde_json::from_value(v).map_err(|e| PlanFileError::Invalid {
        path: path.into(),
        reason: e.to_string(),
    })
}

pub fn read(path: &std::path::Path) -> Result<Plan, PlanFileError> {
    let shown = crate::support::paths::display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| PlanFileError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    parse(&shown, &text)
}

/// What differs between a committed plan and a fresh one, in words: first
/// what the plan was made against ([`stale_reasons`]), then the plan itself.
pub fn differences(committed: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = stale_reasons(committed, fresh);
    out.extend(plan_differences(committed, fresh));
    // The serials are shown, not compared: a day-2 write that leaves the
    // deployed part of the state alone keeps the file current.
    let mut same_serials = fresh.clone();
    if !committed.prior_state.deployed.is_empty() {
        same_serials.prior_state.serial = committed.prior_state.serial;
    }
    if !committed.prior_state.global_deployed.is_empty() {
        same_serials.prior_state.global_serial = committed.prior_state.global_serial;
    }
    if out.is_empty() && to_json(committed) != to_json(&same_serials) {
        out.push(
            "the file is not in canonical form (regenerate it with `compartment plan --out`)"
                .into(),
        );
    }
    out
}

/// Why a plan file no longer describes what it was made against: another
/// project or environment, a state that moved on, a changed input file.
pub fn stale_reasons(committed: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if committed.engine != fresh.engine {
        let name = |e: &Option<String>| e.clone().unwrap_or_else(|| "the default engine".into());
        out.push(format!(
            "the engine changed: the file was planned for {}, this run is for {}",
            name(&committed.engine),
            name(&fresh.engine)
        ));
    }
    if committed.orchestrator != fresh.orchestrator || committed.registry != fresh.registry {
        let name = |o: &Option<String>, r: &Option<String>| match (o, r) {
            (None, _) => "plain containers on one engine".to_string(),
            (Some(o), Some(r)) => format!("a {o} (registry {r})"),
            (Some(o), None) => format!("a {o}"),
        };
        out.push(format!(
            "the orchestrator changed: the file was planned for {}, this run is for {}",
            name(&committed.orchestrator, &committed.registry),
            name(&fresh.orchestrator, &fresh.registry)
        ));
    }
    let (a, b) = (&committed.prior_state, &fresh.prior_state);
    let serial = |s: Option<u64>| s.map_or("none".to_string(), |s| s.to_string());
    if a.global_deployed.is_empty() && a.global_serial != b.global_serial
        || !a.global_deployed.is_empty() && a.global_deployed != b.global_deployed
    {
        out.push(format!(
            "the project-wide state (global instances) changed: the file was planned against serial {}, it is now at serial {}",
            serial(a.global_serial),
            serial(b.global_serial)
        ));
    }
    if a.lineage != b.lineage || a.deployed.is_empty() && a.serial != b.serial {
        out.push(format!(
            "the state changed: the file was planned against serial {} (lineage {}), the state is now at serial {} (lineage {})",
            a.serial,
            a.lineage.as_deref().unwrap_or("none"),
            b.serial,
            b.lineage.as_deref().unwrap_or("none")
        ));
    } else if !a.deployed.is_empty() && a.deployed != b.deployed {
        let parts: Vec<&str> = a
            .deployed
            .keys()
            .chain(b.deployed.keys())
            .filter(|k| a.deployed.get(*k) != b.deployed.get(*k))
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        out.push(format!(
            "the state changed: its {} differ from what the file was planned against (serial {}, now {})",
            parts.join(", "),
            a.serial,
            b.serial
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        committed.inputs.keys().chain(fresh.inputs.keys()).collect();
    for n in names {
        match (committed.inputs.get(n), fresh.inputs.get(n)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("input {n} changed since the plan was made"))
            }
            (Some(_), None) => out.push(format!("input {n} no longer exists")),
            (None, Some(_)) => out.push(format!("input {n} is new since the plan was made")),
            _ => {}
        }
    }
    if committed.project != fresh.project || committed.environment != fresh.environment {
        out.push(format!(
            "the plan is for {}/{}, not {}/{}",
            committed.project, committed.environment, fresh.project, fresh.environment
        ));
    }
    out
}

/// How the changes, blockers and warnings of two plans differ.
fn plan_differences(committed: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let by_addr = |p: &Plan| {
        p.changes
            .iter()
            .map(|c| {
                (
                    c.address.clone(),
                    serde_json::to_value(c).expect("serialises"),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (by_addr(committed), by_addr(fresh));
    let addrs: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for addr in addrs {
        match (a.get(addr), b.get(addr)) {
            (Some(x), Some(y)) if x != y => out.push(format!("the change to {addr} differs")),
            (Some(_), None) => out.push(format!("{addr} is no longer in the plan")),
            (None, Some(_)) => out.push(format!("{addr} is new in the plan")),
            _ => {}
        }
    }
    if committed.mode != fresh.mode {
        out.push("the plan's mode differs (apply, destroy, rollback)".into());
    }
    if committed.teardown != fresh.teardown {
        out.push("what the destroy removes after its nodes differs".into());
    }
    if committed.blocked != fresh.blocked {
        out.push("the blocked changes differ".into());
    }
    if committed.warnings != fresh.warnings {
        out.push("the warnings differ".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PriorState, Summary};

    fn plan(serial: u64, global: Option<u64>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            project: "p".into(),
            environment: "e".into(),
            prior_state: PriorState {
                lineage: Some("l".into()),
                serial,
                global_serial: global,
                deployed: Default::default(),
                global_deployed: Default::default(),
            },
            inputs: Default::default(),
            changes: vec![],
            blocked: vec![],
            warnings: vec![],
            summary: Summary::default(),
            mode: Default::default(),
            teardown: None,
            targets: vec![],
            engine: None,
            orchestrator: None,
            registry: None,
        }
    }

    #[test]
    fn the_streamed_json_is_the_sorted_json_of_the_whole_plan() {
        use crate::plan::planner::new_change;
        use crate::plan::{Action, FieldChange, Kind, Mode, Teardown};
        let mut p = plan(3, Some(1));
        let mut ch = new_change("resource.db", Kind::Resource, "db", Action::Delete);
        ch.reason = Some("destroy".into());
        ch.volumes.insert("v".into(), "keep".into());
        ch.diff.push(FieldChange {
            path: "image".into(),
            before: Some(serde_json::json!({"z": 1, "a": [2, {"y": 3, "b": 4}]})),
            after: None,
            sensitive: false,
            forces_replacement: true,
            unchanged: false,
        });
        // Every field set, so that each key's place is compared.
        let mut full = new_change("service.api", Kind::Service, "api", Action::Replace);
        full.depends_on = vec!["resource.db".into()];
        full.reason = Some("image".into());
        full.diff.push(FieldChange {
            path: "env.KEY".into(),
            before: Some(serde_json::json!("a")),
            after: Some(serde_json::json!({"k": [1], "b": null})),
            sensitive: true,
            forces_replacement: true,
            unchanged: true,
        });
        full.generated.insert("KEY".into(), "keep".into());
        full.connections = vec!["api.URL ← db.url".into()];
        full.hooks.push(crate::plan::Hook {
            operation: "create".into(),
            method: "POST".into(),
            path: "/h".into(),
            service: "api".into(),
        });
        full.global = true;
        full.volumes.insert("v".into(), "delete".into());
        full.role = Some("Owner".into());
        full.release = Some(crate::plan::ReleaseRef {
            image: "i".into(),
            context_hash: "c".into(),
            applied_at: Some("t".into()),
        });
        full.prune_images = vec!["old".into()];
        full.container = Some("c1".into());
        full.node = Some("n1".into());
        p.changes = vec![ch.clone(), full, ch];
        p.mode = Mode::Destroy { delete_data: true };
        p.teardown = Some(Teardown {
            network: Some("n".into()),
            images: vec!["i".into()],
        });
        p.targets = vec!["resource.db".into()];
        p.engine = Some("tcp://h:2375".into());
        p.orchestrator = Some("swarm".into());
        p.registry = Some("h:5000".into());
        let whole = serde_json::to_value(&p).unwrap();
        let want = format!("{}\n", serde_json::to_string_pretty(&whole).unwrap());
        assert_eq!(to_json(&p), want);
        assert_eq!(to_json(&plan(1, None)), {
            let v = serde_json::to_value(plan(1, None)).unwrap();
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap())
        });
        // Large plans, their blocks written on two threads: every count
        // around the blocks' edges, and enough blocks for the buffers
        // written to come back and be filled again.
        let three = p.changes.clone();
        for n in [
            2 * BLOCK - 1,
            2 * BLOCK,
            2 * BLOCK + 1,
            3 * BLOCK,
            5 * BLOCK - 7,
            12 * BLOCK + 3,
        ] {
            p.changes = three.iter().cycle().take(n).cloned().collect();
            let whole = serde_json::to_value(&p).unwrap();
            let want = format!("{}\n", serde_json::to_string_pretty(&whole).unwrap());
            assert!(to_json(&p) == want, "{n} changes");
        }
    }

    #[test]
    fn a_writer_that_fails_stops_a_large_plan_without_hanging() {
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut p = plan(1, None);
        let ch = crate::plan::planner::new_change(
            "resource.db",
            crate::plan::Kind::Resource,
            "db",
            crate::plan::Action::Create,
        );
        p.changes = vec![ch; 10 * BLOCK];
        let e = write_json(&p, Closed).unwrap_err();
        assert!(e.to_string().contains("roken pipe"), "{e}");
    }

    #[test]
    fn a_plan_for_another_orchestrator_or_registry_is_stale() {
        let swarm = |registry: &str| {
            let mut p = plan(3, None);
            p.orchestrator = Some("swarm".into());
            p.registry = Some(registry.into());
            p
        };
        assert!(stale_reasons(&swarm("h:5000"), &swarm("h:5000")).is_empty());
        assert_eq!(
            stale_reasons(&swarm("h:5000"), &swarm("h:5000/other")),
            ["the orchestrator changed: the file was planned for a swarm (registry h:5000), this run is for a swarm (registry h:5000/other)"]
        );
        assert_eq!(
            stale_reasons(&swarm("h:5000"), &plan(3, None)),
            ["the orchestrator changed: the file was planned for a swarm (registry h:5000), this run is for plain containers on one engine"]
        );
    }

    #[test]
    fn state_changes_are_named_precisely() {
        assert!(differences(&plan(3, Some(1)), &plan(3, Some(1))).is_empty());
        assert_eq!(
            differences(&plan(3, Some(1)), &plan(3, Some(2))),
            ["the project-wide state (global instances) changed: the file was planned against serial 1, it is now at serial 2"]
        );
        assert_eq!(
            differences(&plan(3, None), &plan(4, None)),
            ["the state changed: the file was planned against serial 3 (lineage l), the state is now at serial 4 (lineage l)"]
        );
    }
}
