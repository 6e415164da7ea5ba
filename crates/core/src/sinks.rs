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
/// only sinks whose loss loses results (the run folder) should return one;
/// a sink that cannot do its part but need not stop the run (TensorBoard's)
/// says so through [`Sink::take_warning`] instead.
pub trait Sink {
    /// Takes one event, in the order the engine emits them. `Finished` always
    /// comes, and last; `Started` comes first unless the run failed in setup
    /// (loading images and weights, computing targets), in which case only
    /// `Finished` comes. (A [`Tee`] follows an event with the warnings its
    /// sinks raised taking it, `Finished` included.)
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()>;

    /// A warning this sink raised since it was last asked — something it
    /// could not do that does not fail the run — for a [`Tee`] to hand to
    /// every sink as [`RunEvent::Warning`] (the run folder's events.log, the
    /// console). None by default.
    fn take_warning(&mut self) -> Option<String> {
        None
    }
}

/// Sends every event to several sinks, in order; the first error wins.
/// Every sink still sees every event, even after an earlier one failed, and
/// then every warning a sink raised taking it ([`Sink::take_warning`]).
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

impl Tee<'_> {
    /// `event` to every sink; the first error.
    fn send(&mut self, event: &RunEvent) -> Option<anyhow::Error> {
        let mut first_error = None;
        for sink in &mut self.sinks {
            if let Err(e) = sink.handle(event) {
                first_error.get_or_insert(e);
            }
        }
        first_error
    }
}

impl Sink for Tee<'_> {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        let mut first_error = self.send(event);
        // Warnings raised by warnings are not chased further: one round.
        let warnings: Vec<String> = self.sinks.iter_mut().filter_map(|s| s.take_warning()).collect();
        for w in warnings {
            if let Some(e) = self.send(&RunEvent::Warning(w)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is handed; raises one warning on its first event.
    #[derive(Default)]
    struct Probe {
        seen: Vec<String>,
        warn: Option<String>,
    }

    impl Sink for Probe {
        fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
            self.seen.push(match event {
                RunEvent::Warning(w) => format!("warning: {w}"),
                RunEvent::Debug(d) => format!("debug: {d}"),
                _ => "other".into(),
            });
            Ok(())
        }
        fn take_warning(&mut self) -> Option<String> {
            self.warn.take()
        }
    }

    #[test]
    fn a_sinks_warning_reaches_every_sink_once() {
        let mut quiet = Probe::default();
        let mut loud = Probe {
            warn: Some("cannot write".into()),
            ..Probe::default()
        };
        {
            let mut tee = Tee::new().with(&mut quiet).with(&mut loud);
            tee.handle(&RunEvent::Debug("a".into())).unwrap();
            tee.handle(&RunEvent::Debug("b".into())).unwrap();
        }
        let expected = ["debug: a", "warning: cannot write", "debug: b"];
        assert_eq!(quiet.seen, expected);
        assert_eq!(loud.seen, expected);
    }
}
