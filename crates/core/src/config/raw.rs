//! The experiment file exactly as written: a serde mirror of the TOML with
//! every default filled in and unknown keys rejected. Serialising it gives
//! the resolved `experiment.toml` stored with each run.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `experiments/*.toml`, before validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    /// Run name; defaults to the file's stem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `[images]`: the only required section.
    pub images: RawImages,
    /// `[model]`: the network's weights, pooling and memory layout.
    #[serde(default)]
    pub model: RawModel,
    /// `[loss]`: term weights, normalisation and the layers each term uses.
    #[serde(default)]
    pub loss: RawLoss,
    /// `[optim]`: optimizer, steps, seed, device and precision.
    #[serde(default)]
    pub optim: RawOptim,
    /// `[output]`: snapshots, the results folder and scoring.
    #[serde(default)]
    pub output: RawOutput,
    /// `[regions.NAME]`: a style per region of `images.mask`, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<BTreeMap<String, RawRegion>>,
    /// Parameter sweep: dotted keys to lists of values (`stylelab sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
}

/// One path or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `style = "a.png"`.
    One(String),
    /// `style = ["a.png", "b.png"]`.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The paths as a list, one or many.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A whole number, or a list of them: `size = 512` or `size = [256, 512]`.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrList {
    /// A single number.
    One(i64),
    /// A list, possibly empty (validation rejects an empty `size`).
    Many(Vec<i64>),
}

impl IntOrList {
    /// The numbers as a list, one or many.
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            IntOrList::One(v) => vec![*v],
            IntOrList::Many(v) => v.clone(),
        }
    }

    /// One number for a list of one, else the list.
    pub fn from_vec(v: Vec<i64>) -> Self {
        match v.as_slice() {
            [one] => IntOrList::One(*one),
            _ => IntOrList::Many(v),
        }
    }
}

impl Serialize for IntOrList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrList::One(v) => s.serialize_i64(*v),
            IntOrList::Many(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrList {
    // By hand rather than `untagged`, so that a wrong value is named:
    // "invalid type: string "big", expected a whole number or a list of
    // whole numbers (512 or [256, 512])".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = IntOrList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number or a list of whole numbers (512 or [256, 512])")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrList, E> {
                Ok(IntOrList::One(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrList, E> {
                i64::try_from(v)
                    .map(IntOrList::One)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<IntOrList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(v);
                }
                Ok(IntOrList::Many(out))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Colour preservation (Gatys et al. 2016, "Preserving Color in Neural
/// Artistic Style Transfer").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreserveColors {
    /// The style's colours are transferred too.
    None,
    /// Transfer on luminance only; the content's chrominance is put back.
    Luminance,
    /// The style images' colours are matched to the content's first.
    Histogram,
}

/// `[images]`: what to stylise, with what, and at what size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImages {
    /// The content image's path; a relative one is taken from the experiment
    /// file's folder.
    pub content: String,
    /// One style image or several, blended; absent when `[regions]` name
    /// the styles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<OneOrMany>,
    /// One weight (>= 0, not all 0) per style image; 1 each when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_blend: Option<Vec<f64>>,
    /// Where the image starts: `"content"`, `"noise"` (from the seed), or an image path.
    #[serde(default = "default_init")]
    pub init: String,
    /// Longest side, px; a list of increasing sizes for a coarse-to-fine run.
    #[serde(default = "default_size")]
    pub size: IntOrList,
    /// The style images' longest side relative to `size`, in (0, 8].
    #[serde(default = "one")]
    pub style_scale: f64,
    /// Whether and how the content's colours are kept.
    #[serde(default = "default_preserve_colors")]
    pub preserve_colors: PreserveColors,
    /// The content's regions: an image whose colours `[regions.NAME]` name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

/// `[regions.NAME]`: where in the content (a colour of `images.mask`) which
/// style goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    /// `"white"`, `"black"`, another colour name or `"#rrggbb"`.
    pub color: String,
    /// One style image or several, blended.
    pub style: OneOrMany,
    /// One weight (>= 0, not all 0) per style image; 1 each when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_blend: Option<Vec<f64>>,
    /// Multiplies `loss.style_weight` for this region, >= 0.
    #[serde(default = "one")]
    pub style_weight: f64,
    /// Per style image, a mask whose pixels of this region's colour say
    /// where the style is taken from; the whole style image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_mask: Option<OneOrMany>,
}

/// VGG19's pooling layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Max pooling, as the network was trained.
    Max,
    /// Average pooling, which Gatys et al. (2015) found gives slightly more appealing results.
    Avg,
}

/// How the network's weights and activations are laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryFormat {
    /// Measured at the start of a run: whichever is faster here.
    Auto,
    /// Channels-first, libtorch's default.
    Nchw,
    /// NHWC strides: oneDNN's and cuDNN's tensor-core kernels prefer it,
    /// for reduced precision above all.
    ChannelsLast,
}

impl std::fmt::Display for MemoryFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemoryFormat::Auto => "auto",
            MemoryFormat::Nchw => "nchw",
            MemoryFormat::ChannelsLast => "channels_last",
        })
    }
}

/// `auto`, `nchw` or `channels_last`, as the experiment file spells it.
impl std::str::FromStr for MemoryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name("memory format", s)
    }
}

/// `[model]`: the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Defaults to `weights/vgg19-caffe.safetensors` in the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Max (default) or average pooling.
    #[serde(default = "default_pooling")]
    pub pooling: Pooling,
    /// NCHW, channels-last, or `auto` to measure both.
    #[serde(default = "default_memory_format")]
    pub memory_format: MemoryFormat,
    /// Evaluate tile by tile: `auto` (where one pass would not fit), `off`,
    /// or the tiles' side in pixels.
    #[serde(default)]
    pub tile: Tiling,
}

/// `model.tile`: whether a scale is evaluated tile by tile (exactly; see
/// `stylelab_core::tiling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiling {
    /// Tile the scales whose one-pass estimate does not fit the device's
    /// free memory, with the largest tiles that fit.
    #[default]
    Auto,
    /// Never tile.
    Off,
    /// Tile every scale larger than this many pixels, in tiles of this side.
    Px(i64),
}

impl std::fmt::Display for Tiling {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Tiling::Auto => f.write_str("auto"),
            Tiling::Off => f.write_str("off"),
            Tiling::Px(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Tiling {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tiling::Px(n) => s.serialize_i64(*n),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Tiling {
    // By hand, so that a wrong value is named with what is allowed.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Tiling;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\", \"off\" or the tiles' side in pixels (e.g. 1024)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Tiling, E> {
                Ok(Tiling::Px(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Tiling, E> {
                Ok(Tiling::Px(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Tiling, E> {
                match v {
                    "auto" => Ok(Tiling::Auto),
                    "off" => Ok(Tiling::Off),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Default for RawModel {
    fn default() -> Self {
        RawModel {
            weights: None,
            pooling: default_pooling(),
            memory_format: default_memory_format(),
            tile: Tiling::Auto,
        }
    }
}

/// How the content, style and tv terms are scaled before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Raw values times their weights.
    None,
    /// Each term divided by its own magnitude, re-estimated at the start of
    /// every scale and then at steps 10, 30, 70, 150, … of it, so the weights
    /// say how the terms weigh against each other whatever their raw sizes.
    Running,
}

/// `[loss]`: the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoss {
    /// Weight of the content term, >= 0.
    #[serde(default = "default_content_weight")]
    pub content_weight: f64,
    /// Weight of the style term, >= 0.
    #[serde(default = "default_style_weight")]
    pub style_weight: f64,
    /// Weight of the total-variation (smoothness) term, >= 0.
    #[serde(default = "default_tv_weight")]
    pub tv_weight: f64,
    /// `none` (default) or `running`.
    #[serde(default = "default_normalize")]
    pub normalize: Normalize,
    /// Layer name (`relu4_2`) to its weight in the content term.
    #[serde(default = "default_content_layers")]
    pub content_layers: BTreeMap<String, f64>,
    /// The style statistic every style layer compares, unless the layer
    /// names its own.
    #[serde(default = "default_style_loss")]
    pub style_loss: StyleLoss,
    /// Layer name (`relu1_1`) to its weight in the style term, or to
    /// `{ weight = …, loss = "…" }`.
    #[serde(default = "default_style_layers")]
    pub style_layers: BTreeMap<String, RawStyleLayer>,
}

/// The statistic a style layer matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StyleLoss {
    /// Gram matrices (Gatys et al. 2016): the default.
    Gram,
    /// Each channel's mean and standard deviation (Li et al. 2017).
    MeanStd,
    /// The distribution of the features along random directions (Heitz et
    /// al. 2021).
    SlicedWasserstein,
    /// Each channel's histogram (Risser et al. 2017).
    Histogram,
}

impl StyleLoss {
    /// Whether the statistic is a sum over positions (`gram`,
    /// `mean_std`), which tiles can compute part by part; the others sort
    /// every position at once.
    pub fn sums_over_positions(self) -> bool {
        matches!(self, StyleLoss::Gram | StyleLoss::MeanStd)
    }

    /// Every kind, in the order the README lists them.
    pub const ALL: [StyleLoss; 4] = [
        StyleLoss::Gram,
        StyleLoss::MeanStd,
        StyleLoss::SlicedWasserstein,
        StyleLoss::Histogram,
    ];
}

impl std::fmt::Display for StyleLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StyleLoss::Gram => "gram",
            StyleLoss::MeanStd => "mean_std",
            StyleLoss::SlicedWasserstein => "sliced_wasserstein",
            StyleLoss::Histogram => "histogram",
        })
    }
}

/// `gram`, `mean_std`, `sliced_wasserstein` or `histogram`, as the
/// experiment file spells it.
impl std::str::FromStr for StyleLoss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name("style loss", s)
    }
}

/// A style layer's setting: a weight, or a weight and its own loss.
#[derive(Debug, Clone, PartialEq)]
pub enum RawStyleLayer {
    /// `relu1_1 = 1.0`.
    Weight(f64),
    /// `relu1_1 = { weight = 1.0, loss = "histogram" }`.
    Spec(RawStyleLayerSpec),
}

/// `{ weight = …, loss = … }` for one style layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStyleLayerSpec {
    /// The layer's weight in the style term, >= 0; 1 when absent.
    #[serde(default = "one")]
    pub weight: f64,
    /// The layer's statistic; `loss.style_loss` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<StyleLoss>,
}

impl RawStyleLayer {
    /// The layer's weight.
    pub fn weight(&self) -> f64 {
        match self {
            RawStyleLayer::Weight(w) => *w,
            RawStyleLayer::Spec(s) => s.weight,
        }
    }
}

impl Serialize for RawStyleLayer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawStyleLayer::Weight(w) => s.serialize_f64(*w),
            RawStyleLayer::Spec(spec) => spec.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for RawStyleLayer {
    // By hand rather than `untagged`, so that a wrong value is named.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawStyleLayer;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a weight or a table { weight = 1.0, loss = \"gram\" }")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawStyleLayer, E> {
                Ok(RawStyleLayer::Weight(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawStyleLayer, E> {
                Ok(RawStyleLayer::Weight(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawStyleLayer, E> {
                Ok(RawStyleLayer::Weight(v as f64))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawStyleLayer, A::Error> {
                RawStyleLayerSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawStyleLayer::Spec)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Default for RawLoss {
    fn default() -> Self {
        RawLoss {
            content_weight: default_content_weight(),
            style_weight: default_style_weight(),
            tv_weight: default_tv_weight(),
            normalize: default_normalize(),
            content_layers: default_content_layers(),
            style_loss: default_style_loss(),
            style_layers: default_style_layers(),
        }
    }
}

/// The optimizer that moves the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with step size `learning_rate`.
    Adam,
    /// L-BFGS with a line search, keeping `history` curvature pairs: the default.
    Lbfgs,
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Lbfgs => "lbfgs",
        })
    }
}

/// The precision the network's convolutions run in; Gram matrices, losses,
/// the image and the optimizer's state are fp32 whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Full precision: the default, and the reference for the others.
    Fp32,
    /// bf16 where the device computes it fast (a CPU with AVX-512 bf16 or
    /// AMX, a CUDA device of compute capability 8.0 or more), else fp32:
    /// decided when the run starts, and recorded with why.
    Auto,
    /// bfloat16 convolutions.
    Bf16,
    /// CUDA only, with loss scaling.
    Fp16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Auto => "auto",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        })
    }
}

/// `fp32`, `bf16` or `fp16`, as the experiment file spells it.
impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name("precision", s)
    }
}

/// A unit enum from its TOML spelling (serde's names, so the command line
/// and the experiment file accept the same words); `what` names it in the
/// error: `'fp64' is not a precision`.
fn by_name<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, String> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s))
        .map_err(|_| format!("'{s}' is not a {what}"))
}

/// `[optim]`: how the image is optimised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptim {
    /// `lbfgs` (default) or `adam`.
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerKind,
    /// Steps, one number for all scales or one per scale.
    #[serde(default = "default_iterations")]
    pub iterations: IntOrList,
    /// Adam's step size, or L-BFGS's step scale; > 0.
    #[serde(default = "one")]
    pub learning_rate: f64,
    /// Curvature pairs L-BFGS keeps, 1..=1000; ignored by Adam.
    #[serde(default = "default_history")]
    pub history: i64,
    /// Seed of the noise init, >= 0.
    #[serde(default)]
    pub seed: i64,
    /// `"auto"`, `"cpu"`, `"cuda"` or `"cuda:N"`.
    #[serde(default = "default_device")]
    pub device: String,
    /// The convolutions' precision; see [`Precision`].
    #[serde(default = "default_precision")]
    pub precision: Precision,
    /// `fixed` (the sizes and steps as given) or `coarse-to-fine` (derived
    /// from one size and one step count).
    #[serde(default, skip_serializing_if = "Schedule::is_fixed")]
    pub schedule: Schedule,
    /// Stop a scale when the loss stops changing; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<RawStop>,
    /// L-BFGS's preconditioner; see [`Precondition`]. Always written, so a
    /// run's `experiment.toml` says which it used (runs made before the
    /// key existed lack it, and used none).
    #[serde(default)]
    pub precondition: Precondition,
    /// Whether the image is kept in [0, 1] while it is optimised; see
    /// [`Bounds`]. Always written, as `precondition` (runs made before the
    /// key existed lack it, and used none).
    #[serde(default)]
    pub bounds: Bounds,
}

/// `optim.bounds`: where the optimised image's values may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bounds {
    /// In [0, 1], what an image file holds: the loss is evaluated at the
    /// image clamped to it (the image final.png saves); L-BFGS projects
    /// its steps onto [0, 1], Adam pulls a value that strays outside
    /// back. The default.
    #[default]
    Box,
    /// In [0, 1] as with `box`, kept there by the pull back alone, for
    /// L-BFGS too: what `box` did before L-BFGS projected its steps
    /// (2026-12-07), slower where the image sits on the bounds.
    Pull,
    /// Anywhere: the image is clamped only when it is saved, so the saved
    /// image is not the one whose loss the run reports.
    None,
}

/// `optim.precondition`: the initial inverse Hessian L-BFGS builds each
/// direction on. Ignored by Adam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precondition {
    /// γ·M²: M scales the image's spatial frequencies f by f^(-1/2) (1 at
    /// the highest, more below), so a step moves the image's broad
    /// structure as readily as its fine detail. The default.
    #[default]
    Spectral,
    /// γ·I: the textbook L-BFGS, as PyTorch's.
    None,
}

/// `optim.schedule`: how the scales and their steps are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// `images.size` and `optim.iterations` as written.
    #[default]
    Fixed,
    /// From one size S and one step count N: scales S/4, S/2, S (those of
    /// 128 px or more, at most three), the last taking a fifth of the
    /// steps and the others sharing the rest equally.
    CoarseToFine,
}

impl Schedule {
    /// Whether it is the default, `fixed`.
    pub fn is_fixed(&self) -> bool {
        *self == Schedule::Fixed
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Schedule::Fixed => "fixed",
            Schedule::CoarseToFine => "coarse-to-fine",
        })
    }
}

/// `optim.stop = { rel_change = 1e-4, window = 20 }`: a scale ends when
/// its total loss fell by less than `rel_change` (relative) over the last
/// `window` steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStop {
    /// The relative fall below which the loss counts as unchanged.
    #[serde(default = "default_rel_change")]
    pub rel_change: f64,
    /// Over how many steps.
    #[serde(default = "default_window")]
    pub window: i64,
}

fn default_rel_change() -> f64 {
    1e-4
}
fn default_window() -> i64 {
    20
}

impl Default for RawOptim {
    fn default() -> Self {
        RawOptim {
            optimizer: default_optimizer(),
            iterations: default_iterations(),
            learning_rate: 1.0,
            history: default_history(),
            seed: 0,
            device: default_device(),
            precision: default_precision(),
            schedule: Schedule::Fixed,
            stop: None,
            precondition: Precondition::default(),
            bounds: Bounds::default(),
        }
    }
}

/// `[output]`: what a run writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Steps between snapshot images; 0 for none.
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: i64,
    /// Defaults to `results/` in the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    /// Score the final image with the yardstick when the run ends.
    #[serde(default = "yes")]
    pub score: bool,
    /// Write a TensorBoard event file in the run folder as the run goes.
    #[serde(default = "yes")]
    pub tensorboard: bool,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            snapshot_every: default_snapshot_every(),
            results: None,
            score: true,
            tensorboard: true,
        }
    }
}

/// serde's default for flags that are on unless turned off.
fn yes() -> bool {
    true
}

fn default_init() -> String {
    "content".into()
}
fn default_size() -> IntOrList {
    IntOrList::One(512)
}
fn default_preserve_colors() -> PreserveColors {
    PreserveColors::None
}
/// serde's default for `learning_rate` and `style_scale`.
fn one() -> f64 {
    1.0
}
fn default_pooling() -> Pooling {
    Pooling::Max
}
fn default_content_weight() -> f64 {
    5.0
}
fn default_style_weight() -> f64 {
    100.0
}
fn default_tv_weight() -> f64 {
    1e-3
}
fn default_normalize() -> Normalize {
    Normalize::None
}
fn default_content_layers() -> BTreeMap<String, f64> {
    BTreeMap::from([("relu4_2".to_string(), 1.0)])
}
fn default_style_layers() -> BTreeMap<String, RawStyleLayer> {
    ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
        .iter()
        .map(|l| (l.to_string(), RawStyleLayer::Weight(1.0)))
        .collect()
}
fn default_style_loss() -> StyleLoss {
    StyleLoss::Gram
}
fn default_optimizer() -> OptimizerKind {
    OptimizerKind::Lbfgs
}
fn default_iterations() -> IntOrList {
    IntOrList::One(500)
}
fn default_history() -> i64 {
    100
}
fn default_device() -> String {
    "auto".into()
}
fn default_precision() -> Precision {
    Precision::Fp32
}
fn default_memory_format() -> MemoryFormat {
    MemoryFormat::Auto
}
fn default_snapshot_every() -> i64 {
    50
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_what_they_display_and_others_are_refused() {
        for p in [Precision::Fp32, Precision::Bf16, Precision::Fp16] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
        }
        for m in [MemoryFormat::Auto, MemoryFormat::Nchw, MemoryFormat::ChannelsLast] {
            assert_eq!(m.to_string().parse::<MemoryFormat>(), Ok(m));
        }
        for l in StyleLoss::ALL {
            assert_eq!(l.to_string().parse::<StyleLoss>(), Ok(l));
        }
        assert_eq!(
            "fp64".parse::<Precision>(),
            Err("'fp64' is not a precision".to_string())
        );
        assert_eq!(
            "NCHW".parse::<MemoryFormat>(),
            Err("'NCHW' is not a memory format".to_string())
        );
        assert_eq!(
            "gramm".parse::<StyleLoss>(),
            Err("'gramm' is not a style loss".to_string())
        );
    }
}
