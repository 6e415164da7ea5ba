//! Where a run's events go. The engine hands every event to one [`Sink`];
//! [`Tee`] fans out to the run folder, the console and the dashboard.

mod run_dir;

pub use run_dir::{RunDirSink, create_run_dir, slug};

use crate::events::RunEvent;
use std::sync::mpsc::Sender;

/// A consumer of run events. An error stops the run (status `failed`), so
/// only sinks whose loss loses results (the run folder) should return one.
pub trait Sink {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()>;
}

/// Sends every event to several sinks, in order; the first error wins.
#[derive(Default)]
pub struct Tee<'a> {
    sinks: Vec<&'a mut dyn Sink>,
}

impl<'a> Tee<'a> {
    pub fn new() -> Self {
        Tee { sinks: Vec::new() }
    }
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

/// Forwards events to another thread (the dashboard). A receiver that went
/// away is not an error: the run goes on without it.
pub struct ChannelSink(pub Sender<RunEvent>);

impl Sink for ChannelSink {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
}

/// Keeps every event: for tests and recordings.
#[derive(Default)]
pub struct Recorder(pub Vec<RunEvent>);

impl Sink for Recorder {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }
}
