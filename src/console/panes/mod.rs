//! The three panes and the status bar, one file each, named after what the user sees, the
//! report view that takes their place, and the list cursor and windowed table the list panes
//! share.

pub mod data_table;
pub mod detail;
pub mod exceptions;
pub mod queue;
pub mod report;
pub mod status_bar;
