//! The report view (SPEC section 6), full screen in place of the panes: which report the user
//! wants (period and bucket), which one is being computed and which one is shown. The backend
//! computes the report; this model only asks for it (as an effect, through the app) and keeps
//! the answer. Drawing is in `draw`.

mod draw;

use chrono::{DateTime, Duration, Utc};
use ratatui::layout::Rect;

pub use draw::render;

use crate::console::keymap::Action;
use crate::engine::report::{Bucket, DEFAULT_DAYS, Report, ReportQuery};

/// How far back the report looks from the backend's "now" (its clock, or `--at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Days(i64),
    /// From the first request there is.
    All,
}

impl Span {
    const CYCLE: [Span; 4] = [
        Span::Days(30),
        Span::Days(DEFAULT_DAYS),
        Span::Days(365),
        Span::All,
    ];

    pub fn label(self) -> String {
        match self {
            Span::Days(n) => format!("last {n} days"),
            Span::All => "all time".to_string(),
        }
    }

    fn next(self) -> Span {
        let i = Self::CYCLE.iter().position(|s| *s == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }
}

/// Which report: a period and how it is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub span: Span,
    pub by: Bucket,
}

impl Choice {
    /// "last 90 days · by month", for the view's title.
    pub fn label(self) -> String {
        format!("{} · by {}", self.span.label(), self.by.as_str())
    }
}

/// A report asked of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ask {
    ticket: u64,
    choice: Choice,
    /// The console's newest event when it was asked: a later one makes it out of date.
    head: u64,
}

/// What the report view shows and waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportView {
    wanted: Choice,
    computing: Option<Ask>,
    shown: Option<(Box<Report>, Choice)>,
    /// The last answer that came back, and whether it was a report (not an error).
    answered: Option<(Ask, bool)>,
    /// The end of the last report's period: the backend's "now", from which "last 30 days"
    /// is counted back. The view never reads a clock of its own, so `--at` is followed.
    anchor: Option<DateTime<Utc>>,
    scroll: u16,
}

/// What a key in the report view comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAnswer {
    Consumed,
    /// Back to the panes.
    Close,
    /// Open the help overlay above the view.
    Help,
}

impl Default for ReportView {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportView {
    /// The report's own default: the last 90 days, by month.
    pub fn new() -> Self {
        ReportView {
            wanted: Choice {
                span: Span::Days(DEFAULT_DAYS),
                by: Bucket::default(),
            },
            computing: None,
            shown: None,
            answered: None,
            anchor: None,
            scroll: 0,
        }
    }

    // ----- what the view reads -----

    pub fn wanted(&self) -> Choice {
        self.wanted
    }

    /// The report on screen, and what it was asked as.
    pub fn shown(&self) -> Option<(&Report, Choice)> {
        self.shown.as_ref().map(|(r, c)| (r.as_ref(), *c))
    }

    /// A report is on its way.
    pub fn computing(&self) -> bool {
        self.computing.is_some()
    }

    /// The last answer was an error (shown in the status bar).
    pub fn failed(&self) -> bool {
        self.answered.is_some_and(|(_, ok)| !ok)
    }

    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    // ----- keys -----

    pub fn handle(&mut self, action: Option<Action>, viewport: Rect) -> ReportAnswer {
        let page = draw::body_height(viewport).max(1) as i32;
        let step = match action {
            Some(Action::Cancel) => return ReportAnswer::Close,
            Some(Action::Help) => return ReportAnswer::Help,
            Some(Action::NextPeriod) => {
                self.choose(Choice {
                    span: self.wanted.span.next(),
                    ..self.wanted
                });
                0
            }
            Some(Action::CycleBy) => {
                let by = match self.wanted.by {
                    Bucket::Month => Bucket::Week,
                    Bucket::Week => Bucket::Month,
                };
                self.choose(Choice { by, ..self.wanted });
                0
            }
            Some(Action::Up) => -1,
            Some(Action::Down) => 1,
            Some(Action::PageUp) => -page,
            Some(Action::PageDown) => page,
            Some(Action::Top) => i32::MIN / 2,
            Some(Action::Bottom) => i32::MAX / 2,
            _ => 0,
        };
        self.scroll = (i32::from(self.scroll) + step).clamp(0, i32::from(u16::MAX)) as u16;
        self.clamp(viewport);
        ReportAnswer::Consumed
    }

    fn choose(&mut self, choice: Choice) {
        self.wanted = choice;
        self.scroll = 0;
        // A choice that failed before is tried again when it is asked for again.
        if self.failed() {
            self.answered = None;
        }
    }

    /// Keep the scroll within what the terminal's size leaves hidden.
    pub fn clamp(&mut self, viewport: Rect) {
        let max = self.shown.as_ref().map_or(0, |(report, _)| {
            draw::content_height(viewport, report).saturating_sub(draw::body_height(viewport))
        });
        self.scroll = self.scroll.min(max);
    }

    // ----- asking the backend -----

    /// What to ask for now, if anything: the wanted report when it is neither shown nor on its
    /// way for the console's newest event `head`. "Last N days" counts back from the end of a
    /// report the backend has already answered; until there is one, the default period is
    /// asked for first. `first_submission` is when the first request was submitted, for
    /// "all time".
    pub fn next_ask(
        &self,
        head: u64,
        first_submission: impl FnOnce() -> Option<DateTime<Utc>>,
    ) -> Option<(Choice, ReportQuery)> {
        let target = match self.wanted.span {
            Span::Days(n) if n != DEFAULT_DAYS && self.anchor.is_none() => Choice {
                span: Span::Days(DEFAULT_DAYS),
                ..self.wanted
            },
            _ => self.wanted,
        };
        if let Some(asked) = &self.computing {
            // The right one is on its way, or the one on its way brings the anchor.
            if asked.choice == target || target != self.wanted {
                return None;
            }
        } else if let Some((last, _)) = &self.answered
            && last.choice == target
            && last.head >= head
        {
            return None;
        }
        let since = match target.span {
            Span::Days(DEFAULT_DAYS) => None,
            Span::Days(n) => self.anchor.map(|until| until - Duration::days(n)),
            Span::All => first_submission()
                .map(midnight)
                .filter(|since| self.anchor.is_none_or(|until| *since < until)),
        };
        let query = ReportQuery {
            since,
            by: target.by,
            ..ReportQuery::default()
        };
        Some((target, query))
    }

    /// The runtime was asked for `choice` with this ticket.
    pub fn asked(&mut self, ticket: u64, choice: Choice, head: u64) {
        self.computing = Some(Ask {
            ticket,
            choice,
            head,
        });
    }

    /// The backend answered. An answer to an ask that was superseded is dropped; an error is
    /// returned for the status bar.
    pub fn answer(&mut self, ticket: u64, result: Result<Box<Report>, String>) -> Option<String> {
        let asked = self.computing.take_if(|a| a.ticket == ticket)?;
        match result {
            Ok(report) => {
                self.anchor = Some(report.period.until);
                self.shown = Some((report, asked.choice));
                self.answered = Some((asked, true));
                None
            }
            Err(e) => {
                self.answered = Some((asked, false));
                Some(e)
            }
        }
    }
}

/// Midnight UTC of the day of `at`.
fn midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(at, |midnight| midnight.and_utc())
}
