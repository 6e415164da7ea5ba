//! The engine: loads images and weights for an [`Experiment`], computes the
//! targets once, and runs the optimizer loop, reporting [`RunEvent`]s to a
//! [`Sink`] and obeying [`Control`]s between steps. It owns every tensor,
//! on one thread.

pub mod device;
pub mod imaging;
pub mod loss;
pub mod optim;
pub mod rng;
pub mod vgg;

use crate::config::{Experiment, Init, Normalize, OptimizerKind};
use crate::events::{Control, Controls, RunEvent, RunInfo, Term};
use crate::record::{Losses, MetricsHeader, Status, StepMetrics, Summary};
use crate::sinks::Sink;
use loss::{Breakdown, LossWeights, StyleObjective};
use optim::{Adam, Lbfgs, Objective, Optimizer, StepOutcome};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::{Device, Tensor};

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Setup(String),
    #[error("{}", torch_message(.0))]
    Torch(#[from] tch::TchError),
    #[error("writing results failed: {0}")]
    Sink(String),
}

/// libtorch's messages carry a C++ backtrace; keep the first line, and say
/// what to do about running out of memory.
fn torch_message(e: &tch::TchError) -> String {
    let text = e.to_string();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(&text).trim();
    let first = first
        .strip_prefix("Internal torch error:")
        .unwrap_or(first)
        .trim()
        .to_string();
    if text.contains("out of memory") || text.contains("DefaultCPUAllocator: can't allocate") {
        format!("out of memory ({first}); try a smaller images.size or fewer/shallower layers")
    } else {
        first
    }
}

/// Everything prepared for a run: the objective with its targets, and the
/// starting image.
pub struct Prepared {
    pub objective: StyleObjective,
    pub x: Tensor,
    pub device: Device,
    pub width: u32,
    pub height: u32,
}

/// Loads images and weights and computes the targets.
pub fn prepare(exp: &Experiment, device: Device) -> Result<Prepared, EngineError> {
    device::configure(device);
    let setup = EngineError::Setup;
    let content_img = imaging::decode(&exp.content).map_err(setup)?;
    let (width, height) = imaging::fit_longest(content_img.width(), content_img.height(), exp.size);
    let content = imaging::to_tensor(&imaging::resize(&content_img, width, height), device);
    let style_side = ((exp.size as f64) * exp.style_scale).round() as u32;
    let mut styles = Vec::with_capacity(exp.styles.len());
    for s in &exp.styles {
        let img = imaging::decode(&s.path).map_err(setup)?;
        let (w, h) = imaging::fit_longest(img.width(), img.height(), style_side);
        styles.push((imaging::to_tensor(&imaging::resize(&img, w, h), device), s.blend));
    }
    let x = match &exp.init {
        Init::Content => content.copy(),
        Init::Noise => {
            let noise = rng::SplitMix64::new(exp.seed).uniform_vec(3 * width as usize * height as usize);
            Tensor::from_slice(&noise)
                .view([1, 3, height as i64, width as i64])
                .to_device(device)
        }
        Init::Image(p) => {
            let img = imaging::decode(p).map_err(setup)?;
            imaging::to_tensor(&imaging::resize(&img, width, height), device)
        }
    };
    let deepest = exp.layers().into_iter().max();
    let weights = crate::weights::load(&exp.weights, deepest, device).map_err(|e| setup(e.to_string()))?;
    for layer in exp.layers() {
        if !weights.info.has_layer(layer) {
            return Err(setup(format!(
                "{}: has no weights for {layer} (it holds {})",
                exp.weights.display(),
                weights.info.layer_range()
            )));
        }
    }
    let net = vgg::Vgg19::new(weights, exp.pooling, device);
    let objective = StyleObjective::new(
        net,
        &content,
        &styles,
        &exp.content_layers,
        &exp.style_layers,
        LossWeights {
            content: exp.content_weight,
            style: exp.style_weight,
            tv: exp.tv_weight,
        },
    )?;
    Ok(Prepared {
        objective,
        x,
        device,
        width,
        height,
    })
}

/// Steps at which `normalize = "running"` re-estimates the term scales:
/// 0, 10, 30, 70, 150, … (10·(2ᵏ − 1)), spaced wider as the losses settle,
/// since each restart costs one evaluation and the optimizer's history.
pub fn is_rescale_step(step: u64) -> bool {
    step == 0 || ((step / 10 + 1).is_power_of_two() && step.is_multiple_of(10))
}

/// Static facts about a run that go into its summary.
pub struct RunContext<'a> {
    pub exp: &'a Experiment,
    pub dir: &'a Path,
    pub weights_sha256: String,
}

/// Runs an experiment to the end and returns its final summary. Never
/// panics on bad input: failures end as `status = failed` with a message.
pub fn run(ctx: &RunContext, device: Device, sink: &mut dyn Sink, controls: &Controls) -> Summary {
    let exp = ctx.exp;
    let mut summary = Summary {
        name: exp.name.clone(),
        status: Status::Running,
        error: None,
        started: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        finished: None,
        steps: 0,
        iterations: exp.iterations,
        evals: 0,
        wall_s: 0.0,
        seconds_per_step: 0.0,
        device: device::describe(device),
        libtorch: crate::LIBTORCH_VERSION.to_string(),
        stylelab: env!("CARGO_PKG_VERSION").to_string(),
        weights: exp.weights.display().to_string(),
        weights_sha256: ctx.weights_sha256.clone(),
        seed: exp.seed,
        width: 0,
        height: 0,
        peak_rss_mib: 0.0,
        peak_gpu_mib: None,
        final_losses: None,
        pid: Some(std::process::id()),
    };
    let mut last_image = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        optimise(ctx, device, sink, controls, &mut summary, &mut last_image)
    }));
    let error = match outcome {
        Ok(Ok(status)) => {
            summary.status = status;
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(panic) => Some(format!("internal error: {}", panic_text(&panic))),
    };
    if let Some(e) = error {
        summary.status = Status::Failed;
        summary.error.get_or_insert(e);
    }
    summary.finished = Some(chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
    summary.peak_rss_mib = device::peak_rss_mib();
    summary.pid = None;
    if let Err(e) = sink.handle(&RunEvent::Finished {
        summary: Box::new(summary.clone()),
        image: last_image,
    }) {
        summary.status = Status::Failed;
        summary.error.get_or_insert(format!("writing results failed: {e}"));
    }
    summary
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .map(|s| torch_message(&tch::TchError::Torch(s.clone())))
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn emit(sink: &mut dyn Sink, event: RunEvent) -> Result<(), EngineError> {
    sink.handle(&event).map_err(|e| EngineError::Sink(e.to_string()))
}

/// The loop itself; returns how it ended.
fn optimise(
    ctx: &RunContext,
    device: Device,
    sink: &mut dyn Sink,
    controls: &Controls,
    summary: &mut Summary,
    last_image: &mut Option<Arc<image::RgbImage>>,
) -> Result<Status, EngineError> {
    let exp = ctx.exp;
    let Prepared {
        mut objective,
        mut x,
        width,
        height,
        ..
    } = prepare(exp, device)?;
    summary.width = width;
    summary.height = height;
    let header = MetricsHeader::new(objective.layer_columns());
    let describe = |ls: &[(crate::layer::Layer, f64)]| ls.iter().map(|(l, w)| (l.to_string(), *w)).collect();
    emit(
        sink,
        RunEvent::Started(Box::new(RunInfo {
            name: exp.name.clone(),
            dir: ctx.dir.to_path_buf(),
            device: summary.device.clone(),
            iterations: exp.iterations,
            width,
            height,
            header,
            content_layers: describe(&exp.content_layers),
            style_layers: describe(&exp.style_layers),
            optimizer: match exp.optimizer {
                OptimizerKind::Lbfgs => {
                    format!("lbfgs (history {}, lr {})", exp.history, exp.learning_rate)
                }
                OptimizerKind::Adam => format!("adam (lr {})", exp.learning_rate),
            },
            summary: summary.clone(),
        })),
    )?;

    let mut optimizer = match exp.optimizer {
        OptimizerKind::Lbfgs => Optimizer::Lbfgs(Lbfgs::new(exp.learning_rate, exp.history)),
        OptimizerKind::Adam => Optimizer::Adam(Adam::new(exp.learning_rate)),
    };
    let mut clock = ActiveClock::start();
    let mut current = objective.evaluate(&x)?;
    if exp.normalize == Normalize::Running {
        rescale(&mut objective, &current.info);
        current = objective.evaluate(&x)?;
    }
    let row = |objective: &StyleObjective, step: u64, info: &Breakdown, clock: &ActiveClock| StepMetrics {
        iter: step,
        evals: objective.evals,
        elapsed_s: clock.elapsed().as_secs_f64(),
        total: info.total,
        content: info.content,
        style: info.style,
        tv: info.tv,
        layers: info.layers.clone(),
        content_weight: objective.weights.content,
        style_weight: objective.weights.style,
        tv_weight: objective.weights.tv,
    };
    let check_finite = |info: &Breakdown, step: u64| -> Result<(), EngineError> {
        match info.non_finite_term() {
            None => Ok(()),
            Some(term) => Err(EngineError::Setup(format!(
                "the {term} loss became {} at step {step}; try smaller loss weights, a smaller learning rate, or another init",
                [info.content, info.style, info.tv, info.total]
                    .iter()
                    .find(|v| !v.is_finite())
                    .unwrap_or(&f64::NAN)
            ))),
        }
    };
    let snapshot = |x: &Tensor| Arc::new(imaging::from_tensor(x));
    *last_image = Some(snapshot(&x));
    emit(sink, RunEvent::Step(row(&objective, 0, &current.info, &clock)))?;
    finish_step(summary, &objective, 0, &clock, &current.info);
    check_finite(&current.info, 0)?;

    let mut step = 0u64;
    let status = loop {
        if step >= exp.iterations {
            break Status::Completed;
        }
        // Controls, between steps.
        let mut dirty = false;
        let mut stop = false;
        // Oldest first: pop() takes from the end.
        let mut pending: Vec<Control> = controls.drain().into_iter().rev().collect();
        while let Some(control) = pending.pop() {
            match control {
                Control::Stop => stop = true,
                Control::SnapshotNow => {
                    let image = snapshot(&x);
                    emit(sink, RunEvent::Snapshot { iter: step, image })?;
                }
                Control::Scale(term, factor) => {
                    let w = &mut objective.weights;
                    let slot = match term {
                        Term::Content => &mut w.content,
                        Term::Style => &mut w.style,
                        Term::Tv => &mut w.tv,
                    };
                    let from = *slot;
                    *slot *= factor;
                    dirty = true;
                    emit(
                        sink,
                        RunEvent::Steered {
                            iter: step,
                            term,
                            from,
                            to: *slot,
                        },
                    )?;
                }
                Control::Pause => {
                    emit(
                        sink,
                        RunEvent::Paused {
                            iter: step,
                            paused: true,
                        },
                    )?;
                    clock.pause();
                    loop {
                        match controls.wait(Duration::from_millis(100)) {
                            Some(Control::Resume) => break,
                            Some(Control::Stop) => {
                                stop = true;
                                break;
                            }
                            // Steering and snapshots while paused apply on resume.
                            Some(other) if other != Control::Pause => pending.insert(0, other),
                            _ => {}
                        }
                    }
                    clock.resume();
                    emit(
                        sink,
                        RunEvent::Paused {
                            iter: step,
                            paused: false,
                        },
                    )?;
                }
                Control::Resume => {}
            }
        }
        if stop {
            break Status::Stopped;
        }
        if exp.normalize == Normalize::Running && step > 0 && is_rescale_step(step) {
            rescale(&mut objective, &current.info);
            dirty = true;
        }
        if dirty {
            // The objective changed: its value, gradient and curvature history
            // at this point are stale.
            optimizer.reset();
            current = objective.evaluate(&x)?;
        }

        let before = x.copy();
        let outcome = optimizer.step(&mut objective, &mut x, current)?;
        step += 1;
        let (eval, converged) = match outcome {
            StepOutcome::Moved(e) => (e, false),
            StepOutcome::Converged(e) => (e, true),
        };
        current = eval;
        emit(sink, RunEvent::Step(row(&objective, step, &current.info, &clock)))?;
        finish_step(summary, &objective, step, &clock, &current.info);
        if let Err(e) = check_finite(&current.info, step) {
            // Keep the last finite image as the result.
            *last_image = Some(snapshot(&before));
            return Err(e);
        }
        if exp.snapshot_every > 0 && step.is_multiple_of(exp.snapshot_every) {
            let image = snapshot(&x);
            *last_image = Some(image.clone());
            emit(sink, RunEvent::Snapshot { iter: step, image })?;
        }
        if converged {
            break Status::Completed;
        }
    };
    *last_image = Some(snapshot(&x));
    Ok(status)
}

/// `normalize = "running"`: divide each term by its current magnitude
/// (detached). The caller re-evaluates under the new scales.
fn rescale(objective: &mut StyleObjective, info: &Breakdown) {
    for (scale, value) in objective.scales.iter_mut().zip([info.content, info.style, info.tv]) {
        // A term that is 0 (content at init = content) keeps its scale.
        if value.is_finite() && value > 0.0 {
            *scale = value;
        }
    }
}

fn finish_step(summary: &mut Summary, objective: &StyleObjective, step: u64, clock: &ActiveClock, info: &Breakdown) {
    summary.steps = step;
    summary.evals = objective.evals;
    summary.wall_s = clock.elapsed().as_secs_f64();
    summary.seconds_per_step = if step > 0 { summary.wall_s / step as f64 } else { 0.0 };
    summary.final_losses = Some(Losses {
        total: info.total,
        content: info.content,
        style: info.style,
        tv: info.tv,
    });
}

/// Wall time that does not count pauses.
struct ActiveClock {
    started: Instant,
    paused_at: Option<Instant>,
    paused_total: Duration,
}

impl ActiveClock {
    fn start() -> Self {
        ActiveClock {
            started: Instant::now(),
            paused_at: None,
            paused_total: Duration::ZERO,
        }
    }
    fn pause(&mut self) {
        self.paused_at.get_or_insert_with(Instant::now);
    }
    fn resume(&mut self) {
        if let Some(p) = self.paused_at.take() {
            self.paused_total += p.elapsed();
        }
    }
    fn elapsed(&self) -> Duration {
        let paused = self.paused_total + self.paused_at.map(|p| p.elapsed()).unwrap_or_default();
        self.started.elapsed().saturating_sub(paused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_steps_spread_out() {
        let steps: Vec<u64> = (0..400).filter(|&s| is_rescale_step(s)).collect();
        assert_eq!(steps, vec![0, 10, 30, 70, 150, 310]);
    }

    #[test]
    fn oom_messages_suggest_a_smaller_size() {
        let e = tch::TchError::Torch("CUDA out of memory. Tried to allocate 2 GiB\nException raised from ...".into());
        let msg = torch_message(&e);
        assert!(
            msg.starts_with("out of memory (CUDA out of memory. Tried to allocate 2 GiB)"),
            "{msg}"
        );
        assert!(msg.contains("smaller images.size"));
    }
}
