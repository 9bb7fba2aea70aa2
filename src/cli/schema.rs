//! `compartment schema compartment|resources`: the JSON Schema of each
//! descriptor, for the YAML language server and other editors.

use super::args::SchemaKind;
use crate::error::Result;

pub const COMPARTMENT_SCHEMA: &str = include_str!("../descriptor/compartment.schema.json");
pub const RESOURCES_SCHEMA: &str = include_str!("../platz/resources.schema.json");

pub fn run(kind: SchemaKind) -> Result<i32> {
    print!(
        "{}",
        match kind {
            SchemaKind::Compartment => COMPARTMENT_SCHEMA,
            SchemaKind::Resources => RESOURCES_SCHEMA,
        }
    );
    Ok(0)
}
