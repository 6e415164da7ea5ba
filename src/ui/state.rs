//! The dashboard's state and its one `update` function (the Elm
//! Architecture). Everything that touches the outside world — launching a
//! run, writing a control line, opening an editor — is returned as an
//! [`Effect`] for the runtime to perform, so `update` stays testable.

use super::follow::LiveUpdate;
use super::history::History;
use super::widgets::DisplayImage;
use crate::chart::{RUN_COLORS, Series, ema};
use crate::events::Control;
use crate::record::{MetricsHeader, StepMetrics, Summary, Term};
use crate::review::{RunEntry, RunState};
use chrono::{DateTime, FixedOffset};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::style::Color;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Points kept per chart series.
pub const HISTORY_POINTS: usize = 1024;
/// Weight of the smoothing that `m` turns on.
pub const SMOOTHING: f64 = 0.6;
/// Colours of the total, content, style and tv curves.
const TERM_COLORS: [Color; 4] = [Color::White, Color::Cyan, Color::Magenta, Color::Green];
/// Colours of per-layer curves, in header order.
const LAYER_COLORS: [Color; 6] = [
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightRed,
    Color::LightCyan,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Experiments,
    Runs,
    Live,
    Compare,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Experiments, Tab::Runs, Tab::Live, Tab::Compare];
    pub const TITLES: [&'static str; 4] = ["Experiments", "Runs", "Live", "Compare"];

    pub fn title(self) -> &'static str {
        Tab::TITLES[self.index()]
    }

    /// Position in the tab bar.
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// An experiment file and whether it validates.
#[derive(Debug, Clone)]
pub struct ExperimentEntry {
    pub path: PathBuf,
    /// None while being checked; Ok(one-line description) or Err(message).
    pub check: Option<Result<String, String>>,
}

impl ExperimentEntry {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A weight change made while running: drawn as a marker on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SteerMark {
    pub iter: u64,
    pub term: Term,
    pub from: f64,
    pub to: f64,
}

/// The run shown in the Live tab.
#[derive(Debug, Clone)]
pub struct Live {
    pub dir: PathBuf,
    pub follow_id: u64,
    pub config: BTreeMap<String, String>,
    pub summary: Option<Summary>,
    pub header: MetricsHeader,
    pub history: History,
    pub last: Option<StepMetrics>,
    /// Recent (iter, elapsed_s), for steps/s.
    pub recent: Vec<(u64, f64)>,
    /// The chart's curves, derived from `history` when rows arrive or the
    /// smoothing and per-layer toggles change, never while drawing.
    pub series: Vec<Series>,
    pub snapshots: Vec<(u64, PathBuf)>,
    /// The image shown and its step.
    pub image: Option<(u64, Arc<DisplayImage>)>,
    /// Index into `snapshots` being looked at; None = follow the newest.
    pub browsing: Option<usize>,
    pub marks: Vec<SteerMark>,
    /// Scale changes of a multi-scale run: (step, scale index of count,
    /// width, height), and the scale in force now (1-based, of how many).
    pub scale_marks: Vec<(u64, u32, u32)>,
    pub scale: Option<(usize, usize)>,
    /// Steps where the chart draws a vertical marker: weight changes and
    /// scale changes, kept as they arrive.
    pub chart_marks: Vec<u64>,
    pub paused: bool,
    /// Whether the run's process is alive, and its resident memory (MiB),
    /// as the follower last saw them; None before it looked.
    pub alive: Option<bool>,
    pub rss_mib: Option<f64>,
    /// Its GPU memory (CUDA runs), MiB.
    pub gpu_mib: Option<f64>,
    /// Launched from this dashboard (it may be asked to stop on quit).
    pub launched_here: bool,
}

impl Live {
    pub fn new(dir: PathBuf, follow_id: u64, launched_here: bool) -> Self {
        Live {
            dir,
            follow_id,
            config: BTreeMap::new(),
            summary: None,
            header: MetricsHeader::default(),
            history: History::new(HISTORY_POINTS),
            last: None,
            recent: Vec::new(),
            series: Vec::new(),
            snapshots: Vec::new(),
            image: None,
            browsing: None,
            marks: Vec::new(),
            scale_marks: Vec::new(),
            scale: None,
            chart_marks: Vec::new(),
            paused: false,
            alive: None,
            rss_mib: None,
            gpu_mib: None,
            launched_here,
        }
    }

    pub fn name(&self) -> String {
        self.summary
            .as_ref()
            .map(|s| s.name.clone())
            .or_else(|| self.config.get("name").map(|n| n.trim_matches('"').to_string()))
            .unwrap_or_else(|| {
                self.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
    }

    /// Its summary says running (or it has none yet) and its process has
    /// not been seen gone.
    pub fn is_running(&self) -> bool {
        self.summary
            .as_ref()
            .is_none_or(|s| s.status == crate::record::Status::Running)
            && self.alive != Some(false)
    }

    /// Said running, but its process is gone.
    pub fn died(&self) -> bool {
        self.alive == Some(false)
            && self
                .summary
                .as_ref()
                .is_some_and(|s| s.status == crate::record::Status::Running)
    }

    pub fn iterations(&self) -> u64 {
        self.summary.as_ref().map(|s| s.iterations).unwrap_or(0)
    }

    /// Steps per second over the recent rows.
    pub fn steps_per_s(&self) -> f64 {
        match (self.recent.first(), self.recent.last()) {
            (Some(a), Some(b)) if b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1),
            _ => 0.0,
        }
    }

    pub fn apply(&mut self, update: LiveUpdate) {
        match update {
            LiveUpdate::Config(c) => self.config = c,
            LiveUpdate::Summary(s) => self.summary = Some(*s),
            LiveUpdate::Header(h) => self.header = h,
            LiveUpdate::Rows(rows) => {
                for row in rows {
                    self.history.push(&row);
                    self.recent.push((row.iter, row.elapsed_s));
                    if self.recent.len() > 20 {
                        self.recent.remove(0);
                    }
                    self.last = Some(row);
                }
            }
            LiveUpdate::Snapshots(s) => self.snapshots = s,
            LiveUpdate::Image { iter, image } => {
                if self.browsing.is_none() {
                    self.image = Some((iter, image));
                }
            }
            LiveUpdate::Steered { iter, term, from, to } => {
                self.marks.push(SteerMark { iter, term, from, to });
                self.chart_marks.push(iter);
            }
            LiveUpdate::Scale {
                iter,
                index,
                count,
                width,
                height,
            } => {
                self.scale_marks.push((iter, width, height));
                self.scale = Some((index, count));
                self.chart_marks.push(iter);
            }
            LiveUpdate::Paused(p) => self.paused = p,
            LiveUpdate::Process {
                alive,
                rss_mib,
                gpu_mib,
            } => {
                self.alive = Some(alive);
                self.rss_mib = rss_mib;
                self.gpu_mib = gpu_mib;
            }
        }
    }

    /// The chart's curves: total, content, style, tv, optionally one per
    /// layer; smoothed with the raw curve kept faint.
    pub fn chart_series(&self, smooth: bool, per_layer: bool) -> Vec<Series> {
        let mut cols: Vec<(usize, String, Color)> = ["total", "content", "style", "tv"]
            .iter()
            .enumerate()
            .map(|(i, n)| (i, n.to_string(), TERM_COLORS[i]))
            .collect();
        if per_layer {
            for (i, name) in self.header.layers.iter().enumerate() {
                cols.push((4 + i, name.clone(), LAYER_COLORS[i % LAYER_COLORS.len()]));
            }
        }
        let mut out = Vec::new();
        for (col, name, color) in cols {
            let points = self.history.log_points(col);
            if points.is_empty() {
                continue;
            }
            let series = |points, faint| Series {
                name: name.clone(),
                points,
                color,
                faint,
            };
            if smooth {
                let smoothed = ema(&points, SMOOTHING);
                out.push(series(points, true));
                out.push(series(smoothed, false));
            } else {
                out.push(series(points, false));
            }
        }
        out
    }

    /// Steps to the snapshot before (`back`) or after the one shown; past
    /// the newest, follows the newest again.
    fn browse(&mut self, back: bool) -> Option<Effect> {
        let n = self.snapshots.len();
        if n == 0 {
            return None;
        }
        let cur = self.browsing.unwrap_or(n - 1);
        let next = if back {
            cur.saturating_sub(1)
        } else {
            (cur + 1).min(n - 1)
        };
        self.browsing = if !back && next == n - 1 && cur == n - 1 {
            None
        } else {
            Some(next)
        };
        self.load_snapshot(next)
    }

    /// Asks for snapshot `i` to be decoded (None when there is no such).
    fn load_snapshot(&self, i: usize) -> Option<Effect> {
        let (iter, path) = self.snapshots.get(i).cloned()?;
        Some(Effect::LoadImage {
            follow_id: self.follow_id,
            iter,
            path,
        })
    }

    /// The file `v` shows: the snapshot being browsed, else the final image
    /// of a finished run, else the newest snapshot.
    fn image_to_view(&self) -> Option<PathBuf> {
        match (self.browsing, self.is_running()) {
            (Some(i), _) => self.snapshots.get(i).map(|s| s.1.clone()),
            (None, false) => Some(crate::record::RunPaths::new(&self.dir).final_image()),
            (None, true) => self.snapshots.last().map(|s| s.1.clone()),
        }
    }

    /// The loss weight currently in force for a term.
    pub fn weight(&self, term: Term) -> Option<f64> {
        let row = self.last.as_ref()?;
        Some(match term {
            Term::Content => row.content_weight,
            Term::Style => row.style_weight,
            Term::Tv => row.tv_weight,
        })
    }
}

/// Which column the Runs table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Started,
    Name,
    Status,
    Steps,
    Duration,
    Total,
    Style,
    ContentDist,
    StyleDist,
}

impl SortKey {
    pub const ALL: [SortKey; 9] = [
        SortKey::Started,
        SortKey::Name,
        SortKey::Status,
        SortKey::Steps,
        SortKey::Duration,
        SortKey::Total,
        SortKey::Style,
        SortKey::ContentDist,
        SortKey::StyleDist,
    ];
    /// The `review::sort` column this key sorts by.
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Duration => "wall_s",
            other => other.title(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            SortKey::Started => "started",
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::Steps => "steps",
            SortKey::Duration => "duration",
            SortKey::Total => "total",
            SortKey::Style => "style",
            SortKey::ContentDist => "content_dist",
            SortKey::StyleDist => "style_dist",
        }
    }
}

/// Runs being compared: data loaded once when the view opens.
#[derive(Debug, Clone)]
pub struct CompareData {
    pub runs: Vec<CompareRun>,
    /// Config keys that differ, with each run's value.
    pub diff: Vec<(String, Vec<String>)>,
    /// Index into [`COMPARE_METRICS`].
    pub metric: usize,
    /// Each run's curve of the metric, derived when it changes.
    pub series: Vec<Series>,
    /// Each run's (content_dist, style_dist) when scored, NaN when not:
    /// the trade-off picture.
    pub tradeoff: Vec<(f64, f64)>,
}

impl CompareData {
    /// Runs and their config differences, showing the total loss.
    pub fn new(runs: Vec<CompareRun>, diff: Vec<(String, Vec<String>)>) -> Self {
        let mut data = CompareData {
            runs,
            diff,
            metric: 0,
            series: Vec::new(),
            tradeoff: Vec::new(),
        };
        data.show_metric(0);
        data
    }

    /// Shows metric `i` of [`COMPARE_METRICS`].
    pub fn show_metric(&mut self, i: usize) {
        self.metric = i % COMPARE_METRICS.len();
        self.series = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| Series {
                name: r.name.clone(),
                points: r.history.log_points(self.metric),
                color: RUN_COLORS[i % RUN_COLORS.len()],
                faint: false,
            })
            .collect();
    }
}

#[derive(Debug, Clone)]
pub struct CompareRun {
    pub name: String,
    pub history: History,
    pub image: Option<Arc<DisplayImage>>,
}

pub const COMPARE_METRICS: [&str; 4] = ["total", "content", "style", "tv"];

/// A question that needs an answer before anything else.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Quitting while runs launched here are going.
    Quit { running: usize },
}

/// Input to `update`.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize,
    Experiments(Vec<ExperimentEntry>),
    Runs(Vec<RunEntry>),
    /// A run launched from here has its folder.
    Launched(PathBuf),
    LaunchFailed(String),
    Live {
        follow_id: u64,
        update: LiveUpdate,
    },
    Compare(Box<CompareData>),
    /// A snapshot decoded for browsing.
    Image {
        follow_id: u64,
        iter: u64,
        image: Arc<DisplayImage>,
    },
}

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Launch(PathBuf),
    Control(PathBuf, Control),
    Follow {
        dir: PathBuf,
        follow_id: u64,
    },
    Edit(PathBuf),
    /// Show an image large with viuer, then come back.
    ViewLarge(PathBuf),
    LoadImage {
        follow_id: u64,
        iter: u64,
        path: PathBuf,
    },
    LoadCompare(Vec<PathBuf>),
    RefreshRuns,
    Validate,
    /// Quit; stop the runs launched here first when true.
    Quit {
        stop_launched: bool,
    },
}

pub struct App {
    pub tab: Tab,
    pub experiments: Vec<ExperimentEntry>,
    pub exp_sel: usize,
    pub runs: Vec<RunEntry>,
    pub run_sel: usize,
    pub sort: SortKey,
    pub sort_desc: bool,
    pub marked: BTreeSet<PathBuf>,
    pub live: Option<Live>,
    pub compare: Option<CompareData>,
    pub help: bool,
    pub prompt: Option<Prompt>,
    /// A line for the status bar.
    pub message: Option<String>,
    pub smooth: bool,
    pub per_layer: bool,
    pub steer: Term,
    /// Run folders launched from this dashboard.
    pub launched: Vec<PathBuf>,
    pub color: bool,
    /// The time the screen is drawn for (the runtime sets it before each
    /// frame): dates of today show as a time only.
    pub now: DateTime<FixedOffset>,
    next_follow: u64,
}

impl App {
    pub fn new(color: bool) -> Self {
        App {
            tab: Tab::Experiments,
            experiments: Vec::new(),
            exp_sel: 0,
            runs: Vec::new(),
            run_sel: 0,
            sort: SortKey::Started,
            sort_desc: true,
            marked: BTreeSet::new(),
            live: None,
            compare: None,
            help: false,
            prompt: None,
            message: None,
            smooth: false,
            per_layer: false,
            steer: Term::Style,
            launched: Vec::new(),
            color,
            now: chrono::Local::now().fixed_offset(),
            next_follow: 1,
        }
    }

    /// Runs launched here that are still going.
    pub fn launched_running(&self) -> usize {
        self.launched
            .iter()
            .filter(|d| {
                // The live view's summary is the freshest word on it.
                if let Some(live) = self.live.as_ref().filter(|l| &l.dir == *d && l.summary.is_some()) {
                    return live.is_running();
                }
                match self.runs.iter().find(|r| &r.dir == *d) {
                    // No summary yet: still starting.
                    Some(r) => matches!(r.state, RunState::Running | RunState::Broken(_)),
                    // Not listed yet: just launched.
                    None => true,
                }
            })
            .count()
    }

    fn follow(&mut self, dir: PathBuf, launched_here: bool) -> Effect {
        let follow_id = self.next_follow;
        self.next_follow += 1;
        self.live = Some(Live::new(dir.clone(), follow_id, launched_here));
        self.tab = Tab::Live;
        Effect::Follow { dir, follow_id }
    }

    pub fn sort_runs(&mut self) {
        let selected = self.runs.get(self.run_sel).map(|r| r.dir.clone());
        crate::review::sort::sort_by(&mut self.runs, self.sort.column(), self.sort_desc, |r| (r, None));
        crate::review::sort::group_sweeps(&mut self.runs);
        if let Some(sel) = selected {
            self.run_sel = self.runs.iter().position(|r| r.dir == sel).unwrap_or(0);
        }
    }

    /// Re-derives the live chart's curves (rows arrived, or a toggle changed).
    fn refresh_series(&mut self) {
        let (smooth, per_layer) = (self.smooth, self.per_layer);
        if let Some(live) = self.live.as_mut() {
            live.series = live.chart_series(smooth, per_layer);
        }
    }
}

fn step_index(sel: &mut usize, len: usize, down: bool) {
    if len == 0 {
        *sel = 0;
    } else if down {
        *sel = (*sel + 1).min(len - 1);
    } else {
        *sel = sel.saturating_sub(1);
    }
}

/// The one place where state changes.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Mouse(m) => on_mouse(app, m),
        Msg::Resize => Vec::new(),
        Msg::Experiments(list) => {
            app.experiments = list;
            app.exp_sel = app.exp_sel.min(app.experiments.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Runs(list) => {
            app.runs = list;
            app.sort_runs();
            app.run_sel = app.run_sel.min(app.runs.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Launched(dir) => {
            app.message = Some(format!("launched {}", dir.display()));
            app.launched.push(dir.clone());
            vec![app.follow(dir, true), Effect::RefreshRuns]
        }
        Msg::LaunchFailed(e) => {
            app.message = Some(e);
            Vec::new()
        }
        Msg::Live { follow_id, update } => {
            if let Some(live) = app.live.as_mut().filter(|l| l.follow_id == follow_id) {
                let finished = matches!(&update, LiveUpdate::Summary(s) if s.status != crate::record::Status::Running);
                let new_points = matches!(&update, LiveUpdate::Rows(_) | LiveUpdate::Header(_));
                live.apply(update);
                if new_points {
                    app.refresh_series();
                }
                if finished {
                    return vec![Effect::RefreshRuns];
                }
            }
            Vec::new()
        }
        Msg::Image { follow_id, iter, image } => {
            if let Some(live) = app.live.as_mut().filter(|l| l.follow_id == follow_id) {
                live.image = Some((iter, image));
            }
            Vec::new()
        }
        Msg::Compare(data) => {
            app.compare = Some(*data);
            app.tab = Tab::Compare;
            Vec::new()
        }
    }
}

fn on_mouse(app: &mut App, m: MouseEvent) -> Vec<Effect> {
    let down = match m.kind {
        MouseEventKind::ScrollDown => true,
        MouseEventKind::ScrollUp => false,
        MouseEventKind::Down(_) if m.row == 0 => {
            if let Some(i) = super::widgets::tab_at(&Tab::TITLES, m.column) {
                app.tab = Tab::ALL[i];
            }
            return Vec::new();
        }
        _ => return Vec::new(),
    };
    match app.tab {
        Tab::Experiments => step_index(&mut app.exp_sel, app.experiments.len(), down),
        Tab::Runs => step_index(&mut app.run_sel, app.runs.len(), down),
        _ => {}
    }
    Vec::new()
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(Prompt::Quit { .. }) = app.prompt {
        return match key.code {
            KeyCode::Char('s') => vec![Effect::Quit { stop_launched: true }],
            KeyCode::Char('d') => vec![Effect::Quit { stop_launched: false }],
            _ if ctrl_c => vec![Effect::Quit { stop_launched: true }],
            KeyCode::Esc | KeyCode::Char('c') => {
                app.prompt = None;
                Vec::new()
            }
            _ => Vec::new(),
        };
    }
    if app.help {
        app.help = false;
        return Vec::new();
    }
    if ctrl_c || key.code == KeyCode::Char('q') {
        let running = app.launched_running();
        if running > 0 {
            app.prompt = Some(Prompt::Quit { running });
            return Vec::new();
        }
        return vec![Effect::Quit { stop_launched: false }];
    }
    match key.code {
        KeyCode::Char('?') => {
            app.help = true;
            return Vec::new();
        }
        KeyCode::Tab | KeyCode::BackTab => {
            let i = Tab::ALL.iter().position(|t| *t == app.tab).expect("a known tab");
            let n = Tab::ALL.len();
            let next = if key.code == KeyCode::Tab {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            app.tab = Tab::ALL[next];
            return Vec::new();
        }
        KeyCode::Char(c @ '1'..='4') => {
            app.tab = Tab::ALL[c as usize - '1' as usize];
            return Vec::new();
        }
        _ => {}
    }
    match app.tab {
        Tab::Experiments => experiments_key(app, key),
        Tab::Runs => runs_key(app, key),
        Tab::Live => live_key(app, key),
        Tab::Compare => compare_key(app, key),
    }
}

fn is_down(code: KeyCode) -> Option<bool> {
    match code {
        KeyCode::Char('j') | KeyCode::Down => Some(true),
        KeyCode::Char('k') | KeyCode::Up => Some(false),
        _ => None,
    }
}

fn experiments_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(down) = is_down(key.code) {
        step_index(&mut app.exp_sel, app.experiments.len(), down);
        return Vec::new();
    }
    let Some(entry) = app.experiments.get(app.exp_sel) else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Enter => match &entry.check {
            Some(Ok(_)) => {
                app.message = Some(format!("launching {}…", entry.file_name()));
                vec![Effect::Launch(entry.path.clone())]
            }
            Some(Err(e)) => {
                app.message = Some(format!("{} does not validate: {e}", entry.file_name()));
                Vec::new()
            }
            None => {
                app.message = Some(format!("{} is still being checked", entry.file_name()));
                Vec::new()
            }
        },
        KeyCode::Char('e') => vec![Effect::Edit(entry.path.clone())],
        KeyCode::Char('r') => vec![Effect::Validate],
        _ => Vec::new(),
    }
}

fn runs_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(down) = is_down(key.code) {
        step_index(&mut app.run_sel, app.runs.len(), down);
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('o') => {
            let i = SortKey::ALL.iter().position(|k| *k == app.sort).expect("a known key");
            app.sort = SortKey::ALL[(i + 1) % SortKey::ALL.len()];
            app.sort_runs();
            Vec::new()
        }
        KeyCode::Char('O') => {
            app.sort_desc = !app.sort_desc;
            app.sort_runs();
            Vec::new()
        }
        KeyCode::Char('r') => vec![Effect::RefreshRuns],
        KeyCode::Char(' ') => {
            if let Some(r) = app.runs.get(app.run_sel) {
                if !app.marked.remove(&r.dir) {
                    app.marked.insert(r.dir.clone());
                }
                step_index(&mut app.run_sel, app.runs.len(), true);
            }
            Vec::new()
        }
        KeyCode::Char('c') => {
            if app.marked.len() < 2 {
                app.message = Some("mark two or more runs with space, then press c".into());
                return Vec::new();
            }
            vec![Effect::LoadCompare(app.marked.iter().cloned().collect())]
        }
        KeyCode::Enter => match app.runs.get(app.run_sel) {
            Some(r) => {
                let dir = r.dir.clone();
                let here = app.launched.contains(&dir);
                vec![app.follow(dir, here)]
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn live_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(live) = app.live.as_mut() else {
        app.message = Some("no run: launch one from Experiments or open one from Runs".into());
        return Vec::new();
    };
    let control = |c: Control| vec![Effect::Control(live.dir.clone(), c)];
    let running = live.is_running();
    match key.code {
        KeyCode::Char(' ') if running => {
            let c = if live.paused { Control::Resume } else { Control::Pause };
            control(c)
        }
        KeyCode::Char('s') if running => {
            app.message = Some("stopping after the current step…".into());
            control(Control::Stop)
        }
        KeyCode::Char('n') if running => control(Control::SnapshotNow),
        KeyCode::Char('t') => {
            app.steer = match app.steer {
                Term::Content => Term::Style,
                Term::Style => Term::Tv,
                Term::Tv => Term::Content,
            };
            Vec::new()
        }
        KeyCode::Char('+') | KeyCode::Char('=') if running => control(Control::Scale(app.steer, 2.0)),
        KeyCode::Char('-') if running => control(Control::Scale(app.steer, 0.5)),
        KeyCode::Char('l') => {
            app.per_layer = !app.per_layer;
            app.refresh_series();
            Vec::new()
        }
        KeyCode::Char('m') => {
            app.smooth = !app.smooth;
            app.refresh_series();
            Vec::new()
        }
        KeyCode::Char('[') | KeyCode::Left => live.browse(true).into_iter().collect(),
        KeyCode::Char(']') | KeyCode::Right => live.browse(false).into_iter().collect(),
        KeyCode::End | KeyCode::Char('g') => {
            live.browsing = None;
            live.load_snapshot(live.snapshots.len().wrapping_sub(1))
                .into_iter()
                .collect()
        }
        KeyCode::Char('v') => match live.image_to_view() {
            Some(p) => vec![Effect::ViewLarge(p)],
            None => {
                app.message = Some("no image yet".into());
                Vec::new()
            }
        },
        _ => Vec::new(),
    }
}

fn compare_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Char('m') => {
            if let Some(c) = app.compare.as_mut() {
                c.show_metric(c.metric + 1);
            }
        }
        KeyCode::Esc => app.tab = Tab::Runs,
        _ => {}
    }
    Vec::new()
}
