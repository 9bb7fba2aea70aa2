//! The planner: desired configuration + state (+ drift) → a plan. Pure and
//! fast: no I/O, no Docker. Decides create / update / replace / delete /
//! no-op per object, with field-level diffs, blockers, generated-variable
//! and connection notes, hooks, and a dependency order from `graph`.
//!
//! Update or replace:
//! - resource: a new `image` (or `preset`) replaces the container; any other
//!   change (env, command, ports, volumes added, readiness, restart, outputs,
//!   operations, a regenerated variable) is an update, which recreates the
//!   container only when its runtime configuration changed. Volumes are kept
//!   by both; a changed mount path of an existing volume handle is blocked.
//! - service: a changed build context or build env replaces (new image);
//!   runtime changes (connections, ingress) update.
//! - instance: a changed type replaces (delete hook of the old type, then
//!   create hook of the new one); changed values or properties update
//!   (update hook, when the type declares one).
//!
//! A replaced resource keeps its named volumes: only the container is
//! recreated. Removing a resource from compartment.yml never deletes it (a
//! blocker); removing a service deletes its container; removing an instance
//! deletes it (delete hook); an instance whose type vanished is orphaned:
//! kept, with a warning.

use super::*;
use crate::graph::Graph;
use crate::project::Project;
use crate::state::State;
use serde_json::json;
use std::collections::BTreeSet;

/// What `plan --refresh` (and apply) learned from the engine.
#[derive(Clone, Debug, Default)]
pub struct Drift {
    /// Addresses whose container is gone.
    pub missing_containers: BTreeSet<String>,
    /// Address → what differs from the applied definition.
    pub changed_containers: BTreeMap<String, String>,
    /// Address → Docker volume names that are gone.
    pub missing_volumes: BTreeMap<String, Vec<String>>,
}

pub struct Input<'a> {
    pub project: &'a Project,
    pub environment: &'a str,
    pub state: &'a State,
    /// The project-wide state of global instances.
    pub global: Option<&'a State>,
    pub drift: &'a Drift,
}

/// A plan that cannot be ordered: every cycle, each with all its members.
#[derive(Debug)]
pub struct CycleError(pub Vec<Vec<String>>);

impl std::fmt::Display for CycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cycles: Vec<String> = self.0.iter().map(|c| c.join(" → ")).collect();
        write!(f, "the dependency graph has a cycle: {}", cycles.join("; "))
    }
}

/// Leaves of `before` and `after` that differ, by dotted path. Arrays and
/// scalars are leaves.
pub fn diff_values(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(&p, b.get(k), a.get(k), out);
            }
        }
        (b, a) if b == a => {}
        (b, a) => out.push(FieldChange {
            path: path.to_string(),
            before: b.cloned(),
            after: a.cloned(),
            sensitive: false,
            forces_replacement: false,
        }),
    }
}

fn service_view(def: &crate::descriptor::model::ServiceDef, context_hash: &str) -> Value {
    let mut v = serde_json::to_value(def).expect("serialises");
    v["contextHash"] = json!(context_hash);
    v
}

fn instance_view(
    type_id: &str,
    values: &serde_json::Map<String, Value>,
    properties: &serde_json::Map<String, Value>,
) -> Value {
    json!({"type": type_id, "values": values, "properties": properties})
}

const MASK: &str = "(sensitive)";

pub fn plan(input: &Input) -> Result<Plan, CycleError> {
    let p = input.project;
    let c = &p.compartment;
    let st = input.state;
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    let mut blocked = Vec::new();
    let mut warnings = Vec::new();
    let mut desired_deps: BTreeMap<String, Vec<String>> = BTreeMap::new();

    let new_change = |address: &str, kind: Kind, name: &str, action: Action| Change {
        address: address.into(),
        action,
        depends_on: Vec::new(),
        kind,
        name: name.into(),
        reason: None,
        diff: Vec::new(),
        generated: BTreeMap::new(),
        connections: Vec::new(),
        hooks: Vec::new(),
        global: false,
    };

    // Resources.
    for (name, def) in &c.resources {
        let address = format!("resource.{name}");
        let after = serde_json::to_value(def).expect("serialises");
        let prior = st.resources.get(name);
        let mut ch = new_change(&address, Kind::Resource, name, Action::Create);
        if let Some(prior) = prior {
            let before = serde_json::to_value(&prior.definition).expect("serialises");
            diff_values("", Some(&before), Some(&after), &mut ch.diff);
            for f in &mut ch.diff {
                f.forces_replacement = f.path == "image" || f.path == "preset";
            }
            ch.action = action_of(&ch.diff);
            ch.reason = ch
                .diff
                .iter()
                .find(|f| f.forces_replacement)
                .or(ch.diff.first())
                .map(|f| format!("`{}` changed", f.path));
            if ch.action == Action::Replace && !prior.definition.volumes.is_empty() {
                if let Some(r) = &mut ch.reason {
                    let handles: Vec<&str> = prior
                        .definition
                        .volumes
                        .keys()
                        .map(String::as_str)
                        .collect();
                    r.push_str(&format!("; volume data is kept ({})", handles.join(", ")));
                }
            }
            for (handle, path) in &def.volumes {
                if let Some(old) = prior.definition.volumes.get(handle) {
                    if old != path {
                        blocked.push(Blocker {
                            address: address.clone(),
                            reason: "volume-path".into(),
                            message: format!("the mount path of volume `{handle}` of resource `{name}` changed from `{old}` to `{path}`"),
                            help: Some(format!("changing where existing data is mounted is blocked: declare a new volume handle and migrate the data, or delete the resource (`compartment resource delete --resource {name} --delete-data`) when the data is no longer needed")),
                        });
                    }
                }
            }
            if let Some(missing) = input.drift.missing_volumes.get(&address) {
                warnings.push(Warning {
                    address: address.clone(),
                    reason: "volume-missing".into(),
                    message: format!("POSSIBLE DATA LOSS: volume(s) {} of resource `{name}` no longer exist in the engine; apply will create them empty", missing.join(", ")),
                });
            }
        }
        let vars = st.variables.resource.get(name);
        for key in def.generated_variables.keys() {
            // Regenerate only what was generated before: a generated
            // variable new to an existing resource is generated.
            let was_generated =
                prior.is_some_and(|pr| pr.definition.generated_variables.contains_key(key));
            let word = match (vars.and_then(|v| v.get(key)), was_generated) {
                (Some(_), _) => "keep",
                (None, true) => "regenerate",
                (None, false) => "generate",
            };
            ch.generated.insert(key.clone(), word.into());
        }
        if let Some(applied) = prior.and_then(|r| r.applied_variables.as_ref()) {
            let now = crate::state::variables_digest(&st.variables.resource, name, None);
            if ch.action == Action::NoOp && *applied != now {
                ch.action = Action::Update;
                ch.reason = Some("its runtime variables changed (variable set/remove)".into());
            }
        }
        if ch.action == Action::NoOp {
            if let Some(k) = ch
                .generated
                .iter()
                .find(|(_, w)| *w == "regenerate")
                .map(|(k, _)| k.clone())
            {
                ch.action = Action::Update;
                ch.reason = Some(format!(
                    "generated variable `{k}` was removed and will be regenerated"
                ));
            }
        }
        drift_action(&mut ch, input.drift, &mut warnings);
        changes.insert(address.clone(), ch);
        desired_deps.insert(address, Vec::new());
    }
    for (name, prior) in &st.resources {
        if c.resources.contains_key(name) {
            continue;
        }
        let address = format!("resource.{name}");
        let renamed_to = c
            .resources
            .iter()
            .find(|(n, d)| {
                !st.resources.contains_key(*n)
                    && d.image == prior.definition.image
                    && d.volumes == prior.definition.volumes
            })
            .map(|(n, _)| n.clone());
        let (reason, message, help) = match (&renamed_to, prior.origin) {
            (Some(new), _) => (
                "rename",
                format!("resource `{name}` is no longer declared and `{new}` is new with the same image and volumes: this looks like a rename"),
                format!("a rename deletes `{name}` (and, with --delete-data, its data) and creates `{new}` empty: migrate the data first (e.g. `compartment resource backup create --resource {name}` then restore it into `{new}`), then run `compartment resource delete --resource {name} [--delete-data]`; or keep the old name in compartment.yml"),
            ),
            (None, crate::state::Origin::Restore) => (
                "undeclared",
                format!("resource `{name}` was created by `resource backup restore --as` and is not declared in compartment.yml"),
                format!("declare `{name}` under `resources` in compartment.yml, or delete it: `compartment resource delete --resource {name} [--delete-data]`"),
            ),
            (None, _) => (
                "undeclared",
                format!("resource `{name}` exists but compartment.yml no longer declares it; removing it from the file does not delete it"),
                format!("declare it again, or delete it explicitly: `compartment resource delete --resource {name}` (keeps its volumes) or add `--delete-data` to remove its data too"),
            ),
        };
        blocked.push(Blocker {
            address,
            reason: reason.into(),
            message,
            help: Some(help),
        });
    }

    // Services.
    for (name, def) in &c.services {
        let address = format!("service.{name}");
        let context = p.contexts.get(name).cloned().unwrap_or_default();
        let after = service_view(def, &context);
        let mut ch = new_change(&address, Kind::Service, name, Action::Create);
        if let Some(prior) = st.services.get(name) {
            let before = service_view(&prior.definition, &prior.context_hash);
            diff_values("", Some(&before), Some(&after), &mut ch.diff);
            for f in &mut ch.diff {
                f.forces_replacement =
                    f.path == "contextHash" || f.path.starts_with("build") || f.path == "path";
            }
            ch.action = action_of(&ch.diff);
            ch.reason = ch
                .diff
                .iter()
                .find(|f| f.forces_replacement)
                .or(ch.diff.first())
                .map(|f| match f.path.as_str() {
                    "contextHash" => {
                        "the build context changed (image will be rebuilt)".to_string()
                    }
                    p => format!("`{p}` changed"),
                });
        }
        let mut deps = BTreeSet::new();
        for (res, conn) in &def.connections {
            deps.insert(format!("resource.{res}"));
            for (var, out) in &conn.env {
                ch.connections.push(format!("{name}.{var} ← {res}.{out}"));
            }
        }
        let bindings = st.bindings.get(name);
        for (var, b) in bindings.into_iter().flatten() {
            ch.connections.push(format!(
                "{name}.{var} ← {}.{} (variable binding)",
                b.resource, b.output
            ));
            if c.resources.contains_key(&b.resource) {
                deps.insert(format!("resource.{}", b.resource));
            }
            if let Some((res, out)) = def
                .connections
                .iter()
                .find_map(|(r, conn)| conn.env.get(var).map(|o| (r, o)))
            {
                if (res, out) != (&b.resource, &b.output) {
                    blocked.push(Blocker {
                        address: address.clone(),
                        reason: "connection-conflict".into(),
                        message: format!("`{name}.{var}` is connected to `{res}.{out}` in compartment.yml but bound to `{}.{}` by `variable set --from-resource`", b.resource, b.output),
                        help: Some(format!("keep one source: `compartment variable remove {var} --service {name}`, or drop the connection from compartment.yml")),
                    });
                }
            }
            if def.build.env.contains_key(var) {
                blocked.push(Blocker {
                    address: address.clone(),
                    reason: "binding-in-build".into(),
                    message: format!("`{var}` is a resource-output binding of service `{name}` and cannot be selected in build.env"),
                    help: Some(format!("remove `{var}` from services.{name}.build.env: bindings are resolved when the container starts")),
                });
            }
        }
        for (var, _) in st.variables.service.get(name).into_iter().flatten() {
            let bound = bindings
                .and_then(|b| b.get(var))
                .map(|b| format!("`{}.{}` (variable binding)", b.resource, b.output));
            let connected = def.connections.iter().find_map(|(r, conn)| {
                conn.env
                    .get(var)
                    .map(|o| format!("`{r}.{o}` (connection in compartment.yml)"))
            });
            if let Some(source) = bound.or(connected) {
                blocked.push(Blocker {
                    address: address.clone(),
                    reason: "binding-conflict".into(),
                    message: format!("`{name}.{var}` is set directly and also bound to {source}: compartment does not pick a winner"),
                    help: Some(format!("remove one: `compartment variable remove {var} --service {name}` removes the direct value")),
                });
            }
        }
        ch.connections.sort();
        if let Some(applied) = st
            .services
            .get(name)
            .and_then(|s| s.applied_variables.as_ref())
        {
            let now =
                crate::state::variables_digest(&st.variables.service, name, st.bindings.get(name));
            if ch.action == Action::NoOp && *applied != now {
                ch.action = Action::Update;
                ch.reason = Some("its runtime variables or bindings changed".into());
            }
        }
        drift_action(&mut ch, input.drift, &mut warnings);
        changes.insert(address.clone(), ch);
        desired_deps.insert(address, deps.into_iter().collect());
    }
    for (name, prior) in &st.services {
        if !c.services.contains_key(name) {
            let address = format!("service.{name}");
            let mut ch = new_change(&address, Kind::Service, name, Action::Delete);
            ch.reason = Some("no longer declared in compartment.yml".into());
            changes.insert(address.clone(), ch);
            let _ = prior;
        }
    }

    // Instances (environment and global).
    let empty = State::default();
    let global_state = input.global.unwrap_or(&empty);
    for (name, inst) in &p.instances {
        let address = format!("instance.{name}");
        let prior_state = if inst.global { global_state } else { st };
        let prior = prior_state.instances.get(name);
        let mut ch = new_change(&address, Kind::Instance, name, Action::Create);
        ch.global = inst.global;
        let (stored_values, stored_properties) = crate::platz::instances::stored_form(
            &inst.values,
            &inst.properties,
            &inst.sensitive_inputs,
        );
        let after = instance_view(&inst.type_id, &stored_values, &stored_properties);
        let sensitive_values: Vec<&Value> = inst
            .sensitive_inputs
            .iter()
            .filter_map(|i| stored_values.get(i))
            .collect();
        let op = match prior {
            None => "create",
            Some(prior) => {
                let before = instance_view(&prior.type_id, &prior.values, &prior.properties);
                diff_values("", Some(&before), Some(&after), &mut ch.diff);
                let prior_sensitive: Vec<&Value> = prior
                    .sensitive_inputs
                    .iter()
                    .filter_map(|i| prior.values.get(i))
                    .collect();
                for f in &mut ch.diff {
                    f.forces_replacement = f.path == "type";
                    let input_id = f
                        .path
                        .strip_prefix("values.")
                        .map(|s| s.split('.').next().unwrap_or(s));
                    let secret = input_id.is_some_and(|i| {
                        inst.sensitive_inputs.contains(i) || prior.sensitive_inputs.contains(i)
                    }) || f
                        .before
                        .as_ref()
                        .is_some_and(|v| prior_sensitive.contains(&v))
                        || f.after
                            .as_ref()
                            .is_some_and(|v| sensitive_values.contains(&v));
                    if secret {
                        f.sensitive = true;
                        f.before = f.before.as_ref().map(|_| json!(MASK));
                        f.after = f.after.as_ref().map(|_| json!(MASK));
                    }
                }
                ch.action = action_of(&ch.diff);
                // Values are the cause; properties follow from them.
                ch.reason = ch
                    .diff
                    .iter()
                    .find(|f| f.forces_replacement)
                    .or(ch.diff.iter().find(|f| f.path.starts_with("values.")))
                    .or(ch.diff.first())
                    .map(|f| format!("`{}` changed", f.path));
                "update"
            }
        };
        if let Some(t) = p.types.get(&inst.type_id) {
            let ops: Vec<&str> = match ch.action {
                Action::Create => vec!["create"],
                Action::Update => vec![op],
                Action::Replace => vec!["delete", "create"],
                _ => vec![],
            };
            for o in ops {
                // The delete hook is the old type's; a type that is gone
                // has none.
                let lt = if o == "delete" {
                    match prior.and_then(|pr| p.types.get(&pr.type_id)) {
                        Some(old) => old,
                        None => continue,
                    }
                } else {
                    t
                };
                if let Some(target) = lt.lifecycle.get(o).and_then(|l| l.target.as_ref()) {
                    ch.hooks.push(Hook {
                        operation: o.into(),
                        method: target.method.clone(),
                        path: target.path.clone(),
                        service: lt.owner.clone(),
                    });
                }
            }
        }
        let mut deps = vec![format!("service.{}", inst.owner)];
        deps.extend(inst.references.iter().map(|r| format!("instance.{r}")));
        changes.insert(address.clone(), ch);
        desired_deps.insert(address, deps);
    }
    for (state, global) in [(st, false), (global_state, true)] {
        for (name, prior) in &state.instances {
            let address = format!("instance.{name}");
            if !p.types.contains_key(&prior.type_id) && p.instances.contains_key(name) {
                // Re-declared with a type that exists: a replace (planned
                // above), without the vanished type's delete hook.
                warnings.push(Warning {
                    address: address.clone(),
                    reason: "type-removed".into(),
                    message: format!("the type `{}` of instance `{name}` is no longer declared: apply replaces it with a `{}` without calling a delete hook for the old one", prior.type_id, p.instances[name].type_id),
                });
                continue;
            }
            if !p.types.contains_key(&prior.type_id) {
                warnings.push(Warning {
                    address: address.clone(),
                    reason: "orphaned".into(),
                    message: format!("instance `{name}` is orphaned: its type `{}` is no longer declared by its owning service; it is kept, not deleted", prior.type_id),
                });
                changes.remove(&address);
                desired_deps.remove(&address);
                continue;
            }
            if p.instances.contains_key(name) {
                continue;
            }
            let mut ch = new_change(&address, Kind::Instance, name, Action::Delete);
            ch.global = global;
            ch.reason = Some("no longer declared in compartment.yml".into());
            if let Some(target) = p.types[&prior.type_id]
                .lifecycle
                .delete
                .as_ref()
                .and_then(|l| l.target.as_ref())
            {
                ch.hooks.push(Hook {
                    operation: "delete".into(),
                    method: target.method.clone(),
                    path: target.path.clone(),
                    service: p.types[&prior.type_id].owner.clone(),
                });
            }
            changes.insert(address, ch);
        }
    }

    // Order.
    let mut graph = Graph::new();
    for address in changes.keys() {
        graph.add_node(address);
    }
    for (address, deps) in &desired_deps {
        for d in deps {
            if changes.contains_key(d) {
                graph.add_dependency(address, d);
            }
        }
    }
    // Deletes run in reverse: a deleted object waits for the deletion of
    // everything that depended on it (and for the change of anything that
    // stops depending on it); a deleted instance waits for its owning
    // service, which receives the delete hook.
    let recorded = |address: &str| -> BTreeSet<String> {
        let (kind, name) = address.split_once('.').unwrap_or(("", ""));
        match kind {
            "resource" => st.resources.get(name).map(|r| r.depends_on.clone()),
            "service" => st.services.get(name).map(|s| s.depends_on.clone()),
            _ => st
                .instances
                .get(name)
                .or_else(|| global_state.instances.get(name))
                .map(|i| i.depends_on.clone()),
        }
        .unwrap_or_default()
    };
    let deleted = |a: &str| changes.get(a).is_some_and(|d| d.action == Action::Delete);
    for (address, ch) in &changes {
        let deps = recorded(address);
        if ch.action == Action::Delete {
            for dep in &deps {
                if deleted(dep) {
                    graph.add_dependency(dep, address);
                } else if ch.kind == Kind::Instance
                    && dep.starts_with("service.")
                    && changes.contains_key(dep)
                {
                    // The delete hook goes to the owning service: once it
                    // is up to date, never while it is being replaced.
                    graph.add_dependency(address, dep);
                }
            }
        } else {
            // Whatever stops depending on a deleted object changes first.
            for dep in &deps {
                if deleted(dep) {
                    graph.add_dependency(dep, address);
                }
            }
        }
    }
    let order = graph.topological_order().map_err(CycleError)?;
    let mut ordered = Vec::with_capacity(order.len());
    for address in order {
        let mut ch = changes.remove(&address).expect("node has a change");
        ch.depends_on = graph.dependencies(&address);
        ordered.push(ch);
    }

    let mut summary = Summary {
        blocked: blocked.len(),
        ..Summary::default()
    };
    for ch in &ordered {
        match ch.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => summary.no_op += 1,
        }
    }
    blocked.sort_by(|a, b| (&a.address, &a.reason).cmp(&(&b.address, &b.reason)));
    warnings.sort_by(|a, b| (&a.address, &a.reason).cmp(&(&b.address, &b.reason)));
    let has_prior = !st.is_new();
    Ok(Plan {
        format_version: FORMAT_VERSION,
        project: c.name.clone(),
        environment: input.environment.into(),
        prior_state: PriorState {
            lineage: has_prior.then(|| st.lineage.clone()),
            serial: st.serial,
            global_serial: input.global.filter(|g| !g.is_new()).map(|g| g.serial),
        },
        inputs: p.inputs.clone(),
        changes: ordered,
        blocked,
        warnings,
        summary,
    })
}

/// Replace when a field forcing replacement changed, update when anything
/// else did, no-op otherwise.
fn action_of(diff: &[FieldChange]) -> Action {
    if diff.iter().any(|f| f.forces_replacement) {
        Action::Replace
    } else if diff.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    }
}

/// Drift turns a no-op into an update (missing container: recreate) and is
/// reported.
fn drift_action(ch: &mut Change, drift: &Drift, warnings: &mut Vec<Warning>) {
    if drift.missing_containers.contains(&ch.address) && ch.action != Action::Create {
        warnings.push(Warning {
            address: ch.address.clone(),
            reason: "container-missing".into(),
            message: format!(
                "the container of `{}` is gone from the engine; apply recreates it",
                ch.address
            ),
        });
        if ch.action == Action::NoOp {
            ch.action = Action::Update;
            ch.reason = Some("container missing (drift): it will be recreated".into());
        }
    }
    if let Some(what) = drift.changed_containers.get(&ch.address) {
        warnings.push(Warning {
            address: ch.address.clone(),
            reason: "container-changed".into(),
            message: format!(
                "the container of `{}` differs from what was applied: {what}",
                ch.address
            ),
        });
        if ch.action == Action::NoOp {
            ch.action = Action::Update;
            ch.reason = Some(format!(
                "container changed outside compartment (drift): {what}"
            ));
        }
    }
}
