//! The Runs view: the run folders under `results/`, sortable, markable for
//! comparison, a sweep's points grouped under a row with its progress;
//! `Enter` follows a run in Live. Its state, its keys and its drawing (the
//! columns are in [`columns`]).

pub mod columns;

use super::effect::{Effect, Reply};
use super::keys::{Binding, Key, Keymap, step_index};
use super::theme::{Theme, empty};
use chrono::{DateTime, FixedOffset};
use columns::{RunColumn, SortKey, Sources, head, run_columns};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use stylelab_core::review::fit::{ellipsize, ellipsize_distinct, fit_columns};
use stylelab_core::review::{RunEntry, SweepProgress};

/// A row of the Runs table: a sweep's header, or a run (by its index in
/// [`RunsView::entries`]). Derived from the runs, their order and which
/// sweeps are collapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRow {
    /// The header of the sweep of this name, its points under it.
    Sweep(String),
    /// A run.
    Run(usize),
}

/// The Runs view's state.
#[derive(Debug)]
pub struct RunsView {
    /// Run folders in display order.
    pub entries: Vec<RunEntry>,
    /// The selected run's index (the selection when `on_header` is None).
    pub sel: usize,
    /// The selection is on this sweep's header row instead of a run.
    pub on_header: Option<String>,
    /// Sweeps whose points are hidden under their header (Enter toggles).
    pub collapsed: BTreeSet<String>,
    /// The table's rows, derived from `entries` and `collapsed`.
    pub rows: Vec<RunRow>,
    /// Sweep points' values of their sweep's keys, by run folder.
    pub sweep_values: HashMap<PathBuf, String>,
    /// Each sweep's number of settings sets (more than one: some point ran
    /// with other settings too).
    pub sweep_settings: HashMap<String, usize>,
    /// Each sweep's progress among `entries`, by sweep name (derived when
    /// the runs arrive, for the group rows).
    pub sweeps: HashMap<String, SweepProgress>,
    /// How the table is sorted; `sort_desc` for largest (or newest) first.
    pub sort: SortKey,
    pub sort_desc: bool,
    /// Run folders marked with space for comparison.
    pub marked: BTreeSet<PathBuf>,
}

/// What a key does in the Runs view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Select the next row (`true`) or the previous one.
    Move(bool),
    /// Follow the selected run in Live.
    Open,
    /// Fold or unfold the selected sweep.
    Fold,
    /// Mark or unmark the selected run (a sweep's row: all its points), then move on.
    Mark,
    /// Compare the marked runs.
    Compare,
    /// Sort by the next column.
    Sort,
    /// Reverse the order.
    Reverse,
    /// Read the run folders again.
    Refresh,
}

/// Where the selection is, for the bindings that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Anywhere.
    Always,
    /// On a run (or on nothing).
    OnRun,
    /// On a sweep's header row.
    OnSweep,
}

/// `o` and `O`, on a run or on a sweep.
const SORT_KEYS: &[(Key, Action)] = &[(Key::char('o'), Action::Sort), (Key::char('O'), Action::Reverse)];

impl Keymap for RunsView {
    type Action = Action;
    type When = When;
    const KEYS: &'static [Binding<Action, When>] = &[
        Binding {
            keys: &[
                (Key::char('j'), Action::Move(true)),
                (Key::char('k'), Action::Move(false)),
                (Key::code(KeyCode::Down), Action::Move(true)),
                (Key::code(KeyCode::Up), Action::Move(false)),
            ],
            when: When::Always,
            footer: Some(("j/k", "select")),
            help: Some("move down / up (onto runs and sweeps)"),
        },
        Binding {
            keys: &[(Key::code(KeyCode::Enter), Action::Open)],
            when: When::OnRun,
            footer: Some(("Enter", "open")),
            help: Some("follow the run in Live"),
        },
        Binding {
            keys: &[(Key::code(KeyCode::Enter), Action::Fold)],
            when: When::OnSweep,
            footer: Some(("Enter", "fold/unfold")),
            help: Some("on a sweep: fold / unfold its points"),
        },
        Binding {
            keys: &[(Key::char(' '), Action::Mark)],
            when: When::OnRun,
            footer: Some(("space", "mark")),
            help: Some("mark / unmark the run, move on"),
        },
        Binding {
            keys: &[(Key::char(' '), Action::Mark)],
            when: When::OnSweep,
            footer: Some(("space", "mark its points")),
            help: Some("on a sweep: mark / unmark all its points"),
        },
        Binding {
            keys: &[(Key::char('c'), Action::Compare)],
            when: When::Always,
            footer: Some(("c", "compare")),
            help: Some("compare the marked runs"),
        },
        Binding {
            keys: SORT_KEYS,
            when: When::OnRun,
            footer: Some(("o/O", "sort/reverse")),
            help: Some("sort by the next column / reverse"),
        },
        Binding {
            keys: SORT_KEYS,
            when: When::OnSweep,
            footer: Some(("o", "sort")),
            help: None,
        },
        Binding {
            keys: &[(Key::char('r'), Action::Refresh)],
            when: When::OnRun,
            footer: Some(("r", "refresh")),
            help: Some("read results/ again"),
        },
        Binding {
            keys: &[(Key::char('r'), Action::Refresh)],
            when: When::OnSweep,
            footer: None,
            help: None,
        },
    ];

    fn holds(&self, when: When) -> bool {
        match when {
            When::Always => true,
            When::OnRun => self.on_header.is_none(),
            When::OnSweep => self.on_header.is_some(),
        }
    }
}

impl Default for RunsView {
    fn default() -> Self {
        RunsView {
            entries: Vec::new(),
            sel: 0,
            on_header: None,
            collapsed: BTreeSet::new(),
            rows: Vec::new(),
            sweep_values: HashMap::new(),
            sweep_settings: HashMap::new(),
            sweeps: HashMap::new(),
            sort: SortKey::Started,
            sort_desc: true,
            marked: BTreeSet::new(),
        }
    }
}

impl RunsView {
    /// Takes a fresh list of runs: their sweeps' progress, sorted and
    /// grouped, the selection kept where it can be.
    pub fn set(&mut self, entries: Vec<RunEntry>) {
        self.entries = entries;
        let names: BTreeSet<&str> = self
            .entries
            .iter()
            .filter_map(|r| r.sweep())
            .map(|m| m.name.as_str())
            .collect();
        let sweeps = names
            .into_iter()
            .map(|n| (n.to_string(), SweepProgress::of(&self.entries, n)))
            .collect();
        self.sweeps = sweeps;
        self.sort_runs();
        self.sel = self.sel.min(self.entries.len().saturating_sub(1));
        if self.on_header.as_ref().is_some_and(|n| !self.sweeps.contains_key(n)) {
            self.on_header = None;
        }
        self.derive_rows();
    }

    /// Sorts the runs by the current key and groups sweeps together, keeping
    /// the same run selected.
    pub fn sort_runs(&mut self) {
        let selected = self.entries.get(self.sel).map(|r| r.dir.clone());
        stylelab_core::review::sort::sort_by(&mut self.entries, self.sort.column(), self.sort_desc, |r| (r, None));
        stylelab_core::review::sort::group_sweeps(&mut self.entries);
        if let Some(sel) = selected {
            self.sel = self.entries.iter().position(|r| r.dir == sel).unwrap_or(0);
        }
        self.derive_rows();
    }

    /// The table's rows: a header before each sweep's points (which
    /// `group_sweeps` keeps together), its points unless collapsed. A
    /// selection on a hidden run moves to its sweep's header.
    fn derive_rows(&mut self) {
        let mut rows = Vec::with_capacity(self.entries.len() + 4);
        let mut group: Option<&str> = None;
        for (i, r) in self.entries.iter().enumerate() {
            let sweep = r.sweep().map(|m| m.name.as_str());
            if let Some(name) = sweep
                && sweep != group
            {
                rows.push(RunRow::Sweep(name.to_string()));
            }
            group = sweep;
            if sweep.is_none_or(|n| !self.collapsed.contains(n)) {
                rows.push(RunRow::Run(i));
            }
        }
        self.rows = rows;
        if self.on_header.is_none()
            && let Some(name) = self
                .entries
                .get(self.sel)
                .and_then(|r| r.sweep())
                .map(|m| m.name.clone())
            && self.collapsed.contains(&name)
        {
            self.on_header = Some(name);
        }
    }

    /// The row the selection is on.
    pub fn selected_row(&self) -> usize {
        let wanted = match &self.on_header {
            Some(name) => RunRow::Sweep(name.clone()),
            None => RunRow::Run(self.sel),
        };
        self.rows.iter().position(|r| *r == wanted).unwrap_or(0)
    }

    /// Moves the selection one row down or up, onto runs and sweep headers.
    pub fn step(&mut self, down: bool) {
        let mut row = self.selected_row();
        step_index(&mut row, self.rows.len(), down);
        match self.rows.get(row) {
            Some(RunRow::Sweep(name)) => self.on_header = Some(name.clone()),
            Some(RunRow::Run(i)) => {
                self.on_header = None;
                self.sel = *i;
            }
            None => {}
        }
    }

    /// The run folders of the sweep named `name` among the runs listed.
    fn sweep_dirs(&self, name: &str) -> Vec<PathBuf> {
        self.entries
            .iter()
            .filter(|r| r.sweep().is_some_and(|m| m.name == name))
            .map(|r| r.dir.clone())
            .collect()
    }

    /// Answers a key: move (onto runs and sweep headers), `o`/`O` sort key
    /// and direction, space to mark (on a sweep's header: all its points),
    /// `c` to compare the marked runs, `r` to refresh, `Enter` to follow a
    /// run or to fold and unfold a sweep.
    pub fn key(&mut self, key: &KeyEvent) -> Reply {
        let Some(action) = self.action(key) else {
            return Reply::default();
        };
        match action {
            Action::Move(down) => self.step(down),
            Action::Sort => {
                self.sort = self.sort.next();
                self.sort_runs();
            }
            Action::Reverse => {
                self.sort_desc = !self.sort_desc;
                self.sort_runs();
            }
            Action::Refresh => return Reply::effects(vec![Effect::RefreshRuns]),
            Action::Mark => self.mark(),
            Action::Compare if self.marked.len() < 2 => {
                return Reply::message("mark two or more runs with space, then press c");
            }
            Action::Compare => return Reply::effects(vec![Effect::LoadCompare(self.marked.iter().cloned().collect())]),
            Action::Fold => {
                if let Some(name) = self.on_header.clone() {
                    if !self.collapsed.remove(&name) {
                        self.collapsed.insert(name);
                    }
                    self.derive_rows();
                }
            }
            Action::Open => {
                return Reply {
                    follow: self.entries.get(self.sel).map(|r| r.dir.clone()),
                    ..Reply::default()
                };
            }
        }
        Reply::default()
    }

    /// Marks or unmarks the selected run, or all the points of the sweep
    /// whose row is selected (unmarks them when all are marked), then moves on.
    fn mark(&mut self) {
        if let Some(name) = self.on_header.clone() {
            let dirs = self.sweep_dirs(&name);
            if dirs.iter().all(|d| self.marked.contains(d)) {
                dirs.iter().for_each(|d| {
                    self.marked.remove(d);
                });
            } else {
                self.marked.extend(dirs);
            }
        } else if let Some(r) = self.entries.get(self.sel)
            && !self.marked.remove(&r.dir)
        {
            self.marked.insert(r.dir.clone());
        }
        self.step(true);
    }

    /// The table of run folders, with ▼/▲ on the sort column. A sweep's
    /// points sit together under a row with its progress, which can be
    /// selected. Columns that do not fit are left out whole (by
    /// `review::fit`, as `stylelab runs` does); the room left goes to what
    /// tells runs apart: the sweep values first, then the names, which are
    /// cut (ending or starting with `…`) so that two names never read alike.
    pub fn draw(&self, now: &DateTime<FixedOffset>, theme: &Theme, frame: &mut Frame, area: Rect) {
        if self.entries.is_empty() {
            return empty(frame, area, "No runs under results/ yet.");
        }
        let names: Vec<String> = self.rows.iter().map(|row| self.row_name(row)).collect();
        let (cols, name_width) = self.fit(&names, usize::from(area.width.saturating_sub(2)));
        let header = Row::new(
            [
                Cell::from(" "),
                Cell::from(head("name", self.sort == SortKey::Name, self.sort_desc)),
            ]
            .into_iter()
            .chain(cols.iter().map(|c| Cell::from(c.head(self.sort, self.sort_desc)))),
        )
        .style(theme.bold());
        let sources = Sources {
            now,
            sweep_values: &self.sweep_values,
        };
        let names = ellipsize_distinct(&names, name_width);
        let rows: Vec<Row> = self
            .rows
            .iter()
            .zip(names)
            .map(|(row, name)| match row {
                RunRow::Sweep(sweep) => self.sweep_row(sweep, name, &cols, theme),
                RunRow::Run(i) => self.run_row(&self.entries[*i], name, &cols, &sources, theme),
            })
            .collect();
        let widths: Vec<Constraint> = [Constraint::Length(1), Constraint::Length(name_width as u16)]
            .into_iter()
            .chain(cols.iter().map(|c| Constraint::Length(c.width)))
            .collect();
        let title = format!("results/ — {} runs, {} marked", self.entries.len(), self.marked.len());
        let mut state = TableState::default().with_selected(Some(self.selected_row()));
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .header(header)
                .block(Block::bordered().title(title))
                .row_highlight_style(theme.selected()),
            area,
            &mut state,
        );
    }

    /// The columns kept in `room` cells and the name column's width. The
    /// values column enters at most [`VALUES_MIN`] wide and the name at
    /// [`NAME_MIN`]; columns are left out by rank until the rest fit; what
    /// room is left widens the values to their longest, then the names.
    fn fit(&self, names: &[String], room: usize) -> (Vec<RunColumn>, usize) {
        let all = run_columns(&self.entries, &self.sweep_values);
        // The values column at its longest: the points' values, the sweeps' progress.
        let progress = self.sweeps.keys().map(|n| self.sweep_rest(n).chars().count());
        let values_full = all
            .iter()
            .filter(|c| c.title == "values")
            .map(|c| usize::from(c.width))
            .chain(progress)
            .max()
            .unwrap_or(0);
        let chosen = |c: &RunColumn| c.sort == Some(self.sort) && self.sort != SortKey::Started;
        let longest_name = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(NAME_MIN);
        let fit_with = |name: usize, values: usize| {
            let widths: Vec<usize> = [1, name]
                .into_iter()
                .chain(all.iter().map(|c| {
                    if c.title == "values" {
                        values
                    } else {
                        usize::from(c.width)
                    }
                }))
                .collect();
            // A column chosen to sort by goes last, whatever its rank.
            let mut order: Vec<usize> = (2..widths.len()).collect();
            order.sort_by_key(|&i| (chosen(&all[i - 2]), all[i - 2].rank));
            fit_columns(&widths, 1, Some(room), &order, 2)
        };
        // Names and values whole when only the least telling columns give
        // way for them (time, tv, start, size, content), else narrowed to
        // share what room is left, the values first.
        let whole = fit_with(longest_name, values_full);
        let telling = |i: &usize| all[i - 2].rank >= WHOLE_VALUES_RANK || chosen(&all[i - 2]);
        let (fitted, name, values) = if !whole.left_out.iter().any(telling) {
            (whole, longest_name, values_full)
        } else {
            let narrow = values_full.min(usize::from(VALUES_MIN));
            (fit_with(NAME_MIN, narrow), NAME_MIN, narrow)
        };
        let mut cols: Vec<RunColumn> = fitted.kept.iter().filter(|&&i| i >= 2).map(|&i| all[i - 2]).collect();
        let mut spare = room.saturating_sub(fitted.width());
        for c in cols.iter_mut().filter(|c| c.title == "values") {
            let more = values_full.saturating_sub(values).min(spare);
            c.width = (values + more) as u16;
            spare -= more;
        }
        (cols, name + longest_name.saturating_sub(name).min(spare))
    }

    /// The name cell's text of a row before any cut: a sweep's fold mark,
    /// name and size; a run's name, indented under its sweep.
    fn row_name(&self, row: &RunRow) -> String {
        match row {
            RunRow::Sweep(name) => {
                let p = self.sweeps.get(name).copied().unwrap_or_default();
                let folded = self.collapsed.contains(name);
                format!("{} {name} ({} points)", if folded { "▸" } else { "▾" }, p.points)
            }
            RunRow::Run(i) => {
                let r = &self.entries[*i];
                if r.sweep().is_some() {
                    format!("  {}", r.name())
                } else {
                    r.name().to_string()
                }
            }
        }
    }

    /// A sweep's row: ● when all its points are marked, its name, then its
    /// progress: done in the status column, the rest (other settings sets,
    /// running, failed, to do; what is not zero) in the values column.
    fn sweep_row(&self, name: &str, title: String, cols: &[RunColumn], theme: &Theme) -> Row<'static> {
        let p = self.sweeps.get(name).copied().unwrap_or_default();
        let dirs = self.sweep_dirs(name);
        let all_marked = !dirs.is_empty() && dirs.iter().all(|d| self.marked.contains(d));
        let rest = self.sweep_rest(name);
        let cells = cols.iter().map(|c| match c.title {
            "status" => Cell::from(format!("{} done", p.done)),
            "values" => Cell::from(ellipsize(&rest, usize::from(c.width))),
            _ => Cell::from(""),
        });
        Row::new(
            [Cell::from(if all_marked { "●" } else { " " }), Cell::from(title)]
                .into_iter()
                .chain(cells),
        )
        .style(theme.bold())
    }

    /// A sweep's progress beyond its points done, what is not zero: other
    /// settings sets, running, failed, to do (`× 2 settings · 1 failed`).
    fn sweep_rest(&self, name: &str) -> String {
        let p = self.sweeps.get(name).copied().unwrap_or_default();
        let mut rest = Vec::new();
        if let Some(n) = self.sweep_settings.get(name).copied().filter(|&n| n > 1) {
            rest.push(format!("× {n} settings"));
        }
        for (n, what) in [(p.running, "running"), (p.failed, "failed"), (p.to_do(), "to do")] {
            if n > 0 {
                rest.push(format!("{n} {what}"));
            }
        }
        rest.join(" · ")
    }

    /// A run's row: ● when marked, its name (cut as the table needs), its
    /// columns; the status in its state's colour.
    fn run_row(
        &self,
        r: &RunEntry,
        name: String,
        cols: &[RunColumn],
        sources: &Sources,
        theme: &Theme,
    ) -> Row<'static> {
        Row::new(
            [
                Cell::from(if self.marked.contains(&r.dir) { "●" } else { " " }),
                Cell::from(name),
            ]
            .into_iter()
            .chain(cols.iter().map(|c| {
                let text = ellipsize(&(c.cell)(sources, r), usize::from(c.width));
                if c.sort == Some(SortKey::Status) {
                    Cell::from(Span::styled(text, theme.state(&r.state)))
                } else {
                    Cell::from(text)
                }
            })),
        )
    }
}

/// The name column's narrowest width.
const NAME_MIN: usize = 12;
/// The values column's width when it cannot have its longest.
const VALUES_MIN: u16 = 20;
/// Columns of this rank or above (steps, the scores, total, style,
/// status) are not left out to show the values whole.
const WHOLE_VALUES_RANK: u8 = 6;
