//! L-BFGS: a quasi-Newton direction from the last `history` curvature pairs
//! and a strong-Wolfe line search along it (bracketing with cubic
//! interpolation, then zoom), after Nocedal & Wright, Numerical
//! Optimization, algorithms 7.4 and 3.5–3.6, in the form PyTorch's
//! `torch.optim.LBFGS` uses.
//!
//! Shaped for a GPU: the direction is the compact form of Byrd, Nocedal &
//! Schnabel (1994), the same H·g as the two-loop recursion but computed
//! with two passes over the stacked history (one matrix product for every
//! inner product a step needs, one for the direction) and a few
//! `history × history` solves, instead of 4·history vector kernels and as
//! many reads. Nothing of the history is read back: the host sees one read
//! per evaluation, which carries the objective's numbers, the gradient's
//! size and the directional derivatives together (preconditioned, a step
//! along the steepest descent reads once more: its direction's size). In
//! the steady state (the line search accepting its first trial) a step is
//! one evaluation and one read.
//!
//! In bf16 and fp16 the loss carries rounding noise of about 1e-4 of its
//! value (bf16), larger than the decrease a good step makes late in a run;
//! the strong Wolfe test then refuses every trial and the run stalls. There
//! the search also accepts a step by Hager & Zhang's approximate Wolfe
//! conditions (CG_DESCENT, 2005): the loss no higher than the start's plus
//! the noise (`loss_noise`), and the slope gᵀd risen from g₀ᵀd to at
//! least σ·g₀ᵀd but not past (2δ − 1)·g₀ᵀd — a test on the slope, a sum
//! over every pixel that rounding hardly blurs. In fp32 the tolerance is
//! 0 and the search is the strong Wolfe one, bit for bit.
//!
//! One [`Lbfgs::step`] is one iteration: a direction and a line search along
//! it (one or more function evaluations).

mod history;
mod line_search;
mod spectral;

use super::{Objective, Point, StepOutcome, dot, reads};
pub use history::Form;
use history::{History, Restricted};
use line_search::{Line, LinePoint, strong_wolfe};
use spectral::Spectral;
use stylelab_core::config::{Precision, Precondition};
use tch::{Kind, Scalar, TchError, Tensor};

/// Sufficient-decrease constant (Armijo).
const C1: f64 = 1e-4;
/// Curvature constant.
const C2: f64 = 0.9;
/// Evaluations one line search may spend.
const MAX_LS: usize = 25;
/// Below this, a change in step or loss is no change.
const TOLERANCE_CHANGE: f64 = 1e-9;
/// Below this max |gradient|, the point is a minimum.
const TOLERANCE_GRAD: f64 = 1e-7;
/// Below this max |gradient| relative to the loss, the point is a minimum
/// too: fp32 cannot see a change that small in the loss ([`at_minimum`]).
const MINIMUM_RELATIVE: f64 = 1e-7;
/// Along the steepest descent (the first step, and after the history is
/// dropped) the first trial changes no coordinate by more than this: a
/// quarter of an image's [0, 1] range. PyTorch's min(1, 1/Σ|g|) moved the
/// classic 512 px problem's pixels by 3e-5, below bf16's rounding noise,
/// and fp32 then spent 7 evaluations growing it (README, "Optimizers").
pub const FIRST_STEP: f64 = 0.25;
/// Hager & Zhang's δ: the approximate Wolfe conditions take a slope up to
/// (1 − 2δ) of the start's steepness past the minimum along the line.
const APPROX_DELTA: f64 = 0.1;
/// The loss's rounding noise, relative to its value, per unit roundoff of
/// the precision the network computes in. Measured for bf16 (unit
/// roundoff 2⁻⁸) on the classic problem: a tolerance of 1e-5 of the loss
/// still stalled 256 px runs at step 238 of 500, 1e-4 let them finish
/// (README, "Optimizers"); 1e-4 / 2⁻⁸ = 0.0256.
const NOISE_PER_ROUNDOFF: f64 = 0.0256;

/// The relative tolerance the line search gives a loss computed in
/// `precision`: 0 in fp32 (the strong Wolfe conditions, exactly),
/// [`NOISE_PER_ROUNDOFF`] × its unit roundoff otherwise (bf16 1e-4;
/// fp16, scaled from bf16, 1.25e-5).
pub fn loss_noise(precision: Precision) -> f64 {
    match precision {
        Precision::Fp32 | Precision::Auto => 0.0,
        Precision::Bf16 => NOISE_PER_ROUNDOFF * 2f64.powi(-8),
        Precision::Fp16 => NOISE_PER_ROUNDOFF * 2f64.powi(-11),
    }
}

/// Why a line search failed when its best point had the start's loss to
/// the last bit.
const UNCHANGED: &str = "no step along it changed the loss at all";

/// A pair whose sᵀy is not above this would not keep H positive definite.
const CURVATURE_MIN: f64 = 1e-10;

/// L-BFGS on one tensor (the image). Its curvature history lives on the
/// device; see the module's notes for what a step reads back.
pub struct Lbfgs {
    /// Step scale: the line search's first trial is t = `lr` (times
    /// `first_step / max|g|` along the steepest descent).
    lr: f64,
    /// The largest change of a coordinate the first trial along the
    /// steepest descent makes ([`FIRST_STEP`]).
    first_step: f64,
    /// The loss's rounding noise relative to its value (0 in fp32): the
    /// line search accepts steps by the approximate Wolfe conditions within it.
    noise: f64,
    /// The last `history` curvature pairs, in the direction's form.
    history: History,
    /// The previous step, whose curvature pair is added at the next one.
    prev: Option<Previous>,
    /// M of the initial inverse Hessian γ·M² (`spectral`); None: γ·I.
    spectral: Option<Spectral>,
    /// Projected onto the box [0, 1] ([`Lbfgs::with_box`]): the history
    /// of the free coordinates' block, used instead of `history`.
    projected: Option<Restricted>,
}

/// Why the steepest descent found no step, by its likely cause: a gradient
/// that is not finite (a loss weight too large for fp32), the rounding
/// noise of reduced precision, or a learning rate far from L-BFGS's 1
/// (too large overshoots every trial, too small moves nothing).
fn stall_reason(why: &str, grad_max: f64, lr: f64, noise: f64) -> String {
    if !grad_max.is_finite() {
        return format!(
            "along the steepest descent {why}: the gradient is not finite (its largest |value| is {grad_max}), \
             so a weighted loss term overflows fp32; lower the loss weights (their ratio is what counts)"
        );
    }
    let cause = if lr > 10.0 {
        format!(
            "an optim.learning_rate of {lr:e} overshoots: every trial step lands where the loss is higher; \
             L-BFGS's usual value is 1"
        )
    } else if lr < 1e-3 {
        format!("an optim.learning_rate of {lr:e} is too small to move the image measurably; L-BFGS's usual value is 1")
    } else if noise > 0.0 {
        "in reduced precision the loss's rounding noise can hide its decrease (try optim.precision = \"fp32\")".into()
    } else {
        "the loss may be at a minimum the line search cannot improve on".into()
    };
    format!("along the steepest descent {why}, though the largest |gradient| is {grad_max:.3e}, far from 0; {cause}")
}

/// What a step leaves for the next to form its curvature pair: s = t·d,
/// y = g₁ − g₀, and sᵀy = t·(g₁ᵀd − g₀ᵀd) from numbers already read.
/// Preconditioned, d and g are the z-space ones ([`Direction`]), and sᵀy
/// is the same number. Projected onto the box, d is the step actually
/// taken (t = 1) and g the image's gradient; the pair's curvature is then
/// judged on the device, over the next step's free values.
struct Previous {
    /// The direction it searched along.
    d: Tensor,
    /// The step taken along `d`.
    t: f64,
    /// The gradient it started from.
    g: Tensor,
    /// gᵀd at its start and at its end.
    gtd0: f64,
    gtd1: f64,
}

impl Lbfgs {
    /// L-BFGS with step scale `lr`, keeping `history` pairs, forming its
    /// direction the two-loop way.
    pub fn new(lr: f64, history: usize) -> Self {
        Lbfgs::with_form(lr, history, Form::TwoLoop)
    }

    /// L-BFGS as a run of `exp` on `device` steps, keeping `pairs` pairs:
    /// its step scale, precision, preconditioner and bounds, its direction
    /// in the device's form. `stylelab bench-one --as-run` times this one.
    pub fn for_run(exp: &stylelab_core::config::Experiment, pairs: usize, device: tch::Device) -> Self {
        Lbfgs::with_form(exp.learning_rate, pairs, Form::for_device(device))
            .with_precision(exp.precision)
            .with_precondition(exp.precondition)
            .with_box(exp.bounds == stylelab_core::config::Bounds::Box)
    }

    /// L-BFGS forming its direction in `form`.
    pub fn with_form(lr: f64, history: usize, form: Form) -> Self {
        Lbfgs {
            lr,
            first_step: FIRST_STEP,
            noise: 0.0,
            history: History::new(history.max(1), form),
            prev: None,
            spectral: None,
            projected: None,
        }
    }

    /// The same, building each direction on `precondition`'s initial
    /// inverse Hessian.
    pub fn with_precondition(mut self, precondition: Precondition) -> Self {
        self.spectral = match precondition {
            Precondition::Spectral => Some(Spectral::new(if self.projected.is_some() {
                spectral::EXPONENT_BOX
            } else {
                spectral::EXPONENT
            })),
            Precondition::None => None,
        };
        self
    }

    /// The same, keeping the image in the box [0, 1] when `boxed`: the
    /// two-metric projection method of Bertsekas (1982) with L-BFGS on the
    /// free coordinates, as in Schmidt's minConf_TMP. A coordinate at a
    /// bound whose gradient pushes it out is held; the direction is
    /// −H·g over the others (every inner product of the history over the
    /// free coordinates); the line search runs along the projected path
    /// clamp(x + t·d); the pair is the step actually taken. The loss is
    /// then always its image's, with no pull back to add: a pull makes a
    /// kink at the bound (the gradient jumps from the loss's to 0 there),
    /// which L-BFGS's model cannot fit, and it slowed runs whose image
    /// sits on the bounds (docs/reference.md, "Optimizers").
    pub fn with_box(mut self, boxed: bool) -> Self {
        let m = match &self.history {
            History::TwoLoop(h) => h.m,
            History::Compact(h) => h.m,
        };
        self.projected = boxed.then(|| Restricted::new(m));
        if boxed && self.spectral.is_some() {
            self.spectral = Some(Spectral::new(spectral::EXPONENT_BOX));
        }
        self
    }

    /// The same, with the line search tolerating the loss's rounding
    /// noise of `precision` (`loss_noise`).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.noise = loss_noise(precision);
        self
    }

    /// Curvature pairs the history has storage for now: the compact form
    /// and the projected history allocate all their slots with the first
    /// pair, the two-loop form one pair at a time. What the memory
    /// estimate must count.
    pub fn allocated_pairs(&self) -> usize {
        if let Some(h) = &self.projected {
            return h.allocated();
        }
        match &self.history {
            History::TwoLoop(h) => h.pairs.len(),
            History::Compact(h) => h.pairs.as_ref().map_or(0, |p| p.size()[0] as usize),
        }
    }

    /// How this optimizer forms its direction, in words: the projected
    /// two-loop recursion when it keeps the box, its history's form
    /// otherwise (what a run's header names).
    pub fn form_words(&self) -> String {
        match (&self.projected, &self.history) {
            (Some(_), _) => "projected two-loop".to_string(),
            (None, History::TwoLoop(_)) => Form::TwoLoop.to_string(),
            (None, History::Compact(_)) => Form::Compact.to_string(),
        }
    }

    /// Forgets the curvature pairs (their storage stays allocated).
    pub fn reset(&mut self) {
        self.history.clear();
        if let Some(h) = &mut self.projected {
            h.clear();
        }
        self.prev = None;
    }

    /// M·v, or v itself without a preconditioner.
    fn precondition(&mut self, v: &Tensor) -> Result<Tensor, TchError> {
        match &mut self.spectral {
            Some(m) => m.apply(v),
            None => Ok(v.shallow_clone()),
        }
    }

    /// The search direction at gradient `g`, after adding the previous
    /// step's pair when its curvature is positive: found in z (x = M z)
    /// and mapped back to the image.
    fn direction(&mut self, g: &Tensor) -> Result<Direction, TchError> {
        let gz = self.precondition(g)?;
        let flat = gz.f_reshape([-1])?;
        let pair = match self.prev.take() {
            Some(p) if p.t * (p.gtd1 - p.gtd0) > CURVATURE_MIN => {
                let s = p.d.f_reshape([-1])? * p.t;
                let y = &flat - p.g.f_reshape([-1])?;
                Some((s, y))
            }
            _ => None,
        };
        let dz = self.history.direction(&flat, pair)?.f_reshape(g.size())?;
        let d = self.precondition(&dz)?;
        Ok(Direction { d, dz, gz })
    }

    /// One iteration from `current`: a direction, then a strong-Wolfe line
    /// search along it; `x` is moved to the accepted point.
    ///
    /// Returns `Converged` at a minimum (`at_minimum`, or a steepest
    /// descent whose slope vanishes in rounding). When the
    /// quasi-Newton direction is no descent direction, or its line search
    /// finds no lower loss or no measurable change, the history no longer
    /// fits the function: it is dropped and the step tries again along the
    /// steepest descent. When that fails too, away from a minimum, the step
    /// is `Stalled`, with the reason.
    pub fn step<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Point,
    ) -> Result<StepOutcome, TchError> {
        let _guard = tch::no_grad_guard();
        if at_minimum(&current) {
            return Ok(StepOutcome::Converged(current));
        }
        if self.projected.is_some() {
            return self.step_projected(objective, x, current);
        }
        loop {
            let steepest = self.prev.is_none() && self.history.is_empty();
            let g = current.eval.grad.shallow_clone();
            let Direction { d, dz, gz } = self.direction(&g)?;
            // Along the steepest descent the first trial changes no pixel by
            // more than `first_step`: the image lives in [0, 1], whatever
            // the loss's scale. With history the quasi-Newton step has its
            // own scale, and 1 is its natural length.
            let t = match (steepest, &self.spectral) {
                (false, _) => self.lr,
                (true, None) => self.first_step / current.grad_max * self.lr,
                // d = −M²g: its largest component is read (a steepest step is rare).
                (true, Some(_)) => self.first_step / reads::read(&[&max_abs(&d)?])?[0] * self.lr,
            };
            let line = Line {
                objective: &mut *objective,
                x: &*x,
                d: &d,
                // gᵀd and max |d| ride along with the first trial's read.
                first_extras: Some([dot(&g, &d)?, max_abs(&d)?]),
                boxed: false,
            };
            let (best, gtd0) = match self.search(line, t, steepest, &current)? {
                Verdict::Take(best, gtd0) => (best, gtd0),
                Verdict::Retry => continue,
                Verdict::End(outcome) => return Ok(outcome),
            };
            *x += &d * best.t;
            self.prev = Some(Previous {
                d: dz,
                t: best.t,
                g: gz,
                gtd0,
                gtd1: best.gtd,
            });
            return Ok(StepOutcome::Moved(best.point));
        }
    }
}

impl Lbfgs {
    /// The line search along `line` from `current`, its first trial at
    /// step `t`, judged ([`Lbfgs::verdict`]); at a minimum when the
    /// steepest descent's slope vanishes in rounding.
    fn search<O: Objective>(
        &mut self,
        mut line: Line<'_, O>,
        t: f64,
        steepest: bool,
        current: &Point,
    ) -> Result<Verdict, TchError> {
        let (trial, [gtd0, d_max]) = line.first_trial(t)?;
        if steepest && gtd0 > -TOLERANCE_CHANGE {
            // −g·g ≈ 0: the gradient vanished in rounding. A minimum.
            return Ok(Verdict::End(StepOutcome::Converged(current.shallow_clone())));
        }
        let found = if gtd0 > -TOLERANCE_CHANGE {
            // Not a descent direction (the trial is discarded).
            Err("the gradient gives no descent direction".to_string())
        } else {
            let best = strong_wolfe(&mut line, current.shallow_clone(), trial, gtd0, d_max, self.noise)?;
            judge(best, current.loss, d_max)
        };
        Ok(self.verdict(found.map(|best| (best, gtd0)), steepest, current))
    }

    /// What a line search's result means for the step: the point to take
    /// (with the start's slope gᵀd); a retry along the steepest descent,
    /// when the history no longer fits the function (it is dropped); or
    /// the step's end.
    fn verdict(&mut self, found: Result<(LinePoint, f64), String>, steepest: bool, current: &Point) -> Verdict {
        match found {
            Ok((best, gtd0)) => Verdict::Take(best, gtd0),
            Err(_) if !steepest => {
                self.reset();
                Verdict::Retry
            }
            // Where the loss carries rounding noise, a steepest descent
            // that cannot change it at all has reached what this
            // precision resolves: a minimum as far as it can tell.
            Err(why) if why == UNCHANGED && self.noise > 0.0 => {
                Verdict::End(StepOutcome::Converged(current.shallow_clone()))
            }
            Err(why) => {
                let why = stall_reason(&why, current.grad_max, self.lr, self.noise);
                Verdict::End(StepOutcome::Stalled(current.shallow_clone(), why))
            }
        }
    }

    /// [`Lbfgs::step`] projected onto the box [0, 1] (see
    /// [`Lbfgs::with_box`]).
    fn step_projected<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Point,
    ) -> Result<StepOutcome, TchError> {
        loop {
            let steepest = self.prev.is_none() && self.projected.as_ref().is_none_or(|h| h.len() == 0);
            let g = current.eval.grad.shallow_clone();
            let free = free_coordinates(x, &g)?;
            let pair = self.prev.take().map(|p| (p.d, &g - &p.g));
            let spectral = &mut self.spectral;
            let mut h0 = |v: &Tensor| match spectral.as_mut() {
                Some(m) => m.apply_squared(v),
                None => Ok(v.shallow_clone()),
            };
            let Some(history) = self.projected.as_mut() else {
                return Err(TchError::Kind("no projected history".into()));
            };
            let d = history.direction(&g, pair, &free, &mut h0)?;
            let t = if steepest {
                // Read: the free part of the steepest descent sets its scale.
                let d_max = reads::read(&[&max_abs(&d)?])?[0];
                if d_max == 0.0 {
                    // Every coordinate held at a bound: a constrained minimum.
                    return Ok(StepOutcome::Converged(current));
                }
                self.first_step / d_max * self.lr
            } else {
                self.lr
            };
            // A coordinate at a bound that d pushes outwards does not move.
            let blocked = d
                .f_lt(0.0)?
                .f_logical_and(&x.f_le(0.0)?)?
                .f_logical_or(&d.f_gt(0.0)?.f_logical_and(&x.f_ge(1.0)?)?)?;
            let moving = d.f_masked_fill(&blocked, 0.0)?;
            let line = Line {
                objective: &mut *objective,
                x: &*x,
                d: &d,
                first_extras: Some([dot(&g, &moving)?, max_abs(&d)?]),
                boxed: true,
            };
            let (best, gtd0) = match self.search(line, t, steepest, &current)? {
                Verdict::Take(best, gtd0) => (best, gtd0),
                Verdict::Retry => continue,
                Verdict::End(outcome) => return Ok(outcome),
            };
            let moved = (&*x + &d * best.t).f_clamp(0.0, 1.0)?;
            let s = &moved - &*x;
            x.copy_(&moved);
            self.prev = Some(Previous {
                d: s,
                t: 1.0,
                g,
                gtd0,
                gtd1: best.gtd,
            });
            return Ok(StepOutcome::Moved(best.point));
        }
    }
}

/// 1 where a coordinate of `x` is free, 0 where it is held: at a bound of
/// [0, 1] with the gradient `g` pushing it outwards. In `g`'s kind.
fn free_coordinates(x: &Tensor, g: &Tensor) -> Result<Tensor, TchError> {
    let held = x
        .f_le(0.0)?
        .f_logical_and(&g.f_gt(0.0)?)?
        .f_logical_or(&x.f_ge(1.0)?.f_logical_and(&g.f_lt(0.0)?)?)?;
    held.f_logical_not()?.f_to_kind(g.kind())
}

/// What a line search's result means for the step ([`Lbfgs::verdict`]).
enum Verdict {
    Take(LinePoint, f64),
    Retry,
    End(StepOutcome),
}

/// A step's direction in the image (`d`, what the line search moves
/// along) and in z (`dz`, with `gz` the gradient there: what the history
/// keeps). Without a preconditioner all three are the plain ones.
struct Direction {
    d: Tensor,
    dz: Tensor,
    gz: Tensor,
}

/// The line search's point from a start of loss `f0` along a direction
/// whose largest component is `d_max`, or why no step is taken along it.
fn judge(best: Option<LinePoint>, f0: f64, d_max: f64) -> Result<LinePoint, String> {
    match best {
        None => Err(format!("no step along it lowered the loss {f0:.6e}")),
        // The same loss to the last bit: the network saw no change (a step
        // below what bf16 resolves, or below fp32's own spacing). Taken, it
        // would leave the same gradient and the same search, step after step.
        Some(best) if best.point.loss == f0 => Err(UNCHANGED.to_string()),
        Some(best)
            if (f0 - best.point.loss).abs() < TOLERANCE_CHANGE * f0.abs().max(1.0)
                && best.t * d_max < TOLERANCE_CHANGE =>
        {
            Err(format!(
                "no step along it changed the image measurably (the largest pixel change {:.1e})",
                best.t * d_max
            ))
        }
        Some(best) => Ok(best),
    }
}

/// Whether `p` is a minimum as far as this arithmetic can tell: no
/// gradient component above PyTorch's `tolerance_grad`, or so small that
/// moving a pixel across its whole [0, 1] range would change the loss by
/// less than [`MINIMUM_RELATIVE`] of it, to first order.
fn at_minimum(p: &Point) -> bool {
    p.grad_max <= TOLERANCE_GRAD.max(MINIMUM_RELATIVE * p.loss.abs())
}

/// Seconds to form one direction from a full history of `m` pairs of
/// vectors shaped like `g` (random pairs of positive curvature), in `form`:
/// the part of an L-BFGS step that is not an evaluation, for the benchmark.
pub fn time_direction(g: &Tensor, m: usize, form: Form, reps: usize) -> Result<f64, TchError> {
    let mut history = History::new(m, form);
    time_full_history(&g.f_reshape([-1])?, m, reps, |_, v, pair| history.direction(v, pair))
}

/// Seconds to form one direction as a run's default L-BFGS does, from a
/// full history of `m` pairs shaped like `g` (an image): projected onto
/// the box with `held` of its coordinates held at a bound (every inner
/// product of the history taken over the free ones), on the spectral
/// preconditioner's initial inverse Hessian. From one direction to the
/// next an eighth of the held coordinates are freed and as many others
/// held: a quarter of the held count changes, as in a run of the classic
/// problem on the real partial weights (about 400–600 changed of 1,300–2,700
/// held a step at 256 px, once going).
pub fn time_projected_direction(g: &Tensor, m: usize, held: f64, reps: usize) -> Result<f64, TchError> {
    let mut history = Restricted::new(m);
    let mut spectral = Spectral::new(spectral::EXPONENT_BOX);
    let u = g.f_rand_like()?;
    let free = [
        u.f_ge(held)?.f_to_kind(g.kind())?,
        u.f_ge(held * 7.0 / 8.0)?
            .f_logical_and(&u.f_lt(held)?.f_logical_or(&u.f_ge(held * 9.0 / 8.0)?)?)?
            .f_to_kind(g.kind())?,
    ];
    time_full_history(g, m, reps, |i, v, pair| {
        history.direction(v, pair, &free[i % 2], &mut |w| spectral.apply_squared(w))
    })
}

/// Fills a history through `direction` (the call's index, the gradient
/// `v`, the pair to add) with `m` random pairs of positive curvature
/// shaped like `v`, then times `reps` more directions from it.
fn time_full_history(
    v: &Tensor,
    m: usize,
    reps: usize,
    mut direction: impl FnMut(usize, &Tensor, Option<(Tensor, Tensor)>) -> Result<Tensor, TchError>,
) -> Result<f64, TchError> {
    let _guard = tch::no_grad_guard();
    for i in 0..m {
        let s = v.f_rand_like()? - 0.5;
        let y = &s * (1.0 + i as f64 / m as f64);
        let _ = direction(i, v, Some((s, y)))?;
    }
    // The read waits for the device, so the time is the work's.
    let sync = |d: &Tensor| super::reads::read(&[&d.f_sum(Kind::Float)?]);
    sync(&direction(m, v, None)?)?;
    let started = std::time::Instant::now();
    for i in 0..reps.max(1) {
        sync(&direction(m + 1 + i, v, None)?)?;
    }
    Ok(started.elapsed().as_secs_f64() / reps.max(1) as f64)
}

/// max |t| as a 0-d f64 device tensor, to be read with other numbers.
fn max_abs(t: &Tensor) -> Result<Tensor, TchError> {
    t.f_reshape([-1])?
        .f_linalg_norm(Scalar::float(f64::INFINITY), None::<&[i64]>, false, Kind::Double)
}

#[cfg(test)]
mod tests {
    use super::history::{Compact, Restricted};
    use super::line_search::cubic_interpolate;
    use super::*;
    use crate::optim::Evaluation;

    /// −H·g by the two-loop recursion (Nocedal & Wright, algorithm 7.4),
    /// in f64 on the host: what the compact form must reproduce.
    fn two_loop(pairs: &[(Vec<f64>, Vec<f64>)], g: &[f64]) -> Vec<f64> {
        let dotv = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let mut q: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alphas = Vec::new();
        for (s, y) in pairs.iter().rev() {
            let a = dotv(s, &q) / dotv(y, s);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        let (s, y) = pairs.last().unwrap();
        let gamma = dotv(s, y) / dotv(y, y);
        let mut r: Vec<f64> = q.iter().map(|v| v * gamma).collect();
        for ((s, y), a) in pairs.iter().zip(alphas.into_iter().rev()) {
            let b = dotv(y, &r) / dotv(y, s);
            r.iter_mut().zip(s).for_each(|(r, s)| *r += s * (a - b));
        }
        r
    }

    #[test]
    fn the_compact_form_gives_the_two_loop_direction() {
        let n = 40;
        let mut rng = stylelab_core::rng::SplitMix64::new(9);
        let mut vec = |scale: f64| -> Vec<f64> { (0..n).map(|_| rng.normal() * scale).collect() };
        let mut history = Compact::new(5);
        let mut pairs = Vec::new();
        for step in 0..9 {
            // y = A s for an SPD A: positive curvature, like a real function.
            let s = vec(1.0);
            let y: Vec<f64> = s.iter().enumerate().map(|(i, v)| v * (1.0 + i as f64 / 10.0)).collect();
            let g = vec(2.0);
            pairs.push((s.clone(), y.clone()));
            if pairs.len() > 5 {
                pairs.remove(0);
            }
            let t = |v: &[f64]| Tensor::from_slice(v);
            let d = history.direction(&t(&g), Some((t(&s), t(&y)))).unwrap();
            let d: Vec<f64> = Vec::try_from(d).unwrap();
            let want = two_loop(&pairs, &g);
            for (got, want) in d.iter().zip(&want) {
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "step {step}: {got} vs {want}"
                );
            }
            if step == 6 {
                // A reset forgets every pair.
                history.clear();
                pairs.clear();
            }
        }
    }

    /// The entries of `v` where `free` is 1: a vector cut down to the free block.
    fn free_part(v: &[f64], free: &[f64]) -> Vec<f64> {
        v.iter()
            .zip(free)
            .filter(|(_, f)| **f == 1.0)
            .map(|(x, _)| *x)
            .collect()
    }

    /// Each of `got` within 1e-9 (relative, or absolute below 1) of `want`'s.
    fn assert_near(got: &[f64], want: &[f64], step: usize) {
        for (got, want) in got.iter().zip(want) {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "step {step}: {got} vs {want}"
            );
        }
    }

    /// Adds the pair (s, y) to `history` and to `pairs` (the host's copy,
    /// at most the history's 4 newest) and gives the projected direction
    /// at the gradient `g` over the free coordinates `free` (H₀ = I).
    fn projected_step(
        history: &mut Restricted,
        pairs: &mut Vec<(Vec<f64>, Vec<f64>)>,
        (s, y): (Vec<f64>, Vec<f64>),
        g: &[f64],
        free: &[f64],
    ) -> Vec<f64> {
        let t = |v: &[f64]| Tensor::from_slice(v);
        let d = history
            .direction(&t(g), Some((t(&s), t(&y))), &t(free), &mut |v| Ok(v.shallow_clone()))
            .unwrap();
        pairs.push((s, y));
        if pairs.len() > 4 {
            pairs.remove(0);
        }
        Vec::try_from(d).unwrap()
    }

    /// The restricted history gives, on the free coordinates, the two-loop
    /// direction of the pairs cut down to them, and 0 on the held ones.
    #[test]
    fn the_projected_direction_is_the_free_blocks_two_loop_direction() {
        let n = 30;
        let mut rng = stylelab_core::rng::SplitMix64::new(4);
        let mut vec = |scale: f64| -> Vec<f64> { (0..n).map(|_| rng.normal() * scale).collect() };
        // The held set as a run's changes: the same for a while, then one
        // coordinate freed and two held (the pairs' curvature followed by
        // the change), then most of them changed (recomputed afresh).
        let free_at = |step: usize| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    let held = match step {
                        0..=2 => i % 4 == 1 || i == 7,
                        3 | 4 => (i % 4 == 1 && i != 5) || i == 7 || i == 8 || i == 20,
                        5 => i % 3 == 0,
                        _ => i % 4 == 1 || i == 7,
                    };
                    if held { 0.0 } else { 1.0 }
                })
                .collect()
        };
        let mut history = Restricted::new(4);
        let mut pairs: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
        for step in 0..8 {
            let free = free_at(step);
            let cut = |v: &[f64]| free_part(v, &free);
            let s = vec(1.0);
            let y: Vec<f64> = s.iter().enumerate().map(|(i, v)| v * (1.0 + i as f64 / 7.0)).collect();
            let g = vec(2.0);
            let d = projected_step(&mut history, &mut pairs, (s, y), &g, &free);
            let cut_pairs: Vec<_> = pairs.iter().map(|(s, y)| (cut(s), cut(y))).collect();
            let want = two_loop(&cut_pairs, &cut(&g));
            let got: Vec<f64> = cut(&d);
            assert_near(&got, &want, step);
            let held: f64 = d
                .iter()
                .zip(&free)
                .filter(|(_, f)| **f == 0.0)
                .map(|(d, _)| d.abs())
                .sum();
            assert_eq!(held, 0.0, "step {step}: a held coordinate moves");
        }
    }

    /// A pair whose curvature over the free coordinates is not positive
    /// takes no part in the projected direction (the recursion's ρ = 0),
    /// in the middle of the history and as its newest pair, and γ stays
    /// the newest positive pair's.
    #[test]
    fn a_projected_pair_without_positive_curvature_is_left_out() {
        let n = 24;
        let mut rng = stylelab_core::rng::SplitMix64::new(11);
        let mut vec = |scale: f64| -> Vec<f64> { (0..n).map(|_| rng.normal() * scale).collect() };
        let free: Vec<f64> = (0..n).map(|i| if i % 5 == 2 { 0.0 } else { 1.0 }).collect();
        let cut = |v: &[f64]| free_part(v, &free);
        let mut history = Restricted::new(4);
        let mut kept: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
        for step in 0..6 {
            let s = vec(1.0);
            let sign = if step == 1 || step == 5 { -1.0 } else { 1.0 };
            let y: Vec<f64> = s
                .iter()
                .enumerate()
                .map(|(i, v)| sign * v * (1.0 + i as f64 / 9.0))
                .collect();
            let g = vec(2.0);
            let d = projected_step(&mut history, &mut kept, (s, y), &g, &free);
            let positive: Vec<_> = kept
                .iter()
                .map(|(s, y)| (cut(s), cut(y)))
                .filter(|(s, y)| s.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() > 0.0)
                .collect();
            let want = two_loop(&positive, &cut(&g));
            let got = cut(&d);
            assert_near(&got, &want, step);
        }
    }

    /// The form a run's header names is the one the optimizer uses: the
    /// projected recursion in the box whatever the device's form, the
    /// device's form otherwise.
    #[test]
    fn the_form_in_words_is_the_one_the_optimizer_uses() {
        for form in [Form::TwoLoop, Form::Compact] {
            assert_eq!(Lbfgs::with_form(1.0, 5, form).form_words(), form.to_string());
            let boxed = Lbfgs::with_form(1.0, 5, form).with_box(true);
            assert_eq!(boxed.form_words(), "projected two-loop");
        }
    }

    /// A projected history given an image of another size drops the
    /// pairs it has (none fits) and goes on as a fresh one would.
    #[test]
    fn a_projected_history_starts_afresh_for_an_image_of_another_size() {
        let vec = |n: usize, seed: u64| {
            let mut rng = stylelab_core::rng::SplitMix64::new(seed);
            Tensor::from_slice(&(0..n).map(|_| rng.normal()).collect::<Vec<f64>>())
        };
        let id = &mut |v: &Tensor| Ok(v.shallow_clone());
        let mut history = Restricted::new(3);
        for seed in 0..3 {
            let s = vec(10, seed);
            let pair = Some((s.shallow_clone(), &s * 2.0));
            let free = vec(10, 5).ge(-1.0).to_kind(Kind::Double);
            let _ = history.direction(&vec(10, 9), pair, &free, id).unwrap();
        }
        let (s, g, free) = (vec(6, 7), vec(6, 8), vec(6, 6).ge(-0.5).to_kind(Kind::Double));
        let mut fresh = Restricted::new(3);
        let want = fresh
            .direction(&g, Some((s.shallow_clone(), &s * 3.0)), &free, id)
            .unwrap();
        let got = history
            .direction(&g, Some((s.shallow_clone(), &s * 3.0)), &free, id)
            .unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(Vec::<f64>::try_from(got).unwrap(), Vec::<f64>::try_from(want).unwrap());
    }

    /// f(x) = ½ Σ a_i (x_i − c_i)², a from 1 to 10, with c partly
    /// outside [0, 1]: in the box its minimum is clamp(c). Projected
    /// L-BFGS never leaves the box and finds it, the coordinates that end
    /// on a bound held there exactly.
    struct Bowl {
        a: Tensor,
        c: Tensor,
    }

    impl Objective for Bowl {
        fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
            let r = x - &self.c;
            let value = (&self.a * &r * &r).f_sum(Kind::Double)? * 0.5;
            Ok(Evaluation {
                grad: &self.a * r,
                values: value.f_reshape([1])?,
            })
        }
        fn value(&self, values: &[f64]) -> f64 {
            values[0]
        }
    }

    #[test]
    fn projected_lbfgs_finds_the_minimum_in_the_box_without_leaving_it() {
        let n = 64i64;
        let a = Tensor::from_slice(&(0..n).map(|i| 10f64.powf(i as f64 / n as f64)).collect::<Vec<_>>());
        // (Half a grid step off, so that no minimum lies exactly on a
        // bound: a coordinate whose unconstrained minimum is the bound
        // itself nears it from inside and may stop 1e-10 short, as it did
        // on another path to the same minimum.)
        let c = Tensor::from_slice(
            &(0..n)
                .map(|i| -0.5 + 2.0 * (((i * 37) % n) as f64 + 0.5) / n as f64)
                .collect::<Vec<_>>(),
        );
        let want = c.clamp(0.0, 1.0);
        let mut f = Bowl { a, c };
        let mut x = Tensor::full([n], 0.5, (Kind::Double, tch::Device::Cpu));
        let mut opt = Lbfgs::new(1.0, 10).with_box(true);
        let eval = f.evaluate(&x).unwrap();
        let mut p = crate::optim::observe(&f, eval, &[]).unwrap().0;
        let mut converged = None;
        for step in 0..60 {
            p = match opt.step(&mut f, &mut x, p).unwrap() {
                StepOutcome::Moved(p) => p,
                StepOutcome::Converged(p) => {
                    converged = Some(step);
                    p
                }
                StepOutcome::Stalled(_, why) => panic!("step {step}: {why}"),
            };
            let (lo, hi) = (f64::try_from(x.min()).unwrap(), f64::try_from(x.max()).unwrap());
            assert!((0.0..=1.0).contains(&lo) && hi <= 1.0, "step {step}: x in [{lo}, {hi}]");
            if converged.is_some() {
                break;
            }
        }
        // (Converged where a step's change of the loss falls below 1e-9 of it.)
        assert!(converged.is_some_and(|s| s < 30), "converged at step {converged:?}");
        let off = f64::try_from((&x - &want).abs().max()).unwrap();
        assert!(off < 1e-4, "{off} from the constrained minimum");
        let on_bounds = i64::try_from(want.eq(0.0).logical_or(&want.eq(1.0)).sum(Kind::Int64)).unwrap();
        let held = i64::try_from(x.eq(0.0).logical_or(&x.eq(1.0)).sum(Kind::Int64)).unwrap();
        assert_eq!(held, on_bounds, "the coordinates on a bound sit exactly on it");
    }

    /// f(x) = (q(x) − c)² where q rounds x to a grid of `h`: like a loss
    /// computed in bf16, it sees no change of x smaller than its
    /// resolution, while its gradient still points somewhere.
    struct Quantized {
        c: f64,
        h: f64,
        evals: usize,
    }

    impl Objective for Quantized {
        fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
            self.evals += 1;
            let r = (x / self.h).f_round()? * self.h - self.c;
            Ok(Evaluation {
                grad: &r * 2.0,
                values: r.f_square()?.f_sum(Kind::Double)?.f_reshape([1])?,
            })
        }
        fn value(&self, values: &[f64]) -> f64 {
            values[0]
        }
    }

    /// At the grid point nearest c, every step that changes q raises the
    /// loss and every smaller one leaves it as it was to the last bit. The
    /// noisy line search accepts such an unchanged point (within the noise),
    /// and L-BFGS used to take it as a step: the same gradient, the same
    /// search, 25 evaluations a step for ever (a coarse-to-fine bf16 run
    /// spent 400 steps so at 128 px). Now that is a minimum as far as the
    /// precision can tell.
    #[test]
    fn a_step_that_leaves_the_loss_unchanged_is_not_taken() {
        let mut f = Quantized {
            c: 0.034,
            h: 0.01,
            evals: 0,
        };
        let mut x = Tensor::from_slice(&[0.03f64]).to_kind(Kind::Float);
        let mut opt = Lbfgs::new(1.0, 10).with_precision(Precision::Bf16);
        let eval = f.evaluate(&x).unwrap();
        let mut cur = crate::optim::observe(&f, eval, &[]).unwrap().0;
        let f0 = cur.loss;
        let mut outcome = None;
        for _ in 0..5 {
            match opt.step(&mut f, &mut x, cur).unwrap() {
                StepOutcome::Moved(p) => {
                    assert!(p.loss != f0, "a step that changed nothing was taken");
                    cur = p;
                }
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        assert!(
            matches!(outcome, Some(StepOutcome::Converged(_))),
            "{:?}",
            outcome.map(|o| o.point().loss)
        );
        assert!(f.evals <= 2 * MAX_LS + 2, "{} evaluations", f.evals);
    }

    #[test]
    fn cubic_interpolation_finds_a_quadratics_minimum() {
        // f(t) = (t − 2)², f' = 2(t − 2): exact for a cubic fit.
        let f = |t: f64| (t - 2.0) * (t - 2.0);
        let g = |t: f64| 2.0 * (t - 2.0);
        let m = cubic_interpolate(0.0, f(0.0), g(0.0), 5.0, f(5.0), g(5.0), None);
        assert!((m - 2.0).abs() < 1e-12, "{m}");
        // Clamped to the bounds given.
        let m = cubic_interpolate(0.0, f(0.0), g(0.0), 5.0, f(5.0), g(5.0), Some((3.0, 4.0)));
        assert_eq!(m, 3.0);
    }
}
