//! The run folder sink: writes `results/<stamp>-<name>/` as events happen,
//! so that nothing is lost when the UI closes or the SSH session drops.
//!
//! Pipeline position: the last box. [`create_run_dir`] makes the folder
//! before the engine starts; [`RunDirSink`] then turns each engine event into
//! files in `record`'s schema, which review and the dashboard read back.

use super::Sink;
use crate::config::Experiment;
use crate::events::{RunEvent, RunInfo};
use crate::files::{save_png, write_atomic};
use crate::record::{LogEvent, MetricsHeader, RunPaths, Summary, slug};
use anyhow::{Context, Result};
use image::RgbImage;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Bytes set aside in a new run folder ([`RESERVE_FILE`]) and given back
/// just before the final summary is written, so that a disk that fills
/// during the run still takes the summary that says so.
const RESERVE_BYTES: usize = 64 * 1024;
/// The set-aside space: a hidden file, removed when the run ends.
pub const RESERVE_FILE: &str = ".reserve";

/// Creates `results/<YYYYmmdd-HHMMSS>-<name>/` (with `-2`, `-3`, … when two
/// runs start in the same second), writes the resolved experiment and sets
/// aside room for the final summary.
///
/// The stamp is local time. Also creates `snapshots/`. Errors name the
/// folder that cannot be created or written and the system's reason; a
/// folder that could not be made whole is removed again, so a full disk
/// at the start leaves nothing behind.
pub fn create_run_dir(exp: &Experiment) -> Result<RunPaths> {
    let results = &exp.results;
    fs::create_dir_all(results)
        .with_context(|| format!("the results folder {} cannot be created", results.display()))?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = format!("{stamp}-{}", slug(&exp.name));
    let mut n = 1;
    let dir = loop {
        let candidate = if n == 1 {
            results.join(&base)
        } else {
            results.join(format!("{base}-{n}"))
        };
        match fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => {
                return Err(e).with_context(|| format!("the results folder {} is not writable", results.display()));
            }
        }
    };
    let paths = RunPaths::new(dir);
    let fill = || -> Result<()> {
        fs::create_dir(paths.snapshots()).with_context(|| format!("cannot create {}", paths.snapshots().display()))?;
        write_atomic(&paths.experiment(), exp.to_toml().as_bytes())?;
        let reserve = paths.dir.join(RESERVE_FILE);
        let mut f = File::create(&reserve).with_context(|| format!("cannot write {}", reserve.display()))?;
        f.write_all(&vec![0u8; RESERVE_BYTES])
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", reserve.display()))
    };
    if let Err(e) = fill() {
        let _ = fs::remove_dir_all(&paths.dir);
        return Err(e.context(format!("cannot start a run in {}", results.display())));
    }
    Ok(paths)
}

/// summary.json, pretty-printed, written atomically.
fn write_summary(paths: &RunPaths, summary: &Summary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary).context("cannot write the summary as JSON")?;
    write_atomic(&paths.summary(), json.as_bytes())
}

/// Writes metrics.csv, snapshots, events.log, final.png and summary.json.
///
/// Each metrics row is flushed as it is written, and events.log is opened,
/// appended to and closed per line, so nothing waits in a buffer for a
/// reader (or is lost in a crash).
pub struct RunDirSink {
    /// The run folder, made by [`create_run_dir`].
    paths: RunPaths,
    /// metrics.csv, open from `Started` on; `None` before.
    csv: Option<BufWriter<File>>,
    /// The columns written in metrics.csv, from `Started`.
    header: MetricsHeader,
    /// The `progress` file was written since the last step.
    progress_written: bool,
}

impl RunDirSink {
    /// A sink for an existing run folder; writes nothing until the first event.
    pub fn new(paths: RunPaths) -> Self {
        RunDirSink {
            paths,
            csv: None,
            header: MetricsHeader::default(),
            progress_written: false,
        }
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.paths.dir
    }

    /// Appends one line to events.log, stamped with the local time (RFC 3339, seconds).
    fn log_event(&self, event: &LogEvent) -> Result<()> {
        let path = self.paths.events();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        writeln!(f, "{}", event.line(&now)).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `Started` creates metrics.csv with its header and writes the first
/// summary; `Finished` saves final.png, then the last summary (marked failed,
/// with the reason, if the image could not be saved). A step row before
/// `Started` is an error.
impl Sink for RunDirSink {
    fn handle(&mut self, event: &RunEvent) -> Result<()> {
        match event {
            RunEvent::Started(info) => self.start(info)?,
            RunEvent::Step(row) => {
                self.clear_progress();
                let w = self.csv.as_mut().context("metrics row before the run started")?;
                writeln!(w, "{}", row.to_fields(&self.header).join(","))
                    .and_then(|_| w.flush())
                    .with_context(|| format!("cannot write {}", self.paths.metrics().display()))?;
            }
            RunEvent::Snapshot { iter, image } => save_png(&self.paths.snapshot(*iter), image)?,
            RunEvent::Debug(text) => {
                let path = self.paths.debug_log();
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                writeln!(f, "{} {text}", crate::record::now_rfc3339())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            RunEvent::Finished { summary, image } => {
                self.clear_progress();
                self.finish(summary, image.as_deref())?
            }
            // Advisory, for a dashboard: a write that fails loses nothing.
            RunEvent::Evaluating(p) => {
                self.progress_written |= crate::files::write_atomic(&self.paths.progress(), p.line().as_bytes()).is_ok()
            }
            other => {
                if let Some(line) = super::log_line(other) {
                    self.log_event(&line)?;
                }
            }
        }
        Ok(())
    }
}

impl RunDirSink {
    /// The evaluation the progress file told of is over: the file goes.
    fn clear_progress(&mut self) {
        if std::mem::take(&mut self.progress_written) {
            let _ = fs::remove_file(self.paths.progress());
        }
    }

    /// The run has started: metrics.csv's header, the first summary, the
    /// first events.log line.
    fn start(&mut self, info: &RunInfo) -> Result<()> {
        self.header = info.header.clone();
        let path = self.paths.metrics();
        let mut w = BufWriter::new(File::create(&path).with_context(|| format!("cannot write {}", path.display()))?);
        writeln!(w, "{}", self.header.columns().join(","))?;
        w.flush()?;
        self.csv = Some(w);
        write_summary(&self.paths, &info.summary)?;
        self.log_event(&LogEvent::Started {
            device: info.device.clone(),
            width: info.width,
            height: info.height,
            optimizer: info.optimizer.clone(),
        })
    }

    /// The run has ended: the final image first (a summary that says
    /// "completed" has its final.png), metrics.csv flushed, then the
    /// summary — failed, with the reason, if either could not be written.
    fn finish(&mut self, summary: &Summary, image: Option<&RgbImage>) -> Result<()> {
        let mut result = Ok(());
        if let Some(image) = image {
            result = save_png(&self.paths.final_image(), image);
        }
        if let Some(w) = self.csv.take()
            && let Err(e) = w.into_inner().map_err(|e| e.into_error())
            && result.is_ok()
        {
            result = Err(anyhow::Error::new(e).context(format!("cannot write {}", self.paths.metrics().display())));
        }
        let mut summary = summary.clone();
        if let Err(e) = &result {
            summary.status = crate::record::Status::Failed;
            summary.error.get_or_insert(format!("{e:#}"));
        }
        // The room set aside at the start is for what follows.
        let _ = fs::remove_file(self.paths.dir.join(RESERVE_FILE));
        let _ = self.log_event(&LogEvent::Ended {
            status: summary.status,
            steps: summary.steps,
            error: summary.error.clone().or_else(|| summary.why.clone()),
        });
        write_summary(&self.paths, &summary)?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EvalProgress;

    /// The `progress` file holds the latest line while an evaluation lasts,
    /// replaces a link planted in its place rather than writing through it,
    /// and is gone once the run ends.
    #[test]
    fn the_progress_file_lasts_as_long_as_the_evaluation() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(tmp.path().join("run"));
        fs::create_dir(&paths.dir).unwrap();
        let outside = tmp.path().join("outside");
        fs::write(&outside, "theirs").unwrap();
        std::os::unix::fs::symlink(&outside, paths.progress()).unwrap();
        let mut sink = RunDirSink::new(paths.clone());
        for done in 1..=2 {
            let p = EvalProgress {
                iter: 3,
                pass: 1,
                done,
                tiles: 6,
            };
            sink.handle(&RunEvent::Evaluating(p)).unwrap();
            assert_eq!(fs::read_to_string(paths.progress()).unwrap(), p.line());
        }
        assert_eq!(fs::read_to_string(&outside).unwrap(), "theirs");
        assert!(!fs::symlink_metadata(paths.progress()).unwrap().file_type().is_symlink());
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/results/20260101-100000-style-low");
        let summary = crate::record::read_summary(&fixture).unwrap();
        sink.handle(&RunEvent::Finished {
            summary: Box::new(summary),
            image: None,
        })
        .unwrap();
        assert!(!paths.progress().exists());
    }
}
