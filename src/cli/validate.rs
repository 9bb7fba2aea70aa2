//! `compartment validate`: both descriptors checked, every problem reported.

use super::Context;
use crate::error::Result;
use crate::project;
use crate::workspace::WorkspaceError;
use std::collections::BTreeMap;

pub fn run(cx: &Context) -> Result<i32> {
    let loaded = project::load(&cx.file, &BTreeMap::new());
    if loaded.diagnostics.has_errors() || loaded.project.is_none() {
        return Err(WorkspaceError::Invalid {
            sources: Box::new(loaded.sources),
            diagnostics: loaded.diagnostics,
        }
        .into());
    }
    cx.print_diagnostics(&loaded.sources, &loaded.diagnostics);
    if !cx.json() {
        if let Some(p) = &loaded.project {
            let c = &p.compartment;
            let n = |count: usize, one: &str, many: &str| {
                format!("{count} {}", if count == 1 { one } else { many })
            };
            println!(
                "{} is valid: project `{}`, {}, {}, {}, {} ({})",
                crate::support::paths::display_path(&cx.file),
                cx.global.project.as_deref().unwrap_or(&c.name),
                n(c.services.len(), "service", "services"),
                n(c.resources.len(), "resource", "resources"),
                n(p.types.len(), "resource type", "resource types"),
                n(p.instances.len(), "instance", "instances"),
                loaded
                    .diagnostics
                    .summary()
                    .split(", ")
                    .nth(1)
                    .unwrap_or("0 warnings"),
            );
        }
    }
    Ok(0)
}
