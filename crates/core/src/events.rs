//! Plain-data messages between the engine and everything that watches or
//! steers it: [`RunEvent`]s go from the engine to its sinks, [`Control`]s
//! come back through the run folder's control file (from a dashboard in any
//! process) or a signal handler's flag. No tensor crosses these: images
//! travel as RGB bytes.

pub use crate::record::Term;
use crate::record::{MetricsHeader, RunPaths, StepMetrics, Summary, Tail};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The experiment's name.
    pub name: String,
    /// The run folder.
    pub dir: PathBuf,
    /// The device in words, as the summary records it.
    pub device: String,
    /// Steps planned over all scales.
    pub iterations: u64,
    /// The output's size at the last scale, px.
    pub width: u32,
    pub height: u32,
    /// The metrics file's columns: which per-layer values each row carries.
    pub header: MetricsHeader,
    /// `relu4_2 ×1`, one line per selected layer, for display.
    pub content_layers: Vec<(String, f64)>,
    /// Likewise for the style term.
    pub style_layers: Vec<(String, f64)>,
    /// The optimizer and its settings in words, e.g. `lbfgs (history 100, lr 1, projected two-loop, spectral preconditioner),
    /// the image kept in [0, 1]`.
    pub optimizer: String,
    /// The summary as it stands at the start (status `running`).
    pub summary: Summary,
}

/// What the engine reports.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// Images, network and targets are ready; the starting image is evaluated next.
    Started(Box<RunInfo>),
    /// A metrics row (step 0 is the initial image).
    Step(StepMetrics),
    /// The current image at a step (periodic, or asked for).
    Snapshot { iter: u64, image: Arc<RgbImage> },
    /// A loss weight changed while running; takes effect from `iter + 1`.
    Steered { iter: u64, term: Term, from: f64, to: f64 },
    /// The run paused (`paused`) or resumed at step `iter`.
    Paused { iter: u64, paused: bool },
    /// A command came that the run did not carry out: `what` says which and why.
    Refused { iter: u64, what: String },
    /// Something the run could not do that does not fail it (scoring the
    /// result, mostly), in words.
    Warning(String),
    /// A multi-scale run moved to scale `index` of `count` (1-based) after
    /// step `iter`.
    Scale {
        iter: u64,
        index: usize,
        count: usize,
        width: u32,
        height: u32,
    },
    /// How far an evaluation that takes a while (a tiled one) has got:
    /// sent tile by tile, at most twice a second, never for a one-pass
    /// evaluation.
    Evaluating(EvalProgress),
    /// The whole text behind a failure's one-line message (libtorch's C++
    /// backtrace): for the run folder's debug log, not the console.
    Debug(String),
    /// The run ended; `image` is the final (last finite) image.
    Finished {
        summary: Box<Summary>,
        image: Option<Arc<RgbImage>>,
    },
}

/// How far a tiled evaluation has got: `done` of `tiles` tiles of pass
/// `pass` (1: the statistics, without gradients; 2: the gradient), in the
/// evaluation that follows step `iter`. The run folder keeps the latest in
/// its `progress` file, one line ([`EvalProgress::line`]), while the
/// evaluation lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalProgress {
    /// Steps taken before this evaluation.
    pub iter: u64,
    /// 1 or 2 (of [`EvalProgress::PASSES`]).
    pub pass: u8,
    /// Tiles of this pass done.
    pub done: u32,
    /// Tiles in a pass.
    pub tiles: u32,
}

impl EvalProgress {
    /// A tiled evaluation's passes.
    pub const PASSES: u8 = 2;

    /// The `progress` file's line: `after step 3: pass 2/2, tile 12/24`.
    pub fn line(&self) -> String {
        format!(
            "after step {}: pass {}/{}, tile {}/{}",
            self.iter,
            self.pass,
            Self::PASSES,
            self.done,
            self.tiles
        )
    }

    /// Reads [`EvalProgress::line`] back; None for anything else (a
    /// half-written or foreign file).
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.trim_end_matches('\n').strip_prefix("after step ")?;
        let (iter, rest) = rest.split_once(": pass ")?;
        let (pass, rest) = rest.split_once('/')?;
        let (passes, rest) = rest.split_once(", tile ")?;
        let (done, tiles) = rest.split_once('/')?;
        let p = EvalProgress {
            iter: iter.parse().ok()?,
            pass: pass.parse().ok()?,
            done: done.parse().ok()?,
            tiles: tiles.parse().ok()?,
        };
        let sane = passes == Self::PASSES.to_string()
            && (1..=Self::PASSES).contains(&p.pass)
            && p.tiles > 0
            && p.done <= p.tiles;
        sane.then_some(p)
    }

    /// In words, for a person: `tile 12 of 24, pass 2 of 2`.
    pub fn words(&self) -> String {
        format!(
            "tile {} of {}, pass {} of {}",
            self.done,
            self.tiles,
            self.pass,
            Self::PASSES
        )
    }
}

/// What the engine can be told between steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// Wait between steps until `resume` or `stop`; the run's clock stops meanwhile.
    Pause,
    /// End a pause; ignored when not paused.
    Resume,
    /// End the run after the current step; it is recorded as stopped, its files kept.
    Stop,
    /// Write a snapshot of the current image now.
    SnapshotNow,
    /// Multiply a loss weight by a factor in [`STEER_FACTORS`].
    Steer(Term, f64),
}

/// The factors a `scale` command may multiply a weight by: steering nudges,
/// it does not replace a weight with 1e308.
pub const STEER_FACTORS: std::ops::RangeInclusive<f64> = 1e-6..=1e6;

/// Longest control-file line read; a longer one is skipped unread.
pub const MAX_CONTROL_LINE: usize = 4096;

impl Control {
    /// The control file's line for this command.
    pub fn to_line(self) -> String {
        match self {
            Control::Pause => "pause".into(),
            Control::Resume => "resume".into(),
            Control::Stop => "stop".into(),
            Control::SnapshotNow => "snapshot".into(),
            Control::Steer(term, f) => format!("multiply {} {f}", term.weight_key()),
        }
    }

    /// Parses a control file line; None for anything else.
    pub fn parse(line: &str) -> Option<Control> {
        let mut words = line.split_whitespace();
        let c = match words.next()? {
            "pause" => Control::Pause,
            "resume" => Control::Resume,
            "stop" => Control::Stop,
            "snapshot" => Control::SnapshotNow,
            // `scale` is what dashboards before 0.1.0's last changes wrote.
            "multiply" | "scale" => {
                let name = words.next()?;
                let term = Term::ALL.into_iter().find(|t| t.weight_key() == name)?;
                let factor: f64 = words.next()?.parse().ok()?;
                if !STEER_FACTORS.contains(&factor) {
                    return None;
                }
                Control::Steer(term, factor)
            }
            _ => return None,
        };
        words.next().is_none().then_some(c)
    }
}

/// Appends a command to a run folder's control file, for the engine that
/// runs it (in this process or another) to pick up between steps.
pub fn send_control(run_dir: &Path, control: Control) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::files::append_no_follow(&RunPaths::new(run_dir).control())?;
    writeln!(f, "{}", control.to_line())
}

/// Reads commands appended to a run's control file since the last look.
pub struct ControlFile(Tail);

impl ControlFile {
    /// Follows the control file at `path` from its start; it need not exist
    /// yet. Lines over [`MAX_CONTROL_LINE`] bytes are skipped without being held.
    pub fn new(path: PathBuf) -> Self {
        ControlFile(Tail::with_max_line(path, MAX_CONTROL_LINE))
    }

    /// New complete lines, parsed; lines that are not commands are skipped.
    pub fn poll(&mut self) -> Vec<Control> {
        self.0.new_lines().iter().filter_map(|l| Control::parse(l)).collect()
    }
}

/// The engine's inbox: the run folder's control file (a dashboard in this
/// or another process writes it) and a flag set by signal handlers
/// (Ctrl-C, SIGTERM). The engine alone reads it, between steps.
pub struct Controls {
    /// The run folder's control file; None when only signals can stop the run.
    file: Option<ControlFile>,
    /// Set by a signal handler: stop at the next step.
    stop: Arc<AtomicBool>,
}

impl Controls {
    /// Only a stop flag.
    pub fn with_flag(stop: Arc<AtomicBool>) -> Self {
        Controls { file: None, stop }
    }

    /// A stop flag and the run folder's control file (headless runs).
    pub fn for_run(stop: Arc<AtomicBool>, run_dir: &Path) -> Self {
        Controls {
            file: Some(ControlFile::new(RunPaths::new(run_dir).control())),
            stop,
        }
    }

    /// The run folder, when it no longer exists (removed under a run that
    /// waits, paused, and so writes nothing that would notice).
    pub fn folder_gone(&self) -> Option<PathBuf> {
        let dir = self.file.as_ref()?.0.path().parent()?;
        std::fs::symlink_metadata(dir)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            .then(|| dir.to_path_buf())
    }

    /// Whether the stop flag has been set.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Messages waiting now, oldest first, without blocking.
    pub fn drain(&mut self) -> Vec<Control> {
        let mut out = self.file.as_mut().map(ControlFile::poll).unwrap_or_default();
        if self.stop_requested() {
            out.push(Control::Stop);
        }
        out
    }

    /// The messages waiting now; when there are none, sleeps `timeout` and
    /// looks once more (used while paused).
    pub fn wait(&mut self, timeout: Duration) -> Vec<Control> {
        let now = self.drain();
        if !now.is_empty() {
            return now;
        }
        std::thread::sleep(timeout);
        self.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn progress_lines_round_trip_and_foreign_ones_are_refused() {
        let p = EvalProgress {
            iter: 3,
            pass: 2,
            done: 12,
            tiles: 24,
        };
        assert_eq!(p.line(), "after step 3: pass 2/2, tile 12/24");
        assert_eq!(EvalProgress::parse(&p.line()), Some(p));
        assert_eq!(EvalProgress::parse(&(p.line() + "\n")), Some(p));
        assert_eq!(p.words(), "tile 12 of 24, pass 2 of 2");
        for bad in [
            "",
            "after step 3: pass 3/2, tile 1/24",
            "after step 3: pass 0/2, tile 1/24",
            "after step 3: pass 1/3, tile 1/24",
            "after step 3: pass 1/2, tile 25/24",
            "after step 3: pass 1/2, tile 0/0",
            "after step -1: pass 1/2, tile 1/2",
            "after step 3: pass 1/2, tile 1/2 \x1b[2J",
            "after step 3: pass 1/2, tile 1",
        ] {
            assert_eq!(EvalProgress::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn control_lines_round_trip() {
        for c in [
            Control::Pause,
            Control::Resume,
            Control::Stop,
            Control::SnapshotNow,
            Control::Steer(Term::Style, 0.5),
        ] {
            assert_eq!(Control::parse(&c.to_line()), Some(c));
        }
        assert_eq!(
            Control::parse("scale style_weight 2"),
            Some(Control::Steer(Term::Style, 2.0))
        );
        for bad in [
            "",
            "jump",
            "scale style_weight -1",
            "scale gloss 2",
            "stop now",
            "scale style_weight 1e308",
            "scale style_weight 1e-320",
            "scale style_weight inf",
            "scale style_weight NaN",
        ] {
            assert_eq!(Control::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_control_file_yields_each_whole_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ControlFile::new(RunPaths::new(dir.path()).control());
        assert!(file.poll().is_empty());
        send_control(dir.path(), Control::Pause).unwrap();
        send_control(dir.path(), Control::Steer(Term::Tv, 2.0)).unwrap();
        assert_eq!(file.poll(), vec![Control::Pause, Control::Steer(Term::Tv, 2.0)]);
        assert!(file.poll().is_empty());
        // A half-written line waits for its newline.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("control"))
            .unwrap()
            .write_all(b"res")
            .unwrap();
        assert!(file.poll().is_empty());
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("control"))
            .unwrap()
            .write_all(b"ume\n")
            .unwrap();
        assert_eq!(file.poll(), vec![Control::Resume]);
    }
}
