//! Times as people read them: "3 days ago", "in 2 days", and countdowns like "2d 4h"; and
//! text cut to fit a column. Shared by the command line and the console.

use chrono::{DateTime, Duration, Utc};

use crate::engine::time;

/// "just now", "5 minutes ago", "in 3 hours", "2 days ago", "in 5 weeks".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = at - now;
    let future = delta > Duration::zero();
    let secs = delta.num_seconds().unsigned_abs();
    if secs < 45 {
        return "just now".to_string();
    }
    let (n, unit) = if secs < 90 {
        (1, "minute")
    } else if secs < 45 * 60 {
        (rounded(secs, 60), "minute")
    } else if secs < 90 * 60 {
        (1, "hour")
    } else if secs < 22 * 3600 {
        (rounded(secs, 3600), "hour")
    } else if secs < 36 * 3600 {
        (1, "day")
    } else if secs < 14 * 86_400 {
        (rounded(secs, 86_400), "day")
    } else if secs < 60 * 86_400 {
        (rounded(secs, 7 * 86_400), "week")
    } else if secs < 365 * 86_400 {
        (rounded(secs, 30 * 86_400), "month")
    } else {
        (rounded(secs, 365 * 86_400), "year")
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

fn rounded(secs: u64, unit: u64) -> u64 {
    ((secs + unit / 2) / unit).max(1)
}

/// The RFC 3339 time with its relative reading: "2026-11-28T09:00:00Z (3 days ago)".
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", time::format_secs(at), relative(at, now))
}

/// A compact countdown to a moment: "2d 4h", "5h 12m", "12m"; "expired" once it has passed.
pub fn countdown(until: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = until - now;
    if left <= Duration::zero() {
        return "expired".to_string();
    }
    let mins = left.num_minutes();
    let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{}m", m.max(1))
    }
}

/// Cut text to at most `max` terminal columns, ending with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if unicode_width::UnicodeWidthStr::width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        time::parse(s).unwrap()
    }

    #[test]
    fn relative_reads_past_and_future() {
        let now = t("2026-11-28T12:00:00Z");
        assert_eq!(relative(t("2026-11-25T12:00:00Z"), now), "3 days ago");
        assert_eq!(relative(t("2026-11-30T12:00:00Z"), now), "in 2 days");
        assert_eq!(relative(t("2026-11-28T11:59:50Z"), now), "just now");
        assert_eq!(relative(t("2026-11-28T09:00:00Z"), now), "3 hours ago");
        assert_eq!(relative(t("2026-11-28T11:55:00Z"), now), "5 minutes ago");
        assert_eq!(relative(t("2026-11-27T12:00:00Z"), now), "1 day ago");
        assert_eq!(relative(t("2026-10-17T12:00:00Z"), now), "6 weeks ago");
    }

    #[test]
    fn countdown_shows_the_two_largest_units() {
        let now = t("2026-11-28T12:00:00Z");
        assert_eq!(countdown(t("2026-11-30T16:30:00Z"), now), "2d 4h");
        assert_eq!(countdown(t("2026-11-28T17:12:00Z"), now), "5h 12m");
        assert_eq!(countdown(t("2026-11-28T12:00:20Z"), now), "1m");
        assert_eq!(countdown(t("2026-11-28T12:00:00Z"), now), "expired");
    }
}
