//! The on-disk schema of a run folder, `results/<stamp>-<name>/`: its file
//! names and [`RunPaths`] here, and one module per file it describes —
//! `metrics` (metrics.csv), `summary` (summary.json), `scores`
//! (scores.csv), `log` (events.log) — plus `tail`, which follows a file
//! still being written. The run-folder sink writes these files and review
//! reads them through the same types: one schema, not two.
//!
//! It sits at the end of the pipeline (`sinks::RunDirSink` writes a run folder
//! from the engine's events) and at the start of the reading side: `review`
//! lists and compares finished runs, `ui::follow` tails a live one with
//! [`Tail`] and [`MetricsReader`]. Nothing here needs libtorch.

mod log;
mod metrics;
mod scores;
mod summary;
mod tail;

pub use log::{LogEvent, compact};
pub use metrics::{
    BASE_COLUMNS, Metrics, MetricsHeader, MetricsReader, SIZE_COLUMNS, StepMetrics, Term, WEIGHT_COLUMNS,
    parse_metrics, read_metrics,
};
pub use scores::{read_step_scores, write_step_scores};
pub use summary::{Losses, Scale, Scores, StartupPhase, Status, Summary, SweepMember, read_summary};
pub use tail::Tail;

use std::path::PathBuf;

/// The resolved experiment the run used, written once when the folder is created.
pub const EXPERIMENT_FILE: &str = "experiment.toml";
/// One [`StepMetrics`] row per recorded step, after a header line (see [`MetricsHeader`]).
pub const METRICS_FILE: &str = "metrics.csv";
/// The [`Summary`], rewritten whole at the start and at the end of a run.
pub const SUMMARY_FILE: &str = "summary.json";
/// Time-stamped [`LogEvent`] lines, appended as they happen.
pub const EVENTS_FILE: &str = "events.log";
/// The result image, saved when the run ends (absent if none was produced).
pub const FINAL_IMAGE: &str = "final.png";
/// Folder of periodic snapshots, `iter_NNNNNN.png` (see [`RunPaths::snapshot`]).
pub const SNAPSHOT_DIR: &str = "snapshots";
/// The yardstick's numbers for each scored snapshot (`stylelab score --steps`).
pub const SCORES_FILE: &str = "scores.csv";
/// Whole texts of errors whose message shows only their first line
/// (libtorch's backtraces), appended when they happen.
pub const DEBUG_FILE: &str = "debug.log";
/// Commands for a running engine, one per line (see `events::Control`).
pub const CONTROL_FILE: &str = "control";
/// How far a tiled evaluation has got, while it lasts (see
/// [`crate::events::EvalProgress`]).
pub const PROGRESS_FILE: &str = "progress";
/// Local time now as the run folder's files write it (RFC 3339, seconds).
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// What `stylelab run --print-dir` prints first, followed by the run
/// folder: how a dashboard learns where a run it launched writes.
pub const RUN_DIR_PREFIX: &str = "run-dir: ";

/// Paths inside one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// The run folder itself, `results/<stamp>-<name>/`.
    pub dir: PathBuf,
}

impl RunPaths {
    /// Paths under `dir`; touches nothing on disk.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunPaths { dir: dir.into() }
    }
    /// `experiment.toml`.
    pub fn experiment(&self) -> PathBuf {
        self.dir.join(EXPERIMENT_FILE)
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join(METRICS_FILE)
    }
    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.dir.join(SUMMARY_FILE)
    }
    /// `events.log`.
    pub fn events(&self) -> PathBuf {
        self.dir.join(EVENTS_FILE)
    }
    /// `final.png`.
    pub fn final_image(&self) -> PathBuf {
        self.dir.join(FINAL_IMAGE)
    }
    /// `debug.log`.
    pub fn debug_log(&self) -> PathBuf {
        self.dir.join(DEBUG_FILE)
    }
    /// `progress`: how far the tiled evaluation under way has got.
    pub fn progress(&self) -> PathBuf {
        self.dir.join(PROGRESS_FILE)
    }
    /// `control`, the file a dashboard appends commands to.
    pub fn control(&self) -> PathBuf {
        self.dir.join(CONTROL_FILE)
    }
    /// The `snapshots/` folder.
    pub fn snapshots(&self) -> PathBuf {
        self.dir.join(SNAPSHOT_DIR)
    }
    /// `snapshots/iter_000050.png`: the step zero-padded to 6 digits.
    pub fn snapshot(&self, iter: u64) -> PathBuf {
        self.snapshots().join(format!("iter_{iter:06}.png"))
    }
    /// Snapshot files present, as `(step, path)` sorted by step. Names that do
    /// not parse as `iter_<n>.png` are skipped; a missing folder gives none.
    pub fn list_snapshots(&self) -> Vec<(u64, PathBuf)> {
        let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(self.snapshots())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let iter = name.strip_prefix("iter_")?.strip_suffix(".png")?.parse().ok()?;
                Some((iter, e.path()))
            })
            .collect();
        out.sort();
        out
    }
}

/// A file-name-safe version of a run name: every character but ASCII
/// letters, digits, `-`, `_` and `.` becomes `-`, leading and trailing `-`
/// and `.` are trimmed (so the result is never `.`, `..` or hidden), and an
/// empty result becomes `run`.
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

/// A run-folder file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be read (missing, permissions, …).
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file was read but its contents do not parse.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl RecordError {
    /// Whether the file is simply not there (an `Io` error of kind
    /// `NotFound`), as opposed to present but unreadable or malformed.
    pub fn is_missing(&self) -> bool {
        matches!(self, RecordError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// What is wrong, without the path.
    pub fn reason(&self) -> String {
        match self {
            RecordError::Io { source, .. } => source.to_string(),
            RecordError::Invalid { message, .. } => message.clone(),
        }
    }
}

/// The whole file as UTF-8, with its path for the caller's error.
fn read_text(path: PathBuf) -> Result<(PathBuf, String), RecordError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(source) => Err(RecordError::Io { path, source }),
    }
}

/// Text from a run folder made safe to print: every control character
/// (an escape sequence that would retitle or recolour the terminal, a
/// newline that would break a table) shown as its escape, `\u{1b}`.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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
