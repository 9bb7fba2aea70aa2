//! A sandbox for plan and state tests: a temporary copy of a fixture project
//! that can be edited, and a state written through the library as if the
//! project had been applied (the apply engine is not needed for that).
//!
//! States written here have a fixed lineage and no timestamps, so plan output
//! is deterministic and can be compared with golden files.

// Not every helper is used by every test module.
#![allow(dead_code)]

use crate::test::{fixture, Test};
use compartment::state::secrets::SecretKey;
use compartment::state::store::StateStore;
use compartment::state::{
    json_digest, Applied, Binding, InstanceState, ResourceConfig, ResourceState, ServiceConfig,
    ServiceState, State, Variable,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The lineage of every state the sandbox writes.
pub const LINEAGE: &str = "5eed0000-c0de-4a11-8bad-f00d00c0ffee";
/// The secret key (COMPARTMENT_SECRET_KEY) the sandbox seals with.
pub const KEY: &str = "integration-test-secret-key";
pub const ENV: &str = "production";

/// The plaintext the sandbox stores (sealed) for a generated variable.
pub fn secret_value(resource: &str, key: &str) -> String {
    format!("PLAINTEXT-{resource}-{key}-d0n0tl3ak")
}

pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    /// A copy of `fixtures/<rel>`.
    pub fn copy(rel: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&fixture(rel), dir.path());
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.file(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }

    /// Replaces `from` (which must occur exactly once) by `to` in `rel`.
    pub fn edit(&self, rel: &str, from: &str, to: &str) -> &Self {
        let text = self.read(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur exactly once in {rel}"
        );
        self.write(rel, &text.replacen(from, to, 1));
        self
    }

    /// The real binary, run in the sandbox with the test key configured and
    /// an empty config directory (no key file from the user running tests).
    pub fn cmd(&self) -> Test {
        Test::new(self.path())
            .env("COMPARTMENT_SECRET_KEY", KEY)
            .env(
                "XDG_CONFIG_HOME",
                &self.file(".config").display().to_string(),
            )
            .env("HOME", &self.path().display().to_string())
    }

    /// The binary with NO key: neither COMPARTMENT_SECRET_KEY nor a key file.
    pub fn cmd_without_key(&self) -> Test {
        Test::new(self.path())
            .env(
                "XDG_CONFIG_HOME",
                &self.file(".config").display().to_string(),
            )
            .env("HOME", &self.path().display().to_string())
    }

    pub fn store(&self) -> StateStore {
        StateStore::locate(self.path(), &self.project_name(), ENV, None)
    }

    pub fn state_path(&self) -> PathBuf {
        self.store().path
    }

    fn project_name(&self) -> String {
        let text = self.read("compartment.yml");
        text.lines()
            .find_map(|l| l.strip_prefix("name:"))
            .map(|n| n.trim().to_string())
            .expect("compartment.yml has a top-level name")
    }

    /// Loads the (possibly edited) project through the library.
    pub fn project(&self) -> compartment::project::Project {
        let loaded = compartment::project::load(&self.file("compartment.yml"), &BTreeMap::new());
        assert!(
            !loaded.diagnostics.has_errors(),
            "the sandbox project does not load: {:?}",
            loaded.diagnostics
        );
        loaded.project.expect("project")
    }

    /// The state as if the current project had been applied.
    pub fn applied_state(&self) -> State {
        let p = self.project();
        let project = p.compartment.name.clone();
        let key = SecretKey::from_text(KEY);
        let store = self.store();
        let serial = store.load(&project, ENV).expect("load state").serial;
        let mut st = State::new(&project, ENV);
        st.lineage = LINEAGE.into();
        st.serial = serial;
        for (name, def) in &p.compartment.resources {
            st.resources.insert(
                name.clone(),
                ResourceState {
                    applied: Applied {
                        definition: ResourceConfig::from(def),
                        config_digest: json_digest(def),
                        container_name: format!("{project}-{ENV}-{name}"),
                        container_id: format!("container-{name}"),
                        depends_on: BTreeSet::new(),
                        applied_at: None,
                        applied_variables: None,
                        variable_versions: None,
                    },
                    volumes: def
                        .volumes
                        .keys()
                        .map(|h| (h.clone(), format!("{project}_{ENV}_{name}_{h}")))
                        .collect(),
                    origin: Default::default(),
                    node: None,
                },
            );
            for var in def.generated_variables.keys() {
                let sealed = key.seal(&format!("resource/{name}/{var}"), &secret_value(name, var));
                st.variables
                    .resource
                    .entry(name.clone())
                    .or_default()
                    .insert(
                        var.clone(),
                        Variable {
                            sensitive: true,
                            generated: true,
                            value: None,
                            sealed: Some(sealed),
                        },
                    );
            }
        }
        for (name, def) in &p.compartment.services {
            st.services.insert(
                name.clone(),
                ServiceState {
                    applied: Applied {
                        definition: ServiceConfig::from(def),
                        config_digest: json_digest(def),
                        container_name: format!("{project}-{ENV}-{name}"),
                        container_id: format!("container-{name}"),
                        depends_on: def
                            .connections
                            .keys()
                            .map(|r| format!("resource.{r}"))
                            .collect(),
                        applied_at: None,
                        applied_variables: None,
                        variable_versions: None,
                    },
                    context_hash: p.contexts.get(name).cloned().unwrap_or_default(),
                    image: format!("{project}-{name}:applied"),
                    inputs: None,
                    releases: Vec::new(),
                },
            );
        }
        // What each service's connections read, as apply records it.
        for name in p.compartment.services.keys() {
            let inputs = compartment::plan::planner::inputs::service_inputs(&p, ENV, &st, name);
            st.services.get_mut(name).expect("just inserted").inputs = Some(inputs);
        }
        for (name, inst) in &p.instances {
            assert!(!inst.global, "the sandbox does not write global instances");
            let mut depends_on: BTreeSet<String> = inst
                .references
                .iter()
                .map(|r| format!("instance.{r}"))
                .collect();
            depends_on.insert(format!("service.{}", inst.owner));
            // As apply stores it: sensitive values hashed.
            let (values, properties) = compartment::platz::instances::stored_form(
                &inst.values,
                &inst.properties,
                &inst.sensitive_inputs,
                None,
            );
            st.instances.insert(
                name.clone(),
                InstanceState {
                    type_id: inst.type_id.clone(),
                    values,
                    properties,
                    depends_on,
                    sensitive_inputs: inst.sensitive_inputs.clone(),
                    last_hook: None,
                    applied_at: None,
                },
            );
        }
        st
    }

    /// Writes `state` (its serial is incremented by the store).
    pub fn save(&self, state: &mut State) {
        self.store().save(state).expect("save state");
    }

    /// Applies the current project: writes its state and returns it.
    pub fn apply(&self) -> State {
        let mut st = self.applied_state();
        self.save(&mut st);
        st
    }

    /// Changes the saved state with `f` and saves it again.
    pub fn change_state(&self, f: impl FnOnce(&mut State)) -> State {
        let p = self.project();
        let mut st = self.store().load(&p.compartment.name, ENV).unwrap();
        f(&mut st);
        self.save(&mut st);
        st
    }
}

/// A binding `variable set --from-resource` would record.
pub fn binding(resource: &str, output: &str) -> Binding {
    Binding {
        resource: resource.into(),
        output: output.into(),
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_name() == ".compartment" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
