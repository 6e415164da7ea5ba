//! What a run needs before its first step: the images decoded and planned
//! into scales, the weights on the device, the memory format chosen, the
//! starting image and the first scale's targets (a run from its content
//! leaves the content's to the first evaluation, whose forward pass is at
//! that image).

use crate::inputs::{self, Inputs};
use crate::loss::{LossWeights, StyleObjective};
use crate::{EngineError, device, memory_format, vgg};
use stylelab_core::config::Experiment;
use stylelab_core::memory::{self, TileChoice};
use stylelab_core::record::StartupPhase;
use tch::Device;

/// Everything prepared for a run: the objective with the first scale's
/// targets, the images of every scale, and the starting image.
pub struct Prepared {
    /// The loss, with the first scale's targets.
    pub objective: StyleObjective,
    /// The decoded images and the plan of scales.
    pub inputs: Inputs,
    /// The first scale's tensors.
    pub first: inputs::ScaleInputs,
    /// The starting image, `1×3×H×W` in [0, 1], on `device`.
    pub x: tch::Tensor,
    /// Where the network runs (the image and its state are there too,
    /// unless they are in host memory: see `x`'s device).
    pub device: Device,
    /// The memory format the network uses, and how it was chosen.
    pub format: memory_format::FormatChoice,
    /// Each scale's tiling (None: one pass), as the memory estimate chose
    /// it for what the device has free.
    pub tiling: Vec<Option<TileChoice>>,
    /// What preparing took, part by part (the summary's `startup`).
    pub timings: Vec<StartupPhase>,
}

/// Seconds since `t`, to the millisecond, as a named start-up phase; `t`
/// moves on to now.
fn lap(t: &mut std::time::Instant, what: &str) -> StartupPhase {
    let seconds = (t.elapsed().as_secs_f64() * 1e3).round() / 1e3;
    *t = std::time::Instant::now();
    StartupPhase {
        what: what.to_string(),
        seconds,
    }
}

/// The memory estimate for a content image of `w × h` on `device`, for
/// what it has free now: each scale's tiling and where its state lives
/// follow from it (`model.tile`).
fn estimate(exp: &Experiment, (w, h): (u32, u32), device: Device) -> memory::Estimate {
    let available = crate::device::available_mib(device);
    memory::estimate_within(exp, w, h, crate::device::target(device), available)
}

/// Loads images and weights, plans the scales and computes the first
/// scale's targets.
pub fn prepare(exp: &Experiment, device: Device) -> Result<Prepared, EngineError> {
    let mut t = std::time::Instant::now();
    let mut timings = Vec::new();
    device::configure(device);
    let inputs = Inputs::load(exp, device).map_err(EngineError::Image)?;
    timings.push(lap(&mut t, "images"));
    let estimate = estimate(exp, inputs.content_size(), device);
    // The image, its gradient, the optimizer's state and the images stay in
    // host memory when the device cannot hold them (tiles go to it).
    let inputs = if estimate.scales.iter().any(|s| s.host_mib > 0.0) {
        inputs.on(Device::Cpu)
    } else {
        inputs
    };
    let tiling: Vec<Option<TileChoice>> = estimate.scales.iter().map(|s| s.tiling).collect();
    let layers = exp.layers();
    let weights = crate::weights::load(&exp.weights, layers.last().copied(), device).map_err(|e| match e {
        crate::weights::WeightsError::Device { device, source, .. } => EngineError::TorchDuring {
            during: format!("loading the weights onto {device}"),
            source,
        },
        other => other.into(),
    })?;
    weights.info.check_layers(&layers)?;
    timings.push(lap(&mut t, "weights"));
    let first_plan = &inputs.plan[0];
    let format = memory_format::choose(&weights, exp, device, first_plan.width.max(first_plan.height), &layers)?;
    let net = vgg::Vgg19::new(&weights, exp.pooling, device, exp.precision, format.format);
    timings.push(lap(&mut t, "memory format"));
    let first = inputs.at(0)?;
    let x = inputs.start(exp, &first)?;
    // A run from its content: the first evaluation's forward pass gives
    // the content targets (one pass fewer before the first step).
    let content_first = x.size() == first.content.size() && x.f_equal(&first.content)?;
    timings.push(lap(&mut t, "starting image"));
    let objective = StyleObjective::new(
        net,
        &first.content,
        &first.styles,
        &exp.content_layers,
        &exp.style_layers,
        LossWeights {
            content: exp.content_weight,
            style: exp.style_weight,
            tv: exp.tv_weight,
        },
        exp.seed,
        tiling.first().copied().flatten().map(|t| t.tile),
        content_first,
    )?
    .with_bounds(exp.bounds);
    let objective = if exp.precision == stylelab_core::config::Precision::Fp16 {
        objective.with_loss_scaling()
    } else {
        objective
    };
    timings.push(lap(&mut t, "targets"));
    Ok(Prepared {
        objective,
        inputs,
        first,
        x,
        device,
        format,
        tiling,
        timings,
    })
}
