//! Colours and emphasis, in one place. The config's `[console]` section picks a theme and may
//! override single colours; `NO_COLOR` (any value) turns every colour off and keeps only bold,
//! dim and reverse, so the console stays readable on any terminal.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub auto_approved: Style,
    pub manual_review: Style,
    pub exception_required: Style,
    pub approved: Style,
    pub rejected: Style,
    pub pending: Style,
    /// Active exceptions that expire within 72 hours.
    pub urgent: Style,
    pub dim: Style,
    pub selected: Style,
    pub title: Style,
    pub label: Style,
    pub border: Style,
    pub border_focused: Style,
    pub key: Style,
    pub error: Style,
    pub warning: Style,
    pub success: Style,
    pub bar_empty: Style,
}

/// `[console.colors]`: single colours by name (`red`, `light-blue`, `#ff8800`, `208`…).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorOverrides {
    pub auto_approved: Option<String>,
    pub manual_review: Option<String>,
    pub exception_required: Option<String>,
    pub approved: Option<String>,
    pub rejected: Option<String>,
    pub urgent: Option<String>,
    pub accent: Option<String>,
}

impl Theme {
    pub fn colored() -> Self {
        Theme {
            auto_approved: Style::new().fg(Color::Green),
            manual_review: Style::new().fg(Color::Yellow),
            exception_required: Style::new().fg(Color::Red),
            approved: Style::new().fg(Color::Green),
            rejected: Style::new().fg(Color::Red),
            pending: Style::new().fg(Color::Yellow),
            urgent: Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            dim: Style::new().fg(Color::DarkGray),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            label: Style::new().fg(Color::Gray),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            warning: Style::new().fg(Color::Yellow),
            success: Style::new().fg(Color::Green),
            bar_empty: Style::new().fg(Color::DarkGray),
        }
    }

    /// No colour at all: emphasis only.
    pub fn monochrome() -> Self {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            auto_approved: plain,
            manual_review: bold,
            exception_required: bold.add_modifier(Modifier::UNDERLINED),
            approved: plain,
            rejected: bold,
            pending: bold,
            urgent: bold.add_modifier(Modifier::UNDERLINED),
            dim: Style::new().add_modifier(Modifier::DIM),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            title: bold,
            label: plain,
            border: plain,
            border_focused: bold,
            key: bold,
            error: bold,
            warning: bold,
            success: plain,
            bar_empty: Style::new().add_modifier(Modifier::DIM),
        }
    }

    /// The theme the config asks for, unless `NO_COLOR` says no colour.
    pub fn from_settings(
        name: Option<&str>,
        colors: &ColorOverrides,
        no_color: bool,
    ) -> Result<Self, String> {
        if no_color {
            return Ok(Theme::monochrome());
        }
        let mut theme = match name.unwrap_or("default") {
            "default" => Theme::colored(),
            "monochrome" => return Ok(Theme::monochrome()),
            other => {
                return Err(format!(
                    "unknown console theme {other:?}; themes are \"default\" and \"monochrome\""
                ));
            }
        };
        let set = |style: &mut Style, value: &Option<String>| -> Result<(), String> {
            if let Some(text) = value {
                let color: Color = text
                    .parse()
                    .map_err(|_| format!("[console.colors] has an unknown colour {text:?}"))?;
                *style = style.fg(color);
            }
            Ok(())
        };
        set(&mut theme.auto_approved, &colors.auto_approved)?;
        set(&mut theme.manual_review, &colors.manual_review)?;
        set(&mut theme.exception_required, &colors.exception_required)?;
        set(&mut theme.approved, &colors.approved)?;
        set(&mut theme.rejected, &colors.rejected)?;
        set(&mut theme.urgent, &colors.urgent)?;
        if let Some(accent) = &colors.accent {
            let color: Color = accent
                .parse()
                .map_err(|_| format!("[console.colors] has an unknown colour {accent:?}"))?;
            theme.title = theme.title.fg(color);
            theme.border_focused = theme.border_focused.fg(color);
            theme.key = theme.key.fg(color);
        }
        Ok(theme)
    }

    pub fn gate(&self, gate: crate::engine::Gate) -> Style {
        match gate {
            crate::engine::Gate::AutoApproved => self.auto_approved,
            crate::engine::Gate::ManualReview => self.manual_review,
            crate::engine::Gate::ExceptionRequired => self.exception_required,
        }
    }

    pub fn status(&self, status: crate::engine::RequestStatus) -> Style {
        use crate::engine::RequestStatus as S;
        match status {
            S::AutoApproved | S::Approved | S::Conditional => self.approved,
            S::Rejected => self.rejected,
            S::UnderReview => self.pending,
            S::ExceptionRequired => self.exception_required,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_every_colour_off() {
        let theme =
            Theme::from_settings(Some("default"), &ColorOverrides::default(), true).unwrap();
        for style in [
            theme.auto_approved,
            theme.exception_required,
            theme.urgent,
            theme.title,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
    }

    #[test]
    fn a_colour_can_be_overridden_by_name_or_hex() {
        let colors = ColorOverrides {
            exception_required: Some("magenta".into()),
            accent: Some("#ff8800".into()),
            ..ColorOverrides::default()
        };
        let theme = Theme::from_settings(None, &colors, false).unwrap();
        assert_eq!(theme.exception_required.fg, Some(Color::Magenta));
        assert_eq!(theme.title.fg, Some(Color::Rgb(0xff, 0x88, 0x00)));
    }

    #[test]
    fn an_unknown_theme_or_colour_is_refused_by_name() {
        assert!(
            Theme::from_settings(Some("neon"), &ColorOverrides::default(), false)
                .unwrap_err()
                .contains("neon")
        );
        let colors = ColorOverrides {
            urgent: Some("blurple".into()),
            ..ColorOverrides::default()
        };
        assert!(
            Theme::from_settings(None, &colors, false)
                .unwrap_err()
                .contains("blurple")
        );
    }
}
