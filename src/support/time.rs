//! RFC 3339 timestamps as the state, the audit log and backup records store
//! them (`2026-11-23T02:00:00Z`: whole seconds, UTC).

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp (any offset) into UTC. `None` when it is
/// not a valid RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a time the way the state stores timestamps.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The current time, formatted by [`format_time`].
pub fn now_rfc3339() -> String {
    format_time(Utc::now())
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
        assert!(parse_time(&now_rfc3339()).is_some());
    }
}
