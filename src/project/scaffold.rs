//! `compartment init`: a starting project in a directory — compartment.yml
//! with the YAML language server's schema line, the JSON Schemas it points
//! at, and optionally one service with a Dockerfile and a
//! `platz/resources.yaml` declaring an example resource type. Nothing that
//! exists is overwritten.

use std::path::{Path, PathBuf};
use thiserror::Error;

/// The JSON Schema of compartment.yml.
pub const COMPARTMENT_SCHEMA: &str = include_str!("../descriptor/compartment.schema.json");
/// The JSON Schema of `platz/resources.yaml`.
pub const RESOURCES_SCHEMA: &str = include_str!("../platz/resources.schema.json");

#[derive(Debug, Error)]
pub enum ScaffoldError {
    #[error("{} already exists; nothing was written (edit it, or run `compartment init` in another directory)", .0.display())]
    Exists(PathBuf),
    #[error(
        "`{0}` is not a valid name: use lowercase letters, digits and `-`, starting with a letter"
    )]
    InvalidName(String),
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files written, relative to the directory.
pub type Written = Vec<PathBuf>;

/// Scaffolds a project named `name` in `dir`, with `service` (and its
/// example resource type) when given.
pub fn init(dir: &Path, name: &str, service: Option<&str>) -> Result<Written, ScaffoldError> {
    for n in std::iter::once(name).chain(service) {
        if !crate::yaml::decode::valid_name(n) {
            return Err(ScaffoldError::InvalidName(n.to_string()));
        }
    }
    let mut files: Vec<(PathBuf, String)> = vec![
        ("compartment.yml".into(), compartment_yml(name, service)),
        (
            ".schemas/compartment.schema.json".into(),
            COMPARTMENT_SCHEMA.into(),
        ),
    ];
    if let Some(s) = service {
        let base = PathBuf::from("services").join(s);
        files.push((base.join("Dockerfile"), DOCKERFILE.into()));
        files.push((base.join("platz/resources.yaml"), resources_yaml(s)));
        files.push((
            ".schemas/resources.schema.json".into(),
            RESOURCES_SCHEMA.into(),
        ));
    }
    if let Some((p, _)) = files.iter().find(|(p, _)| dir.join(p).exists()) {
        return Err(ScaffoldError::Exists(p.clone()));
    }
    for (p, text) in &files {
        let path = dir.join(p);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)
        };
        write().map_err(|source| ScaffoldError::Write {
            path: p.clone(),
            source,
        })?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

fn compartment_yml(name: &str, service: Option<&str>) -> String {
    let mut y = format!(
        "# yaml-language-server: $schema=.schemas/compartment.schema.json\n\
         # Check it with `compartment validate`; see what apply would do with `compartment plan`.\n\
         name: {name}\n\n"
    );
    match service {
        Some(s) => y.push_str(&format!(
            "services:\n  {s}:\n    path: services/{s}\n    # ingress: {{port: 8080}}     # the standard ingress lifecycle hooks call\n    # connections:\n    #   db:\n    #     env:\n    #       DATABASE_URL: connection-url\n\n"
        )),
        None => y.push_str("services: {}\n\n"),
    }
    y.push_str(
        "resources: {}\n\
         # resources:\n\
         #   db:\n\
         #     preset: postgres\n",
    );
    y
}

const DOCKERFILE: &str =
    "# The service's image; its directory is the build context.\nFROM scratch\n";

fn resources_yaml(service: &str) -> String {
    format!(
        "# yaml-language-server: $schema=../../../.schemas/resources.schema.json\n\
         # Resource types owned by the `{service}` service (Platz ResourceType).\n\
         - apiVersion: platz.io/v1beta1\n  kind: ResourceType\n  key: item\n  spec:\n    name_singular: Item\n    name_plural: Items\n    fontawesome_icon: box\n    values_ui:\n      inputs:\n        - id: name\n          type: text\n          label: Name\n          required: true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "shop", None).unwrap();
        let e = init(dir.path(), "shop", None).unwrap_err().to_string();
        assert!(e.starts_with("compartment.yml already exists"), "{e}");
        let e = init(dir.path(), "Shop!", None).unwrap_err().to_string();
        assert!(e.contains("`Shop!` is not a valid name"), "{e}");
    }
}
