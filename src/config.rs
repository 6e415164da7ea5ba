//! First box of the pipeline: `experiments/*.toml` → [`Experiment`].
//!
//! The file is read into [`RawExperiment`] (serde, unknown keys rejected),
//! `--set key=value` overrides are applied to its value tree, and
//! [`Experiment::from_raw`] validates everything into the types the engine
//! uses. Every error names the file, the line and the key.

mod locate;
pub mod raw;

pub use locate::Locator;
pub use raw::{Normalize, OptimizerKind, Pooling, RawExperiment};

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
}

/// A problem with an experiment, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub origin: Origin,
    /// Dotted key, e.g. `loss.style_layers.relu9_1`.
    pub key: Option<String>,
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
        }
    }
}

impl std::error::Error for ConfigError {}

/// A key that failed validation, before it is located in the file.
#[derive(Debug)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// How the generated image starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    Content,
    /// Uniform noise from the run's seed.
    Noise,
    Image(PathBuf),
}

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl DeviceChoice {
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
    pub path: PathBuf,
    pub blend: f64,
}

/// A layer and its weight in a loss.
pub type WeightedLayers = Vec<(Layer, f64)>;

/// A validated experiment: what the engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub name: String,
    /// The experiment file this came from, as given.
    pub source: PathBuf,
    pub content: PathBuf,
    pub styles: Vec<StyleImage>,
    pub init: Init,
    /// Longest side of the output in pixels.
    pub size: u32,
    pub style_scale: f64,
    pub weights: PathBuf,
    pub pooling: Pooling,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    pub normalize: Normalize,
    /// In forward order.
    pub content_layers: WeightedLayers,
    /// In forward order.
    pub style_layers: WeightedLayers,
    pub optimizer: OptimizerKind,
    pub iterations: u64,
    pub learning_rate: f64,
    pub history: usize,
    pub seed: u64,
    pub device: DeviceChoice,
    /// 0 = never.
    pub snapshot_every: u64,
    pub results: PathBuf,
    /// The raw experiment with defaults filled and paths made absolute:
    /// written as the run's `experiment.toml`.
    pub resolved: RawExperiment,
    /// Keys set with `--set`, for locating errors found later.
    pub overridden: Vec<String>,
}

/// Largest accepted `images.size`.
pub const MAX_SIZE: i64 = 8192;
/// Smallest accepted `images.size`: VGG19's four poolings need room.
pub const MIN_SIZE: i64 = 16;

/// An override from the command line: `key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: toml::Value,
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
        })
    }

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

/// Reads and validates an experiment file, with command-line overrides.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Experiment, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
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
    let overridden = |key: &str| {
        overrides
            .iter()
            .any(|o| key == o.key || key.starts_with(&format!("{}.", o.key)))
    };
    let exp = Experiment::from_raw(path, raw, &overridden).map_err(|inv| {
        if overridden(&inv.key) {
            ConfigError {
                file: path.to_path_buf(),
                origin: Origin::Override,
                key: Some(inv.key),
                message: inv.message,
            }
        } else {
            let line = locator.line_of_key(&inv.key);
            file_error(Some(inv.key), line, inv.message)
        }
    })?;
    Ok(Experiment {
        overridden: overrides.iter().map(|o| o.key.clone()).collect(),
        ..exp
    })
}

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
            origin: Origin::Override,
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
    let dir = absolute(file.parent().unwrap_or(Path::new(".")));
    if dir.file_name().is_some_and(|n| n == "experiments") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// `path` made absolute against the current directory and lexically
/// cleaned (`a/../b` → `b`), without touching the file system.
pub fn absolute(path: &Path) -> PathBuf {
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

fn check_weight(key: &str, w: f64) -> Result<f64, Invalid> {
    if !w.is_finite() {
        return Err(invalid(key, format!("{w} is not a finite number")));
    }
    if w < 0.0 {
        return Err(invalid(key, format!("{w} is negative; weights must be >= 0")));
    }
    Ok(w)
}

fn check_layers(key: &str, map: &std::collections::BTreeMap<String, f64>) -> Result<WeightedLayers, Invalid> {
    let mut out = Vec::with_capacity(map.len());
    for (name, &w) in map {
        let k = format!("{key}.{name}");
        let layer: Layer = name
            .parse()
            .map_err(|e: crate::layer::UnknownLayer| invalid(&k, e.to_string()))?;
        out.push((layer, check_weight(&k, w)?));
    }
    out.sort_by_key(|(l, _)| *l);
    Ok(out)
}

impl Experiment {
    /// Validates a raw experiment read from `file`. `from_cli(key)` says
    /// whether a key came from `--set`: its paths resolve against the
    /// current directory rather than the file's folder.
    pub fn from_raw(file: &Path, raw: RawExperiment, from_cli: &dyn Fn(&str) -> bool) -> Result<Self, Invalid> {
        let file_dir = absolute(file.parent().unwrap_or(Path::new(".")));
        let root = project_root(file);
        let resolve = |key: &str, p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                clean(p)
            } else if from_cli(key) {
                absolute(p)
            } else {
                clean(&file_dir.join(p))
            }
        };
        let mut resolved = raw.clone();

        let name = match &raw.name {
            Some(n) if n.trim().is_empty() => return Err(invalid("name", "must not be empty")),
            Some(n) => n.clone(),
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
        };
        resolved.name = Some(name.clone());

        let img = &raw.images;
        if img.content.trim().is_empty() {
            return Err(invalid("images.content", "must name the content image"));
        }
        let content = resolve("images.content", &img.content);
        resolved.images.content = content.display().to_string();

        let style_paths = img.style.to_vec();
        if style_paths.is_empty() {
            return Err(invalid("images.style", "needs at least one style image"));
        }
        let blends = match &img.style_blend {
            None => vec![1.0; style_paths.len()],
            Some(b) if b.len() != style_paths.len() => {
                return Err(invalid(
                    "images.style_blend",
                    format!(
                        "has {} value(s) but images.style lists {} image(s); give one blend weight per style image",
                        b.len(),
                        style_paths.len()
                    ),
                ));
            }
            Some(b) => b.clone(),
        };
        for &b in &blends {
            check_weight("images.style_blend", b)?;
        }
        if blends.iter().sum::<f64>() <= 0.0 {
            return Err(invalid(
                "images.style_blend",
                "all blend weights are 0; at least one must be > 0",
            ));
        }
        let styles: Vec<StyleImage> = style_paths
            .iter()
            .zip(&blends)
            .map(|(p, &blend)| StyleImage {
                path: resolve("images.style", p),
                blend,
            })
            .collect();
        resolved.images.style = raw::OneOrMany::Many(styles.iter().map(|s| s.path.display().to_string()).collect());
        resolved.images.style_blend = Some(blends);

        let init = match img.init.as_str() {
            "content" => Init::Content,
            "noise" => Init::Noise,
            "" => {
                return Err(invalid(
                    "images.init",
                    "must be \"content\", \"noise\" or an image path",
                ));
            }
            p => {
                let path = resolve("images.init", p);
                resolved.images.init = path.display().to_string();
                Init::Image(path)
            }
        };

        if !(MIN_SIZE..=MAX_SIZE).contains(&img.size) {
            return Err(invalid(
                "images.size",
                format!(
                    "{} px is out of range; use {MIN_SIZE}..={MAX_SIZE} (the longest side of the output)",
                    img.size
                ),
            ));
        }
        if !(img.style_scale.is_finite() && img.style_scale > 0.0 && img.style_scale <= 8.0) {
            return Err(invalid(
                "images.style_scale",
                format!("{} is out of range; use a number in (0, 8]", img.style_scale),
            ));
        }
        let style_px = (img.size as f64 * img.style_scale).round() as i64;
        if !(MIN_SIZE..=MAX_SIZE).contains(&style_px) {
            return Err(invalid(
                "images.style_scale",
                format!("size × style_scale = {style_px} px is out of range {MIN_SIZE}..={MAX_SIZE}"),
            ));
        }

        let weights = match &raw.model.weights {
            None => root.join(DEFAULT_WEIGHTS),
            Some(w) => resolve("model.weights", w),
        };
        resolved.model.weights = Some(weights.display().to_string());

        let l = &raw.loss;
        let content_weight = check_weight("loss.content_weight", l.content_weight)?;
        let style_weight = check_weight("loss.style_weight", l.style_weight)?;
        let tv_weight = check_weight("loss.tv_weight", l.tv_weight)?;
        let content_layers = check_layers("loss.content_layers", &l.content_layers)?;
        let style_layers = check_layers("loss.style_layers", &l.style_layers)?;
        if content_layers.is_empty() && style_layers.is_empty() {
            return Err(invalid(
                "loss",
                "selects no layers; set content_layers and/or style_layers",
            ));
        }

        let o = &raw.optim;
        if !(1..=10_000_000).contains(&o.iterations) {
            return Err(invalid(
                "optim.iterations",
                format!("{} is out of range; use 1..=10000000", o.iterations),
            ));
        }
        if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
            return Err(invalid(
                "optim.learning_rate",
                format!("{} must be a positive number", o.learning_rate),
            ));
        }
        if !(1..=1000).contains(&o.history) {
            return Err(invalid(
                "optim.history",
                format!("{} is out of range; use 1..=1000", o.history),
            ));
        }
        if o.seed < 0 {
            return Err(invalid(
                "optim.seed",
                format!("{} is negative; use a seed >= 0", o.seed),
            ));
        }
        let device = DeviceChoice::parse(&o.device).ok_or_else(|| {
            invalid(
                "optim.device",
                format!(
                    "'{}' is not a device; use \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"",
                    o.device
                ),
            )
        })?;

        let out = &raw.output;
        if out.snapshot_every < 0 {
            return Err(invalid(
                "output.snapshot_every",
                format!("{} is negative; use 0 for no snapshots", out.snapshot_every),
            ));
        }
        let results = match &out.results {
            None => root.join("results"),
            Some(r) => resolve("output.results", r),
        };
        resolved.output.results = Some(results.display().to_string());

        Ok(Experiment {
            name,
            source: file.to_path_buf(),
            content,
            styles,
            init,
            size: img.size as u32,
            style_scale: img.style_scale,
            weights,
            pooling: raw.model.pooling,
            content_weight,
            style_weight,
            tv_weight,
            normalize: l.normalize,
            content_layers,
            style_layers,
            optimizer: o.optimizer,
            iterations: o.iterations as u64,
            learning_rate: o.learning_rate,
            history: o.history as usize,
            seed: o.seed as u64,
            device,
            snapshot_every: out.snapshot_every as u64,
            results,
            resolved,
            overridden: Vec::new(),
        })
    }

    /// Every selected layer, content and style, in forward order, once each.
    pub fn layers(&self) -> Vec<Layer> {
        let mut all: Vec<Layer> = self
            .content_layers
            .iter()
            .chain(&self.style_layers)
            .map(|(l, _)| *l)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The resolved experiment as TOML text.
    pub fn to_toml(&self) -> String {
        // A run is one point: the sweep that made it is not part of it.
        let run = RawExperiment {
            sweep: None,
            ..self.resolved.clone()
        };
        toml::to_string_pretty(&run).expect("a RawExperiment always serialises")
    }

    /// Key the user used for the given image file, for messages.
    pub fn image_key(&self, path: &Path) -> &'static str {
        if path == self.content {
            "images.content"
        } else if matches!(&self.init, Init::Image(p) if p == path) {
            "images.init"
        } else {
            "images.style"
        }
    }

    /// A config error about this experiment's file and `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let from_cli = self
            .overridden
            .iter()
            .any(|o| key == o || key.starts_with(&format!("{o}.")));
        let origin = if from_cli {
            Origin::Override
        } else {
            let src = std::fs::read_to_string(&self.source).unwrap_or_default();
            Origin::File(Locator::new(&src).line_of_key(key))
        };
        ConfigError {
            file: self.source.clone(),
            origin,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// Checks what validation cannot see: every image decodes, the weights
    /// file is VGG19 in our format and holds every selected layer, and the
    /// device exists. Returns the device and the weights' description.
    pub fn check_files(&self) -> Result<Checked, ConfigError> {
        let mut images = vec![("images.content", &self.content)];
        images.extend(self.styles.iter().map(|s| ("images.style", &s.path)));
        if let Init::Image(p) = &self.init {
            images.push(("images.init", p));
        }
        for (key, path) in images {
            let img = crate::engine::imaging::decode(path).map_err(|e| self.error(key, e))?;
            if img.width() == 0 || img.height() == 0 {
                return Err(self.error(key, format!("{} is an empty image", path.display())));
            }
        }
        let weights = crate::weights::WeightsInfo::read(&self.weights).map_err(|e| {
            let hint = if matches!(e, crate::weights::WeightsError::Io { .. }) {
                "; get it with `stylelab weights fetch` (see the README)"
            } else {
                ""
            };
            self.error("model.weights", format!("{e}{hint}"))
        })?;
        for (table, layers) in [
            ("loss.content_layers", &self.content_layers),
            ("loss.style_layers", &self.style_layers),
        ] {
            for (layer, _) in layers {
                if !weights.has_layer(*layer) {
                    return Err(self.error(
                        &format!("{table}.{layer}"),
                        format!(
                            "{layer} is not in the weights file {} (it holds {})",
                            self.weights.display(),
                            weights.layer_range()
                        ),
                    ));
                }
            }
        }
        let device = crate::engine::device::resolve(self.device).map_err(|e| self.error("optim.device", e))?;
        Ok(Checked { device, weights })
    }
}

/// What [`Experiment::check_files`] found.
pub struct Checked {
    pub device: tch::Device,
    pub weights: crate::weights::WeightsInfo,
}
