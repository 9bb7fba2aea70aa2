//! The integration tests: one binary, each module a capability, all of them
//! running the real `compartment` binary through [`test::Test`].
//!
//! The binary has its own `main` (`harness = false`, see [`harness`]): each
//! module lists its tests in a `cases!` block, and the Docker-backed ones are
//! reported as ignored when no engine answers.

/// Lists a module's tests as `TESTS`, each `plain NAME` or `docker NAME`
/// (needs a Docker engine). A test function left out of the list is dead
/// code, which clippy refuses.
macro_rules! cases {
    ($($needs:ident $name:ident),* $(,)?) => {
        pub const TESTS: &[crate::harness::Case] =
            &[$(crate::harness::Case::$needs(stringify!($name), $name)),*];
    };
}

mod applied;
mod apply;
mod architecture;
mod backups;
mod broken;
mod cli;
mod cluster;
mod engine;
mod fuzz;
mod harden;
mod harness;
mod host;
mod inputs;
mod json;
mod life;
mod ops;
mod plan;
mod preset;
mod remote;
mod runtime;
mod schema;
mod servers;
mod state;
mod swarm;
mod test;
mod torture;
mod truth;
mod validate;

fn main() {
    harness::run(&[
        ("apply", apply::TESTS),
        ("architecture", architecture::TESTS),
        ("backups", backups::TESTS),
        ("broken", broken::TESTS),
        ("cli", cli::TESTS),
        ("fuzz", fuzz::TESTS),
        ("harden", harden::TESTS),
        ("harness", harness::TESTS),
        ("inputs", inputs::TESTS),
        ("json", json::TESTS),
        ("life", life::TESTS),
        ("ops", ops::TESTS),
        ("plan", plan::TESTS),
        ("preset", preset::TESTS),
        ("remote", remote::TESTS),
        ("runtime", runtime::TESTS),
        ("schema", schema::TESTS),
        ("state", state::TESTS),
        ("swarm", swarm::TESTS),
        ("torture", torture::TESTS),
        ("truth", truth::TESTS),
        ("validate", validate::TESTS),
    ]);
}
