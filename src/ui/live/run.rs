//! The run followed in the Live tab, as the follower has told of it: its
//! config, summary, metrics (thinned for charting), snapshots, weight and
//! scale changes, and its process. [`Live::apply`] folds each update in;
//! the chart's curves are derived here, never while drawing.

use crate::ui::effect::Effect;
use crate::ui::follow::LiveUpdate;
use crate::ui::history::{HISTORY_POINTS, History};
use crate::ui::widgets::DisplayImage;
use ratatui::style::Color;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use stylelab_core::chart::{Series, ema};
use stylelab_core::record::{MetricsHeader, StepMetrics, Summary, Term};

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
    /// How far the tiled evaluation under way has got.
    pub evaluating: Option<stylelab_core::events::EvalProgress>,
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
            evaluating: None,
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
            LiveUpdate::Progress(p) => self.evaluating = p,
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
    pub fn browse(&mut self, back: bool) -> Option<Effect> {
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
    pub fn load_snapshot(&self, i: usize) -> Option<Effect> {
        let (iter, path) = self.snapshots.get(i).cloned()?;
        Some(Effect::LoadImage {
            follow_id: self.follow_id,
            iter,
            path,
        })
    }

    /// The file `v` shows: the snapshot being browsed, else the final image
    /// of a finished run, else the newest snapshot.
    pub fn image_to_view(&self) -> Option<PathBuf> {
        match (self.browsing, self.is_running()) {
            (Some(i), _) => self.snapshots.get(i).map(|s| s.1.clone()),
            (None, false) => Some(stylelab_core::record::RunPaths::new(&self.dir).final_image()),
            (None, true) => self.snapshots.last().map(|s| s.1.clone()),
        }
    }

    /// The weight `+`/`-` change from: the pending one, else the one in force.
    pub fn steer_from(&self, term: Term) -> Option<f64> {
        self.pending.get(&term).copied().or_else(|| self.weight(term))
    }

    /// The snapshot whose decoded image may be shown: the one browsed to,
    /// else the newest.
    pub fn wanted_snapshot(&self) -> Option<u64> {
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
