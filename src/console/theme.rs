//! Colours and emphasis, in one place. The config's `[console]` section picks a theme and may
//! override single colours (checked when the file is read); `NO_COLOR` (any value) turns every
//! colour off and keeps only bold, dim and reverse, so the console stays readable on any
//! terminal.

use ratatui::style::{Color, Modifier, Style};

use crate::config::{ColorSettings, Colour, ThemeName};

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
    pub fn from_settings(name: ThemeName, colors: &ColorSettings, no_color: bool) -> Self {
        if no_color || name == ThemeName::Monochrome {
            return Theme::monochrome();
        }
        let mut theme = Theme::colored();
        let set = |style: &mut Style, colour: Option<Colour>| {
            if let Some(colour) = colour {
                *style = style.fg(color(colour));
            }
        };
        set(&mut theme.auto_approved, colors.auto_approved);
        set(&mut theme.manual_review, colors.manual_review);
        set(&mut theme.exception_required, colors.exception_required);
        set(&mut theme.approved, colors.approved);
        set(&mut theme.rejected, colors.rejected);
        set(&mut theme.urgent, colors.urgent);
        set(&mut theme.title, colors.accent);
        set(&mut theme.border_focused, colors.accent);
        set(&mut theme.key, colors.accent);
        theme
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

/// The terminal's colour for a configured one.
fn color(colour: Colour) -> Color {
    match colour {
        Colour::Reset => Color::Reset,
        Colour::Black => Color::Black,
        Colour::Red => Color::Red,
        Colour::Green => Color::Green,
        Colour::Yellow => Color::Yellow,
        Colour::Blue => Color::Blue,
        Colour::Magenta => Color::Magenta,
        Colour::Cyan => Color::Cyan,
        Colour::Gray => Color::Gray,
        Colour::DarkGray => Color::DarkGray,
        Colour::LightRed => Color::LightRed,
        Colour::LightGreen => Color::LightGreen,
        Colour::LightYellow => Color::LightYellow,
        Colour::LightBlue => Color::LightBlue,
        Colour::LightMagenta => Color::LightMagenta,
        Colour::LightCyan => Color::LightCyan,
        Colour::White => Color::White,
        Colour::Indexed(index) => Color::Indexed(index),
        Colour::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_every_colour_off() {
        let colors = ColorSettings {
            urgent: Some(Colour::Magenta),
            ..ColorSettings::default()
        };
        let theme = Theme::from_settings(ThemeName::Default, &colors, true);
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
        let colors = ColorSettings {
            exception_required: Some(Colour::Magenta),
            accent: Some(Colour::Rgb(0xff, 0x88, 0x00)),
            ..ColorSettings::default()
        };
        let theme = Theme::from_settings(ThemeName::Default, &colors, false);
        assert_eq!(theme.exception_required.fg, Some(Color::Magenta));
        assert_eq!(theme.title.fg, Some(Color::Rgb(0xff, 0x88, 0x00)));
        assert_eq!(theme.key.fg, Some(Color::Rgb(0xff, 0x88, 0x00)));
    }

    #[test]
    fn every_configured_colour_name_means_what_the_terminal_library_reads_it_as() {
        for name in [
            "reset",
            "black",
            "red",
            "green",
            "yellow",
            "blue",
            "magenta",
            "cyan",
            "gray",
            "dark-gray",
            "light-red",
            "light-green",
            "light-yellow",
            "light-blue",
            "light-magenta",
            "light-cyan",
            "white",
            "bright black",
            "silver",
            "42",
            "#102030",
        ] {
            let colour: Colour = name.parse().unwrap();
            assert_eq!(Some(color(colour)), name.parse::<Color>().ok(), "{name}");
        }
    }

    #[test]
    fn the_monochrome_theme_ignores_colour_overrides() {
        let colors = ColorSettings {
            urgent: Some(Colour::Magenta),
            ..ColorSettings::default()
        };
        assert_eq!(
            Theme::from_settings(ThemeName::Monochrome, &colors, false),
            Theme::monochrome()
        );
    }
}
