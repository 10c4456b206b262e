//! Layers above the panes: forms, the confirmation, the help overlay (helix's compositor). The
//! topmost layer gets the keys, handles them itself, and answers with an [`EventResult`]: the
//! key was used, the layer is done, another layer opens on top, or a command is to be recorded.

pub mod confirm;
pub mod form;
pub mod help;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::Level;
use super::intent::Intent;
use super::keymap::{Action, Context};
use super::theme::Theme;
use crate::engine::{Actor, Command, State};
use confirm::Confirm;
use form::Form;
use help::Help;

/// A layer above the panes.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help(Help),
    Form(Form),
    Confirm(Confirm),
}

/// What a layer answers to a key.
#[derive(Debug, Clone, PartialEq)]
pub enum EventResult {
    /// The layer took the key (or had no use for it) and stays open.
    Consumed,
    /// The layer is done and closes, with something to tell the user, if anything.
    Close(Option<(Level, String)>),
    /// Another layer opens on top of this one.
    Push(Modal),
    /// Record this command: the layers that led to it close.
    Submit(Command),
}

/// What a layer may read of the console while it handles a key.
pub struct LayerCtx<'a> {
    pub me: &'a Actor,
    pub now: DateTime<Utc>,
    pub state: &'a State,
    /// The terminal's size.
    pub viewport: Rect,
}

impl Modal {
    /// The keymap context its keys are looked up in.
    pub fn context(&self) -> Context {
        match self {
            Modal::Help(_) => Context::Help,
            Modal::Form(_) => Context::Form,
            Modal::Confirm(_) => Context::Confirm,
        }
    }

    pub fn handle(&mut self, action: Option<Action>, key: KeyEvent, ctx: &LayerCtx) -> EventResult {
        match self {
            Modal::Help(help) => help.handle(action, ctx),
            Modal::Form(form) => form.handle(action, key, ctx),
            Modal::Confirm(confirm) => confirm.handle(action),
        }
    }

    /// Pasted text, for a layer that takes text. Returns whether it did.
    pub fn paste(&mut self, text: &str) -> bool {
        match self {
            Modal::Form(form) => {
                form.paste(text);
                true
            }
            Modal::Help(_) | Modal::Confirm(_) => false,
        }
    }

    /// The intent a form or confirmation is about.
    pub fn intent(&self) -> Option<Intent> {
        match self {
            Modal::Form(form) => Some(form.intent),
            Modal::Confirm(confirm) => Some(confirm.intent),
            Modal::Help(_) => None,
        }
    }

    /// Judge the layer's intent again against the current state, so that one whose record was
    /// decided, reviewed or expired meanwhile says so before anything is submitted.
    pub fn recheck(&mut self, ctx: &LayerCtx) {
        let stale = self
            .intent()
            .and_then(|intent| intent.judge(ctx.state, ctx.me, ctx.now).err());
        match self {
            Modal::Form(form) => form.stale = stale,
            Modal::Confirm(confirm) => confirm.stale = stale,
            Modal::Help(help) => help.clamp(ctx.viewport),
        }
    }

    pub fn render(&self, frame: &mut Frame, theme: &Theme) {
        match self {
            Modal::Help(help) => help.render(frame, theme),
            Modal::Form(form) => form.render(frame, theme),
            Modal::Confirm(confirm) => confirm.render(frame, theme),
        }
    }
}
