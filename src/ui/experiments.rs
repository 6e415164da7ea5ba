//! The Experiments view: the experiment files found, each with whether it
//! validates and its description or error; `Enter` launches one (a sweep
//! file: all its points). Its state, its keys and its drawing.

use super::effect::{Effect, Reply};
use super::keys::{Binding, Key, Keymap, step_index};
use super::tab::Tab;
use super::theme::{Theme, empty};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use std::path::PathBuf;

/// An experiment file and whether it validates.
#[derive(Debug, Clone)]
pub struct ExperimentEntry {
    /// The experiment (TOML) file.
    pub path: PathBuf,
    /// None while being checked; Ok(one-line description) or Err(message).
    pub check: Option<Result<String, String>>,
    /// Its `[sweep]` table's points, when it has one: Enter runs the sweep.
    pub sweep_points: Option<usize>,
}

impl ExperimentEntry {
    /// The file's name without its folder, for lists and messages; empty if it has none.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The Experiments view's state: the files and the selected one.
#[derive(Debug, Default)]
pub struct ExperimentsView {
    /// Experiment files, as the last check listed them.
    pub entries: Vec<ExperimentEntry>,
    /// The selected one's index.
    pub sel: usize,
}

/// What a key does in the Experiments view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Select the next file (`true`) or the previous one.
    Move(bool),
    /// Launch the selected file (a sweep file: all its points).
    Launch,
    /// Open it in the editor.
    Edit,
    /// Check every file again.
    Check,
}

impl Keymap for ExperimentsView {
    type Action = Action;
    type When = ();
    const KEYS: &'static [Binding<Action, ()>] = &[
        Binding {
            keys: &[
                (Key::char('j'), Action::Move(true)),
                (Key::char('k'), Action::Move(false)),
                (Key::code(KeyCode::Down), Action::Move(true)),
                (Key::code(KeyCode::Up), Action::Move(false)),
            ],
            when: (),
            footer: Some(("j/k", "select")),
            help: Some("move down / up the list"),
        },
        Binding {
            keys: &[(Key::code(KeyCode::Enter), Action::Launch)],
            when: (),
            footer: Some(("Enter", "launch (a sweep: all its points)")),
            help: Some("launch it (a sweep file: all its points)"),
        },
        Binding {
            keys: &[(Key::char('e'), Action::Edit)],
            when: (),
            footer: Some(("e", "edit")),
            help: Some("edit it in $VISUAL or $EDITOR"),
        },
        Binding {
            keys: &[(Key::char('r'), Action::Check)],
            when: (),
            footer: Some(("r", "re-check")),
            help: Some("check every experiment file again"),
        },
    ];

    fn holds(&self, (): ()) -> bool {
        true
    }
}

impl ExperimentsView {
    /// Takes a fresh list, keeping the selection inside it.
    pub fn set(&mut self, entries: Vec<ExperimentEntry>) {
        self.entries = entries;
        self.sel = self.sel.min(self.entries.len().saturating_sub(1));
    }

    /// Moves the selection one file down or up.
    pub fn step(&mut self, down: bool) {
        step_index(&mut self.sel, self.entries.len(), down);
    }

    /// Answers a key: move, `Enter` to launch (only once it validates),
    /// `e` to edit, `r` to re-check.
    pub fn key(&mut self, key: &KeyEvent) -> Reply {
        let action = self.action(key);
        if let Some(Action::Move(down)) = action {
            self.step(down);
            return Reply::default();
        }
        let (Some(action), Some(entry)) = (action, self.entries.get(self.sel)) else {
            return Reply::default();
        };
        match action {
            Action::Launch => launch(entry),
            Action::Edit => Reply::effects(vec![Effect::Edit(entry.path.clone())]),
            Action::Check => Reply::effects(vec![Effect::Validate]),
            Action::Move(_) => Reply::default(),
        }
    }

    /// The files with ✓/✗/… marks on the left, the selected one's
    /// description or validation error on the right.
    pub fn draw(&self, theme: &Theme, frame: &mut Frame, area: Rect) {
        if self.entries.is_empty() {
            return empty(
                frame,
                area,
                "No experiments/*.toml here. Write one (see the README) and press r.",
            );
        }
        let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area);
        let items: Vec<ListItem> = self
            .entries
            .iter()
            .map(|e| {
                let (mark, style) = match &e.check {
                    None => ("…", theme.dim()),
                    Some(Ok(_)) => ("✓", theme.fg(Color::Green)),
                    Some(Err(_)) => ("✗", theme.fg(Color::Red)),
                };
                ListItem::new(Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::raw(e.file_name()),
                ]))
            })
            .collect();
        let mut state = ListState::default().with_selected(Some(self.sel));
        frame.render_stateful_widget(
            List::new(items)
                .block(Block::bordered().title("experiments/"))
                .highlight_style(theme.selected()),
            left,
            &mut state,
        );
        frame.render_widget(
            self.detail(theme)
                .block(Block::bordered().title("check"))
                .wrap(Wrap { trim: false }),
            right,
        );
    }

    /// The selected file's description and what Enter does, or its error.
    fn detail(&self, theme: &Theme) -> Paragraph<'static> {
        let selected = self.entries.get(self.sel);
        match (
            selected.and_then(|e| e.check.as_ref()),
            selected.and_then(|e| e.sweep_points),
        ) {
            (None, _) => Paragraph::new("checking…"),
            (Some(Ok(desc)), Some(points)) => Paragraph::new(format!(
                "{desc}\nsweep: {points} points (its base experiment above)\n\nEnter: run the sweep's {points} points   e: edit it"
            )),
            (Some(Ok(desc)), None) => Paragraph::new(format!("{desc}\n\nEnter: launch it   e: edit it")),
            (Some(Err(e)), _) => Paragraph::new(e.clone()).style(theme.fg(Color::Red)),
        }
    }
}

/// Enter on a file: a sweep starts (and Runs shows), a run launches, or
/// the status bar says why not.
fn launch(entry: &ExperimentEntry) -> Reply {
    match &entry.check {
        Some(Ok(_)) if entry.sweep_points.is_some() => Reply {
            effects: vec![Effect::LaunchSweep(entry.path.clone()), Effect::RefreshRuns],
            message: Some(format!(
                "sweep of {} started: {} points; they show in Runs as they start",
                entry.file_name(),
                entry.sweep_points.unwrap_or(0)
            )),
            tab: Some(Tab::Runs),
            follow: None,
        },
        Some(Ok(_)) => Reply {
            effects: vec![Effect::Launch(entry.path.clone())],
            ..Reply::message(format!("launching {}…", entry.file_name()))
        },
        Some(Err(e)) => Reply::message(format!("{} does not validate: {e}", entry.file_name())),
        None => Reply::message(format!("{} is still being checked", entry.file_name())),
    }
}
