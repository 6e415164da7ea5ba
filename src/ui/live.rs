//! The Live view: the followed run's loss chart, image, progress and
//! parameters, and the keys that steer it (pause, stop, snapshot, weights)
//! or change what is shown (curves, snapshots). Its state, its keys and its
//! drawing; the run as followed is [`run::Live`], its panels [`panels`].

pub mod panels;
pub mod run;

use super::effect::{Effect, Reply};
use super::follow::LiveUpdate;
use super::keys::{Binding, Key, Keymap};
use super::theme::{Theme, empty};
use super::widgets::DisplayImage;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use run::Live;
use std::sync::Arc;
use stylelab_core::events::Control;
use stylelab_core::record::Term;

/// The Live view's state: the run followed, if any, and the chart toggles
/// and the steered term, which outlive a follow.
#[derive(Debug)]
pub struct LiveView {
    /// The run followed, if any.
    pub run: Option<Live>,
    /// Smoothed curves (`m`).
    pub smooth: bool,
    /// Per-layer curves (`l`).
    pub per_layer: bool,
    /// The term `+`/`-` steer, cycled with `t`.
    pub steer: Term,
}

/// What a key does in the Live view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pause the run, or resume it.
    Pause,
    /// Stop it (its files are kept).
    Stop,
    /// Ask for a snapshot now.
    Snapshot,
    /// Steer the next term: content, style, tv.
    NextTerm,
    /// Multiply the steered weight by this.
    Steer(Factor),
    /// Per-layer curves on or off.
    Layers,
    /// Smoothing on or off.
    Smooth,
    /// Show the snapshot before the one shown.
    Earlier,
    /// Show the one after (past the newest: follow the newest).
    Later,
    /// Follow the newest snapshot again.
    Newest,
    /// Show the image large.
    ViewLarge,
}

/// How `+` and `-` change a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// ×2.
    Double,
    /// ÷2.
    Halve,
}

/// Whether the followed run is going, for the bindings that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Going or not.
    Always,
    /// While the run is going: the keys that write control lines.
    Running,
}

/// What a key in the Live tab says when no run is followed.
const NO_RUN: &str = "no run: launch one from Experiments or open one from Runs";

impl Keymap for LiveView {
    type Action = Action;
    type When = When;
    const KEYS: &'static [Binding<Action, When>] = &[
        Binding {
            keys: &[(Key::char(' '), Action::Pause)],
            when: When::Running,
            footer: Some(("space", "pause")),
            help: Some("pause / resume the run"),
        },
        Binding {
            keys: &[(Key::char('s'), Action::Stop)],
            when: When::Running,
            footer: Some(("s", "stop")),
            help: Some("stop the run (files kept)"),
        },
        Binding {
            keys: &[(Key::char('n'), Action::Snapshot)],
            when: When::Running,
            footer: Some(("n", "snapshot")),
            help: Some("write a snapshot now"),
        },
        Binding {
            keys: &[(Key::char('t'), Action::NextTerm)],
            when: When::Always,
            footer: Some(("t", "term")),
            help: Some("choose the weight: content, style, tv"),
        },
        Binding {
            keys: &[
                (Key::char('+'), Action::Steer(Factor::Double)),
                (Key::char('='), Action::Steer(Factor::Double)),
                (Key::char('-'), Action::Steer(Factor::Halve)),
            ],
            when: When::Running,
            footer: Some(("+/-", "×2/÷2")),
            help: Some("double / halve the chosen weight"),
        },
        Binding {
            keys: &[(Key::char('l'), Action::Layers)],
            when: When::Always,
            footer: Some(("l", "layers")),
            help: Some("per-layer curves on / off"),
        },
        Binding {
            keys: &[(Key::char('m'), Action::Smooth)],
            when: When::Always,
            footer: Some(("m", "smooth")),
            help: Some("smoothed curves on / off"),
        },
        Binding {
            keys: &[
                (Key::char('['), Action::Earlier),
                (Key::code(KeyCode::Left), Action::Earlier),
                (Key::char(']'), Action::Later),
                (Key::code(KeyCode::Right), Action::Later),
            ],
            when: When::Always,
            footer: Some(("[ ]", "snapshots")),
            help: Some("earlier / later snapshot"),
        },
        Binding {
            keys: &[
                (Key::code(KeyCode::End), Action::Newest),
                (Key::char('g'), Action::Newest),
            ],
            when: When::Always,
            footer: None,
            help: Some("back to the newest snapshot"),
        },
        Binding {
            keys: &[(Key::char('v'), Action::ViewLarge)],
            when: When::Always,
            footer: Some(("v", "view")),
            help: Some("show the image large (any key returns)"),
        },
    ];

    fn holds(&self, when: When) -> bool {
        match when {
            When::Always => true,
            When::Running => self.run.as_ref().is_some_and(Live::is_running),
        }
    }

    fn footer_note(&self) -> Option<&'static str> {
        (!self.holds(When::Running)).then_some("(the run has ended)")
    }
}

impl Default for LiveView {
    fn default() -> Self {
        LiveView {
            run: None,
            smooth: false,
            per_layer: false,
            steer: Term::Style,
        }
    }
}

impl LiveView {
    /// Folds an update of follow `follow_id` into the run (one of an
    /// earlier follow is dropped); true when it says the run has finished.
    pub fn apply(&mut self, follow_id: u64, update: LiveUpdate) -> bool {
        let Some(live) = self.run.as_mut().filter(|l| l.follow_id == follow_id) else {
            return false;
        };
        let finished = matches!(&update, LiveUpdate::Summary(s) if s.status != stylelab_core::record::Status::Running);
        let new_points = matches!(&update, LiveUpdate::Rows(_) | LiveUpdate::Header(_));
        live.apply(update);
        if new_points {
            self.refresh_series();
        }
        finished
    }

    /// Shows a decoded snapshot, if it is the one the view now wants.
    pub fn show_image(&mut self, follow_id: u64, iter: u64, image: Arc<DisplayImage>) {
        // Decodes finish in any order: keys pressed fast ask for several,
        // and only the one the view now wants may show.
        if let Some(live) = self.run.as_mut().filter(|l| l.follow_id == follow_id)
            && live.wanted_snapshot() == Some(iter)
        {
            live.image = Some((iter, image));
        }
    }

    /// Re-derives the chart's curves (rows arrived, or a toggle changed).
    fn refresh_series(&mut self) {
        let (smooth, per_layer) = (self.smooth, self.per_layer);
        if let Some(live) = self.run.as_mut() {
            live.series = live.chart_series(smooth, per_layer);
        }
    }

    /// Answers a key: control keys (pause, stop, snapshot, steer) act only
    /// while the run is going; chart toggles and snapshot browsing always.
    pub fn key(&mut self, key: &KeyEvent) -> Reply {
        if self.run.is_none() {
            return Reply::message(NO_RUN);
        }
        match self.action(key) {
            None => Reply::default(),
            Some(Action::NextTerm) => {
                self.steer = match self.steer {
                    Term::Content => Term::Style,
                    Term::Style => Term::Tv,
                    Term::Tv => Term::Content,
                };
                Reply::default()
            }
            Some(Action::Layers) => {
                self.per_layer = !self.per_layer;
                self.refresh_series();
                Reply::default()
            }
            Some(Action::Smooth) => {
                self.smooth = !self.smooth;
                self.refresh_series();
                Reply::default()
            }
            Some(action) => self.run_key(action),
        }
    }

    /// The keys that act on the run itself: its control lines and its snapshots.
    fn run_key(&mut self, action: Action) -> Reply {
        let steer = self.steer;
        let Some(live) = self.run.as_mut() else {
            return Reply::message(NO_RUN);
        };
        let control = |c: Control| vec![Effect::Control(live.dir.clone(), c)];
        match action {
            Action::Pause => Reply::effects(control(if live.paused { Control::Resume } else { Control::Pause })),
            Action::Stop => {
                let effects = control(Control::Stop);
                live.stopping = true;
                Reply::effects(effects)
            }
            Action::Snapshot => Reply {
                effects: control(Control::SnapshotNow),
                ..Reply::message(format!(
                    "snapshot asked for at step {}",
                    live.last.as_ref().map_or(0, |r| r.iter)
                ))
            },
            Action::Steer(f) => {
                let factor = if f == Factor::Halve { 0.5 } else { 2.0 };
                let effects = control(Control::Steer(steer, factor));
                // Shown at once, before the run confirms it.
                if let Some(w) = live.steer_from(steer) {
                    live.pending.insert(steer, w * factor);
                }
                Reply::effects(effects)
            }
            Action::Earlier => Reply::effects(live.browse(true).into_iter().collect()),
            Action::Later => Reply::effects(live.browse(false).into_iter().collect()),
            Action::Newest => {
                live.browsing = None;
                Reply::effects(
                    live.load_snapshot(live.snapshots.len().wrapping_sub(1))
                        .into_iter()
                        .collect(),
                )
            }
            Action::ViewLarge => match live.image_to_view() {
                Some(p) => Reply::effects(vec![Effect::ViewLarge(p)]),
                None => Reply::message("no image yet"),
            },
            Action::NextTerm | Action::Layers | Action::Smooth => Reply::default(),
        }
    }

    /// Loss chart and progress on the left, image and parameters on the
    /// right; with no run, how to get one.
    pub fn draw(&self, theme: &Theme, frame: &mut Frame, area: Rect) {
        let Some(live) = &self.run else {
            return empty(
                frame,
                area,
                "No run yet: launch one from Experiments (Enter) or open one from Runs.",
            );
        };
        let [left, right] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
        let [chart_area, progress_area] = Layout::vertical([Constraint::Min(6), Constraint::Length(7)]).areas(left);
        // The parameters as tall as their lines, from 8 rows up to half the side.
        let params_h = panels::params_height(live, self.steer, theme, right.width).clamp(8, (right.height / 2).max(8));
        let [image_area, params_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(params_h)]).areas(right);
        panels::chart(live, self.smooth, self.per_layer, theme, frame, chart_area);
        panels::progress(live, theme, frame, progress_area);
        panels::image(live, theme, frame, image_area);
        panels::params(live, self.steer, theme, frame, params_area);
    }
}
