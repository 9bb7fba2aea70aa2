//! `compartment schema compartment|resources` (the JSON Schema of each
//! descriptor, for the YAML language server and other editors), and the
//! generated shell completions and manual page.

use super::args::SchemaKind;
use crate::error::Result;

use crate::project::scaffold::{COMPARTMENT_SCHEMA, RESOURCES_SCHEMA};

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

/// `compartment init`: a starting project in the working directory.
pub fn init(cx: &super::Context, args: super::args::InitArgs) -> Result<i32> {
    let dir = std::env::current_dir()?;
    let name = match args.name {
        Some(n) => n,
        None => dir
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .to_lowercase()
                    .replace(['_', ' ', '.'], "-")
            })
            .unwrap_or_else(|| "app".into()),
    };
    let written = crate::project::scaffold::init(&dir, &name, args.service.as_deref())?;
    if cx.json() {
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("{}", serde_json::json!({"project": name, "written": files}));
        return Ok(0);
    }
    println!("Created project `{name}`:");
    for p in &written {
        println!("  {}", p.display());
    }
    println!("Next: `compartment validate`, then `compartment plan`.");
    Ok(0)
}

/// `compartment config`: the expanded configuration (YAML, or JSON under
/// `--output json`).
pub fn config(cx: &super::Context) -> Result<i32> {
    let (project, _) = cx.options().project()?;
    let doc = crate::project::config::expanded(&project);
    if cx.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serialises")
        );
    } else {
        print!("{}", serde_yaml::to_string(&doc).expect("serialises"));
    }
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
