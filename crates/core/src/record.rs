//! The on-disk schema of a run folder, `results/<stamp>-<name>/`: file
//! names, the metrics row and the summary. The run-folder sink writes it and
//! review reads it through these same types: one schema, not two.
//!
//! It sits at the end of the pipeline (`sinks::RunDirSink` writes a run folder
//! from the engine's events) and at the start of the reading side: `review`
//! lists and compares finished runs, `ui::follow` tails a live one with
//! [`Tail`] and [`MetricsReader`]. Nothing here needs libtorch.

mod log;
mod tail;

pub use log::{LogEvent, compact};
pub use tail::Tail;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
/// Local time now as the run folder's files write it (RFC 3339, seconds).
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// What `stylelab run --print-dir` prints first, followed by the run
/// folder: how a dashboard learns where a run it launched writes.
pub const RUN_DIR_PREFIX: &str = "run-dir: ";

/// Columns every metrics.csv starts with, in order.
pub const BASE_COLUMNS: [&str; 7] = ["iter", "evals", "elapsed_s", "total", "content", "style", "tv"];
/// Loss-weight columns, written after the per-layer ones.
pub const WEIGHT_COLUMNS: [&str; 3] = ["content_weight", "style_weight", "tv_weight"];
/// The image's size at this row (multi-scale runs change it), written last.
pub const SIZE_COLUMNS: [&str; 2] = ["width", "height"];

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

/// A loss weight, by its metrics column: what steering changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    /// `content_weight`.
    Content,
    /// `style_weight`.
    Style,
    /// `tv_weight` (total variation, the smoothness term).
    Tv,
}

impl Term {
    /// Every term, in column order.
    pub const ALL: [Term; 3] = [Term::Content, Term::Style, Term::Tv];

    /// The weight's column in metrics.csv and its key in `[loss]`.
    pub fn weight_key(self) -> &'static str {
        match self {
            Term::Content => "content_weight",
            Term::Style => "style_weight",
            Term::Tv => "tv_weight",
        }
    }

    /// The term a weight key stands for; `None` for anything but the three
    /// keys [`Term::weight_key`] returns.
    pub fn from_name(name: &str) -> Option<Term> {
        Term::ALL.into_iter().find(|t| t.weight_key() == name)
    }
}

/// One row of metrics.csv: the losses after an optimizer step.
///
/// Built by the engine from each evaluation, written by the run-folder sink
/// and read back by review and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer steps taken; 0 is the initial image.
    pub iter: u64,
    /// Cumulative function evaluations (forward + backward passes).
    pub evals: u64,
    /// Seconds since optimisation began (after images, weights and targets were
    /// ready), not counting pauses; written with 3 decimals.
    pub elapsed_s: f64,
    /// The weighted objective being minimised: each term times its weight,
    /// divided by the term's scale (1 unless `normalize = "running"`).
    pub total: f64,
    /// Σ_l w_l·content_l (unweighted by content_weight).
    pub content: f64,
    /// Σ_l w_l·style_l over the style layers (unweighted by style_weight).
    pub style: f64,
    /// Total variation of the image (unweighted by tv_weight).
    pub tv: f64,
    /// Raw per-layer losses, in the order of [`MetricsHeader::layers`].
    pub layers: Vec<f64>,
    /// The weight in force for this row (steering may change it); NaN when
    /// read from an older file without weight columns.
    pub content_weight: f64,
    /// As `content_weight`, for the style term.
    pub style_weight: f64,
    /// As `content_weight`, for the tv term.
    pub tv_weight: f64,
    /// The image's size at this row, px; 0 when read from an older file
    /// without size columns.
    pub width: u32,
    pub height: u32,
}

/// Which columns a metrics.csv holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsHeader {
    /// Per-layer column names: `content:relu4_2`, `style:relu1_1`, …
    pub layers: Vec<String>,
    /// Whether the loss-weight columns are present (older files lack them).
    pub has_weights: bool,
    /// Whether the width and height columns are present (older files lack them).
    pub has_size: bool,
}

impl MetricsHeader {
    /// A header for a new file: these per-layer columns, with weight columns.
    pub fn new(layers: Vec<String>) -> Self {
        MetricsHeader {
            layers,
            has_weights: true,
            has_size: true,
        }
    }

    /// Column names in file order: [`BASE_COLUMNS`], the per-layer columns,
    /// then [`WEIGHT_COLUMNS`] if `has_weights` and [`SIZE_COLUMNS`] if `has_size`.
    pub fn columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = BASE_COLUMNS.iter().map(|s| s.to_string()).collect();
        cols.extend(self.layers.iter().cloned());
        if self.has_weights {
            cols.extend(WEIGHT_COLUMNS.iter().map(|s| s.to_string()));
        }
        if self.has_size {
            cols.extend(SIZE_COLUMNS.iter().map(|s| s.to_string()));
        }
        cols
    }

    /// Reads a header line's fields. Unknown columns are ignored; the base
    /// columns must be there.
    ///
    /// Every field containing `:` counts as a per-layer column, in file order.
    /// The error names the first missing base column.
    pub fn parse(fields: &[&str]) -> Result<Self, String> {
        for base in BASE_COLUMNS {
            if !fields.contains(&base) {
                return Err(format!("metrics header lacks the '{base}' column"));
            }
        }
        let layers = fields
            .iter()
            .filter(|f| f.contains(':'))
            .map(|f| f.to_string())
            .collect();
        let has_weights = WEIGHT_COLUMNS.iter().all(|w| fields.contains(w));
        let has_size = SIZE_COLUMNS.iter().all(|w| fields.contains(w));
        Ok(MetricsHeader {
            layers,
            has_weights,
            has_size,
        })
    }
}

/// Reads metrics rows: the column positions come from the header line
/// once, not from a name lookup per field per row.
#[derive(Debug, Clone)]
pub struct MetricsReader {
    /// The columns the header line named.
    pub header: MetricsHeader,
    /// Fields per line; a row with any other count is rejected.
    width: usize,
    /// Field index of each of [`BASE_COLUMNS`], in that order.
    base: [usize; 7],
    /// Field index of each per-layer column, in `header.layers` order.
    layers: Vec<usize>,
    /// Field indices of [`WEIGHT_COLUMNS`], when the file has them.
    weights: Option<[usize; 3]>,
    /// Field indices of [`SIZE_COLUMNS`], when the file has them.
    size: Option<[usize; 2]>,
}

impl MetricsReader {
    /// From a metrics.csv header line (a trailing `\r`/`\n` is allowed).
    /// Fails with [`MetricsHeader::parse`]'s message when a base column is missing.
    pub fn new(header_line: &str) -> Result<Self, String> {
        let names: Vec<&str> = header_line.trim_end_matches(['\r', '\n']).split(',').collect();
        let mut header = MetricsHeader::parse(&names)?;
        let at = |name: &str| names.iter().position(|n| *n == name).expect("parse checked the column");
        let base = BASE_COLUMNS.map(at);
        let layers = header.layers.iter().map(|l| at(l)).collect();
        // Column names are shown on terminals: no escapes from a hand-made file.
        header.layers = header.layers.iter().map(|l| printable(l)).collect();
        let weights = header.has_weights.then(|| WEIGHT_COLUMNS.map(at));
        let size = header.has_size.then(|| SIZE_COLUMNS.map(at));
        Ok(MetricsReader {
            header,
            width: names.len(),
            base,
            layers,
            weights,
            size,
        })
    }

    /// One row of the file (a trailing `\r`/`\n` is allowed).
    ///
    /// Fails when the field count differs from the header's (a line cut short)
    /// or a field is not a number; the message gives the 1-based column.
    /// `iter` and `evals` are parsed as `f64` and truncated.
    pub fn row(&self, line: &str) -> Result<StepMetrics, String> {
        let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split(',').collect();
        if fields.len() != self.width {
            return Err(format!("row has {} fields, header has {}", fields.len(), self.width));
        }
        let get = |i: usize| -> Result<f64, String> {
            fields[i]
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("'{}' in column {} is not a number", fields[i], i + 1))
        };
        let [iter, evals, elapsed_s, total, content, style, tv] = self.base;
        let (cw, sw, tw) = match self.weights {
            Some([c, s, t]) => (get(c)?, get(s)?, get(t)?),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let (width, height) = match self.size {
            Some([w, h]) => (get(w)? as u32, get(h)? as u32),
            None => (0, 0),
        };
        Ok(StepMetrics {
            iter: get(iter)? as u64,
            evals: get(evals)? as u64,
            elapsed_s: get(elapsed_s)?,
            total: get(total)?,
            content: get(content)?,
            style: get(style)?,
            tv: get(tv)?,
            layers: self.layers.iter().map(|&i| get(i)).collect::<Result<_, _>>()?,
            content_weight: cw,
            style_weight: sw,
            tv_weight: tw,
            width,
            height,
        })
    }
}

impl StepMetrics {
    /// The CSV fields, in the order of `header.columns()`.
    ///
    /// `layers` must match `header.layers` in length; losses and weights use
    /// the shortest text that reads back to the same `f64`.
    pub fn to_fields(&self, header: &MetricsHeader) -> Vec<String> {
        let mut out = vec![
            self.iter.to_string(),
            self.evals.to_string(),
            format!("{:.3}", self.elapsed_s),
            fmt_f64(self.total),
            fmt_f64(self.content),
            fmt_f64(self.style),
            fmt_f64(self.tv),
        ];
        out.extend(self.layers.iter().map(|&v| fmt_f64(v)));
        if header.has_weights {
            out.extend([self.content_weight, self.style_weight, self.tv_weight].map(fmt_f64));
        }
        if header.has_size {
            out.extend([self.width.to_string(), self.height.to_string()]);
        }
        out
    }

    /// The value of a named column (`total`, `style:relu1_1`, …); `None` for
    /// a column the header does not have. `header` must be the one this row
    /// was read with.
    pub fn value(&self, header: &MetricsHeader, column: &str) -> Option<f64> {
        match column {
            "iter" => Some(self.iter as f64),
            "evals" => Some(self.evals as f64),
            "elapsed_s" => Some(self.elapsed_s),
            "total" => Some(self.total),
            "content" => Some(self.content),
            "style" => Some(self.style),
            "tv" => Some(self.tv),
            "content_weight" => Some(self.content_weight),
            "style_weight" => Some(self.style_weight),
            "tv_weight" => Some(self.tv_weight),
            "width" if header.has_size => Some(self.width as f64),
            "height" if header.has_size => Some(self.height as f64),
            other => header.layers.iter().position(|l| l == other).map(|i| self.layers[i]),
        }
    }
}

/// Shortest text that reads back to the same f64.
fn fmt_f64(v: f64) -> String {
    if v.is_finite() { format!("{v:e}") } else { v.to_string() }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Started and not yet ended, or its process died before writing the end
    /// (check `Summary::pid`).
    Running,
    /// Ran all its iterations, or the optimizer converged before that.
    Completed,
    /// Ended early on request (a stop command or a signal).
    Stopped,
    /// Ended by an error; `Summary::error` says why.
    Failed,
    /// Ended early because the optimizer could take no step that lowered
    /// the loss while the gradient was still far from zero (the loss's
    /// noise hid its decrease, mostly); `Summary::error` says where and why.
    Stalled,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Stalled => "stalled",
        })
    }
}

/// Final loss values. Non-finite values (a run that blew up) are stored as
/// the strings "inf", "-inf" and "NaN", which JSON numbers cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    /// As [`StepMetrics::total`].
    #[serde(with = "any_f64")]
    pub total: f64,
    /// As [`StepMetrics::content`].
    #[serde(with = "any_f64")]
    pub content: f64,
    /// As [`StepMetrics::style`].
    #[serde(with = "any_f64")]
    pub style: f64,
    /// As [`StepMetrics::tv`].
    #[serde(with = "any_f64")]
    pub tv: f64,
}

/// f64 in JSON, infinities and NaN included.
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

mod any_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// A finite value as a JSON number, any other as its `Display` text.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_str(&v.to_string())
        }
    }

    /// What a score may be stored as: a number, text (`"NaN"`, `"inf"`), or null.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
        Null(()),
    }

    /// A number, or text that parses as one; unparsable text and `null`
    /// (older files) read as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Number(v) => v,
            Repr::Text(t) => t.parse().unwrap_or(f64::NAN),
            Repr::Null(()) => f64::NAN,
        })
    }
}

/// summary.json: written when a run starts and again when it ends.
///
/// The engine fills it; the run-folder sink writes it atomically, so a
/// reader sees either the starting or the final version, never half of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The experiment's name (unslugged).
    pub name: String,
    /// `running` in the file written at start; how it ended in the final one.
    pub status: Status,
    /// Why the run failed or stalled; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub started: String,
    /// RFC 3339; absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Steps asked for.
    pub iterations: u64,
    /// Function evaluations (forward + backward passes) so far.
    pub evals: u64,
    /// [`StepMetrics::elapsed_s`] of the last recorded step (pauses excluded).
    pub wall_s: f64,
    /// `wall_s / steps`; 0 before the first step.
    pub seconds_per_step: f64,
    /// The device in words, e.g. `cpu (2 threads)`.
    pub device: String,
    /// The libtorch version the binary was built against.
    pub libtorch: String,
    /// This crate's version.
    pub stylelab: String,
    /// Path of the weights file, as configured.
    pub weights: String,
    /// SHA-256 of the weights file, lower-case hex.
    pub weights_sha256: String,
    /// SHA-256 of each input image (content, styles, masks) by path, as
    /// the run read them: `score` warns when one changed since.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images_sha256: BTreeMap<String, String>,
    /// The experiment's seed (it seeds the noise initial image).
    pub seed: u64,
    /// Width of the generated image, px; 0 when the run failed before its
    /// images were loaded.
    pub width: u32,
    /// Height of the generated image, px.
    pub height: u32,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mib: f64,
    /// Peak GPU memory of the process as NVML reports it (CUDA context and
    /// the allocator's pool), sampled every half second, MiB; GPU runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_gpu_mib: Option<f64>,
    /// The losses of the last recorded step; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_losses: Option<Losses>,
    /// The process that runs it, while running: lets a reader tell a live
    /// run from one whose process died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What the network's convolutions ran in: `fp32`, `bf16` or `fp16`
    /// (runs from before precision existed: `fp32`).
    #[serde(default = "fp32")]
    pub precision: String,
    /// How the network was stored and why: `channels_last (measured: …)`.
    /// Empty for runs from before this was recorded.
    #[serde(default)]
    pub memory_format: String,
    /// Seconds from the process's start (libraries loaded, images and
    /// weights read, memory format chosen, targets computed) to the start of
    /// the first evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_to_first_evaluation: Option<f64>,
    /// Seconds from the process's start to the end of the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_to_first_step: Option<f64>,
    /// Reads from the device per optimizer step, snapshots included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_reads_per_step: Option<f64>,
    /// The scales of a multi-scale run, coarse to fine (one for a
    /// single-scale run; none in runs from before scales existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scales: Vec<Scale>,
    /// Each style layer's statistic (`gram`, `mean_std`, `histogram`,
    /// `sliced_wasserstein`); empty in runs from before there was a choice
    /// (all Gram).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub style_losses: std::collections::BTreeMap<String, String>,
    /// The regions' names, when the run had a mask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// The final image measured with the yardstick (`engine::score`): at
    /// the end of the run, or by `stylelab score`. None before either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// The sweep this run is a point of; absent for a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepMember>,
    /// The host the run ran on (runs from before this was recorded: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `PYTORCH_CUDA_ALLOC_CONF` as the run's CUDA allocator read it (stylelab
    /// sets expandable segments unless told otherwise); CUDA runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_alloc_conf: Option<String>,
    /// `CUDA_VISIBLE_DEVICES` as the run saw it — the GPU a scheduler
    /// assigned; `cuda:0` is its first entry. Absent when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_devices: Option<String>,
}

/// Which sweep a run is a point of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepMember {
    /// The sweep's (base experiment's) name; points are `<name>-pNNN`.
    pub name: String,
    /// This point, 0-based.
    pub point: usize,
    /// How many points the sweep has.
    pub points: usize,
}

/// A result measured against its own content and style images with a
/// definition that does not depend on the run's configuration (see
/// `engine::score`), so that any two runs scored alike compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The yardstick's version.
    pub version: u32,
    /// The scoring size (longest side), px.
    pub size: u32,
    /// The weights file scored with: runs compare only when it is the same.
    pub weights_sha256: String,
    /// The layer `content_dist` uses, and those `style_dist` averages.
    pub content_layer: String,
    pub style_layers: Vec<String>,
    /// ‖F(out) − F(c)‖² / ‖F(c)‖²: 0 for the content itself.
    #[serde(with = "any_f64")]
    pub content_dist: f64,
    /// Mean over the style layers of ‖G(out) − T‖² / ‖T‖².
    #[serde(with = "any_f64")]
    pub style_dist: f64,
    /// Sliced Wasserstein-2 distance of OKLab colours to the style's.
    #[serde(with = "any_f64")]
    pub color_dist: f64,
    /// Structural similarity of the output's luma to the content's: 1 for
    /// the content itself.
    #[serde(with = "any_f64")]
    pub ssim: f64,
}

impl Scores {
    /// The four numbers, by name: `content_dist`, `style_dist`,
    /// `color_dist`, `ssim`.
    pub const NAMES: [&'static str; 4] = ["content_dist", "style_dist", "color_dist", "ssim"];

    /// The value of one of [`Scores::NAMES`].
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "content_dist" => Some(self.content_dist),
            "style_dist" => Some(self.style_dist),
            "color_dist" => Some(self.color_dist),
            "ssim" => Some(self.ssim),
            _ => None,
        }
    }
}

/// One scale of a run: its size and how many steps it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// The longest side asked for, px.
    pub size: u32,
    /// The image's size at this scale, px (the content's aspect).
    pub width: u32,
    pub height: u32,
    /// Steps at this scale.
    pub iterations: u64,
    /// The run's step count when this scale begins (0 for the first).
    pub from_step: u64,
}

impl Summary {
    /// Makes every text field [`printable`].
    fn defang(&mut self) {
        for text in [
            &mut self.name,
            &mut self.started,
            &mut self.device,
            &mut self.libtorch,
            &mut self.stylelab,
            &mut self.weights,
            &mut self.weights_sha256,
            &mut self.precision,
            &mut self.memory_format,
        ] {
            *text = printable(text);
        }
        for text in [
            &mut self.error,
            &mut self.finished,
            &mut self.host,
            &mut self.visible_devices,
        ]
        .into_iter()
        .flatten()
        {
            *text = printable(text);
        }
        if let Some(m) = &mut self.sweep {
            m.name = printable(&m.name);
        }
    }

    /// `512×341`, or `256→512→1024` (longest sides) for a multi-scale run.
    pub fn size_text(&self) -> String {
        if self.scales.len() > 1 {
            self.scales
                .iter()
                .map(|s| s.size.to_string())
                .collect::<Vec<_>>()
                .join("→")
        } else {
            format!("{}×{}", self.width, self.height)
        }
    }
}

/// serde's default precision for summaries written before precision was recorded.
fn fp32() -> String {
    "fp32".into()
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

/// Reads summary.json from a run folder. Use [`RecordError::is_missing`]
/// to tell a folder without one from a broken file. Its texts come back
/// [`printable`]: a folder written by hand cannot put escapes on a terminal.
pub fn read_summary(dir: &Path) -> Result<Summary, RecordError> {
    let (path, text) = read_text(RunPaths::new(dir).summary())?;
    let mut summary: Summary = serde_json::from_str(&text).map_err(|e| RecordError::Invalid {
        path,
        message: e.to_string(),
    })?;
    summary.defang();
    Ok(summary)
}

/// Rows of a metrics file: the header, the rows, and a note when the last
/// line was cut short and left out.
pub type Metrics = (MetricsHeader, Vec<StepMetrics>, Option<String>);

/// Reads metrics.csv, tolerating a last line cut short by a crash or a run
/// still writing.
///
/// `Invalid` when the file is empty, its header lacks a base column, or a
/// line other than the last non-blank one is malformed.
pub fn read_metrics(dir: &Path) -> Result<Metrics, RecordError> {
    let (path, text) = read_text(RunPaths::new(dir).metrics())?;
    parse_metrics(&text).map_err(|message| RecordError::Invalid { path, message })
}

/// Parses metrics.csv text (see [`read_metrics`]). Blank lines are skipped;
/// line numbers in messages count the header as line 1.
pub fn parse_metrics(text: &str) -> Result<Metrics, String> {
    let mut lines = text.split('\n');
    let head_line = lines.next().filter(|l| !l.trim().is_empty()).ok_or("empty file")?;
    let reader = MetricsReader::new(head_line)?;
    let mut rows = Vec::new();
    let mut note = None;
    let body: Vec<&str> = lines.collect();
    for (i, line) in body.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match reader.row(line) {
            Ok(row) => rows.push(row),
            // A partial last line: the writer was cut off mid-row.
            Err(e) if body[i + 1..].iter().all(|l| l.trim().is_empty()) => {
                note = Some(format!("last line {} is incomplete ({e}); ignored", i + 2));
            }
            Err(e) => return Err(format!("line {}: {e}", i + 2)),
        }
    }
    Ok((reader.header, rows, note))
}

/// Writes `scores.csv`: `iter,content_dist,style_dist,color_dist,ssim`.
pub fn write_step_scores(dir: &Path, rows: &[(u64, Scores)]) -> anyhow::Result<()> {
    let mut text = format!("iter,{}\n", Scores::NAMES.join(","));
    for (iter, s) in rows {
        let values: Vec<String> = Scores::NAMES
            .iter()
            .map(|n| fmt_f64(s.get(n).unwrap_or(f64::NAN)))
            .collect();
        text += &format!("{iter},{}\n", values.join(","));
    }
    // Replace by rename: a scores.csv planted as a link is replaced, never written through.
    crate::files::write_atomic(&RunPaths::new(dir).dir.join(SCORES_FILE), text.as_bytes())
}

/// Reads `scores.csv`: (step, score) points of one of [`Scores::NAMES`];
/// None when the run's snapshots were never scored.
pub fn read_step_scores(dir: &Path, name: &str) -> Option<Vec<(f64, f64)>> {
    let text =
        crate::files::read_text_bounded(&RunPaths::new(dir).dir.join(SCORES_FILE), crate::files::TEXT_LIMIT).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = header.iter().position(|h| *h == name)?;
    Some(
        lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Some((f.first()?.parse().ok()?, f.get(col)?.parse().ok()?))
            })
            .collect(),
    )
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

    fn row(iter: u64) -> StepMetrics {
        StepMetrics {
            iter,
            evals: iter * 2,
            elapsed_s: 0.5,
            total: 123.25,
            content: 1.0,
            style: 2.0e-7,
            tv: 3.0,
            layers: vec![0.1, 0.2],
            content_weight: 5.0,
            style_weight: 100.0,
            tv_weight: 1e-3,
            width: 0,
            height: 0,
        }
    }

    #[test]
    fn rows_round_trip_through_text() {
        let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
        let mut text = header.columns().join(",") + "\n";
        for i in 0..3 {
            text += &(row(i).to_fields(&header).join(",") + "\n");
        }
        let (h, rows, note) = parse_metrics(&text).unwrap();
        assert_eq!(h, header);
        assert_eq!(rows, vec![row(0), row(1), row(2)]);
        assert_eq!(note, None);
        assert_eq!(rows[1].value(&h, "style:relu1_1"), Some(0.2));
    }

    #[test]
    fn a_cut_last_line_is_dropped_with_a_note() {
        let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
        let text = format!(
            "{}\n{}\n0,1,2",
            header.columns().join(","),
            row(0).to_fields(&header).join(",")
        );
        let (_, rows, note) = parse_metrics(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(note.unwrap().contains("line 3 is incomplete"));
    }

    #[test]
    fn non_finite_losses_survive_json() {
        let l = Losses {
            total: f64::INFINITY,
            content: 1.5,
            style: f64::NAN,
            tv: f64::NEG_INFINITY,
        };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(text, r#"{"total":"inf","content":1.5,"style":"NaN","tv":"-inf"}"#);
        let back: Losses = serde_json::from_str(&text).unwrap();
        assert!(back.total.is_infinite() && back.style.is_nan() && back.tv < 0.0 && back.content == 1.5);
        let old: Losses = serde_json::from_str(r#"{"total":null,"content":1,"style":2,"tv":3}"#).unwrap();
        assert!(old.total.is_nan());
    }

    #[test]
    fn older_files_without_weight_columns_load() {
        let text = "iter,evals,elapsed_s,total,content,style,tv,style:relu1_1\n0,1,0.1,5,1,2,3,0.5\n";
        let (h, rows, _) = parse_metrics(text).unwrap();
        assert!(!h.has_weights);
        assert_eq!(rows[0].layers, vec![0.5]);
        assert!(rows[0].style_weight.is_nan());
    }
}
