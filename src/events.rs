//! Plain-data messages between the engine and everything that watches or
//! steers it. No tensor crosses these: images travel as RGB bytes.

use crate::record::{MetricsHeader, RunPaths, StepMetrics, Summary};
use image::RgbImage;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub name: String,
    pub dir: PathBuf,
    pub device: String,
    pub iterations: u64,
    pub width: u32,
    pub height: u32,
    pub header: MetricsHeader,
    /// `relu4_2 ×1`, one line per selected layer, for display.
    pub content_layers: Vec<(String, f64)>,
    pub style_layers: Vec<(String, f64)>,
    pub optimizer: String,
    /// The summary as it stands at the start (status `running`).
    pub summary: Summary,
}

/// Which loss weight a steering command changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Content,
    Style,
    Tv,
}

impl Term {
    pub const ALL: [Term; 3] = [Term::Content, Term::Style, Term::Tv];

    pub fn name(self) -> &'static str {
        match self {
            Term::Content => "content_weight",
            Term::Style => "style_weight",
            Term::Tv => "tv_weight",
        }
    }
}

/// What the engine reports.
#[derive(Debug, Clone)]
pub enum RunEvent {
    Started(Box<RunInfo>),
    /// A metrics row (step 0 is the initial image).
    Step(StepMetrics),
    /// The current image at a step (periodic, or asked for).
    Snapshot {
        iter: u64,
        image: Arc<RgbImage>,
    },
    /// A loss weight changed while running; takes effect from `iter + 1`.
    Steered {
        iter: u64,
        term: Term,
        from: f64,
        to: f64,
    },
    Paused {
        iter: u64,
        paused: bool,
    },
    /// The run ended; `image` is the final (last finite) image.
    Finished {
        summary: Box<Summary>,
        image: Option<Arc<RgbImage>>,
    },
}

/// What the engine can be told between steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    Pause,
    Resume,
    Stop,
    SnapshotNow,
    /// Multiply a loss weight by a factor.
    Scale(Term, f64),
}

impl Control {
    /// The control file's line for this command.
    pub fn to_line(self) -> String {
        match self {
            Control::Pause => "pause".into(),
            Control::Resume => "resume".into(),
            Control::Stop => "stop".into(),
            Control::SnapshotNow => "snapshot".into(),
            Control::Scale(term, f) => format!("scale {} {f}", term.name()),
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
            "scale" => {
                let name = words.next()?;
                let term = Term::ALL.into_iter().find(|t| t.name() == name)?;
                let factor: f64 = words.next()?.parse().ok()?;
                if !(factor.is_finite() && factor > 0.0) {
                    return None;
                }
                Control::Scale(term, factor)
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
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(RunPaths::new(run_dir).control())?;
    writeln!(f, "{}", control.to_line())
}

/// Reads commands appended to a run's control file since the last look.
pub struct ControlFile {
    path: PathBuf,
    offset: u64,
}

impl ControlFile {
    pub fn new(path: PathBuf) -> Self {
        ControlFile { path, offset: 0 }
    }

    /// New complete lines, parsed; a length check when nothing changed.
    pub fn poll(&mut self) -> Vec<Control> {
        use std::io::{Read, Seek, SeekFrom};
        let len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if len <= self.offset {
            return Vec::new();
        }
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset))
            .and_then(|_| f.read_to_end(&mut buf))
            .is_err()
        {
            return Vec::new();
        }
        // Only whole lines: a writer may be half-way through one.
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        self.offset += end as u64 + 1;
        String::from_utf8_lossy(&buf[..end])
            .lines()
            .filter_map(Control::parse)
            .collect()
    }
}

/// The engine's inbox: a channel from a dashboard in this process, the run
/// folder's control file (a dashboard in another process), and a flag set
/// by signal handlers (Ctrl-C, SIGTERM).
pub struct Controls {
    pub rx: Option<Receiver<Control>>,
    pub file: Option<RefCell<ControlFile>>,
    pub stop: Arc<AtomicBool>,
}

impl Controls {
    /// Only a stop flag.
    pub fn with_flag(stop: Arc<AtomicBool>) -> Self {
        Controls {
            rx: None,
            file: None,
            stop,
        }
    }

    /// A stop flag and the run folder's control file (headless runs).
    pub fn for_run(stop: Arc<AtomicBool>, run_dir: &Path) -> Self {
        Controls {
            rx: None,
            file: Some(RefCell::new(ControlFile::new(RunPaths::new(run_dir).control()))),
            stop,
        }
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Messages waiting now, without blocking.
    pub fn drain(&self) -> Vec<Control> {
        let mut out = Vec::new();
        if let Some(rx) = &self.rx {
            while let Ok(c) = rx.try_recv() {
                out.push(c);
            }
        }
        if let Some(file) = &self.file {
            out.extend(file.borrow_mut().poll());
        }
        if self.stop_requested() {
            out.push(Control::Stop);
        }
        out
    }

    /// Waits up to `timeout` for a message (used while paused).
    pub fn wait(&self, timeout: Duration) -> Option<Control> {
        if self.stop_requested() {
            return Some(Control::Stop);
        }
        if let Some(c) = self
            .file
            .as_ref()
            .and_then(|f| f.borrow_mut().poll().into_iter().next())
        {
            return Some(c);
        }
        match &self.rx {
            Some(rx) => match rx.recv_timeout(timeout) {
                Ok(c) => Some(c),
                // The controller went away: nobody can resume us, so stop.
                Err(RecvTimeoutError::Disconnected) => Some(Control::Stop),
                Err(RecvTimeoutError::Timeout) => None,
            },
            None => {
                std::thread::sleep(timeout);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn control_lines_round_trip() {
        for c in [
            Control::Pause,
            Control::Resume,
            Control::Stop,
            Control::SnapshotNow,
            Control::Scale(Term::Style, 0.5),
        ] {
            assert_eq!(Control::parse(&c.to_line()), Some(c));
        }
        assert_eq!(
            Control::parse("scale style_weight 2"),
            Some(Control::Scale(Term::Style, 2.0))
        );
        for bad in ["", "jump", "scale style_weight -1", "scale gloss 2", "stop now"] {
            assert_eq!(Control::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_control_file_yields_each_whole_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ControlFile::new(RunPaths::new(dir.path()).control());
        assert!(file.poll().is_empty());
        send_control(dir.path(), Control::Pause).unwrap();
        send_control(dir.path(), Control::Scale(Term::Tv, 2.0)).unwrap();
        assert_eq!(file.poll(), vec![Control::Pause, Control::Scale(Term::Tv, 2.0)]);
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
