//! Day-2 operations on the same state and engine as apply.
//!
//! The pure core: when scheduled backups are due (`schedule`), which backups
//! retention cleans (`retention`), who may run which command (`roles`), the
//! append-only audit log of sensitive reads (`audit`) and backup ids
//! (`ids`). Nothing there talks to Docker or reads the system clock: every
//! function that needs "now" takes it as a parameter.
//!
//! Against the engine: resource commands (`resource`), outputs (`output`),
//! runtime variables and bindings (`variable`), backups and restores
//! (`backup`), scheduled runs with retention (`schedule_run`) and their
//! loop (`scheduler`). `command` is each day-2 command as one library call;
//! `guard` the one permission check; `clock` "now"; `error` the typed
//! failures.

pub mod audit;
pub mod backup;
pub mod clock;
pub mod command;
pub mod error;
pub mod guard;
pub mod ids;
pub mod output;
pub mod resource;
pub mod retention;
pub mod roles;
pub mod schedule;
pub mod schedule_run;
pub mod scheduler;
pub mod variable;

pub use error::OpsError;

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses a timestamp as stored in the state (RFC 3339, any offset) into
/// UTC. `None` when it is not a valid RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a time the way the state stores timestamps
/// (`2026-11-23T02:00:00Z`, whole seconds, UTC).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_round_trip_in_state_format() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        assert_eq!(format_time(t), "2026-11-23T02:00:00Z");
        assert_eq!(parse_time("2026-11-23T02:00:00Z"), Some(t));
        assert_eq!(parse_time("2026-11-23T03:00:00+01:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }
}
