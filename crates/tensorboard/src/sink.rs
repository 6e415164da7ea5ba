//! The TensorBoard sink: a run's events as an event file in its folder,
//! written as they come — every metrics.csv column as a scalar, the
//! snapshots and the final image, the experiment and the outcome as text,
//! the experiment's keys and how it ended for the HParams plugin.
//!
//! One writer, two callers: a live run (`stylelab run`, each sweep point)
//! hands it the engine's events; `stylelab export tensorboard` hands it the
//! same events rebuilt from a run's record (`stylelab_core::replay`).

use crate::writer::EventWriter;
use crate::{hparams, summary, tags};
use anyhow::{Context, Result};
use image::RgbImage;
use prost::Message;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stylelab_core::events::{RunEvent, RunInfo};
use stylelab_core::record::{LogEvent, MetricsHeader, Summary};
use stylelab_core::sinks::{Sink, log_line};

/// Records wait at most this long in memory while steps come in; snapshots,
/// pauses and the end are written at once.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Who feeds the sink, which says what its clock is and what a failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// A run as it happens: events are stamped with the time now, and a
    /// write that fails ends the event file, not the run (the sink says so
    /// once, as a warning the other sinks record).
    Live,
    /// A recorded run read back: events are stamped with the run's start
    /// plus each step's `elapsed_s`, and a failure is an error.
    Replay,
}

/// Writes a run's events into an event file in one folder.
pub struct TensorBoardSink {
    /// The folder the event file goes in (the run folder, or an export's).
    dir: PathBuf,
    /// The resolved experiment (experiment.toml's text), when known.
    experiment: Option<String>,
    /// Who feeds it.
    feed: Feed,
    /// The event file, from the first event on until `Finished`.
    writer: Option<EventWriter>,
    /// Where the event file is, once created.
    file: Option<PathBuf>,
    /// metrics.csv's columns, from `Started`.
    header: MetricsHeader,
    /// The last step seen, and its `elapsed_s`.
    step: u64,
    elapsed: f64,
    /// The run's start, seconds since the epoch (summary's `started`).
    started: Option<f64>,
    /// How long step records may wait in memory ([`FLUSH_EVERY`]).
    flush_every: Duration,
    /// Set after a live failure: nothing more is written.
    failed: bool,
    /// A warning not yet taken by the tee.
    warning: Option<String>,
}

impl TensorBoardSink {
    /// A sink that writes into `dir` once events come; `experiment` is the
    /// run's resolved experiment (TOML), for the text and the hparams.
    pub fn new(dir: &Path, experiment: Option<String>, feed: Feed) -> Self {
        TensorBoardSink {
            dir: dir.to_path_buf(),
            experiment,
            feed,
            writer: None,
            file: None,
            header: MetricsHeader::default(),
            step: 0,
            elapsed: 0.0,
            started: None,
            flush_every: FLUSH_EVERY,
            failed: false,
            warning: None,
        }
    }

    /// Step records wait at most `every` in memory instead of
    /// [`FLUSH_EVERY`] (`Duration::ZERO`: written at every step, as when
    /// each step takes longer than that; the bench's worst case).
    pub fn with_flush_every(mut self, every: Duration) -> Self {
        self.flush_every = every;
        self
    }

    /// The event file, once created (also after the run's end).
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Whether a write failed (live runs): the event file ends before the run.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The time to stamp an event with.
    fn wall_time(&self) -> f64 {
        match (self.feed, self.started) {
            (Feed::Replay, Some(start)) => start + self.elapsed,
            _ => now(),
        }
    }

    /// The event file, created (with the experiment and the hparams' start)
    /// on the first event.
    fn writer(&mut self, name: &str) -> Result<&mut EventWriter> {
        if self.writer.is_none() {
            let wall = self.wall_time();
            let mut w = EventWriter::create(&self.dir, name, wall)
                .with_context(|| format!("cannot create an event file in {}", self.dir.display()))?;
            let toml = self.experiment.as_deref().unwrap_or("");
            let mut values = Vec::new();
            if self.experiment.is_some() {
                values.push(summary::text(tags::EXPERIMENT, &summary::toml_block(toml)));
            }
            let start = hparams::session_start(toml, self.started.unwrap_or(wall));
            values.push(summary::plugin(
                hparams::SESSION_START_INFO_TAG,
                hparams::PLUGIN_NAME,
                start.encode_to_vec(),
            ));
            w.summary(wall, 0, values);
            self.file = Some(w.path().to_path_buf());
            self.writer = Some(w);
        }
        self.writer.as_mut().context("the event file is open")
    }

    /// Writes the pending records now.
    fn flush(&mut self) -> Result<()> {
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        w.flush()
            .with_context(|| format!("cannot write {}", w.path().display()))
    }

    /// One event into the file.
    fn record(&mut self, event: &RunEvent) -> Result<()> {
        match event {
            RunEvent::Started(info) => self.start(info),
            RunEvent::Step(row) => {
                self.step = row.iter;
                self.elapsed = row.elapsed_s;
                let wall = self.wall_time();
                let values = tags::scalars(&self.header, row)
                    .into_iter()
                    .map(|(tag, v)| summary::scalar(&tag, v))
                    .collect();
                let every = self.flush_every;
                let w = self.writer("run")?;
                w.summary(wall, row.iter, values);
                w.flush_if_due(every)
                    .with_context(|| format!("cannot write {}", w.path().display()))
            }
            RunEvent::Snapshot { iter, image } => {
                let value = summary::image(tags::SNAPSHOT, image)?;
                let wall = self.wall_time();
                self.writer("run")?.summary(wall, *iter, vec![value]);
                self.flush()
            }
            RunEvent::Finished { summary, image } => self.finish(summary, image.as_deref()),
            RunEvent::Debug(_) => Ok(()),
            other => match log_line(other) {
                Some(line) => {
                    let step = log_step(&line).unwrap_or(self.step);
                    let wall = self.wall_time();
                    let value = summary::text(tags::LOG, &line.text());
                    self.writer("run")?.summary(wall, step, vec![value]);
                    // A paused run shows everything it did.
                    if matches!(other, RunEvent::Paused { .. }) {
                        self.flush()?;
                    }
                    Ok(())
                }
                None => Ok(()),
            },
        }
    }

    /// The run has started: the file, its first records, written at once.
    fn start(&mut self, info: &RunInfo) -> Result<()> {
        self.header = info.header.clone();
        self.started = seconds(&info.summary.started);
        self.writer(&info.name)?;
        self.flush()
    }

    /// The run has ended: the final image, the final losses and scores,
    /// the outcome, the hparams' end; all written, the file closed.
    fn finish(&mut self, s: &Summary, image: Option<&RgbImage>) -> Result<()> {
        if self.started.is_none() {
            self.started = seconds(&s.started);
        }
        let wall = match (self.feed, s.finished.as_deref().and_then(seconds)) {
            (Feed::Replay, Some(end)) => end,
            _ => self.wall_time(),
        };
        let mut values = Vec::new();
        if let Some(image) = image {
            values.push(summary::image(tags::FINAL_IMAGE, image)?);
        }
        if let Some(l) = &s.final_losses {
            for (tag, v) in tags::FINAL.iter().zip([l.total, l.content, l.style, l.tv]) {
                values.push(summary::scalar(tag, v));
            }
        }
        if let Some(scores) = &s.scores {
            for (tag, name) in tags::SCORES.iter().zip(stylelab_core::record::Scores::NAMES) {
                values.extend(scores.get(name).map(|v| summary::scalar(tag, v)));
            }
        }
        let outcome = LogEvent::Ended {
            status: s.status,
            steps: s.steps,
            error: s.error.clone().or_else(|| s.why.clone()),
        };
        values.push(summary::text(tags::OUTCOME, &outcome.text()));
        let end = hparams::session_end(s.status, wall);
        values.push(summary::plugin(
            hparams::SESSION_END_INFO_TAG,
            hparams::PLUGIN_NAME,
            end.encode_to_vec(),
        ));
        self.writer(&s.name)?.summary(wall, s.steps, values);
        self.flush()?;
        self.writer = None;
        Ok(())
    }
}

/// Live: a failure ends the event file and becomes a warning; replay: an error.
impl Sink for TensorBoardSink {
    fn handle(&mut self, event: &RunEvent) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        match self.record(event) {
            Err(e) if self.feed == Feed::Live => {
                self.failed = true;
                self.writer = None;
                self.warning = Some(format!(
                    "TensorBoard: {e:#}; the run goes on without its event file (`stylelab export tensorboard` \
                     can write one from the run's folder when it has ended)"
                ));
                Ok(())
            }
            other => other,
        }
    }

    fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

/// The step an events.log line belongs to; None for a warning.
fn log_step(line: &LogEvent) -> Option<u64> {
    match line {
        LogEvent::Steered { iter, .. }
        | LogEvent::Paused { iter, .. }
        | LogEvent::Refused { iter, .. }
        | LogEvent::Scale { iter, .. } => Some(*iter),
        _ => None,
    }
}

/// Seconds since the epoch now.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An RFC 3339 time as seconds since the epoch.
fn seconds(rfc3339: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Event, Kind, What};
    use crate::record::read_records;
    use std::sync::Arc;
    use stylelab_core::record::{Losses, Status, StepMetrics, Term};

    fn summary(status: Status, steps: u64) -> Summary {
        let json = format!(
            r#"{{"name":"t","status":"{status}","started":"2026-12-01T10:00:00+00:00","steps":{steps},
            "iterations":2,"evals":3,"wall_s":1.0,"seconds_per_step":0.5,"device":"cpu","libtorch":"x",
            "stylelab":"x","weights":"w","weights_sha256":"s","seed":0,"width":4,"height":2,"peak_rss_mib":1.0}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    fn row(iter: u64, style_weight: f64) -> StepMetrics {
        StepMetrics {
            iter,
            evals: iter + 1,
            elapsed_s: iter as f64 * 0.5,
            total: 10.0 - iter as f64,
            content: 1.0,
            style: 2.0,
            tv: 3.0,
            layers: vec![0.5],
            content_weight: 5.0,
            style_weight,
            tv_weight: 1e-3,
            width: 4,
            height: 2,
        }
    }

    /// (step, tag, kind) of every value in the file, after its version.
    fn values(path: &Path) -> Vec<(i64, String, Option<Kind>)> {
        let bytes = std::fs::read(path).unwrap();
        let r = read_records(&bytes);
        assert!(!r.corrupt && r.torn == 0);
        let mut out = Vec::new();
        for data in &r.records[1..] {
            let e = Event::decode(*data).unwrap();
            let Some(What::Summary(s)) = e.what else {
                panic!("a summary")
            };
            out.extend(s.value.into_iter().map(|v| (e.step, v.tag, v.kind)));
        }
        out
    }

    #[test]
    fn a_runs_events_become_tagged_values_at_their_steps() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = TensorBoardSink::new(dir.path(), Some("[loss]\nstyle_weight = 100.0\n".into()), Feed::Replay);
        let mut start = summary(Status::Running, 0);
        start.final_losses = None;
        let info = RunInfo {
            name: "t".into(),
            dir: dir.path().to_path_buf(),
            device: "cpu".into(),
            iterations: 2,
            width: 4,
            height: 2,
            header: MetricsHeader::new(vec!["style:relu1_1".into()]),
            content_layers: Vec::new(),
            style_layers: Vec::new(),
            optimizer: String::new(),
            summary: start,
        };
        let image = Arc::new(RgbImage::new(4, 2));
        let mut end = summary(Status::Stopped, 2);
        end.final_losses = Some(Losses {
            total: 8.0,
            content: 1.0,
            style: 2.0,
            tv: 3.0,
        });
        for e in [
            RunEvent::Started(Box::new(info)),
            RunEvent::Step(row(0, 100.0)),
            RunEvent::Steered {
                iter: 0,
                term: Term::Style,
                from: 100.0,
                to: 200.0,
            },
            RunEvent::Step(row(1, 200.0)),
            RunEvent::Snapshot {
                iter: 1,
                image: image.clone(),
            },
            RunEvent::Step(row(2, 200.0)),
            RunEvent::Finished {
                summary: Box::new(end),
                image: Some(image),
            },
        ] {
            sink.handle(&e).unwrap();
        }
        let v = values(sink.path().unwrap());
        let at = |tag: &str| -> Vec<(i64, Option<Kind>)> {
            v.iter()
                .filter(|(_, t, _)| t == tag)
                .map(|(s, _, k)| (*s, k.clone()))
                .collect()
        };
        let scalar = |x: f32| Some(Kind::SimpleValue(x));
        assert_eq!(
            at("weight/style_weight"),
            vec![(0, scalar(100.0)), (1, scalar(200.0)), (2, scalar(200.0))]
        );
        assert_eq!(at("layer/style:relu1_1").len(), 3);
        assert_eq!(at("final/total"), vec![(2, scalar(8.0))]);
        assert_eq!(at("image/snapshot").len(), 1);
        assert_eq!(at("image/final")[0].0, 2);
        let text = |tag: &str| match &at(tag)[..] {
            [(step, Some(Kind::Tensor(t)))] => (*step, String::from_utf8(t.string_val[0].clone()).unwrap()),
            other => panic!("{tag}: {other:?}"),
        };
        assert_eq!(
            text("run/log"),
            (0, "step 0: style_weight 100 -> 200 (from step 1)".into())
        );
        assert_eq!(text("run/outcome"), (2, "stopped after 2 steps".into()));
        assert!(text("config/experiment").1.contains("style_weight = 100.0"));
        let steps = |tag: &str| at(tag).iter().map(|(s, _)| *s).collect::<Vec<_>>();
        assert_eq!(steps(hparams::SESSION_START_INFO_TAG), [0]);
        assert_eq!(steps(hparams::SESSION_END_INFO_TAG), [2]);
    }

    #[test]
    fn a_live_failure_is_one_warning_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = TensorBoardSink::new(&dir.path().join("gone"), None, Feed::Live);
        assert!(sink.handle(&RunEvent::Step(row(0, 1.0))).is_ok());
        assert!(sink.failed());
        let w = sink.take_warning().unwrap();
        assert!(w.starts_with("TensorBoard: cannot create an event file in"), "{w}");
        assert!(sink.handle(&RunEvent::Step(row(1, 1.0))).is_ok());
        assert_eq!(sink.take_warning(), None, "said once");
        // Replayed, the same failure is an error.
        let mut replay = TensorBoardSink::new(&dir.path().join("gone"), None, Feed::Replay);
        assert!(replay.handle(&RunEvent::Step(row(0, 1.0))).is_err());
    }
}
