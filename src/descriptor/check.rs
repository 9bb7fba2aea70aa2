//! Cross-checks over the whole decoded project: references between
//! resources, services, outputs, resource types and instances, and the rules
//! the seeds state (no env key shadowing a generated variable, no connection
//! selected at build time, ...).

use super::model::*;
use super::template;
use crate::diagnostics::{suggest, Diagnostic, Loc, Sources};
use crate::yaml::decode::LocIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub struct Checker<'a> {
    pub locs: &'a LocIndex,
    pub diagnostics: &'a mut Vec<Diagnostic>,
    /// The loaded files, to point inside values (a placeholder in an output).
    pub sources: &'a Sources,
}

/// The position of `needle` written at or after `at` in its file: a part
/// of a scalar value, wherever the scalar's lines and quoting put it.
pub fn locate_in(sources: &Sources, at: Loc, needle: &str) -> Option<Loc> {
    let text = &sources.files().get(at.file)?.text;
    let mut start = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == at.line as usize {
            start += line
                .char_indices()
                .nth(at.col.saturating_sub(1) as usize)
                .map(|(b, _)| b)
                .unwrap_or(line.len());
            break;
        }
        start += line.len();
    }
    let found = start + text.get(start..)?.find(needle)?;
    let before = &text[..found];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map(|i| i + 1).unwrap_or(0)..]
        .chars()
        .count()
        + 1;
    Some(Loc {
        file: at.file,
        line: line as u32,
        col: col as u32,
        len: needle.chars().count().max(1) as u32,
    })
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
        let loc = self.locs.value(path).or_else(|| self.locs.nearest(path));
        self.diagnostics
            .push(Diagnostic::warning(code, loc, path, message).with_help(help));
    }

    pub fn resources(&mut self, c: &Compartment) {
        for (name, r) in &c.resources {
            let base = format!("resources.{name}");
            self.resource_env_keys(r, &base);
            self.volumes(name, r, &base);
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
            // Positions are looked up for a diagnostic only: the index is
            // built on its first lookup (`LocIndex`).
            let (locs, sources) = (self.locs, self.sources);
            let preset_loc = || {
                r.preset
                    .as_ref()
                    .and_then(|_| locs.key(&format!("{base}.preset")))
            };
            for (out, o) in &r.outputs {
                let path = format!("{base}.outputs.{out}.value");
                // Inside the written value, or at `preset:` for an expansion.
                let locate = |needle: &str| {
                    let value_loc = locs.value(&path);
                    value_loc
                        .and_then(|l| locate_in(sources, l, needle))
                        .or(value_loc)
                        .or_else(preset_loc)
                };
                match template::parse(&o.value) {
                    Err(e) => {
                        let needle: String = o.value.chars().skip(e.offset).take(e.len).collect();
                        let loc = locate(&needle);
                        self.error("invalid-placeholder", &path, loc, e.message, e.help);
                    }
                    Ok(_) => {
                        for k in template::env_keys(&o.value) {
                            if !keys.contains(k.as_str()) {
                                let help = match suggest(&k, keys.iter().copied()) {
                                    Some(s) => format!("did you mean `${{env.{s}}}`?"),
                                    None => format!("declare `{k}` under resources.{name}.env or resources.{name}.generatedVariables"),
                                };
                                let loc = locate(&format!("${{env.{k}}}"));
                                self.error("unknown-env-key", &path, loc, format!("output `{out}` reads `${{env.{k}}}`, but resource `{name}` has no env key or generated variable `{k}`"), help);
                            }
                        }
                    }
                }
            }
            if let Some(port) = r.readiness.as_ref().and_then(|rd| rd.port) {
                if !r.ports.is_empty() && !r.ports.contains(&port) {
                    self.warning(
                        "readiness-port",
                        &format!("{base}.readiness.port"),
                        format!(
                            "readiness waits on port {port} which is not among the ports of `{name}`"
                        ),
                        format!(
                            "add {port} to resources.{name}.ports, or wait on a declared port"
                        ),
                    );
                }
            }
        }
    }

    /// `refused`: services whose path leaves the project (already reported
    /// by the loader, which never looks inside them); `dirs`: services whose
    /// path the loader found to be a directory (not asked again).
    pub fn services(
        &mut self,
        c: &Compartment,
        root: &Path,
        refused: &BTreeSet<String>,
        dirs: &BTreeSet<String>,
    ) {
        for (name, s) in &c.services {
            let base = format!("services.{name}");
            if !refused.contains(name) {
                self.service_path(root, name, s, &base, dirs.contains(name));
            }
            for (res, conn) in &s.connections {
                self.env_keys(conn.env.keys(), &format!("{base}.connections.{res}.env"));
            }
            self.env_keys(s.build.env.keys(), &format!("{base}.build.env"));
            self.build_env_selections(c, name, s, &base);
            self.connections(c, name, s, &base);
        }
    }

    /// Every variable name a resource gives its containers.
    fn resource_env_keys(&mut self, r: &ResourceDef, base: &str) {
        self.env_keys(r.env.keys(), &format!("{base}.env"));
        self.env_keys(
            r.generated_variables.keys(),
            &format!("{base}.generatedVariables"),
        );
        if let Some(b) = &r.operations.backup {
            self.env_keys(
                b.operation.env.keys(),
                &format!("{base}.operations.backup.env"),
            );
        }
        if let Some(op) = &r.operations.restore {
            self.env_keys(op.env.keys(), &format!("{base}.operations.restore.env"));
        }
        if let Some(op) = &r.operations.verify {
            self.env_keys(op.env.keys(), &format!("{base}.operations.verify.env"));
        }
    }

    /// An environment variable name is not empty and holds no `=` or NUL:
    /// `PW=attacker: x` would reach the container as `PW`, past the check
    /// that no env key shadows a generated variable.
    fn env_keys<'k>(&mut self, keys: impl Iterator<Item = &'k String>, base: &str) {
        for key in keys {
            let shown = key.replace('\0', "\u{2400}");
            let message = if key.is_empty() {
                "an environment variable name is empty".to_string()
            } else if key.contains('=') {
                format!("the environment variable name `{shown}` contains `=`")
            } else if key.contains('\0') {
                format!("the environment variable name `{shown}` contains a NUL character")
            } else {
                continue;
            };
            let path = format!("{base}.{key}");
            let shown_path = format!("{base}.{shown}");
            let loc = self.locs.key(&path);
            self.error(
                "invalid-env-key",
                &shown_path,
                loc.or_else(|| self.locs.nearest(&path)),
                message,
                "name variables with letters, digits and `_` (e.g. `DATABASE_URL`); a value goes after the `:`".into(),
            );
        }
    }

    /// Volume handles are plain names (they become Docker volume names);
    /// no volume is mounted at `/`, and no two at the same path.
    fn volumes(&mut self, name: &str, r: &ResourceDef, base: &str) {
        let mut at: BTreeMap<String, &str> = BTreeMap::new();
        for (handle, target) in &r.volumes {
            let path = format!("{base}.volumes.{handle}");
            if !plain_name(handle) {
                self.error(
                    "invalid-volume",
                    &path,
                    self.locs.key(&path),
                    format!("volume handle `{handle}` of resource `{name}` is not a plain name"),
                    "use letters, digits, `-` and `_` (at most 63, starting with a letter or digit): the handle names the Docker volume".into(),
                );
            }
            if !target.starts_with('/') {
                continue; // relative-volume-path
            }
            let mount = normalize_mount(target);
            if mount == "/" {
                self.error(
                    "invalid-mount",
                    &path,
                    self.locs.value(&path),
                    format!("volume `{handle}` of resource `{name}` is mounted at `/`, over the container's whole file system"),
                    "mount it at a directory, e.g. `/data`".into(),
                );
            } else if let Some(first) = at.insert(mount.clone(), handle) {
                self.error(
                    "invalid-mount",
                    &path,
                    self.locs.value(&path),
                    format!("volumes `{first}` and `{handle}` of resource `{name}` are both mounted at `{mount}`"),
                    format!("give `{handle}` a path of its own, or remove one of them"),
                );
            }
        }
    }

    /// The service's `path` is a directory holding a Dockerfile.
    fn service_path(
        &mut self,
        root: &Path,
        name: &str,
        s: &ServiceDef,
        base: &str,
        dir_known: bool,
    ) {
        let dir = root.join(&s.path);
        if !s.path.is_empty() && !dir_known && !dir.is_dir() {
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
    }

    /// No `build.env` value selects a resource output (`res.out` or
    /// `${res.out}`): outputs exist only at run time.
    fn build_env_selections(&mut self, c: &Compartment, name: &str, s: &ServiceDef, base: &str) {
        for (var, value) in &s.build.env {
            let Some(value) = value else { continue };
            let v = value.trim();
            let v = v
                .strip_prefix("${")
                .and_then(|v| v.strip_suffix('}'))
                .unwrap_or(v);
            let Some((res, out)) = v.split_once('.') else {
                continue;
            };
            if let Some(r) = c.resources.get(res) {
                if r.outputs.contains_key(out) {
                    let bpath = format!("{base}.build.env.{var}");
                    self.error(
                        "connection-in-build",
                        &bpath,
                        self.locs.value(&bpath),
                        format!("build.env `{var}` of service `{name}` selects the resource output `{res}.{out}`: resource outputs are runtime variables and cannot be selected in build.env"),
                        format!("remove `{var}` from build.env; to give the running service this value, declare `connections: {{ {res}: {{ env: {{ {var}: {out} }} }} }}` under services.{name}"),
                    );
                }
            }
        }
    }

    /// Each connection names a declared resource, each of its variables an
    /// output of it; no variable has two sources or is also a build variable.
    fn connections<'c>(&mut self, c: &'c Compartment, name: &str, s: &'c ServiceDef, base: &str) {
        let mut seen: BTreeMap<&'c str, &'c str> = BTreeMap::new();
        for (res, conn) in &s.connections {
            let cpath = format!("{base}.connections.{res}");
            let Some(r) = c.resources.get(res) else {
                let help = match suggest(res, c.resources.keys().map(String::as_str)) {
                    _ if c.removed.contains_key(res) => format!("`{res}` is listed under `removed`: drop this connection before the resource is deleted, or keep the resource"),
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
                    self.unknown_output(res, r, out, &vpath);
                }
                if let Some(other) = seen.insert(var, res) {
                    self.error(
                        "connection-conflict",
                        &vpath,
                        self.locs.key(&vpath),
                        format!(
                            "`{var}` of service `{name}` is bound to both `{other}` and `{res}`"
                        ),
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

    /// A connection variable bound to an output that resource `res` lacks.
    fn unknown_output(&mut self, res: &str, r: &ResourceDef, out: &str, vpath: &str) {
        let help = match suggest(out, r.outputs.keys().map(String::as_str)) {
            Some(x) => format!("did you mean `{x}`?"),
            None if r.outputs.is_empty() => format!(
                "resource `{res}` declares no outputs: add them under resources.{res}.outputs"
            ),
            None => format!(
                "outputs of `{res}`: {}",
                r.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        self.error(
            "unknown-output",
            vpath,
            self.locs.value(vpath),
            format!("resource `{res}` has no output `{out}`"),
            help,
        );
    }
}

/// A volume handle: letters, digits, `-` and `_`, at most 63, starting
/// with a letter or digit.
fn plain_name(handle: &str) -> bool {
    handle.len() <= 63
        && handle.starts_with(|c: char| c.is_ascii_alphanumeric())
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An absolute mount path without `.` and `..` segments, doubled or
/// trailing `/` (`/data/..` is `/`).
fn normalize_mount(target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}
