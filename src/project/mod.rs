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
use crate::support::context;
use crate::support::digest::sha256_hex;
use crate::support::files::{self, TextError, MAX_DESCRIPTOR_SIZE};
use crate::yaml;
use crate::yaml::decode::{Cx, LocIndex};
use std::collections::{BTreeMap, BTreeSet};
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
}

impl Project {
    /// Whether a service owns resource types with hook targets (it then
    /// gets its hook secret, `COMPARTMENT_HOOK_SECRET`, to verify the JWTs).
    pub fn receives_hooks(&self, service: &str) -> bool {
        self.types.values().any(|t| {
            t.owner == service
                && ["create", "update", "delete"]
                    .iter()
                    .any(|op| t.lifecycle.get(op).is_some_and(|l| l.target.is_some()))
        })
    }
}

pub struct Loaded {
    pub project: Option<Project>,
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

/// Reads a file for a diagnostic-producing load, through
/// `support::files::read_text`: a file resolving outside `root`, too large,
/// not UTF-8 or holding a NUL byte is an error (located when it can be
/// shown: only a file inside the project is ever added to `sources`). `at`
/// tells where a refused file is named (its `services.<name>.path`), asked
/// only for a diagnostic. The text read is in `sources` under the id
/// returned.
fn read<'p>(
    path: &Path,
    root: &Path,
    at: &dyn Fn() -> Option<(Loc, &'p str)>,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let shown = crate::support::paths::display_path(path);
    let (code, message, help) = match files::read_text(path, Some(root)) {
        Ok(text) => return Some(sources.add(path, text)),
        Err(TextError::NotUtf8 { shown: text, line, col }) => {
            let id = sources.add(path, text);
            let message = format!("{shown} is not UTF-8 text (invalid byte at line {line}, column {col})");
            diags.push(Diagnostic::error("not-utf8", Some(Loc { file: id, line, col, len: 1 }), "", message).with_help("save the file as UTF-8"));
            return None;
        }
        Err(TextError::Nul { shown: text, line, col }) => {
            let id = sources.add(path, text);
            let message = format!("{shown} holds a NUL byte (shown as ␀) at line {line}, column {col}");
            diags.push(Diagnostic::error("nul-byte", Some(Loc { file: id, line, col, len: 1 }), "", message).with_help("remove it: descriptors are text, and a NUL byte ends the text for many tools"));
            return None;
        }
        Err(TextError::Outside { resolved }) => (
            "outside-project",
            format!("{shown} leads to {}, outside the project directory: it is not read", resolved.display()),
            "keep descriptors inside the directory of compartment.yml; replace the link with the file itself".to_string(),
        ),
        Err(TextError::TooLarge { len }) => (
            "file-too-large",
            format!("{shown} is {}, over the {MAX_DESCRIPTOR_SIZE} limit for descriptor files: it is not read", files::human_size(len)),
            format!("descriptors are at most {MAX_DESCRIPTOR_SIZE}; check that the path names the descriptor, not a data file"),
        ),
        Err(TextError::Io(e)) => (
            "unreadable-file",
            format!("cannot read {shown}: {e}"),
            "check the path (use -f/--file to point at compartment.yml)".to_string(),
        ),
    };
    let (loc, ypath) = at().map_or((None, ""), |(l, p)| (Some(l), p));
    diags.push(Diagnostic::error(code, loc, ypath, message).with_help(help));
    None
}

/// From this size of compartment.yml, its tree and position index are
/// freed on threads of their own (`parallel::drop_aside`): 2-3 ms each at
/// 10,000 instances. Below it the tree is freed by the worker while the
/// instances are resolved here and the index here, and what is allocated
/// next reuses their memory instead of touching fresh pages: the
/// 1,000-node plan (a 118 KB file) was 0.4 ms faster with both freed
/// here than aside, and faster again with the tree freed by the worker;
/// the 3,000- and 5,000-node ones were alike either way
/// (docs/benchmarks.md).
const DROP_ASIDE_BYTES: usize = 512 * 1024;

/// Drops `value`, on another thread when `aside`.
fn dispose<T: Send + 'static>(value: T, aside: bool) {
    if aside {
        crate::support::parallel::drop_aside(value);
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
    let Some(fid) = read(file, &root, &|| None, &mut sources, &mut diags) else {
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
    let text = &sources.get(fid).text;
    inputs.insert(file_name, format!("sha256:{}", sha256_hex(text.as_bytes())));
    crate::support::phases::mark("load: read");
    let (node, mut d) = yaml::parse(fid, text);
    crate::support::phases::mark("load: parse");
    diags.append(&mut d);
    let Some(node) = node else {
        return Loaded {
            project: None,
            sources,
            diagnostics: collect(diags),
        };
    };
    // The tree (15 MB for a 10,000-node project) goes once decoded, before
    // the instances are resolved, the peak of a load: a large one (as its
    // text) freed on a thread of its own, a smaller one by the worker as
    // resolution starts here.
    let large = text.len() >= DROP_ASIDE_BYTES;
    let mut cx = Cx {
        diagnostics: &mut diags,
        // Sized by the decoder, which knows what it records itself.
        locs: LocIndex::default(),
    };
    // The services' directories are read as soon as the services are
    // decoded, while a large `instances` section is decoded on the second
    // thread; their diagnostics come after the descriptor's.
    let mut file_diags = Vec::new();
    let (mut compartment, files) = load::decode_then(&mut cx, &node, |c, locs| {
        service_files(c, &root, locs, &mut sources, &mut file_diags, &mut inputs)
    });
    let locs = cx.locs;
    diags.append(&mut file_diags);
    crate::support::phases::mark("load: decode, service files");
    let tree = if large {
        crate::support::parallel::drop_aside(node);
        None
    } else {
        Some(node)
    };
    let ServiceFiles {
        types,
        type_locs,
        contexts,
        refused,
        dirs,
    } = files;

    // The walk and hash of every build context (file system calls for
    // every file of every service) run on the worker thread while the
    // instances are resolved and the descriptors checked here
    // (docs/benchmarks.md). Their diagnostics keep the order of a load on
    // one thread: checks, resolution, contexts.
    let decls = std::mem::take(&mut compartment.instances);
    let ((contexts, mut typed, mut context_diags), (instances, mut checked, mut resolved)) =
        crate::support::parallel::join(
            || {
                drop(tree);
                let mut typed = Vec::new();
                crate::platz::check::types(&compartment, &types, &type_locs, &mut typed);
                let (contexts, context_diags) = context_hashes(&contexts, &root);
                (contexts, typed, context_diags)
            },
            || {
                // The declarations move into the resolved instances.
                let mut resolved = Vec::new();
                let instances = instances::resolve(decls, &types, external, &locs, &mut resolved);
                crate::support::phases::mark("load: resolve");
                let mut checked = Vec::new();
                let mut checker = Checker {
                    locs: &locs,
                    diagnostics: &mut checked,
                    sources: &sources,
                };
                checker.resources(&compartment);
                checker.services(&compartment, &root, &refused, &dirs);
                crate::support::phases::mark("load: checks");
                (instances, checked, resolved)
            },
        );
    place(&mut context_diags, &locs);
    diags.append(&mut checked);
    diags.append(&mut typed);
    diags.append(&mut resolved);
    diags.append(&mut context_diags);
    crate::support::phases::mark("load: contexts");

    let project = Project {
        root,
        compartment,
        types,
        instances,
        inputs,
        contexts,
    };
    // The position index (a path and a position per mapping key: 12 MB for
    // a 10,000-node project) is only for the diagnostics above; it goes
    // before planning starts (docs/benchmarks.md), freed aside if large.
    dispose(locs, large);
    crate::support::phases::mark("load: drop index");
    Loaded {
        project: Some(project),
        sources,
        diagnostics: collect(diags),
    }
}

/// What the services' directories contribute: the resource types of every
/// service's `platz/resources.yaml` (with where each was written) and the
/// build contexts to hash.
struct ServiceFiles {
    types: BTreeMap<String, ResourceType>,
    type_locs: BTreeMap<String, (LocIndex, String)>,
    contexts: Vec<BuildContext>,
    /// Services whose path leaves the project (reported here, not checked).
    refused: BTreeSet<String>,
    /// Services whose path was found to be a directory (not asked again).
    dirs: BTreeSet<String>,
}

/// Reads every service's directory; each `resources.yaml` read is added to
/// `sources` and hashed into `inputs`.
/// A service whose path leaves the project is skipped (the checker reports
/// it); a `resources.yaml` or a link in a build context resolving outside
/// the project is reported at the service's `path`, and not read.
fn service_files(
    compartment: &Compartment,
    root: &Path,
    locs: &LocIndex,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
    inputs: &mut BTreeMap<String, String>,
) -> ServiceFiles {
    let mut types = BTreeMap::new();
    let mut type_locs = BTreeMap::new();
    let mut contexts = Vec::new();
    let mut refused = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    let mut plain = files::Plain::default();
    let resolved_root = std::fs::canonicalize(root).ok();
    for (svc, def) in &compartment.services {
        if def.path.is_empty() {
            continue;
        }
        let dir = under(root, &def.path);
        let ypath = format!("services.{svc}.path");
        // Looked up only for a diagnostic: the position index is built on
        // its first lookup (`LocIndex`), which a clean load never makes.
        let at = || locs.value(&ypath).map(|l| (l, ypath.as_str()));
        let inside = plain.inside(root, &def.path);
        if inside == Some(true) {
            dirs.insert(svc.clone());
        }
        let resolved = match resolved_root.as_deref() {
            _ if inside.is_some() => None,
            Some(r) => files::outside_resolved(r, &dir),
            None => None,
        };
        let spelled = files::escapes(&def.path);
        if spelled || resolved.is_some() {
            let to = resolved
                .filter(|_| !spelled)
                .map(|r| format!(" (it leads to {})", r.display()))
                .unwrap_or_default();
            diags.push(
                Diagnostic::error(
                    "outside-project",
                    at().map(|a| a.0),
                    ypath.as_str(),
                    format!("service `{svc}` path `{}` leaves the project directory{to}", def.path),
                )
                .with_help("a service path is relative to compartment.yml and stays below it: no `..` above it, no absolute path, no link leading elsewhere"),
            );
            refused.insert(svc.clone());
            continue;
        }
        let rpath = dir.join("platz").join("resources.yaml");
        contexts.push(BuildContext {
            service: svc.clone(),
            rel: def.path.clone(),
            dir,
            ypath: ypath.clone(),
        });
        if !rpath.is_file() {
            continue;
        }
        let Some(rid) = read(&rpath, root, &at, sources, diags) else {
            continue;
        };
        let rtext = &sources.get(rid).text;
        let rel = Path::new(&def.path).join("platz").join("resources.yaml");
        inputs.insert(
            normalize(&rel),
            format!("sha256:{}", sha256_hex(rtext.as_bytes())),
        );
        let (rnode, mut d) = yaml::parse(rid, rtext);
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
        refused,
        dirs,
    }
}

/// A service's build context to hash.
struct BuildContext {
    service: String,
    /// Its `path` as written, and the directory it names.
    rel: String,
    dir: PathBuf,
    /// The YAML path of its `path`.
    ypath: String,
}

/// The hashes of build contexts by service, with the diagnostics of links
/// leading out of the project. Reads the file system only, so it can run
/// beside the checks.
fn context_hashes(
    contexts: &[BuildContext],
    root: &Path,
) -> (BTreeMap<String, String>, Vec<Diagnostic>) {
    let mut hashes = BTreeMap::new();
    let mut diags = Vec::new();
    for c in contexts {
        if let Ok(h) = context_hash(c, root, &mut diags) {
            hashes.insert(c.service.clone(), h);
        }
    }
    (hashes, diags)
}

/// The hash of a service's build context; a link in it resolving outside
/// the project is an error at the service's `path` (the link is not sent).
fn context_hash(
    c: &BuildContext,
    root: &Path,
    diags: &mut Vec<Diagnostic>,
) -> std::io::Result<String> {
    let (svc, rel) = (&c.service, &c.rel);
    let (entries, outside) = context::entries_within(&c.dir, Some(root))?;
    for (link, to) in &outside {
        let rel = rel.trim_end_matches('/');
        // Placed at the service's `path` by `place` once back.
        diags.push(
            Diagnostic::error(
                "outside-project",
                None,
                &c.ypath,
                format!(
                    "the build context of service `{svc}` links `{rel}/{link}` to {}, outside the project directory",
                    to.display()
                ),
            )
            .with_help(format!("copy what the image needs into {rel}, or exclude `{link}` in {rel}/.dockerignore")),
        );
    }
    context::hash_entries(&entries)
}

/// Gives the diagnostics of the build contexts' walks, made without the
/// position index, the position of their YAML path (none found: no path,
/// as when the index had none for them).
fn place(diags: &mut [Diagnostic], locs: &LocIndex) {
    for d in diags {
        d.loc = locs.value(&d.path);
        if d.loc.is_none() {
            d.path.clear();
        }
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
