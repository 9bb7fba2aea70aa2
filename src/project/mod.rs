//! Loading a whole project: compartment.yml, the platz/resources.yaml of
//! every service, the instances; all checks run and all diagnostics kept.
//! The result is the desired configuration the planner diffs.

pub mod config;
pub mod scaffold;

use crate::descriptor::check::Checker;
use crate::descriptor::load;
use crate::descriptor::model::Compartment;
use crate::diagnostics::{Diagnostic, Diagnostics, Loc, Sources};
use crate::platz::instances::{self, Instance};
use crate::platz::model::ResourceType;
use crate::support::digest::sha256_hex;
use crate::yaml;
use crate::yaml::decode::{Cx, LocIndex};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The desired configuration.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding compartment.yml; service paths are relative to it.
    pub root: PathBuf,
    pub compartment: Compartment,
    /// Resource types by `<owner>/<key>`.
    pub types: BTreeMap<String, ResourceType>,
    pub instances: BTreeMap<String, Instance>,
    /// sha256 of every input file, by path relative to `root`.
    pub inputs: BTreeMap<String, String>,
    /// sha256 of every service's build context, by service name.
    pub contexts: BTreeMap<String, String>,
    pub locs: LocIndex,
}

pub struct Loaded {
    pub project: Option<Project>,
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

/// Reads a file for a diagnostic-producing load.
fn read(
    path: &Path,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Option<(usize, String)> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some((sources.add(path, text.clone()), text)),
            Err(e) => {
                // Show the file as far as it can be shown and point at the
                // first byte that is not UTF-8.
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let before = String::from_utf8_lossy(&bytes[..valid]).into_owned();
                let line = before.matches('\n').count() + 1;
                let col = before[before.rfind('\n').map(|i| i + 1).unwrap_or(0)..]
                    .chars()
                    .count()
                    + 1;
                let id = sources.add(path, String::from_utf8_lossy(&bytes).into_owned());
                diags.push(
                    Diagnostic::error(
                        "not-utf8",
                        Some(Loc {
                            file: id,
                            line: line as u32,
                            col: col as u32,
                            len: 1,
                        }),
                        "",
                        format!(
                            "{} is not UTF-8 text (invalid byte at line {line}, column {col})",
                            crate::support::paths::display_path(path)
                        ),
                    )
                    .with_help("save the file as UTF-8"),
                );
                None
            }
        },
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "unreadable-file",
                    None,
                    "",
                    format!(
                        "cannot read {}: {e}",
                        crate::support::paths::display_path(path)
                    ),
                )
                .with_help("check the path (use -f/--file to point at compartment.yml)"),
            );
            None
        }
    }
}

/// Loads and checks the project at `file`. `external` instances (global
/// types, from the project-wide state) may be referenced by
/// `CollectionSelect` values.
pub fn load(file: &Path, external: &BTreeMap<String, Instance>) -> Loaded {
    let mut sources = Sources::default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    let mut inputs = BTreeMap::new();
    let Some((fid, text)) = read(file, &mut sources, &mut diags) else {
        return Loaded {
            project: None,
            sources,
            diagnostics: collect(diags),
        };
    };
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compartment.yml".into());
    inputs.insert(file_name, format!("sha256:{}", sha256_hex(text.as_bytes())));
    let (node, mut d) = yaml::parse(fid, &text);
    diags.append(&mut d);
    let Some(node) = node else {
        return Loaded {
            project: None,
            sources,
            diagnostics: collect(diags),
        };
    };
    let mut cx = Cx {
        diagnostics: &mut diags,
        locs: LocIndex::default(),
    };
    let compartment = load::decode(&mut cx, &node);
    let locs = cx.locs;

    let ServiceFiles {
        types,
        type_locs,
        contexts,
    } = service_files(&compartment, &root, &mut sources, &mut diags, &mut inputs);

    let mut checker = Checker {
        locs: &locs,
        diagnostics: &mut diags,
        sources: &sources,
    };
    checker.resources(&compartment);
    checker.services(&compartment, &root);
    crate::platz::check::types(&compartment, &types, &type_locs, &mut diags);
    let instances = instances::resolve(&compartment.instances, &types, external, &locs, &mut diags);

    let project = Project {
        root,
        compartment,
        types,
        instances,
        inputs,
        contexts,
        locs,
    };
    Loaded {
        project: Some(project),
        sources,
        diagnostics: collect(diags),
    }
}

/// What the services' directories contribute: the resource types of every
/// service's `platz/resources.yaml` (with where each was written) and the
/// hash of every build context.
struct ServiceFiles {
    types: BTreeMap<String, ResourceType>,
    type_locs: BTreeMap<String, (LocIndex, String)>,
    contexts: BTreeMap<String, String>,
}

/// Reads every service's directory; each `resources.yaml` read is added to
/// `sources` and hashed into `inputs`.
fn service_files(
    compartment: &Compartment,
    root: &Path,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
    inputs: &mut BTreeMap<String, String>,
) -> ServiceFiles {
    let mut types = BTreeMap::new();
    let mut type_locs = BTreeMap::new();
    let mut contexts = BTreeMap::new();
    for (svc, def) in &compartment.services {
        if def.path.is_empty() {
            continue;
        }
        let dir = under(root, &def.path);
        if let Ok(h) = crate::support::context::hash(&dir) {
            contexts.insert(svc.clone(), h);
        }
        let rpath = dir.join("platz").join("resources.yaml");
        if !rpath.is_file() {
            continue;
        }
        let Some((rid, rtext)) = read(&rpath, sources, diags) else {
            continue;
        };
        let rel = Path::new(&def.path).join("platz").join("resources.yaml");
        inputs.insert(
            normalize(&rel),
            format!("sha256:{}", sha256_hex(rtext.as_bytes())),
        );
        let (rnode, mut d) = yaml::parse(rid, &rtext);
        diags.append(&mut d);
        let Some(rnode) = rnode else { continue };
        let mut rcx = Cx {
            diagnostics: diags,
            locs: LocIndex::default(),
        };
        let decoded = crate::platz::load::decode(&mut rcx, svc, &rnode);
        let rlocs = rcx.locs;
        for (i, t) in decoded.into_iter().enumerate() {
            let prefix = rlocs
                .alias(&format!("#{}", t.key))
                .map(str::to_string)
                .unwrap_or_else(|| format!("[{i}]"));
            type_locs.insert(t.id(), (rlocs.clone(), prefix));
            types.insert(t.id(), t);
        }
    }
    ServiceFiles {
        types,
        type_locs,
        contexts,
    }
}

/// `rel` below `root`, without a leading `./` when root is the current
/// directory (file names in diagnostics read `services/api/...`).
fn under(root: &Path, rel: &str) -> PathBuf {
    if root == Path::new(".") {
        PathBuf::from(rel)
    } else {
        root.join(rel)
    }
}

fn collect(diags: Vec<Diagnostic>) -> Diagnostics {
    let mut out = Diagnostics::default();
    for d in diags {
        out.push(d);
    }
    out
}

fn normalize(p: &Path) -> String {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
