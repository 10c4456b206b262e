//! How times are written: UTC, RFC 3339, with a `Z`, and fractions of a second only when present.
//! Every time cab reads or writes lies in the years 2000 to 9000 (SPEC section 2): far enough
//! from chrono's limits that adding the longest expiry never leaves what RFC 3339 can write.

use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Timelike, Utc};
use thiserror::Error;

/// Why a time was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("{0}")]
    Syntax(#[from] chrono::ParseError),
    #[error("times must lie in the years 2000 to 9000")]
    OutOfRange,
}

/// The first moment cab accepts: 2000-01-01T00:00:00Z.
pub fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The last moment cab accepts: the end of the year 9000.
pub fn latest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9001, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        - chrono::Duration::nanoseconds(1)
}

/// Is `at` within the years 2000 to 9000?
pub fn in_range(at: DateTime<Utc>) -> bool {
    // Asked of every time read: the bounds are worked out once.
    static RANGE: std::sync::LazyLock<std::ops::RangeInclusive<DateTime<Utc>>> =
        std::sync::LazyLock::new(|| earliest()..=latest());
    RANGE.contains(&at)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the fraction in groups of three digits and only when
/// there is one: what chrono writes for `SecondsFormat::AutoSi`, written digit by digit (every
/// line of a store is encoded again to check it is canonical, with one or more times each).
pub fn format(at: DateTime<Utc>) -> String {
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Beyond four digits of year, or a leap second: chrono's way.
        return at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    }
    fn put(text: &mut String, value: u32, digits: u32) {
        for place in (0..digits).rev() {
            text.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
    }
    let mut text = String::with_capacity(30);
    put(&mut text, year as u32, 4);
    text.push('-');
    put(&mut text, at.month(), 2);
    text.push('-');
    put(&mut text, at.day(), 2);
    text.push('T');
    put(&mut text, at.hour(), 2);
    text.push(':');
    put(&mut text, at.minute(), 2);
    text.push(':');
    put(&mut text, at.second(), 2);
    match nanos {
        0 => {}
        n if n % 1_000_000 == 0 => {
            text.push('.');
            put(&mut text, n / 1_000_000, 3);
        }
        n if n % 1_000 == 0 => {
            text.push('.');
            put(&mut text, n / 1_000, 6);
        }
        n => {
            text.push('.');
            put(&mut text, n, 9);
        }
    }
    text.push('Z');
    text
}

/// To the second, for people: `2026-11-28T09:00:00Z`.
pub fn format_secs(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An RFC 3339 time within the years 2000 to 9000, in UTC.
pub fn parse(text: &str) -> Result<DateTime<Utc>, TimeError> {
    match parse_canonical(text.as_bytes()) {
        Some(at) => Ok(at),
        None => parse_general(text),
    }
}

/// A time as cab writes it, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` in the years 2000 to 9000, read
/// digit by digit (a general RFC 3339 parser is most of the cost of reading a line's times).
/// `None` for any other text, which [`parse_general`] reads.
pub fn parse_canonical(text: &[u8]) -> Option<DateTime<Utc>> {
    let number = |range: std::ops::Range<usize>| {
        text.get(range)?.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !punctuation.iter().all(|&(i, c)| text.get(i) == Some(&c)) {
        return None;
    }
    let nanos = match text.get(19..)? {
        b"Z" => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            let digits = number(20..20 + fraction.len())?;
            digits * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let at = chrono::NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)?
        .and_hms_nano_opt(number(11..13)?, number(14..16)?, number(17..19)?, nanos)?
        .and_utc();
    in_range(at).then_some(at)
}

/// A time exactly as [`format`] writes it, and no other spelling of it: [`parse_canonical`]
/// with the fraction's digits in the one group of three that `format` chooses.
pub fn parse_exact(text: &[u8]) -> Option<DateTime<Utc>> {
    let Some(at) = parse_canonical(text) else {
        // A leap second, as chrono reads and writes it.
        let at = parse_general(std::str::from_utf8(text).ok()?).ok()?;
        return (format(at).as_bytes() == text).then_some(at);
    };
    let nanos = at.nanosecond();
    let exact = match text.len() - 20 {
        0 => nanos == 0,
        4 => nanos % 1_000_000 == 0 && nanos != 0,
        7 => nanos % 1_000 == 0 && nanos % 1_000_000 != 0,
        10 => nanos % 1_000 != 0,
        _ => false,
    };
    exact.then_some(at)
}

/// Any RFC 3339 time (chrono's reading), within the years 2000 to 9000, in UTC.
pub fn parse_general(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let at = DateTime::parse_from_rfc3339(text.trim())?.with_timezone(&Utc);
    if in_range(at) {
        Ok(at)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// RFC 3339 text in human-readable formats (JSON); seconds and nanoseconds in binary ones
/// (the store's checkpoint), where parsing text would be most of the cost.
pub mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&super::format(*at))
        } else {
            (at.timestamp(), at.timestamp_subsec_nanos()).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            super::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
            DateTime::from_timestamp(secs, nanos)
                .filter(|at| super::in_range(*at))
                .ok_or_else(|| serde::de::Error::custom("time out of range"))
        }
    }
}

pub mod rfc3339_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return at
                .map(|at| (at.timestamp(), at.timestamp_subsec_nanos()))
                .serialize(s);
        }
        match at {
            Some(at) => s.serialize_str(&super::format(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        if !d.is_human_readable() {
            return <Option<(i64, u32)>>::deserialize(d)?
                .map(|(secs, nanos)| {
                    DateTime::from_timestamp(secs, nanos)
                        .filter(|at| super::in_range(*at))
                        .ok_or_else(|| serde::de::Error::custom("time out of range"))
                })
                .transpose();
        }
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        text.map(|t| super::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn a_time_is_written_exactly_as_chrono_writes_it(
            secs in earliest().timestamp()..=latest().timestamp(),
            nanos in prop_oneof![
                Just(0u32),
                0u32..1_000_000_000,
                (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1_000),
            ],
        ) {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            prop_assert_eq!(format(at), at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }

    #[test]
    fn edges_of_the_range_and_of_the_fraction_are_written_as_chrono_writes_them() {
        for at in [
            earliest(),
            latest(),
            DateTime::from_timestamp(1_764_000_000, 1).unwrap(),
            DateTime::from_timestamp(1_764_000_000, 999_999_999).unwrap(),
            DateTime::from_timestamp(1_764_000_000, 1_000).unwrap(),
            DateTime::from_timestamp(1_764_000_000, 100_000_000).unwrap(),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            // A leap second, which chrono keeps as more than a second of nanoseconds.
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .unwrap()
                .and_utc(),
        ] {
            assert_eq!(format(at), at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }
}
