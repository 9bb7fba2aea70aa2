//! compartment.yml: decoding the positioned YAML into the model, preset
//! expansion, placeholders and cross-checks. `crate::project` assembles it
//! with the Platz resource types into the desired configuration; this module
//! imports neither `platz` nor `project`.

pub mod check;
pub mod cron;
pub mod image;
pub mod load;
pub mod model;
pub mod preset;
pub mod template;
