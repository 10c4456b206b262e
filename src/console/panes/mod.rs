//! The three panes and the status bar, one file each, named after what the user sees.

pub mod detail;
pub mod exceptions;
pub mod queue;
pub mod status_bar;
