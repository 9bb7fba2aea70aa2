//! The integration tests: one binary, each module a capability, all of them
//! running the real `compartment` binary through [`test::Test`].

mod applied;
mod broken;
mod plan;
mod state;
mod test;
mod validate;
