//! L-BFGS's curvature history on the device, and the two forms of the
//! direction H·g it gives: the two-loop recursion and the compact form of
//! Byrd, Nocedal & Schnabel (1994), equal in exact arithmetic; and, for an
//! image kept in the box, the free block's history ([`Restricted`]): the
//! two-loop recursion formed from the stacked pairs.

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
/// The direction is the two-loop recursion's (Nocedal & Wright,
/// algorithm 7.4, on the free block), formed in a few products over the
/// stacked pairs instead of pair by pair: each loop's coefficients follow
/// from one product of the history with a vector and a small triangular
/// solve with the matrix A of sᵢᵀF yⱼ, and each loop's update is one
/// product of the history with the coefficients. So a step reads each
/// pair twice, as the recursion does, in four matrix–vector products
/// (whatever `m`) instead of four kernels and a restriction per pair.
///
/// A is kept up to date as the held set changes: a step adds sᵢyⱼ over
/// the coordinates freed since the last and takes it away over the newly
/// held ones (few, once a run settles), or, when more changed than are
/// held, takes the whole sᵢᵀyⱼ less the held part.
pub(super) struct Restricted {
    m: usize,
    /// `[m, n]` each: slot k holds one pair's s and y (the step actually
    /// taken, projected, and the change of the gradient). Slots
    /// 0..len() are in use; allocated with the first pair, kept on reset.
    s: Option<Tensor>,
    y: Option<Tensor>,
    /// `[m, m]` f64 by slot: sᵢᵀyⱼ over every coordinate, and over the
    /// coordinates free at `held`. Kept where pair i came no later than
    /// pair j (what the recursion reads); the rest is stale.
    sy: Option<Tensor>,
    sy_free: Option<Tensor>,
    /// Slots in the order their pairs came, oldest first.
    order: VecDeque<usize>,
    /// γ of the newest pair that had positive curvature (1 before any).
    gamma: Option<Tensor>,
    /// The held coordinates (flat, bool) that `sy_free` is over: the
    /// last step's.
    held: Option<Tensor>,
}

/// The storage of [`Restricted`] once it has a pair.
struct Stacked<'a> {
    s: &'a Tensor,
    y: &'a Tensor,
    sy: &'a Tensor,
    sy_free: &'a Tensor,
}

impl Restricted {
    /// An empty history of at most `m` pairs; storage is allocated with the first.
    pub(super) fn new(m: usize) -> Self {
        Restricted {
            m,
            s: None,
            y: None,
            sy: None,
            sy_free: None,
            order: VecDeque::new(),
            gamma: None,
            held: None,
        }
    }

    /// Pairs kept.
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Pairs there is storage for: all `m` once the first came.
    pub(super) fn allocated(&self) -> usize {
        self.s.as_ref().map_or(0, |s| s.size()[0] as usize)
    }

    /// Drops the pairs and γ; the storage stays allocated.
    pub(super) fn clear(&mut self) {
        self.order.clear();
        self.gamma = None;
        self.held = None;
    }

    fn stacked(&self) -> Result<Stacked<'_>, TchError> {
        match (&self.s, &self.y, &self.sy, &self.sy_free) {
            (Some(s), Some(y), Some(sy), Some(sy_free)) => Ok(Stacked { s, y, sy, sy_free }),
            _ => Err(TchError::Kind("no curvature pairs".into())),
        }
    }

    /// Brings `sy_free` to the held coordinates `held` (flat, bool), whose
    /// indices are `held_at`: by the coordinates whose state changed
    /// since the last step, or afresh from the whole sᵀy when more changed
    /// than are held now.
    fn follow(&mut self, held: Tensor, held_at: &Tensor) -> Result<(), TchError> {
        let k = self.order.len() as i64;
        let changed = match &self.held {
            Some(before) if k > 0 => Some(before.f_logical_xor(&held)?.f_nonzero()?.f_reshape([-1])?),
            _ => None,
        };
        if let Some(c) = changed.filter(|c| c.numel() > 0) {
            let st = self.stacked()?;
            let (s, y) = (st.s.f_narrow(0, 0, k)?, st.y.f_narrow(0, 0, k)?);
            let mut free = st.sy_free.f_narrow(0, 0, k)?.f_narrow(1, 0, k)?;
            // Σ sᵢyⱼ over the coordinates `at`, each times `sign`'s where given.
            let part = |at: &Tensor, sign: Option<Tensor>| -> Result<Tensor, TchError> {
                let sa = s.f_index_select(1, at)?;
                let sa = match sign {
                    Some(sign) => sa.f_mul(&sign.f_unsqueeze(0)?)?,
                    None => sa,
                };
                sa.f_mm(&y.f_index_select(1, at)?.f_tr()?)?.f_to_kind(Kind::Double)
            };
            if c.numel() <= held_at.numel() {
                // +sᵢyⱼ where freed, −sᵢyⱼ where newly held.
                let sign = held.f_index_select(0, &c)?.f_to_kind(s.kind())? * -2.0 + 1.0;
                let _ = free.f_add_(&part(&c, Some(sign))?)?;
            } else {
                let whole = st.sy.f_narrow(0, 0, k)?.f_narrow(1, 0, k)?;
                free.f_copy_(&whole.f_sub(&part(held_at, None)?)?)?;
            }
        }
        self.held = Some(held);
        Ok(())
    }

    /// Stores a pair (over the oldest when full) and its column of sᵀy
    /// and sᵀF y (`y_free`: y with its held entries zeroed), and returns
    /// Sᵀq by slot (f64), all from one product over the stacked s.
    fn push(&mut self, s: &Tensor, y: &Tensor, y_free: &Tensor, q: &Tensor) -> Result<Tensor, TchError> {
        let (m, n) = (self.m as i64, s.numel() as i64);
        if self.s.is_none() {
            let opts = (s.kind(), s.device());
            self.s = Some(Tensor::f_empty([m, n], opts)?);
            self.y = Some(Tensor::f_empty([m, n], opts)?);
            self.sy = Some(Tensor::f_zeros([m, m], (Kind::Double, s.device()))?);
            self.sy_free = Some(Tensor::f_zeros([m, m], (Kind::Double, s.device()))?);
        }
        let slot = match self.order.len() < self.m {
            true => self.order.len(),
            false => self.order.pop_front().unwrap_or(0),
        };
        self.order.push_back(slot);
        let k = self.order.len() as i64;
        let st = self.stacked()?;
        st.s.f_select(0, slot as i64)?.f_copy_(&s.f_reshape([-1])?)?;
        st.y.f_select(0, slot as i64)?.f_copy_(&y.f_reshape([-1])?)?;
        let w = Tensor::f_stack(&[y_free.f_reshape([-1])?, y.f_reshape([-1])?, q.f_reshape([-1])?], 0)?;
        let p = st.s.f_narrow(0, 0, k)?.f_mm(&w.f_tr()?)?.f_to_kind(Kind::Double)?;
        let column = |t: &Tensor, i: i64| -> Result<(), TchError> {
            t.f_narrow(0, 0, k)?
                .f_select(1, slot as i64)?
                .f_copy_(&p.f_select(1, i)?)
        };
        column(st.sy_free, 0)?;
        column(st.sy, 1)?;
        p.f_select(1, 2)
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
        if self
            .s
            .as_ref()
            .is_some_and(|s| s.size()[1] != g.numel() as i64 || s.kind() != g.kind())
        {
            // Pairs of another shape: none of them fits this image.
            self.s = None;
            self.clear();
        }
        let held_mask = free.f_reshape([-1])?.f_eq(0.0)?;
        let held = held_mask.f_nonzero()?.f_reshape([-1])?;
        self.follow(held_mask, &held)?;
        // Zeroes `v`'s held entries, in place: v stays in the free block.
        let restrict = |v: &mut Tensor| -> Result<(), TchError> {
            let _ = v.f_view([-1])?.f_index_fill_(0, &held, 0.0)?;
            Ok(())
        };
        let mut q = g.f_neg()?;
        restrict(&mut q)?;
        let mut y_free = None;
        let sq = match pair {
            Some((s, y)) => {
                let mut free_part = y.copy();
                restrict(&mut free_part)?;
                let sq = self.push(&s, &y, &free_part, &q)?;
                y_free = Some(free_part);
                Some(sq)
            }
            None if self.order.is_empty() => None,
            None => {
                let k = self.order.len() as i64;
                Some(split_mv(&self.stacked()?.s.f_narrow(0, 0, k)?, &q.f_reshape([-1])?)?.f_to_kind(Kind::Double)?)
            }
        };
        if let Some(&newest) = self.order.back() {
            self.update_gamma(newest, y_free, g, &restrict, h0)?;
        }
        match sq {
            Some(sq) => self.two_loops(q, &sq, &restrict, h0),
            None => {
                let mut r = h0(&q)?;
                restrict(&mut r)?;
                Ok(r)
            }
        }
    }

    /// The recursion from q = −F g (flat Sᵀq by slot in `sq`, f64) with
    /// at least one pair, in the pairs' order: each loop's coefficients by
    /// one triangular solve ([`Loops`]), its update by one product.
    fn two_loops(
        &self,
        mut q: Tensor,
        sq: &Tensor,
        restrict: &dyn Fn(&mut Tensor) -> Result<(), TchError>,
        h0: &mut dyn FnMut(&Tensor) -> Result<Tensor, TchError>,
    ) -> Result<Tensor, TchError> {
        let k = self.order.len() as i64;
        let chron: Vec<i64> = self.order.iter().map(|&s| s as i64).collect();
        let chron = Tensor::from_slice(&chron).f_to_device(q.device())?;
        let st = self.stacked()?;
        let (s, y) = (st.s.f_narrow(0, 0, k)?, st.y.f_narrow(0, 0, k)?);
        // A in the pairs' order: a[i][j] = sᵢᵀF yⱼ, read where i ≤ j.
        let a = st
            .sy_free
            .f_narrow(0, 0, k)?
            .f_narrow(1, 0, k)?
            .f_index_select(0, &chron)?
            .f_index_select(1, &chron)?;
        let loops = Loops::new(&a)?;
        // First loop: αᵢ = ρᵢ sᵢᵀ F(q − Σ_{j newer} αⱼ yⱼ), then q − Σ αᵢ yᵢ.
        let alpha = loops.alpha(&sq.f_index_select(0, &chron)?)?;
        let by_slot = |v: &Tensor| -> Result<Tensor, TchError> {
            Tensor::f_zeros([k], (Kind::Double, v.device()))?
                .f_index_copy(0, &chron, v)?
                .f_to_kind(s.kind())
        };
        split_add_tmv(&mut q.f_view([-1])?, &y, &by_slot(&alpha.f_neg()?)?)?;
        restrict(&mut q)?;
        let mut r = h0(&q)?;
        restrict(&mut r)?;
        if let Some(gamma) = &self.gamma {
            let _ = r.f_mul_(&gamma.f_to_kind(r.kind())?)?;
        }
        // Second loop: βᵢ = ρᵢ yᵢᵀ F(r + Σ_{j older} (αⱼ − βⱼ) sⱼ), then r + Σ (αᵢ − βᵢ) sᵢ.
        let yr = split_mv(&y, &r.f_reshape([-1])?)?.f_to_kind(Kind::Double)?;
        let beta = loops.beta(&yr.f_index_select(0, &chron)?, &alpha)?;
        split_add_tmv(&mut r.f_view([-1])?, &s, &by_slot(&alpha.f_sub(&beta)?)?)?;
        restrict(&mut r)?;
        Ok(r)
    }

    /// γ = sᵀF y / yᵀF H₀ F y of the pair in `slot` (the newest), when
    /// both are positive; the last such γ otherwise. `y_free`: its F y
    /// when the caller has it (a pair just added).
    fn update_gamma(
        &mut self,
        slot: usize,
        y_free: Option<Tensor>,
        g: &Tensor,
        restrict: &dyn Fn(&mut Tensor) -> Result<(), TchError>,
        h0: &mut dyn FnMut(&Tensor) -> Result<Tensor, TchError>,
    ) -> Result<(), TchError> {
        let st = self.stacked()?;
        let sy = st.sy_free.f_select(0, slot as i64)?.f_select(0, slot as i64)?;
        let ok = sy.f_gt(super::CURVATURE_MIN)?;
        let y_free = match y_free {
            Some(y) => y.f_reshape(g.size())?,
            None => {
                let mut y = st.y.f_select(0, slot as i64)?.f_reshape(g.size())?.copy();
                restrict(&mut y)?;
                y
            }
        };
        let yhy = dot(&y_free, &h0(&y_free)?)?;
        let new = sy.f_div(&yhy)?;
        let old = match &self.gamma {
            Some(g) => g.shallow_clone(),
            None => new.f_ones_like()?,
        };
        self.gamma = Some(new.f_where_self(&ok.f_logical_and(&yhy.f_gt(0.0)?)?, &old)?);
        Ok(())
    }
}

/// Column blocks a history product is split into on the CPU: one per
/// thread. MKL's matrix–vector product runs on one thread, and a pass over
/// the history is bound by memory, which one core does not saturate.
fn column_blocks(m: &Tensor) -> i64 {
    let n = m.size()[1];
    match m.device() {
        tch::Device::Cpu => {
            let threads = i64::from(tch::get_num_threads().max(1));
            if threads > 1 && n % threads == 0 { threads } else { 1 }
        }
        _ => 1,
    }
}

/// M·v for the `[k, n]` rows `m` (a row-major block of the history) and
/// `v` `[n]`: one batched product over [`column_blocks`] blocks of
/// columns, their partial sums added.
fn split_mv(m: &Tensor, v: &Tensor) -> Result<Tensor, TchError> {
    mv_in_blocks(m, v, column_blocks(m))
}

/// [`split_mv`] in `blocks` blocks of columns (which must divide n).
fn mv_in_blocks(m: &Tensor, v: &Tensor, blocks: i64) -> Result<Tensor, TchError> {
    if blocks == 1 {
        return m.f_mv(v);
    }
    let (k, n) = (m.size()[0], m.size()[1]);
    let width = n / blocks;
    v.f_view([blocks, 1, width])?
        .f_bmm(&m.f_view([k, blocks, width])?.f_permute([1, 2, 0])?)?
        .f_sum_dim_intlist(0, false, m.kind())?
        .f_view([k])
}

/// `out` += Mᵀ·w for the `[k, n]` rows `m` and `w` `[k]`, `out` flat
/// `[n]`: each block of columns by one batch of the product.
fn split_add_tmv(out: &mut Tensor, m: &Tensor, w: &Tensor) -> Result<(), TchError> {
    add_tmv_in_blocks(out, m, w, column_blocks(m))
}

/// [`split_add_tmv`] in `blocks` blocks of columns (which must divide n).
fn add_tmv_in_blocks(out: &mut Tensor, m: &Tensor, w: &Tensor, blocks: i64) -> Result<(), TchError> {
    if blocks == 1 {
        let _ = out.f_addmv_(&m.f_tr()?, w)?;
        return Ok(());
    }
    let (k, n) = (m.size()[0], m.size()[1]);
    let width = n / blocks;
    let product = w
        .f_view([1, 1, k])?
        .f_expand([blocks, 1, k], false)?
        .f_bmm(&m.f_view([k, blocks, width])?.f_permute([1, 0, 2])?)?;
    let _ = out.f_add_(&product.f_view([n])?)?;
    Ok(())
}

/// The two loops' coefficients from A (`a[i][j]` = sᵢᵀF yⱼ in the pairs'
/// order, read where i ≤ j), each by one triangular solve. A pair without
/// positive curvature gets αᵢ = βᵢ = 0 (its row of the solve is eᵢ, its
/// right-hand side 0), as the recursion's ρᵢ = 0 gives.
struct Loops {
    /// The strict upper triangle of A, the rows of such pairs zeroed.
    upper: Tensor,
    /// A's diagonal where the curvature is positive, 1 elsewhere.
    diag: Tensor,
    /// 1 where the curvature is positive, 0 elsewhere (f64).
    ok: Tensor,
}

impl Loops {
    fn new(a: &Tensor) -> Result<Self, TchError> {
        let d = a.f_diagonal(0, 0, 1)?;
        let positive = d.f_gt(super::CURVATURE_MIN)?;
        let ok = positive.f_to_kind(Kind::Double)?;
        Ok(Loops {
            upper: a.f_triu(1)?.f_mul(&ok.f_unsqueeze(1)?)?,
            diag: d.f_where_self(&positive, &d.f_ones_like()?)?,
            ok,
        })
    }

    /// α from Sᵀq (the pairs' order): (diag + upper)·α = ok·Sᵀq, since
    /// αᵢ·sᵢᵀF yᵢ = sᵢᵀq − Σ_{j > i} αⱼ sᵢᵀF yⱼ.
    fn alpha(&self, sq: &Tensor) -> Result<Tensor, TchError> {
        let t = self.upper.f_add(&self.diag.f_diag_embed(0, -2, -1)?)?;
        let rhs = sq.f_mul(&self.ok)?.f_unsqueeze(1)?;
        t.f_linalg_solve_triangular(&rhs, true, true, false)?.f_squeeze_dim(1)
    }

    /// β from Yᵀr (the pairs' order) and α: (diag + L)·β = ok·(Yᵀr + L·α)
    /// with L the upper triangle transposed (rows zeroed as above), since
    /// βᵢ·sᵢᵀF yᵢ = yᵢᵀr + Σ_{j < i} (αⱼ − βⱼ) sⱼᵀF yᵢ.
    fn beta(&self, yr: &Tensor, alpha: &Tensor) -> Result<Tensor, TchError> {
        let lower = self.upper.f_tr()?.f_mul(&self.ok.f_unsqueeze(1)?)?;
        let t = lower.f_add(&self.diag.f_diag_embed(0, -2, -1)?)?;
        let rhs = yr.f_add(&lower.f_mv(alpha)?)?.f_mul(&self.ok)?.f_unsqueeze(1)?;
        t.f_linalg_solve_triangular(&rhs, false, true, false)?.f_squeeze_dim(1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The history's products split by blocks of columns are the whole
    /// products, for a block of rows of a larger buffer as the history
    /// holds it.
    #[test]
    fn products_split_by_columns_are_the_whole_products() {
        let mut rng = stylelab_core::rng::SplitMix64::new(7);
        let mut normal = |n: usize| Tensor::from_slice(&(0..n).map(|_| rng.normal()).collect::<Vec<f64>>());
        let (k, n) = (4i64, 12i64);
        let buffer = normal(6 * n as usize).reshape([6, n]);
        let rows = buffer.narrow(0, 0, k);
        let (v, w, start) = (normal(n as usize), normal(k as usize), normal(n as usize));
        let close = |a: &Tensor, b: &Tensor| f64::try_from((a - b).abs().max()).unwrap() < 1e-12;
        for blocks in [1, 2, 3, 4] {
            let got = mv_in_blocks(&rows, &v, blocks).unwrap();
            assert!(close(&got, &rows.mv(&v)), "M·v in {blocks} blocks");
            let mut out = start.copy();
            add_tmv_in_blocks(&mut out, &rows, &w, blocks).unwrap();
            assert!(close(&out, &start.addmv(&rows.tr(), &w)), "Mᵀ·w in {blocks} blocks");
        }
    }
}
