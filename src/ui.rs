//! The dashboard: `stylelab` (or `stylelab tui DIR`) on a terminal.
//!
//! The Elm Architecture: [`state::App`] holds everything, [`state::update`]
//! changes it in response to a [`state::Msg`] and returns effects, and
//! [`view::view`] draws it. Each view — [`experiments`], [`runs`],
//! [`live`], [`compare`] — owns its state, its table of keys ([`keys`]) and
//! its drawing; `state` and `view` dispatch to the current one. This
//! module is the runtime: it owns the
//! terminal, turns keys, timers and background work into messages, and
//! performs the effects.
//!
//! Runs launched here are separate `stylelab run` processes in their own
//! process group, so the optimisation never waits on the UI, a closed
//! dashboard (or a dropped SSH session) does not take them down, and the
//! dashboard talks to every run — its own or one it re-attached to — the
//! same way: it reads the run folder and appends to its control file.

pub mod compare;
pub mod effect;
pub mod experiments;
pub mod follow;
pub mod history;
pub mod keys;
pub mod live;
pub mod runs;
pub mod state;
pub mod tab;
pub mod theme;
pub mod times;
pub mod view;
pub mod widgets;

use crate::commands::show::show_large;
use anyhow::{Context, Result};
use compare::{CompareData, CompareRun};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use effect::Effect;
use experiments::ExperimentEntry;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use state::{App, Msg};
use std::io::{BufRead, BufReader, Read, Stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};
use stylelab_core::events::{Control, send_control};
use stylelab_core::review;

/// The dashboard's terminal: ratatui drawing through crossterm to stdout.
type Screen = Terminal<CrosstermBackend<Stdout>>;

/// Held while drawing, and by the signal thread while it puts the terminal
/// back and exits.
static SCREEN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// At most this many frames per second.
const FRAME: Duration = Duration::from_millis(33);
/// How often the Runs list is re-read.
const RUNS_EVERY: Duration = Duration::from_secs(2);
/// How often a followed run folder is looked at.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// How long the loop waits for a key when nothing needs drawing.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Whether colour is wanted (`NO_COLOR` set and non-empty turns it off).
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Takes over the terminal: raw mode, the alternate screen, mouse capture.
/// Undone by [`restore`].
fn enter() -> Result<Screen> {
    enable_raw_mode().context("cannot put the terminal in raw mode")?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    Ok(terminal)
}

/// Puts the terminal back: raw mode off, main screen, cursor shown. Safe to
/// call more than once and when the terminal is gone.
pub fn restore() {
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

/// Opens the dashboard on a project folder (with `experiments/` and `results/`).
pub fn run(project: &Path) -> Result<()> {
    let project = stylelab_core::config::absolute(project);
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous_hook(info);
    }));
    // SIGTERM, SIGHUP (SSH drop) and SIGINT end the dashboard from a thread
    // of their own: after a hang-up, a read of the terminal may never return
    // (crossterm spins on end-of-file), so the main loop cannot be relied on
    // to notice. The runs it launched carry on in their own process group.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Between frames: a draw finishing after this would undo it.
            let _frame = SCREEN.lock();
            restore();
            std::process::exit(128 + sig);
        }
    });
    let mut terminal = enter()?;
    let result = Runtime::new(project).and_then(|mut rt| rt.main_loop(&mut terminal));
    restore();
    result
}

/// The dashboard's outer loop: feeds keys and worker messages to
/// `state::update` and performs the effects it returns.
struct Runtime {
    /// The project folder, absolute: `experiments/` and `results/` are in it.
    project: PathBuf,
    /// Everything shown on screen.
    app: App,
    /// Worker threads send their results here; `rx` is read between frames.
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// Wakes the thread that re-reads the Runs list, for a refresh now.
    refresh_runs: Sender<()>,
    /// Set to stop the thread following the Live run, when another is followed.
    follow_stop: Option<Arc<AtomicBool>>,
}

impl Runtime {
    /// Starts the thread that lists runs every [`RUNS_EVERY`] (sending only
    /// lists that changed) and the first check of the experiments.
    fn new(project: PathBuf) -> Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (refresh_tx, refresh_rx) = mpsc::channel::<()>();
        let results = project.join("results");
        let runs_tx = tx.clone();
        std::thread::spawn(move || {
            // Only a list that changed is news: an idle dashboard redraws nothing.
            let mut last = None;
            loop {
                let runs = review::list_runs(&results);
                if last.as_ref() != Some(&runs) {
                    let values = review::sweeps::point_values(&results, &runs);
                    last = Some(runs.clone());
                    if runs_tx.send(Msg::Runs(runs)).is_err() || runs_tx.send(Msg::SweepValues(values)).is_err() {
                        return;
                    }
                }
                match refresh_rx.recv_timeout(RUNS_EVERY) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        let rt = Runtime {
            project,
            app: App::new(color_wanted()),
            tx,
            rx,
            refresh_runs: refresh_tx,
            follow_stop: None,
        };
        rt.validate();
        Ok(rt)
    }

    /// Until quit: takes waiting messages, redraws at most once a [`FRAME`]
    /// when something changed, and waits for keys and mouse events meanwhile.
    /// A key press clears the status-bar message.
    fn main_loop(&mut self, terminal: &mut Screen) -> Result<()> {
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        loop {
            while let Ok(msg) = self.rx.try_recv() {
                dirty = true;
                if self.dispatch(msg, terminal)? {
                    return Ok(());
                }
            }
            if dirty && last_draw.elapsed() >= FRAME {
                let _frame = SCREEN.lock();
                state::update(&mut self.app, Msg::Clock(chrono::Local::now().fixed_offset()));
                terminal.draw(|f| view::view(&self.app, f))?;
                last_draw = Instant::now();
                dirty = false;
            }
            // Wait for input: for the rest of the frame when a redraw is
            // due, else a while (messages from the workers wait that long).
            let wait = if dirty {
                FRAME.saturating_sub(last_draw.elapsed()).max(Duration::from_millis(5))
            } else {
                IDLE_WAIT
            };
            if event::poll(wait)? {
                while event::poll(Duration::ZERO)? {
                    let msg = match event::read()? {
                        Event::Key(k) if k.kind == KeyEventKind::Press => Msg::Key(k),
                        Event::Mouse(m) => Msg::Mouse(m),
                        Event::Resize(..) => Msg::Resize,
                        _ => continue,
                    };
                    dirty = true;
                    if self.dispatch(msg, terminal)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Updates the state and performs the effects; true when quitting.
    fn dispatch(&mut self, msg: Msg, terminal: &mut Screen) -> Result<bool> {
        for effect in state::update(&mut self.app, msg) {
            if self.perform(effect, terminal)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Carries out one effect; true when the dashboard should quit. Slow work
    /// (following, decoding, loading a comparison) goes to threads that
    /// answer with a [`Msg`]; editing and the large view leave the screen and
    /// take it back.
    fn perform(&mut self, effect: Effect, terminal: &mut Screen) -> Result<bool> {
        match effect {
            Effect::Launch(path) => self.launch(&path),
            Effect::LaunchSweep(path) => self.launch_sweep(&path),
            Effect::Control(dir, c) => {
                if let Err(e) = send_control(&dir, c) {
                    self.notice(format!("cannot write to {}: {e}", dir.display()));
                }
            }
            Effect::Follow { dir, follow_id } => {
                if let Some(stop) = self.follow_stop.take() {
                    stop.store(true, Ordering::SeqCst);
                }
                let stop = Arc::new(AtomicBool::new(false));
                self.follow_stop = Some(stop.clone());
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    follow::follow(&dir, &stop, FOLLOW_EVERY, &|update| {
                        tx.send(Msg::Live { follow_id, update }).is_ok()
                    })
                });
            }
            Effect::Edit(path) => {
                let editor = std::env::var("VISUAL")
                    .or_else(|_| std::env::var("EDITOR"))
                    .unwrap_or_else(|_| "vi".into());
                restore();
                let status = Command::new("sh")
                    .arg("-c")
                    .arg(format!("{editor} \"$0\""))
                    .arg(&path)
                    .status();
                *terminal = enter()?;
                terminal.clear()?;
                if let Err(e) = status {
                    self.notice(format!("cannot run {editor}: {e}"));
                }
                self.validate();
            }
            Effect::ViewLarge(path) => {
                restore();
                let shown = show_large(&path);
                *terminal = enter()?;
                terminal.clear()?;
                if let Err(e) = shown {
                    self.notice(format!("cannot show {}: {e}", path.display()));
                }
            }
            Effect::LoadImage { follow_id, iter, path } => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    if let Some(image) = follow::load_image(&path) {
                        let _ = tx.send(Msg::Image { follow_id, iter, image });
                    }
                });
            }
            Effect::LoadCompare(dirs) => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(Msg::Compare(Box::new(load_compare(&dirs))));
                });
            }
            Effect::RefreshRuns => {
                let _ = self.refresh_runs.send(());
            }
            Effect::Validate => self.validate(),
            Effect::Quit { stop_launched } => {
                if stop_launched {
                    self.stop_launched(terminal)?;
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Puts a line in the status bar (through `update`, like every change).
    fn notice(&mut self, text: String) {
        state::update(&mut self.app, Msg::Notice(text));
    }

    /// Checks every experiment on a background thread, one message per pass.
    fn validate(&self) {
        let dir = self.project.join("experiments");
        let paths = stylelab_core::files::with_extension(&dir, "toml");
        let pending: Vec<ExperimentEntry> = paths
            .iter()
            .map(|p| ExperimentEntry {
                path: p.clone(),
                check: None,
                sweep_points: None,
            })
            .collect();
        let _ = self.tx.send(Msg::Experiments(pending));
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let checked = paths
                .into_iter()
                .map(|path| {
                    let sweep_points = stylelab_core::config::load(&path, &[])
                        .ok()
                        .and_then(|e| e.sweep)
                        .and_then(|t| stylelab_core::config::sweep::SweepSpec::expand(&t).ok())
                        .map(|spec| spec.points.len());
                    ExperimentEntry {
                        check: Some(crate::check::describe(&path)),
                        path,
                        sweep_points,
                    }
                })
                .collect();
            let _ = tx.send(Msg::Experiments(checked));
        });
    }

    /// This binary with `args`, from the project folder, in its own process
    /// group (a Ctrl-C here does not reach it), stdin closed, stderr piped;
    /// None, with a notice naming `what`, when it cannot start.
    fn spawn_stylelab(&mut self, args: &[&std::ffi::OsStr], stdout: Stdio, what: &str) -> Option<std::process::Child> {
        use std::os::unix::process::CommandExt;
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                self.notice(format!("cannot find the stylelab binary: {e}"));
                return None;
            }
        };
        let child = Command::new(exe)
            .args(args)
            .current_dir(&self.project)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        match child {
            Ok(c) => Some(c),
            Err(e) => {
                self.notice(format!("cannot start {what}: {e}"));
                None
            }
        }
    }

    /// Starts `stylelab run EXP` in its own process group; its folder comes
    /// back as a message.
    fn launch(&mut self, experiment: &Path) {
        let args = ["run".as_ref(), experiment.as_os_str(), "--print-dir".as_ref()];
        let Some(mut child) = self.spawn_stylelab(&args, Stdio::piped(), "a run") else {
            return;
        };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let stdout = child.stdout.take().expect("piped");
            let mut stderr = child.stderr.take().expect("piped");
            let err_thread = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = stderr.read_to_string(&mut s);
                s
            });
            let mut announced = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(dir) = line.strip_prefix(stylelab_core::record::RUN_DIR_PREFIX) {
                    announced = true;
                    let _ = tx.send(Msg::Launched(PathBuf::from(dir)));
                }
            }
            let _ = child.wait();
            let err = err_thread.join().unwrap_or_default();
            if !announced {
                let msg = err
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("the run exited before starting")
                    .to_string();
                let _ = tx.send(Msg::LaunchFailed(msg));
            }
        });
    }

    /// Starts `stylelab sweep EXP` in its own process group: its points are
    /// ordinary runs, listed in Runs as they start. Its output goes to
    /// nothing; when it fails, its error's last line comes back as a message.
    fn launch_sweep(&mut self, experiment: &Path) {
        let args = ["sweep".as_ref(), experiment.as_os_str()];
        let Some(mut child) = self.spawn_stylelab(&args, Stdio::null(), "the sweep") else {
            return;
        };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            let failed = child.wait().map(|s| !s.success()).unwrap_or(true);
            if failed && let Some(line) = err.lines().rev().find(|l| !l.trim().is_empty()) {
                let _ = tx.send(Msg::LaunchFailed(format!("the sweep stopped: {}", line.trim())));
            }
        });
    }

    /// Asks every run launched here to stop and waits for them to say so.
    fn stop_launched(&mut self, terminal: &mut Screen) -> Result<()> {
        let dirs: Vec<PathBuf> = self.app.launched.clone();
        for d in &dirs {
            let _ = send_control(d, Control::Stop);
        }
        state::update(&mut self.app, Msg::Quitting);
        state::update(&mut self.app, Msg::Clock(chrono::Local::now().fixed_offset()));
        terminal.draw(|f| view::view(&self.app, f))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let going = dirs.iter().any(|d| review::load_entry(d).state.is_going());
            if !going {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// Loads what the Compare view shows for a set of runs (the same
/// comparison `stylelab compare` prints).
pub fn load_compare(dirs: &[PathBuf]) -> CompareData {
    let cmp = review::Comparison::load(dirs);
    let runs = cmp
        .runs
        .iter()
        .map(|r| {
            let mut history = history::History::new(history::HISTORY_POINTS);
            for row in &r.rows {
                history.push(row);
            }
            CompareRun {
                name: r.name.clone(),
                history,
                image: follow::load_image(&stylelab_core::record::RunPaths::new(&r.dir).final_image()),
            }
        })
        .collect();
    let tradeoff = cmp
        .runs
        .iter()
        .map(|r| {
            r.entry
                .scores()
                .map_or((f64::NAN, f64::NAN), |s| (s.content_dist, s.style_dist))
        })
        .collect();
    CompareData {
        tradeoff,
        ..CompareData::new(runs, cmp.diff)
    }
}
