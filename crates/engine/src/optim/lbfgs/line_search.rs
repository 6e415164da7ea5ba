//! The line search along an L-BFGS direction: bracketing with cubic
//! interpolation, then zoom (Nocedal & Wright, algorithms 3.5–3.6), with
//! the strong Wolfe conditions, or Hager & Zhang's approximate ones where
//! the loss is noisy (see the notes of [`super`]).

use super::{APPROX_DELTA, C1, C2, MAX_LS, TOLERANCE_CHANGE};
use crate::optim::{Evaluation, Objective, Point, dot, observe};
use tch::{TchError, Tensor};

/// `a <= b`, false when either is NaN: a NaN loss never passes a test.
pub(super) fn at_most(a: f64, b: f64) -> bool {
    a <= b
}

/// Minimiser of the cubic interpolating (x1, f1, g1) and (x2, f2, g2),
/// clamped to `bounds` (default: between x1 and x2).
pub(super) fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
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
pub(super) struct LinePoint {
    pub(super) t: f64,
    pub(super) point: Point,
    pub(super) gtd: f64,
    /// Its end of the zoom's interval, 0 or 1: the interpolation takes the
    /// ends in this order whichever is lower, as it always has (L-BFGS
    /// turns a last-bit difference into another run).
    pub(super) order: u8,
    /// Whether this is the line's start (t = 0), not a trial: a search that
    /// ends there found no step.
    pub(super) start: bool,
}

impl LinePoint {
    /// Another handle on the same point (tensors shared, not copied).
    pub(super) fn copy(&self) -> Self {
        LinePoint {
            t: self.t,
            point: self.point.shallow_clone(),
            gtd: self.gtd,
            order: self.order,
            start: self.start,
        }
    }

    /// This point as end `order` of an interval.
    pub(super) fn at_end(mut self, order: u8) -> Self {
        self.order = order;
        self
    }
}

/// The line x + t·d being searched.
pub(super) struct Line<'a, O> {
    pub(super) objective: &'a mut O,
    pub(super) x: &'a Tensor,
    pub(super) d: &'a Tensor,
    /// gᵀd and max |d| at the start, read with the first trial.
    pub(super) first_extras: Option<[Tensor; 2]>,
    /// Whether the line is projected onto the box [0, 1]: each trial is
    /// clamp(x + t·d), and its slope that of the projected path (the
    /// coordinates the clamp holds do not move).
    pub(super) boxed: bool,
}

impl<O: Objective> Line<'_, O> {
    /// Evaluates x + t·d (projected when boxed) and reads its numbers and
    /// gᵀd there (and anything else given) in one read.
    pub(super) fn eval_at(&mut self, t: f64, extra: &[&Tensor]) -> Result<(LinePoint, Vec<f64>), TchError> {
        let moved = self.x + self.d * t;
        let (eval, gtd): (Evaluation, Tensor) = if self.boxed {
            let inside = moved.f_gt(0.0)?.f_logical_and(&moved.f_lt(1.0)?)?;
            let eval = self.objective.evaluate(&moved.f_clamp(0.0, 1.0)?)?;
            let gtd = dot(&eval.grad, &self.d.f_mul(&inside)?)?;
            (eval, gtd)
        } else {
            let eval = self.objective.evaluate(&moved)?;
            let gtd = dot(&eval.grad, self.d)?;
            (eval, gtd)
        };
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
    pub(super) fn first_trial(&mut self, t: f64) -> Result<(LinePoint, [f64; 2]), TchError> {
        let first = self.first_extras.take();
        let extras: Vec<&Tensor> = first.iter().flatten().collect();
        let (p, values) = self.eval_at(t, &extras)?;
        Ok((p, [values[0], values[1]]))
    }

    /// Evaluates x + t·d, reading nothing beyond its numbers and gᵀd.
    pub(super) fn at(&mut self, t: f64) -> Result<LinePoint, TchError> {
        Ok(self.eval_at(t, &[])?.0)
    }
}

/// Where the bracketing phase left the search.
pub(super) enum Bracket {
    /// A point that satisfies the conditions: the step.
    Found(LinePoint),
    /// Two points with an acceptable step between them, to zoom into.
    Between(LinePoint, LinePoint),
}

/// The line search's state: where it started, its tests, and its budget.
pub(super) struct Search {
    /// The loss and directional derivative at t = 0.
    pub(super) f0: f64,
    pub(super) gtd0: f64,
    /// max |d|: a bracket narrower than [`TOLERANCE_CHANGE`] in pixels is done.
    pub(super) d_norm: f64,
    /// The loss's rounding noise in absolute terms (0 in fp32).
    pub(super) tolerance: f64,
    /// Evaluations spent beyond the first trial.
    pub(super) spent: usize,
}

impl Search {
    /// Armijo's sufficient decrease at `p`.
    pub(super) fn decreases(&self, p: &LinePoint) -> bool {
        at_most(p.point.loss, self.f0 + C1 * p.t * self.gtd0)
    }

    /// The strong Wolfe curvature condition at `p`.
    pub(super) fn flat_enough(&self, p: &LinePoint) -> bool {
        p.gtd.abs() <= -C2 * self.gtd0
    }

    /// Whether the loss carries rounding noise the search must tolerate.
    pub(super) fn noisy(&self) -> bool {
        self.tolerance > 0.0
    }

    /// Hager & Zhang's approximate Wolfe conditions, where the loss carries
    /// rounding noise: the slope has risen enough and not overshot, and the
    /// loss is no higher than the noise allows. The slope is a sum over
    /// every pixel and keeps its sign where the loss's last digits do not.
    pub(super) fn approximately(&self, p: &LinePoint) -> bool {
        self.noisy()
            && at_most(p.point.loss, self.f0 + self.tolerance)
            && p.gtd >= C2 * self.gtd0
            && p.gtd <= (2.0 * APPROX_DELTA - 1.0) * self.gtd0
    }

    /// Bracketing: from `prev` (t = 0 at first) and the trial `new`, grows
    /// the step by cubic interpolation (at most ten times a time) until a
    /// step is acceptable or an interval holds one.
    pub(super) fn bracket<O: Objective>(
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
    pub(super) fn zoom<O: Objective>(
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
    pub(super) fn zoom_noisy<O: Objective>(
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
pub(super) fn strong_wolfe<O: Objective>(
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
