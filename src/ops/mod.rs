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
//! (`backup`), copies on backup targets off the machine (`copies`),
//! verification into a scratch resource (`verify`), scheduled runs with retention (`schedule_run`) and their
//! loop (`scheduler`), services as day-2 objects, `exec` and `ps`
//! (`service`), `import`, `state rm` and `state mv` (`adopt`). `command` is each day-2 command as one library call;
//! `guard` the one permission check; `clock` "now"; `error` the typed
//! failures.

pub mod adopt;
pub mod artifacts;
pub mod audit;
pub mod backup;
pub mod clock;
pub mod command;
pub mod copies;
pub mod error;
pub mod guard;
pub mod ids;
pub mod output;
pub mod resource;
pub mod retention;
pub mod schedule;
pub mod schedule_run;
pub mod scheduler;
pub mod service;
pub mod variable;
pub mod verify;

pub use error::OpsError;
