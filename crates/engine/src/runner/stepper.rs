//! A run in progress, step by step: the loop's parts that [`super::steps`]
//! calls in order — obey the controls, refresh the evaluation, take a step,
//! record it, snapshot, move to the next scale.

use super::emit;
use super::prepare::Prepared;
use super::progress::Reporting;
use crate::inputs::{self, Inputs, ScaleInputs};
use crate::loss::{Breakdown, StyleObjective};
use crate::optim::{Adam, Lbfgs, Objective, Optimizer, Point, StepOutcome, observe};
use crate::{EngineError, imaging, reads};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stylelab_core::config::{Experiment, Normalize, OptimizerKind, Precision};
use stylelab_core::events::{Control, Controls, RunEvent, Term};
use stylelab_core::gpu;
use stylelab_core::memory;
use stylelab_core::record::{Losses, Status, StepMetrics, Summary};
use stylelab_core::sinks::Sink;
use tch::Tensor;

/// Steps at which `normalize = "running"` re-estimates the term scales,
/// counted from the start of each scale: 0, 10, 30, 70, 150, …
/// (10·(2ᵏ − 1)), spaced wider as the losses settle, since each restart
/// costs one evaluation and the optimizer's history.
pub fn is_renormalize_step(step: u64) -> bool {
    step == 0 || ((step / 10 + 1).is_power_of_two() && step.is_multiple_of(10))
}

/// What a step did, for the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Advance {
    /// Took a step; go on.
    Moved,
    /// Converged (the optimizer found no descent left, or the loss stopped
    /// changing under `optim.stop`): this scale is done, for this reason.
    Converged(String),
    /// No step could lower the loss, far from a minimum: the run ends
    /// `stalled`, for this reason.
    Stalled(String),
}

/// Whether the loop goes on after the controls were obeyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Take the next step.
    Go,
    /// Stop here: the run ends as stopped.
    Stop,
}

/// A run in progress: the objective, the image, the optimizer and the
/// evaluation at the current image, and where its events go.
pub(super) struct Runner<'a> {
    /// The experiment being run.
    exp: &'a Experiment,
    /// Where events (steps, snapshots, steering) go.
    sink: &'a mut dyn Sink,
    /// The loss; its weights and scales change with steering and normalisation.
    objective: StyleObjective,
    /// The images of every scale, and the current scale's tensors.
    inputs: Inputs,
    scale: ScaleInputs,
    /// Each scale's tiles (None: one pass).
    tiling: Vec<Option<stylelab_core::memory::TileChoice>>,
    /// The total loss of this scale's last steps, under the weights in
    /// force (cleared when they change): what `optim.stop` looks back over.
    recent: VecDeque<f64>,
    /// Why scales ended before their steps: the run's `why`.
    converged: Vec<String>,
    /// Index of the current scale, and the step it began at.
    scale_index: usize,
    scale_start: u64,
    /// The image being optimised, at the current scale's size.
    pub(super) x: Tensor,
    /// Started afresh at each scale.
    optimizer: Optimizer,
    /// The evaluation at `x`, read back.
    current: Point,
    /// Its loss parts.
    info: Breakdown,
    /// Wall time of the run, pauses left out.
    clock: ActiveClock,
    /// Steps taken over all scales.
    step: u64,
    /// The objective changed (steering): the current evaluation is stale.
    dirty: bool,
    /// Device reads when the first step began.
    reads_at_start: u64,
    /// The process's GPU memory (NVML), sampled now and then.
    gpu: gpu::Sampler,
    /// Seconds from the process's start to the first evaluation.
    startup_s: Option<f64>,
    /// A copy of the image of the last metrics row whose losses were
    /// finite, with its scale: what the run leaves as final.png however it
    /// ends (one image-sized tensor).
    kept: Option<(Tensor, usize)>,
}

impl<'a> Runner<'a> {
    /// Evaluates the starting image (after estimating the term scales with
    /// `normalize = "running"`).
    pub(super) fn start(exp: &'a Experiment, prepared: Prepared, sink: &'a mut dyn Sink) -> Result<Self, EngineError> {
        let Prepared {
            mut objective,
            inputs,
            first,
            x,
            tiling,
            device,
            ..
        } = prepared;
        let optimizer = new_optimizer(exp, &x, inputs.plan[0].iterations);
        let startup_s = stylelab_core::procfs::process_age_s().map(|s| (s * 1e3).round() / 1e3);
        let clock = ActiveClock::start();
        let current = first_evaluation(exp, &mut Reporting::new(&mut objective, &mut *sink, 0), &x)?;
        let info = objective.breakdown(&current.values);
        let gpu = gpu::Sampler::new(device.is_cuda());
        Ok(Runner {
            exp,
            sink,
            objective,
            inputs,
            scale: first,
            tiling,
            recent: VecDeque::new(),
            converged: Vec::new(),
            scale_index: 0,
            scale_start: 0,
            x,
            optimizer,
            current,
            info,
            clock,
            step: 0,
            dirty: false,
            reads_at_start: reads::count(),
            gpu,
            startup_s,
            kept: None,
        })
    }

    /// The image of the last finite metrics row, as the run shows it; None
    /// before the first row.
    pub(super) fn kept_image(&self) -> Option<Result<Arc<image::RgbImage>, EngineError>> {
        let (x, scale) = self.kept.as_ref()?;
        Some(self.image_at(x, *scale))
    }

    /// The share of the kept image's values outside [0, 1] (which saving
    /// clamps); None before the first row.
    pub(super) fn kept_clipped(&self) -> Option<Result<f64, EngineError>> {
        let (x, index) = self.kept.as_ref()?;
        Some(self.shown_at(x, *index).and_then(|t| Ok(imaging::clipped_share(&t)?)))
    }

    /// An image tensor of scale `index` as the run shows it.
    fn image_at(&self, x: &Tensor, index: usize) -> Result<Arc<image::RgbImage>, EngineError> {
        Ok(Arc::new(imaging::from_tensor(&self.shown_at(x, index)?)))
    }

    /// An image tensor of scale `index` as the run shows it, still a tensor
    /// (with `luminance`, its luma under the content's chroma).
    fn shown_at(&self, x: &Tensor, index: usize) -> Result<Tensor, EngineError> {
        Ok(if index == self.scale_index {
            self.inputs.display(x, &self.scale)?
        } else {
            self.inputs.display(x, &self.inputs.at(index)?)?
        })
    }

    /// The current image as the run shows it.
    pub(super) fn image(&self) -> Result<Arc<image::RgbImage>, EngineError> {
        self.image_of(&self.x)
    }

    /// An image tensor of the current scale as the run shows it (with
    /// `luminance`, its luma under the content's chroma).
    pub(super) fn image_of(&self, x: &Tensor) -> Result<Arc<image::RgbImage>, EngineError> {
        self.image_at(x, self.scale_index)
    }

    /// Whether the current scale has taken all its steps.
    pub(super) fn scale_done(&self) -> bool {
        self.step >= self.scale_start + self.inputs.plan[self.scale_index].iterations
    }

    /// Moves to the next scale: the image enlarged, the targets recomputed
    /// from the images at the new size, the optimizer started afresh.
    /// False when this was the last scale.
    pub(super) fn next_scale(&mut self, summary: &mut Summary) -> Result<bool, EngineError> {
        let k = self.scale_index + 1;
        let Some(plan) = self.inputs.plan.get(k).cloned() else {
            return Ok(false);
        };
        self.recent.clear();
        // The coarser scale's state goes first, and its freed memory back
        // to the system, before the finer scale allocates its own.
        self.x = inputs::upsample(&self.x, plan.width, plan.height)?;
        self.optimizer = new_optimizer(self.exp, &self.x, plan.iterations);
        crate::device::release_host_memory();
        self.scale = self.inputs.at(k)?;
        let tile = self.tiling.get(k).copied().flatten().map(|t| t.tile);
        self.objective.set_tile(tile).map_err(tch::TchError::Kind)?;
        self.objective.retarget(&self.scale.content, &self.scale.styles)?;
        for w in self.objective.take_warnings() {
            emit(self.sink, RunEvent::Warning(w))?;
        }
        if self.exp.normalize == Normalize::Running {
            self.objective.norms = [1.0; 3];
        }
        let mut objective = Reporting::new(&mut self.objective, &mut *self.sink, self.step);
        self.current = first_evaluation(self.exp, &mut objective, &self.x)?;
        self.info = self.objective.breakdown(&self.current.values);
        self.scale_index = k;
        self.scale_start = self.step;
        // A scale cut short (no descent left) moves the ones after it.
        if let Some(s) = summary.scales.get_mut(k) {
            s.from_step = self.step;
        }
        let event = RunEvent::Scale {
            iter: self.step,
            index: k + 1,
            count: self.inputs.plan.len(),
            width: plan.width,
            height: plan.height,
        };
        emit(self.sink, event)?;
        Ok(true)
    }

    /// Writes the current evaluation as a metrics row and into the
    /// summary, and keeps a copy of its image; a loss that is not finite
    /// ends the run (the image kept is then the previous row's).
    pub(super) fn record(&mut self, summary: &mut Summary) -> Result<(), EngineError> {
        if let Some(term) = self.info.non_finite_term()
            && self.kept.is_some()
        {
            // The image kept is the last finite row's: the summary and the
            // CSV go on describing it, and the error says what broke.
            return Err(self.diverged(term, summary.final_losses.as_ref()));
        }
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
            width: self.inputs.plan[self.scale_index].width,
            height: self.inputs.plan[self.scale_index].height,
        };
        summary.steps = self.step;
        summary.seconds_to_first_evaluation = self.startup_s;
        if self.step == 1 && summary.seconds_to_first_step.is_none() {
            summary.seconds_to_first_step = stylelab_core::procfs::process_age_s().map(|s| (s * 1e3).round() / 1e3);
        }
        summary.width = row.width;
        summary.height = row.height;
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
        let finite = info.non_finite_term().is_none();
        if finite || self.kept.is_none() {
            // The starting image stays the result even when its loss is not finite.
            self.kept = Some((self.x.f_detach_copy()?, self.scale_index));
        }
        match info.non_finite_term() {
            None => Ok(()),
            Some(term) => Err(self.diverged(term, None)),
        }
    }

    /// The error of a loss that stopped being finite, naming the term and,
    /// from the last finite row's weighted terms (`before`), the term that
    /// grew too large — NaN spreads to every term once the image holds one.
    fn diverged(&self, term: &'static str, before: Option<&Losses>) -> EngineError {
        let info = &self.info;
        let value = [info.content, info.style, info.tv, info.total]
            .into_iter()
            .find(|v| !v.is_finite())
            .unwrap_or(f64::NAN);
        let w = &self.objective.weights;
        let cause = before
            .and_then(|l| {
                [
                    ("content", l.content, w.content),
                    ("style", l.style, w.style),
                    ("tv", l.tv, w.tv),
                ]
                .into_iter()
                .map(|(name, term, weight)| (name, term * weight, weight))
                .filter(|(_, v, _)| v.is_finite())
                .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .map(|(name, v, weight)| {
                let key = format!("loss.{name}_weight");
                if v > f64::from(f32::MAX) / 1e3 {
                    format!(
                        " (at the step before, the {name} term weighted by {key} = {weight:e} was {v:.3e}, \
                         beyond what fp32 holds in the gradient: lower {key})"
                    )
                } else {
                    format!(" (at the step before, the largest weighted term was {name}, {v:.3e}; {key} = {weight:e})")
                }
            })
            .unwrap_or_default();
        EngineError::Diverged {
            term,
            value,
            step: self.step,
            cause,
        }
    }

    /// Carries out the commands that came in since the last step, oldest
    /// first. A pause waits here; steering applies from the next step.
    pub(super) fn obey(&mut self, controls: &mut Controls) -> Result<Flow, EngineError> {
        // One queue for the commands read together and those read while
        // paused: `pause`, `multiply …`, `resume` written at once must all
        // be carried out, in order.
        let mut queue: VecDeque<Control> = controls.drain().into();
        while let Some(control) = queue.pop_front() {
            match control {
                Control::Stop => return Ok(Flow::Stop),
                Control::SnapshotNow => {
                    let image = self.image()?;
                    emit(self.sink, RunEvent::Snapshot { iter: self.step, image })?;
                }
                Control::Steer(term, factor) => self.steer(term, factor)?,
                Control::Pause => {
                    if self.pause(controls, &mut queue)? == Flow::Stop {
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
        let to = from * factor;
        if !to.is_finite() || (to != 0.0 && !to.is_normal()) || to > stylelab_core::config::MAX_WEIGHT {
            let what = format!(
                "multiply {} by {factor}: the weight would become {to:e}, which a loss cannot use (at most {:e}); \
                 it stays {from:e}",
                term.weight_key(),
                stylelab_core::config::MAX_WEIGHT
            );
            return emit(self.sink, RunEvent::Refused { iter: self.step, what });
        }
        *slot = to;
        self.dirty = true;
        let event = RunEvent::Steered {
            iter: self.step,
            term,
            from,
            to: *slot,
        };
        emit(self.sink, event)
    }

    /// Waits for resume or stop, taking first the commands read with the
    /// pause (`queue`), then new ones. A snapshot or a weight change asked for
    /// meanwhile is carried out at once (the weight applies from the next
    /// step), so whoever asked sees it while the run waits. The clock does
    /// not run while paused.
    fn pause(&mut self, controls: &mut Controls, queue: &mut VecDeque<Control>) -> Result<Flow, EngineError> {
        let iter = self.step;
        emit(self.sink, RunEvent::Paused { iter, paused: true })?;
        self.clock.pause();
        let mut waited = 0u32;
        let flow = 'wait: loop {
            waited += 1;
            if waited.is_multiple_of(10)
                && let Some(dir) = controls.folder_gone()
            {
                // As a running run's next write would: the run ends failed.
                return Err(EngineError::Record(format!(
                    "the run folder {} was removed while the run was paused",
                    dir.display()
                )));
            }
            if queue.is_empty() {
                queue.extend(controls.wait(Duration::from_millis(100)));
            }
            while let Some(c) = queue.pop_front() {
                match c {
                    Control::Resume => break 'wait Flow::Go,
                    Control::Stop => break 'wait Flow::Stop,
                    Control::Pause => {}
                    Control::SnapshotNow => {
                        let image = self.image()?;
                        emit(self.sink, RunEvent::Snapshot { iter, image })?;
                    }
                    Control::Steer(term, factor) => self.steer(term, factor)?,
                }
            }
        };
        self.clock.resume();
        emit(self.sink, RunEvent::Paused { iter, paused: false })?;
        Ok(flow)
    }

    /// Brings the evaluation up to date with the objective: renormalizes on
    /// schedule with `normalize = "running"`, and re-evaluates (restarting
    /// the optimizer's history) when the function changed.
    pub(super) fn refresh(&mut self) -> Result<(), EngineError> {
        let in_scale = self.step - self.scale_start;
        if self.exp.normalize == Normalize::Running && in_scale > 0 && is_renormalize_step(in_scale) {
            renormalize(&mut self.objective, &self.info);
            self.dirty = true;
        }
        if std::mem::take(&mut self.dirty) {
            // Its value, gradient and curvature history here are stale, and
            // the losses before do not compare with the ones after.
            self.optimizer.reset();
            self.recent.clear();
            let mut objective = Reporting::new(&mut self.objective, &mut *self.sink, self.step);
            self.current = evaluate(&mut objective, &self.x)?;
            self.info = self.objective.breakdown(&self.current.values);
        }
        Ok(())
    }

    /// One optimizer step: whether it moved, reached a minimum, or stalled.
    pub(super) fn advance(&mut self) -> Result<Advance, EngineError> {
        let current = self.current.shallow_clone();
        let mut objective = Reporting::new(&mut self.objective, &mut *self.sink, self.step);
        let outcome = self.optimizer.step(&mut objective, &mut self.x, current)?;
        self.step += 1;
        let (point, advance) = match outcome {
            StepOutcome::Moved(p) => (p, Advance::Moved),
            StepOutcome::Converged(p) => (
                p,
                Advance::Converged(format!(
                    "at step {} the optimizer found no descent left (the gradient vanished, or neither the loss nor the image changed measurably)",
                    self.step
                )),
            ),
            StepOutcome::Stalled(p, why) => (p, Advance::Stalled(format!("at step {}: {why}", self.step))),
        };
        self.info = self.objective.breakdown(&point.values);
        self.current = point;
        match advance {
            Advance::Moved => Ok(self.stop_rule().unwrap_or(Advance::Moved)),
            other => Ok(other),
        }
    }

    /// `optim.stop`: converged when the total loss fell by less than
    /// `rel_change` (relative) over the last `window` steps of this scale.
    fn stop_rule(&mut self) -> Option<Advance> {
        let stop = self.exp.stop?;
        let window = stop.window as usize;
        self.recent.push_back(self.current.loss);
        while self.recent.len() > window + 1 {
            self.recent.pop_front();
        }
        let (&before, &now) = (self.recent.front()?, self.recent.back()?);
        if self.recent.len() <= window || !(before.is_finite() && now.is_finite()) {
            return None;
        }
        let fell = (before - now) / before.abs().max(f64::MIN_POSITIVE);
        (fell < stop.rel_change).then(|| {
            Advance::Converged(format!(
                "at step {} the total loss had fallen by {:.3e} (relative) over the last {window} steps, less than optim.stop.rel_change = {}",
                self.step,
                fell,
                stylelab_core::text::number(stop.rel_change)
            ))
        })
    }

    /// A scale converged before its steps: noted for the summary's `why`.
    pub(super) fn note_converged(&mut self, why: String) {
        let scales = self.inputs.plan.len();
        let what = if scales > 1 {
            format!("scale {}/{scales}: {why}", self.scale_index + 1)
        } else {
            why
        };
        self.converged.push(what);
    }

    /// Whether a stall ends only this scale: a scale before the last, in
    /// reduced precision, whose loss's rounding noise hides what fp32
    /// would still see (see [`stall_ends_scale`]).
    pub(super) fn stall_ends_scale(&self) -> bool {
        stall_ends_scale(self.exp.precision, self.scale_index, self.inputs.plan.len())
    }

    /// How the run ended after its last scale: converged when a scale ended
    /// before its steps (the summary's `why` says which and why), else
    /// completed.
    pub(super) fn ended(&self, summary: &mut Summary) -> Status {
        if self.converged.is_empty() {
            Status::Completed
        } else {
            summary.why = Some(self.converged.join("; "));
            Status::Converged
        }
    }

    /// A snapshot every `snapshot_every` steps.
    pub(super) fn periodic_snapshot(&mut self) -> Result<(), EngineError> {
        let every = self.exp.snapshot_every;
        if every == 0 || !self.step.is_multiple_of(every) {
            return Ok(());
        }
        let image = self.image()?;
        emit(self.sink, RunEvent::Snapshot { iter: self.step, image })
    }
}

/// A fresh optimizer for a run (or for the next scale of one).
/// L-BFGS keeps at most as many pairs as the scale takes steps
/// ([`memory::lbfgs_pairs`], which the memory estimate counts too).
fn new_optimizer(exp: &Experiment, x: &Tensor, steps: u64) -> Optimizer {
    match exp.optimizer {
        OptimizerKind::Lbfgs => {
            Optimizer::Lbfgs(Lbfgs::for_run(exp, memory::lbfgs_pairs(exp.history, steps), x.device()))
        }
        OptimizerKind::Adam => Optimizer::Adam(Adam::new(exp.learning_rate)),
    }
}

/// A stall at scale `index` (0-based) of `scales` in `precision` ends that
/// scale, not the run, when a scale follows and the precision is reduced:
/// a coarse scale is there to find the structure, and bf16 at a small size
/// reaches its floor (measured: the classic problem at 128 px in bf16 could
/// lower its loss no further after 387 steps). In fp32, or at the last
/// scale, a stall is the run's outcome.
pub(super) fn stall_ends_scale(precision: Precision, index: usize, scales: usize) -> bool {
    precision != Precision::Fp32 && index + 1 < scales
}

/// The evaluation a scale starts from, after estimating the term scales
/// with `normalize = "running"`.
fn first_evaluation(exp: &Experiment, objective: &mut Reporting, x: &Tensor) -> Result<Point, EngineError> {
    let current = evaluate(objective, x)?;
    if exp.normalize != Normalize::Running {
        return Ok(current);
    }
    let info = objective.objective.breakdown(&current.values);
    renormalize(objective.objective, &info);
    evaluate(objective, x)
}

/// Evaluates the objective at `x` and reads the result: one read.
fn evaluate(objective: &mut impl Objective, x: &Tensor) -> Result<Point, EngineError> {
    let eval = objective.evaluate(x)?;
    Ok(observe(objective, eval, &[])?.0)
}

/// `normalize = "running"`: divide each term by its current magnitude
/// (detached). The caller re-evaluates under the new scales.
fn renormalize(objective: &mut StyleObjective, info: &Breakdown) {
    for (norm, value) in objective.norms.iter_mut().zip([info.content, info.style, info.tv]) {
        // A term that is 0 (content at init = content) keeps its norm.
        if value.is_finite() && value > 0.0 {
            *norm = value;
        }
    }
}

/// Wall time that does not count pauses.
struct ActiveClock {
    /// When the run's clock started.
    started: Instant,
    /// When the current pause began; None while running.
    paused_at: Option<Instant>,
    /// Time spent in pauses that have ended.
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
    /// Stops the clock; a second pause while paused changes nothing.
    fn pause(&mut self) {
        self.paused_at.get_or_insert_with(Instant::now);
    }
    /// Restarts the clock, adding the pause to `paused_total`.
    fn resume(&mut self) {
        if let Some(p) = self.paused_at.take() {
            self.paused_total += p.elapsed();
        }
    }
    /// Time since the start less every pause, the current one included.
    fn elapsed(&self) -> Duration {
        let paused = self.paused_total + self.paused_at.map(|p| p.elapsed()).unwrap_or_default();
        self.started.elapsed().saturating_sub(paused)
    }
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
    fn a_stall_ends_only_a_coarse_scale_in_reduced_precision() {
        assert!(stall_ends_scale(Precision::Bf16, 0, 2));
        assert!(stall_ends_scale(Precision::Fp16, 1, 3));
        assert!(
            !stall_ends_scale(Precision::Bf16, 1, 2),
            "the last scale's stall is the run's"
        );
        assert!(
            !stall_ends_scale(Precision::Bf16, 0, 1),
            "a single scale's stall is the run's"
        );
        assert!(!stall_ends_scale(Precision::Fp32, 0, 3), "fp32 sees what it stalls on");
    }
}
