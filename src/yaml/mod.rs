//! Positioned YAML: the parser that keeps `file:line:column` for every node
//! (`parser`) and the field-by-field decoding helpers that turn problems into
//! located diagnostics (`decode`). Below every descriptor format
//! (compartment.yml, platz/resources.yaml, access.yml); imports only
//! `diagnostics`.

pub mod decode;
mod fast;
mod parser;

pub use parser::{parse, Node, Value};

/// Every file under the repository's `fixtures/` that `wanted` accepts (for
/// tests that run over all descriptors). Links are not followed: the broken
/// corpus has links to `/tmp` and `/etc`.
#[cfg(test)]
pub(crate) fn fixture_files(wanted: impl Fn(&std::path::Path) -> bool) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures are readable") {
            let entry = entry.expect("a fixture entry");
            let (path, kind) = (entry.path(), entry.file_type().expect("a fixture's type"));
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && wanted(&path) {
                files.push(path);
            }
        }
    }
    files
}
