//! The dashboard's state and its one `update` function (the Elm
//! Architecture). [`App`] holds only what the views share — the tab, the
//! dialogs, the runs launched here, the clock — and one state per view;
//! `update` answers the global keys and hands the rest to the current
//! view. Everything that touches the outside world — launching a run,
//! writing a control line, opening an editor — is returned as an
//! [`Effect`] for the runtime to perform, so `update` stays testable.

use super::compare::{CompareData, CompareView};
use super::effect::{Effect, Reply};
use super::experiments::{ExperimentEntry, ExperimentsView};
use super::follow::LiveUpdate;
use super::keys::{Binding, Key, Keymap};
use super::live::LiveView;
use super::live::run::Live;
use super::runs::RunsView;
use super::tab::Tab;
use super::widgets::DisplayImage;
use chrono::{DateTime, FixedOffset};
use crossterm::event::{KeyCode, KeyEvent, MouseEvent, MouseEventKind};
use std::path::PathBuf;
use std::sync::Arc;
use stylelab_core::review::{RunEntry, RunState};

/// A question that needs an answer before anything else.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Quitting while runs launched here are going: how many, and how
    /// many of them are paused (left running, they stay paused).
    Quit { running: usize, paused: usize },
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
    SweepValues(stylelab_core::review::sweeps::SweepValues),
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

/// What a key does in every view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// Quit (asking first while runs launched here are going).
    Quit,
    /// Open the help overlay.
    Help,
    /// Show the tab this many places along the bar.
    Step(isize),
    /// Show this tab.
    Show(Tab),
}

/// The keys every view shares; they come before the view's own.
pub const GLOBAL_KEYS: &[Binding<Global, ()>] = &[
    Binding {
        keys: &[
            (Key::code(KeyCode::Tab), Global::Step(1)),
            (Key::code(KeyCode::BackTab), Global::Step(-1)),
        ],
        when: (),
        footer: None,
        help: Some("next / previous view"),
    },
    Binding {
        keys: &[
            (Key::char('1'), Global::Show(Tab::Experiments)),
            (Key::char('2'), Global::Show(Tab::Runs)),
            (Key::char('3'), Global::Show(Tab::Live)),
            (Key::char('4'), Global::Show(Tab::Compare)),
        ],
        when: (),
        footer: None,
        help: Some("show that view"),
    },
    Binding {
        keys: &[(Key::char('?'), Global::Help)],
        when: (),
        footer: None,
        help: Some("this help (any key closes it)"),
    },
    Binding {
        keys: &[(Key::char('q'), Global::Quit), (Key::ctrl('c'), Global::Quit)],
        when: (),
        footer: None,
        help: Some("quit (asks first while runs go on)"),
    },
];

/// An answer to the quit prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuitAnswer {
    /// Stop the runs launched here, then quit.
    Stop,
    /// Quit and leave them running, detached.
    Detach,
    /// Close the prompt.
    Cancel,
}

/// The quit prompt's keys: its handler and its lines both read them.
/// Ctrl-C comes before `c`, which a plain binding would match with Ctrl
/// held too.
pub const QUIT_KEYS: &[Binding<QuitAnswer, ()>] = &[
    Binding {
        keys: &[(Key::char('s'), QuitAnswer::Stop), (Key::ctrl('c'), QuitAnswer::Stop)],
        when: (),
        footer: None,
        help: Some("stop them (status stopped, files kept), then quit"),
    },
    Binding {
        keys: &[(Key::char('d'), QuitAnswer::Detach)],
        when: (),
        footer: None,
        help: Some("leave them running detached (re-attach from Runs)"),
    },
    Binding {
        keys: &[
            (Key::code(KeyCode::Esc), QuitAnswer::Cancel),
            (Key::char('c'), QuitAnswer::Cancel),
        ],
        when: (),
        footer: None,
        help: Some("cancel"),
    },
];

/// Everything the dashboard shows and remembers between frames.
pub struct App {
    /// The tab shown.
    pub tab: Tab,
    /// The Experiments view.
    pub experiments: ExperimentsView,
    /// The Runs view.
    pub runs: RunsView,
    /// The Live view: the run followed, if any.
    pub live: LiveView,
    /// The Compare view: the runs compared, if any have been loaded.
    pub compare: CompareView,
    /// The help overlay is open; the next key closes it.
    pub help: bool,
    /// A question on screen; keys answer it until it is closed.
    pub prompt: Option<Prompt>,
    /// A line for the status bar.
    pub message: Option<String>,
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

impl Keymap for App {
    type Action = Global;
    type When = ();
    const KEYS: &'static [Binding<Global, ()>] = GLOBAL_KEYS;

    fn holds(&self, (): ()) -> bool {
        true
    }
}

impl App {
    /// A dashboard on the Experiments tab with nothing loaded yet.
    pub fn new(color: bool) -> Self {
        App {
            tab: Tab::Experiments,
            experiments: ExperimentsView::default(),
            runs: RunsView::default(),
            live: LiveView::default(),
            compare: CompareView::default(),
            help: false,
            prompt: None,
            message: None,
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
                if let Some(live) = self.live.run.as_ref().filter(|l| &l.dir == *d && l.summary.is_some()) {
                    return live.is_running();
                }
                match self.runs.entries.iter().find(|r| &r.dir == *d) {
                    // No summary yet: still starting.
                    Some(r) => r.state.is_going() || matches!(r.state, RunState::Broken(_)),
                    // Not listed yet: just launched.
                    None => true,
                }
            })
            .count()
    }

    /// Runs launched here that are paused.
    pub fn launched_paused(&self) -> usize {
        self.launched
            .iter()
            .filter(
                |d| match self.live.run.as_ref().filter(|l| &l.dir == *d && l.summary.is_some()) {
                    Some(live) => live.is_running() && live.paused,
                    None => self
                        .runs
                        .entries
                        .iter()
                        .any(|r| &r.dir == *d && r.state == RunState::Paused),
                },
            )
            .count()
    }

    /// Opens `dir` in the Live tab under a fresh follow id and asks the
    /// runtime to follow it; the previous follow's updates will be dropped.
    fn follow(&mut self, dir: PathBuf, launched_here: bool) -> Effect {
        let follow_id = self.next_follow;
        self.next_follow += 1;
        self.live.run = Some(Live::new(dir.clone(), follow_id, launched_here));
        self.tab = Tab::Live;
        Effect::Follow { dir, follow_id }
    }

    /// Carries out what a view's reply asks of the dashboard; its effects.
    fn apply(&mut self, reply: Reply) -> Vec<Effect> {
        if let Some(m) = reply.message {
            self.message = Some(m);
        }
        if let Some(tab) = reply.tab {
            self.tab = tab;
        }
        let mut effects = Vec::new();
        if let Some(dir) = reply.follow {
            let here = self.launched.contains(&dir);
            effects.push(self.follow(dir, here));
        }
        effects.extend(reply.effects);
        effects
    }
}

/// The one place where state changes: every change is an answer to a message.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => {
            app.message = None;
            return on_key(app, key);
        }
        Msg::Clock(now) => app.now = now,
        Msg::Notice(text) => app.message = Some(text),
        Msg::Quitting => {
            app.prompt = None;
            app.message = Some("stopping the runs started here…".into());
        }
        Msg::Mouse(m) => on_mouse(app, m),
        Msg::Resize => {}
        Msg::Experiments(list) => app.experiments.set(list),
        Msg::Runs(list) => app.runs.set(list),
        Msg::SweepValues(values) => {
            app.runs.sweep_values = values.by_run;
            app.runs.sweep_settings = values.settings;
        }
        Msg::Launched(dir) => {
            app.message = Some(format!("launched {}", dir.display()));
            app.launched.push(dir.clone());
            return vec![app.follow(dir, true), Effect::RefreshRuns];
        }
        Msg::LaunchFailed(e) => app.message = Some(e),
        Msg::Live { follow_id, update } => {
            if app.live.apply(follow_id, update) {
                return vec![Effect::RefreshRuns];
            }
        }
        Msg::Image { follow_id, iter, image } => app.live.show_image(follow_id, iter, image),
        Msg::Compare(data) => {
            app.compare.data = Some(*data);
            app.tab = Tab::Compare;
        }
    }
    Vec::new()
}

/// Wheel scrolls the Experiments and Runs lists; a click on the tab bar switches tab.
fn on_mouse(app: &mut App, m: MouseEvent) {
    let down = match m.kind {
        MouseEventKind::ScrollDown => true,
        MouseEventKind::ScrollUp => false,
        MouseEventKind::Down(_) if m.row == 0 => {
            if let Some(i) = super::widgets::tab_at(&Tab::TITLES, m.column) {
                app.tab = Tab::ALL[i];
            }
            return;
        }
        _ => return,
    };
    match app.tab {
        Tab::Experiments => app.experiments.step(down),
        Tab::Runs => app.runs.step(down),
        _ => {}
    }
}

/// Keys in priority order: an open prompt, then the help overlay, then
/// the global keys ([`GLOBAL_KEYS`]), then the current view's own table.
/// Quitting with runs launched here still going asks first.
fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(Prompt::Quit { .. }) = app.prompt {
        return match crate::ui::keys::lookup(QUIT_KEYS, &key) {
            Some(QuitAnswer::Stop) => vec![Effect::Quit { stop_launched: true }],
            Some(QuitAnswer::Detach) => vec![Effect::Quit { stop_launched: false }],
            Some(QuitAnswer::Cancel) => {
                app.prompt = None;
                Vec::new()
            }
            None => Vec::new(),
        };
    }
    if app.help {
        app.help = false;
        return Vec::new();
    }
    match app.action(&key) {
        Some(Global::Quit) => {
            let running = app.launched_running();
            if running > 0 {
                let paused = app.launched_paused();
                app.prompt = Some(Prompt::Quit { running, paused });
                return Vec::new();
            }
            return vec![Effect::Quit { stop_launched: false }];
        }
        Some(Global::Help) => app.help = true,
        Some(Global::Step(step)) => app.tab = app.tab.step(step),
        Some(Global::Show(tab)) => app.tab = tab,
        None => {
            let reply = match app.tab {
                Tab::Experiments => app.experiments.key(&key),
                Tab::Runs => app.runs.key(&key),
                Tab::Live => app.live.key(&key),
                Tab::Compare => app.compare.key(&key),
            };
            return app.apply(reply);
        }
    }
    Vec::new()
}
