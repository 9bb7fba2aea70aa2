//! `compartment schema compartment|resources` (the JSON Schema of each
//! descriptor, for the YAML language server and other editors), and the
//! generated shell completions and manual page.

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

/// `compartment completions SHELL`: the completion script, from the clap
/// definitions (clap_complete).
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = <super::args::Arguments as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "compartment", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)?;
    Ok(0)
}

/// `compartment man`: the manual page as roff, from the clap definitions
/// (clap_mangen).
pub fn man() -> Result<i32> {
    let cmd = <super::args::Arguments as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(0)
}
