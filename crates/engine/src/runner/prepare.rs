//! What a run needs before its first step: the images decoded and planned
//! into scales, the weights on the device, the memory format chosen, the
//! first scale's targets and the starting image.

use crate::inputs::{self, Inputs};
use crate::loss::{LossWeights, StyleObjective};
use crate::{EngineError, device, memory_format, vgg};
use stylelab_core::config::Experiment;
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
    /// Where the run's tensors live.
    pub device: Device,
    /// The memory format the network uses, and how it was chosen.
    pub format: memory_format::FormatChoice,
}

/// Loads images and weights, plans the scales and computes the first
/// scale's targets.
pub fn prepare(exp: &Experiment, device: Device) -> Result<Prepared, EngineError> {
    device::configure(device);
    let inputs = Inputs::load(exp, device).map_err(EngineError::Image)?;
    let layers = exp.layers();
    let weights = crate::weights::load(&exp.weights, layers.last().copied(), device).map_err(|e| match e {
        crate::weights::WeightsError::Device { device, source, .. } => EngineError::TorchDuring {
            during: format!("loading the weights onto {device}"),
            source,
        },
        other => other.into(),
    })?;
    weights.info.check_layers(&layers)?;
    let first_plan = &inputs.plan[0];
    let format = memory_format::choose(&weights, exp, device, first_plan.width.max(first_plan.height), &layers)?;
    let net = vgg::Vgg19::new(&weights, exp.pooling, device, exp.precision, format.format);
    let first = inputs.at(0)?;
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
    )?;
    let objective = if exp.precision == stylelab_core::config::Precision::Fp16 {
        objective.with_loss_scaling()
    } else {
        objective
    };
    let x = inputs.start(exp, &first)?;
    Ok(Prepared {
        objective,
        inputs,
        first,
        x,
        device,
        format,
    })
}
