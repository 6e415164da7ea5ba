//! The engine: loads images and weights for an [`Experiment`], plans its
//! scales, computes the targets, and runs the optimizer loop, reporting
//! [`RunEvent`]s to a [`Sink`] and obeying [`Control`](stylelab_core::events::Control)s between steps. It
//! owns every tensor, on one thread, and reads from the device only through
//! [`reads`].
//!
//! A multi-scale run (`images.size = [256, 512, …]`) is one loop: at the end
//! of each scale the image is enlarged, the targets are recomputed from the
//! images at the new size, and the optimizer starts afresh (its history and
//! moments belong to the old size); the step count runs on.

pub mod color;
pub mod device;
pub mod imaging;
pub mod inputs;
pub mod loss;
pub mod measure;
pub mod memory_format;
#[cfg(test)]
mod memory_tests;
pub mod optim;
pub mod preflight;
pub mod reads;
mod runner;
pub mod score;
pub mod style;
pub mod vgg;
pub mod weights;

/// The libtorch this crate was built against.
pub const LIBTORCH_VERSION: &str = env!("STYLELAB_LIBTORCH_VERSION");

use inputs::Inputs;
use loss::{LossWeights, StyleObjective};
use runner::{Advance, Flow, Runner};
use std::path::Path;
use std::sync::Arc;
use stylelab_core::config::{Experiment, OptimizerKind};
use stylelab_core::events::{Controls, RunEvent, RunInfo};
use stylelab_core::record::{MetricsHeader, Scale, Status, Summary};
use stylelab_core::sinks::Sink;
use tch::Device;

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An image could not be read (the message names the file and why).
    #[error("{0}")]
    Image(String),
    /// The weights file could not be loaded.
    #[error(transparent)]
    Weights(#[from] crate::weights::WeightsError),
    /// The weights file lacks a layer the experiment selects.
    #[error(transparent)]
    MissingLayer(#[from] crate::weights::MissingLayer),
    /// A loss term stopped being a finite number: the run diverged.
    #[error(
        "the {term} loss became {value} at step {step}{cause}; try smaller loss weights, a smaller learning rate, or another init"
    )]
    Diverged {
        term: &'static str,
        value: f64,
        step: u64,
        /// What grew too large before, when known (` (at the step before …)`).
        cause: String,
    },
    /// libtorch failed (out of memory, mostly).
    #[error("{}", stylelab_core::torch_error::summarize(&.0.to_string()))]
    Torch(#[from] tch::TchError),
    /// libtorch failed while doing `during` (e.g. loading the weights onto cuda:0).
    #[error("{during}: {}", stylelab_core::torch_error::summarize(&source.to_string()))]
    TorchDuring { during: String, source: tch::TchError },
    /// A sink could not take an event: the run folder could not be written.
    #[error("writing results failed: {0}")]
    Record(String),
}

impl EngineError {
    /// The whole text behind the one-line message (libtorch's backtrace),
    /// for the debug log; None when the message is all there is.
    pub fn detail(&self) -> Option<String> {
        match self {
            EngineError::Torch(e) | EngineError::TorchDuring { source: e, .. } => {
                stylelab_core::torch_error::detail(&e.to_string())
            }
            _ => None,
        }
    }
}

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

/// Steps at which `normalize = "running"` re-estimates the term scales,
/// counted from the start of each scale: 0, 10, 30, 70, 150, …
/// (10·(2ᵏ − 1)), spaced wider as the losses settle, since each restart
/// costs one evaluation and the optimizer's history.
pub fn is_renormalize_step(step: u64) -> bool {
    step == 0 || ((step / 10 + 1).is_power_of_two() && step.is_multiple_of(10))
}

/// Static facts about a run that go into its summary.
pub struct RunContext<'a> {
    /// The validated experiment.
    pub exp: &'a Experiment,
    /// The run's folder.
    pub dir: &'a Path,
    /// SHA-256 of the weights file, hex: recorded with the run and its scores.
    pub weights_sha256: String,
    /// The sweep the run is a point of, if any.
    pub sweep: Option<stylelab_core::record::SweepMember>,
}

/// SHA-256 of every input image of `exp` by path (an unreadable one is
/// left out: loading it fails the run with its own message).
pub fn image_hashes(exp: &Experiment) -> std::collections::BTreeMap<String, String> {
    exp.input_images()
        .into_iter()
        .filter_map(|p| Some((p.display().to_string(), crate::weights::sha256_file(&p).ok()?)))
        .collect()
}

/// The summary of a run that is starting.
fn initial_summary(ctx: &RunContext, device: Device) -> Summary {
    let exp = ctx.exp;
    Summary {
        name: exp.name.clone(),
        status: Status::Running,
        error: None,
        started: stylelab_core::record::now_rfc3339(),
        finished: None,
        steps: 0,
        iterations: exp.total_iterations(),
        evals: 0,
        wall_s: 0.0,
        seconds_per_step: 0.0,
        device: device::describe(device),
        libtorch: crate::LIBTORCH_VERSION.to_string(),
        stylelab: env!("CARGO_PKG_VERSION").to_string(),
        weights: exp.weights.display().to_string(),
        weights_sha256: ctx.weights_sha256.clone(),
        images_sha256: image_hashes(exp),
        seed: exp.seed,
        width: 0,
        height: 0,
        peak_rss_mib: 0.0,
        peak_gpu_mib: None,
        final_losses: None,
        pid: Some(std::process::id()),
        precision: exp.precision.to_string(),
        memory_format: String::new(),
        host_reads_per_step: None,
        seconds_to_first_evaluation: None,
        seconds_to_first_step: None,
        scales: Vec::new(),
        style_losses: exp
            .style_layers
            .iter()
            .map(|s| (s.layer.to_string(), s.loss.to_string()))
            .collect(),
        regions: exp
            .regions
            .as_ref()
            .map(|r| r.list.iter().map(|g| g.name.clone()).collect())
            .unwrap_or_default(),
        scores: None,
        sweep: ctx.sweep.clone(),
        host: Some(stylelab_core::procfs::hostname()),
        visible_devices: std::env::var("CUDA_VISIBLE_DEVICES").ok(),
        cuda_alloc_conf: device
            .is_cuda()
            .then(|| std::env::var("PYTORCH_CUDA_ALLOC_CONF").ok())
            .flatten(),
    }
}

/// Runs an experiment to the end and returns its final summary. Never
/// panics on bad input: failures end as `status = failed` with a message.
pub fn run(ctx: &RunContext, device: Device, sink: &mut dyn Sink, controls: &mut Controls) -> Summary {
    let mut summary = initial_summary(ctx, device);
    let mut last_image = None;
    let outcome =
        stylelab_core::torch_error::catch(|| optimise(ctx, device, sink, controls, &mut summary, &mut last_image));
    let (error, detail) = match outcome {
        Ok(Ok(status)) => {
            summary.status = status;
            (None, None)
        }
        Ok(Err(e)) => (Some(e.to_string()), e.detail()),
        Err(panic) => (Some(panic.summary()), stylelab_core::torch_error::detail(&panic.0)),
    };
    if let Some(text) = detail {
        // The backtrace is for whoever debugs libtorch, not for the console.
        let _ = sink.handle(&RunEvent::Debug(text));
    }
    if let Some(e) = error {
        summary.status = Status::Failed;
        summary.error.get_or_insert(e);
    }
    if ctx.exp.score
        && let Some(image) = &last_image
    {
        match score_final(ctx, device, image) {
            Ok(scores) => summary.scores = Some(scores),
            // A run is not failed for want of a score: `stylelab score` can
            // try again. Said through the sinks, like everything the engine says.
            Err(e) => {
                let _ = sink.handle(&RunEvent::Warning(format!("could not score the result: {e}")));
            }
        }
    }
    summary.finished = Some(stylelab_core::record::now_rfc3339());
    summary.peak_rss_mib = stylelab_core::procfs::peak_rss_mib();
    summary.pid = None;
    if let Err(e) = sink.handle(&RunEvent::Finished {
        summary: Box::new(summary.clone()),
        image: last_image,
    }) {
        summary.status = Status::Failed;
        summary.error.get_or_insert(format!("{e:#}"));
    }
    summary
}

/// The final image measured with the yardstick at its default size.
fn score_final(
    ctx: &RunContext,
    device: Device,
    image: &image::RgbImage,
) -> Result<stylelab_core::record::Scores, score::ScoreError> {
    let size = score::DEFAULT_SIZE.min(image.width().max(image.height()));
    let scorer = score::Scorer::new(&ctx.exp.weights, &ctx.weights_sha256, size, device)?;
    let targets = score::experiment_targets(&scorer, ctx.exp)?;
    scorer.score(image, &targets)
}

/// Hands an event to the sink; a sink that fails (cannot write) ends the run.
fn emit(sink: &mut dyn Sink, event: RunEvent) -> Result<(), EngineError> {
    sink.handle(&event).map_err(|e| EngineError::Record(format!("{e:#}")))
}

/// What the run's opening event says about it.
fn run_info(ctx: &RunContext, objective: &StyleObjective, summary: &Summary, device: Device) -> RunInfo {
    let exp = ctx.exp;
    let describe = |ls: &[(stylelab_core::layer::Layer, f64)]| ls.iter().map(|(l, w)| (l.to_string(), *w)).collect();
    RunInfo {
        name: exp.name.clone(),
        dir: ctx.dir.to_path_buf(),
        device: summary.device.clone(),
        iterations: exp.total_iterations(),
        width: summary.width,
        height: summary.height,
        header: MetricsHeader::new(objective.layer_columns()),
        content_layers: describe(&exp.content_layers),
        style_layers: exp
            .style_layers
            .iter()
            .map(|s| {
                let name = match s.loss {
                    stylelab_core::config::StyleLoss::Gram => s.layer.to_string(),
                    other => format!("{} ({other})", s.layer),
                };
                (name, s.weight)
            })
            .collect(),
        optimizer: match exp.optimizer {
            OptimizerKind::Lbfgs => format!(
                "lbfgs (history {}, lr {}, {})",
                exp.history,
                stylelab_core::record::compact(exp.learning_rate),
                optim::Form::for_device(device)
            ),
            OptimizerKind::Adam => format!("adam (lr {})", stylelab_core::record::compact(exp.learning_rate)),
        },
        summary: summary.clone(),
    }
}

/// The loop: prepare, then step until done, stopped or failed; returns
/// how it ended. Whatever the ending, `last_image` is then the image of the
/// last metrics row (the last finite one): final.png, the last row and the
/// summary's size describe the same image.
fn optimise(
    ctx: &RunContext,
    device: Device,
    sink: &mut dyn Sink,
    controls: &mut Controls,
    summary: &mut Summary,
    last_image: &mut Option<Arc<image::RgbImage>>,
) -> Result<Status, EngineError> {
    let mut prepared = prepare(ctx.exp, device)?;
    let last = prepared.inputs.plan.last().cloned();
    summary.width = last.as_ref().map_or(0, |p| p.width);
    summary.height = last.as_ref().map_or(0, |p| p.height);
    summary.scales = planned_scales(&prepared.inputs.plan);
    summary.memory_format = prepared.format.to_string();
    emit(
        sink,
        RunEvent::Started(Box::new(run_info(ctx, &prepared.objective, summary, device))),
    )?;
    for w in prepared.objective.take_warnings() {
        emit(sink, RunEvent::Warning(w))?;
    }
    let mut run = Runner::start(ctx.exp, prepared, sink)?;
    let result = steps(&mut run, controls, summary);
    if let Some(kept) = run.kept_image() {
        *last_image = Some(kept?);
    }
    result
}

/// Steps until the run is done, stopped or failed.
fn steps(run: &mut Runner, controls: &mut Controls, summary: &mut Summary) -> Result<Status, EngineError> {
    run.record(summary)?;
    loop {
        if run.scale_done() {
            if !run.next_scale(summary)? {
                return Ok(Status::Completed);
            }
            continue;
        }
        if run.obey(controls)? == Flow::Stop {
            return Ok(Status::Stopped);
        }
        run.refresh()?;
        let advance = run.advance()?;
        run.record(summary)?;
        run.periodic_snapshot()?;
        match advance {
            Advance::Moved => {}
            Advance::Converged => {
                if !run.next_scale(summary)? {
                    return Ok(Status::Completed);
                }
            }
            Advance::Stalled(why) => {
                summary.error = Some(why);
                return Ok(Status::Stalled);
            }
        }
    }
}

/// The scales as the summary records them, each starting where the steps
/// before it would end.
fn planned_scales(plan: &[inputs::ScalePlan]) -> Vec<Scale> {
    let mut from = 0;
    plan.iter()
        .map(|p| {
            let s = Scale {
                size: p.size,
                width: p.width,
                height: p.height,
                iterations: p.iterations,
                from_step: from,
            };
            from += p.iterations;
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renormalize_steps_spread_out() {
        let steps: Vec<u64> = (0..400).filter(|&s| is_renormalize_step(s)).collect();
        assert_eq!(steps, vec![0, 10, 30, 70, 150, 310]);
    }

    #[test]
    fn a_real_allocation_failure_reads_as_one_line_with_advice() {
        // More than any machine has: libtorch's CPU allocator refuses it.
        let err = tch::Tensor::f_empty([1i64 << 50], (tch::Kind::Float, tch::Device::Cpu)).expect_err("too large");
        let text = err.to_string();
        let short = stylelab_core::torch_error::summarize(&text);
        assert_eq!(short.lines().count(), 1, "{short}");
        assert!(short.starts_with("out of memory ("), "{short}");
        assert!(!short.contains("frame #"), "{short}");
    }

    #[test]
    fn oom_messages_suggest_a_smaller_size() {
        let e = EngineError::Torch(tch::TchError::Torch(
            "CUDA out of memory. Tried to allocate 2 GiB\nException raised from ...".into(),
        ));
        let msg = e.to_string();
        assert!(
            msg.starts_with("out of memory (CUDA out of memory. Tried to allocate 2 GiB)"),
            "{msg}"
        );
        assert!(msg.contains("smaller images.size"));
    }
}
