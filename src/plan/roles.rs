//! The Platz role each instance change needs (`allowed_role` of its type's
//! lifecycle operation): `Owner` or `Maintainer`, noted on the change so
//! that the plan shows it and apply can refuse an actor who lacks it. A
//! replace is a delete of the old type and a create of the new one and
//! needs the stronger of the two; an operation the type does not declare
//! needs no role.

use super::planner::Input;
use super::{Action, Change, Kind, Plan};

/// The Platz roles, weakest first.
const ORDER: [&str; 2] = ["Maintainer", "Owner"];

/// Notes the required role on every instance change of `plan`.
pub fn annotate(plan: &mut Plan, input: &Input) {
    for ch in plan.changes.iter_mut().filter(|c| c.kind == Kind::Instance) {
        ch.role = required(ch, input);
    }
}

/// The role one instance change needs, if any.
fn required(ch: &Change, input: &Input) -> Option<String> {
    let desired = input.project.instances.get(&ch.name).map(|i| &i.type_id);
    let state = if ch.global {
        input.global
    } else {
        Some(input.state)
    };
    let prior = state
        .and_then(|s| s.instances.get(&ch.name))
        .map(|i| &i.type_id);
    let ops: Vec<(&str, Option<&String>)> = match ch.action {
        Action::Create => vec![("create", desired)],
        Action::Update => vec![("update", desired)],
        Action::Delete => vec![("delete", prior)],
        Action::Replace => vec![("delete", prior), ("create", desired)],
        Action::NoOp => vec![],
    };
    ops.into_iter()
        .filter_map(|(op, type_id)| {
            let t = input.project.types.get(type_id?)?;
            Some(t.lifecycle.get(op)?.allowed_role.clone())
        })
        .max_by_key(|r| ORDER.iter().position(|o| o == r))
}
