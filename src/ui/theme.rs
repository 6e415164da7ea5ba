//! How the dashboard looks: its styles, each falling back to plain (or
//! reversed) text when colour is off so that nothing depends on colour to
//! be readable, and the box a view shows when it has nothing yet. A leaf
//! every view draws with.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Paragraph, Wrap};
use stylelab_core::review::RunState;

/// Styles for the screen; see the module's doc.
pub struct Theme {
    /// Whether to draw in colour (off when `NO_COLOR` is set and non-empty).
    pub color: bool,
}

impl Theme {
    /// Foreground `c`, or the default style without colour.
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// The highlighted row of a list or table: bold on grey, or reversed.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::default().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// Headers and titles.
    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// Hints and secondary text: dark grey, or plain without colour.
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// A run state's colour: green running, yellow paused, stopped or
    /// stalled, cyan completed or converged, red otherwise.
    pub fn state(&self, s: &RunState) -> Style {
        self.fg(match s {
            RunState::Running => Color::Green,
            RunState::Paused => Color::Yellow,
            RunState::Completed | RunState::Converged => Color::Cyan,
            RunState::Stopped => Color::Yellow,
            RunState::Failed | RunState::Died | RunState::Broken(_) => Color::Red,
            RunState::Stalled => Color::Yellow,
        })
    }
}

/// A bordered box with `text`, for a view that has nothing to show yet.
pub fn empty(frame: &mut Frame, area: Rect, text: &str) {
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered()).wrap(Wrap { trim: true }),
        area,
    );
}
