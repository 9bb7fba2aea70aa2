//! Services: each declared one against its applied record (a changed build
//! context, build env or path replaces; runtime changes update), its
//! connections and variable bindings with their conflicts, runtime
//! variables and drift; an applied service no longer declared is deleted.

use super::{action_of, drift_action, first_reason, new_change, Draft, Input};
use crate::descriptor::model::ServiceDef;
use crate::plan::{Action, Blocker, Change, Kind};
use crate::state::ServiceConfig;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub(super) fn draft(input: &Input) -> Draft {
    let mut draft = Draft::default();
    let declared = &input.project.compartment.services;
    for (name, def) in declared {
        let address = format!("service.{name}");
        let (ch, deps) = service(input, name, def, &mut draft);
        if let Some(blocker) = replicas_off_swarm(input, name, def) {
            draft.blocked.push(blocker);
        }
        draft.changes.insert(address.clone(), ch);
        draft
            .desired_deps
            .insert(address, deps.into_iter().collect());
    }
    for name in input.state.services.keys() {
        if !declared.contains_key(name) {
            let address = format!("service.{name}");
            let mut ch = new_change(&address, Kind::Service, name, Action::Delete);
            ch.reason = Some("no longer declared in compartment.yml".into());
            draft.changes.insert(address, ch);
        }
    }
    draft
}

/// `replicas` above 1 in an environment on a plain engine, which runs one
/// container per service: refused rather than silently run as one.
fn replicas_off_swarm(input: &Input, name: &str, def: &ServiceDef) -> Option<Blocker> {
    let replicas = def.replicas.filter(|n| *n > 1)?;
    let swarm = input.project.compartment.on_swarm(input.environment);
    (!swarm).then(|| Blocker {
        address: format!("service.{name}"),
        reason: "replicas-need-swarm".into(),
        message: format!("service `{name}` declares `replicas: {replicas}`, but environment `{}` runs on a plain Docker engine, which runs one container per service", input.environment),
        help: Some(format!("run it on a swarm (`environments.{}.orchestrator: swarm` with a `registry`), or drop `replicas` (a plain engine runs 1)", input.environment)),
    })
}

/// What the plan compares for a service: its configuration and the hash
/// of its build context.
fn service_view(def: &ServiceConfig, context_hash: &str) -> Value {
    let mut v = serde_json::to_value(def).expect("serialises");
    v["contextHash"] = json!(context_hash);
    v
}

/// The change of one declared service, and its desired dependencies.
fn service(
    input: &Input,
    name: &str,
    def: &ServiceDef,
    draft: &mut Draft,
) -> (Change, BTreeSet<String>) {
    let st = input.state;
    let address = format!("service.{name}");
    let context = input
        .project
        .contexts
        .get(name)
        .cloned()
        .unwrap_or_default();
    let after = service_view(&ServiceConfig::from(def), &context);
    let mut ch = new_change(&address, Kind::Service, name, Action::Create);
    if let Some(prior) = st.services.get(name) {
        let before = service_view(&prior.applied.definition, &prior.context_hash);
        super::diff_values("", Some(&before), Some(&after), &mut ch.diff);
        for f in &mut ch.diff {
            f.forces_replacement =
                f.path == "contextHash" || f.path.starts_with("build") || f.path == "path";
        }
        ch.action = action_of(&ch.diff);
        ch.reason = first_reason(&ch.diff, |p| match p {
            "contextHash" => "the build context changed (image will be rebuilt)".to_string(),
            p => format!("`{p}` changed"),
        });
        let now = ServiceConfig::from(def);
        ch.prune_images =
            crate::state::releases::next(Some(prior), String::new(), &context, &now, "").1;
    }
    if let Some(recorded) = st.services.get(name).and_then(|s| s.inputs.as_ref()) {
        let now = super::inputs::service_inputs(input.project, input.environment, st, name);
        let own = ch.diff.len();
        let why = super::inputs::cascade(recorded, &now, &mut ch.diff);
        if own == 0 && why.is_some() {
            ch.action = Action::Update;
            ch.reason = why;
        }
    }
    let deps = connections(input, name, def, &mut ch, draft);
    direct_variable_conflicts(input, name, def, draft);
    ch.connections.sort();
    if let Some(applied) = st
        .services
        .get(name)
        .and_then(|s| s.applied.applied_variables.as_ref())
    {
        let hooks = input.project.receives_hooks(name);
        let now = crate::state::service_variables_digest(
            &st.variables.service,
            name,
            st.bindings.get(name),
            hooks,
        );
        let versions = st
            .services
            .get(name)
            .and_then(|s| s.applied.variable_versions.as_ref());
        let named = versions.filter(|_| *applied != now).and_then(|recorded| {
            let now =
                crate::state::variable_versions(&st.variables.service, name, st.bindings.get(name));
            super::variables::diff(recorded, &now, &mut ch.diff)
        });
        if ch.action == Action::NoOp && *applied != now {
            ch.action = Action::Update;
            let shared = hooks
                && *applied
                    == crate::state::variables_digest(
                        &st.variables.service,
                        name,
                        st.bindings.get(name),
                    );
            ch.reason = Some(match (shared, named) {
                (true, _) => "it receives hooks and gets a hook secret of its own (it had the environment's shared one)".into(),
                (false, Some(named)) => named,
                (false, None) => "its runtime variables or bindings changed".into(),
            });
        }
    }
    drift_action(&mut ch, input.drift, &mut draft.warnings);
    (ch, deps)
}

/// The connections of a service (from compartment.yml and from variable
/// bindings) noted on its change, the resources it depends on through
/// them, and the blockers of a binding that conflicts with a connection or
/// is selected in build.env.
fn connections(
    input: &Input,
    name: &str,
    def: &ServiceDef,
    ch: &mut Change,
    draft: &mut Draft,
) -> BTreeSet<String> {
    let address = &ch.address;
    let mut deps = BTreeSet::new();
    for (res, conn) in &def.connections {
        deps.insert(format!("resource.{res}"));
        for (var, out) in &conn.env {
            ch.connections.push(format!("{name}.{var} ← {res}.{out}"));
        }
    }
    for (var, b) in input.state.bindings.get(name).into_iter().flatten() {
        ch.connections.push(format!(
            "{name}.{var} ← {}.{} (variable binding)",
            b.resource, b.output
        ));
        if input
            .project
            .compartment
            .resources
            .contains_key(&b.resource)
        {
            deps.insert(format!("resource.{}", b.resource));
        }
        if let Some((res, out)) = def
            .connections
            .iter()
            .find_map(|(r, conn)| conn.env.get(var).map(|o| (r, o)))
        {
            if (res, out) != (&b.resource, &b.output) {
                draft.blocked.push(Blocker {
                    address: address.clone(),
                    reason: "connection-conflict".into(),
                    message: format!("`{name}.{var}` is connected to `{res}.{out}` in compartment.yml but bound to `{}.{}` by `variable set --from-resource`", b.resource, b.output),
                    help: Some(format!("keep one source: `compartment variable remove {var} --service {name}`, or drop the connection from compartment.yml")),
                });
            }
        }
        if def.build.env.contains_key(var) {
            draft.blocked.push(Blocker {
                address: address.clone(),
                reason: "binding-in-build".into(),
                message: format!("`{var}` is a resource-output binding of service `{name}` and cannot be selected in build.env"),
                help: Some(format!("remove `{var}` from services.{name}.build.env: bindings are resolved when the container starts")),
            });
        }
    }
    deps
}

/// Blockers for a runtime variable set directly on a service that is also
/// bound to a resource output or connected in compartment.yml, or that is
/// sensitive and selected in build.env.
fn direct_variable_conflicts(input: &Input, name: &str, def: &ServiceDef, draft: &mut Draft) {
    let st = input.state;
    let address = format!("service.{name}");
    let bindings = st.bindings.get(name);
    for (var, variable) in st.variables.service.get(name).into_iter().flatten() {
        if variable.sensitive && def.build.env.get(var) == Some(&None) {
            draft.blocked.push(Blocker {
                address: address.clone(),
                reason: "sensitive-in-build".into(),
                message: format!("`{name}.{var}` is a sensitive variable and is selected in services.{name}.build.env: build arguments are kept in the image, where `docker history` shows them"),
                help: Some(format!("remove `{var}` from services.{name}.build.env (the running container receives it), or set it without --sensitive if it is not a secret")),
            });
        }
        let bound = bindings
            .and_then(|b| b.get(var))
            .map(|b| format!("`{}.{}` (variable binding)", b.resource, b.output));
        let connected = def.connections.iter().find_map(|(r, conn)| {
            conn.env
                .get(var)
                .map(|o| format!("`{r}.{o}` (connection in compartment.yml)"))
        });
        if let Some(source) = bound.or(connected) {
            draft.blocked.push(Blocker {
                address: address.clone(),
                reason: "binding-conflict".into(),
                message: format!("`{name}.{var}` is set directly and also bound to {source}: compartment does not pick a winner"),
                help: Some(format!("remove one: `compartment variable remove {var} --service {name}` removes the direct value")),
            });
        }
    }
}
