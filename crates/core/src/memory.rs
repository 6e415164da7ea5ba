//! How much memory a run will need, before it starts: per scale, the
//! network's activations kept for the backward pass, the transient
//! gradients, the targets, the image with its gradient and the optimizer's
//! state, and the process's fixed footprint. `stylelab check` prints it;
//! `run` refuses to start when it does not fit in what the device has free
//! (`--force` runs anyway). The model's terms are sums of tensor sizes; its
//! few constants were fitted to peak RSS measured on CPU (docs/reference.md,
//! "Memory: the model").

use crate::config::{
    Bounds, Experiment, MAX_SIZE, OptimizerKind, Precision, Precondition, StyleLoss, TILE_ALIGN, Tiling,
};
use crate::layer::{Layer, LayerKind};
use crate::tiling::TilePlan;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whose memory an estimate is of: the process's resident set on a CPU,
/// the device's on CUDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The CPU: peak resident memory.
    Cpu,
    /// A CUDA device: its memory as NVML counts it for the process.
    Cuda,
}

impl Target {
    /// `cpu` or `cuda`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::Cuda => "cuda",
        }
    }
}

/// Bytes in a MiB.
pub const MIB: f64 = 1024.0 * 1024.0;

/// Resident memory of a stylelab process that has loaded libtorch and a
/// tiny network, on CPU, MiB (measured: a 16 px run's peak RSS).
pub const CPU_FIXED_MIB: f64 = 460.0;
/// Device memory CUDA takes before any tensor: the context and the cuDNN
/// and cuBLAS handles and workspaces, MiB. Not measured by stylelab's own
/// tests, which run on CPU; taken from NVIDIA's and PyTorch's published
/// figures.
pub const CUDA_FIXED_MIB: f64 = 600.0;
/// oneDNN and cuDNN keep reordered copies and workspaces beside the
/// activations; fitted on CPU.
const WORKSPACE_FACTOR: f64 = 1.25;
/// On CUDA, beyond that: the workspaces of the algorithms cuDNN's benchmark
/// mode picks (and tries), and the transient blocks the caching allocator
/// keeps, as a multiple of the largest feature map (conv1's). Fitted to the
/// two H200 runs issue 16 measured whose optimizer state the old model did
/// count right once the history buffer is sized by the scale's steps
/// (2048 px fp32: 2.2 GiB = 3.3 maps; 4096 px bf16: 4.1 GiB = 3.1 maps).
/// Only those two runs measured it; the tests, on CPU, do not.
const CUDA_WORKSPACE_MAPS: f64 = 3.0;
/// On CPU in fp32, when the process keeps its freed host memory: the
/// freed blocks glibc's allocator keeps for the next evaluation, as a
/// multiple of the largest feature map, with L-BFGS and with Adam. Fitted
/// to 12-step runs at 512 and 1024 px on the 2-core AMD EPYC against the
/// same runs under glibc's defaults (docs/reference.md, "Memory: the
/// model"): L-BFGS's peaks grew by 2–2.5 maps, Adam's at 1024 px by 4.2–5.6;
/// bf16's did not grow.
const CPU_KEPT_MAPS: (f64, f64) = (2.0, 4.0);
/// glibc's own largest threshold (64-bit): blocks up to it are reused
/// under its defaults too, so keeping freed memory adds to the peak only
/// when the largest feature map is larger (not at 256 or 384 px in fp32,
/// where the measured peaks did not grow).
const GLIBC_DEFAULT_KEEPS_BYTES: f64 = 32.0 * MIB;

/// The largest Gram gradient a style term computes with its value and
/// holds for the backward pass (fp32 bytes, C × n × 4): one product of its
/// feature matrix fewer in the backward pass. Larger ones go through
/// autograd, which holds nothing beyond the network's maps: measured at
/// 1024 px in fp32 (the 2-core AMD EPYC), holding every Gram layer's
/// gradient made steps 5–12 % shorter and peaks 13–35 % higher, and the
/// large shallow layers' products are bound by memory traffic, not
/// arithmetic.
pub const GRAM_GRADIENT_HELD_MAX_BYTES: f64 = 32.0 * MIB;

/// Whether this process keeps its freed host memory (the engine sets it
/// when glibc accepts the setting, first thing in the binary).
static HOST_MEMORY_KEPT: AtomicBool = AtomicBool::new(false);

/// Records that this process keeps its freed host memory: CPU estimates
/// count the blocks kept from then on.
pub fn set_host_memory_kept(kept: bool) {
    HOST_MEMORY_KEPT.store(kept, Ordering::Relaxed);
}

/// Whether CPU estimates count freed blocks kept (see [`set_host_memory_kept`]).
pub fn host_memory_kept() -> bool {
    HOST_MEMORY_KEPT.load(Ordering::Relaxed)
}

/// The estimate for one scale.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScaleEstimate {
    /// The generated image's size at this scale, px.
    pub width: u32,
    pub height: u32,
    /// Activations kept for the backward pass, and the gradients in flight.
    pub activations_mib: f64,
    /// On CUDA: cuDNN's workspaces and the allocator's transient blocks
    /// (`CUDA_WORKSPACE_MAPS` × the largest feature map); 0 on CPU.
    pub workspace_mib: f64,
    /// On CPU in fp32, when the process keeps its freed host memory: the
    /// freed blocks the allocator keeps (`CPU_KEPT_MAPS` × the largest
    /// feature map); else 0.
    pub kept_mib: f64,
    /// Content features and Gram matrices the loss compares against.
    pub targets_mib: f64,
    /// The image, its gradient, the line search's trial, and the
    /// optimizer's state (L-BFGS: 2 × history image-sized vectors).
    pub optimizer_mib: f64,
    /// Everything on the device (the resident set on a CPU), with the
    /// fixed footprint and the weights.
    pub estimated_peak_mib: f64,
    /// The scale evaluated tile by tile: how; None for one pass.
    pub tiling: Option<TileChoice>,
    /// The one-pass estimate, for comparison (the peak when not tiled).
    pub one_pass_mib: f64,
    /// On CUDA, what the run keeps in host memory because the device cannot
    /// hold it (the image, its gradient, the optimizer's state and the
    /// content targets; crops go to the device); 0 when it all stays there.
    pub host_mib: f64,
}

/// How a scale is tiled, for the estimate and `check`'s plan.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq)]
pub struct TileChoice {
    /// The tiles' side, px.
    pub tile: u32,
    /// Pixels of halo around each tile.
    pub halo: u32,
    /// How many tiles.
    pub tiles: usize,
    /// Pixels the crops cover over the image's (the halos' cost).
    pub overlap: f64,
}

/// The estimate for a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    /// `cpu` or `cuda`: whose memory this is (resident set, or device).
    pub device: String,
    /// The process's footprint before any tensor: [`CPU_FIXED_MIB`] or [`CUDA_FIXED_MIB`].
    pub fixed_mib: f64,
    /// The network's weights up to the deepest selected layer: fp32 as loaded,
    /// plus two copies in the compute precision (one of them transient, while
    /// `auto` measures the memory format).
    pub weights_mib: f64,
    /// One estimate per scale, coarse to fine.
    pub scales: Vec<ScaleEstimate>,
    /// The largest scale's peak: the run's.
    pub estimated_peak_mib: f64,
}

/// Bytes per element the network's activations take. Reduced precision
/// halves them on CUDA; on CPU oneDNN's bf16 backward keeps fp32 buffers
/// beside them, and the measured peak is nearly fp32's (fitted: 3.5).
fn activation_bytes(precision: Precision, device: Target) -> f64 {
    match precision {
        // `auto` not yet decided for a device: fp32's, the larger.
        Precision::Fp32 | Precision::Auto => 4.0,
        Precision::Bf16 | Precision::Fp16 if device == Target::Cuda => 2.0,
        Precision::Bf16 | Precision::Fp16 => 3.5,
    }
}

/// (height, width) of `layer`'s output for an input of `h × w`: each pool
/// before it halves (rounding down).
fn layer_hw(layer: Layer, h: u32, w: u32) -> (f64, f64) {
    let pools = layer.pools_before();
    ((h >> pools) as f64, (w >> pools) as f64)
}

/// Bytes of `layer`'s feature map in fp32 for an input of `h × w`.
fn fp32_map_bytes(layer: Layer, h: u32, w: u32) -> f64 {
    let (lh, lw) = layer_hw(layer, h, w);
    layer.channels() as f64 * lh * lw * 4.0
}

/// Bytes of a network pass to `deepest` that autograd keeps for the
/// backward: every ReLU output (in place over its conv's), every pooling
/// output with its int64 argmax indices; plus the two largest maps that
/// hold gradients while the backward runs, and fp32 copies of the selected
/// features when the network runs in reduced precision; and each Gram
/// layer's gradient (C × n, fp32) when it is computed with the value and
/// held for the backward pass: in one pass those of at most
/// [`GRAM_GRADIENT_HELD_MAX_BYTES`], on a tile every one (the tile's
/// surrogate holds each, as its product did before).
fn pass_bytes(exp: &Experiment, h: u32, w: u32, device: Target, tiled: bool) -> f64 {
    let layers = exp.layers();
    let Some(&deepest) = layers.last() else {
        return 0.0;
    };
    let elem = activation_bytes(exp.precision, device);
    let mut kept = 3.0 * h as f64 * w as f64 * 4.0 * 3.0; // input, preprocessed, converted
    let mut largest = [0.0f64; 2];
    for layer in Layer::all().into_iter().take_while(|l| *l <= deepest) {
        let (lh, lw) = layer_hw(layer, h, w);
        let map = layer.channels() as f64 * lh * lw;
        match layer.kind {
            LayerKind::Conv => {}
            LayerKind::Relu => kept += map * elem,
            LayerKind::Pool => kept += map * (elem + 8.0),
        }
        if map * elem > largest[0] {
            largest = [map * elem, largest[0]];
        } else if map * elem > largest[1] {
            largest[1] = map * elem;
        }
    }
    let held_gradients: f64 = exp
        .style_layers
        .iter()
        .filter(|s| s.loss == StyleLoss::Gram)
        .map(|s| fp32_map_bytes(s.layer, h, w))
        .filter(|bytes| tiled || *bytes <= GRAM_GRADIENT_HELD_MAX_BYTES)
        .sum();
    let selected_f32: f64 = if matches!(exp.precision, Precision::Fp32 | Precision::Auto) {
        0.0
    } else {
        layers.iter().map(|&l| fp32_map_bytes(l, h, w)).sum()
    };
    (kept + largest[0] + largest[1]) * WORKSPACE_FACTOR + selected_f32 + held_gradients
}

/// Estimates the peak memory of a run whose content image is `cw × ch`,
/// without knowing what the device has free: `model.tile = "auto"` then
/// tiles only the scales beyond one pass's [`MAX_SIZE`], in tiles of
/// [`AUTO_TILE_UNKNOWN`] px.
pub fn estimate(exp: &Experiment, cw: u32, ch: u32, device: Target) -> Estimate {
    estimate_within(exp, cw, ch, device, None)
}

/// The tiles `auto` takes for a scale beyond one pass's size when the free
/// memory is not known, px.
pub const AUTO_TILE_UNKNOWN: u32 = 4096;

/// [`estimate`] for a device with `available` MiB free: with `model.tile =
/// "auto"`, each scale whose one-pass estimate does not fit is tiled with
/// the largest tiles that fit (the smallest when none does), its state
/// kept in host memory on CUDA when the device cannot hold it.
pub fn estimate_within(exp: &Experiment, cw: u32, ch: u32, device: Target, available: Option<f64>) -> Estimate {
    let fixed_mib = if device == Target::Cuda {
        CUDA_FIXED_MIB
    } else {
        CPU_FIXED_MIB
    };
    let deepest = exp.layers().last().copied();
    // Weights up to the deepest layer, fp32 as loaded, plus their copy in
    // the compute precision (and a transient second net while `auto`
    // measures the memory format).
    let params: f64 = Layer::convs()
        .into_iter()
        .filter(|c| deepest.is_some_and(|d| *c <= d.conv_at_or_before()))
        .map(|c| {
            let (o, i) = c.conv_channels();
            (o * i * 9 + o) as f64
        })
        .sum();
    let copy = if matches!(exp.precision, Precision::Fp32 | Precision::Auto) {
        4.0
    } else {
        2.0
    };
    let weights_mib = params * (4.0 + 2.0 * copy) / MIB;
    let scales: Vec<ScaleEstimate> = crate::scales::plan(exp, cw, ch)
        .iter()
        .map(|p| choose(exp, p, fixed_mib + weights_mib, device, available))
        .collect();
    let estimated_peak_mib = scales.iter().map(|s| s.estimated_peak_mib).fold(fixed_mib, f64::max);
    Estimate {
        device: device.name().into(),
        fixed_mib,
        weights_mib,
        scales,
        estimated_peak_mib,
    }
}

/// Whether the experiment's style statistics can be tiled.
fn tileable(exp: &Experiment) -> bool {
    exp.style_layers.iter().all(|s| s.loss.sums_over_positions()) && !exp.layers().is_empty()
}

/// A scale's estimate as the experiment's `model.tile` decides it.
fn choose(
    exp: &Experiment,
    p: &crate::scales::ScalePlan,
    base_mib: f64,
    device: Target,
    available: Option<f64>,
) -> ScaleEstimate {
    let one_pass = scale(exp, p, base_mib, device, None);
    let longest = p.width.max(p.height);
    let Some(&deepest) = exp.layers().last() else {
        return one_pass;
    };
    let tiled = |tile: u32, host: bool| ScaleEstimate {
        one_pass_mib: one_pass.estimated_peak_mib,
        ..scale(exp, p, base_mib, device, Some((tile, host)))
    };
    let whole = |tile: u32| TilePlan::new(p.width, p.height, tile, deepest).is_whole();
    match exp.tile {
        Tiling::Off => one_pass,
        _ if !tileable(exp) => one_pass,
        Tiling::Px(px) if whole(px as u32) => one_pass,
        Tiling::Px(px) => {
            let on_device = tiled(px as u32, false);
            match available {
                Some(a) if on_device.estimated_peak_mib > a && device == Target::Cuda => tiled(px as u32, true),
                _ => on_device,
            }
        }
        Tiling::Auto => match available {
            None if longest as i64 > MAX_SIZE => tiled(AUTO_TILE_UNKNOWN, false),
            None => one_pass,
            Some(a) if one_pass.estimated_peak_mib <= a => one_pass,
            Some(a) => {
                // The largest tiles that fit: state on the device, else on the host.
                let hosts: &[bool] = if device == Target::Cuda {
                    &[false, true]
                } else {
                    &[false]
                };
                for &host in hosts {
                    if let Some(tile) = largest_tile(longest, |t| tiled(t, host).estimated_peak_mib <= a) {
                        return tiled(tile, host);
                    }
                }
                // Nothing fits (the guard refuses it): the tiles whose pass
                // takes half of what is free, for the plan to show.
                let host = device == Target::Cuda;
                let working = |t: u32| {
                    let e = tiled(t, host);
                    e.activations_mib + e.workspace_mib + e.kept_mib <= a / 2.0
                };
                tiled(
                    largest_tile(longest, working).unwrap_or(crate::config::MIN_TILE as u32),
                    host,
                )
            }
        },
    }
}

/// The largest multiple of [`TILE_ALIGN`] from [`crate::config::MIN_TILE`]
/// up to below `longest` for which `fits`, by bisection (smaller tiles
/// need less); None when not even the smallest does.
fn largest_tile(longest: u32, fits: impl Fn(u32) -> bool) -> Option<u32> {
    let step = TILE_ALIGN as u32;
    let (mut lo, mut hi) = (crate::config::MIN_TILE as u32 / step, longest.saturating_sub(1) / step);
    if hi < lo || !fits(lo * step) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid * step) { lo = mid } else { hi = mid - 1 }
    }
    Some(lo * step)
}

/// Curvature pairs L-BFGS keeps at a scale of `steps` steps: no more than
/// it can collect (each step after the first adds the one before), nor
/// than `history`. The optimizer is built with this many slots, and the
/// estimate counts them.
pub fn lbfgs_pairs(history: usize, steps: u64) -> usize {
    history.min(steps.saturating_sub(1) as usize)
}

/// Bytes of the style term at a `w × h` scale: (what its targets hold, what
/// an evaluation keeps for the backward pass beyond the network's maps).
///
/// Per style layer of C channels and n positions (summed over regions,
/// which share the positions out), and per region:
/// - gram: the target, the Gram of the evaluation and its gradient, C² each;
/// - mean_std: 2C numbers, three times over (negligible);
/// - histogram and sliced Wasserstein: the style's quantiles, C × n (the
///   regions' together), and per evaluation the sorted values with their
///   int64 indices, 12 bytes × C × n; sliced Wasserstein adds its C × C
///   directions;
/// - with regions, each region's rows of the feature matrix are copied
///   (C × n in all) and kept for the backward pass.
pub fn style_bytes(exp: &Experiment, h: u32, w: u32) -> (f64, f64) {
    let regions = exp.regions.as_ref().map_or(1, |r| r.list.len()) as f64;
    let mut targets = style_target_bytes(exp, h, w);
    let mut kept = 0.0;
    for s in &exp.style_layers {
        let c = s.layer.channels() as f64;
        let (lh, lw) = layer_hw(s.layer, h, w);
        let n = lh * lw;
        match s.loss {
            // The evaluation's statistic and its gradient beside the target.
            StyleLoss::Gram => targets += regions * c * c * 4.0 * 2.0,
            StyleLoss::MeanStd => targets += regions * 2.0 * c * 4.0 * 2.0,
            StyleLoss::Histogram | StyleLoss::SlicedWasserstein => kept += c * n * 12.0,
        }
        if exp.regions.is_some() {
            kept += c * n * 4.0;
        }
    }
    (targets, kept)
}

/// The bytes the style targets themselves hold at an `h × w` image, as
/// the engine keeps them: per layer and region a Gram (C²) or means and
/// deviations (2C); for histogram and sliced Wasserstein the quantiles,
/// C × n over the regions together (each cell is one region's), and
/// sliced Wasserstein's C × C directions once per layer. fp32 throughout.
pub fn style_target_bytes(exp: &Experiment, h: u32, w: u32) -> f64 {
    let regions = exp.regions.as_ref().map_or(1, |r| r.list.len()) as f64;
    let mut bytes = 0.0;
    for s in &exp.style_layers {
        let c = s.layer.channels() as f64;
        let (lh, lw) = layer_hw(s.layer, h, w);
        bytes += match s.loss {
            StyleLoss::Gram => regions * c * c * 4.0,
            StyleLoss::MeanStd => regions * 2.0 * c * 4.0,
            StyleLoss::Histogram => c * lh * lw * 4.0,
            StyleLoss::SlicedWasserstein => c * lh * lw * 4.0 + c * c * 4.0,
        };
    }
    bytes
}

/// Image-sized vectors a scale of `steps` steps holds: x, its gradient,
/// the trial point of the line search, the copy of the last good image the
/// run keeps as its result, the optimizer's state and, kept in [0, 1], the
/// clamped image (with its 1-byte mask, a quarter).
fn image_vectors(exp: &Experiment, steps: u64) -> f64 {
    let state = match exp.optimizer {
        // s and y per pair (the buffer holds lbfgs_pairs slots); d, the
        // gradient before, q/r and a scratch vector; preconditioned, the
        // direction and gradient in z and the FFT's half spectrum (complex).
        OptimizerKind::Lbfgs => {
            let spectral = if exp.precondition == Precondition::Spectral {
                3.0
            } else {
                0.0
            };
            2.0 * lbfgs_pairs(exp.history, steps) as f64 + 4.0 + spectral
        }
        // Moments m and v, the update.
        OptimizerKind::Adam => 3.0,
    };
    // The clamped image and the 1-byte mask of values outside; L-BFGS
    // projecting onto the box adds the free values' mask, the direction
    // as it moves, the projected point, and the held values' 1-byte mask
    // kept from one step to the next.
    let bounds = match (exp.bounds, exp.optimizer) {
        (Bounds::None, _) => 0.0,
        (Bounds::Box, OptimizerKind::Lbfgs) => 4.5,
        (Bounds::Box | Bounds::Pull, _) => 1.25,
    };
    4.0 + state + bounds
}

/// Tiled with regions: each style layer's map of its cells' regions, 1
/// byte a cell, at an `h × w` image.
fn region_maps_bytes(exp: &Experiment, h: u32, w: u32) -> f64 {
    if exp.regions.is_none() {
        return 0.0;
    }
    exp.style_layers
        .iter()
        .map(|s| {
            let (lh, lw) = layer_hw(s.layer, h, w);
            lh * lw
        })
        .sum()
}

/// The estimate for one scale, on top of `base_mib` (fixed footprint and
/// weights): in one pass, or tiled in tiles of `tile` px with the state on
/// the host (`true`) or the device.
fn scale(
    exp: &Experiment,
    p: &crate::scales::ScalePlan,
    base_mib: f64,
    device: Target,
    tiled: Option<(u32, bool)>,
) -> ScaleEstimate {
    let (w, h, style_side) = (p.width, p.height, p.style_side);
    let n = 3.0 * w as f64 * h as f64;
    let image = n * 4.0;
    let plan = tiled.and_then(|(tile, _)| Some(TilePlan::new(w, h, tile, *exp.layers().last()?)));
    // One pass holds the whole image's maps; a tiled one the largest crop's.
    let (pw, ph) = plan.map_or((w, h), |t| t.largest_crop());
    let activations = pass_bytes(exp, ph, pw, device, plan.is_some());
    // Targets: content features (fp32) and Gram matrices; while they are
    // computed, a no-grad pass over the largest style image (or crop) runs.
    let content_targets: f64 = exp.content_layers.iter().map(|(l, _)| fp32_map_bytes(*l, h, w)).sum();
    // The statistics are the whole image's; what an evaluation keeps, the pass's.
    let (style_targets, _) = style_bytes(exp, h, w);
    let (_, style_kept) = style_bytes(exp, ph, pw);
    let labels = if plan.is_some() {
        region_maps_bytes(exp, h, w)
    } else {
        0.0
    };
    let activations = activations + style_kept;
    let optimizer = image * image_vectors(exp, p.iterations);
    // A pass without gradients (the style targets) holds two maps at a
    // time, the largest being conv1's 64 channels at the style's size (a
    // crop's, tiled).
    let side = style_side.min(plan.map_or(u32::MAX, |t| t.tile + 2 * t.halo)) as f64;
    let style_pass = 2.0 * 64.0 * side * side * activation_bytes(exp.precision, device);
    let working = activations.max(style_pass);
    let largest_map = 64.0 * pw as f64 * ph as f64 * activation_bytes(exp.precision, device);
    let workspace = if device == Target::Cuda {
        CUDA_WORKSPACE_MAPS * largest_map
    } else {
        0.0
    };
    let fp32 = matches!(exp.precision, Precision::Fp32 | Precision::Auto);
    let kept = if device == Target::Cpu && fp32 && host_memory_kept() && largest_map > GLIBC_DEFAULT_KEEPS_BYTES {
        let maps = match exp.optimizer {
            OptimizerKind::Lbfgs => CPU_KEPT_MAPS.0,
            OptimizerKind::Adam => CPU_KEPT_MAPS.1,
        };
        maps * largest_map
    } else {
        0.0
    };
    // The image's side of the run, where it lives.
    let state = optimizer + content_targets;
    let host = tiled.is_some_and(|t| t.1) && device == Target::Cuda;
    let on_device = working + workspace + kept + style_targets + labels + if host { 0.0 } else { state };
    let estimated_peak_mib = base_mib + on_device / MIB;
    ScaleEstimate {
        width: w,
        height: h,
        activations_mib: activations / MIB,
        workspace_mib: workspace / MIB,
        kept_mib: kept / MIB,
        targets_mib: (content_targets + style_targets + labels) / MIB,
        optimizer_mib: optimizer / MIB,
        estimated_peak_mib,
        tiling: plan.map(|t| TileChoice {
            tile: t.tile,
            halo: t.halo,
            tiles: t.count(),
            overlap: t.overlap(),
        }),
        one_pass_mib: estimated_peak_mib,
        host_mib: if host { state / MIB } else { 0.0 },
    }
}
