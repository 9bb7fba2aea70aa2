//! Platz resource types (`<service path>/platz/resources.yaml`) and the
//! instances of them declared in compartment.yml.

pub mod check;
pub mod instances;
pub mod load;
pub mod model;
