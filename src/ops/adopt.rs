//! Adopting, forgetting and renaming nodes of the state: `import ADDRESS
//! CONTAINER` records an existing container (and its volumes) as a declared
//! resource or service, `state rm ADDRESS` forgets a node without touching
//! Docker, `state mv OLD NEW` renames one, carrying everything that names
//! it (variables, bindings, schedules, backup records, dependencies) so the
//! seed's rename keeps its data. After an import or a move the next apply
//! brings the container under compartment's name (volumes reused, the old
//! container removed): a visible update, or nothing when it already
//! matches.

use super::error::OpsError;
use crate::docker::ContainerInfo;
use crate::state::{Applied, ResourceConfig, ResourceState, ServiceConfig, ServiceState, State};
use crate::workspace::Workspace;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

type Result<T, E = OpsError> = std::result::Result<T, E>;

/// `resource.db` → (`resource`, `db`).
fn parse(address: &str) -> Result<(&str, &str)> {
    match address.split_once('.') {
        Some((k @ ("resource" | "service" | "instance"), n))
            if !n.is_empty() && !n.contains('.') =>
        {
            Ok((k, n))
        }
        _ => Err(OpsError::BadAddress {
            address: address.into(),
        }),
    }
}

fn recorded(state: &State, kind: &str, name: &str) -> bool {
    match kind {
        "resource" => state.resources.contains_key(name) || state.creating.contains_key(name),
        "service" => state.services.contains_key(name),
        _ => state.instances.contains_key(name),
    }
}

/// What `state rm`, `state mv` and `import` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
    pub serial: u64,
}

/// `state rm ADDRESS`: the node's record goes; its container, volumes and
/// runtime variables stay where they are.
pub fn remove(ws: &mut Workspace, address: &str) -> Result<Changed> {
    let (kind, name) = parse(address)?;
    let _lock = ws.target.store.lock("state rm")?;
    let st = &mut ws.state;
    if !recorded(st, kind, name) {
        return Err(OpsError::NotInState {
            address: address.into(),
        });
    }
    match kind {
        "resource" => {
            st.resources.remove(name);
            // An interrupted create's intent goes too: its objects are
            // then refused, not adopted, by the next apply.
            st.creating.remove(name);
        }
        "service" => drop(st.services.remove(name)),
        _ => drop(st.instances.remove(name)),
    }
    ws.target.store.save(st)?;
    Ok(Changed {
        address: address.into(),
        to: None,
        container: None,
        volumes: BTreeMap::new(),
        serial: st.serial,
    })
}

/// Renames `from` to `to` in a set of addresses.
fn rename_dep(deps: &mut BTreeSet<String>, from: &str, to: &str) {
    if deps.remove(from) {
        deps.insert(to.into());
    }
}

fn move_key<V>(map: &mut BTreeMap<String, V>, from: &str, to: &str) {
    if let Some(v) = map.remove(from) {
        map.insert(to.into(), v);
    }
}

/// `state mv OLD NEW`: the same kind, a name not recorded yet.
pub fn rename(ws: &mut Workspace, old: &str, new: &str) -> Result<Changed> {
    let (kind, from) = parse(old)?;
    let (new_kind, to) = parse(new)?;
    if kind != new_kind {
        return Err(OpsError::MoveKind {
            from: old.into(),
            to: new.into(),
        });
    }
    let _lock = ws.target.store.lock("state mv")?;
    let st = &mut ws.state;
    if !recorded(st, kind, from) {
        return Err(OpsError::NotInState {
            address: old.into(),
        });
    }
    if recorded(st, kind, to) {
        return Err(OpsError::AlreadyInState {
            address: new.into(),
        });
    }
    match kind {
        "resource" => {
            move_key(&mut st.resources, from, to);
            move_key(&mut st.variables.resource, from, to);
            move_key(&mut st.schedules, from, to);
            move_key(&mut st.kept_volumes, from, to);
            move_key(&mut st.creating, from, to);
            for b in st.bindings.values_mut().flat_map(|m| m.values_mut()) {
                if b.resource == from {
                    b.resource = to.into();
                }
            }
            for b in st.backups.iter_mut().filter(|b| b.resource == from) {
                b.resource = to.into();
            }
        }
        "service" => {
            move_key(&mut st.services, from, to);
            move_key(&mut st.variables.service, from, to);
            move_key(&mut st.bindings, from, to);
        }
        _ => move_key(&mut st.instances, from, to),
    }
    for s in st.services.values_mut() {
        rename_dep(&mut s.applied.depends_on, old, new);
    }
    for r in st.resources.values_mut() {
        rename_dep(&mut r.applied.depends_on, old, new);
    }
    for i in st.instances.values_mut() {
        rename_dep(&mut i.depends_on, old, new);
    }
    ws.target.store.save(st)?;
    Ok(Changed {
        address: old.into(),
        to: Some(new.into()),
        container: None,
        volumes: BTreeMap::new(),
        serial: st.serial,
    })
}

/// The applied record of an imported container: its definition hash label
/// (none when compartment did not create it: the next plan updates it).
fn applied<D>(info: &ContainerInfo, definition: D) -> Applied<D> {
    Applied {
        definition,
        config_digest: info
            .labels
            .get(crate::docker::labels::DEFINITION_HASH)
            .cloned()
            .unwrap_or_default(),
        container_name: info.name.clone(),
        container_id: info.id.clone(),
        depends_on: BTreeSet::new(),
        applied_at: Some(crate::support::time::now_rfc3339()),
        applied_variables: None,
        variable_versions: None,
    }
}

/// The imported container's values of the resource's generated variables
/// the state does not hold, sealed into the state: its data was written
/// with them, so the next apply must keep them, not generate new ones.
fn adopt_generated(
    state: &mut State,
    project: &str,
    env: &str,
    name: &str,
    def: &crate::descriptor::model::ResourceDef,
    info: &ContainerInfo,
) -> Result<()> {
    let held = state.variables.resource.get(name);
    let missing: Vec<(&String, &String)> = def
        .generated_variables
        .keys()
        .filter(|k| held.is_none_or(|h| !h.contains_key(*k)))
        .filter_map(|k| info.env.get(k).map(|v| (k, v)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let key = crate::state::secrets::SecretKey::load_or_create()?;
    state.bind_key(&key)?;
    let vars = state.variables.resource.entry(name.into()).or_default();
    for (k, value) in missing {
        let identity = crate::apply::env::variable_identity(project, env, "resource", name, k);
        vars.insert(
            k.clone(),
            crate::state::Variable {
                sensitive: true,
                generated: true,
                value: None,
                sealed: Some(key.seal(&identity, value)),
            },
        );
    }
    Ok(())
}

/// `import ADDRESS CONTAINER`: the running container recorded as the
/// declared resource or service, with the named volumes mounted where the
/// declaration mounts its handles.
pub async fn import(ws: &mut Workspace, address: &str, container: &str) -> Result<Changed> {
    let (kind, name) = parse(address)?;
    let _lock = ws.target.store.lock("import")?;
    // An interrupted create's intent does not stand in the way: the import
    // replaces it with the record.
    let intent_only = kind == "resource" && !ws.state.resources.contains_key(name);
    if recorded(&ws.state, kind, name) && !intent_only {
        return Err(OpsError::AlreadyInState {
            address: address.into(),
        });
    }
    let docker = ws.connect().await?;
    let info = docker
        .inspect_container(container)
        .await?
        .ok_or_else(|| OpsError::NoContainer {
            name: container.into(),
        })?;
    let c = &ws.project.compartment;
    let mut volumes = BTreeMap::new();
    match kind {
        "resource" => {
            let def = c.resources.get(name).ok_or_else(|| OpsError::NotDeclared {
                address: address.into(),
            })?;
            for (handle, path) in &def.volumes {
                if let Some((source, _)) = info.mounts.iter().find(|(_, t)| t == path) {
                    volumes.insert(handle.clone(), source.clone());
                }
            }
            adopt_generated(
                &mut ws.state,
                &ws.project.compartment.name,
                &ws.env,
                name,
                def,
                &info,
            )?;
            let record = ResourceState {
                applied: applied(&info, ResourceConfig::from(def)),
                volumes: volumes.clone(),
                origin: Default::default(),
                node: None,
            };
            ws.state.resources.insert(name.into(), record);
            ws.state.creating.remove(name);
        }
        "service" => {
            let def = c.services.get(name).ok_or_else(|| OpsError::NotDeclared {
                address: address.into(),
            })?;
            let mut a = applied(&info, ServiceConfig::from(def));
            a.depends_on = def
                .connections
                .keys()
                .map(|r| format!("resource.{r}"))
                .collect();
            let record = ServiceState {
                applied: a,
                context_hash: String::new(),
                image: info.image.clone(),
                inputs: None,
                releases: Vec::new(),
            };
            ws.state.services.insert(name.into(), record);
        }
        _ => return Err(OpsError::ImportInstance),
    }
    ws.target.store.save(&mut ws.state)?;
    Ok(Changed {
        address: address.into(),
        to: None,
        container: Some(info.name.clone()),
        volumes,
        serial: ws.state.serial,
    })
}
