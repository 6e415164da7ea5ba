//! Where a run's events go. The engine hands every event to one [`Sink`];
//! [`Tee`] fans out to the run folder and the console. The dashboard is not
//! a sink: it follows the run folder, from this process or any other.
//!
//! Pipeline position: after `events`, before the run folder. Sinks run on
//! the engine's thread, called between steps, so a slow sink slows the run.

mod run_dir;

pub use run_dir::{RunDirSink, create_run_dir};

use crate::events::RunEvent;
use crate::record::LogEvent;

/// A consumer of run events. An error stops the run (status `failed`), so
/// only sinks whose loss loses results (the run folder) should return one.
pub trait Sink {
    /// Takes one event, in the order the engine emits them. `Finished` always
    /// comes, and last; `Started` comes first unless the run failed in setup
    /// (loading images and weights, computing targets), in which case only
    /// `Finished` comes.
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()>;
}

/// Sends every event to several sinks, in order; the first error wins.
/// Every sink still sees every event, even after an earlier one failed.
#[derive(Default)]
pub struct Tee<'a> {
    sinks: Vec<&'a mut dyn Sink>,
}

impl<'a> Tee<'a> {
    /// A tee with no sinks, which accepts every event.
    pub fn new() -> Self {
        Tee { sinks: Vec::new() }
    }
    /// Adds a sink after those already there.
    pub fn with(mut self, sink: &'a mut dyn Sink) -> Self {
        self.sinks.push(sink);
        self
    }
}

impl Sink for Tee<'_> {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        let mut first_error = None;
        for sink in &mut self.sinks {
            if let Err(e) = sink.handle(event) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The events.log line of an event that is one line there and nothing
/// else (steering, pauses, warnings, refusals, scale changes): the one
/// text of these events, which the console prints too.
pub fn log_line(event: &RunEvent) -> Option<LogEvent> {
    Some(match event {
        RunEvent::Steered { iter, term, from, to } => LogEvent::Steered {
            iter: *iter,
            term: *term,
            from: *from,
            to: *to,
        },
        RunEvent::Paused { iter, paused } => LogEvent::Paused {
            iter: *iter,
            paused: *paused,
        },
        RunEvent::Warning(what) => LogEvent::Warning(what.clone()),
        RunEvent::Refused { iter, what } => LogEvent::Refused {
            iter: *iter,
            what: what.clone(),
        },
        RunEvent::Scale {
            iter,
            index,
            count,
            width,
            height,
        } => LogEvent::Scale {
            iter: *iter,
            index: *index,
            count: *count,
            width: *width,
            height: *height,
        },
        _ => return None,
    })
}
