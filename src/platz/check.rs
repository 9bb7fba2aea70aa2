//! Cross-checks of the Platz resource types against the compartment that
//! declares their owners: collection inputs select declared types, hook
//! targets need an ingress, global types are flagged.

use super::model::ResourceType;
use crate::descriptor::model::Compartment;
use crate::diagnostics::{suggest, Diagnostic};
use crate::yaml::decode::LocIndex;
use std::collections::{BTreeMap, BTreeSet};

/// Checks every resource type; problems are appended to `diagnostics`.
pub fn types(
    c: &Compartment,
    types: &BTreeMap<String, ResourceType>,
    type_locs: &BTreeMap<String, (LocIndex, String)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let keys: BTreeSet<(&str, &str)> = types
        .values()
        .map(|t| (t.owner.as_str(), t.key.as_str()))
        .collect();
    for (id, t) in types {
        let (locs, prefix) = &type_locs[id];
        for input in &t.inputs {
            if let Some(f) = &input.collection {
                if !keys.iter().any(|(o, k)| f.matches(o, k)) {
                    let inputs = format!("{prefix}.spec.values_ui.inputs");
                    let ipath = locs
                        .alias(&format!("{inputs}#{}", input.id))
                        .unwrap_or(&inputs);
                    let cpath = format!("{ipath}.collection");
                    let (path, loc) = [
                        format!("{cpath}.DeploymentResources.filters.type"),
                        format!("{cpath}.type"),
                    ]
                    .into_iter()
                    .find_map(|p| locs.value(&p).map(|l| (p, l)))
                    .map(|(p, l)| (p, Some(l)))
                    .unwrap_or_else(|| (cpath.clone(), locs.nearest(&cpath)));
                    let help = match suggest(&f.key, keys.iter().map(|(_, k)| *k)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if keys.is_empty() => "name the key of a resource type declared in some service's platz/resources.yaml".into(),
                        None => format!(
                            "name the key of a resource type declared in some service's platz/resources.yaml; declared: {}",
                            keys.iter().map(|(o, k)| format!("{o}/{k}")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    diagnostics.push(
                        Diagnostic::error(
                            "unknown-type",
                            loc,
                            &path,
                            format!(
                                "input `{}` of `{id}` selects from unknown resource type `{}`",
                                input.id,
                                f.describe()
                            ),
                        )
                        .with_help(help),
                    );
                }
            }
        }
        let has_target = ["create", "update", "delete"]
            .iter()
            .any(|op| t.lifecycle.get(op).is_some_and(|o| o.target.is_some()));
        if has_target
            && c.services
                .get(&t.owner)
                .is_some_and(|s| s.ingress.is_none())
        {
            let op = ["create", "update", "delete"]
                .into_iter()
                .find(|op| t.lifecycle.get(op).is_some_and(|o| o.target.is_some()))
                .unwrap_or("create");
            let path = format!("{prefix}.spec.lifecycle.{op}.target");
            let loc = locs.nearest(&path);
            diagnostics.push(
                Diagnostic::error("hook-without-ingress", loc, &path, format!("`{id}` has a lifecycle hook target, but its owning service `{}` declares no standard ingress to call", t.owner))
                    .with_help(format!("add `ingress: {{ port: <port> }}` to services.{} in compartment.yml, or remove the hook targets", t.owner)),
            );
        }
        if t.global {
            let path = format!("{prefix}.spec.global");
            diagnostics.push(
                Diagnostic::warning("global-type", locs.value(&path).or_else(|| locs.nearest(&path)), &path, format!("resource type `{id}` is global: its instances are shared by every environment"))
                    .with_help("global types break environment isolation; keep `global: false` unless the concept really spans environments"),
            );
        }
    }
}
