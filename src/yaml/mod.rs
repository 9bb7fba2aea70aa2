//! Positioned YAML: the parser that keeps `file:line:column` for every node
//! (`parser`) and the field-by-field decoding helpers that turn problems into
//! located diagnostics (`decode`). Below every descriptor format
//! (compartment.yml, platz/resources.yaml, access.yml); imports only
//! `diagnostics`.

pub mod decode;
mod parser;

pub use parser::{parse, Node, Value};
