//! Positioned YAML: the parser that keeps `file:line:column` for every node
//! (`parser`) and the field-by-field decoding helpers that turn problems into
//! located diagnostics (`decode`). Below every descriptor format
//! (compartment.yml, platz/resources.yaml, access.yml); imports only
//! `diagnostics`.

pub mod decode;
mod parser;

pub use parser::{parse, Node, Value};

/// Every file under the repository's `fixtures/` that `wanted` accepts (for
/// tests that run over all descriptors).
#[cfg(test)]
pub(crate) fn fixture_files(wanted: impl Fn(&std::path::Path) -> bool) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures are readable") {
            let path = entry.expect("a fixture entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if wanted(&path) {
                files.push(path);
            }
        }
    }
    files
}
