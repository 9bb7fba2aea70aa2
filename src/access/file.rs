//! The access file: finding it (`COMPARTMENT_ACCESS_FILE` or
//! `.compartment/access.yml` beside compartment.yml), reading it through the
//! positioned YAML loader and decoding it into `Access`, every problem a
//! located diagnostic.

use super::model::{builtin_roles, Permission, BUILTIN_ROLES};
use super::{ACCESS_FILE_ENV, DEFAULT_ACCESS_FILE};
use crate::diagnostics::{suggest, Diagnostic, Diagnostics, Sources};
use crate::support::files::{self, TextError};
use crate::support::paths::display_path;
use crate::yaml::decode::{index, join, Cx, LocIndex};
use crate::yaml::{self, Node, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A problem with the access file. Every variant names the file.
#[derive(Debug, Error)]
pub enum AccessError {
    #[error("cannot read the access file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Outside the project, too large, not text (see `support::files`).
    #[error("cannot read the access file {path}: {source}")]
    Refused {
        path: PathBuf,
        #[source]
        source: TextError,
    },
    #[error("the access file {path} named by {ACCESS_FILE_ENV} does not exist; create it, or unset {ACCESS_FILE_ENV} to use {DEFAULT_ACCESS_FILE} beside compartment.yml")]
    NotFound { path: PathBuf },
    /// The file does not decode: its located diagnostics (render them with
    /// `diagnostics::render_text`/`render_json` over `sources`, then this
    /// error's message, the summary, as `error: 2 errors, 0 warnings`, the
    /// way an invalid compartment.yml is reported).
    #[error("{}", diagnostics.summary())]
    Invalid {
        path: PathBuf,
        sources: Sources,
        diagnostics: Diagnostics,
    },
}

/// The roles of actors per environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// `None`: no access file, the local default admin.
    pub(super) file: Option<PathBuf>,
    /// Role name → permissions, built-in and custom.
    pub(super) roles: BTreeMap<String, BTreeSet<Permission>>,
    /// Actor → environment (or `*`) → role.
    pub(super) actors: BTreeMap<String, BTreeMap<String, String>>,
    pub(super) default: Option<String>,
}

impl Access {
    /// No access file: everyone is `admin`.
    pub fn local_default() -> Access {
        Access {
            file: None,
            roles: builtin_roles(),
            actors: BTreeMap::new(),
            default: Some("admin".into()),
        }
    }

    /// Loads an access file. No path, or a path where no file exists, is
    /// the local default admin.
    pub fn load(path: Option<&Path>) -> Result<Access, AccessError> {
        Access::load_within(path, None)
    }

    /// `load`, the file required to resolve inside `root` (the project
    /// directory) when given; read through `support::files::read_text`.
    fn load_within(path: Option<&Path>, root: Option<&Path>) -> Result<Access, AccessError> {
        let Some(path) = path else {
            return Ok(Access::local_default());
        };
        match files::read_text(path, root) {
            Ok(text) => Access::parse(path, &text),
            Err(TextError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Access::local_default())
            }
            Err(TextError::Io(source)) => Err(AccessError::Read {
                path: path.to_path_buf(),
                source,
            }),
            Err(source) => Err(AccessError::Refused {
                path: path.strip_prefix(".").unwrap_or(path).to_path_buf(),
                source,
            }),
        }
    }

    /// Finds and loads the access file for the project whose compartment.yml
    /// is in `descriptor_dir`: `explicit_file` (the value of
    /// `COMPARTMENT_ACCESS_FILE`, which must exist) or
    /// `.compartment/access.yml` there (optional).
    pub fn resolve(
        descriptor_dir: &Path,
        explicit_file: Option<&OsStr>,
    ) -> Result<Access, AccessError> {
        match explicit_file.filter(|v| !v.is_empty()) {
            Some(p) => {
                let path = PathBuf::from(p);
                if !path.exists() {
                    return Err(AccessError::NotFound { path });
                }
                Access::load(Some(&path))
            }
            None => {
                let root = if descriptor_dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    descriptor_dir
                };
                Access::load_within(Some(&descriptor_dir.join(DEFAULT_ACCESS_FILE)), Some(root))
            }
        }
    }

    /// `resolve` with `COMPARTMENT_ACCESS_FILE` from the process environment.
    pub fn from_env(descriptor_dir: &Path) -> Result<Access, AccessError> {
        Access::resolve(descriptor_dir, std::env::var_os(ACCESS_FILE_ENV).as_deref())
    }

    /// Parses the text of the access file at `path` (YAML or JSON).
    pub fn parse(path: &Path, text: &str) -> Result<Access, AccessError> {
        // Named as the other descriptors are: `.compartment/access.yml`, not
        // `./.compartment/access.yml`.
        let shown = path.strip_prefix(".").unwrap_or(path);
        let mut sources = Sources::default();
        let file = sources.add(shown, text.to_string());
        let mut diags = Vec::new();
        let access = if text.trim().is_empty() {
            diags.push(
                Diagnostic::error(
                    "empty-access-file",
                    None,
                    "",
                    format!("the access file {} is empty", display_path(shown)),
                )
                .with_help("map actors to roles under `actors`, or delete the file to turn access control off"),
            );
            None
        } else {
            let (node, mut d) = yaml::parse(file, text);
            diags.append(&mut d);
            let mut cx = Cx {
                diagnostics: &mut diags,
                locs: LocIndex::default(),
            };
            node.and_then(|n| decode(&mut cx, &n))
        };
        let mut diagnostics = Diagnostics::default();
        for d in diags {
            diagnostics.push(d);
        }
        match access {
            Some(mut access) if !diagnostics.has_errors() => {
                access.file = Some(path.to_path_buf());
                Ok(access)
            }
            _ => Err(AccessError::Invalid {
                path: path.to_path_buf(),
                sources,
                diagnostics,
            }),
        }
    }

    /// Whether there is no access file (everyone is admin).
    pub fn is_local_default(&self) -> bool {
        self.file.is_none()
    }

    /// The access file, if there is one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// The whole file; `None` when its top level is not a mapping.
fn decode(cx: &mut Cx, root: &Node) -> Option<Access> {
    let f = cx.fields(root, "", &["actors", "roles", "default"])?;
    let mut roles = builtin_roles();
    if let Some(node) = f.get("roles") {
        custom_roles(cx, node, &mut roles);
    }
    let mut actors = BTreeMap::new();
    if let Some(node) = f.get("actors") {
        for (actor, key, envs) in cx.entries(node, "actors").unwrap_or_default() {
            if let Some(actor) = name(cx, key, &actor, "actors") {
                let per_env = actor_roles(cx, envs, &join("actors", &actor), &roles);
                actors.insert(actor, per_env);
            }
        }
    }
    let default = match f.get("default") {
        None => None,
        Some(n) if n.value == Value::Null => None,
        Some(n) => role(cx, n, "default", &roles),
    };
    Some(Access {
        file: None,
        roles,
        actors,
        default,
    })
}

/// A mapping key that names something: a non-empty string.
fn name(cx: &mut Cx, key: &Node, text: &str, within: &str) -> Option<String> {
    match &key.value {
        Value::Str { text, .. } if !text.trim().is_empty() => Some(text.clone()),
        Value::Str { .. } => {
            let path = join(within, text);
            cx.error(
                "wrong-type",
                key.loc,
                &path,
                format!("an empty name in `{within}`"),
                "write a name here",
            );
            None
        }
        _ => {
            let path = join(within, text);
            cx.error(
                "wrong-type",
                key.loc,
                &path,
                format!(
                    "the key `{text}` in `{within}` must be a string, found {}",
                    key.kind()
                ),
                format!("quote it: \"{text}\""),
            );
            None
        }
    }
}

/// `roles:`: custom roles, each added to `roles` (with the permissions that
/// decode, so actors naming it are not reported again).
fn custom_roles(cx: &mut Cx, node: &Node, roles: &mut BTreeMap<String, BTreeSet<Permission>>) {
    for (text, key, def) in cx.entries(node, "roles").unwrap_or_default() {
        let Some(role) = name(cx, key, &text, "roles") else {
            continue;
        };
        let entry = join("roles", &role);
        if BUILTIN_ROLES.contains(&role.as_str()) {
            cx.error(
                "redefined-role",
                key.loc,
                &entry,
                format!("`{entry}` redefines the built-in role `{role}`"),
                "give the custom role another name",
            );
            continue;
        }
        let Some(f) = cx.fields(def, &entry, &["permissions", "description"]) else {
            continue;
        };
        let what = "a list such as [deployment.create, deployment.logs.read]";
        let perms = match cx.required(&f, "permissions", what) {
            Some(list) => permissions(cx, list, &f.path("permissions")),
            None => BTreeSet::new(),
        };
        roles.insert(role, perms);
    }
}

/// A role's `permissions:` list.
fn permissions(cx: &mut Cx, node: &Node, path: &str) -> BTreeSet<Permission> {
    let Value::Seq(items) = &node.value else {
        cx.type_error(node, path, "a list of permission names");
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = index(path, i);
        let Value::Str { text, .. } = &item.value else {
            cx.type_error(item, &path, "a permission name");
            continue;
        };
        match Permission::from_name(text) {
            Some(p) => {
                out.insert(p);
            }
            None => cx.error(
                "unknown-permission",
                item.loc,
                &path,
                format!("`{path}` names the unknown permission `{text}`"),
                permission_help(text),
            ),
        }
    }
    out
}

/// An actor's entry: a role for every environment, or environment → role.
fn actor_roles(
    cx: &mut Cx,
    node: &Node,
    entry: &str,
    roles: &BTreeMap<String, BTreeSet<Permission>>,
) -> BTreeMap<String, String> {
    let mut per_env = BTreeMap::new();
    match &node.value {
        Value::Str { .. } => {
            if let Some(r) = role(cx, node, entry, roles) {
                per_env.insert("*".to_string(), r);
            }
        }
        Value::Map(_) => {
            for (env, key, value) in cx.entries(node, entry).unwrap_or_default() {
                let Some(env) = name(cx, key, &env, entry) else {
                    continue;
                };
                if let Some(r) = role(cx, value, &join(entry, &env), roles) {
                    per_env.insert(env, r);
                }
            }
        }
        _ => cx.type_error(
            node,
            entry,
            "a role name, or a mapping of environments to roles (e.g. {production: deployer})",
        ),
    }
    per_env
}

/// A role name that must be declared (built-in or custom).
fn role(
    cx: &mut Cx,
    node: &Node,
    entry: &str,
    roles: &BTreeMap<String, BTreeSet<Permission>>,
) -> Option<String> {
    let Value::Str { text, .. } = &node.value else {
        cx.type_error(node, entry, "a role name");
        return None;
    };
    if roles.contains_key(text) {
        return Some(text.clone());
    }
    let known = roles
        .keys()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match suggest(text, roles.keys().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? (roles are {known})"),
        None => format!("roles are {known}; declare custom roles under `roles`"),
    };
    cx.error(
        "unknown-role",
        node.loc,
        entry,
        format!("`{entry}` names the unknown role `{text}`"),
        help,
    );
    None
}

fn permission_help(p: &str) -> String {
    let all = Permission::ALL
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match suggest(p, Permission::ALL.iter().map(|k| k.name())) {
        Some(name) => format!("did you mean `{name}`?"),
        None => format!("permissions are {all}"),
    }
}
