//! When a scheduled backup is due: the next fire time of a resource's
//! `operations.backup.schedule` after its last scheduled run, and whether
//! that time has come.
//!
//! All times are UTC and "now" is always passed in.
//!
//! - `interval: hourly` fires at minute 0 of every hour (`HH:00:00` UTC).
//! - `interval: daily` fires at midnight UTC (`00:00:00` UTC) every day.
//!   That is the same time as the cron expression `0 0 * * *`; it is fixed
//!   rather than "24 hours after the last run" so that runs do not drift
//!   later each day by however long a run (or a late scheduler) took.
//! - `cron: '<5 fields>'` is a standard cron expression evaluated in UTC
//!   (`crate::descriptor::cron`: day-of-week 0-7 with Sunday 0 or 7, names,
//!   steps, ranges, lists). As in standard cron, when both day-of-month and
//!   day-of-week are restricted (neither is `*`), a day matching either one
//!   fires: `0 2 1 * 1` is "the 1st of the month and every Monday".
//!
//! A backup is due when the first fire time strictly after the last
//! scheduled run (or after the schedule's `created` time when it never ran)
//! is at or before `now`. Missed fire times collapse into one run: after a
//! scheduler outage there is a single due backup, and once it has run
//! (`last_run` = the time it ran) the next due time is the first fire time
//! after that run.

use chrono::{DateTime, Duration, DurationRound, SubsecRound, Utc};
use thiserror::Error;

use crate::descriptor::cron::{parse, CronExpr};
use crate::descriptor::model::Schedule;

/// A schedule that cannot produce a fire time. The loader rejects these in
/// compartment.yml; they can still reach here from an old state or a
/// hand-built value, and must not silently mean "never due".
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("unknown schedule interval `{0}`: use `hourly` or `daily`, or a `cron` expression")]
    UnknownInterval(String),
    #[error("invalid cron schedule `{expr}`: {message}")]
    InvalidCron { expr: String, message: String },
    #[error("cron schedule `{expr}` never fires after {after}")]
    NeverFires { expr: String, after: String },
}

/// The first time the schedule fires strictly after `last_run`, or after
/// `created` when the schedule never ran.
pub fn next_due(
    schedule: &Schedule,
    last_run: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    next_after(schedule, last_run.unwrap_or(created))
}

/// Whether a scheduled backup is due at `now`: the next fire time after the
/// last run (or `created`) is at or before `now`.
pub fn is_due(
    schedule: &Schedule,
    last_run: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, ScheduleError> {
    Ok(next_due(schedule, last_run, created)? <= now)
}

/// The first fire time strictly after `after`.
pub fn next_after(
    schedule: &Schedule,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    match schedule {
        Schedule::Interval(i) => {
            let period = match i.as_str() {
                "hourly" => Duration::hours(1),
                "daily" => Duration::days(1),
                other => return Err(ScheduleError::UnknownInterval(other.to_string())),
            };
            // Epoch-aligned truncation: whole hours / UTC midnights.
            let floor = after
                .duration_trunc(period)
                .expect("hour and day truncation of a UTC time cannot overflow");
            Ok(floor + period)
        }
        Schedule::Cron(expr) => {
            let parsed = parse(expr).map_err(|e| ScheduleError::InvalidCron {
                expr: expr.clone(),
                message: e.message,
            })?;
            // The crate works in whole seconds; fire times are whole minutes,
            // so dropping the fraction keeps "strictly after" exact.
            let from = after.trunc_subsecs(0);
            variants(&parsed)
                .iter()
                .filter_map(|c| c.schedule().after(&from).next())
                .min()
                .ok_or_else(|| ScheduleError::NeverFires {
                    expr: expr.clone(),
                    after: crate::support::time::format_time(after),
                })
        }
    }
}

/// A human description of a schedule, for `resource backup list`.
pub fn describe(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Interval(i) if i == "hourly" => "hourly (minute 0 of every hour, UTC)".into(),
        Schedule::Interval(i) if i == "daily" => "daily (00:00 UTC)".into(),
        Schedule::Interval(i) => format!("interval `{i}`"),
        Schedule::Cron(expr) => format!("cron `{expr}` (UTC)"),
    }
}

/// Standard cron ORs day-of-month and day-of-week when both are restricted;
/// the `cron` crate ANDs them. So such an expression becomes two schedules,
/// one per day field, and the earlier fire time wins.
fn variants(c: &CronExpr) -> Vec<CronExpr> {
    let (dom_star, dow_star) = (c.fields[2].1, c.fields[4].1);
    if dom_star || dow_star {
        return vec![c.clone()];
    }
    let mut by_dom = c.clone();
    by_dom.fields[4].1 = true;
    let mut by_dow = c.clone();
    by_dow.fields[2].1 = true;
    vec![by_dom, by_dow]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn t(s: &str) -> DateTime<Utc> {
        crate::support::time::parse_time(s).unwrap_or_else(|| panic!("bad test time {s}"))
    }
    fn cron(e: &str) -> Schedule {
        Schedule::Cron(e.into())
    }
    fn every(i: &str) -> Schedule {
        Schedule::Interval(i.into())
    }
    /// Fire times from `start`, as the scheduler would see them if every
    /// due backup ran exactly at its fire time.
    fn fires(s: &Schedule, start: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut last = t(start);
        for _ in 0..n {
            last = next_after(s, last).unwrap();
            out.push(crate::support::time::format_time(last));
        }
        out
    }

    #[test]
    fn every_fifteen_minutes() {
        let s = cron("*/15 * * * *");
        let created = t("2026-11-23T10:07:12Z");
        assert_eq!(
            next_due(&s, None, created).unwrap(),
            t("2026-11-23T10:15:00Z")
        );
        let last = Some(t("2026-11-23T10:15:00Z"));
        assert_eq!(
            next_due(&s, last, created).unwrap(),
            t("2026-11-23T10:30:00Z")
        );
        assert!(!is_due(&s, last, created, t("2026-11-23T10:29:59Z")).unwrap());
        assert!(is_due(&s, last, created, t("2026-11-23T10:30:00Z")).unwrap());
        assert_eq!(
            fires(&s, "2026-11-23T23:40:00Z", 3),
            [
                "2026-11-23T23:45:00Z",
                "2026-11-24T00:00:00Z",
                "2026-11-24T00:15:00Z"
            ]
        );
    }

    #[test]
    fn mondays_at_two_due_exactly_once() {
        let s = cron("0 2 * * 1");
        assert_eq!(t("2026-11-23T02:00:00Z").weekday(), Weekday::Mon);
        let created = t("2026-11-01T12:00:00Z");
        let last = Some(t("2026-11-16T02:00:04Z")); // previous Monday's run
        assert_eq!(
            next_due(&s, last, created).unwrap(),
            t("2026-11-23T02:00:00Z")
        );
        assert!(!is_due(&s, last, created, t("2026-11-23T01:59:00Z")).unwrap());
        assert!(!is_due(&s, last, created, t("2026-11-23T01:59:59Z")).unwrap());
        assert!(is_due(&s, last, created, t("2026-11-23T02:00:00Z")).unwrap());
        // Once it ran (at its fire time or a little later) it is not due again
        // until the next Monday.
        for ran in [
            "2026-11-23T02:00:00Z",
            "2026-11-23T02:00:00.250Z",
            "2026-11-23T02:03:10Z",
        ] {
            let last = Some(t(ran));
            for now in [
                "2026-11-23T02:00:00Z",
                "2026-11-23T02:59:00Z",
                "2026-11-30T01:59:59Z",
            ] {
                if t(now) >= t(ran) {
                    assert!(
                        !is_due(&s, last, created, t(now)).unwrap(),
                        "ran {ran}, now {now}"
                    );
                }
            }
            assert_eq!(
                next_due(&s, last, created).unwrap(),
                t("2026-11-30T02:00:00Z")
            );
        }
        // Sunday is not Monday (the cron crate alone counts 1 as Sunday).
        let sunday = t("2026-11-22T02:00:00Z");
        assert!(!is_due(&s, last, created, sunday).unwrap());
    }

    #[test]
    fn missed_runs_collapse_into_one() {
        let s = cron("0 2 * * 1");
        let created = t("2026-10-01T00:00:00Z");
        let last = Some(t("2026-11-02T02:00:00Z")); // three Mondays missed
        let now = t("2026-11-23T10:00:00Z");
        assert!(is_due(&s, last, created, now).unwrap());
        assert_eq!(
            next_due(&s, last, created).unwrap(),
            t("2026-11-09T02:00:00Z")
        );
        // The one catch-up run at 10:00 satisfies all of them.
        let caught_up = Some(now);
        assert!(!is_due(&s, caught_up, created, t("2026-11-23T10:00:01Z")).unwrap());
        assert_eq!(
            next_due(&s, caught_up, created).unwrap(),
            t("2026-11-30T02:00:00Z")
        );
    }

    #[test]
    fn first_of_the_month() {
        let s = cron("0 2 1 * *");
        assert_eq!(
            next_due(&s, None, t("2026-01-15T08:00:00Z")).unwrap(),
            t("2026-02-01T02:00:00Z")
        );
        assert_eq!(
            fires(&s, "2026-10-20T00:00:00Z", 4),
            [
                "2026-11-01T02:00:00Z",
                "2026-12-01T02:00:00Z",
                "2027-01-01T02:00:00Z",
                "2027-02-01T02:00:00Z"
            ]
        );
        let last = Some(t("2026-12-01T02:00:00Z"));
        let c = t("2026-01-01T00:00:00Z");
        assert!(!is_due(&s, last, c, t("2026-12-31T23:59:59Z")).unwrap());
        assert!(is_due(&s, last, c, t("2027-01-01T02:00:00Z")).unwrap());
    }

    #[test]
    fn ranges_steps_and_weekdays() {
        // 09, 11, 13, 15, 17 on Monday to Friday.
        let s = cron("0 9-17/2 * * 1-5");
        assert_eq!(
            fires(&s, "2026-11-27T16:00:00Z", 3), // a Friday
            [
                "2026-11-27T17:00:00Z",
                "2026-11-30T09:00:00Z",
                "2026-11-30T11:00:00Z"
            ]
        );
        assert_eq!(t("2026-11-30T09:00:00Z").weekday(), Weekday::Mon);
        // Created on a Saturday: first run Monday 09:00.
        assert_eq!(
            next_due(&s, None, t("2026-11-28T12:00:00Z")).unwrap(),
            t("2026-11-30T09:00:00Z")
        );
        // After the last slot of a Tuesday, Wednesday 09:00.
        assert_eq!(
            next_due(
                &s,
                Some(t("2026-11-24T17:30:00Z")),
                t("2026-01-01T00:00:00Z")
            )
            .unwrap(),
            t("2026-11-25T09:00:00Z")
        );
        // Even hours only: 10:00 is not a fire time.
        assert!(!is_due(
            &s,
            Some(t("2026-11-24T09:00:00Z")),
            t("2026-01-01T00:00:00Z"),
            t("2026-11-24T10:59:59Z")
        )
        .unwrap());
        // Names work the same.
        assert_eq!(
            fires(&cron("0 9-17/2 * * mon-fri"), "2026-11-27T16:00:00Z", 3),
            fires(&s, "2026-11-27T16:00:00Z", 3)
        );
    }

    #[test]
    fn lists() {
        let s = cron("30 6,18 * * *");
        assert_eq!(
            fires(&s, "2026-11-23T00:00:00Z", 4),
            [
                "2026-11-23T06:30:00Z",
                "2026-11-23T18:30:00Z",
                "2026-11-24T06:30:00Z",
                "2026-11-24T18:30:00Z"
            ]
        );
        let c = t("2026-01-01T00:00:00Z");
        let last = Some(t("2026-11-23T06:30:00Z"));
        assert!(!is_due(&s, last, c, t("2026-11-23T18:29:59Z")).unwrap());
        assert!(is_due(&s, last, c, t("2026-11-23T18:30:00Z")).unwrap());
    }

    #[test]
    fn sunday_is_zero_or_seven() {
        for e in ["0 3 * * 0", "0 3 * * 7", "0 3 * * sun"] {
            let n = next_due(&cron(e), None, t("2026-11-23T00:00:00Z")).unwrap();
            assert_eq!(n, t("2026-11-29T03:00:00Z"), "{e}");
            assert_eq!(n.weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn day_of_month_or_day_of_week_as_in_standard_cron() {
        // The 1st of the month OR any Monday.
        let s = cron("0 2 1 * 1");
        let got = fires(&s, "2026-11-24T00:00:00Z", 3);
        assert_eq!(
            got,
            [
                "2026-11-30T02:00:00Z",
                "2026-12-01T02:00:00Z",
                "2026-12-07T02:00:00Z"
            ]
        );
        assert_eq!(t(&got[1]).weekday(), Weekday::Tue);
        // With day-of-week `*`, only the day of month counts.
        assert_eq!(
            fires(&cron("0 2 1 * *"), "2026-11-24T00:00:00Z", 1),
            ["2026-12-01T02:00:00Z"]
        );
    }

    #[test]
    fn hourly_is_minute_zero_of_every_hour() {
        let s = every("hourly");
        for (created, want) in [
            ("2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"),
            ("2026-11-23T10:00:00.001Z", "2026-11-23T11:00:00Z"),
            ("2026-11-23T10:59:59Z", "2026-11-23T11:00:00Z"),
            ("2026-11-23T23:30:00Z", "2026-11-24T00:00:00Z"),
            ("2026-12-31T23:00:00Z", "2027-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                next_due(&s, None, t(created)).unwrap(),
                t(want),
                "{created}"
            );
        }
        let c = t("2026-11-01T00:00:00Z");
        let last = Some(t("2026-11-23T11:00:00Z"));
        assert!(!is_due(&s, last, c, t("2026-11-23T11:59:59Z")).unwrap());
        assert!(is_due(&s, last, c, t("2026-11-23T12:00:00Z")).unwrap());
        assert!(is_due(&s, last, c, t("2026-11-23T15:20:00Z")).unwrap());
        let n = next_due(&s, last, c).unwrap();
        assert_eq!((n.minute(), n.second()), (0, 0));
    }

    #[test]
    fn daily_is_midnight_utc() {
        let s = every("daily");
        for (created, want) in [
            ("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"),
            ("2026-11-23T23:59:59Z", "2026-11-24T00:00:00Z"),
            ("2026-11-23T12:00:00+14:00", "2026-11-23T00:00:00Z"), // = the 22nd, 22:00 UTC
            ("2026-02-28T05:00:00Z", "2026-03-01T00:00:00Z"),
            ("2026-12-31T00:00:01Z", "2027-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                next_due(&s, None, t(created)).unwrap(),
                t(want),
                "{created}"
            );
        }
        let c = t("2026-11-01T00:00:00Z");
        let last = Some(t("2026-11-23T00:00:07Z"));
        assert!(!is_due(&s, last, c, t("2026-11-23T23:59:59Z")).unwrap());
        assert!(is_due(&s, last, c, t("2026-11-24T00:00:00Z")).unwrap());
        assert_eq!(
            next_due(&s, None, t("2026-11-23T06:00:00Z")).unwrap(),
            next_due(&cron("0 0 * * *"), None, t("2026-11-23T06:00:00Z")).unwrap()
        );
    }

    #[test]
    fn never_run_counts_from_created() {
        let s = every("daily");
        let created = t("2026-11-23T09:00:00Z");
        assert!(!is_due(&s, None, created, t("2026-11-23T23:59:59Z")).unwrap());
        assert!(is_due(&s, None, created, t("2026-11-24T00:00:00Z")).unwrap());
        // Created exactly at a fire time: that instant is not "after" it.
        let s = cron("0 2 * * 1");
        let created = t("2026-11-23T02:00:00Z");
        assert!(!is_due(&s, None, created, created).unwrap());
        assert_eq!(
            next_due(&s, None, created).unwrap(),
            t("2026-11-30T02:00:00Z")
        );
        // A last run wins over `created`.
        assert_eq!(
            next_due(&s, Some(t("2026-11-30T02:00:00Z")), created).unwrap(),
            t("2026-12-07T02:00:00Z")
        );
    }

    #[test]
    fn broken_schedules_are_errors_not_never_due() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        assert_eq!(
            next_due(&every("weekly"), None, now).unwrap_err(),
            ScheduleError::UnknownInterval("weekly".into())
        );
        let e = next_due(&cron("0 25 * * *"), None, now).unwrap_err();
        assert!(e.to_string().contains("hour `25` is out of range"), "{e}");
        let e = is_due(&cron("0 0 30 2 *"), None, now, now).unwrap_err();
        assert!(matches!(e, ScheduleError::NeverFires { .. }), "{e}");
        assert_eq!(describe(&every("daily")), "daily (00:00 UTC)");
        assert_eq!(describe(&cron("0 2 * * 1")), "cron `0 2 * * 1` (UTC)");
    }
}
