//! What one plan node does against the engine: a resource (generated
//! variables, image, volumes, container, readiness), a service (build, run,
//! ingress readiness), an instance (lifecycle hooks). Each step returns the
//! state updates it earned, also when it fails part-way (a generated
//! variable, once made, is kept).

use super::env;
use super::error::StepError;
use super::hooks;
use super::naming;
use super::progress::Progress;
use crate::descriptor::model::{Readiness, ResourceDef, DEFAULT_STOP_GRACE_SECS};
use crate::docker::{labels, ContainerSpec, Docker, Mount, Probe, Replication};
use crate::plan::{Action, Change};
use crate::project::Project;
use crate::state::secrets::SecretKey;
use crate::state::{
    Applied, HookResult, InstanceState, Origin, ResourceConfig, ResourceState, ServiceConfig,
    ServiceState, State, Variable,
};
use crate::support::time::now_rfc3339;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// One change to the state, produced by a step and applied by the executor.
#[derive(Clone, Debug)]
pub enum Update {
    SetResourceVariable {
        resource: String,
        key: String,
        variable: Variable,
    },
    PutResource(String, Box<ResourceState>),
    /// A deleted resource: its record and schedule go; its runtime
    /// variables stay with kept volumes (the data stays readable if it is
    /// declared again) and go with deleted ones.
    RemoveResource {
        name: String,
        /// Volume handle → Docker volume kept (none: the data is gone).
        kept: BTreeMap<String, String>,
    },
    PutService(String, Box<ServiceState>),
    RemoveService(String),
    PutInstance {
        global: bool,
        name: String,
        instance: Box<InstanceState>,
    },
    RemoveInstance {
        global: bool,
        name: String,
    },
}

impl Update {
    pub fn apply(self, state: &mut State, global: &mut State) {
        match self {
            Update::SetResourceVariable {
                resource,
                key,
                variable,
            } => {
                state
                    .variables
                    .resource
                    .entry(resource)
                    .or_default()
                    .insert(key, variable);
            }
            Update::PutResource(n, r) => {
                state.kept_volumes.remove(&n);
                state.creating.remove(&n);
                state.resources.insert(n, *r);
            }
            Update::RemoveResource { name, kept } => {
                state.resources.remove(&name);
                state.creating.remove(&name);
                state.schedules.remove(&name);
                if kept.is_empty() {
                    state.variables.resource.remove(&name);
                    state.kept_volumes.remove(&name);
                } else {
                    state.kept_volumes.insert(name, kept);
                }
            }
            Update::PutService(n, s) => {
                state.services.insert(n, *s);
            }
            Update::RemoveService(n) => {
                state.services.remove(&n);
            }
            Update::PutInstance {
                global: g,
                name,
                instance,
            } => {
                if g { global } else { state }
                    .instances
                    .insert(name, *instance);
            }
            Update::RemoveInstance { global: g, name } => {
                if g { global } else { state }.instances.remove(&name);
            }
        }
    }
}

/// What a finished step reports.
pub struct StepResult {
    /// Saved also when the step failed part-way.
    pub updates: Vec<Update>,
    /// What the step did, or why it failed.
    pub outcome: Result<StepOutcome, StepError>,
    /// Non-fatal problems (a failed lifecycle hook).
    pub warnings: Vec<String>,
}

impl StepResult {
    /// Records the step's updates in `state`, for a step run outside apply
    /// (`restore`, `restore --as`, `backup verify`), which keeps no
    /// environment-wide (global) state of its own.
    pub fn apply_to(&mut self, state: &mut State) {
        let mut global = State::default();
        for u in self.updates.drain(..) {
            u.apply(state, &mut global);
        }
    }
}

impl StepResult {
    fn failed(updates: Vec<Update>, error: impl Into<StepError>, warnings: Vec<String>) -> Self {
        StepResult {
            updates,
            outcome: Err(error.into()),
            warnings,
        }
    }
}

/// What a successful step did, for progress and the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    Created,
    /// Updated; `recreated` when the container was recreated (volumes kept).
    Updated {
        recreated: bool,
    },
    Replaced,
    Deleted,
    /// Planned as unchanged, but its container had to be recreated.
    Recreated,
    /// A service's new container started beside the old one, which was
    /// stopped once the new one was ready.
    StartedFirst {
        replaced: bool,
    },
    Unchanged,
}

impl StepOutcome {
    /// Counted among the updates of the summary.
    pub fn is_update(self) -> bool {
        matches!(
            self,
            StepOutcome::Updated { .. }
                | StepOutcome::Recreated
                | StepOutcome::StartedFirst { replaced: false }
        )
    }

    /// Counted among the replacements of the summary.
    pub fn is_replace(self) -> bool {
        matches!(
            self,
            StepOutcome::Replaced | StepOutcome::StartedFirst { replaced: true }
        )
    }

    fn of(action: Action, recreated: bool) -> StepOutcome {
        match action {
            Action::Create => StepOutcome::Created,
            Action::Update => StepOutcome::Updated { recreated },
            Action::Replace => StepOutcome::Replaced,
            Action::Delete => StepOutcome::Deleted,
            Action::NoOp if recreated => StepOutcome::Recreated,
            Action::NoOp => StepOutcome::Unchanged,
        }
    }
}

impl std::fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepOutcome::Created => "created",
            StepOutcome::Updated { recreated: true } => {
                "updated (container recreated, volumes kept)"
            }
            StepOutcome::Updated { recreated: false } => "updated in place",
            StepOutcome::Replaced => "replaced (volumes kept)",
            StepOutcome::Deleted => "deleted",
            StepOutcome::Recreated => "recreated",
            StepOutcome::StartedFirst { replaced: true } => {
                "replaced (the new container started beside the old one)"
            }
            StepOutcome::StartedFirst { replaced: false } => {
                "updated (the new container started beside the old one)"
            }
            StepOutcome::Unchanged => "unchanged",
        })
    }
}

/// Everything a step may read.
pub struct Shared {
    pub docker: Docker,
    pub project: Project,
    pub env: String,
    pub key: SecretKey,
    pub network: String,
    pub progress: Progress,
    /// Images already checked (or pulled) during this run: each is asked
    /// for once, not once per container.
    checked_images: tokio::sync::Mutex<BTreeSet<String>>,
}

impl Shared {
    pub fn new(
        docker: Docker,
        project: Project,
        env: String,
        key: SecretKey,
        progress: Progress,
    ) -> Shared {
        let network = naming::network(&project.compartment.name, &env);
        Shared {
            docker,
            project,
            env,
            key,
            network,
            progress,
            checked_images: Default::default(),
        }
    }

    pub fn project_name(&self) -> &str {
        &self.project.compartment.name
    }

    /// Makes sure `image` is present (pulling it if needed), once per run.
    pub async fn ensure_image(&self, image: &str) -> Result<(), crate::docker::DockerError> {
        let mut checked = self.checked_images.lock().await;
        if !checked.contains(image) {
            self.docker.ensure_image(image).await?;
            checked.insert(image.to_string());
        }
        Ok(())
    }
}

pub use crate::state::variables_digest;

/// A hash of what defines a container: recorded as a label and in the
/// state, compared to decide whether a container must be recreated and to
/// detect drift. Values enter only hashed.
pub fn config_hash(spec: &ContainerSpec) -> String {
    let mut env = BTreeMap::new();
    for (k, v) in &spec.env {
        env.insert(k.clone(), crate::support::digest::sha256_hex(v.as_bytes()));
    }
    let mounts: Vec<String> = spec
        .mounts
        .iter()
        .map(|m| format!("{:?}:{}:{}", m.source, m.target, m.read_only))
        .collect();
    let v = serde_json::json!({
        "image": spec.image, "entrypoint": spec.entrypoint, "command": spec.command, "env": env,
        "network": spec.network, "aliases": spec.aliases, "mounts": mounts, "ports": spec.exposed_ports,
        "restart": spec.restart, "workdir": spec.working_dir,
    });
    // Only when set, so the hashes of containers made before it existed hold.
    let mut v = v;
    if let Some(t) = spec.stop_timeout {
        v["stopTimeout"] = t.into();
    }
    if !spec.secret_files.is_empty() {
        let files: BTreeMap<&String, &String> = spec
            .secret_files
            .iter()
            .map(|(name, f)| (name, &f.version))
            .collect();
        v["secretFiles"] = serde_json::json!(files);
    }
    if let Some(r) = &spec.replication {
        v["replication"] = serde_json::json!({
            "replicas": r.replicas, "constraints": r.constraints,
            "startFirst": r.start_first, "health": r.health,
        });
    }
    crate::support::digest::sha256_hex(v.to_string().as_bytes())[..32].to_string()
}

/// Starts the container of `spec`, or keeps the existing one when it runs
/// the same configuration. Returns (container id, recreated?).
pub(super) async fn converge_container(
    sh: &Shared,
    address: &str,
    mut spec: ContainerSpec,
    action: Action,
) -> Result<(String, String, bool), StepError> {
    let hash = config_hash(&spec);
    spec.labels
        .insert(labels::DEFINITION_HASH.into(), hash.clone());
    let force = action == Action::Replace;
    if sh.docker.on_swarm() {
        return super::swarm::converge_service(sh, address, spec, &hash, force).await;
    }
    if action == Action::Create {
        // Usually nothing is there yet: create directly, and look only when
        // a container of that name already exists.
        sh.progress.step(address, "starting the container");
        match sh.docker.create_and_start(&spec).await {
            Ok(id) => return Ok((id, hash, true)),
            Err(crate::docker::DockerError::ContainerExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let existing = sh.docker.inspect_container(&spec.name).await?;
    if let Some(c) = &existing {
        if !force && current(sh, c, &spec, &hash).await? {
            if c.running {
                return Ok((c.id.clone(), hash, false));
            }
            sh.progress.step(address, "starting the stopped container");
            // One that cannot start (its network was removed, say) is
            // recreated: its volumes are kept.
            if sh.docker.start_container(&spec.name).await.is_ok() {
                return Ok((c.id.clone(), hash, false));
            }
        }
        sh.progress.step(address, "removing the old container");
        sh.docker.stop_container(&spec.name, 10).await.ok();
        sh.docker.remove_container(&spec.name, true).await?;
    }
    sh.progress.step(address, "starting the container");
    let id = sh.docker.create_and_start(&spec).await?;
    Ok((id, hash, true))
}

/// Whether the existing container `c` is what `spec` (whose configuration
/// digest is `hash`) would create: the same configuration label, the image
/// `spec.image` names now (not one the tag named before), and, when it
/// runs, on the environment network.
async fn current(
    sh: &Shared,
    c: &crate::docker::ContainerInfo,
    spec: &ContainerSpec,
    hash: &str,
) -> Result<bool, StepError> {
    if c.labels.get(labels::DEFINITION_HASH).map(String::as_str) != Some(hash) {
        return Ok(false);
    }
    let image = sh.docker.image_id(&spec.image).await?;
    if image.is_some_and(|id| !c.image_id.is_empty() && c.image_id != id) {
        return Ok(false);
    }
    let attached = |net: &String| c.ip_addresses.contains_key(net) || c.aliases.contains_key(net);
    Ok(!c.running || spec.network.as_ref().is_none_or(attached))
}

/// A node recorded with another container (imported, or renamed by `state
/// mv`): that container is stopped and removed before compartment's own
/// starts, so two never write the same volume.
async fn retire_renamed(
    sh: &Shared,
    address: &str,
    recorded: Option<&str>,
    cname: &str,
) -> Result<(), StepError> {
    let Some(old) = recorded.filter(|o| !o.is_empty() && *o != cname) else {
        return Ok(());
    };
    sh.progress
        .step(address, &format!("removing the previous container {old}"));
    sh.docker.stop_container(old, 10).await.ok();
    sh.docker.remove_container(old, true).await?;
    Ok(())
}

/// How long apply waits for an image's own `HEALTHCHECK` when no
/// `readiness:` is declared: Docker runs the first check only after the
/// check's interval (30 s by default).
pub const HEALTHCHECK_TIMEOUT_MS: u64 = 120_000;
/// How long a service's ingress port is waited for when no `readiness:` is
/// declared.
pub const INGRESS_TIMEOUT_MS: u64 = 30_000;

/// The probe a `readiness:` block asks for, and its time limit.
pub fn declared_probe(r: &Readiness) -> (Probe, u64) {
    let probe = match r.kind.as_str() {
        "http" => Probe::Http {
            port: r.port.unwrap_or(80),
            path: r.path.clone().unwrap_or_else(|| "/".into()),
            expect: r.expect_status,
        },
        "command" => Probe::Command(r.command.clone().unwrap_or_default()),
        "healthcheck" => Probe::Health,
        _ => Probe::Tcp {
            port: r.port.unwrap_or(0),
        },
    };
    (probe, r.timeout_ms)
}

/// What a new container is waited for: the declared `readiness:`, else the
/// image's own `HEALTHCHECK` (as Swarm does), else a TCP connection to the
/// service's ingress port; `None` when there is nothing to wait for.
pub async fn readiness_probe(
    sh: &Shared,
    container: &str,
    declared: Option<&Readiness>,
    ingress: Option<u16>,
) -> Result<Option<(Probe, u64)>, StepError> {
    if let Some(r) = declared {
        // On a swarm, a command is the tasks' health check (it runs where
        // they run): a running task has passed it.
        if sh.docker.on_swarm() && r.kind == "command" {
            return Ok(Some((Probe::Health, r.timeout_ms)));
        }
        return Ok(Some(declared_probe(r)));
    }
    if sh.docker.has_healthcheck(container).await? {
        return Ok(Some((Probe::Health, HEALTHCHECK_TIMEOUT_MS)));
    }
    Ok(ingress.map(|port| (Probe::Tcp { port }, INGRESS_TIMEOUT_MS)))
}

/// Waits until `container` passes `probe`, saying what it waits for.
pub async fn wait_ready(
    sh: &Shared,
    address: &str,
    container: &str,
    (probe, timeout_ms): &(Probe, u64),
) -> Result<(), StepError> {
    sh.progress.step(
        address,
        &format!(
            "waiting for {} (up to {:.0}s)",
            probe.describe(),
            *timeout_ms as f64 / 1000.0
        ),
    );
    sh.docker
        .wait_probe(
            container,
            &sh.network,
            probe,
            Duration::from_millis(*timeout_ms),
        )
        .await
        .map(|_| ())
        .map_err(StepError::NotReady)
}

pub async fn resource(sh: Arc<Shared>, state: Arc<State>, change: Change) -> StepResult {
    if change.action == Action::Delete {
        return delete_resource(&sh, &state, &change).await;
    }
    let def = sh.project.compartment.resources[&change.name].clone();
    let origin = state
        .resources
        .get(&change.name)
        .map(|r| r.origin)
        .unwrap_or(Origin::Descriptor);
    converge_resource(&sh, &state, &change.name, def, change.action, origin).await
}

/// A destroy's resource node: the container goes, and each named volume
/// as the plan says (`delete` only with `--delete-data`).
async fn delete_resource(sh: &Shared, state: &State, change: &Change) -> StepResult {
    let cname = change
        .container
        .clone()
        .unwrap_or_else(|| naming::container(sh.project_name(), &sh.env, &change.name));
    sh.progress.start(&change.address, "removing the container");
    if let Err(e) = sh.docker.remove_container(&cname, true).await {
        return StepResult::failed(vec![], e, vec![]);
    }
    for (volume, fate) in &change.volumes {
        if fate == "delete" {
            sh.progress
                .step(&change.address, &format!("deleting volume {volume}"));
            let of = (sh.project_name(), sh.env.as_str(), change.name.as_str());
            let recorded = state.resources.get(&change.name);
            let removed = super::swarm::remove_resource_volume(&sh.docker, of, recorded, volume);
            if let Err(e) = removed.await {
                return StepResult::failed(vec![], e, vec![]);
            }
        }
    }
    let handles = state
        .resources
        .get(&change.name)
        .map(|r| r.volumes.clone())
        .or_else(|| state.kept_volumes.get(&change.name).cloned())
        .or_else(|| state.creating.get(&change.name).map(|c| c.volumes.clone()))
        .unwrap_or_default();
    let kept = handles
        .into_iter()
        .filter(|(_, v)| change.volumes.get(v).is_some_and(|f| f == "keep"))
        .collect();
    // A container the state never recorded: nothing of the state goes.
    if change.container.is_some() {
        return StepResult {
            updates: vec![],
            outcome: Ok(StepOutcome::Deleted),
            warnings: vec![],
        };
    }
    StepResult {
        updates: vec![Update::RemoveResource {
            name: change.name.clone(),
            kept,
        }],
        outcome: Ok(StepOutcome::Deleted),
        warnings: vec![],
    }
}

/// Generates (and seals) the resource's generated variables that do not
/// exist yet, adding them to `vars`; the updates record them in the state.
/// Apply has already made them before any node ran ([`super::intent`]);
/// `restore --as` and `backup verify` make them here.
fn generate_variables(
    sh: &Shared,
    name: &str,
    def: &ResourceDef,
    vars: &mut Option<BTreeMap<String, Variable>>,
) -> Vec<Update> {
    if def.generated_variables.is_empty() {
        return Vec::new();
    }
    let all = vars.get_or_insert_default();
    let before: BTreeSet<String> = all.keys().cloned().collect();
    if !super::intent::generate(&sh.key, sh.project_name(), &sh.env, name, def, all) {
        return Vec::new();
    }
    all.iter()
        .filter(|(k, _)| !before.contains(*k))
        .map(|(key, variable)| Update::SetResourceVariable {
            resource: name.to_string(),
            key: key.clone(),
            variable: variable.clone(),
        })
        .collect()
}

/// Moves the generated variables declared `file: true` out of the
/// environment into `/run/secrets/<NAME>`, with `<NAME>_FILE` naming it.
fn secret_files(
    def: &ResourceDef,
    vars: Option<&BTreeMap<String, Variable>>,
    spec: &mut ContainerSpec,
) {
    for (name, g) in &def.generated_variables {
        let (true, Some(var)) = (g.file, vars.and_then(|v| v.get(name))) else {
            continue;
        };
        let Some(content) = spec.env.remove(name) else {
            continue;
        };
        spec.env
            .insert(format!("{name}_FILE"), format!("/run/secrets/{name}"));
        let version = crate::state::variable_version(var);
        spec.secret_files
            .insert(name.clone(), crate::docker::SecretFile { content, version });
    }
}

/// Brings one resource to `def`: generated variables, image, volumes,
/// container, readiness. Used by apply and by `restore --as`.
pub async fn converge_resource(
    sh: &Shared,
    state: &State,
    name: &str,
    def: ResourceDef,
    action: Action,
    origin: Origin,
) -> StepResult {
    let name = name.to_string();
    let address = format!("resource.{name}");
    let p = sh.project_name().to_string();
    // Only this resource's variables are read (and extended), never a copy
    // of the whole state.
    let mut vars = state.variables.resource.get(&name).cloned();
    sh.progress.start(&address, "preparing");
    let mut updates = generate_variables(sh, &name, &def, &mut vars);
    let fail = |updates, e: StepError| StepResult::failed(updates, e, vec![]);
    let runtime = match env::resource_env(&p, &sh.env, &name, &def, vars.as_ref(), Some(&sh.key)) {
        Ok(e) => e,
        Err(e) => return fail(updates, e.into()),
    };
    sh.progress
        .step(&address, &format!("checking image {}", def.image));
    if let Err(e) = sh.ensure_image(&def.image).await {
        return fail(updates, e.into());
    }
    let cname = naming::container(&p, &sh.env, &name);
    let mut spec = ContainerSpec::new(cname.clone(), def.image.clone());
    spec.command = def.command.clone();
    spec.env = runtime;
    secret_files(&def, vars.as_ref(), &mut spec);
    spec.labels = labels::standard(&p, &sh.env, labels::KIND_RESOURCE, &name);
    spec.network = Some(sh.network.clone());
    spec.aliases = vec![naming::resource_host(&p, &sh.env, &name)];
    spec.exposed_ports = def.ports.clone();
    spec.restart = Some(def.restart.clone());
    let mut volumes = BTreeMap::new();
    // Volumes recorded for the resource (an import, a `state mv`, a kept
    // destroy) are reused under their recorded names: that is its data.
    let recorded = state
        .resources
        .get(&name)
        .map(|r| r.volumes.clone())
        .or_else(|| state.kept_volumes.get(&name).cloned())
        .unwrap_or_default();
    for (handle, target) in &def.volumes {
        let vname = recorded
            .get(handle)
            .cloned()
            .unwrap_or_else(|| naming::volume(&p, &sh.env, &name, handle));
        let mut vlabels = labels::standard(&p, &sh.env, labels::KIND_VOLUME, &name);
        vlabels.insert("io.compartment.volume-handle".into(), handle.clone());
        if let Err(e) = sh.docker.ensure_volume(&vname, &vlabels).await {
            return fail(updates, e.into());
        }
        spec.mounts
            .push(Mount::volume(vname.clone(), target.clone()));
        volumes.insert(handle.clone(), vname);
    }
    let prior = state
        .resources
        .get(&name)
        .map(|r| r.applied.container_name.as_str());
    if let Err(e) = retire_renamed(sh, &address, prior, &cname).await {
        return fail(updates, e);
    }
    let node = match super::swarm::place_resource(sh, state, &name, &def, &mut spec).await {
        Ok(n) => n,
        Err(e) => return fail(updates, e),
    };
    let (id, hash, recreated) = match converge_container(sh, &address, spec, action).await {
        Ok(x) => x,
        Err(e) => return fail(updates, e),
    };
    let ready = match readiness_probe(sh, &cname, def.readiness.as_ref(), None).await {
        Ok(p) => p,
        Err(e) => return fail(updates, e),
    };
    if let Some(probe) = &ready {
        if let Err(e) = wait_ready(sh, &address, &cname, probe).await {
            return fail(updates, e);
        }
    }
    let scope: BTreeMap<String, BTreeMap<String, Variable>> =
        vars.map(|v| (name.clone(), v)).into_iter().collect();
    let applied_variables = Some(variables_digest(&scope, &name, None));
    let variable_versions = Some(crate::state::variable_versions(&scope, &name, None));
    updates.push(Update::PutResource(
        name.clone(),
        Box::new(ResourceState {
            applied: Applied {
                definition: ResourceConfig::from(&def),
                config_digest: hash,
                container_name: cname,
                container_id: id,
                depends_on: BTreeSet::new(),
                applied_at: Some(now_rfc3339()),
                applied_variables,
                variable_versions,
            },
            volumes,
            origin,
            node,
        }),
    ));
    StepResult {
        updates,
        outcome: Ok(StepOutcome::of(action, recreated)),
        warnings: vec![],
    }
}

/// What a lifecycle hook is about.
struct HookTarget<'a> {
    address: &'a str,
    instance: &'a str,
    type_id: &'a str,
    body: &'a serde_json::Value,
}

/// Sends one lifecycle hook to its service's standard ingress. Returns the
/// result to record (none when it could not be sent at all) and a warning
/// for a hook that was not sent or failed; never retried.
async fn fire_hook(
    sh: &Shared,
    state: &State,
    hook: &crate::plan::Hook,
    target: HookTarget<'_>,
) -> Result<(Option<HookResult>, Option<String>), StepError> {
    let p = sh.project_name();
    let svc = sh.project.compartment.services.get(&hook.service);
    let Some(port) = svc.and_then(|s| s.ingress.as_ref()).map(|i| i.port) else {
        let warning = format!(
            "{} hook not sent: service `{}` has no standard ingress",
            hook.operation, hook.service
        );
        return Ok((None, Some(warning)));
    };
    let cname = naming::container(p, &sh.env, &hook.service);
    let Some(ip) = sh.docker.container_ip(&cname, &sh.network).await? else {
        let r = HookResult {
            operation: hook.operation.clone(),
            method: hook.method.clone(),
            url: format!("http://{}:{port}{}", hook.service, hook.path),
            status: None,
            ok: false,
            error: Some(format!("service `{}` is not running", hook.service)),
            at: now_rfc3339(),
        };
        let warning = format!(
            "{} hook {} {} failed: {}",
            r.operation,
            r.method,
            r.url,
            r.error.clone().unwrap_or_default()
        );
        return Ok((Some(r), Some(warning)));
    };
    let secret = hook_secret(sh, state, &hook.service)?;
    let body = hooks::body_bytes(target.body);
    let req = hooks::HookRequest {
        ip: &ip,
        port,
        path: &hook.path,
        method: &hook.method,
        claims: hooks::claims(
            p,
            &sh.env,
            &hook.service,
            target.type_id,
            target.instance,
            &hook.operation,
            &body,
        ),
        body,
        secret: secret.as_bytes(),
    };
    sh.progress
        .step(target.address, &format!("{} {}", hook.method, hook.path));
    let r = hooks::fire(&sh.docker, &sh.network, req).await;
    let warning = (!r.ok).then(|| {
        format!(
            "{} hook {} {} failed: {} (recorded; not retried)",
            r.operation,
            r.method,
            r.url,
            r.error.clone().unwrap_or_default()
        )
    });
    Ok((Some(r), warning))
}

/// The state update of an instance step: its stored form, or its removal.
fn instance_update(
    change: &Change,
    desired: Option<crate::platz::instances::Instance>,
    last_hook: Option<HookResult>,
    prior_values: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Update {
    let name = change.name.clone();
    let Some(d) = desired.filter(|_| change.action != Action::Delete) else {
        return Update::RemoveInstance {
            global: change.global,
            name,
        };
    };
    let (values, properties) = crate::platz::instances::stored_form(
        &d.values,
        &d.properties,
        &d.sensitive_inputs,
        prior_values,
    );
    Update::PutInstance {
        global: change.global,
        name,
        instance: Box::new(InstanceState {
            type_id: d.type_id,
            values,
            properties,
            depends_on: change.depends_on.iter().cloned().collect(),
            sensitive_inputs: d.sensitive_inputs,
            last_hook,
            applied_at: Some(now_rfc3339()),
        }),
    }
}

/// The hook secret of `service`: derived from the environment's secret
/// (sealed in the state), so no service knows another's.
pub fn hook_secret(sh: &Shared, state: &State, service: &str) -> Result<String, StepError> {
    let sealed = state.hook_secret.as_ref().ok_or(StepError::NoHookSecret)?;
    let environment = sh.key.open(
        &env::hook_secret_identity(sh.project_name(), &sh.env),
        sealed,
    )?;
    Ok(hooks::service_secret(&environment, service))
}

/// Builds the service's image unless an image of that context hash exists;
/// `build.env` keys without a literal value take the runtime value.
async fn ensure_service_image(
    sh: &Shared,
    address: &str,
    name: &str,
    image: &str,
    runtime: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    if !sh.docker.image_exists(image).await? {
        build_service_image(sh, address, name, image, runtime).await?;
    }
    // Every node of a swarm pulls it from the registry (a push of layers
    // the registry has is quick).
    if sh.docker.on_swarm() {
        sh.progress.step(address, &format!("pushing {image}"));
        sh.docker.push_image(image).await?;
    }
    Ok(())
}

/// Builds the service's image `image` from its context.
async fn build_service_image(
    sh: &Shared,
    address: &str,
    name: &str,
    image: &str,
    runtime: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    sh.progress.step(address, &format!("building {image}"));
    let def = &sh.project.compartment.services[name];
    let args: BTreeMap<String, String> = def
        .build
        .env
        .iter()
        .map(|(k, v)| {
            let value = v.clone().or_else(|| runtime.get(k).cloned());
            (k.clone(), value.unwrap_or_default())
        })
        .collect();
    let p = sh.project_name();
    let blabels = labels::standard(p, &sh.env, labels::KIND_SERVICE, name);
    sh.docker
        .build_image(&sh.project.root.join(&def.path), image, &args, &blabels)
        .await?;
    Ok(())
}

pub async fn service(sh: Arc<Shared>, state: Arc<State>, change: Change) -> StepResult {
    let name = change.name.clone();
    let address = change.address.clone();
    let p = sh.project_name().to_string();
    let cname = naming::container(&p, &sh.env, &name);
    let fail = |e: StepError| StepResult::failed(vec![], e, vec![]);
    if change.action == Action::Delete {
        sh.progress.start(&address, "removing the container");
        let stray = change.container.as_ref();
        if let Err(e) = sh
            .docker
            .remove_container(stray.unwrap_or(&cname), true)
            .await
        {
            return fail(e.into());
        }
        return StepResult {
            // A container the state never recorded: nothing of it goes.
            updates: match stray {
                Some(_) => vec![],
                None => vec![Update::RemoveService(name)],
            },
            outcome: Ok(StepOutcome::Deleted),
            warnings: vec![],
        };
    }
    sh.progress.start(&address, "preparing");
    let source = match super::releases::source(&sh, &state, &change).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let (def, context, image) = (source.def, source.context, source.image);
    let mut runtime = match env::service_env(
        &p,
        &sh.env,
        &name,
        &def,
        &sh.project.compartment.resources,
        &state,
        Some(&sh.key),
    ) {
        Ok(e) => e,
        Err(e) => return fail(e.into()),
    };
    if !source.rollback {
        if let Err(e) = ensure_service_image(&sh, &address, &name, &image, &runtime).await {
            return fail(e);
        }
    }
    if sh.project.receives_hooks(&name) {
        match hook_secret(&sh, &state, &name) {
            Ok(s) => {
                runtime.insert("COMPARTMENT_HOOK_SECRET".into(), s);
            }
            Err(e) => return fail(e),
        }
    }
    let mut spec = ContainerSpec::new(cname.clone(), image.clone());
    spec.env = runtime;
    spec.labels = labels::standard(&p, &sh.env, labels::KIND_SERVICE, &name);
    spec.network = Some(sh.network.clone());
    spec.aliases = vec![naming::service_host(&p, &sh.env, &name)];
    spec.exposed_ports = def.ingress.iter().map(|i| i.port).collect();
    spec.restart = Some("unless-stopped".into());
    spec.replication = sh.docker.on_swarm().then(|| Replication {
        replicas: u64::from(def.replicas.unwrap_or(1)),
        constraints: Vec::new(),
        start_first: true,
        health: super::swarm::health_command(def.readiness.as_ref()),
    });
    let prior = state
        .services
        .get(&name)
        .map(|s| s.applied.container_name.as_str());
    if let Err(e) = retire_renamed(&sh, &address, prior, &cname).await {
        return fail(e);
    }
    let how = super::rollout::Rollout {
        declared: def.readiness.as_ref(),
        ingress: def.ingress.as_ref().map(|i| i.port),
        grace_secs: def.stop_grace_period.unwrap_or(DEFAULT_STOP_GRACE_SECS),
    };
    let converged =
        super::rollout::service_container(&sh, &address, spec, change.action, &how).await;
    let (id, hash, recreated, started_first) = match converged {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let outcome = match started_first {
        true => StepOutcome::StartedFirst {
            replaced: change.action == Action::Replace,
        },
        false => StepOutcome::of(change.action, recreated),
    };
    let deps: BTreeSet<String> = change.depends_on.iter().cloned().collect();
    let applied_variables = Some(crate::state::service_variables_digest(
        &state.variables.service,
        &name,
        state.bindings.get(&name),
        sh.project.receives_hooks(&name),
    ));
    let variable_versions = Some(crate::state::variable_versions(
        &state.variables.service,
        &name,
        state.bindings.get(&name),
    ));
    let definition = ServiceConfig::from(&def);
    let prior = state.services.get(&name);
    let (releases, warnings) = super::releases::record(
        &sh,
        prior,
        (&image, &context),
        &definition,
        &change.prune_images,
    )
    .await;
    let st = ServiceState {
        releases,
        applied: Applied {
            definition,
            config_digest: hash,
            container_name: cname,
            container_id: id,
            depends_on: deps,
            applied_at: Some(now_rfc3339()),
            applied_variables,
            variable_versions,
        },
        context_hash: context,
        image,
        inputs: Some(crate::plan::planner::inputs::service_inputs(
            &sh.project,
            &sh.env,
            &state,
            &name,
        )),
    };
    StepResult {
        updates: vec![Update::PutService(name, Box::new(st))],
        outcome: Ok(outcome),
        warnings,
    }
}

pub async fn instance(
    sh: Arc<Shared>,
    state: Arc<State>,
    global: Arc<State>,
    change: Change,
) -> StepResult {
    let name = change.name.clone();
    let address = change.address.clone();
    sh.progress.start(
        &address,
        if change.hooks.is_empty() {
            "writing"
        } else {
            "calling lifecycle hooks"
        },
    );
    let prior = if change.global {
        global.instances.get(&name)
    } else {
        state.instances.get(&name)
    }
    .cloned();
    let desired = sh.project.instances.get(&name).cloned();
    let mut warnings = Vec::new();
    let mut last_hook: Option<HookResult> = prior.as_ref().and_then(|i| i.last_hook.clone());
    for hook in &change.hooks {
        let (type_id, body) = match (hook.operation.as_str(), &desired, &prior) {
            ("delete", _, Some(pr)) => (
                pr.type_id.clone(),
                serde_json::Value::Object(pr.properties.clone()),
            ),
            (_, Some(d), _) => (
                d.type_id.clone(),
                serde_json::Value::Object(d.properties.to_map()),
            ),
            _ => continue,
        };
        let target = HookTarget {
            address: &address,
            instance: &name,
            type_id: &type_id,
            body: &body,
        };
        match fire_hook(&sh, &state, hook, target).await {
            Ok((result, warning)) => {
                warnings.extend(warning);
                if result.is_some() {
                    last_hook = result;
                }
            }
            Err(e) => return StepResult::failed(vec![], e, warnings),
        }
    }
    let update = instance_update(
        &change,
        desired,
        last_hook,
        prior.as_ref().map(|p| &p.values),
    );
    StepResult {
        updates: vec![update],
        outcome: Ok(StepOutcome::of(change.action, false)),
        warnings,
    }
}
