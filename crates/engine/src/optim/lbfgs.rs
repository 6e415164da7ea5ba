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
//! size and the directional derivatives together. In the steady state (the
//! line search accepting its first trial) a step is one evaluation and one
//! read.
//!
//! In bf16 and fp16 the loss carries rounding noise of about 1e-4 of its
//! value (bf16), larger than the decrease a good step makes late in a run;
//! the strong Wolfe test then refuses every trial and the run stalls. There
//! the search also accepts a step by Hager & Zhang's approximate Wolfe
//! conditions (CG_DESCENT, 2005): the loss no higher than the start's plus
//! the noise ([`loss_noise`]), and the slope gᵀd risen from g₀ᵀd to at
//! least σ·g₀ᵀd but not past (2δ − 1)·g₀ᵀd — a test on the slope, a sum
//! over every pixel that rounding hardly blurs. In fp32 the tolerance is
//! 0 and the search is the strong Wolfe one, bit for bit.
//!
//! One [`Lbfgs::step`] is one iteration: a direction and a line search along
//! it (one or more function evaluations).

use super::{Evaluation, Objective, Point, StepOutcome, dot, observe};
use std::collections::VecDeque;
use stylelab_core::config::Precision;
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
        Precision::Fp32 => 0.0,
        Precision::Bf16 => NOISE_PER_ROUNDOFF * 2f64.powi(-8),
        Precision::Fp16 => NOISE_PER_ROUNDOFF * 2f64.powi(-11),
    }
}

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

    /// L-BFGS forming its direction in `form`.
    pub fn with_form(lr: f64, history: usize, form: Form) -> Self {
        Lbfgs {
            lr,
            first_step: FIRST_STEP,
            noise: 0.0,
            history: History::new(history.max(1), form),
            prev: None,
        }
    }

    /// The same, with the line search tolerating the loss's rounding
    /// noise of `precision` ([`loss_noise`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.noise = loss_noise(precision);
        self
    }

    /// Curvature pairs the history has storage for now: the compact form
    /// allocates all its slots with the first pair, the two-loop form one
    /// pair at a time. What the memory estimate must count.
    pub fn allocated_pairs(&self) -> usize {
        match &self.history {
            History::TwoLoop(h) => h.pairs.len(),
            History::Compact(h) => h.pairs.as_ref().map_or(0, |p| p.size()[0] as usize),
        }
    }

    /// Forgets the curvature pairs (their storage stays allocated).
    pub fn reset(&mut self) {
        self.history.clear();
        self.prev = None;
    }

    /// The search direction at gradient `g`, after adding the previous
    /// step's pair when its curvature is positive.
    fn direction(&mut self, g: &Tensor) -> Result<Tensor, TchError> {
        let flat = g.f_reshape([-1])?;
        let pair = match self.prev.take() {
            Some(p) if p.t * (p.gtd1 - p.gtd0) > CURVATURE_MIN => {
                let s = p.d.f_reshape([-1])? * p.t;
                let y = &flat - p.g.f_reshape([-1])?;
                Some((s, y))
            }
            _ => None,
        };
        self.history.direction(&flat, pair)?.f_reshape(g.size())
    }

    /// One iteration from `current`: a direction, then a strong-Wolfe line
    /// search along it; `x` is moved to the accepted point.
    ///
    /// Returns `Converged` at a minimum ([`at_minimum`], or a steepest
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
        loop {
            let steepest = self.prev.is_none() && self.history.is_empty();
            let g = current.eval.grad.shallow_clone();
            let d = self.direction(&g)?;
            // Along the steepest descent the first trial changes no pixel by
            // more than `first_step`: the image lives in [0, 1], whatever
            // the loss's scale. With history the quasi-Newton step has its
            // own scale, and 1 is its natural length.
            let t = if steepest {
                self.first_step / current.grad_max * self.lr
            } else {
                self.lr
            };
            let mut line = Line {
                objective: &mut *objective,
                x: &*x,
                d: &d,
                // gᵀd and max |d| ride along with the first trial's read.
                first_extras: Some([dot(&g, &d)?, max_abs(&d)?]),
            };
            let (trial, [gtd0, d_max]) = line.first_trial(t)?;
            let f0 = current.loss;
            if steepest && gtd0 > -TOLERANCE_CHANGE {
                // −g·g ≈ 0: the gradient vanished in rounding. A minimum.
                return Ok(StepOutcome::Converged(current));
            }
            let found = if gtd0 > -TOLERANCE_CHANGE {
                // Not a descent direction (the trial is discarded).
                Err("the gradient gives no descent direction".to_string())
            } else {
                match strong_wolfe(&mut line, current.shallow_clone(), trial, gtd0, d_max, self.noise)? {
                    None => Err(format!("no step along it lowered the loss {f0:.6e}")),
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
            };
            let best = match found {
                Ok(best) => best,
                // The history no longer fits the function: try the steepest descent.
                Err(_) if !steepest => {
                    self.reset();
                    continue;
                }
                Err(why) => {
                    let why = stall_reason(&why, current.grad_max, self.lr, self.noise);
                    return Ok(StepOutcome::Stalled(current, why));
                }
            };
            *x += &d * best.t;
            self.prev = Some(Previous {
                d,
                t: best.t,
                g,
                gtd0,
                gtd1: best.gtd,
            });
            return Ok(StepOutcome::Moved(best.point));
        }
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
    let _guard = tch::no_grad_guard();
    let mut history = History::new(m, form);
    let flat = g.f_reshape([-1])?;
    for i in 0..m {
        let s = flat.f_rand_like()? - 0.5;
        let y = &s * (1.0 + i as f64 / m as f64);
        let _ = history.direction(&flat, Some((s, y)))?;
    }
    // The read waits for the device, so the time is the work's.
    let sync = |d: &Tensor| super::reads::read(&[&d.f_sum(Kind::Float)?]);
    sync(&history.direction(&flat, None)?)?;
    let started = std::time::Instant::now();
    for _ in 0..reps.max(1) {
        sync(&history.direction(&flat, None)?)?;
    }
    Ok(started.elapsed().as_secs_f64() / reps.max(1) as f64)
}

/// max |t| as a 0-d f64 device tensor, to be read with other numbers.
fn max_abs(t: &Tensor) -> Result<Tensor, TchError> {
    t.f_reshape([-1])?
        .f_linalg_norm(Scalar::float(f64::INFINITY), None::<&[i64]>, false, Kind::Double)
}

/// The curvature history on the device, and how the direction is formed
/// from it: both forms give the same H·g in exact arithmetic.
enum History {
    /// Nocedal & Wright's two-loop recursion; see [`Form::TwoLoop`].
    TwoLoop(TwoLoop),
    /// Byrd, Nocedal & Schnabel's compact form; see [`Form::Compact`].
    Compact(Compact),
}

impl History {
    /// An empty history of at most `m` pairs in `form`.
    fn new(m: usize, form: Form) -> Self {
        match form {
            Form::TwoLoop => History::TwoLoop(TwoLoop::new(m)),
            Form::Compact => History::Compact(Compact::new(m)),
        }
    }

    /// No pair kept: the next direction is steepest descent.
    fn is_empty(&self) -> bool {
        match self {
            History::TwoLoop(h) => h.pairs.is_empty(),
            History::Compact(h) => h.is_empty(),
        }
    }

    /// Drops every pair and γ.
    fn clear(&mut self) {
        match self {
            History::TwoLoop(h) => h.clear(),
            History::Compact(h) => h.clear(),
        }
    }

    /// −H·g for the flat gradient `g`, adding `pair` (s, y) first.
    fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
        match self {
            History::TwoLoop(h) => h.direction(g, pair),
            History::Compact(h) => h.direction(g, pair),
        }
    }
}

/// Which form of the direction a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The two-loop recursion with its scalars as 0-d device tensors: 4·m
    /// small kernels a step, the same arithmetic as before it moved to the
    /// device (runs repeat their old numbers). Chosen on CPUs, where a
    /// kernel costs nothing to start and both forms move as much memory.
    TwoLoop,
    /// The compact form: two passes over the stacked history and a few
    /// small solves, whatever `m`. Chosen on CUDA, where 4·m launches
    /// would cost more than the step's convolutions.
    Compact,
}

impl Form {
    /// The form for a device.
    pub fn for_device(device: tch::Device) -> Form {
        if device.is_cuda() { Form::Compact } else { Form::TwoLoop }
    }
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::TwoLoop => "two-loop",
            Form::Compact => "compact",
        })
    }
}

/// The last `m` pairs (s, y, 1/sᵀy) for the two-loop recursion, and γ.
struct TwoLoop {
    /// Pairs kept; the oldest goes when a new one comes.
    m: usize,
    /// (s, y, ρ = 1/sᵀy), oldest first; ρ is a 0-d device tensor.
    pairs: VecDeque<(Tensor, Tensor, Tensor)>,
    /// γ = sᵀy / yᵀy of the newest pair: the initial H is γ·I. None before any pair.
    gamma: Option<Tensor>,
}

impl TwoLoop {
    /// An empty history of at most `m` pairs.
    fn new(m: usize) -> Self {
        TwoLoop {
            m,
            pairs: VecDeque::new(),
            gamma: None,
        }
    }

    /// Drops the pairs and γ.
    fn clear(&mut self) {
        self.pairs.clear();
        self.gamma = None;
    }

    /// Nocedal & Wright's algorithm 7.4, every scalar a device tensor.
    fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
        if let Some((s, y)) = pair {
            let ys = dot(&y, &s)?;
            if self.pairs.len() == self.m {
                self.pairs.pop_front();
            }
            self.gamma = Some(ys.f_div(&dot(&y, &y)?)?);
            let rho = ys.f_reciprocal()?;
            self.pairs.push_back((s, y, rho));
        }
        let Some(gamma) = &self.gamma else {
            return g.f_neg();
        };
        // In place, through one scratch vector: no allocation per pair.
        // (A fused multiply-add would round differently, and L-BFGS
        // amplifies a last-bit difference into visibly different runs.)
        let mut q = g.f_neg()?;
        let scratch = q.f_empty_like()?;
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let a = dot(s, &q)?.f_mul(rho)?;
            let _ = y.f_mul_out(&scratch, &a)?;
            let _ = q.f_sub_(&scratch)?;
            alphas.push(a);
        }
        let mut r = q.f_mul(gamma)?;
        for ((s, y, rho), a) in self.pairs.iter().zip(alphas.into_iter().rev()) {
            let b = dot(y, &r)?.f_mul(rho)?;
            let _ = s.f_mul_out(&scratch, &a.f_sub(&b)?)?;
            let _ = r.f_add_(&scratch)?;
        }
        drop(scratch);
        Ok(r)
    }
}

/// The last `m` curvature pairs stacked for the compact form, and their
/// inner products.
struct Compact {
    /// Slots: pairs kept; a new pair overwrites the oldest when all are used.
    m: usize,
    /// `[m, 2, n]`: slot k holds one pair's s (row 0) and y (row 1). Slots
    /// 0..len() are in use; allocated with the first pair, kept on reset.
    pairs: Option<Tensor>,
    /// `[m, m]` f64: sy[i][j] = s_i·y_j and yy[i][j] = y_i·y_j, by slot.
    sy: Option<Tensor>,
    yy: Option<Tensor>,
    /// Slots in the order their pairs came, oldest first.
    order: VecDeque<usize>,
    /// γ = sᵀy / yᵀy of the newest pair: the initial H is γ·I.
    gamma: Option<Tensor>,
}

impl Compact {
    /// An empty history of at most `m` pairs; storage is allocated with the first.
    fn new(m: usize) -> Self {
        Compact {
            m,
            pairs: None,
            sy: None,
            yy: None,
            order: VecDeque::new(),
            gamma: None,
        }
    }

    /// No pair in use.
    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Marks every slot free and drops γ; the storage stays allocated.
    fn clear(&mut self) {
        self.order.clear();
        self.gamma = None;
    }

    /// −H·g for the flat gradient `g`, adding `pair` (s, y) first.
    fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
        let (a, b) = match pair {
            Some((s, y)) => self.push(g, &s, &y)?,
            None if self.is_empty() => return g.f_neg(),
            None => {
                // Sᵀg and Yᵀg in one pass over the history.
                let k = self.order.len() as i64;
                let p = self.stacked(k)?.f_mv(g)?.f_to_kind(Kind::Double)?.f_reshape([k, 2])?;
                (p.f_select(1, 0)?, p.f_select(1, 1)?)
            }
        };
        let gamma = self
            .gamma
            .as_ref()
            .map(Tensor::shallow_clone)
            .unwrap_or_else(|| Tensor::from(1.0f64));
        let c = self.coefficients(&a, &b, &gamma)?;
        // H·g = γ·g + Σ_i c_s[i]·s_i + c_y[i]·y_i
        let k = self.order.len() as i64;
        let z = self.stacked(k)?;
        let hg = c
            .f_to_kind(z.kind())?
            .f_reshape([1, 2 * k])?
            .f_mm(&z)?
            .f_reshape([-1])?;
        let hg = hg + g * gamma.f_to_kind(g.kind())?;
        hg.f_neg()
    }

    /// The pairs in slots 0..k as one `[2k, n]` matrix: s₀, y₀, s₁, y₁, …
    fn stacked(&self, k: i64) -> Result<Tensor, TchError> {
        let pairs = self
            .pairs
            .as_ref()
            .ok_or_else(|| TchError::Kind("no curvature pairs".into()))?;
        let n = pairs.size()[2];
        pairs.f_narrow(0, 0, k)?.f_reshape([2 * k, n])
    }

    /// Stores a pair (over the oldest when full), updates the inner
    /// products and γ, and returns Sᵀg and Yᵀg by slot.
    fn push(&mut self, g: &Tensor, s: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor), TchError> {
        let (m, n) = (self.m as i64, g.size()[0]);
        if self.pairs.is_none() {
            self.pairs = Some(Tensor::f_empty([m, 2, n], (g.kind(), g.device()))?);
            self.sy = Some(Tensor::f_zeros([m, m], (Kind::Double, g.device()))?);
            self.yy = Some(Tensor::f_zeros([m, m], (Kind::Double, g.device()))?);
        }
        let slot = if self.order.len() < self.m {
            self.order.len()
        } else {
            self.order.pop_front().unwrap_or(0)
        };
        self.order.push_back(slot);
        let pairs = self
            .pairs
            .as_ref()
            .ok_or_else(|| TchError::Kind("no curvature pairs".into()))?;
        pairs.f_select(0, slot as i64)?.f_select(0, 0)?.f_copy_(s)?;
        pairs.f_select(0, slot as i64)?.f_select(0, 1)?.f_copy_(y)?;
        // Every inner product this step needs, in one pass: rows s_i, y_i
        // against columns g, y, s.
        let k = self.order.len() as i64;
        let w = Tensor::f_stack(&[g, y, s], 1)?;
        let p = self
            .stacked(k)?
            .f_mm(&w)?
            .f_to_kind(Kind::Double)?
            .f_reshape([k, 2, 3])?;
        let (s_rows, y_rows) = (p.f_select(1, 0)?, p.f_select(1, 1)?);
        let slot_t = Tensor::from_slice(&[slot as i64]).f_to_device(g.device())?;
        let (mut sy, mut yy) = match (&self.sy, &self.yy) {
            (Some(sy), Some(yy)) => (
                sy.f_narrow(0, 0, k)?.f_narrow(1, 0, k)?,
                yy.f_narrow(0, 0, k)?.f_narrow(1, 0, k)?,
            ),
            _ => return Err(TchError::Kind("no curvature pairs".into())),
        };
        // Row `slot`: s_new·y_j; column `slot`: s_i·y_new (the diagonal last).
        let _ = sy.f_index_copy_(0, &slot_t, &y_rows.f_select(1, 2)?.f_unsqueeze(0)?)?;
        let _ = sy.f_index_copy_(1, &slot_t, &s_rows.f_select(1, 1)?.f_unsqueeze(1)?)?;
        let y_dot_y = y_rows.f_select(1, 1)?;
        let _ = yy.f_index_copy_(0, &slot_t, &y_dot_y.f_unsqueeze(0)?)?;
        let _ = yy.f_index_copy_(1, &slot_t, &y_dot_y.f_unsqueeze(1)?)?;
        let diag = |t: &Tensor| t.f_select(0, slot as i64)?.f_select(0, slot as i64);
        self.gamma = Some(diag(&sy)?.f_div(&diag(&yy)?)?);
        Ok((s_rows.f_select(1, 0)?, y_rows.f_select(1, 0)?))
    }

    /// The weights of s_i and y_i in H·g − γ·g, by slot, as `[k, 2]`:
    /// with a = Sᵀg, b = Yᵀg in the pairs' order, R the upper triangle of
    /// SᵀY and D its diagonal, p = R⁻¹a, the s weights are
    /// R⁻ᵀ((D + γYᵀY)p − γb) and the y weights −γp.
    fn coefficients(&self, a: &Tensor, b: &Tensor, gamma: &Tensor) -> Result<Tensor, TchError> {
        let k = self.order.len() as i64;
        let device = a.device();
        let chron: Vec<i64> = self.order.iter().map(|&s| s as i64).collect();
        let chron = Tensor::from_slice(&chron).f_to_device(device)?;
        let pick = |t: &Tensor| -> Result<Tensor, TchError> {
            t.f_narrow(0, 0, k)?
                .f_narrow(1, 0, k)?
                .f_index_select(0, &chron)?
                .f_index_select(1, &chron)
        };
        let (sy, yy) = match (&self.sy, &self.yy) {
            (Some(sy), Some(yy)) => (pick(sy)?, pick(yy)?),
            _ => return Err(TchError::Kind("no curvature pairs".into())),
        };
        let a = a.f_index_select(0, &chron)?.f_unsqueeze(1)?;
        let b = b.f_index_select(0, &chron)?.f_unsqueeze(1)?;
        let r = sy.f_triu(0)?;
        let p = r.f_linalg_solve_triangular(&a, true, true, false)?;
        let d = sy.f_diagonal(0, 0, 1)?.f_unsqueeze(1)?;
        let v = d * &p + yy.f_mm(&p)? * gamma - b * gamma;
        let s_weights = r.f_tr()?.f_linalg_solve_triangular(&v, false, true, false)?;
        let y_weights = p.f_neg()? * gamma;
        let by_order = Tensor::f_cat(&[s_weights, y_weights], 1)?;
        Tensor::f_zeros([k, 2], (Kind::Double, device))?.f_index_copy(0, &chron, &by_order)
    }
}

/// `a <= b`, false when either is NaN: a NaN loss never passes a test.
fn at_most(a: f64, b: f64) -> bool {
    a <= b
}

/// Minimiser of the cubic interpolating (x1, f1, g1) and (x2, f2, g2),
/// clamped to `bounds` (default: between x1 and x2).
fn cubic_interpolate(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: Option<(f64, f64)>) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        if min_pos.is_nan() {
            (lo + hi) / 2.0
        } else {
            min_pos.clamp(lo, hi)
        }
    } else {
        (lo + hi) / 2.0
    }
}

/// A point on the line: step, evaluation there, and directional derivative.
struct LinePoint {
    t: f64,
    point: Point,
    gtd: f64,
    /// Its end of the zoom's interval, 0 or 1: the interpolation takes the
    /// ends in this order whichever is lower, as it always has (L-BFGS
    /// turns a last-bit difference into another run).
    order: u8,
    /// Whether this is the line's start (t = 0), not a trial: a search that
    /// ends there found no step.
    start: bool,
}

impl LinePoint {
    /// Another handle on the same point (tensors shared, not copied).
    fn copy(&self) -> Self {
        LinePoint {
            t: self.t,
            point: self.point.shallow_clone(),
            gtd: self.gtd,
            order: self.order,
            start: self.start,
        }
    }

    /// This point as end `order` of an interval.
    fn at_end(mut self, order: u8) -> Self {
        self.order = order;
        self
    }
}

/// The line x + t·d being searched.
struct Line<'a, O> {
    objective: &'a mut O,
    x: &'a Tensor,
    d: &'a Tensor,
    /// gᵀd and max |d| at the start, read with the first trial.
    first_extras: Option<[Tensor; 2]>,
}

impl<O: Objective> Line<'_, O> {
    /// Evaluates x + t·d and reads its numbers and gᵀd there (and anything
    /// else given) in one read.
    fn eval_at(&mut self, t: f64, extra: &[&Tensor]) -> Result<(LinePoint, Vec<f64>), TchError> {
        let eval: Evaluation = self.objective.evaluate(&(self.x + self.d * t))?;
        let gtd = dot(&eval.grad, self.d)?;
        let mut extras = vec![&gtd];
        extras.extend_from_slice(extra);
        let (point, values) = observe(&*self.objective, eval, &extras)?;
        Ok((
            LinePoint {
                t,
                point,
                gtd: values[0],
                order: 0,
                start: false,
            },
            values[1..].to_vec(),
        ))
    }

    /// The first trial, with the start's gᵀd and max |d| from the same read.
    fn first_trial(&mut self, t: f64) -> Result<(LinePoint, [f64; 2]), TchError> {
        let first = self.first_extras.take();
        let extras: Vec<&Tensor> = first.iter().flatten().collect();
        let (p, values) = self.eval_at(t, &extras)?;
        Ok((p, [values[0], values[1]]))
    }

    /// Evaluates x + t·d, reading nothing beyond its numbers and gᵀd.
    fn at(&mut self, t: f64) -> Result<LinePoint, TchError> {
        Ok(self.eval_at(t, &[])?.0)
    }
}

/// Where the bracketing phase left the search.
enum Bracket {
    /// A point that satisfies the conditions: the step.
    Found(LinePoint),
    /// Two points with an acceptable step between them, to zoom into.
    Between(LinePoint, LinePoint),
}

/// The line search's state: where it started, its tests, and its budget.
struct Search {
    /// The loss and directional derivative at t = 0.
    f0: f64,
    gtd0: f64,
    /// max |d|: a bracket narrower than [`TOLERANCE_CHANGE`] in pixels is done.
    d_norm: f64,
    /// The loss's rounding noise in absolute terms (0 in fp32).
    tolerance: f64,
    /// Evaluations spent beyond the first trial.
    spent: usize,
}

impl Search {
    /// Armijo's sufficient decrease at `p`.
    fn decreases(&self, p: &LinePoint) -> bool {
        at_most(p.point.loss, self.f0 + C1 * p.t * self.gtd0)
    }

    /// The strong Wolfe curvature condition at `p`.
    fn flat_enough(&self, p: &LinePoint) -> bool {
        p.gtd.abs() <= -C2 * self.gtd0
    }

    /// Whether the loss carries rounding noise the search must tolerate.
    fn noisy(&self) -> bool {
        self.tolerance > 0.0
    }

    /// Hager & Zhang's approximate Wolfe conditions, where the loss carries
    /// rounding noise: the slope has risen enough and not overshot, and the
    /// loss is no higher than the noise allows. The slope is a sum over
    /// every pixel and keeps its sign where the loss's last digits do not.
    fn approximately(&self, p: &LinePoint) -> bool {
        self.noisy()
            && at_most(p.point.loss, self.f0 + self.tolerance)
            && p.gtd >= C2 * self.gtd0
            && p.gtd <= (2.0 * APPROX_DELTA - 1.0) * self.gtd0
    }

    /// Bracketing: from `prev` (t = 0 at first) and the trial `new`, grows
    /// the step by cubic interpolation (at most ten times a time) until a
    /// step is acceptable or an interval holds one.
    fn bracket<O: Objective>(
        &mut self,
        line: &mut Line<'_, O>,
        origin: LinePoint,
        mut new: LinePoint,
    ) -> Result<Bracket, TchError> {
        let mut prev = origin.copy();
        let between = |a: LinePoint, b: LinePoint| Ok(Bracket::Between(a.at_end(0), b.at_end(1)));
        loop {
            if self.spent >= MAX_LS {
                return between(origin, new);
            }
            if self.approximately(&new) {
                return Ok(Bracket::Found(new));
            }
            let too_high = if self.noisy() {
                // Loss differences below the noise say nothing: only a loss
                // above it does.
                !at_most(new.point.loss, self.f0 + self.tolerance)
            } else {
                !self.decreases(&new) || (self.spent > 1 && new.point.loss >= prev.point.loss)
            };
            if too_high {
                return between(prev, new);
            }
            if self.flat_enough(&new) {
                return Ok(Bracket::Found(new));
            }
            if new.gtd >= 0.0 {
                return between(prev, new);
            }
            let t = new.t;
            let next = cubic_interpolate(
                prev.t,
                prev.point.loss,
                prev.gtd,
                t,
                new.point.loss,
                new.gtd,
                Some((t + 0.01 * (t - prev.t), t * 10.0)),
            );
            prev = new;
            new = line.at(next)?;
            self.spent += 1;
        }
    }

    /// Zoom: shrinks the interval between ends `a` (end 0) and `b` (end 1)
    /// by cubic interpolation until a point satisfies the conditions, the
    /// interval is too narrow to tell its ends apart, or the budget is
    /// spent. Returns that point, else the lower end.
    fn zoom<O: Objective>(
        &mut self,
        line: &mut Line<'_, O>,
        a: LinePoint,
        b: LinePoint,
    ) -> Result<LinePoint, TchError> {
        // `low` holds the lower loss (end 0 on a tie), `high` the other end.
        let lower_first = |a: LinePoint, b: LinePoint| {
            let (e0, e1) = if a.order == 0 { (a, b) } else { (b, a) };
            if e0.point.loss <= e1.point.loss {
                (e0, e1)
            } else {
                (e1, e0)
            }
        };
        let (mut low, mut high) = lower_first(a, b);
        let mut insufficient_progress = false;
        while self.spent < MAX_LS {
            if (high.t - low.t).abs() * self.d_norm < TOLERANCE_CHANGE {
                break;
            }
            // The bracket's points in the order the interpolation has always
            // taken them: the earlier-found end first.
            let (b0, b1) = if low.order < high.order {
                (&low, &high)
            } else {
                (&high, &low)
            };
            let mut t = cubic_interpolate(b0.t, b0.point.loss, b0.gtd, b1.t, b1.point.loss, b1.gtd, None);
            let (lo_t, hi_t) = (b0.t.min(b1.t), b0.t.max(b1.t));
            let eps = 0.1 * (hi_t - lo_t);
            if (hi_t - t).min(t - lo_t) < eps {
                // Too close to an end: unless the last try already was, move
                // away from the boundary.
                if insufficient_progress || t >= hi_t || t <= lo_t {
                    t = if (t - hi_t).abs() < (t - lo_t).abs() {
                        hi_t - eps
                    } else {
                        lo_t + eps
                    };
                    insufficient_progress = false;
                } else {
                    insufficient_progress = true;
                }
            } else {
                insufficient_progress = false;
            }
            let mut p = line.at(t)?;
            self.spent += 1;
            if self.approximately(&p) {
                return Ok(p);
            }
            if !self.decreases(&p) || p.point.loss >= low.point.loss {
                p.order = high.order;
                (low, high) = lower_first(low, p);
            } else {
                let done = self.flat_enough(&p);
                if !done && p.gtd * (high.t - low.t) >= 0.0 {
                    high = low.copy().at_end(high.order);
                }
                p.order = low.order;
                low = p;
                if done {
                    return Ok(low);
                }
            }
        }
        Ok(low)
    }

    /// Zoom where the loss is noisy (Hager & Zhang's update): `low` (a
    /// point with a falling slope and a loss within the noise of the
    /// start's) and `high` (a rising slope, or a loss above the noise)
    /// close in on a zero of the slope by the secant of the slopes, which
    /// rounding hardly blurs, not by interpolating losses, which it does.
    /// Returns the first point that satisfies the approximate conditions,
    /// else `low`.
    fn zoom_noisy<O: Objective>(
        &mut self,
        line: &mut Line<'_, O>,
        mut low: LinePoint,
        mut high: LinePoint,
    ) -> Result<LinePoint, TchError> {
        while self.spent < MAX_LS {
            let (lo_t, hi_t) = (low.t.min(high.t), low.t.max(high.t));
            if (hi_t - lo_t) * self.d_norm < TOLERANCE_CHANGE {
                break;
            }
            let t = if high.gtd >= 0.0 && high.gtd > low.gtd {
                (low.t * high.gtd - high.t * low.gtd) / (high.gtd - low.gtd)
            } else {
                // A loss too high on a falling slope: no zero to aim at.
                0.5 * (lo_t + hi_t)
            };
            let eps = 0.1 * (hi_t - lo_t);
            let p = line.at(t.clamp(lo_t + eps, hi_t - eps))?;
            self.spent += 1;
            if self.approximately(&p) {
                return Ok(p);
            }
            if p.gtd >= 0.0 || !at_most(p.point.loss, self.f0 + self.tolerance) {
                high = p;
            } else {
                low = p;
            }
        }
        Ok(low)
    }
}

/// Finds a step along the line that satisfies the strong Wolfe conditions
/// (or, where the loss is noisy, the approximate ones), else the best one
/// found within [`MAX_LS`] evaluations, starting from `start` (t = 0,
/// directional derivative `gtd0`) and the first trial `new`. Returns the
/// point reached; None when no step lowers the loss.
fn strong_wolfe<O: Objective>(
    line: &mut Line<'_, O>,
    start: Point,
    new: LinePoint,
    gtd0: f64,
    d_norm: f64,
    noise: f64,
) -> Result<Option<LinePoint>, TchError> {
    let f0 = start.loss;
    let mut search = Search {
        f0,
        gtd0,
        d_norm,
        tolerance: noise * f0.abs(),
        spent: 0,
    };
    let origin = LinePoint {
        t: 0.0,
        point: start,
        gtd: gtd0,
        order: 0,
        start: true,
    };
    let best = match search.bracket(line, origin, new)? {
        Bracket::Found(p) => return Ok(Some(p)),
        Bracket::Between(a, b) if search.noisy() => search.zoom_noisy(line, a, b)?,
        Bracket::Between(a, b) => search.zoom(line, a, b)?,
    };
    // Never step to a point no better than where we started (within the
    // noise), or to a NaN.
    if best.start || !at_most(best.point.loss, f0 + search.tolerance) {
        return Ok(None);
    }
    Ok(Some(best))
}

#[cfg(test)]
mod tests {
    use super::*;

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
