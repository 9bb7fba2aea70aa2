//! The shape of the code, checked on the sources (docs/architecture.md):
//! no import cycle between top-level modules, bollard only in `docker/`,
//! the storage clients (opendal, openssh-sftp-client) only in `storage/`,
//! clap only in `cli/` and `main.rs`, no errors flattened to strings.

use crate::test::repo;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

cases! {
    plain top_level_modules_import_each_other_without_cycles,
    plain only_the_docker_runtime_uses_bollard_and_only_the_cli_uses_clap,
    plain no_error_is_flattened_to_a_string,
}

/// Every `.rs` file under `src/`, with its text minus line comments.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code: Vec<&str> = text
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or(""))
                    .collect();
                out.push((p, code.join("\n")));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("src"), &mut out);
    out.sort();
    out
}

/// `src/apply/run.rs` → `apply`; `src/error.rs` → `error`.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(repo().join("src")).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn top_level_modules_import_each_other_without_cycles() {
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, code) in sources() {
        let from = module_of(&path);
        for part in code.split("crate::").skip(1) {
            let to: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                imports.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a path from a module back to itself.
    fn back_to(
        start: &str,
        at: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        for next in imports.get(at).into_iter().flatten() {
            path.push(next.clone());
            if next == start
                || (seen.insert(next.clone()) && back_to(start, next, imports, seen, path))
            {
                return true;
            }
            path.pop();
        }
        false
    }
    for m in imports.keys() {
        let mut path = vec![m.clone()];
        let cycle = back_to(m, m, &imports, &mut BTreeSet::new(), &mut path);
        assert!(!cycle, "import cycle: {}", path.join(" → "));
    }
    // The pipeline's lower stages never import the ones above them.
    for (low, high) in [
        ("descriptor", "platz"),
        ("descriptor", "project"),
        ("platz", "project"),
        ("state", "descriptor"),
        ("plan", "apply"),
        ("docker", "apply"),
        ("storage", "ops"),
        ("storage", "descriptor"),
        ("apply", "ops"),
        ("apply", "cli"),
        ("ops", "cli"),
    ] {
        assert!(
            !imports.get(low).is_some_and(|i| i.contains(high)),
            "`{low}` imports `{high}`: {:?}",
            imports.get(low)
        );
    }
}

fn only_the_docker_runtime_uses_bollard_and_only_the_cli_uses_clap() {
    for (path, code) in sources() {
        let m = module_of(&path);
        if code.contains("bollard") {
            assert_eq!(m, "docker", "{} uses bollard", path.display());
        }
        if code.contains("opendal") || code.contains("openssh_sftp_client") {
            assert_eq!(m, "storage", "{} uses a storage client", path.display());
        }
        if code.contains("clap::") || code.contains("clap_complete") || code.contains("clap_mangen")
        {
            assert!(m == "cli" || m == "main", "{} uses clap", path.display());
        }
    }
}

fn no_error_is_flattened_to_a_string() {
    for (path, code) in sources() {
        for needle in [
            "map_err(|e| e.to_string())",
            "Error::msg(",
            "map_err(Error::msg)",
        ] {
            assert!(
                !code.contains(needle),
                "{} flattens an error with `{needle}`",
                path.display()
            );
        }
    }
}
