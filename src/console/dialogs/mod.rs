//! Layers above the panes: forms, the confirmation, the help overlay. The topmost gets the keys.

pub mod confirm;
pub mod form;
pub mod help;
