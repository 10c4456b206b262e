//! Values the command line reads itself before the engine sees them: numbers, factor lists
//! and times. Each refusal names the option and what it takes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::exit::CliError;
use crate::engine::time;
use crate::untrusted;

pub fn score(text: &str) -> Result<f64, CliError> {
    text.trim().parse::<f64>().map_err(|_| {
        CliError::Invalid(format!(
            "risk score must be a number from 0 to 100, got {:?}",
            untrusted::line(text)
        ))
    })
}

pub fn days(text: &str) -> Result<i64, CliError> {
    text.trim().parse::<i64>().map_err(|_| {
        CliError::Invalid(format!(
            "--days must be a whole number of days from 1 to 90, got {:?}",
            untrusted::line(text)
        ))
    })
}

pub fn factors(items: &[String]) -> Result<BTreeMap<String, f64>, CliError> {
    let mut factors = BTreeMap::new();
    for item in items {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            CliError::Invalid(format!(
                "--factor takes NAME=VALUE, got {:?}",
                untrusted::line(item)
            ))
        })?;
        let value: f64 = value.trim().parse().map_err(|_| {
            CliError::Invalid(format!(
                "risk factor {:?} must be a number, got {:?}",
                untrusted::line(name),
                untrusted::line(value)
            ))
        })?;
        if factors.insert(name.trim().to_string(), value).is_some() {
            return Err(CliError::Invalid(format!(
                "risk factor {:?} is given twice",
                untrusted::line(name)
            )));
        }
    }
    Ok(factors)
}

pub fn since(text: &str) -> Result<DateTime<Utc>, CliError> {
    moment("--since", text)
}

/// A time option: RFC 3339 (`engine::time::parse`), or a date for its midnight UTC.
pub fn moment(flag: &str, text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(at) = time::parse(text) {
        return Ok(at);
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .filter(|at| time::in_range(*at))
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "{flag} takes an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01) in the years 2000 to 9000, got {:?}",
                untrusted::line(text)
            ))
        })
}

/// A what-if threshold: a number (the engine judges its range with the other threshold).
pub fn threshold(flag: &str, text: &str) -> Result<f64, CliError> {
    text.trim().parse::<f64>().map_err(|_| {
        CliError::Invalid(format!(
            "{flag} must be a number from 0 to 100, got {:?}",
            untrusted::line(text)
        ))
    })
}

/// `--at TIME`: an RFC 3339 time within the years 2000 to 9000.
pub fn at(text: &str) -> Result<DateTime<Utc>, CliError> {
    time::parse(text).map_err(|_| {
        CliError::Invalid(format!(
            "--at takes an RFC 3339 time in the years 2000 to 9000, such as 2026-11-28T09:00:00Z, got {:?}",
            untrusted::line(text)
        ))
    })
}
