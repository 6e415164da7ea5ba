//! A recorded run read back as the events that made it: `Started`, each
//! metrics row, its snapshots and its events.log lines at their steps,
//! then `Finished` — so that a sink written for live runs (TensorBoard's)
//! serves runs recorded before it existed, or without it: one writer, two
//! callers.
//!
//! Pipeline position: beside the engine, on the reading side: run folder →
//! `replay` → sinks.

use crate::events::{RunEvent, RunInfo};
use crate::record::{self, LogEvent, RunPaths, Status, Summary};
use crate::sinks::Sink;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// events.log's lines, as they can be read back, in file order.
fn log_lines(paths: &RunPaths) -> Vec<LogEvent> {
    crate::files::read_text_bounded(&paths.events(), crate::files::TEXT_LIMIT)
        .map(|text| text.lines().filter_map(LogEvent::parse_line).collect())
        .unwrap_or_default()
}

/// The event of an events.log line that stands for one; None for the
/// start and the end (`Started` and `Finished` carry them).
fn event_of(line: &LogEvent) -> Option<RunEvent> {
    Some(match line.clone() {
        LogEvent::Steered { iter, term, from, to } => RunEvent::Steered { iter, term, from, to },
        LogEvent::Paused { iter, paused } => RunEvent::Paused { iter, paused },
        LogEvent::Refused { iter, what } => RunEvent::Refused { iter, what },
        LogEvent::Warning(what) => RunEvent::Warning(what),
        LogEvent::Scale {
            iter,
            index,
            count,
            width,
            height,
        } => RunEvent::Scale {
            iter,
            index,
            count,
            width,
            height,
        },
        LogEvent::Started { .. } | LogEvent::Ended { .. } => return None,
    })
}

/// The step a replayed event belongs to; None for a warning (it comes
/// after the last step).
fn step_of(event: &RunEvent) -> Option<u64> {
    match event {
        RunEvent::Steered { iter, .. }
        | RunEvent::Paused { iter, .. }
        | RunEvent::Refused { iter, .. }
        | RunEvent::Scale { iter, .. }
        | RunEvent::Snapshot { iter, .. } => Some(*iter),
        _ => None,
    }
}

/// The `Started` event of a recorded run: what its summary, metrics
/// header and events.log's first line say.
fn started(dir: &Path, summary: &Summary, header: record::MetricsHeader, lines: &[LogEvent]) -> RunEvent {
    let optimizer = lines
        .iter()
        .find_map(|l| match l {
            LogEvent::Started { optimizer, .. } => Some(optimizer.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut at_start = summary.clone();
    at_start.status = Status::Running;
    at_start.finished = None;
    at_start.error = None;
    at_start.scores = None;
    RunEvent::Started(Box::new(RunInfo {
        name: summary.name.clone(),
        dir: dir.to_path_buf(),
        device: summary.device.clone(),
        iterations: summary.iterations,
        width: summary.width,
        height: summary.height,
        header,
        content_layers: Vec::new(),
        style_layers: Vec::new(),
        optimizer,
        summary: at_start,
    }))
}

/// A snapshot (decoded only when its turn comes) or an events.log line's event.
enum Pending {
    Snapshot(u64, PathBuf),
    Event(RunEvent),
}

impl Pending {
    /// Its step; None for a warning.
    fn step(&self) -> Option<u64> {
        match self {
            Pending::Snapshot(iter, _) => Some(*iter),
            Pending::Event(e) => step_of(e),
        }
    }

    /// Hands it to `sink`, a snapshot decoded first.
    fn send(self, sink: &mut dyn Sink) -> Result<()> {
        match self {
            Pending::Snapshot(iter, path) => {
                let image = crate::imaging::decode(&path).map_err(anyhow::Error::msg)?;
                sink.handle(&RunEvent::Snapshot {
                    iter,
                    image: Arc::new(image),
                })
            }
            Pending::Event(e) => sink.handle(&e),
        }
    }
}

/// Hands `sink` the events of the run recorded in `dir`, in the order the
/// engine emitted them: `Started` and the metrics rows (when metrics.csv
/// exists: a run that failed in setup has only its end), after each row
/// its snapshots and then its events.log lines (steering, pauses, scale
/// changes, refusals), warnings after the last row, and `Finished` with
/// summary.json and final.png.
///
/// Errors: a folder without a readable summary.json or with a malformed
/// metrics.csv, an image that does not decode, and the sink's own.
pub fn replay(dir: &Path, sink: &mut dyn Sink) -> Result<()> {
    let paths = RunPaths::new(dir);
    let summary = record::read_summary(dir).with_context(|| format!("{} is not a run's folder", dir.display()))?;
    let lines = log_lines(&paths);
    let metrics = match record::read_metrics(dir) {
        Ok(m) => Some(m),
        Err(e) if e.is_missing() => None,
        Err(e) => return Err(e.into()),
    };
    // Snapshots first at a step: the engine writes them before it obeys
    // the commands that came in (the stable sort keeps that order).
    let mut pending: Vec<Pending> = paths
        .list_snapshots()
        .into_iter()
        .map(|(iter, path)| Pending::Snapshot(iter, path))
        .chain(lines.iter().filter_map(event_of).map(Pending::Event))
        .collect();
    pending.sort_by_key(|p| p.step().unwrap_or(u64::MAX));
    let mut pending = pending.into_iter().peekable();
    if let Some((header, rows, _)) = metrics {
        sink.handle(&started(dir, &summary, header, &lines))?;
        for row in rows {
            let iter = row.iter;
            sink.handle(&RunEvent::Step(row))?;
            while let Some(p) = pending.next_if(|p| p.step().is_some_and(|s| s <= iter)) {
                p.send(sink)?;
            }
        }
    }
    for p in pending {
        p.send(sink)?;
    }
    let image = match paths.final_image() {
        p if p.exists() => Some(Arc::new(crate::imaging::decode(&p).map_err(anyhow::Error::msg)?)),
        _ => None,
    };
    sink.handle(&RunEvent::Finished {
        summary: Box::new(summary),
        image,
    })
}
