//! Resource outputs, derived when read from the applied definition and the
//! runtime variables — never stored as plaintext. Sensitive ones print
//! masked unless revealed (which the caller audits).

use super::error::OpsError;
use crate::descriptor::model::ResourceDef;
use crate::state::secrets::SecretKey;
use crate::state::State;
use serde::Serialize;

type Result<T, E = OpsError> = std::result::Result<T, E>;

pub const MASK: &str = "(sensitive: use --reveal)";

#[derive(Clone, Debug, Serialize)]
pub struct OutputRow {
    pub name: String,
    pub sensitive: bool,
    /// The value, or the mask for a sensitive output.
    pub value: String,
}

/// Every output of a resource; non-sensitive ones resolved (needing the key
/// only when they read a sealed variable), sensitive ones masked.
pub fn list(
    project: &str,
    envname: &str,
    state: &State,
    resource: &str,
    key: Option<&SecretKey>,
) -> Result<Vec<OutputRow>> {
    let r = super::resource::record(state, resource)?;
    let mut rows = Vec::new();
    for (name, o) in &r.applied.definition.outputs {
        let value = if o.sensitive {
            MASK.to_string()
        } else {
            resolve(
                project,
                envname,
                resource,
                &ResourceDef::from(&r.applied.definition),
                name,
                state,
                key,
            )?
        };
        rows.push(OutputRow {
            name: name.clone(),
            sensitive: o.sensitive,
            value,
        });
    }
    Ok(rows)
}

/// One output; a sensitive one in plaintext only when `reveal`.
pub fn show(
    project: &str,
    envname: &str,
    state: &State,
    resource: &str,
    output: &str,
    reveal: bool,
    key: Option<&SecretKey>,
) -> Result<OutputRow> {
    let r = super::resource::record(state, resource)?;
    let o = r
        .applied
        .definition
        .outputs
        .get(output)
        .ok_or_else(|| OpsError::NoOutput {
            resource: resource.into(),
            output: output.into(),
            outputs: r.applied.definition.outputs.keys().cloned().collect(),
        })?;
    let value = if o.sensitive && !reveal {
        MASK.to_string()
    } else {
        resolve(
            project,
            envname,
            resource,
            &ResourceDef::from(&r.applied.definition),
            output,
            state,
            key,
        )?
    };
    Ok(OutputRow {
        name: output.into(),
        sensitive: o.sensitive,
        value,
    })
}

fn resolve(
    project: &str,
    envname: &str,
    resource: &str,
    def: &ResourceDef,
    output: &str,
    state: &State,
    key: Option<&SecretKey>,
) -> Result<String> {
    Ok(crate::apply::env::resolve_output(
        project, envname, resource, def, output, state, key,
    )?)
}
