//! How the dashboard writes times: a start time as the time of day (or the
//! date, when not today) and a duration in minutes or hours. The Runs and
//! Live views both use them.

use chrono::{DateTime, FixedOffset};

/// `12:34:56` from an RFC 3339 time, or the date when not the day of
/// `now` (in `now`'s time zone).
pub fn short_time(rfc3339: &str, now: &DateTime<FixedOffset>) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let t = t.with_timezone(&now.timezone());
            if t.date_naive() == now.date_naive() {
                t.format("%H:%M:%S").to_string()
            } else {
                t.format("%m-%d %H:%M").to_string()
            }
        }
        Err(_) => String::new(),
    }
}

/// Seconds as `12m05s`, or `1h02m` from an hour on; negative counts as 0.
pub fn duration(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}
