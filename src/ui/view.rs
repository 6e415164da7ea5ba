//! `view(&App, &mut Frame)`: draws the state, changes nothing. It reads no
//! file and no clock (the time comes in `App::now`), and computes nothing
//! that `update` could have computed when the data arrived: the curves are
//! in the state already, and images resample only when their panel's size
//! changes. It draws what the views share — the tab bar, the status bar,
//! the help and the prompt — and has the current view draw the rest.

use super::compare::CompareView;
use super::experiments::ExperimentsView;
use super::keys::{Keymap, help_lines, whole_keys};
use super::live::LiveView;
use super::runs::RunsView;
use super::state::{App, GLOBAL_KEYS, Prompt};
use super::tab::Tab;
use super::theme::Theme;
use super::widgets::TabBar;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// Below this the dashboard asks for a bigger window.
pub const MIN_WIDTH: u16 = 60;
/// Rows below which the dashboard asks for a taller window; see [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 18;

/// The help's line for the mouse, after the keys.
const MOUSE_HELP: (&str, &str) = ("mouse", "wheel moves in a list; click opens a tab");

/// Draws the whole screen: tab bar, the current tab, the status bar, then
/// the help overlay and any prompt on top. A window smaller than
/// [`MIN_WIDTH`]×[`MIN_HEIGHT`] gets only a message asking for more room.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = Theme { color: app.color };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "make the window bigger ({}×{} at least; now {}×{})",
            MIN_WIDTH, MIN_HEIGHT, area.width, area.height
        );
        let y = area.height / 2;
        frame.render_widget(
            Paragraph::new(msg)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            Rect::new(area.x, area.y + y.saturating_sub(1), area.width, 3.min(area.height)),
        );
        return;
    }
    let [top, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    tabs(app, &theme, frame, top);
    match app.tab {
        Tab::Experiments => app.experiments.draw(&theme, frame, body),
        Tab::Runs => app.runs.draw(&app.now, &theme, frame, body),
        Tab::Live => app.live.draw(&theme, frame, body),
        Tab::Compare => app.compare.draw(&theme, frame, body),
    }
    status_bar(app, &theme, frame, bottom);
    if app.help {
        help(app.tab, &theme, frame, area);
    }
    if let Some(p) = &app.prompt {
        prompt(p, &theme, frame, area);
    }
}

/// The one-row tab bar, current tab highlighted.
fn tabs(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(
        TabBar {
            titles: &Tab::TITLES,
            selected: app.tab.index(),
            title_style: theme.bold(),
            selected_style: theme.selected(),
            hint_style: theme.dim(),
        },
        area,
    );
}

/// The current view's footer: the keys of its table that work now.
pub fn footer(app: &App) -> String {
    match app.tab {
        Tab::Experiments => app.experiments.footer(),
        Tab::Runs => app.runs.footer(),
        Tab::Live => app.live.footer(),
        Tab::Compare => app.compare.footer(),
    }
}

/// The bottom row: the last message if there is one, else the current view's keys.
fn status_bar(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let text = match &app.message {
        Some(m) => Line::from(vec![Span::styled(m.clone(), theme.fg(Color::Yellow))]),
        None => Line::from(Span::styled(
            whole_keys(&footer(app), usize::from(area.width)),
            theme.dim(),
        )),
    };
    frame.render_widget(Paragraph::new(text), area);
}

/// The help's lines for a tab: its view's keys, an empty line, then the
/// keys every view shares and the mouse.
pub fn help_text(tab: Tab) -> Vec<(String, &'static str)> {
    let mut lines = match tab {
        Tab::Experiments => help_lines(ExperimentsView::KEYS),
        Tab::Runs => help_lines(RunsView::KEYS),
        Tab::Live => help_lines(LiveView::KEYS),
        Tab::Compare => help_lines(CompareView::KEYS),
    };
    lines.push((String::new(), ""));
    lines.extend(help_lines(GLOBAL_KEYS));
    lines.push((MOUSE_HELP.0.to_string(), MOUSE_HELP.1));
    lines
}

/// A `w`×`h` rectangle centred in `area`, shrunk to fit it.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// The help overlay for the current view, centred over everything.
fn help(tab: Tab, theme: &Theme, frame: &mut Frame, area: Rect) {
    let text = help_text(tab);
    let rect = centered(area, 64, text.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let lines: Vec<Line> = text
        .into_iter()
        .map(|(k, v)| Line::from(vec![Span::styled(format!("{k:<22}"), theme.bold()), Span::raw(v)]))
        .collect();
    let title = format!(" {} keys (any key closes) ", tab.title());
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), rect);
}

/// The quit prompt: stop the runs launched here, leave them running, or cancel.
fn prompt(p: &Prompt, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Prompt::Quit { running, paused } = p;
    let mut lines = vec![Line::from(Span::styled(
        format!("{running} run(s) started here are still going."),
        theme.bold(),
    ))];
    if *paused > 0 {
        lines.push(Line::from(format!(
            "{paused} of them paused: left running, they stay paused (resume from Live)."
        )));
    }
    lines.push(Line::from(""));
    lines.extend(
        crate::ui::keys::help_lines(crate::ui::state::QUIT_KEYS)
            .into_iter()
            .map(|(keys, what)| Line::from(format!("  {keys}  {what}"))),
    );
    // As wide as its longest line, borders and a margin included.
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" quit? ")), rect);
}
