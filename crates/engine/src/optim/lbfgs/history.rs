//! L-BFGS's curvature history on the device, and the two forms of the
//! direction H·g it gives: the two-loop recursion and the compact form of
//! Byrd, Nocedal & Schnabel (1994), equal in exact arithmetic.

use crate::optim::dot;
use std::collections::VecDeque;
use tch::{Kind, TchError, Tensor};

/// The curvature history on the device, and how the direction is formed
/// from it: both forms give the same H·g in exact arithmetic.
pub(super) enum History {
    /// Nocedal & Wright's two-loop recursion; see [`Form::TwoLoop`].
    TwoLoop(TwoLoop),
    /// Byrd, Nocedal & Schnabel's compact form; see [`Form::Compact`].
    Compact(Compact),
}

impl History {
    /// An empty history of at most `m` pairs in `form`.
    pub(super) fn new(m: usize, form: Form) -> Self {
        match form {
            Form::TwoLoop => History::TwoLoop(TwoLoop::new(m)),
            Form::Compact => History::Compact(Compact::new(m)),
        }
    }

    /// No pair kept: the next direction is steepest descent.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            History::TwoLoop(h) => h.pairs.is_empty(),
            History::Compact(h) => h.is_empty(),
        }
    }

    /// Drops every pair and γ.
    pub(super) fn clear(&mut self) {
        match self {
            History::TwoLoop(h) => h.clear(),
            History::Compact(h) => h.clear(),
        }
    }

    /// −H·g for the flat gradient `g`, adding `pair` (s, y) first.
    pub(super) fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
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
pub(super) struct TwoLoop {
    /// Pairs kept; the oldest goes when a new one comes.
    pub(super) m: usize,
    /// (s, y, ρ = 1/sᵀy), oldest first; ρ is a 0-d device tensor.
    pub(super) pairs: VecDeque<(Tensor, Tensor, Tensor)>,
    /// γ = sᵀy / yᵀy of the newest pair: the initial H is γ·I. None before any pair.
    pub(super) gamma: Option<Tensor>,
}

impl TwoLoop {
    /// An empty history of at most `m` pairs.
    pub(super) fn new(m: usize) -> Self {
        TwoLoop {
            m,
            pairs: VecDeque::new(),
            gamma: None,
        }
    }

    /// Drops the pairs and γ.
    pub(super) fn clear(&mut self) {
        self.pairs.clear();
        self.gamma = None;
    }

    /// Nocedal & Wright's algorithm 7.4, every scalar a device tensor.
    pub(super) fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
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

/// The part of L-BFGS's H acting on the free coordinates (the rest held
/// still), for the projected L-BFGS of a box-constrained image: the last
/// `m` pairs (s, y) in the image's own coordinates, every inner product
/// taken over the free coordinates only (so a pair's curvature is the
/// free block's, recomputed at each step as the free set changes), on the
/// initial inverse Hessian γ·F·H₀·F. A pair whose curvature over the
/// free coordinates is not positive is left out of this step.
///
/// The held coordinates are few (a few percent of an image's values), so
/// the recursion runs over whole vectors and corrects for them by their
/// indices: a vector is kept in the free block by zeroing its held
/// entries, and each pair's sᵀy over the free ones is kept up to date as
/// the held set changes: a step adds sᵢyᵢ for each coordinate freed since
/// the last and takes it away for each newly held one (few, once a run
/// settles), or, when more changed than are held, takes the whole sᵀy
/// less the held part. Gathering the held entries of every pair at every
/// step read about half the history's memory (4 % of an image's values
/// held touch half its cache lines). A step costs the plain two-loop
/// recursion's passes and a few gathers.
pub(super) struct Restricted {
    m: usize,
    /// The pairs, oldest first.
    pairs: VecDeque<Pair>,
    /// γ of the newest pair that had positive curvature (1 before any).
    gamma: Option<Tensor>,
    /// The held coordinates (flat, bool) that the pairs' `sy_free` are
    /// over: the last step's.
    held: Option<Tensor>,
}

/// Σ sᵢyᵢ over the coordinates `at` (flat indices), each term times
/// `sign`'s where given (0-d f64).
fn part(s: &Tensor, y: &Tensor, at: &Tensor, sign: Option<&Tensor>) -> Result<Tensor, TchError> {
    let s = s.f_reshape([-1])?.f_index_select(0, at)?;
    let s = match sign {
        Some(sign) => s.f_mul(sign)?,
        None => s,
    };
    dot(&s, &y.f_reshape([-1])?.f_index_select(0, at)?)
}

/// One pair of [`Restricted`].
struct Pair {
    /// The step actually taken (projected) and the change of the gradient.
    s: Tensor,
    y: Tensor,
    /// sᵀy over every coordinate, and over the coordinates free at the
    /// history's `held` (0-d f64).
    sy: Tensor,
    sy_free: Tensor,
}

impl Restricted {
    /// An empty history of at most `m` pairs.
    pub(super) fn new(m: usize) -> Self {
        Restricted {
            m,
            pairs: VecDeque::new(),
            gamma: None,
            held: None,
        }
    }

    /// Pairs kept.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Drops the pairs and γ.
    pub(super) fn clear(&mut self) {
        self.pairs.clear();
        self.gamma = None;
        self.held = None;
    }

    /// Brings every pair's `sy_free` to the held coordinates `held` (flat,
    /// bool), whose indices are `held_at`: by the coordinates whose state
    /// changed since the last step, or afresh from the whole sᵀy when more
    /// changed than are held now.
    fn follow(&mut self, held: Tensor, held_at: &Tensor) -> Result<(), TchError> {
        let changed = match &self.held {
            Some(before) => Some(before.f_logical_xor(&held)?.f_nonzero()?.f_reshape([-1])?),
            None => None,
        };
        match changed {
            Some(c) if c.numel() == 0 => {}
            Some(c) if c.numel() <= held_at.numel() => {
                // +sᵢyᵢ where freed, −sᵢyᵢ where newly held.
                let sign = held.f_index_select(0, &c)?.f_to_kind(Kind::Float)? * -2.0 + 1.0;
                for p in self.pairs.iter_mut() {
                    p.sy_free = p.sy_free.f_add(&part(&p.s, &p.y, &c, Some(&sign))?)?;
                }
            }
            _ => {
                for p in self.pairs.iter_mut() {
                    p.sy_free = p.sy.f_sub(&part(&p.s, &p.y, held_at, None)?)?;
                }
            }
        }
        self.held = Some(held);
        Ok(())
    }

    /// −H·g over the free coordinates (`free`: 1 where free, 0 where held,
    /// shaped like `g`), 0 on the held ones, after adding `pair`. `h0`
    /// applies the initial inverse Hessian's shape H₀ (γ is found here:
    /// sᵀy / yᵀH₀y of the newest pair, over the free coordinates).
    pub(super) fn direction(
        &mut self,
        g: &Tensor,
        pair: Option<(Tensor, Tensor)>,
        free: &Tensor,
        h0: &mut dyn FnMut(&Tensor) -> Result<Tensor, TchError>,
    ) -> Result<Tensor, TchError> {
        let held_mask = free.f_reshape([-1])?.f_eq(0.0)?;
        let held = held_mask.f_nonzero()?.f_reshape([-1])?;
        self.follow(held_mask, &held)?;
        if let Some((s, y)) = pair {
            if self.pairs.len() == self.m {
                self.pairs.pop_front();
            }
            let sy = dot(&s, &y)?;
            let sy_free = sy.f_sub(&part(&s, &y, &held, None)?)?;
            self.pairs.push_back(Pair { s, y, sy, sy_free });
        }
        // Zeroes `v`'s held entries, in place: v stays in the free block.
        let restrict = |v: &mut Tensor| -> Result<(), TchError> {
            let _ = v.f_view([-1])?.f_index_fill_(0, &held, 0.0)?;
            Ok(())
        };
        // ρ_i = 1/(s_iᵀ F y_i), 0 for a pair without positive curvature
        // there: for every pair at once (a handful of kernels, not 4·m).
        let rhos = if self.pairs.is_empty() {
            Vec::new()
        } else {
            let sy = Tensor::f_stack(&self.pairs.iter().map(|p| &p.sy_free).collect::<Vec<_>>(), 0)?;
            let ok = sy.f_gt(super::CURVATURE_MIN)?;
            sy.f_reciprocal()?.f_where_self(&ok, &sy.f_zeros_like()?)?.f_unbind(0)?
        };
        if let Some(Pair { y, sy_free: sy, .. }) = self.pairs.back() {
            let ok = sy.f_gt(super::CURVATURE_MIN)?;
            let mut y_free = y.copy();
            restrict(&mut y_free)?;
            let yhy = dot(&y_free, &h0(&y_free)?)?;
            let new = sy.f_div(&yhy)?;
            let old = match &self.gamma {
                Some(g) => g.shallow_clone(),
                None => new.f_ones_like()?,
            };
            self.gamma = Some(new.f_where_self(&ok.f_logical_and(&yhy.f_gt(0.0)?)?, &old)?);
        }
        let scratch = g.f_empty_like()?;
        let mut q = g.f_neg()?;
        restrict(&mut q)?;
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (Pair { s, y, .. }, rho) in self.pairs.iter().zip(&rhos).rev() {
            let a = dot(s, &q)?.f_mul(rho)?;
            let _ = y.f_mul_out(&scratch, &a)?;
            let _ = q.f_sub_(&scratch)?;
            restrict(&mut q)?;
            alphas.push(a);
        }
        let mut r = h0(&q)?;
        restrict(&mut r)?;
        if let Some(gamma) = &self.gamma {
            let _ = r.f_mul_(&gamma.f_to_kind(r.kind())?)?;
        }
        for ((Pair { s, y, .. }, rho), a) in self.pairs.iter().zip(&rhos).zip(alphas.into_iter().rev()) {
            let b = dot(y, &r)?.f_mul(rho)?;
            let _ = s.f_mul_out(&scratch, &a.f_sub(&b)?)?;
            let _ = r.f_add_(&scratch)?;
            restrict(&mut r)?;
        }
        Ok(r)
    }
}

/// The last `m` curvature pairs stacked for the compact form, and their
/// inner products.
pub(super) struct Compact {
    /// Slots: pairs kept; a new pair overwrites the oldest when all are used.
    pub(super) m: usize,
    /// `[m, 2, n]`: slot k holds one pair's s (row 0) and y (row 1). Slots
    /// 0..len() are in use; allocated with the first pair, kept on reset.
    pub(super) pairs: Option<Tensor>,
    /// `[m, m]` f64: sy[i][j] = s_i·y_j and yy[i][j] = y_i·y_j, by slot.
    pub(super) sy: Option<Tensor>,
    pub(super) yy: Option<Tensor>,
    /// Slots in the order their pairs came, oldest first.
    pub(super) order: VecDeque<usize>,
    /// γ = sᵀy / yᵀy of the newest pair: the initial H is γ·I.
    pub(super) gamma: Option<Tensor>,
}

impl Compact {
    /// An empty history of at most `m` pairs; storage is allocated with the first.
    pub(super) fn new(m: usize) -> Self {
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
    pub(super) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Marks every slot free and drops γ; the storage stays allocated.
    pub(super) fn clear(&mut self) {
        self.order.clear();
        self.gamma = None;
    }

    /// −H·g for the flat gradient `g`, adding `pair` (s, y) first.
    pub(super) fn direction(&mut self, g: &Tensor, pair: Option<(Tensor, Tensor)>) -> Result<Tensor, TchError> {
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
    pub(super) fn stacked(&self, k: i64) -> Result<Tensor, TchError> {
        let pairs = self
            .pairs
            .as_ref()
            .ok_or_else(|| TchError::Kind("no curvature pairs".into()))?;
        let n = pairs.size()[2];
        pairs.f_narrow(0, 0, k)?.f_reshape([2 * k, n])
    }

    /// Stores a pair (over the oldest when full), updates the inner
    /// products and γ, and returns Sᵀg and Yᵀg by slot.
    pub(super) fn push(&mut self, g: &Tensor, s: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor), TchError> {
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
    pub(super) fn coefficients(&self, a: &Tensor, b: &Tensor, gamma: &Tensor) -> Result<Tensor, TchError> {
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
