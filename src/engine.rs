//! The engine: loads images and weights for an [`Experiment`], computes the
//! targets once, and runs the optimizer loop, reporting [`RunEvent`]s to a
//! [`Sink`] and obeying [`Control`]s between steps. It owns every tensor,
//! on one thread.

pub mod device;
pub mod imaging;
pub mod loss;
pub mod optim;
pub mod reads;
pub mod vgg;

use crate::config::{Experiment, Init, Normalize, OptimizerKind};
use crate::events::{Control, Controls, RunEvent, RunInfo, Term};
use crate::gpu;
use crate::record::{Losses, MetricsHeader, Status, StepMetrics, Summary};
use crate::sinks::Sink;
use loss::{Breakdown, LossWeights, StyleObjective};
use optim::{Adam, Lbfgs, Objective, Optimizer, Point, StepOutcome, observe};
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
    /// The memory format the network uses, and how it was chosen.
    pub format: vgg::FormatChoice,
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
            let noise = crate::rng::SplitMix64::new(exp.seed).uniform_vec(3 * width as usize * height as usize);
            Tensor::from_slice(&noise)
                .view([1, 3, height as i64, width as i64])
                .to_device(device)
        }
        Init::Image(p) => {
            let img = imaging::decode(p).map_err(setup)?;
            imaging::to_tensor(&imaging::resize(&img, width, height), device)
        }
    };
    let layers = exp.layers();
    let weights =
        crate::weights::load(&exp.weights, layers.last().copied(), device).map_err(|e| setup(e.to_string()))?;
    weights.info.check_layers(&layers).map_err(|e| setup(e.to_string()))?;
    let format = vgg::choose_format(&weights, exp, device, width.max(height), &layers)?;
    let net = vgg::Vgg19::new(&weights, exp.pooling, device, exp.precision, format.format);
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
    let objective = if exp.precision == crate::config::Precision::Fp16 {
        objective.with_loss_scaling()
    } else {
        objective
    };
    Ok(Prepared {
        objective,
        x,
        device,
        width,
        height,
        format,
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

/// The summary of a run that is starting.
fn initial_summary(ctx: &RunContext, device: Device) -> Summary {
    let exp = ctx.exp;
    Summary {
        name: exp.name.clone(),
        status: Status::Running,
        error: None,
        started: now_rfc3339(),
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
        precision: exp.precision.to_string(),
        memory_format: String::new(),
        host_reads_per_step: None,
    }
}

fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Runs an experiment to the end and returns its final summary. Never
/// panics on bad input: failures end as `status = failed` with a message.
pub fn run(ctx: &RunContext, device: Device, sink: &mut dyn Sink, controls: &mut Controls) -> Summary {
    let mut summary = initial_summary(ctx, device);
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
    summary.finished = Some(now_rfc3339());
    summary.peak_rss_mib = crate::procfs::peak_rss_mib();
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

/// What the run's opening event says about it.
fn run_info(ctx: &RunContext, objective: &StyleObjective, summary: &Summary, device: Device) -> RunInfo {
    let exp = ctx.exp;
    let describe = |ls: &[(crate::layer::Layer, f64)]| ls.iter().map(|(l, w)| (l.to_string(), *w)).collect();
    RunInfo {
        name: exp.name.clone(),
        dir: ctx.dir.to_path_buf(),
        device: summary.device.clone(),
        iterations: exp.iterations,
        width: summary.width,
        height: summary.height,
        header: MetricsHeader::new(objective.layer_columns()),
        content_layers: describe(&exp.content_layers),
        style_layers: describe(&exp.style_layers),
        optimizer: match exp.optimizer {
            OptimizerKind::Lbfgs => format!(
                "lbfgs (history {}, lr {}, {})",
                exp.history,
                exp.learning_rate,
                optim::Form::for_device(device)
            ),
            OptimizerKind::Adam => format!("adam (lr {})", exp.learning_rate),
        },
        summary: summary.clone(),
    }
}

/// The loop: prepare, then step until done, stopped or failed; returns
/// how it ended. `last_image` always holds the image to keep as final.
fn optimise(
    ctx: &RunContext,
    device: Device,
    sink: &mut dyn Sink,
    controls: &mut Controls,
    summary: &mut Summary,
    last_image: &mut Option<Arc<image::RgbImage>>,
) -> Result<Status, EngineError> {
    let prepared = prepare(ctx.exp, device)?;
    summary.width = prepared.width;
    summary.height = prepared.height;
    summary.memory_format = prepared.format.to_string();
    emit(
        sink,
        RunEvent::Started(Box::new(run_info(ctx, &prepared.objective, summary, device))),
    )?;
    let mut run = Runner::start(ctx.exp, prepared, sink)?;
    *last_image = Some(run.image());
    run.record(summary)?;
    let status = loop {
        if run.step >= ctx.exp.iterations {
            break Status::Completed;
        }
        if run.obey(controls)? == Flow::Stop {
            break Status::Stopped;
        }
        run.refresh()?;
        let before = run.x.copy();
        let converged = run.advance()?;
        if let Err(e) = run.record(summary) {
            // Keep the last finite image as the result.
            *last_image = Some(imaging_snapshot(&before));
            return Err(e);
        }
        if let Some(image) = run.periodic_snapshot()? {
            *last_image = Some(image);
        }
        if converged {
            break Status::Completed;
        }
    };
    *last_image = Some(run.image());
    Ok(status)
}

fn imaging_snapshot(x: &Tensor) -> Arc<image::RgbImage> {
    Arc::new(imaging::from_tensor(x))
}

/// Whether the loop goes on after the controls were obeyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// A run in progress: the objective, the image, the optimizer and the
/// evaluation at the current image, and where its events go.
struct Runner<'a> {
    exp: &'a Experiment,
    sink: &'a mut dyn Sink,
    objective: StyleObjective,
    x: Tensor,
    optimizer: Optimizer,
    /// The evaluation at `x`, read back.
    current: Point,
    /// Its loss parts.
    info: Breakdown,
    clock: ActiveClock,
    step: u64,
    /// The objective changed (steering): the current evaluation is stale.
    dirty: bool,
    /// Device reads when the first step began.
    reads_at_start: u64,
    /// The process's GPU memory (NVML), sampled now and then.
    gpu: gpu::Sampler,
}

impl<'a> Runner<'a> {
    /// Evaluates the starting image (after estimating the term scales with
    /// `normalize = "running"`).
    fn start(exp: &'a Experiment, prepared: Prepared, sink: &'a mut dyn Sink) -> Result<Self, EngineError> {
        let Prepared { mut objective, x, .. } = prepared;
        let optimizer = match exp.optimizer {
            OptimizerKind::Lbfgs => Optimizer::Lbfgs(Lbfgs::with_form(
                exp.learning_rate,
                exp.history,
                optim::Form::for_device(x.device()),
            )),
            OptimizerKind::Adam => Optimizer::Adam(Adam::new(exp.learning_rate)),
        };
        let clock = ActiveClock::start();
        let mut current = evaluate(&mut objective, &x)?;
        if exp.normalize == Normalize::Running {
            let info = objective.breakdown(&current.values);
            rescale(&mut objective, &info);
            current = evaluate(&mut objective, &x)?;
        }
        let info = objective.breakdown(&current.values);
        let gpu = gpu::Sampler::new(x.device().is_cuda());
        Ok(Runner {
            exp,
            sink,
            objective,
            x,
            optimizer,
            current,
            info,
            clock,
            step: 0,
            dirty: false,
            reads_at_start: reads::count(),
            gpu,
        })
    }

    /// The current image.
    fn image(&self) -> Arc<image::RgbImage> {
        imaging_snapshot(&self.x)
    }

    /// Writes the current evaluation as a metrics row and into the
    /// summary; a loss that is not finite ends the run.
    fn record(&mut self, summary: &mut Summary) -> Result<(), EngineError> {
        let info = &self.info;
        let row = StepMetrics {
            iter: self.step,
            evals: self.objective.evals,
            elapsed_s: self.clock.elapsed().as_secs_f64(),
            total: info.total,
            content: info.content,
            style: info.style,
            tv: info.tv,
            layers: info.layers.clone(),
            content_weight: self.objective.weights.content,
            style_weight: self.objective.weights.style,
            tv_weight: self.objective.weights.tv,
        };
        summary.steps = self.step;
        summary.evals = row.evals;
        summary.wall_s = row.elapsed_s;
        summary.seconds_per_step = if self.step > 0 {
            row.elapsed_s / self.step as f64
        } else {
            0.0
        };
        summary.final_losses = Some(Losses {
            total: info.total,
            content: info.content,
            style: info.style,
            tv: info.tv,
        });
        if self.step == 0 {
            // The loop's reads start here: not the first evaluation and image.
            self.reads_at_start = reads::count();
        } else {
            let reads = reads::count() - self.reads_at_start;
            summary.host_reads_per_step = Some(reads as f64 / self.step as f64);
        }
        summary.peak_gpu_mib = self.gpu.sample().or(summary.peak_gpu_mib);
        emit(self.sink, RunEvent::Step(row))?;
        let info = &self.info;
        match info.non_finite_term() {
            None => Ok(()),
            Some(term) => {
                let value = [info.content, info.style, info.tv, info.total]
                    .into_iter()
                    .find(|v| !v.is_finite())
                    .unwrap_or(f64::NAN);
                Err(EngineError::Setup(format!(
                    "the {term} loss became {value} at step {}; try smaller loss weights, a smaller learning rate, or another init",
                    self.step
                )))
            }
        }
    }

    /// Carries out the commands that came in since the last step, oldest
    /// first. A pause waits here; steering applies from the next step.
    fn obey(&mut self, controls: &mut Controls) -> Result<Flow, EngineError> {
        let mut pending: std::collections::VecDeque<Control> = controls.drain().into();
        while let Some(control) = pending.pop_front() {
            match control {
                Control::Stop => return Ok(Flow::Stop),
                Control::SnapshotNow => {
                    let image = self.image();
                    emit(self.sink, RunEvent::Snapshot { iter: self.step, image })?;
                }
                Control::Scale(term, factor) => self.steer(term, factor)?,
                Control::Pause => {
                    if self.pause(controls, &mut pending)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                Control::Resume => {}
            }
        }
        Ok(Flow::Go)
    }

    /// Multiplies a loss weight.
    fn steer(&mut self, term: Term, factor: f64) -> Result<(), EngineError> {
        let w = &mut self.objective.weights;
        let slot = match term {
            Term::Content => &mut w.content,
            Term::Style => &mut w.style,
            Term::Tv => &mut w.tv,
        };
        let from = *slot;
        *slot *= factor;
        self.dirty = true;
        let event = RunEvent::Steered {
            iter: self.step,
            term,
            from,
            to: *slot,
        };
        emit(self.sink, event)
    }

    /// Waits for resume or stop; other commands that come meanwhile are
    /// queued to apply on resume. The clock does not run while paused.
    fn pause(
        &mut self,
        controls: &mut Controls,
        pending: &mut std::collections::VecDeque<Control>,
    ) -> Result<Flow, EngineError> {
        let iter = self.step;
        emit(self.sink, RunEvent::Paused { iter, paused: true })?;
        self.clock.pause();
        let flow = 'wait: loop {
            for c in controls.wait(Duration::from_millis(100)) {
                match c {
                    Control::Resume => break 'wait Flow::Go,
                    Control::Stop => break 'wait Flow::Stop,
                    Control::Pause => {}
                    other => pending.push_back(other),
                }
            }
        };
        self.clock.resume();
        emit(self.sink, RunEvent::Paused { iter, paused: false })?;
        Ok(flow)
    }

    /// Brings the evaluation up to date with the objective: rescales on
    /// schedule with `normalize = "running"`, and re-evaluates (restarting
    /// the optimizer's history) when the function changed.
    fn refresh(&mut self) -> Result<(), EngineError> {
        if self.exp.normalize == Normalize::Running && self.step > 0 && is_rescale_step(self.step) {
            rescale(&mut self.objective, &self.info);
            self.dirty = true;
        }
        if std::mem::take(&mut self.dirty) {
            // Its value, gradient and curvature history here are stale.
            self.optimizer.reset();
            self.current = evaluate(&mut self.objective, &self.x)?;
            self.info = self.objective.breakdown(&self.current.values);
        }
        Ok(())
    }

    /// One optimizer step; true when no descent direction is left.
    fn advance(&mut self) -> Result<bool, EngineError> {
        let current = self.current.shallow_clone();
        let outcome = self.optimizer.step(&mut self.objective, &mut self.x, current)?;
        self.step += 1;
        let (point, converged) = match outcome {
            StepOutcome::Moved(p) => (p, false),
            StepOutcome::Converged(p) => (p, true),
        };
        self.info = self.objective.breakdown(&point.values);
        self.current = point;
        Ok(converged)
    }

    /// A snapshot every `snapshot_every` steps; returns it when taken.
    fn periodic_snapshot(&mut self) -> Result<Option<Arc<image::RgbImage>>, EngineError> {
        let every = self.exp.snapshot_every;
        if every == 0 || !self.step.is_multiple_of(every) {
            return Ok(None);
        }
        let image = self.image();
        let event = RunEvent::Snapshot {
            iter: self.step,
            image: image.clone(),
        };
        emit(self.sink, event)?;
        Ok(Some(image))
    }
}

/// Evaluates the objective at `x` and reads the result: one read.
fn evaluate(objective: &mut StyleObjective, x: &Tensor) -> Result<Point, EngineError> {
    let eval = objective.evaluate(x)?;
    Ok(observe(objective, eval, &[])?.0)
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
