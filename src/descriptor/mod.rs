//! compartment.yml: loading with positions, decoding into the model, preset
//! expansion, placeholders and cross-checks; `project` assembles it with the
//! Platz resource types into the desired configuration.

pub mod check;
pub mod cron;
pub mod decode;
pub mod load;
pub mod model;
pub mod preset;
pub mod project;
pub mod template;
pub mod yaml;
