//! The integration tests: one binary, each module a capability, all of them
//! running the real `compartment` binary through [`test::Test`].

mod broken;
mod fuzz;
mod preset;
mod schema;
mod test;
mod validate;
