//! The integration tests: one binary, each module a capability, all of them
//! running the real `compartment` binary through [`test::Test`].

mod applied;
mod apply;
mod broken;
mod engine;
mod fuzz;
mod ops;
mod plan;
mod preset;
mod schema;
mod state;
mod test;
mod validate;
