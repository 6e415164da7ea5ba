//! Plain-data messages between the engine and everything that watches or
//! steers it. No tensor crosses these: images travel as RGB bytes.

use crate::record::{MetricsHeader, StepMetrics, Summary};
use image::RgbImage;
use std::path::PathBuf;
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

/// The engine's inbox: a channel from a dashboard, and a flag set by
/// signal handlers (Ctrl-C, SIGTERM).
pub struct Controls {
    pub rx: Option<Receiver<Control>>,
    pub stop: Arc<AtomicBool>,
}

impl Controls {
    /// Only a stop flag (headless runs).
    pub fn with_flag(stop: Arc<AtomicBool>) -> Self {
        Controls { rx: None, stop }
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
