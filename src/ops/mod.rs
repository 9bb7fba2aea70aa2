//! Day-2 operations on the same state and engine as apply.
//!
//! The pure core: when scheduled backups are due (`schedule`), which backups
//! retention cleans (`retention`), the
//! append-only audit log of sensitive reads (`audit`) and backup ids
//! (`ids`). Nothing there talks to Docker or reads the system clock: every
//! function that needs "now" takes it as a parameter.
//!
//! Against the engine: resource commands (`resource`), outputs (`output`),
//! runtime variables and bindings (`variable`), backups and restores
//! (`backup`), scheduled runs with retention (`schedule_run`).

pub mod audit;
pub mod backup;
pub mod ids;
pub mod output;
pub mod resource;
pub mod retention;
pub mod schedule;
pub mod schedule_run;
pub mod variable;
