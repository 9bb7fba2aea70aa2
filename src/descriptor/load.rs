//! Decoding compartment.yml from its located YAML tree into the model,
//! expanding presets on the way. Every problem becomes a diagnostic; the
//! decoder carries on so one run reports them all.

use super::model::*;
use super::preset;
use crate::yaml::decode::{index, join, valid_name, Cx, Fields, LocIndex};
use crate::yaml::{Node, Value};
use std::collections::BTreeMap;

const TOP: &[&str] = &[
    "name",
    "services",
    "resources",
    "instances",
    "environments",
    "removed",
];
const REMOVED: &[&str] = &["deleteData"];
const ENVIRONMENT: &[&str] = &["remote", "orchestrator", "registry", "backups"];
const SERVICE: &[&str] = &[
    "path",
    "connections",
    "build",
    "ingress",
    "readiness",
    "stopGracePeriod",
    "keepReleases",
    "replicas",
];
const RESOURCE: &[&str] = &[
    "preset",
    "image",
    "command",
    "env",
    "generatedVariables",
    "ports",
    "outputs",
    "volumes",
    "readiness",
    "restart",
    "operations",
];
const GENERATED: &[&str] = &["generator", "bytes", "encoding", "file"];
const OUTPUT: &[&str] = &["sensitive", "value"];
const READINESS: &[&str] = &[
    "type",
    "port",
    "path",
    "expectStatus",
    "command",
    "timeoutMs",
];
/// Each readiness type and the fields it takes besides `type` and
/// `timeoutMs`.
pub const READINESS_TYPES: &[(&str, &[&str])] = &[
    ("tcp", &["port"]),
    ("http", &["port", "path", "expectStatus"]),
    ("command", &["command"]),
    ("healthcheck", &[]),
];
const OPERATIONS: &[&str] = &["backup", "restore", "verify"];
const BACKUP: &[&str] = &["command", "image", "env", "schedule", "retention"];
const RESTORE: &[&str] = &["command", "image", "env"];
const SCHEDULE: &[&str] = &["interval", "cron", "verify"];
const RETENTION: &[&str] = &["keepLast", "maxAgeDays", "includeManual"];
const INSTANCE: &[&str] = &["type", "values"];
pub const RESTART_POLICIES: &[&str] = &["no", "always", "unless-stopped", "on-failure"];
pub const ENCODINGS: &[&str] = &["hex", "base64url"];
pub const GENERATORS: &[&str] = &["token"];
pub const INTERVALS: &[&str] = &["hourly", "daily"];

fn check_name(cx: &mut Cx, loc_node: &Node, path: &str, name: &str, what: &str) {
    if !valid_name(name) {
        cx.error(
            "invalid-name",
            loc_node.loc,
            path,
            format!("`{name}` is not a valid {what} name"),
            "use lowercase letters, digits and `-` (at most 63 characters, not starting or ending with `-`): it becomes part of container names and hostnames",
        );
    }
}

/// The project of the tree `root`, with `meanwhile` given its name,
/// services and resources (and their positions) as soon as they are
/// decoded, before the instances and environments: on this thread while
/// a large `instances` section is decoded on the second one. Its result
/// comes back beside the project.
pub fn decode_then<R>(
    cx: &mut Cx,
    root: &Node,
    meanwhile: impl FnOnce(&Compartment, &LocIndex) -> R,
) -> (Compartment, R) {
    decode_with(cx, root, SIDE_PATHS, meanwhile)
}

/// From this many paths under `instances` on, they are decoded on a second
/// thread while the services and resources are decoded here (instances are
/// most of a large project; they depend on no other section).
const SIDE_PATHS: usize = 1024;

/// [`decode_then`], with the instances on a second thread when they have
/// at least `side_paths` paths. The result, the positions and the
/// diagnostics (in the order of the sections) are the same either way.
fn decode_with<R>(
    cx: &mut Cx,
    root: &Node,
    side_paths: usize,
    meanwhile: impl FnOnce(&Compartment, &LocIndex) -> R,
) -> (Compartment, R) {
    let mut c = Compartment::default();
    let Some(top) = cx.fields(root, "", TOP) else {
        let r = meanwhile(&c, &cx.locs);
        return (c, r);
    };
    let side = top
        .get("instances")
        .map(|n| (n, n.paths()))
        .filter(|(_, p)| *p >= side_paths);
    // The index holds what this thread records; the instances' positions
    // join it from the other thread's own index.
    cx.locs.reserve(root.paths() - side.map_or(0, |(_, p)| p));
    let r = match side {
        Some((node, paths)) => {
            let aside = || {
                let mut diagnostics = Vec::new();
                let mut icx = Cx {
                    diagnostics: &mut diagnostics,
                    locs: LocIndex::with_capacity(paths),
                };
                let decls = instances(&mut icx, node);
                let locs = icx.locs;
                (decls, locs, diagnostics)
            };
            let ((decls, locs, mut diagnostics), r) = crate::support::parallel::join(aside, || {
                sections(cx, &top, &mut c);
                meanwhile(&c, &cx.locs)
            });
            cx.locs.absorb(locs);
            cx.diagnostics.append(&mut diagnostics);
            c.instances = decls;
            r
        }
        None => {
            sections(cx, &top, &mut c);
            let r = meanwhile(&c, &cx.locs);
            c.instances = top
                .get("instances")
                .map(|n| instances(cx, n))
                .unwrap_or_default();
            r
        }
    };
    rest(cx, &top, &mut c);
    (c, r)
}

/// The instances declared under `node` (`instances`).
fn instances(cx: &mut Cx, node: &Node) -> BTreeMap<String, InstanceDecl> {
    let mut out = BTreeMap::new();
    for (name, k, v) in cx.entries(node, "instances").unwrap_or_default() {
        let path = join("instances", &name);
        check_name(cx, k, &path, &name, "instance");
        if let Some(i) = instance(cx, v, &path) {
            out.insert(name, i);
        }
    }
    out
}

/// The project's name, services and resources.
fn sections(cx: &mut Cx, top: &Fields, c: &mut Compartment) {
    if let Some(n) = cx.required(top, "name", "the project name") {
        if let Some(name) = cx.string(n, "name") {
            check_name(cx, n, "name", &name, "project");
            c.name = name;
        }
    }
    if let Some(services) = top.get("services") {
        for (name, k, v) in cx.entries(services, "services").unwrap_or_default() {
            let path = join("services", &name);
            check_name(cx, k, &path, &name, "service");
            if let Some(s) = service(cx, v, &path) {
                c.services.insert(name, s);
            }
        }
    }
    if let Some(resources) = top.get("resources") {
        for (name, k, v) in cx.entries(resources, "resources").unwrap_or_default() {
            let path = join("resources", &name);
            check_name(cx, k, &path, &name, "resource");
            if c.services.contains_key(&name) {
                cx.error(
                    "duplicate-name",
                    k.loc,
                    &path,
                    format!("`{name}` names both a service and a resource"),
                    "rename one of them: services and resources share container names",
                );
            }
            if let Some(r) = resource(cx, v, &path) {
                c.resources.insert(name, r);
            }
        }
    }
}

/// The environments and removed resources, which refer to what came before.
fn rest(cx: &mut Cx, top: &Fields, c: &mut Compartment) {
    if let Some(envs) = top.get("environments") {
        for (name, k, v) in cx.entries(envs, "environments").unwrap_or_default() {
            let path = join("environments", &name);
            check_name(cx, k, &path, &name, "environment");
            if let Some(e) = environment(cx, v, &path) {
                if e.orchestrator == Orchestrator::Swarm
                    && e.registry.is_none()
                    && !c.services.is_empty()
                {
                    cx.error(
                        "missing-registry",
                        k.loc,
                        &path,
                        format!("environment `{name}` runs on a swarm but names no `registry` for the images of its services"),
                        "add `registry: host:port[/prefix]`: every node pulls the services' built images from it (a swarm node cannot use an image built on another)",
                    );
                }
                c.environments.insert(name, e);
            }
        }
    }
    if let Some(removed) = top.get("removed") {
        for (name, k, v) in cx.entries(removed, "removed").unwrap_or_default() {
            let path = join("removed", &name);
            check_name(cx, k, &path, &name, "resource");
            if c.resources.contains_key(&name) {
                cx.error(
                    "removed-declared",
                    k.loc,
                    &path,
                    format!("resource `{name}` is both declared under `resources` and listed under `removed`"),
                    format!("to keep it, delete `removed.{name}`; to delete it, delete `resources.{name}`"),
                );
            }
            if let Some(r) = removed_entry(cx, v, &path) {
                c.removed.insert(name, r);
            }
        }
    }
}

/// `removed.<name>`: `{}` or null (keep the data), or `{deleteData: true}`.
fn removed_entry(cx: &mut Cx, node: &Node, path: &str) -> Option<RemovedDef> {
    if matches!(node.value, Value::Null) {
        return Some(RemovedDef::default());
    }
    let f = cx.fields(node, path, REMOVED)?;
    let mut r = RemovedDef::default();
    if let Some(n) = f.get("deleteData") {
        r.delete_data = cx.boolean(n, &f.path("deleteData"))?;
    }
    Some(r)
}

/// `environments.<name>`: where the environment's engine is.
fn environment(cx: &mut Cx, node: &Node, path: &str) -> Option<EnvironmentDef> {
    let f = cx.fields(node, path, ENVIRONMENT)?;
    let mut e = EnvironmentDef::default();
    if let Some(n) = f.get("remote") {
        let remote = cx.string(n, &f.path("remote"))?;
        if let Err(why) = check_remote(&remote) {
            cx.error(
                "invalid-remote",
                n.loc,
                &f.path("remote"),
                format!("`{remote}` is not an engine address: {why}"),
                "write unix:///path/to/docker.sock, tcp://host:port, ssh://user@host[:port] or the name of a Docker context (`docker context ls`)",
            );
            return None;
        }
        e.remote = Some(remote);
    }
    if let Some(n) = f.get("orchestrator") {
        e.orchestrator = orchestrator(cx, n, &f.path("orchestrator"))?;
    }
    if let Some(n) = f.get("registry") {
        let registry = cx.string(n, &f.path("registry"))?;
        if let Err(why) = super::image::check_registry(&registry) {
            cx.error(
                "invalid-registry",
                n.loc,
                &f.path("registry"),
                format!("`{registry}` is not a registry: {why}"),
                "write host:port or a domain name, with an optional path prefix: 10.0.0.5:5000, registry.example.com/team",
            );
            return None;
        }
        e.registry = Some(registry);
    }
    if let Some(n) = f.get("backups") {
        e.backups = backup_targets(cx, n, &f.path("backups"));
    }
    Some(e)
}

/// `environments.<name>.orchestrator`: `engine` or `swarm`.
fn orchestrator(cx: &mut Cx, n: &Node, path: &str) -> Option<Orchestrator> {
    const KNOWN: [&str; 2] = ["engine", "swarm"];
    let s = cx.string(n, path)?;
    match s.as_str() {
        "engine" => Some(Orchestrator::Engine),
        "swarm" => Some(Orchestrator::Swarm),
        _ => {
            let help = match crate::diagnostics::suggest(&s, KNOWN.iter().copied()) {
                Some(x) => format!("did you mean `{x}`? use `engine` (plain containers, the default) or `swarm` (Docker Swarm services)"),
                None => "use `engine` (plain containers, the default) or `swarm` (Docker Swarm services)".into(),
            };
            cx.error(
                "unknown-orchestrator",
                n.loc,
                path,
                format!("unknown orchestrator `{s}`"),
                help,
            );
            None
        }
    }
}

/// `environments.<name>.backups`: target name → URL of where every backup
/// is copied (a local path, `sftp://`, `s3://`).
fn backup_targets(cx: &mut Cx, node: &Node, path: &str) -> BTreeMap<String, BackupTargetDef> {
    let mut out = BTreeMap::new();
    for (name, k, v) in cx.entries(node, path).unwrap_or_default() {
        let at = join(path, &name);
        check_name(cx, k, &at, &name, "backup target");
        let Some(url) = cx.string(v, &at) else {
            continue;
        };
        match crate::storage::Location::parse(&url) {
            Ok(location) => {
                out.insert(name, BackupTargetDef { url, location });
            }
            Err(why) => cx.error(
                "invalid-backup-target",
                v.loc,
                &at,
                format!(
                    "`{}` is not a backup target: {why}",
                    crate::storage::location::redacted(&url)
                ),
                "write an absolute path (another disk), sftp://user@host/path (through your ssh keys) or s3://bucket/prefix (endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            ),
        }
    }
    out
}

/// Whether `remote` is a `unix://`, `tcp://` or `ssh://` address or a Docker
/// context name; why not otherwise.
pub fn check_remote(remote: &str) -> Result<(), &'static str> {
    let host_ok = |h: &str| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:[]@".contains(c))
    };
    if let Some(path) = remote.strip_prefix("unix://") {
        return match path.starts_with('/') {
            true => Ok(()),
            false => Err("a unix:// address needs an absolute socket path"),
        };
    }
    if let Some(rest) = remote.strip_prefix("tcp://") {
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or("a tcp:// address needs a port")?;
        return match host_ok(host) && port.parse::<u16>().is_ok_and(|p| p > 0) {
            true => Ok(()),
            false => Err("a tcp:// address is host:port"),
        };
    }
    if let Some(rest) = remote.strip_prefix("ssh://") {
        return match host_ok(rest.trim_end_matches('/')) {
            true => Ok(()),
            false => Err("an ssh:// address is [user@]host[:port]"),
        };
    }
    if remote.contains("://") {
        return Err("the scheme is not unix://, tcp:// or ssh://");
    }
    let first = remote
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    match first
        && remote
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
    {
        true => Ok(()),
        false => Err("it is neither an address nor a Docker context name"),
    }
}

fn service(cx: &mut Cx, node: &Node, path: &str) -> Option<ServiceDef> {
    let f = cx.fields(node, path, SERVICE)?;
    let svc_path = cx
        .required(&f, "path", "the directory holding the service's Dockerfile")
        .and_then(|n| {
            let p = cx.string(n, &f.path("path"))?;
            if p.trim().is_empty() {
                cx.error(
                    "missing-path",
                    n.loc,
                    &f.path("path"),
                    "the service path is empty",
                    "write the directory holding the service's Dockerfile, relative to compartment.yml (use `.` for the directory of compartment.yml)",
                );
            }
            Some(p)
        });
    let mut s = ServiceDef {
        path: svc_path.unwrap_or_default(),
        connections: Default::default(),
        build: Build::default(),
        ingress: None,
        readiness: None,
        stop_grace_period: None,
        keep_releases: None,
        replicas: None,
    };
    if let Some(n) = f.get("replicas") {
        s.replicas = cx.integer(n, &f.path("replicas"), 1, 100).map(|k| k as u32);
    }
    if let Some(n) = f.get("keepReleases") {
        s.keep_releases = cx
            .integer(n, &f.path("keepReleases"), 0, 20)
            .map(|k| k as u32);
    }
    if let Some(n) = f.get("readiness") {
        s.readiness = readiness(cx, n, &f.path("readiness"));
    }
    if let Some(n) = f.get("stopGracePeriod") {
        s.stop_grace_period = grace_period(cx, n, &f.path("stopGracePeriod"));
    }
    if let Some(conns) = f.get("connections") {
        let cpath = f.path("connections");
        for (res, _, v) in cx.entries(conns, &cpath).unwrap_or_default() {
            let rpath = join(&cpath, &res);
            let Some(cf) = cx.fields(v, &rpath, &["env"]) else {
                continue;
            };
            let env = match cx.required(&cf, "env", "a map of VARIABLE: output-name") {
                Some(e) => cx.string_map(e, &cf.path("env")),
                None => Default::default(),
            };
            s.connections.insert(res, Connection { env });
        }
    }
    if let Some(b) = f.get("build") {
        let bpath = f.path("build");
        if let Some(bf) = cx.fields(b, &bpath, &["env"]) {
            if let Some(e) = bf.get("env") {
                let epath = bf.path("env");
                match &e.value {
                    Value::Seq(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(name) = cx.string(item, &index(&epath, i)) {
                                cx.locs_value(&join(&epath, &name), item);
                                s.build.env.insert(name, None);
                            }
                        }
                    }
                    _ => {
                        for (k, v) in cx.string_map(e, &epath) {
                            s.build.env.insert(k, Some(v));
                        }
                    }
                }
            }
        }
    }
    if let Some(i) = f.get("ingress") {
        let ipath = f.path("ingress");
        if let Some(inf) = cx.fields(i, &ipath, &["port"]) {
            if let Some(p) = cx
                .required(&inf, "port", "the port the service listens on")
                .and_then(|n| cx.port(n, &inf.path("port")))
            {
                s.ingress = Some(Ingress { port: p });
            }
        }
    }
    Some(s)
}

fn resource(cx: &mut Cx, node: &Node, path: &str) -> Option<ResourceDef> {
    let f = cx.fields(node, path, RESOURCE)?;
    if let Some(p) = f.get("preset") {
        return preset_resource(cx, node, &f, p);
    }
    let image = cx
        .required(&f, "image", "a Docker image reference, or use `preset:`")
        .and_then(|n| image_ref(cx, n, &f.path("image")));
    let mut r = ResourceDef {
        preset: None,
        image: image.clone().unwrap_or_default(),
        command: None,
        env: Default::default(),
        generated_variables: Default::default(),
        ports: Vec::new(),
        outputs: Default::default(),
        volumes: Default::default(),
        readiness: None,
        restart: default_restart(),
        operations: Operations::default(),
    };
    if let Some(n) = f.get("command") {
        r.command = command(cx, n, &f.path("command"));
    }
    if let Some(n) = f.get("env") {
        r.env = cx.string_map(n, &f.path("env"));
    }
    if let Some(n) = f.get("generatedVariables") {
        r.generated_variables = generated_variables(cx, n, &f.path("generatedVariables"));
    }
    if let Some(n) = f.get("ports") {
        r.ports = ports(cx, n, &f.path("ports"));
    }
    if let Some(n) = f.get("outputs") {
        r.outputs = outputs(cx, n, &f.path("outputs"));
    }
    if let Some(n) = f.get("volumes") {
        r.volumes = volumes(cx, n, &f.path("volumes"));
    }
    if let Some(n) = f.get("readiness") {
        r.readiness = readiness(cx, n, &f.path("readiness"));
    }
    if let Some(n) = f.get("restart") {
        if let Some(policy) = restart(cx, n, &f.path("restart")) {
            r.restart = policy;
        }
    }
    if let Some(n) = f.get("operations") {
        r.operations = operations(cx, n, &f.path("operations"));
    }
    image.map(|_| r)
}

/// A resource written as `preset: NAME` (with at most `env` beside it),
/// expanded into its full definition.
fn preset_resource(cx: &mut Cx, node: &Node, f: &Fields, p: &Node) -> Option<ResourceDef> {
    let env = f
        .get("env")
        .map(|e| cx.string_map(e, &f.path("env")))
        .unwrap_or_default();
    let name = cx.one_of(
        p,
        &f.path("preset"),
        preset::PRESETS,
        "unknown-preset",
        "preset",
    )?;
    let mut ok = true;
    for key in f
        .keys()
        .filter(|k| RESOURCE.contains(k) && !preset::PRESET_FIELDS.contains(k))
        .collect::<Vec<_>>()
    {
        ok = false;
        let loc = f.key_loc(key).unwrap_or(node.loc);
        cx.error(
            "preset-field",
            loc,
            &f.path(key),
            format!("`{key}` cannot be combined with `preset: {name}`"),
            format!("only `env` may accompany a preset; to change `{key}`, remove `preset` and declare the expanded form (docs/descriptors.md, \"The postgres preset\")"),
        );
    }
    if ok {
        preset::expand(&name, &env)
    } else {
        None
    }
}

/// `command:`, a list of arguments (a single string is refused).
fn command(cx: &mut Cx, n: &Node, p: &str) -> Option<Vec<String>> {
    if let Value::Str { .. } = n.value {
        cx.error(
            "wrong-type",
            n.loc,
            p,
            "`command` must be a list of arguments",
            "write it as a list, e.g. `command: [\"valkey-server\", \"--save\", \"\"]`",
        );
        None
    } else {
        cx.string_list(n, p)
    }
}

/// `generatedVariables:`, each with its generator, size and encoding.
fn generated_variables(cx: &mut Cx, n: &Node, gpath: &str) -> BTreeMap<String, GeneratedVariable> {
    let mut out = BTreeMap::new();
    for (key, _, v) in cx.entries(n, gpath).unwrap_or_default() {
        let vpath = join(gpath, &key);
        let Some(gf) = cx.fields(v, &vpath, GENERATED) else {
            continue;
        };
        let mut g = GeneratedVariable::default();
        if let Some(gen) = cx.required(&gf, "generator", "`token`") {
            g.generator = cx
                .one_of(
                    gen,
                    &gf.path("generator"),
                    GENERATORS,
                    "unknown-generator",
                    "generator",
                )
                .unwrap_or_default();
        }
        if let Some(b) = gf.get("bytes") {
            g.bytes = cx.integer(b, &gf.path("bytes"), 8, 1024).unwrap_or(24) as u32;
        }
        if let Some(e) = gf.get("encoding") {
            g.encoding = cx
                .one_of(
                    e,
                    &gf.path("encoding"),
                    ENCODINGS,
                    "unknown-encoding",
                    "encoding",
                )
                .unwrap_or_default();
        }
        if let Some(f) = gf.get("file") {
            g.file = cx.boolean(f, &gf.path("file")).unwrap_or(false);
        }
        out.insert(key, g);
    }
    out
}

/// `ports:`, a list of port numbers.
fn ports(cx: &mut Cx, n: &Node, ppath: &str) -> Vec<u16> {
    let mut out = Vec::new();
    match &n.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(p) = cx.port(item, &index(ppath, i)) {
                    out.push(p);
                }
            }
        }
        _ => cx.type_error(n, ppath, "a list of port numbers"),
    }
    out
}

/// `outputs:`, each saying whether it is sensitive and what its value is.
fn outputs(cx: &mut Cx, n: &Node, opath: &str) -> BTreeMap<String, OutputDef> {
    let mut out = BTreeMap::new();
    for (name, _, v) in cx.entries(n, opath).unwrap_or_default() {
        let vpath = join(opath, &name);
        let Some(of) = cx.fields(v, &vpath, OUTPUT) else {
            continue;
        };
        let sensitive = cx
            .required(
                &of,
                "sensitive",
                "`true` or `false`: every output must say whether it is secret",
            )
            .and_then(|s| cx.boolean(s, &of.path("sensitive")));
        let value = cx
            .required(&of, "value", "the output's value, e.g. `${resource.host}`")
            .and_then(|s| cx.scalar(s, &of.path("value")));
        if let (Some(sensitive), Some(value)) = (sensitive, value) {
            out.insert(name, OutputDef { sensitive, value });
        }
    }
    out
}

/// `volumes:`, handles mapped to absolute mount paths.
fn volumes(cx: &mut Cx, n: &Node, vpath: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (handle, _, v) in cx.entries(n, vpath).unwrap_or_default() {
        let hpath = join(vpath, &handle);
        let Some(target) = cx.string(v, &hpath) else {
            continue;
        };
        if !target.starts_with('/') {
            cx.error(
                "relative-volume-path",
                v.loc,
                &hpath,
                format!("volume `{handle}` is mounted at the relative path `{target}`"),
                format!(
                    "mount paths must be absolute container paths, e.g. `/{}`",
                    target.trim_start_matches("./")
                ),
            );
        }
        out.insert(handle, target);
    }
    out
}

/// `readiness:`: what to probe (a TCP port, an HTTP path, a command in the
/// container, or the image's own `HEALTHCHECK`) and how long to wait. A
/// field that does not belong to the chosen type is an error, not ignored.
fn readiness(cx: &mut Cx, n: &Node, rpath: &str) -> Option<Readiness> {
    let rf = cx.fields(n, rpath, READINESS)?;
    let types: Vec<&str> = READINESS_TYPES.iter().map(|(t, _)| *t).collect();
    let kind = cx.required(&rf, "type", "`tcp`, `http`, `command` or `healthcheck`");
    let kind = kind.and_then(|t| {
        cx.one_of(
            t,
            &rf.path("type"),
            &types,
            "unknown-readiness",
            "readiness type",
        )
    })?;
    let takes = READINESS_TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or(&[][..], |(_, f)| *f);
    let mut ok = true;
    for key in ["port", "path", "expectStatus", "command"] {
        if rf.has(key) && !takes.contains(&key) {
            ok = false;
            let loc = rf.key_loc(key).unwrap_or(n.loc);
            let fields = match takes {
                [] => "no field besides `timeoutMs`".to_string(),
                t => format!("`{}` (and `timeoutMs`)", t.join("`, `")),
            };
            cx.error(
                "readiness-field",
                loc,
                &rf.path(key),
                format!("`{key}` does not apply to `type: {kind}` readiness"),
                format!("remove `{key}`: `type: {kind}` takes {fields}"),
            );
        }
    }
    let mut r = Readiness {
        kind: kind.clone(),
        port: None,
        path: None,
        expect_status: None,
        command: None,
        timeout_ms: DEFAULT_READINESS_TIMEOUT_MS,
    };
    if let Some(t) = rf.get("timeoutMs") {
        r.timeout_ms = cx.integer(t, &rf.path("timeoutMs"), 1, 3_600_000)? as u64;
    }
    match kind.as_str() {
        "tcp" | "http" => {
            let what = format!("the port a `{kind}` probe connects to");
            let port = cx.required(&rf, "port", &what)?;
            r.port = Some(cx.port(port, &rf.path("port"))?);
        }
        "command" => {
            let c = cx.required(
                &rf,
                "command",
                "the command to run in the container, as a list",
            )?;
            r.command = Some(readiness_command(cx, c, &rf.path("command"))?);
        }
        _ => {}
    }
    if kind == "http" {
        http_fields(cx, &rf, &mut r)?;
    }
    ok.then_some(r)
}

/// `stopGracePeriod:` as whole seconds: `30`, `"30s"`, `"2m"` or `"1m30s"`
/// (Docker stops in whole seconds), at most an hour.
fn grace_period(cx: &mut Cx, n: &Node, p: &str) -> Option<u32> {
    if let Value::Int(_) = n.value {
        return cx.integer(n, p, 0, 3600).map(|s| s as u32);
    }
    let text = cx.string(n, p)?;
    let seconds = parse_duration_secs(&text).filter(|s| *s <= 3600);
    if seconds.is_none() {
        cx.error(
            "invalid-duration",
            n.loc,
            p,
            format!("`{text}` is not a stop grace period"),
            "write whole seconds or minutes, at most an hour: `30`, `\"30s\"`, `\"2m\"` or `\"1m30s\"`",
        );
    }
    seconds
}

/// `"1m30s"`, `"45s"`, `"2m"` as seconds; `None` for anything else.
fn parse_duration_secs(text: &str) -> Option<u32> {
    let (minutes, rest) = match text.split_once('m') {
        Some((m, rest)) => (m.parse::<u32>().ok()?, rest),
        None => (0, text),
    };
    let seconds = match rest {
        "" if text.ends_with('m') => 0,
        r => r.strip_suffix('s')?.parse::<u32>().ok()?,
    };
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    minutes.checked_mul(60)?.checked_add(seconds)
}

/// `path` and `expectStatus` of an `http` readiness probe.
fn http_fields(cx: &mut Cx, rf: &Fields, r: &mut Readiness) -> Option<()> {
    if let Some(p) = rf.get("path") {
        let path = cx.string(p, &rf.path("path"))?;
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            cx.error(
                "readiness-field",
                p.loc,
                &rf.path("path"),
                format!("`{path}` is not an HTTP path"),
                "write the path the probe requests, starting with `/` and without spaces, e.g. `/health`",
            );
            return None;
        }
        r.path = Some(path);
    }
    if let Some(e) = rf.get("expectStatus") {
        r.expect_status = Some(cx.integer(e, &rf.path("expectStatus"), 100, 599)? as u16);
    }
    Some(())
}

/// A readiness `command`: a non-empty argument list.
fn readiness_command(cx: &mut Cx, c: &Node, p: &str) -> Option<Vec<String>> {
    let list = command(cx, c, p)?;
    if list.is_empty() || list[0].trim().is_empty() {
        cx.error(
            "readiness-field",
            c.loc,
            p,
            "the readiness command is empty",
            "write the program and its arguments, e.g. `command: [\"pg_isready\", \"-U\", \"app\"]`; it runs in the container and exit 0 means ready",
        );
        return None;
    }
    Some(list)
}

/// `restart:`, a Docker restart policy; `None` when it is not one.
fn restart(cx: &mut Cx, n: &Node, rpath: &str) -> Option<String> {
    let s = cx.string(n, rpath)?;
    let base = s.split(':').next().unwrap_or("");
    let count_ok = match s.split_once(':') {
        Some(("on-failure", count)) => count.parse::<u32>().is_ok(),
        Some(_) => false,
        None => true,
    };
    if RESTART_POLICIES.contains(&base) && count_ok {
        return Some(s);
    }
    let help = match crate::diagnostics::suggest(&s, RESTART_POLICIES.iter().copied()) {
        Some(x) => format!(
            "did you mean `{x}`? use one of: no, always, unless-stopped, on-failure, on-failure:N"
        ),
        None => "use one of: no, always, unless-stopped, on-failure, on-failure:N".into(),
    };
    cx.error(
        "unknown-restart",
        n.loc,
        rpath,
        format!("unknown restart policy `{s}`"),
        help,
    );
    None
}

/// An image reference, checked as `docker pull` would check it.
fn image_ref(cx: &mut Cx, n: &Node, path: &str) -> Option<String> {
    let image = cx.string(n, path)?;
    if let Err(why) = super::image::check(&image) {
        cx.error(
            "invalid-image",
            n.loc,
            path,
            format!("`{image}` is not a Docker image reference: {why}"),
            "write [registry[:port]/]name[:tag][@sha256:…] in lowercase, e.g. postgres:16 or registry.example.com/team/app:1.2",
        );
        return None;
    }
    Some(image)
}

fn operation(cx: &mut Cx, f: &Fields) -> Option<Operation> {
    let command = cx
        .required(f, "command", "the shell command to run")
        .and_then(|n| cx.string(n, &f.path("command")));
    let image = f
        .get("image")
        .and_then(|n| image_ref(cx, n, &f.path("image")));
    let env = f
        .get("env")
        .map(|n| cx.string_map(n, &f.path("env")))
        .unwrap_or_default();
    command.map(|command| Operation {
        command,
        image,
        env,
    })
}

fn operations(cx: &mut Cx, node: &Node, path: &str) -> Operations {
    let mut ops = Operations::default();
    let Some(f) = cx.fields(node, path, OPERATIONS) else {
        return ops;
    };
    if let Some(b) = f.get("backup") {
        let bpath = f.path("backup");
        if let Some(bf) = cx.fields(b, &bpath, BACKUP) {
            let op = operation(cx, &bf);
            let (schedule, verify_scheduled) = bf
                .get("schedule")
                .map(|s| schedule(cx, s, &bf.path("schedule")))
                .unwrap_or((None, false));
            let retention = bf
                .get("retention")
                .and_then(|r| retention(cx, r, &bf.path("retention")));
            ops.backup = op.map(|operation| BackupOperation {
                operation,
                schedule,
                retention,
                verify_scheduled,
            });
        }
    }
    if let Some(r) = f.get("restore") {
        let rpath = f.path("restore");
        if let Some(rf) = cx.fields(r, &rpath, RESTORE) {
            ops.restore = operation(cx, &rf);
        }
    }
    if let Some(v) = f.get("verify") {
        let vpath = f.path("verify");
        if let Some(vf) = cx.fields(v, &vpath, RESTORE) {
            ops.verify = operation(cx, &vf);
        }
    }
    ops
}

/// A schedule and its `verify` flag.
fn schedule(cx: &mut Cx, node: &Node, path: &str) -> (Option<Schedule>, bool) {
    let Some(f) = cx.fields(node, path, SCHEDULE) else {
        return (None, false);
    };
    let verify = f
        .get("verify")
        .and_then(|n| cx.boolean(n, &f.path("verify")))
        .unwrap_or(false);
    (when(cx, node, path, &f), verify)
}

/// When a schedule fires: `interval` or `cron`.
fn when(cx: &mut Cx, node: &Node, path: &str, f: &Fields) -> Option<Schedule> {
    match (f.get("interval"), f.get("cron")) {
        (Some(_), Some(c)) => {
            cx.error(
                "schedule-conflict",
                c.loc,
                &f.path("cron"),
                "a schedule has either `interval` or `cron`, not both",
                "keep one of them",
            );
            None
        }
        (Some(i), None) => cx
            .one_of(
                i,
                &f.path("interval"),
                INTERVALS,
                "unknown-interval",
                "interval",
            )
            .map(Schedule::Interval),
        (None, Some(c)) => {
            let cpath = f.path("cron");
            let expr = cx.scalar(c, &cpath)?;
            match super::cron::parse(&expr) {
                Ok(_) => Some(Schedule::Cron(expr)),
                Err(e) => {
                    // Point at the offending field when the token is on one line.
                    let mut loc = c.loc;
                    let quoted = matches!(&c.value, Value::Str { quoted: true, .. });
                    if c.loc.len as usize == expr.chars().count() + 2 * usize::from(quoted) {
                        loc.col += (e.offset + usize::from(quoted)) as u32;
                        loc.len = e.len as u32;
                    }
                    cx.error(
                        "invalid-cron",
                        loc,
                        &cpath,
                        format!("invalid cron schedule `{expr}`: {}", e.message),
                        "write a 5-field UTC cron expression (minute hour day-of-month month day-of-week), e.g. `0 2 * * 1` (Mondays 02:00) or `*/15 * * * *`, or use `interval: hourly|daily`",
                    );
                    None
                }
            }
        }
        (None, None) if f.suggested("interval") || f.suggested("cron") => None,
        (None, None) => {
            let loc = cx.locs.key(path).unwrap_or(node.loc);
            cx.error(
                "missing-field",
                loc,
                path,
                "a schedule needs `interval` or `cron`",
                "add `interval: daily` (or hourly) or `cron: '0 2 * * *'`",
            );
            None
        }
    }
}

fn retention(cx: &mut Cx, node: &Node, path: &str) -> Option<Retention> {
    let f = cx.fields(node, path, RETENTION)?;
    let keep_last = f
        .get("keepLast")
        .and_then(|n| cx.integer(n, &f.path("keepLast"), 1, 100_000))
        .map(|v| v as u32);
    let max_age_days = f
        .get("maxAgeDays")
        .and_then(|n| cx.integer(n, &f.path("maxAgeDays"), 1, 100_000))
        .map(|v| v as u32);
    let include_manual = f
        .get("includeManual")
        .and_then(|n| cx.boolean(n, &f.path("includeManual")))
        .unwrap_or(false);
    if keep_last.is_none()
        && max_age_days.is_none()
        && !f.has("keepLast")
        && !f.has("maxAgeDays")
        && !f.suggested("keepLast")
        && !f.suggested("maxAgeDays")
    {
        let loc = cx.locs.key(path).unwrap_or(node.loc);
        cx.error(
            "missing-field",
            loc,
            path,
            "retention needs `keepLast` or `maxAgeDays`",
            "add `keepLast: 7` or `maxAgeDays: 30`, or remove `retention`",
        );
    }
    Some(Retention {
        keep_last,
        max_age_days,
        include_manual,
    })
}

fn instance(cx: &mut Cx, node: &Node, path: &str) -> Option<InstanceDecl> {
    let f = cx.fields(node, path, INSTANCE)?;
    let type_ref = cx
        .required(&f, "type", "`<owning service>/<resource type key>`")
        .and_then(|n| cx.string(n, &f.path("type")))?;
    // A vector of their number, not a B-tree map: a 632-byte node for one
    // or two values of each of 10,000 instances (docs/benchmarks.md).
    let mut values = crate::support::fields::Fields::default();
    if let Some(v) = f.get("values") {
        let vpath = f.path("values");
        let entries = cx.entries(v, &vpath).unwrap_or_default();
        values = entries
            .into_iter()
            .map(|(k, _, val)| (k, val.to_json()))
            .collect();
    }
    Some(InstanceDecl { type_ref, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture compartment.yml (the broken corpus included) that
    /// parses, with its tree.
    fn fixture_trees() -> Vec<(std::path::PathBuf, Node)> {
        crate::yaml::fixture_files(|p| p.file_name().is_some_and(|n| n == "compartment.yml"))
            .into_iter()
            .filter_map(|file| {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                crate::yaml::parse(0, &text).0.map(|node| (file, node))
            })
            .collect()
    }

    /// Asserts that two indexes hold the same paths at the same positions;
    /// the number of paths.
    fn assert_same_positions(a: &LocIndex, b: &LocIndex, file: &std::path::Path) -> usize {
        let paths = a.paths();
        assert_eq!(paths, b.paths(), "{}", file.display());
        for p in &paths {
            assert_eq!((a.key(p), a.value(p)), (b.key(p), b.value(p)), "{p}");
        }
        paths.len()
    }

    /// The position index answers alike whether it was first looked up
    /// before decoding (as a diagnostic while decoding does, after which
    /// what is recorded goes into the map built) or after it (the map built
    /// from the records at once), over every fixture compartment.yml.
    #[test]
    fn positions_read_alike_looked_up_while_decoding_or_after() {
        let mut compared = 0;
        for (file, node) in &fixture_trees() {
            let run = |early: bool| {
                let mut diags = Vec::new();
                let mut cx = Cx {
                    diagnostics: &mut diags,
                    locs: LocIndex::default(),
                };
                if early {
                    assert_eq!(cx.locs.key("name"), None);
                }
                decode_with(&mut cx, node, usize::MAX, |_, _| ());
                cx.locs
            };
            compared += assert_same_positions(&run(false), &run(true), file);
        }
        assert!(compared > 1000, "{compared} paths compared");
    }

    /// `meanwhile` is given the name, services and resources as they end
    /// up in the project, before any instance or environment, whether the
    /// instances are decoded aside or here; with the positions of the
    /// services already recorded.
    #[test]
    fn meanwhile_sees_the_services_and_resources_before_the_instances() {
        let mut seen = 0;
        for (file, node) in &fixture_trees() {
            for side_paths in [0, usize::MAX] {
                let mut diags = Vec::new();
                let mut cx = Cx {
                    diagnostics: &mut diags,
                    locs: LocIndex::default(),
                };
                let (c, early) = decode_with(&mut cx, node, side_paths, |c, locs| {
                    let located = c
                        .services
                        .keys()
                        .all(|s| locs.key(&format!("services.{s}")).is_some());
                    (c.clone(), located)
                });
                let (early, located) = early;
                assert!(located, "{}", file.display());
                assert!(early.instances.is_empty(), "{}", file.display());
                assert!(early.environments.is_empty(), "{}", file.display());
                assert_eq!(
                    (&early.name, &early.services, &early.resources),
                    (&c.name, &c.services, &c.resources),
                    "{}",
                    file.display()
                );
                seen += usize::from(!c.services.is_empty() && !c.instances.is_empty());
            }
        }
        assert!(seen > 5, "fixtures with services and instances: {seen}");
    }

    /// Every compartment.yml of the fixtures (the broken corpus included)
    /// decodes to the same model, positions and diagnostics with its
    /// instances on a second thread as on this one.
    #[test]
    fn instances_decoded_aside_are_the_same_as_decoded_in_place() {
        let trees = fixture_trees();
        let mut aside = 0;
        for (file, node) in &trees {
            let run = |side_paths| {
                let mut diags = Vec::new();
                let mut cx = Cx {
                    diagnostics: &mut diags,
                    locs: LocIndex::default(),
                };
                let (c, ()) = decode_with(&mut cx, node, side_paths, |_, _| ());
                let locs = cx.locs;
                (c, locs, diags)
            };
            let (c1, l1, d1) = run(usize::MAX);
            let (c2, l2, d2) = run(0);
            assert_eq!(c1, c2, "{}", file.display());
            assert_eq!(d1, d2, "{}", file.display());
            assert_same_positions(&l1, &l2, file);
            aside += usize::from(!c2.instances.is_empty());
        }
        assert!(
            aside > 5,
            "fixtures with instances: {aside} of {}",
            trees.len()
        );
    }
    use crate::diagnostics::Diagnostic;
    use crate::yaml::decode::LocIndex;

    fn decoded(text: &str) -> (Compartment, Vec<(&'static str, String)>) {
        let (node, mut diags): (Option<Node>, Vec<Diagnostic>) = crate::yaml::parse(0, text);
        let mut cx = Cx {
            diagnostics: &mut diags,
            locs: LocIndex::default(),
        };
        let (c, ()) = decode_then(&mut cx, &node.expect("valid YAML"), |_, _| ());
        (c, diags.into_iter().map(|d| (d.code, d.path)).collect())
    }

    #[test]
    fn resource_fields_are_reported_in_the_order_they_are_decoded() {
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "resources:\n",
            "  db:\n",
            "    restart: sometimes\n",
            "    readiness: {type: grpc, port: 5432}\n",
            "    volumes: {data: var/lib/data}\n",
            "    outputs: {url: {value: x}}\n",
            "    ports: 5432\n",
            "    generatedVariables: {TOKEN: {generator: uuid, encoding: b64}}\n",
            "    command: postgres -c x\n",
            "    image: postgres:16\n",
        ));
        assert_eq!(
            diags,
            [
                ("wrong-type", "resources.db.command".to_string()),
                (
                    "unknown-generator",
                    "resources.db.generatedVariables.TOKEN.generator".to_string()
                ),
                (
                    "unknown-encoding",
                    "resources.db.generatedVariables.TOKEN.encoding".to_string()
                ),
                ("wrong-type", "resources.db.ports".to_string()),
                ("missing-field", "resources.db.outputs.url".to_string()),
                (
                    "relative-volume-path",
                    "resources.db.volumes.data".to_string()
                ),
                (
                    "unknown-readiness",
                    "resources.db.readiness.type".to_string()
                ),
                ("unknown-restart", "resources.db.restart".to_string()),
            ]
        );
        // The resource is still decoded: its image is there, and what was
        // wrong is left at its default.
        let db = &c.resources["db"];
        assert_eq!(db.image, "postgres:16");
        assert_eq!(db.restart, "unless-stopped");
        assert_eq!(db.command, None);
        assert!(db.readiness.is_none() && db.ports.is_empty() && db.outputs.is_empty());
        assert_eq!(db.volumes["data"], "var/lib/data");
    }

    #[test]
    fn a_preset_takes_only_env_and_an_unknown_one_is_reported() {
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "resources:\n",
            "  db: {preset: postgres, ports: [5432], env: {POSTGRES_DB: app}}\n",
            "  kv: {preset: valkey-cluster}\n",
        ));
        assert_eq!(
            diags,
            [
                ("preset-field", "resources.db.ports".to_string()),
                ("unknown-preset", "resources.kv.preset".to_string()),
            ]
        );
        assert!(c.resources.is_empty());
    }

    #[test]
    fn remotes_are_addresses_or_context_names() {
        for ok in [
            "unix:///var/run/docker.sock",
            "tcp://10.0.0.5:2376",
            "ssh://deploy@prod.example.com",
            "ssh://h:2222",
            "prod-eu",
            "desktop-linux",
        ] {
            assert_eq!(check_remote(ok), Ok(()), "{ok}");
        }
        for bad in [
            "unix://relative.sock",
            "tcp://host",
            "tcp://host:0",
            "http://x:1",
            "ssh://",
            "-x",
            "a b",
            "",
        ] {
            assert!(check_remote(bad).is_err(), "{bad}");
        }
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "environments:\n",
            "  production: {remote: ssh://deploy@prod.example.com}\n",
            "  staging: {remote: tcp://10.0.0.5}\n",
            "  Bad: {}\n",
        ));
        assert_eq!(
            diags,
            [
                ("invalid-remote", "environments.staging.remote".to_string()),
                ("invalid-name", "environments.Bad".to_string()),
            ]
        );
        assert_eq!(
            c.environments["production"].remote.as_deref(),
            Some("ssh://deploy@prod.example.com")
        );
    }

    #[test]
    fn stop_grace_periods_are_whole_seconds_or_minutes() {
        for (text, want) in [
            ("30s", Some(30)),
            ("2m", Some(120)),
            ("1m30s", Some(90)),
            ("0s", Some(0)),
        ] {
            assert_eq!(parse_duration_secs(text), want, "{text}");
        }
        for text in [
            "", "s", "m", "30", "1h", "1.5s", "-3s", "1m30", "30s1m", " 30s",
        ] {
            assert_eq!(parse_duration_secs(text), None, "{text}");
        }
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "services:\n",
            "  a: {path: a, stopGracePeriod: 45}\n",
            "  b: {path: b, stopGracePeriod: 1m30s}\n",
            "  c: {path: c, stopGracePeriod: 2h}\n",
            "  d: {path: d, stopGracePeriod: 61m}\n",
        ));
        assert_eq!(
            diags,
            [
                ("invalid-duration", "services.c.stopGracePeriod".to_string()),
                ("invalid-duration", "services.d.stopGracePeriod".to_string()),
            ]
        );
        assert_eq!(c.services["a"].stop_grace_period, Some(45));
        assert_eq!(c.services["b"].stop_grace_period, Some(90));
    }

    #[test]
    fn keep_releases_is_0_to_20() {
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "services:\n",
            "  a: {path: a, keepReleases: 5}\n",
            "  b: {path: b, keepReleases: 0}\n",
            "  c: {path: c, keepReleases: 21}\n",
            "  d: {path: d}\n",
        ));
        assert_eq!(
            diags,
            [("out-of-range", "services.c.keepReleases".to_string())]
        );
        assert_eq!(c.services["a"].keep_releases, Some(5));
        assert_eq!(c.services["b"].keep_releases, Some(0));
        assert_eq!(c.services["d"].keep_releases, None);
    }

    #[test]
    fn readiness_takes_the_fields_of_its_type_and_nothing_else() {
        let (c, diags) = decoded(concat!(
            "name: demo\n",
            "services:\n",
            "  api:\n",
            "    path: api\n",
            "    readiness: {type: http, port: 8080, path: /health, expectStatus: 204, timeoutMs: 5000}\n",
            "  web:\n",
            "    path: web\n",
            "    readiness: {type: command, command: [wget, -q, localhost]}\n",
            "resources:\n",
            "  a: {image: x, readiness: {type: tcp, port: 1, path: /x}}\n",
            "  b: {image: x, readiness: {type: http, port: 80, path: health, expectStatus: 700}}\n",
            "  c: {image: x, readiness: {type: command, command: []}}\n",
            "  d: {image: x, readiness: {type: healthcheck, port: 5}}\n",
            "  e: {image: x, readiness: {type: http}}\n",
            "  f: {image: x, readiness: {type: healthcheck}}\n",
        ));
        assert_eq!(
            diags,
            [
                ("readiness-field", "resources.a.readiness.path".to_string()),
                ("readiness-field", "resources.b.readiness.path".to_string()),
                (
                    "readiness-field",
                    "resources.c.readiness.command".to_string()
                ),
                ("readiness-field", "resources.d.readiness.port".to_string()),
                ("missing-field", "resources.e.readiness".to_string()),
            ]
        );
        let api = c.services["api"].readiness.as_ref().unwrap();
        assert_eq!(
            (
                api.kind.as_str(),
                api.port,
                api.path.as_deref(),
                api.expect_status,
                api.timeout_ms
            ),
            ("http", Some(8080), Some("/health"), Some(204), 5000)
        );
        let web = c.services["web"].readiness.as_ref().unwrap();
        assert_eq!(web.command.as_ref().unwrap(), &["wget", "-q", "localhost"]);
        let f = c.resources["f"].readiness.as_ref().unwrap();
        assert_eq!((f.kind.as_str(), f.timeout_ms), ("healthcheck", 30_000));
        assert!(c.resources["a"].readiness.is_none() && c.resources["d"].readiness.is_none());
    }
}
