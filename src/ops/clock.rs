//! The clock of day-2 operations: the system time, or `COMPARTMENT_NOW`
//! (an RFC 3339 time) so that schedules and retention can be rehearsed and
//! tested at any date.

use super::error::OpsError;
use chrono::{DateTime, Utc};

/// The variable that fixes "now".
pub const NOW_ENV: &str = "COMPARTMENT_NOW";

/// Now: `COMPARTMENT_NOW` when set, else the system clock.
pub fn now() -> Result<DateTime<Utc>, OpsError> {
    match std::env::var(NOW_ENV) {
        Ok(t) => parse(&t),
        Err(_) => Ok(Utc::now()),
    }
}

fn parse(t: &str) -> Result<DateTime<Utc>, OpsError> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| OpsError::Clock {
            value: t.into(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_is_rfc_3339_and_a_bad_one_names_the_format() {
        assert_eq!(
            parse("2026-11-23T03:00:00+01:00").unwrap().to_rfc3339(),
            "2026-11-23T02:00:00+00:00"
        );
        let e = parse("tomorrow").unwrap_err().to_string();
        assert!(
            e.starts_with("COMPARTMENT_NOW must be an RFC 3339 time such as 2026-11-23T02:00:00Z, not `tomorrow` ("),
            "{e}"
        );
    }
}
