//! `compartment validate`: both descriptors checked, every problem reported.

use super::{summary, Context};
use crate::error::Result;
use crate::project;
use std::collections::BTreeMap;

pub fn run(cx: &Context) -> Result<i32> {
    let loaded = project::load(&cx.global.file, &BTreeMap::new());
    cx.print_diagnostics(&loaded.sources, &loaded.diagnostics);
    let failed = loaded.diagnostics.has_errors() || loaded.project.is_none();
    if !cx.json() {
        if failed {
            eprintln!("error: {}", summary(&loaded.diagnostics));
        } else if let Some(p) = &loaded.project {
            let c = &p.compartment;
            let n = |count: usize, one: &str, many: &str| {
                format!("{count} {}", if count == 1 { one } else { many })
            };
            println!(
                "{} is valid: project `{}`, {}, {}, {}, {} ({})",
                crate::support::paths::display_path(&cx.global.file),
                cx.global.project.as_deref().unwrap_or(&c.name),
                n(c.services.len(), "service", "services"),
                n(c.resources.len(), "resource", "resources"),
                n(p.types.len(), "resource type", "resource types"),
                n(p.instances.len(), "instance", "instances"),
                summary(&loaded.diagnostics)
                    .split(", ")
                    .nth(1)
                    .unwrap_or("0 warnings"),
            );
        }
    }
    Ok(if failed { 1 } else { 0 })
}
