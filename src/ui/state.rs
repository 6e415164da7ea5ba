//! The dashboard's state and its one `update` function (the Elm
//! Architecture). Everything that touches the outside world — launching a
//! run, writing a control line, opening an editor — is returned as an
//! [`Effect`] for the runtime to perform, so `update` stays testable.

use super::follow::LiveUpdate;
use super::history::History;
use super::widgets::DisplayImage;
use chrono::{DateTime, FixedOffset};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::style::Color;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use stylelab_core::chart::{RUN_COLORS, Series, ema};
use stylelab_core::events::Control;
use stylelab_core::record::{MetricsHeader, StepMetrics, Summary, Term};
use stylelab_core::review::{RunEntry, RunState};

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

/// The dashboard's four views, in tab-bar order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Experiment files found, each with whether it validates; `Enter` launches one.
    Experiments,
    /// Run folders, sortable and markable for comparison; `Enter` follows one.
    Runs,
    /// The followed run: its chart, image, progress and steering keys.
    Live,
    /// Two or more marked runs side by side.
    Compare,
}

impl Tab {
    /// Every tab, in the order the bar shows them and `1`–`4` select them.
    pub const ALL: [Tab; 4] = [Tab::Experiments, Tab::Runs, Tab::Live, Tab::Compare];
    /// The bar's labels, indexed like [`Tab::ALL`].
    pub const TITLES: [&'static str; 4] = ["Experiments", "Runs", "Live", "Compare"];

    /// The label shown in the tab bar.
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

/// A weight change made while running: drawn as a marker on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SteerMark {
    /// The step after which the change took effect.
    pub iter: u64,
    /// The loss term whose weight changed.
    pub term: Term,
    /// Its weight before and after the change.
    pub from: f64,
    pub to: f64,
}

/// The run shown in the Live tab.
#[derive(Debug, Clone)]
pub struct Live {
    /// The run's folder.
    pub dir: PathBuf,
    /// Which follow this is: updates carrying another id are from a run
    /// followed earlier and are dropped.
    pub follow_id: u64,
    /// The run's resolved config, key to raw TOML value (strings keep their quotes).
    pub config: BTreeMap<String, String>,
    /// Its `summary.json`, once read; None before the run has written one.
    pub summary: Option<Summary>,
    /// The metrics file's header: which per-layer columns the rows carry.
    pub header: MetricsHeader,
    /// Metrics rows, thinned to at most [`HISTORY_POINTS`] for charting.
    pub history: History,
    /// The newest metrics row: the progress line and the steering weights come from it.
    pub last: Option<StepMetrics>,
    /// Recent (iter, elapsed_s), for steps/s.
    pub recent: Vec<(u64, f64)>,
    /// The chart's curves, derived from `history` when rows arrive or the
    /// smoothing and per-layer toggles change, never while drawing.
    pub series: Vec<Series>,
    /// Snapshot images written so far, (step, file), oldest first.
    pub snapshots: Vec<(u64, PathBuf)>,
    /// The image shown and its step.
    pub image: Option<(u64, Arc<DisplayImage>)>,
    /// Index into `snapshots` being looked at; None = follow the newest.
    pub browsing: Option<usize>,
    /// Weight changes, as the log reported them.
    pub marks: Vec<SteerMark>,
    /// Scale changes of a multi-scale run: (step, width, height) of each
    /// scale as it started.
    pub scale_marks: Vec<(u64, u32, u32)>,
    /// The scale in force now: (1-based index, count), as the log said;
    /// None for a single-scale run or before the first scale change.
    pub scale: Option<(usize, usize)>,
    /// Steps where the chart draws a vertical marker: weight changes and
    /// scale changes, kept as they arrive.
    pub chart_marks: Vec<u64>,
    /// The run is paused (by a `pause` control line).
    pub paused: bool,
    /// Whether the run's process is alive, as the follower last saw it;
    /// None before it looked.
    pub alive: Option<bool>,
    /// Resident memory of its process, MiB; None where it could not be read.
    pub rss_mib: Option<f64>,
    /// Its GPU memory (CUDA runs), MiB.
    pub gpu_mib: Option<f64>,
    /// Launched from this dashboard (it may be asked to stop on quit).
    pub launched_here: bool,
    /// Weights asked for with `+`/`-` that no metrics row carries yet: shown
    /// at once, as "→ new (next step)", until a row does.
    pub pending: BTreeMap<Term, f64>,
    /// A stop was asked for and the run has not ended yet.
    pub stopping: bool,
}

impl Live {
    /// A view of the run in `dir` with nothing read yet; the follower fills it in.
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
            pending: BTreeMap::new(),
            stopping: false,
        }
    }

    /// The run's name: from its summary, else its config's `name`, else its folder's name.
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
            .is_none_or(|s| s.status == stylelab_core::record::Status::Running)
            && self.alive != Some(false)
    }

    /// Said running, but its process is gone.
    pub fn died(&self) -> bool {
        self.alive == Some(false)
            && self
                .summary
                .as_ref()
                .is_some_and(|s| s.status == stylelab_core::record::Status::Running)
    }

    /// Steps asked for over all scales, as the summary says; 0 before there is one.
    pub fn iterations(&self) -> u64 {
        self.summary.as_ref().map(|s| s.iterations).unwrap_or(0)
    }

    /// Steps per second over the recent rows after the first step (which
    /// carries the start-up); 0 until three such rows say.
    pub fn steps_per_s(&self) -> f64 {
        let going: Vec<&(u64, f64)> = self.recent.iter().filter(|r| r.0 >= 1).collect();
        match (going.first(), going.last()) {
            (Some(a), Some(b)) if going.len() >= 3 && b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1),
            _ => 0.0,
        }
    }

    /// Folds one update from the follower into the view. A new image is
    /// ignored while the user is browsing older snapshots, and only the last
    /// 20 rows are kept for the steps/s rate.
    pub fn apply(&mut self, update: LiveUpdate) {
        match update {
            LiveUpdate::Config(c) => self.config = c,
            LiveUpdate::Summary(s) => {
                if s.status != stylelab_core::record::Status::Running {
                    self.stopping = false;
                }
                self.summary = Some(*s);
            }
            LiveUpdate::Header(h) => self.header = h,
            LiveUpdate::Rows(rows) => {
                for row in rows {
                    self.history.push(&row);
                    self.recent.push((row.iter, row.elapsed_s));
                    if self.recent.len() > 20 {
                        self.recent.remove(0);
                    }
                    // A weight the rows now carry is no longer pending.
                    for term in Term::ALL {
                        let w = match term {
                            Term::Content => row.content_weight,
                            Term::Style => row.style_weight,
                            Term::Tv => row.tv_weight,
                        };
                        if self.pending.get(&term).is_some_and(|p| (p - w).abs() <= 1e-9 * w.abs()) {
                            self.pending.remove(&term);
                        }
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
                // The run took it: the next row will carry it.
                self.pending.insert(term, to);
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
            (None, false) => Some(stylelab_core::record::RunPaths::new(&self.dir).final_image()),
            (None, true) => self.snapshots.last().map(|s| s.1.clone()),
        }
    }

    /// The weight `+`/`-` change from: the pending one, else the one in force.
    fn steer_from(&self, term: Term) -> Option<f64> {
        self.pending.get(&term).copied().or_else(|| self.weight(term))
    }

    /// The snapshot whose decoded image may be shown: the one browsed to,
    /// else the newest.
    fn wanted_snapshot(&self) -> Option<u64> {
        match self.browsing {
            Some(i) => self.snapshots.get(i).map(|s| s.0),
            None => self.snapshots.last().map(|s| s.0),
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
    /// Start time, the default (newest first).
    Started,
    Name,
    Status,
    /// Steps done.
    Steps,
    /// Wall-clock time, sorted by the `wall_s` column.
    Duration,
    /// Latest total loss (runs without rows sort last).
    Total,
    /// Latest style loss (runs without rows sort last).
    Style,
    /// Content distance from scoring (unscored runs sort last).
    ContentDist,
    /// Style distance from scoring (unscored runs sort last).
    StyleDist,
}

impl SortKey {
    /// Every key, in the order `o` cycles through them.
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

    /// The name shown in the Runs header; also the sort column, except for `Duration`.
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

/// A row of the Runs table: a sweep's header, or a run (by its index in
/// [`App::runs`]). Derived from the runs, their order and which sweeps are
/// collapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRow {
    /// The header of the sweep of this name, its points under it.
    Sweep(String),
    /// A run.
    Run(usize),
}

/// Runs being compared: data loaded once when the view opens.
#[derive(Debug, Clone)]
pub struct CompareData {
    /// The runs, in order of their folders' paths (marked runs are kept sorted).
    pub runs: Vec<CompareRun>,
    /// Config keys that differ, with each run's value (paths cut to the
    /// part that tells them apart).
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
    /// Path values keep only the part that tells them apart.
    pub fn new(runs: Vec<CompareRun>, diff: Vec<(String, Vec<String>)>) -> Self {
        let diff = diff
            .into_iter()
            .map(|(k, vals)| (k, stylelab_core::review::distinguishing_tails(&vals)))
            .collect();
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

/// One run in the Compare view.
#[derive(Debug, Clone)]
pub struct CompareRun {
    /// Its name for the legend; its folder's id where two runs share a name.
    pub name: String,
    /// Its metrics rows, thinned for charting.
    pub history: History,
    /// Its final image, or None when it has none or it would not decode.
    pub image: Option<Arc<DisplayImage>>,
}

/// Metrics the Compare chart can show, cycled with `m`; also the
/// [`History`] column each is read from.
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
    /// A key press; it also clears the status line.
    Key(KeyEvent),
    /// The time the next frame is drawn for.
    Clock(DateTime<FixedOffset>),
    /// A line for the status bar from the runtime (an effect that failed).
    Notice(String),
    /// Quitting: the prompt is answered and the runs started here are stopping.
    Quitting,
    /// A mouse event: wheel scrolls lists, a click on the top row picks a tab.
    Mouse(MouseEvent),
    /// The terminal changed size: nothing to do but redraw.
    Resize,
    /// A fresh list of experiment files (and their checks).
    Experiments(Vec<ExperimentEntry>),
    /// A fresh list of run folders.
    Runs(Vec<RunEntry>),
    /// Each sweep point's values of its sweep's keys (`style_weight=1e3`),
    /// by run folder: the Runs view's `values` column.
    SweepValues(std::collections::HashMap<PathBuf, String>),
    /// A run launched from here has its folder.
    Launched(PathBuf),
    /// Launching failed; the message goes to the status bar.
    LaunchFailed(String),
    /// An update from the follower of the run in the Live tab.
    Live { follow_id: u64, update: LiveUpdate },
    /// Data for the Compare view, loaded in the background; opens the tab.
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
    /// Start a run of this experiment file in the background.
    Launch(PathBuf),
    /// Start `stylelab sweep` on this experiment file in the background.
    LaunchSweep(PathBuf),
    /// Append a control line to this run folder's control file.
    Control(PathBuf, Control),
    /// Start following the run in `dir`, tagging updates with `follow_id`.
    Follow { dir: PathBuf, follow_id: u64 },
    /// Open this file in `$VISUAL`, else `$EDITOR`, else `vi`, leaving the screen meanwhile.
    Edit(PathBuf),
    /// Show an image large with viuer, then come back.
    ViewLarge(PathBuf),
    /// Decode snapshot `path` of step `iter` for the Live view.
    LoadImage { follow_id: u64, iter: u64, path: PathBuf },
    /// Load these run folders for the Compare view.
    LoadCompare(Vec<PathBuf>),
    /// Re-read the list of run folders.
    RefreshRuns,
    /// Re-check every experiment file.
    Validate,
    /// Quit; stop the runs launched here first when true.
    Quit { stop_launched: bool },
}

/// Everything the dashboard shows and remembers between frames.
pub struct App {
    /// The tab shown.
    pub tab: Tab,
    /// Experiment files, and the selected one's index.
    pub experiments: Vec<ExperimentEntry>,
    pub exp_sel: usize,
    /// Run folders in display order, and the selected one's index (the
    /// selected run when `on_header` is None).
    pub runs: Vec<RunEntry>,
    pub run_sel: usize,
    /// The selection is on this sweep's header row instead of a run.
    pub on_header: Option<String>,
    /// Sweeps whose points are hidden under their header (Enter toggles).
    pub collapsed: BTreeSet<String>,
    /// The Runs table's rows, derived from `runs` and `collapsed`.
    pub rows: Vec<RunRow>,
    /// Sweep points' values of their sweep's keys, by run folder.
    pub sweep_values: std::collections::HashMap<PathBuf, String>,
    /// Each sweep's progress among `runs`, by sweep name (derived when the
    /// runs arrive, for the Runs view's group rows).
    pub sweeps: std::collections::HashMap<String, stylelab_core::review::SweepProgress>,
    /// How the Runs table is sorted; `sort_desc` for largest (or newest) first.
    pub sort: SortKey,
    pub sort_desc: bool,
    /// Run folders marked with space for comparison.
    pub marked: BTreeSet<PathBuf>,
    /// The run followed in the Live tab, if any.
    pub live: Option<Live>,
    /// The runs in the Compare tab, if any have been loaded.
    pub compare: Option<CompareData>,
    /// The help overlay is open; the next key closes it.
    pub help: bool,
    /// A question on screen; keys answer it until it is closed.
    pub prompt: Option<Prompt>,
    /// A line for the status bar.
    pub message: Option<String>,
    /// Chart toggles: smoothing (`m`) and per-layer curves (`l`).
    pub smooth: bool,
    pub per_layer: bool,
    /// The term `+`/`-` steer, cycled with `t`.
    pub steer: Term,
    /// Run folders launched from this dashboard.
    pub launched: Vec<PathBuf>,
    /// Whether to draw in colour (off when `NO_COLOR` is set and non-empty).
    pub color: bool,
    /// The time the screen is drawn for (a [`Msg::Clock`] before each
    /// frame): dates of today show as a time only.
    pub now: DateTime<FixedOffset>,
    /// The id the next follow gets; see [`Live::follow_id`].
    next_follow: u64,
}

impl App {
    /// A dashboard on the Experiments tab with nothing loaded yet.
    pub fn new(color: bool) -> Self {
        App {
            tab: Tab::Experiments,
            experiments: Vec::new(),
            exp_sel: 0,
            runs: Vec::new(),
            sweeps: std::collections::HashMap::new(),
            run_sel: 0,
            on_header: None,
            collapsed: BTreeSet::new(),
            rows: Vec::new(),
            sweep_values: std::collections::HashMap::new(),
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

    /// Opens `dir` in the Live tab under a fresh follow id and asks the
    /// runtime to follow it; the previous follow's updates will be dropped.
    fn follow(&mut self, dir: PathBuf, launched_here: bool) -> Effect {
        let follow_id = self.next_follow;
        self.next_follow += 1;
        self.live = Some(Live::new(dir.clone(), follow_id, launched_here));
        self.tab = Tab::Live;
        Effect::Follow { dir, follow_id }
    }

    /// Sorts the runs by the current key and groups sweeps together, keeping
    /// the same run selected.
    pub fn sort_runs(&mut self) {
        let selected = self.runs.get(self.run_sel).map(|r| r.dir.clone());
        stylelab_core::review::sort::sort_by(&mut self.runs, self.sort.column(), self.sort_desc, |r| (r, None));
        stylelab_core::review::sort::group_sweeps(&mut self.runs);
        if let Some(sel) = selected {
            self.run_sel = self.runs.iter().position(|r| r.dir == sel).unwrap_or(0);
        }
        self.derive_rows();
    }

    /// The Runs table's rows: a header before each sweep's points (which
    /// `group_sweeps` keeps together), its points unless collapsed. A
    /// selection on a hidden run moves to its sweep's header.
    fn derive_rows(&mut self) {
        let mut rows = Vec::with_capacity(self.runs.len() + 4);
        let mut group: Option<&str> = None;
        for (i, r) in self.runs.iter().enumerate() {
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
                .runs
                .get(self.run_sel)
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
            None => RunRow::Run(self.run_sel),
        };
        self.rows.iter().position(|r| *r == wanted).unwrap_or(0)
    }

    /// Moves the Runs selection one row down or up, onto runs and sweep headers.
    fn step_runs(&mut self, down: bool) {
        let mut row = self.selected_row();
        step_index(&mut row, self.rows.len(), down);
        match self.rows.get(row) {
            Some(RunRow::Sweep(name)) => self.on_header = Some(name.clone()),
            Some(RunRow::Run(i)) => {
                self.on_header = None;
                self.run_sel = *i;
            }
            None => {}
        }
    }

    /// The run folders of the sweep named `name` among the runs listed.
    fn sweep_dirs(&self, name: &str) -> Vec<PathBuf> {
        self.runs
            .iter()
            .filter(|r| r.sweep().is_some_and(|m| m.name == name))
            .map(|r| r.dir.clone())
            .collect()
    }

    /// Re-derives the live chart's curves (rows arrived, or a toggle changed).
    fn refresh_series(&mut self) {
        let (smooth, per_layer) = (self.smooth, self.per_layer);
        if let Some(live) = self.live.as_mut() {
            live.series = live.chart_series(smooth, per_layer);
        }
    }
}

/// Moves a list selection one row down or up, clamped to the list; 0 when it is empty.
fn step_index(sel: &mut usize, len: usize, down: bool) {
    if len == 0 {
        *sel = 0;
    } else if down {
        *sel = (*sel + 1).min(len - 1);
    } else {
        *sel = sel.saturating_sub(1);
    }
}

/// The one place where state changes: every change is an answer to a message.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => {
            app.message = None;
            on_key(app, key)
        }
        Msg::Clock(now) => {
            app.now = now;
            Vec::new()
        }
        Msg::Notice(text) => {
            app.message = Some(text);
            Vec::new()
        }
        Msg::Quitting => {
            app.prompt = None;
            app.message = Some("stopping the runs started here…".into());
            Vec::new()
        }
        Msg::Mouse(m) => on_mouse(app, m),
        Msg::Resize => Vec::new(),
        Msg::Experiments(list) => {
            app.experiments = list;
            app.exp_sel = app.exp_sel.min(app.experiments.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Runs(list) => {
            app.runs = list;
            let names: BTreeSet<&str> = app
                .runs
                .iter()
                .filter_map(|r| r.sweep())
                .map(|m| m.name.as_str())
                .collect();
            let sweeps = names
                .into_iter()
                .map(|n| (n.to_string(), stylelab_core::review::SweepProgress::of(&app.runs, n)))
                .collect();
            app.sweeps = sweeps;
            app.sort_runs();
            app.run_sel = app.run_sel.min(app.runs.len().saturating_sub(1));
            if app.on_header.as_ref().is_some_and(|n| !app.sweeps.contains_key(n)) {
                app.on_header = None;
            }
            app.derive_rows();
            Vec::new()
        }
        Msg::SweepValues(values) => {
            app.sweep_values = values;
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
                let finished =
                    matches!(&update, LiveUpdate::Summary(s) if s.status != stylelab_core::record::Status::Running);
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
            // Decodes finish in any order: keys pressed fast ask for several,
            // and only the one the view now wants may show.
            if let Some(live) = app.live.as_mut().filter(|l| l.follow_id == follow_id)
                && live.wanted_snapshot() == Some(iter)
            {
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

/// Wheel scrolls the Experiments and Runs lists; a click on the tab bar switches tab.
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
        Tab::Runs => app.step_runs(down),
        _ => {}
    }
    Vec::new()
}

/// Keys in priority order: an open prompt, then the help overlay, then
/// quit and the global tab keys, then the current tab's own keys.
/// Quitting with runs launched here still going asks first.
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

/// `j`/Down is Some(true), `k`/Up Some(false), anything else None.
fn is_down(code: KeyCode) -> Option<bool> {
    match code {
        KeyCode::Char('j') | KeyCode::Down => Some(true),
        KeyCode::Char('k') | KeyCode::Up => Some(false),
        _ => None,
    }
}

/// Experiments tab: move, `Enter` to launch (only once it validates),
/// `e` to edit, `r` to re-check.
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
            Some(Ok(_)) if entry.sweep_points.is_some() => {
                app.message = Some(format!(
                    "sweep of {} started: {} points; they show in Runs as they start",
                    entry.file_name(),
                    entry.sweep_points.unwrap_or(0)
                ));
                app.tab = Tab::Runs;
                vec![Effect::LaunchSweep(entry.path.clone()), Effect::RefreshRuns]
            }
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

/// Runs tab: move (onto runs and sweep headers), `o`/`O` sort key and
/// direction, space to mark (on a sweep's header: all its points), `c` to
/// compare the marked runs, `r` to refresh, `Enter` to follow a run or to
/// fold and unfold a sweep.
fn runs_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(down) = is_down(key.code) {
        app.step_runs(down);
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
            if let Some(name) = app.on_header.clone() {
                let dirs = app.sweep_dirs(&name);
                if dirs.iter().all(|d| app.marked.contains(d)) {
                    dirs.iter().for_each(|d| {
                        app.marked.remove(d);
                    });
                } else {
                    app.marked.extend(dirs);
                }
            } else if let Some(r) = app.runs.get(app.run_sel)
                && !app.marked.remove(&r.dir)
            {
                app.marked.insert(r.dir.clone());
            }
            app.step_runs(true);
            Vec::new()
        }
        KeyCode::Char('c') => {
            if app.marked.len() < 2 {
                app.message = Some("mark two or more runs with space, then press c".into());
                return Vec::new();
            }
            vec![Effect::LoadCompare(app.marked.iter().cloned().collect())]
        }
        KeyCode::Enter => {
            if let Some(name) = app.on_header.clone() {
                if !app.collapsed.remove(&name) {
                    app.collapsed.insert(name);
                }
                app.derive_rows();
                return Vec::new();
            }
            match app.runs.get(app.run_sel) {
                Some(r) => {
                    let dir = r.dir.clone();
                    let here = app.launched.contains(&dir);
                    vec![app.follow(dir, here)]
                }
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Live tab: control keys (pause, stop, snapshot, steer) act only while
/// the run is going; chart toggles and snapshot browsing work always.
fn live_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(live) = app.live.as_mut() else {
        app.message = Some("no run: launch one from Experiments or open one from Runs".into());
        return Vec::new();
    };
    let dir = live.dir.clone();
    let control = |c: Control| vec![Effect::Control(dir.clone(), c)];
    let running = live.is_running();
    match key.code {
        KeyCode::Char(' ') if running => {
            let c = if live.paused { Control::Resume } else { Control::Pause };
            control(c)
        }
        KeyCode::Char('s') if running => {
            live.stopping = true;
            control(Control::Stop)
        }
        KeyCode::Char('n') if running => {
            app.message = Some(format!(
                "snapshot asked for at step {}",
                live.last.as_ref().map_or(0, |r| r.iter)
            ));
            control(Control::SnapshotNow)
        }
        KeyCode::Char('t') => {
            app.steer = match app.steer {
                Term::Content => Term::Style,
                Term::Style => Term::Tv,
                Term::Tv => Term::Content,
            };
            Vec::new()
        }
        KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('-') if running => {
            let factor = if key.code == KeyCode::Char('-') { 0.5 } else { 2.0 };
            // Shown at once, before the run confirms it.
            if let Some(w) = live.steer_from(app.steer) {
                live.pending.insert(app.steer, w * factor);
            }
            control(Control::Steer(app.steer, factor))
        }
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

/// Compare tab: `m` cycles the metric, `Esc` goes back to Runs.
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
