//! summary.json: what a run is and how it ended — written when it starts
//! and again when it ends — with its scores and its place in a sweep.

use super::{RecordError, RunPaths, printable, read_text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Started and not yet ended, or its process died before writing the end
    /// (check `Summary::pid`).
    Running,
    /// Ran all its iterations.
    Completed,
    /// Ended before its iterations because it had converged: the loss
    /// stopped changing (`optim.stop`), or the optimizer found no descent
    /// left; `Summary::why` says which, and at what step.
    Converged,
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
            Status::Converged => "converged",
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
    /// As [`StepMetrics::total`](super::StepMetrics::total).
    #[serde(with = "any_f64")]
    pub total: f64,
    /// As [`StepMetrics::content`](super::StepMetrics::content).
    #[serde(with = "any_f64")]
    pub content: f64,
    /// As [`StepMetrics::style`](super::StepMetrics::style).
    #[serde(with = "any_f64")]
    pub style: f64,
    /// As [`StepMetrics::tv`](super::StepMetrics::tv).
    #[serde(with = "any_f64")]
    pub tv: f64,
}

/// f64 in JSON, infinities and NaN included.
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
    /// Why a run that did not fail ended before its iterations (converged:
    /// the rule and the step); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
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
    /// [`StepMetrics::elapsed_s`](super::StepMetrics::elapsed_s) of the last recorded step (pauses excluded).
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
    /// The share of the final image's values (before saving) outside
    /// [0, 1], which final.png clamps: the losses are the unclamped
    /// image's, the scores the saved one's. Absent with `optim.bounds =
    /// "box"` (the losses are the clamped image's), in runs recorded
    /// before it existed and in runs that kept no image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipped: Option<f64>,
    /// The process that runs it, while running: lets a reader tell a live
    /// run from one whose process died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What the network's convolutions ran in: `fp32`, `bf16` or `fp16`
    /// (runs from before precision existed: `fp32`).
    #[serde(default = "fp32")]
    pub precision: String,
    /// How `optim.precision = "auto"` chose `precision`, and why; absent
    /// when a precision was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_choice: Option<String>,
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
    /// What the seconds to the first evaluation went to, in order: before
    /// the engine (libtorch loaded, the experiment read and checked),
    /// hashing the inputs, decoding the images, loading the weights,
    /// choosing the memory format, the first scale's images and targets,
    /// the starting image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup: Vec<StartupPhase>,
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

/// A part of a run's start-up and its seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupPhase {
    /// What it did: `before the engine`, `image hashes`, `images`,
    /// `weights`, `memory format`, `starting image`, `targets`.
    pub what: String,
    /// Seconds it took.
    pub seconds: f64,
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
    /// How the scale was evaluated tile by tile; absent for one pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiling: Option<crate::memory::TileChoice>,
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
            &mut self.why,
            &mut self.precision_choice,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
