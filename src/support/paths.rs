//! Paths as the user reads them in messages and diagnostics.

use std::path::Path;

/// A path as the user would type it: relative to the current directory when
/// it lies below it.
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = path.strip_prefix(&cwd) {
            return rel.display().to_string();
        }
    }
    path.display().to_string()
}
