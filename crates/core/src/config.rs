//! First box of the pipeline: `experiments/*.toml` → [`Experiment`].
//!
//! The file is read into [`RawExperiment`] (serde, unknown keys rejected),
//! `--set key=value` overrides are applied to its value tree, and
//! [`Experiment::from_raw`] validates everything into the types the engine
//! uses. Every error names the file, the line and the key.
//!
//! This box is pure: it reads the experiment file and nothing else. Whether
//! the images decode, the weights fit and the device exists is checked by
//! the engine's `preflight` module (`stylelab_engine::preflight`), which
//! both `check` and `run` call.

mod locate;
pub mod raw;
pub mod sweep;
mod validate;

pub use locate::Locator;
pub use raw::{
    Bounds, MemoryFormat, Normalize, OptimizerKind, Pooling, Precision, Precondition, PreserveColors, RawExperiment,
    Schedule, StyleLoss, Tiling,
};

use crate::layer::Layer;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Written in the experiment file, at this line when known.
    File(Option<usize>),
    /// Given on the command line with `--set`.
    Override,
    /// A value of the file's `[sweep]` table, set on one point (its line
    /// in the table when known).
    Sweep(Option<usize>),
}

/// A problem with an experiment, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The experiment file, as given.
    pub file: PathBuf,
    /// The file (and line) or the command line.
    pub origin: Origin,
    /// Dotted key, e.g. `loss.style_layers.relu9_1`.
    pub key: Option<String>,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (&self.origin, &self.key) {
            (Origin::File(Some(line)), Some(key)) => write!(f, ":{line}: {key}: {}", self.message),
            (Origin::File(Some(line)), None) => write!(f, ":{line}: {}", self.message),
            (Origin::File(None), Some(key)) => write!(f, ": {key}: {}", self.message),
            (Origin::File(None), None) => write!(f, ": {}", self.message),
            (Origin::Override, key) => {
                write!(f, ": --set {}: {}", key.as_deref().unwrap_or("?"), self.message)
            }
            (Origin::Sweep(line), key) => {
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                write!(f, ": [sweep] {}: {}", key.as_deref().unwrap_or("?"), self.message)
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A key that failed validation, before it is located in the file.
#[derive(Debug)]
pub struct Invalid {
    /// Dotted key, e.g. `optim.history`.
    pub key: String,
    /// What is wrong with its value.
    pub message: String,
}

/// Shorthand for an [`Invalid`] about `key`.
pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// How the generated image starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Start from the content image (the default).
    Content,
    /// Uniform noise from the run's seed.
    Noise,
    /// Start from this image, resized to the first scale's size.
    Image(PathBuf),
}

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else CPU.
    Auto,
    /// The CPU, whatever GPU there is.
    Cpu,
    /// CUDA device N (`cuda` alone means 0); an error at setup if it does not exist.
    Cuda(usize),
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// `auto`, `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(DeviceChoice::Auto),
            "cpu" => Some(DeviceChoice::Cpu),
            "cuda" => Some(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda),
        }
    }
}

/// A style image and its blend weight.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleImage {
    /// Absolute path of the image.
    pub path: PathBuf,
    /// Its weight among the style images (>= 0); the Gram targets are
    /// blended in proportion.
    pub blend: f64,
}

/// A layer and its weight in a loss.
pub type WeightedLayers = Vec<(Layer, f64)>;

/// A style layer: its weight and the statistic it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StyleLayer {
    /// The layer.
    pub layer: Layer,
    /// Its weight in the style term, >= 0.
    pub weight: f64,
    /// The statistic compared there.
    pub loss: StyleLoss,
}

/// The content's regions: a mask image and the style of each of its colours.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    /// The mask, absolute; resized to the content's size when it differs.
    pub mask: PathBuf,
    /// By name.
    pub list: Vec<Region>,
}

/// One region: the pixels of the mask nearest its colour, and its style.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Its name in `[regions.NAME]`, metrics columns and messages.
    pub name: String,
    /// Its colour in the mask.
    pub color: [u8; 3],
    /// Its style images, with blends not all 0.
    pub styles: Vec<StyleImage>,
    /// Multiplies `loss.style_weight` here.
    pub style_weight: f64,
    /// One mask per style image (its pixels of `color` are the style), or
    /// none: the whole style images.
    pub style_masks: Vec<PathBuf>,
}

impl Experiment {
    /// Every image file the run reads: content, styles, the mask and the
    /// regions' styles and style masks, each once, in that order.
    pub fn input_images(&self) -> Vec<PathBuf> {
        let mut out = vec![self.content.clone()];
        out.extend(self.styles.iter().map(|s| s.path.clone()));
        if let Some(r) = &self.regions {
            out.push(r.mask.clone());
            for region in &r.list {
                out.extend(region.styles.iter().map(|s| s.path.clone()));
                out.extend(region.style_masks.iter().cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|p| seen.insert(p.clone()));
        out
    }
}

/// A validated experiment: what the engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The run's name: `name` from the file, else the file's stem.
    pub name: String,
    /// The experiment file this came from, as given.
    pub source: PathBuf,
    /// The content image, absolute.
    pub content: PathBuf,
    /// At least one, with blends not all 0; none when `regions` name the styles.
    pub styles: Vec<StyleImage>,
    /// A style per region of a mask, or None: one style everywhere.
    pub regions: Option<Regions>,
    /// Where the image starts.
    pub init: Init,
    /// Longest side of the output in pixels at each scale, increasing (one
    /// for a single-scale run).
    pub sizes: Vec<u32>,
    /// Style images' longest side relative to each size, in (0, 8].
    pub style_scale: f64,
    /// Whether and how the content's colours are kept.
    pub preserve_colors: PreserveColors,
    /// The VGG19 weights file, absolute.
    pub weights: PathBuf,
    /// The network's pooling.
    pub pooling: Pooling,
    /// How the network is stored; `Auto` is decided at the start of a run.
    pub memory_format: MemoryFormat,
    /// Whether scales are evaluated tile by tile (`Px` is a multiple of
    /// [`TILE_ALIGN`] within [`MIN_TILE`]..=[`MAX_TILED_SIZE`]).
    pub tile: Tiling,
    /// Term weights at the start, each finite and >= 0; steering changes the
    /// running objective's copy, not these.
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    /// Whether terms are divided by their own running magnitude.
    pub normalize: Normalize,
    /// In forward order.
    pub content_layers: WeightedLayers,
    /// The statistic style layers match unless they name their own.
    pub style_loss: StyleLoss,
    /// In forward order.
    pub style_layers: Vec<StyleLayer>,
    /// L-BFGS or Adam.
    pub optimizer: OptimizerKind,
    /// Steps at each scale (as many as `sizes`).
    pub iterations: Vec<u64>,
    /// Adam's step size or L-BFGS's step scale; > 0.
    pub learning_rate: f64,
    /// Curvature pairs L-BFGS keeps, 1..=1000.
    pub history: usize,
    /// Seed of the noise init.
    pub seed: u64,
    /// Where the run goes; see [`DeviceChoice`].
    pub device: DeviceChoice,
    /// What the network's convolutions run in (`Auto`: decided when the
    /// run starts, for its device).
    pub precision: Precision,
    /// How `sizes` and `iterations` were chosen (with `CoarseToFine`, they
    /// are derived from one size and one step count).
    pub schedule: Schedule,
    /// When a scale ends before its steps because the loss stopped
    /// changing; None: never.
    pub stop: Option<Stop>,
    /// L-BFGS's preconditioner.
    pub precondition: Precondition,
    /// Whether the image is kept in [0, 1] while optimised.
    pub bounds: Bounds,
    /// 0 = never.
    pub snapshot_every: u64,
    /// The folder run folders are made in, absolute.
    pub results: PathBuf,
    /// Score the final image when the run ends (`output.score`).
    pub score: bool,
    /// Write a TensorBoard event file in the run folder (`output.tensorboard`).
    pub tensorboard: bool,
    /// The `[sweep]` table as written, for `stylelab sweep`; a run ignores
    /// it. [`sweep::SweepSpec::load`] expands it and checks every point.
    pub sweep: Option<toml::Table>,
    /// Values set over the file's (`--set`, a sweep point's values), for
    /// locating errors found later.
    pub overridden: Vec<Override>,
}

/// `optim.stop`, validated: a scale ends when its total loss fell by less
/// than `rel_change` (relative) over the last `window` steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    /// In (0, 0.5].
    pub rel_change: f64,
    /// In 2..=100 000.
    pub window: u64,
}

/// Largest accepted `images.size` evaluated in one pass (`model.tile =
/// "off"`, or a style statistic that cannot be tiled).
pub const MAX_SIZE: i64 = 8192;
/// Largest accepted `images.size` when scales may be tiled.
pub const MAX_TILED_SIZE: i64 = 32768;
/// `model.tile` in pixels is a multiple of this: VGG19's four poolings
/// before relu5_1 (tiles start on them).
pub const TILE_ALIGN: i64 = 16;
/// The smallest `model.tile` in pixels.
pub const MIN_TILE: i64 = 64;
/// Smallest accepted `images.size`: VGG19's four poolings need room.
pub const MIN_SIZE: i64 = 16;

/// A value set over the experiment file's: `--set key=value` on the
/// command line, or one point's value of the file's `[sweep]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key, e.g. `loss.style_weight`; tables may be set whole.
    pub key: String,
    /// The value: TOML when it parses as TOML, else a plain string.
    pub value: toml::Value,
    /// Written in the experiment file's `[sweep]` table: relative paths
    /// resolve against the file's folder, as the rest of the file's do.
    /// Otherwise it came from the command line, and they resolve against
    /// the current folder.
    pub from_file: bool,
}

impl Override {
    /// Parses `loss.style_weight=1e3`. The value is read as TOML, and as a
    /// plain string when it is not valid TOML (`images.content=cat.png`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s}: expected KEY=VALUE, e.g. loss.style_weight=1e3"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("--set {s}: '{key}' is not a dotted key"));
        }
        let value = value.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
            from_file: false,
        })
    }

    /// A value of the experiment file's `[sweep]` table.
    pub fn from_sweep(key: &str, value: toml::Value) -> Self {
        Override {
            key: key.to_string(),
            value,
            from_file: true,
        }
    }

    /// Whether this override sets `key` (or a table holding it).
    fn covers(&self, key: &str) -> bool {
        key == self.key
            || key
                .strip_prefix(self.key.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// Sets the value at the dotted key in `table`, making missing tables on
    /// the way; fails when a parent on the path is a value, not a table.
    fn apply(&self, table: &mut toml::Table) -> Result<(), String> {
        let parts: Vec<&str> = self.key.split('.').collect();
        let (last, parents) = parts.split_last().expect("keys are never empty");
        let mut cur = table;
        for p in parents {
            let entry = cur
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            cur = entry.as_table_mut().ok_or_else(|| format!("'{p}' is not a table"))?;
        }
        cur.insert(last.to_string(), self.value.clone());
        Ok(())
    }
}

/// The largest loss weight: the loss is computed in fp32 (at most 3.4e38),
/// and a weight above 1e30 overflows it for any term above 3.4e8 — a
/// plain Gram loss at the first step. Weights only count by their ratios,
/// so no experiment needs more.
pub const MAX_WEIGHT: f64 = 1e30;

/// Why a weight above [`MAX_WEIGHT`] is refused (by `check` and by steering).
pub fn too_large_weight(w: f64) -> String {
    format!(
        "{w:e} is too large: above {MAX_WEIGHT:e} a weighted loss term overflows fp32 (3.4e38); \
         only the weights' ratios count, so lower the others instead"
    )
}

/// The most an experiment file may hold: a thousand times a long one.
pub const EXPERIMENT_LIMIT: u64 = 4 << 20;

/// Reads and validates an experiment file, with command-line overrides.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Experiment, ConfigError> {
    // Non-blocking and bounded: a FIFO or /dev/zero named *.toml is refused at once.
    let src = crate::files::read_text_bounded(path, EXPERIMENT_LIMIT).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        origin: Origin::File(None),
        key: None,
        message: format!("cannot read the experiment file: {e}"),
    })?;
    parse(path, &src, overrides)
}

/// Validates experiment text that was read from `path`.
pub fn parse(path: &Path, src: &str, overrides: &[Override]) -> Result<Experiment, ConfigError> {
    let locator = Locator::new(src);
    let file_error = |key: Option<String>, line: Option<usize>, message: String| ConfigError {
        file: path.to_path_buf(),
        origin: Origin::File(line),
        key,
        message,
    };
    let raw: RawExperiment = toml::from_str(src).map_err(|e| {
        let start = e.span().map(|s| s.start);
        let key = start.and_then(|s| locator.key_at(s));
        file_error(key, start.map(|s| locator.line_of(s)), tidy_serde_message(e.message()))
    })?;
    let raw = apply_overrides(path, src, raw, overrides)?;
    // The last override of a key is the one in force.
    let setter = |key: &str| overrides.iter().rev().find(|o| o.covers(key));
    let from_cli = |key: &str| setter(key).is_some_and(|o| !o.from_file);
    let exp = Experiment::from_raw(path, raw, &from_cli).map_err(|inv| match setter(&inv.key) {
        Some(o) => ConfigError {
            file: path.to_path_buf(),
            origin: if o.from_file {
                Origin::Sweep(locator.line_of_sweep_key(&o.key))
            } else {
                Origin::Override
            },
            key: Some(inv.key),
            message: inv.message,
        },
        None => {
            let line = locator.line_of_key(&inv.key);
            file_error(Some(inv.key), line, inv.message)
        }
    })?;
    Ok(Experiment {
        overridden: overrides.to_vec(),
        ..exp
    })
}

/// Applies `--set` overrides to the file's value tree and re-reads it into
/// a [`RawExperiment`], one at a time so an error names the override that
/// caused it. With no overrides, `raw` comes back unchanged.
fn apply_overrides(
    path: &Path,
    src: &str,
    raw: RawExperiment,
    overrides: &[Override],
) -> Result<RawExperiment, ConfigError> {
    if overrides.is_empty() {
        return Ok(raw);
    }
    let mut table: toml::Table = toml::from_str(src).expect("the text parsed once already");
    let mut raw = raw;
    // One at a time, so a bad override is named.
    for o in overrides {
        let err = |message: String| ConfigError {
            file: path.to_path_buf(),
            origin: if o.from_file {
                Origin::Sweep(Locator::new(src).line_of_sweep_key(&o.key))
            } else {
                Origin::Override
            },
            key: Some(o.key.clone()),
            message,
        };
        o.apply(&mut table).map_err(err)?;
        raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| err(tidy_serde_message(e.message())))?;
    }
    Ok(raw)
}

/// serde's messages quote with backticks; ours with single quotes.
fn tidy_serde_message(msg: &str) -> String {
    msg.trim().replace('`', "'")
}

/// A TOML table as dotted keys and their (non-table) values, in order:
/// `[loss.style_layers] relu1_1 = 1.0` → `("loss.style_layers.relu1_1", 1.0)`.
pub fn dotted_keys(table: &toml::Table) -> Vec<(String, toml::Value)> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                other => out.push((key, other.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", table, &mut out);
    out
}

/// The project folder of an experiment file: the parent of `experiments/`
/// when the file lives there, else the file's own folder. Defaults such as
/// `weights/…` and `results` resolve against it.
pub fn project_root(file: &Path) -> PathBuf {
    let dir = file_dir(file);
    if dir.file_name().is_some_and(|n| n == "experiments") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// The project folder `start` is in, found as git finds its repository:
/// `start` or the nearest folder above it that holds `experiments/` or
/// `results/` (a folder named `experiments` counts as inside its parent).
/// None when no folder up to the root does.
pub fn find_project(start: &Path) -> Option<PathBuf> {
    let start = absolute(start);
    start
        .ancestors()
        .find(|d| {
            d.file_name().is_none_or(|n| n != "experiments")
                && (d.join("experiments").is_dir() || d.join("results").is_dir())
        })
        .map(Path::to_path_buf)
}

/// The folder of a file, absolute: a bare name (`my.toml`, whose parent is
/// the empty path) lives in the current folder, like `./my.toml`.
pub fn file_dir(file: &Path) -> PathBuf {
    absolute(file.parent().unwrap_or(Path::new("")))
}

/// `path` made absolute against the current directory and lexically
/// cleaned (`a/../b` → `b`), without touching the file system. The empty
/// path is the current directory.
pub fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    clean(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Removes `.` and `dir/..` components without touching the file system.
pub fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Default weights path, relative to the project root.
pub const DEFAULT_WEIGHTS: &str = "weights/vgg19-caffe.safetensors";

impl Experiment {
    /// Steps over all scales.
    pub fn total_iterations(&self) -> u64 {
        self.iterations.iter().sum()
    }

    /// The longest side of the output at the last scale.
    pub fn final_size(&self) -> u32 {
        self.sizes.last().copied().unwrap_or(0)
    }

    /// `512`, or `256 → 512 → 1024` for a multi-scale run.
    pub fn describe_sizes(&self) -> String {
        self.sizes.iter().map(u32::to_string).collect::<Vec<_>>().join(" → ")
    }

    /// Every selected layer, content and style, in forward order, once each.
    pub fn layers(&self) -> Vec<Layer> {
        crate::layer::in_forward_order(
            self.content_layers
                .iter()
                .map(|(l, _)| *l)
                .chain(self.style_layers.iter().map(|s| s.layer)),
        )
    }

    /// The style layers and their weights.
    pub fn style_weights(&self) -> WeightedLayers {
        self.style_layers.iter().map(|s| (s.layer, s.weight)).collect()
    }

    /// The style layers by statistic: `gram relu1_1 relu2_1`, or with
    /// several `gram relu1_1; histogram relu3_1`.
    pub fn describe_style_losses(&self) -> String {
        let mut groups: Vec<(StyleLoss, Vec<String>)> = Vec::new();
        for s in &self.style_layers {
            match groups.iter_mut().find(|g| g.0 == s.loss) {
                Some(g) => g.1.push(s.layer.to_string()),
                None => groups.push((s.loss, vec![s.layer.to_string()])),
            }
        }
        groups
            .iter()
            .map(|(loss, layers)| format!("{loss} {}", layers.join(" ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One line per region: `sky (white) ← starry_night.jpg, ×2`.
    pub fn describe_regions(&self) -> Vec<String> {
        let Some(regions) = &self.regions else {
            return Vec::new();
        };
        let file = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        regions
            .list
            .iter()
            .map(|r| {
                let styles: Vec<String> = r
                    .styles
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let blend = if r.styles.len() > 1 {
                            format!(" ×{}", s.blend)
                        } else {
                            String::new()
                        };
                        match r.style_masks.get(i) {
                            Some(m) => format!("{}{blend} (masked by {})", file(&s.path), file(m)),
                            None => format!("{}{blend}", file(&s.path)),
                        }
                    })
                    .collect();
                let weight = if r.style_weight == 1.0 {
                    String::new()
                } else {
                    format!(", style ×{}", r.style_weight)
                };
                format!(
                    "{} ({}) ← {}{weight}",
                    r.name,
                    crate::mask::color_name(r.color),
                    styles.join(" + ")
                )
            })
            .collect()
    }

    /// Every style image the run reads, in every region, once each in order.
    pub fn all_styles(&self) -> Vec<&StyleImage> {
        match &self.regions {
            None => self.styles.iter().collect(),
            Some(r) => r.list.iter().flat_map(|r| &r.styles).collect(),
        }
    }

    /// The resolved experiment as TOML text (see [`Experiment::to_raw`]).
    pub fn to_toml(&self) -> String {
        // A run is one point: the sweep that made it is not part of it.
        let run = RawExperiment {
            sweep: None,
            ..self.to_raw()
        };
        toml::to_string_pretty(&run).unwrap_or_else(|e| format!("# cannot write the experiment as TOML: {e}\n"))
    }

    /// Where the value of `key` in force came from: the command line, a
    /// `[sweep]` value, or the file (at its line of `src`, when found).
    pub fn origin_of(&self, src: &str, key: &str) -> Origin {
        match self.overridden.iter().rev().find(|o| o.covers(key)) {
            Some(o) if o.from_file => Origin::Sweep(Locator::new(src).line_of_sweep_key(&o.key)),
            Some(_) => Origin::Override,
            None => Origin::File(Locator::new(src).line_of_key(key)),
        }
    }

    /// An error about `key` of this experiment, placed on its line of
    /// `src` (the experiment file's text), its `[sweep]` value or the
    /// command line.
    pub fn error_at(&self, src: &str, key: &str, message: impl Into<String>) -> ConfigError {
        let origin = self.origin_of(src, key);
        ConfigError {
            file: self.source.clone(),
            origin,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}
