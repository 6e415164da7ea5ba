//! The run folder sink: writes `results/<stamp>-<name>/` as events happen,
//! so that nothing is lost when the UI closes or the SSH session drops.

use super::Sink;
use crate::config::Experiment;
use crate::events::RunEvent;
use crate::record::{MetricsHeader, RunPaths, Summary};
use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

/// A file-name-safe version of a run name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(['-', '.']).to_string();
    if s.is_empty() { "run".into() } else { s }
}

/// Creates `results/<YYYYmmdd-HHMMSS>-<name>/` (with `-2`, `-3`, … when two
/// runs start in the same second) and writes the resolved experiment.
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
    fs::create_dir(paths.snapshots()).with_context(|| format!("cannot create {}", paths.snapshots().display()))?;
    write_atomic(&paths.experiment(), exp.to_toml().as_bytes())?;
    Ok(paths)
}

/// Writes a file whole or not at all (write to a temporary, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.sync_all().ok();
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn write_summary(paths: &RunPaths, summary: &Summary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary).expect("summaries serialise");
    write_atomic(&paths.summary(), json.as_bytes())
}

/// Saves a PNG atomically (a reader never sees half an image).
pub fn save_png(path: &Path, image: &image::RgbImage) -> Result<()> {
    let tmp = path.with_extension("png.tmp");
    image
        .save_with_format(&tmp, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes metrics.csv, snapshots, events.log, final.png and summary.json.
pub struct RunDirSink {
    paths: RunPaths,
    csv: Option<BufWriter<File>>,
    header: MetricsHeader,
}

impl RunDirSink {
    pub fn new(paths: RunPaths) -> Self {
        RunDirSink {
            paths,
            csv: None,
            header: MetricsHeader::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.paths.dir
    }

    fn log_event(&self, line: &str) -> Result<()> {
        let path = self.paths.events();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        writeln!(f, "{now} {line}").with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Sink for RunDirSink {
    fn handle(&mut self, event: &RunEvent) -> Result<()> {
        match event {
            RunEvent::Started(info) => {
                self.header = info.header.clone();
                let path = self.paths.metrics();
                let mut w =
                    BufWriter::new(File::create(&path).with_context(|| format!("cannot write {}", path.display()))?);
                writeln!(w, "{}", self.header.columns().join(","))?;
                w.flush()?;
                self.csv = Some(w);
                write_summary(&self.paths, &info.summary)?;
                self.log_event(&format!(
                    "started on {} ({}×{}, {})",
                    info.device, info.width, info.height, info.optimizer
                ))?;
            }
            RunEvent::Step(row) => {
                let w = self.csv.as_mut().context("metrics row before the run started")?;
                writeln!(w, "{}", row.to_fields(&self.header).join(","))
                    .and_then(|_| w.flush())
                    .with_context(|| format!("cannot write {}", self.paths.metrics().display()))?;
            }
            RunEvent::Snapshot { iter, image } => save_png(&self.paths.snapshot(*iter), image)?,
            RunEvent::Steered { iter, term, from, to } => {
                self.log_event(&format!(
                    "step {iter}: {} {from} -> {to} (from step {})",
                    term.name(),
                    iter + 1
                ))?;
            }
            RunEvent::Paused { iter, paused } => {
                self.log_event(&format!("step {iter}: {}", if *paused { "paused" } else { "resumed" }))?;
            }
            RunEvent::Finished { summary, image } => {
                // Image first: a summary that says "completed" has its final.png.
                let mut result = Ok(());
                if let Some(image) = image {
                    result = save_png(&self.paths.final_image(), image);
                }
                if let Some(w) = self.csv.as_mut() {
                    let _ = w.flush();
                }
                let mut summary = (**summary).clone();
                if let Err(e) = &result {
                    summary.status = crate::record::Status::Failed;
                    summary.error.get_or_insert(format!("{e:#}"));
                }
                let line = match &summary.error {
                    Some(e) => format!("{} after {} steps: {e}", summary.status, summary.steps),
                    None => format!("{} after {} steps", summary.status, summary.steps),
                };
                let _ = self.log_event(&line);
                write_summary(&self.paths, &summary)?;
                result?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_folder_names() {
        assert_eq!(slug("starry cat/v2"), "starry-cat-v2");
        assert_eq!(slug("../x"), "x");
        assert_eq!(slug("///"), "run");
    }
}
