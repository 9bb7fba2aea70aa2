//! Cross-checks over the whole decoded project: references between
//! resources, services, outputs, resource types and instances, and the rules
//! the seeds state (no env key shadowing a generated variable, no connection
//! selected at build time, ...).

use super::decode::LocIndex;
use super::model::*;
use super::template;
use crate::diagnostics::{suggest, Diagnostic, Loc};
use crate::platz::model::ResourceType;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub struct Checker<'a> {
    pub locs: &'a LocIndex,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        code: &'static str,
        path: &str,
        loc: Option<Loc>,
        message: String,
        help: String,
    ) {
        let loc = loc.or_else(|| self.locs.nearest(path));
        self.diagnostics
            .push(Diagnostic::error(code, loc, path, message).with_help(help));
    }

    fn warning(&mut self, code: &'static str, path: &str, message: String, help: String) {
        let loc = self.locs.nearest(path);
        self.diagnostics
            .push(Diagnostic::warning(code, loc, path, message).with_help(help));
    }

    pub fn resources(&mut self, c: &Compartment) {
        for (name, r) in &c.resources {
            let base = format!("resources.{name}");
            for key in r.env.keys() {
                if r.generated_variables.contains_key(key) {
                    let path = format!("{base}.env.{key}");
                    self.error(
                        "env-shadows-generated",
                        &path,
                        self.locs.key(&path),
                        format!("`{key}` is both a literal env key and a generated variable of resource `{name}`"),
                        format!("remove `env.{key}`: the generated value is injected under that name"),
                    );
                }
            }
            let keys: BTreeSet<&str> = r
                .env
                .keys()
                .chain(r.generated_variables.keys())
                .map(String::as_str)
                .collect();
            let preset_loc = r
                .preset
                .as_ref()
                .and_then(|_| self.locs.key(&format!("{base}.preset")));
            for (out, o) in &r.outputs {
                let path = format!("{base}.outputs.{out}.value");
                match template::parse(&o.value) {
                    Err(e) => {
                        let loc = self.locs.value(&path).map(|mut l| {
                            // The position is the token's; a quoted token starts one column early.
                            let quoted = u32::from(l.len as usize == o.value.chars().count() + 2);
                            l.col += e.offset as u32 + quoted;
                            l.len = 2;
                            l
                        });
                        self.error(
                            "invalid-placeholder",
                            &path,
                            loc.or(preset_loc),
                            e.message,
                            e.help,
                        );
                    }
                    Ok(_) => {
                        for k in template::env_keys(&o.value) {
                            if !keys.contains(k.as_str()) {
                                let help = match suggest(&k, keys.iter().copied()) {
                                    Some(s) => format!("did you mean `${{env.{s}}}`?"),
                                    None => format!("declare `{k}` under resources.{name}.env or resources.{name}.generatedVariables"),
                                };
                                self.error("unknown-env-key", &path, self.locs.value(&path).or(preset_loc), format!("output `{out}` reads `${{env.{k}}}`, but resource `{name}` has no env key `{k}`"), help);
                            }
                        }
                    }
                }
            }
            if let Some(rd) = &r.readiness {
                if !r.ports.is_empty() && !r.ports.contains(&rd.port) {
                    self.warning(
                        "readiness-port",
                        &format!("{base}.readiness.port"),
                        format!(
                            "readiness waits on port {} which is not among the ports of `{name}`",
                            rd.port
                        ),
                        format!(
                            "add {} to resources.{name}.ports, or wait on a declared port",
                            rd.port
                        ),
                    );
                }
            }
        }
    }

    pub fn services(&mut self, c: &Compartment, root: &Path) {
        for (name, s) in &c.services {
            let base = format!("services.{name}");
            let dir = root.join(&s.path);
            if !s.path.is_empty() && !dir.is_dir() {
                let path = format!("{base}.path");
                self.error(
                    "missing-path",
                    &path,
                    self.locs.value(&path),
                    format!("service `{name}` path `{}` is not a directory", s.path),
                    "create the directory or fix the path (relative to compartment.yml)".into(),
                );
            } else if !s.path.is_empty() && !dir.join("Dockerfile").is_file() {
                let path = format!("{base}.path");
                self.error(
                    "missing-dockerfile",
                    &path,
                    self.locs.value(&path),
                    format!("service `{name}` has no Dockerfile in `{}`", s.path),
                    format!(
                        "add {}/Dockerfile: services are built from it",
                        s.path.trim_end_matches('/')
                    ),
                );
            }
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for (res, conn) in &s.connections {
                let cpath = format!("{base}.connections.{res}");
                let Some(r) = c.resources.get(res) else {
                    let help = match suggest(res, c.resources.keys().map(String::as_str)) {
                        Some(x) => format!("did you mean `{x}`?"),
                        None => "connect to a resource declared under `resources`".into(),
                    };
                    self.error(
                        "unknown-resource",
                        &cpath,
                        self.locs.key(&cpath),
                        format!("service `{name}` connects to unknown resource `{res}`"),
                        help,
                    );
                    continue;
                };
                for (var, out) in &conn.env {
                    let vpath = format!("{cpath}.env.{var}");
                    if !r.outputs.contains_key(out) {
                        let help = match suggest(out, r.outputs.keys().map(String::as_str)) {
                            Some(x) => format!("did you mean `{x}`?"),
                            None if r.outputs.is_empty() => format!("resource `{res}` declares no outputs: add them under resources.{res}.outputs"),
                            None => format!("outputs of `{res}`: {}", r.outputs.keys().cloned().collect::<Vec<_>>().join(", ")),
                        };
                        self.error(
                            "unknown-output",
                            &vpath,
                            self.locs.value(&vpath),
                            format!("resource `{res}` has no output `{out}`"),
                            help,
                        );
                    }
                    if let Some(other) = seen.insert(var, res) {
                        self.error(
                            "connection-conflict",
                            &vpath,
                            self.locs.key(&vpath),
                            format!("`{var}` of service `{name}` is bound to both `{other}` and `{res}`"),
                            "a runtime variable has one source: remove one of the connections".into(),
                        );
                    }
                    if s.build.env.contains_key(var) {
                        let bpath = format!("{base}.build.env.{var}");
                        self.error(
                            "connection-in-build",
                            &bpath,
                            self.locs.key(&bpath),
                            format!("`{var}` is a connection (runtime variable) of service `{name}` and cannot be selected in build.env"),
                            format!("remove `{var}` from build.env: connections are resolved when the container starts, not at build time"),
                        );
                    }
                }
            }
        }
    }

    pub fn types(
        &mut self,
        c: &Compartment,
        types: &BTreeMap<String, ResourceType>,
        type_locs: &BTreeMap<String, (LocIndex, String)>,
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
                        let path = format!("{prefix}.spec.values_ui.inputs");
                        let loc = locs.nearest(&path);
                        let help = match suggest(&f.key, keys.iter().map(|(_, k)| *k)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "name the key of a resource type declared by some service's platz/resources.yaml".into(),
                        };
                        self.diagnostics.push(
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
                let path = format!("{prefix}.spec.lifecycle");
                let loc = locs.nearest(&path);
                self.diagnostics.push(
                    Diagnostic::error("hook-without-ingress", loc, &path, format!("`{id}` has lifecycle hooks but service `{}` declares no standard ingress", t.owner))
                        .with_help(format!("add `ingress: {{ port: <port> }}` to services.{} in compartment.yml, or remove the hook targets", t.owner)),
                );
            }
            if t.global {
                let path = format!("{prefix}.spec.global");
                self.diagnostics.push(
                    Diagnostic::warning("global-type", locs.nearest(&path), &path, format!("resource type `{id}` is global: its instances are shared by every environment"))
                        .with_help("global types break environment isolation; keep `global: false` unless the concept really spans environments"),
                );
            }
        }
    }
}
