//! L-BFGS: two-loop recursion over the last `history` curvature pairs, and
//! a strong-Wolfe line search (bracketing with cubic interpolation, then
//! zoom), after Nocedal & Wright, Numerical Optimization, algorithms 7.4 and
//! 3.5–3.6, in the form PyTorch's `torch.optim.LBFGS` uses.
//!
//! One [`Lbfgs::step`] is one iteration: a direction and a line search along
//! it (several function evaluations).

use super::{Evaluation, Objective, StepOutcome};
use std::collections::VecDeque;
use tch::{TchError, Tensor};

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

pub struct Lbfgs {
    lr: f64,
    history: usize,
    /// (s, y, 1 / yᵀs), oldest first.
    pairs: VecDeque<(Tensor, Tensor, f64)>,
    /// Direction and step of the previous iteration, and its gradient.
    prev: Option<(Tensor, f64, Tensor)>,
    h_diag: f64,
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.flatten(0, -1).dot(&b.flatten(0, -1)).double_value(&[])
}

impl Lbfgs {
    pub fn new(lr: f64, history: usize) -> Self {
        Lbfgs {
            lr,
            history: history.max(1),
            pairs: VecDeque::new(),
            prev: None,
            h_diag: 1.0,
        }
    }

    pub fn reset(&mut self) {
        self.pairs.clear();
        self.prev = None;
        self.h_diag = 1.0;
    }

    /// Search direction from the gradient and the stored pairs.
    fn direction(&mut self, g: &Tensor) -> Tensor {
        if let Some((d, t, prev_g)) = self.prev.take() {
            let y = g - &prev_g;
            let s = d * t;
            let ys = dot(&y, &s);
            if ys > 1e-10 {
                if self.pairs.len() == self.history {
                    self.pairs.pop_front();
                }
                self.h_diag = ys / dot(&y, &y);
                self.pairs.push_back((s, y, 1.0 / ys));
            }
        }
        if self.pairs.is_empty() {
            return -g;
        }
        let mut q = -g;
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let a = dot(s, &q) * rho;
            q -= y * a;
            alphas.push(a);
        }
        let mut r = q * self.h_diag;
        for ((s, y, rho), a) in self.pairs.iter().zip(alphas.into_iter().rev()) {
            let b = dot(y, &r) * rho;
            r += s * (a - b);
        }
        r
    }

    pub fn step<O: Objective>(
        &mut self,
        objective: &mut O,
        x: &mut Tensor,
        current: Evaluation<O::Info>,
    ) -> Result<StepOutcome<O::Info>, TchError> {
        let _guard = tch::no_grad_guard();
        let g = current.grad.shallow_clone();
        if g.abs().max().double_value(&[]) <= TOLERANCE_GRAD {
            return Ok(StepOutcome::Converged(current));
        }
        let first = self.prev.is_none() && self.pairs.is_empty();
        let d = self.direction(&g);
        let t = if first {
            (1.0 / g.abs().sum(g.kind()).double_value(&[])).min(1.0) * self.lr
        } else {
            self.lr
        };
        let gtd = dot(&g, &d);
        if gtd > -TOLERANCE_CHANGE {
            // Not a descent direction: the history no longer fits the function.
            self.reset();
            return Ok(StepOutcome::Converged(current));
        }
        let f0 = current.loss;
        let (t, best) = strong_wolfe(objective, x, &d, t, current, gtd)?;
        if t == 0.0 {
            // No acceptable step along this direction. With history, try
            // again from steepest descent; without, this is a minimum.
            if self.pairs.is_empty() {
                return Ok(StepOutcome::Converged(best));
            }
            self.reset();
            return Ok(StepOutcome::Moved(best));
        }
        if (f0 - best.loss).abs() < TOLERANCE_CHANGE * f0.abs().max(1.0) && t * max_abs(&d) < TOLERANCE_CHANGE {
            return Ok(StepOutcome::Converged(best));
        }
        *x += &d * t;
        self.prev = Some((d, t, g));
        Ok(StepOutcome::Moved(best))
    }
}

/// `a <= b`, false when either is NaN: a NaN loss never passes a test.
fn at_most(a: f64, b: f64) -> bool {
    a <= b
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
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
struct Point<I> {
    t: f64,
    eval: Evaluation<I>,
    gtd: f64,
}

impl<I: Clone> Point<I> {
    fn copy(&self) -> Self {
        Point {
            t: self.t,
            eval: self.eval.shallow_clone(),
            gtd: self.gtd,
        }
    }
}

/// Finds a step along `d` from `x` that satisfies the strong Wolfe
/// conditions (or the best one found within [`MAX_LS`] evaluations).
/// Returns the step and the evaluation at `x + t·d`.
fn strong_wolfe<O: Objective>(
    objective: &mut O,
    x: &Tensor,
    d: &Tensor,
    mut t: f64,
    start: Evaluation<O::Info>,
    gtd0: f64,
) -> Result<(f64, Evaluation<O::Info>), TchError> {
    let d_norm = max_abs(d);
    let f0 = start.loss;
    let mut eval_at = |t: f64| -> Result<Point<O::Info>, TchError> {
        let e = objective.evaluate(&(x + d * t))?;
        let gtd = dot(&e.grad, d);
        Ok(Point { t, eval: e, gtd })
    };
    let origin = Point {
        t: 0.0,
        eval: start,
        gtd: gtd0,
    };
    let fallback = origin.copy();
    let mut new = eval_at(t)?;
    let mut prev = origin.copy();
    let mut ls_iter = 0;
    let mut done = false;
    // Bracketing phase: find an interval that contains an acceptable step.
    let mut bracket: Vec<Point<O::Info>> = loop {
        if ls_iter >= MAX_LS {
            break vec![origin, new];
        }
        let armijo_fails = !at_most(new.eval.loss, f0 + C1 * t * gtd0);
        if armijo_fails || (ls_iter > 1 && new.eval.loss >= prev.eval.loss) {
            break vec![prev, new];
        }
        if new.gtd.abs() <= -C2 * gtd0 {
            done = true;
            break vec![new];
        }
        if new.gtd >= 0.0 {
            break vec![prev, new];
        }
        let min_step = t + 0.01 * (t - prev.t);
        let max_step = t * 10.0;
        t = cubic_interpolate(
            prev.t,
            prev.eval.loss,
            prev.gtd,
            t,
            new.eval.loss,
            new.gtd,
            Some((min_step, max_step)),
        );
        prev = new;
        new = eval_at(t)?;
        ls_iter += 1;
    };
    if done {
        let p = bracket.pop().expect("one point");
        return Ok((p.t, p.eval));
    }
    // Zoom phase: shrink the bracket until a point satisfies both conditions.
    let better = |b: &[Point<O::Info>]| {
        if b[0].eval.loss <= b[1].eval.loss {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = better(&bracket);
    let mut insufficient_progress = false;
    while !done && ls_iter < MAX_LS {
        let (b0, b1) = (&bracket[0], &bracket[1]);
        if (b1.t - b0.t).abs() * d_norm < TOLERANCE_CHANGE {
            break;
        }
        t = cubic_interpolate(b0.t, b0.eval.loss, b0.gtd, b1.t, b1.eval.loss, b1.gtd, None);
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
        let p = eval_at(t)?;
        ls_iter += 1;
        let armijo_fails = !at_most(p.eval.loss, f0 + C1 * t * gtd0);
        if armijo_fails || p.eval.loss >= bracket[low].eval.loss {
            bracket[high] = p;
            (low, high) = better(&bracket);
        } else {
            if p.gtd.abs() <= -C2 * gtd0 {
                done = true;
            } else if p.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].copy();
            }
            bracket[low] = p;
        }
    }
    let p = bracket.swap_remove(low);
    // Never step to a point worse than where we started (or to a NaN).
    if !at_most(p.eval.loss, f0) {
        return Ok((0.0, fallback.eval));
    }
    Ok((p.t, p.eval))
}

#[cfg(test)]
mod tests {
    use super::*;

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
