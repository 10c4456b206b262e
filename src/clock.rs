//! The one clock every "now" comes from. `CAB_NOW` (RFC 3339) fixes it for tests, demos and
//! replays; otherwise it is the system clock, in UTC.

use chrono::{DateTime, Utc};

use crate::engine::{Invalid, time};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The clock `CAB_NOW` asks for, or the system clock when it is unset or empty.
    pub fn from_env() -> Result<Clock, Invalid> {
        match std::env::var("CAB_NOW") {
            Ok(text) if !text.trim().is_empty() => Clock::parse(&text),
            _ => Ok(Clock::System),
        }
    }

    pub fn parse(text: &str) -> Result<Clock, Invalid> {
        time::parse(text).map(Clock::Fixed).map_err(|_| {
            Invalid::new(
                "CAB_NOW",
                format!(
                    "CAB_NOW must be an RFC 3339 time in the years 2000 to 9000, such as 2026-11-28T09:00:00Z, got {:?}",
                    crate::untrusted::line(text)
                ),
            )
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            // Milliseconds are precise enough for an audit trail and read better than nanoseconds.
            Clock::System => {
                let now = Utc::now();
                DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
            }
            Clock::Fixed(at) => *at,
        }
    }
}
