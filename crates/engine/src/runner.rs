//! A run from start to end: [`run`] prepares it, emits its opening event,
//! steps it with the [`stepper`] until done, stopped or failed, scores the
//! result and emits the final summary.

pub mod prepare;
mod progress;
mod stepper;

use crate::loss::StyleObjective;
use crate::{EngineError, device, inputs, optim, score};
use std::path::Path;
use std::sync::Arc;
use stepper::{Advance, Flow, Runner};
use stylelab_core::config::{Experiment, OptimizerKind};
use stylelab_core::events::{Controls, RunEvent, RunInfo};
use stylelab_core::record::{MetricsHeader, Scale, Status, Summary};
use stylelab_core::sinks::Sink;
use tch::Device;

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
        why: None,
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
        // Hashed when the run starts (`optimise`), timed as part of its start-up.
        images_sha256: Default::default(),
        seed: exp.seed,
        width: 0,
        height: 0,
        peak_rss_mib: 0.0,
        peak_gpu_mib: None,
        final_losses: None,
        clipped: None,
        pid: Some(std::process::id()),
        precision: exp.precision.to_string(),
        precision_choice: None,
        memory_format: String::new(),
        host_reads_per_step: None,
        seconds_to_first_evaluation: None,
        seconds_to_first_step: None,
        startup: Vec::new(),
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
        optimizer: format!(
            "{}{}",
            optimizer_words(exp, device),
            match exp.bounds {
                stylelab_core::config::Bounds::Box => ", the image kept in [0, 1]",
                stylelab_core::config::Bounds::Pull => ", the image kept in [0, 1] by a pull back",
                stylelab_core::config::Bounds::None => ", the image free (clamped when saved)",
            }
        ),
        summary: summary.clone(),
    }
}

/// The optimizer and its settings in words; L-BFGS's form of the
/// direction as the run's optimizer says (one built as the run builds it,
/// which allocates nothing before its first pair).
fn optimizer_words(exp: &Experiment, device: Device) -> String {
    match exp.optimizer {
        OptimizerKind::Lbfgs => format!(
            "lbfgs (history {}, lr {}, {}, {})",
            exp.history,
            stylelab_core::record::compact(exp.learning_rate),
            optim::Lbfgs::for_run(exp, exp.history, device).form_words(),
            match exp.precondition {
                stylelab_core::config::Precondition::Spectral => "spectral preconditioner",
                stylelab_core::config::Precondition::None => "no preconditioner",
            }
        ),
        OptimizerKind::Adam => format!("adam (lr {})", stylelab_core::record::compact(exp.learning_rate)),
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
    // `optim.precision = "auto"` decided for the device, and said why.
    let (precision, choice) = device::resolve_precision(ctx.exp.precision, device);
    let resolved = Experiment {
        precision,
        ..ctx.exp.clone()
    };
    let exp = &resolved;
    summary.precision = precision.to_string();
    summary.precision_choice = choice;
    let before_engine = stylelab_core::procfs::process_age_s();
    let hashing = std::time::Instant::now();
    summary.images_sha256 = image_hashes(ctx.exp);
    let hashes_s = hashing.elapsed().as_secs_f64();
    let mut prepared = prepare::prepare(exp, device)?;
    summary.startup = startup(before_engine, hashes_s, &prepared.timings);
    let last = prepared.inputs.plan.last().cloned();
    summary.width = last.as_ref().map_or(0, |p| p.width);
    summary.height = last.as_ref().map_or(0, |p| p.height);
    summary.scales = planned_scales(&prepared.inputs.plan, &prepared.tiling);
    summary.memory_format = prepared.format.to_string();
    emit(
        sink,
        RunEvent::Started(Box::new(run_info(ctx, &prepared.objective, summary, device))),
    )?;
    for w in prepared.objective.take_warnings() {
        emit(sink, RunEvent::Warning(w))?;
    }
    let mut run = Runner::start(exp, prepared, sink)?;
    let result = steps(&mut run, controls, summary);
    if let Some(kept) = run.kept_image() {
        *last_image = Some(kept?);
    }
    // A figure about the image, never a reason to fail the run; kept in
    // [0, 1], the losses are already the saved image's.
    if exp.bounds == stylelab_core::config::Bounds::None
        && let Some(Ok(share)) = run.kept_clipped()
    {
        summary.clipped = Some(share);
    }
    result
}

/// Steps until the run is done, stopped or failed.
fn steps(run: &mut Runner, controls: &mut Controls, summary: &mut Summary) -> Result<Status, EngineError> {
    run.record(summary)?;
    loop {
        if run.scale_done() {
            if !run.next_scale(summary)? {
                return Ok(run.ended(summary));
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
            Advance::Converged(why) => {
                run.note_converged(why);
                if !run.next_scale(summary)? {
                    return Ok(run.ended(summary));
                }
            }
            // A coarse scale in reduced precision that can lower its loss
            // no further has found what it can at that size: the next
            // scale goes on from its image (the summary's `why` says so).
            Advance::Stalled(why) if run.stall_ends_scale() => {
                run.note_converged(format!("{why}; the next scale went on from there"));
                if !run.next_scale(summary)? {
                    return Ok(run.ended(summary));
                }
            }
            Advance::Stalled(why) => {
                summary.error = Some(why);
                return Ok(Status::Stalled);
            }
        }
    }
}

/// The start-up's parts: before the engine (from the process's start),
/// hashing the inputs, then what preparing took.
fn startup(
    before_engine: Option<f64>,
    hashes: f64,
    prepared: &[stylelab_core::record::StartupPhase],
) -> Vec<stylelab_core::record::StartupPhase> {
    let phase = |what: &str, seconds: f64| stylelab_core::record::StartupPhase {
        what: what.to_string(),
        seconds: (seconds.max(0.0) * 1e3).round() / 1e3,
    };
    before_engine
        .map(|s| phase("before the engine", s))
        .into_iter()
        .chain(std::iter::once(phase("image hashes", hashes)))
        .chain(prepared.iter().cloned())
        .collect()
}

/// The scales as the summary records them, each starting where the steps
/// before it would end, with its tiling.
fn planned_scales(plan: &[inputs::ScalePlan], tiling: &[Option<stylelab_core::memory::TileChoice>]) -> Vec<Scale> {
    let mut from = 0;
    plan.iter()
        .enumerate()
        .map(|(k, p)| {
            let s = Scale {
                size: p.size,
                width: p.width,
                height: p.height,
                iterations: p.iterations,
                from_step: from,
                tiling: tiling.get(k).copied().flatten(),
            };
            from += p.iterations;
            s
        })
        .collect()
}
