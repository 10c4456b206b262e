//! How times are written: UTC, RFC 3339, with a `Z`, and fractions of a second only when present.
//! Every time cab reads or writes lies in the years 2000 to 9000 (SPEC section 2): far enough
//! from chrono's limits that adding the longest expiry never leaves what RFC 3339 can write.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
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
    (earliest()..=latest()).contains(&at)
}

pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// To the second, for people: `2026-11-28T09:00:00Z`.
pub fn format_secs(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An RFC 3339 time within the years 2000 to 9000, in UTC.
pub fn parse(text: &str) -> Result<DateTime<Utc>, TimeError> {
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
