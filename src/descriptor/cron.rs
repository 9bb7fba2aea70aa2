//! Standard five-field cron expressions (minute hour day-of-month month
//! day-of-week), evaluated in UTC.
//!
//! The `cron` crate wants a seconds field and numbers the days of the week
//! 1-7 from Sunday, where standard cron uses 0-7 (0 and 7 are Sunday). So
//! expressions are parsed and checked here, with a message naming the
//! offending field, and handed to the crate with every field spelled out.

use std::collections::BTreeSet;

/// A problem in a cron expression: what is wrong and where (character
/// offset and length within the expression).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value of `names[0]`.
    names_from: u32,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        names_from: 1,
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        names_from: 0,
    },
];

/// A parsed expression: the values each field allows, and whether the field
/// was `*` (unrestricted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronExpr {
    pub fields: [(BTreeSet<u32>, bool); 5],
}

fn value(f: &Field, s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        if n < f.min || n > f.max {
            return Err(format!(
                "{} `{n}` is out of range: use {}-{}",
                f.name, f.min, f.max
            ));
        }
        return Ok(n);
    }
    let lower = s.to_ascii_lowercase();
    if let Some(i) = f.names.iter().position(|n| *n == lower) {
        return Ok(f.names_from + i as u32);
    }
    Err(if f.names.is_empty() {
        format!(
            "`{s}` is not a number ({} takes {}-{})",
            f.name, f.min, f.max
        )
    } else {
        format!(
            "`{s}` is not a {} ({}-{} or {})",
            f.name,
            f.min,
            f.max,
            f.names.join(", ")
        )
    })
}

fn field(f: &Field, text: &str) -> Result<(BTreeSet<u32>, bool), String> {
    let mut out = BTreeSet::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!(
                        "step `/{s}` in the {} field must be a positive whole number",
                        f.name
                    )
                })?;
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (f.min, f.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(f, a)?, value(f, b)?);
            if a > b {
                return Err(format!(
                    "the {} range `{range}` runs backwards: write the smaller value first",
                    f.name
                ));
            }
            (a, b)
        } else if range.is_empty() {
            return Err(format!("the {} field has an empty list item", f.name));
        } else {
            let a = value(f, range)?;
            // `5/15` means "from 5, every 15".
            (a, if step > 1 { f.max } else { a })
        };
        let mut v = lo;
        while v <= hi {
            out.insert(v);
            v += step;
        }
    }
    Ok((out, text == "*"))
}

/// Parses and checks a five-field expression.
pub fn parse(expr: &str) -> Result<CronExpr, CronError> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in expr.chars().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, expr.chars().count()));
    }
    if spans.len() != 5 {
        return Err(CronError {
            offset: 0,
            len: expr.chars().count().max(1),
            message: format!(
                "a cron schedule has 5 fields (minute hour day-of-month month day-of-week), this one has {}",
                spans.len()
            ),
        });
    }
    let chars: Vec<char> = expr.chars().collect();
    let mut fields: [(BTreeSet<u32>, bool); 5] = Default::default();
    for (i, (s, e)) in spans.iter().enumerate() {
        let text: String = chars[*s..*e].iter().collect();
        fields[i] = field(&FIELDS[i], &text).map_err(|message| CronError {
            offset: *s,
            len: e - s,
            message,
        })?;
    }
    // Sunday is both 0 and 7.
    if fields[4].0.remove(&7) {
        fields[4].0.insert(0);
    }
    Ok(CronExpr { fields })
}

impl CronExpr {
    /// The schedule as the `cron` crate evaluates it (seconds = 0, days of
    /// the week renumbered 1-7 from Sunday). When both day-of-month and
    /// day-of-week are restricted, the crate requires both to match.
    pub fn schedule(&self) -> cron::Schedule {
        let list = |i: usize, shift: u32| -> String {
            let (values, star) = &self.fields[i];
            if *star {
                "*".into()
            } else {
                values
                    .iter()
                    .map(|v| (v + shift).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        let spec = format!(
            "0 {} {} {} {} {}",
            list(0, 0),
            list(1, 0),
            list(2, 0),
            list(3, 0),
            list(4, 1)
        );
        spec.parse()
            .expect("a checked cron expression is accepted by the cron crate")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Utc};

    #[test]
    fn standard_expressions_parse_with_standard_weekdays() {
        let start = Utc.with_ymd_and_hms(2024, 1, 3, 12, 0, 0).unwrap(); // a Wednesday
        let next = parse("0 2 * * 1")
            .unwrap()
            .schedule()
            .after(&start)
            .next()
            .unwrap();
        assert_eq!(next.weekday(), chrono::Weekday::Mon);
        assert_eq!((next.hour(), next.minute()), (2, 0));
        let sunday = parse("0 2 * * 7")
            .unwrap()
            .schedule()
            .after(&start)
            .next()
            .unwrap();
        assert_eq!(sunday.weekday(), chrono::Weekday::Sun);
        let sunday = parse("0 2 * * 0")
            .unwrap()
            .schedule()
            .after(&start)
            .next()
            .unwrap();
        assert_eq!(sunday.weekday(), chrono::Weekday::Sun);
        let fri = parse("30 4 * * mon-fri")
            .unwrap()
            .schedule()
            .after(&start)
            .next()
            .unwrap();
        assert_eq!(fri.weekday(), chrono::Weekday::Thu);
        for ok in [
            "*/15 * * * *",
            "0 2 1 * *",
            "0 0 1 jan,jul *",
            "5/10 0-6/2 * * *",
        ] {
            parse(ok).unwrap().schedule();
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse("0 25 * * *").unwrap_err();
        assert_eq!((e.offset, e.len), (2, 2));
        assert!(
            e.message.contains("hour `25` is out of range"),
            "{}",
            e.message
        );
        assert!(parse("0 2 * *").unwrap_err().message.contains("has 4"));
        assert!(parse("0 2 * * funday")
            .unwrap_err()
            .message
            .contains("day-of-week"));
        assert!(parse("0 5-2 * * *")
            .unwrap_err()
            .message
            .contains("backwards"));
        assert!(parse("*/0 * * * *").unwrap_err().message.contains("step"));
        assert!(parse("0 0 0 * *")
            .unwrap_err()
            .message
            .contains("day-of-month"));
    }
}
