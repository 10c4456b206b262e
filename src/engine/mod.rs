//! The workflow engine: pure rules over a replayed state.
//! `rules::handle` turns a command into events or a refusal; `State::apply` folds events into
//! state; `query` answers questions about it. No I/O and no clock of its own.

pub mod as_of;
pub mod audit;
pub mod error;
pub mod event;
pub mod factors;
pub mod model;
pub mod query;
pub mod rejudge;
pub mod report;
pub mod rules;
pub mod state;
pub mod text;
pub mod time;

#[cfg(test)]
mod tests;

pub use error::{EngineError, Invalid, Refusal};
pub use event::{Event, EventKind, StoredEvent};
pub use factors::RiskFactors;
pub use model::*;
pub use query::{
    ExceptionFilter, ExceptionView, GateState, GateView, RequestDetail, RequestFilter, RequestView,
    StatusView,
};
pub use rejudge::{Violation, admit, admit_judged, rejudge, rejudge_alone};
pub use rules::{Command, Ctx, IdSource, RandomIds, Review, Submission, Verdict};
pub use state::State;
pub use text::Text;
