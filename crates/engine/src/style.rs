//! The style statistics a layer can match (`loss.style_loss`), over all of
//! a feature map's positions or over a region's, exactly as the README's
//! "Exactly what is computed" gives them. A feature map is read as the
//! matrix M, one row per position and one column per channel (N × C).
//!
//! - `gram`: G = MᵀM / (C·N); value mean((G(x) − T)²) — today's numbers.
//! - `mean_std`: each channel's mean μ and standard deviation σ over the
//!   positions; value (‖μ(x) − μ_s‖² + ‖σ(x) − σ_s‖²) / (‖μ_s‖² + ‖σ_s‖²).
//! - `histogram`: each channel's values sorted, against the style's
//!   quantiles at as many points (exact histogram matching, per channel);
//!   value mean((sort(M) − Q)²) / mean(Q²).
//! - `sliced_wasserstein`: the same along C random unit directions
//!   (M·V, V fixed per layer from the run's seed) instead of the channels.
//!
//! Several style images blend by the weighted average of their statistics:
//! Grams and means and deviations as before, quantile functions too (the
//! Wasserstein barycentre of one-dimensional distributions).

use stylelab_core::config::StyleLoss;
use stylelab_core::memory::GRAM_GRADIENT_HELD_MAX_BYTES;
use tch::{Device, Kind, TchError, Tensor};

/// Added to a channel's variance before its square root, so that a dead
/// channel (σ = 0) has a finite gradient.
const VARIANCE_EPS: f64 = 1e-5;

/// A feature map `1×C×H×W` (any storage) as the N × C matrix of its
/// positions, all of them or those at `positions` (row-major indices
/// y·W + x).
pub fn matrix(features: &Tensor, positions: Option<&Tensor>) -> Result<Tensor, TchError> {
    let size = features.size();
    let n = size.len();
    let (c, hw) = (size[n - 3], size[n - 2] * size[n - 1]);
    // A view for either storage: channels-last is (H·W)×C already, NCHW
    // its transpose.
    let m = if c > 1 && features.stride()[n - 3] == 1 {
        let order = if n == 4 { vec![0, 2, 3, 1] } else { vec![1, 2, 0] };
        features.f_permute(order)?.f_reshape([hw, c])?
    } else {
        features.f_reshape([c, hw])?.f_tr()?
    };
    match positions {
        None => Ok(m),
        Some(p) => m.f_index_select(0, p),
    }
}

/// Mean squared difference, in the inputs' precision.
fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    (a - b).f_square()?.f_mean(a.kind())
}

/// G = MᵀM / (C·N) of an N × C matrix.
pub fn gram_of(m: &Tensor) -> Result<Tensor, TchError> {
    let (n, c) = (m.size()[0], m.size()[1]);
    Ok(m.f_tr()?.f_mm(m)? / (c * n.max(1)) as f64)
}

/// Each channel's mean and standard deviation over the rows (C each).
pub fn mean_std(m: &Tensor) -> Result<(Tensor, Tensor), TchError> {
    let mean = m.f_mean_dim(0, false, m.kind())?;
    let var = m.f_var_correction(0, 0i64, false)?;
    Ok((mean, (var + VARIANCE_EPS).f_sqrt()?))
}

/// The values along each direction (each channel for `histogram`, each
/// column of `directions` for sliced Wasserstein), sorted: K × N. The
/// order is found without autograd ([`argsort_rows`]) and the values
/// gathered by it, so the gradient flows back through the gather.
pub fn sorted_projections(m: &Tensor, directions: Option<&Tensor>) -> Result<Tensor, TchError> {
    let p = match directions {
        Some(v) => m.f_mm(v)?,
        None => m.shallow_clone(),
    };
    let p = p.f_tr()?.f_contiguous()?;
    let order = {
        let _guard = tch::no_grad_guard();
        argsort_rows(&p.detach())?
    };
    p.f_gather(1, &order, false)
}

/// Each row's ascending order (int64 indices, K × N). On the CPU, in fp32,
/// by an LSD radix sort of the floats' bits (three 11-bit passes), rows
/// shared among libtorch's threads: 5–8× faster there than libtorch's
/// comparison sort, which made sorting the most of these losses' cost.
/// Elsewhere, libtorch's `argsort`.
pub fn argsort_rows(p: &Tensor) -> Result<Tensor, TchError> {
    if p.device() != Device::Cpu || p.kind() != Kind::Float || p.dim() != 2 {
        return p.f_argsort(1, false);
    }
    let (rows, n) = (p.size()[0] as usize, p.size()[1] as usize);
    let mut values = vec![0f32; rows * n];
    p.f_copy_data(&mut values, rows * n)?;
    let mut order = vec![0i64; rows * n];
    let threads = (tch::get_num_threads().max(1) as usize).min(rows.max(1));
    let per = rows.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (vals, out) in values.chunks(per * n).zip(order.chunks_mut(per * n)) {
            scope.spawn(move || {
                let mut scratch = RadixScratch::new(n);
                for (row, out) in vals.chunks(n).zip(out.chunks_mut(n)) {
                    scratch.argsort(row, out);
                }
            });
        }
    });
    Tensor::f_from_slice(&order)?.f_view([rows as i64, n as i64])
}

/// Buffers of one radix sort, reused row after row.
struct RadixScratch {
    keys: Vec<u32>,
    idx: Vec<u32>,
    keys2: Vec<u32>,
    idx2: Vec<u32>,
}

impl RadixScratch {
    fn new(n: usize) -> Self {
        RadixScratch {
            keys: vec![0; n],
            idx: vec![0; n],
            keys2: vec![0; n],
            idx2: vec![0; n],
        }
    }

    /// `out` gets the ascending order of `row`: floats mapped to unsigned
    /// keys in the same order (negatives' bits flipped, positives' sign bit
    /// set; NaN sorts last), then three stable counting passes.
    fn argsort(&mut self, row: &[f32], out: &mut [i64]) {
        const BITS: u32 = 11;
        const BUCKETS: usize = 1 << BITS;
        for (i, (&v, k)) in row.iter().zip(self.keys.iter_mut()).enumerate() {
            let b = v.to_bits();
            *k = if b >> 31 == 1 { !b } else { b | 0x8000_0000 };
            self.idx[i] = i as u32;
        }
        for pass in 0..3 {
            let shift = pass * BITS;
            let mut count = [0usize; BUCKETS];
            for &k in &self.keys {
                count[((k >> shift) as usize) & (BUCKETS - 1)] += 1;
            }
            let mut sum = 0;
            for c in count.iter_mut() {
                let here = *c;
                *c = sum;
                sum += here;
            }
            for (&k, &i) in self.keys.iter().zip(&self.idx) {
                let b = ((k >> shift) as usize) & (BUCKETS - 1);
                self.keys2[count[b]] = k;
                self.idx2[count[b]] = i;
                count[b] += 1;
            }
            std::mem::swap(&mut self.keys, &mut self.keys2);
            std::mem::swap(&mut self.idx, &mut self.idx2);
        }
        for (o, &i) in out.iter_mut().zip(&self.idx) {
            *o = i as i64;
        }
    }
}

/// Sorted values `K × Ns` resampled to `n` quantiles per row, by linear
/// interpolation at (i + ½)·Ns/n − ½: the style's quantile function at the
/// generated image's number of positions.
pub fn quantiles(sorted: &Tensor, n: i64) -> Result<Tensor, TchError> {
    let ns = sorted.size()[1];
    if ns == n {
        return Ok(sorted.shallow_clone());
    }
    let device = sorted.device();
    let at = (Tensor::f_arange(n, (Kind::Double, device))? + 0.5) * (ns as f64 / n as f64) - 0.5;
    let at = at.f_clamp(0.0, (ns - 1) as f64)?;
    let lo = at.f_floor()?;
    let frac = (&at - &lo).f_to_kind(sorted.kind())?;
    let lo = lo.f_to_kind(Kind::Int64)?;
    let hi = (&lo + 1).f_clamp_max(ns - 1)?;
    let a = sorted.f_index_select(1, &lo)?;
    let b = sorted.f_index_select(1, &hi)?;
    Ok(&a + (b - &a) * frac.f_unsqueeze(0)?)
}

/// C unit directions in channel space (columns of a C × C matrix), drawn
/// from `seed`: the same on every device and every run with that seed.
pub fn directions(channels: i64, seed: u64, device: Device) -> Tensor {
    let mut rng = stylelab_core::rng::SplitMix64::new(seed);
    let v: Vec<f32> = (0..channels * channels).map(|_| rng.normal() as f32).collect();
    let v = Tensor::from_slice(&v).view([channels, channels]);
    let norms = v.square().sum_dim_intlist(0, true, Kind::Float).sqrt();
    (v / norms).to_device(device)
}

/// Whether a Gram layer with this feature map (`1×C×H×W`, any precision)
/// computes its gradient with its value and holds it for the backward
/// pass: while that gradient, C·H·W in fp32, is at most
/// [`GRAM_GRADIENT_HELD_MAX_BYTES`] (the memory model counts it then).
pub fn holds_gram_gradient(features: &Tensor) -> bool {
    features.numel() as f64 * 4.0 <= GRAM_GRADIENT_HELD_MAX_BYTES
}

/// ⟨M, Q⟩ with Q = M·(D + Dᵀ)/k computed without autograd: a term whose
/// gradient with respect to `m` is Q, the gradient of ⟨D, MᵀM⟩/k. The
/// backward pass then takes no product of M (autograd through MᵀM takes
/// two); Q is held until it runs.
fn gram_pull(m: &Tensor, d: &Tensor, k: f64) -> Result<Tensor, TchError> {
    let q = {
        let _guard = tch::no_grad_guard();
        m.f_detach()?.f_mm(&(d + d.f_tr()?))? / k
    };
    m.f_mul(&q)?.f_sum(m.kind())
}

/// What a style layer compares against in one region: a statistic of the
/// style images, blended.
pub enum Target {
    /// The blended Gram matrix.
    Gram(Tensor),
    /// Blended means and deviations, and ‖μ_s‖² + ‖σ_s‖².
    MeanStd { mean: Tensor, std: Tensor, energy: Tensor },
    /// Blended quantiles (K × N, N the generated image's positions), and
    /// mean(Q²); for sliced Wasserstein, the directions.
    Sorted {
        quantiles: Tensor,
        energy: Tensor,
        directions: Option<Tensor>,
    },
}

/// Blends a statistic over style images: Σ bᵢ·statᵢ / Σ bᵢ.
fn blend(parts: Vec<(Tensor, f64)>) -> Tensor {
    let sum: f64 = parts.iter().map(|p| p.1).sum::<f64>().max(f64::MIN_POSITIVE);
    parts
        .into_iter()
        .map(|(t, b)| t * (b / sum))
        .reduce(|a, b| a + b)
        .unwrap_or_else(Tensor::new)
}

impl Target {
    /// The target of `loss` from the style images' matrices with their
    /// blends, for a generated image with `n` positions here.
    /// `directions`: sliced Wasserstein's; `gram`: the full-map Gram of
    /// each style image when it was computed already (no regions).
    pub fn new(
        loss: StyleLoss,
        styles: &[(Tensor, f64)],
        n: i64,
        directions: Option<&Tensor>,
    ) -> Result<Target, TchError> {
        let _guard = tch::no_grad_guard();
        Ok(match loss {
            StyleLoss::Gram => Target::Gram(blend(
                styles
                    .iter()
                    .map(|(m, b)| Ok((gram_of(m)?, *b)))
                    .collect::<Result<_, TchError>>()?,
            )),
            StyleLoss::MeanStd => {
                let stats = styles
                    .iter()
                    .map(|(m, b)| Ok((mean_std(m)?, *b)))
                    .collect::<Result<Vec<_>, TchError>>()?;
                let mean = blend(stats.iter().map(|((m, _), b)| (m.shallow_clone(), *b)).collect());
                let std = blend(stats.iter().map(|((_, s), b)| (s.shallow_clone(), *b)).collect());
                let energy = mean.square().sum(mean.kind()) + std.square().sum(std.kind());
                Target::MeanStd { mean, std, energy }
            }
            StyleLoss::Histogram | StyleLoss::SlicedWasserstein => {
                let dirs = if loss == StyleLoss::SlicedWasserstein {
                    directions
                } else {
                    None
                };
                let quantiles = blend(
                    styles
                        .iter()
                        .map(|(m, b)| Ok((quantiles(&sorted_projections(m, dirs)?, n)?, *b)))
                        .collect::<Result<_, TchError>>()?,
                );
                let energy = quantiles.square().mean(quantiles.kind());
                Target::Sorted {
                    quantiles,
                    energy,
                    directions: dirs.map(Tensor::shallow_clone),
                }
            }
        })
    }

    /// The layer's value for the generated image's matrix `m` (its
    /// positions in this region), with autograd.
    pub fn value(&self, m: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Target::Gram(t) => mse(&gram_of(m)?, t),
            Target::MeanStd { mean, std, energy } => {
                let (mu, sigma) = mean_std(m)?;
                let d = (mu - mean).f_square()?.f_sum(m.kind())? + (sigma - std).f_square()?.f_sum(m.kind())?;
                Ok(d / energy.f_clamp_min(f64::MIN_POSITIVE)?)
            }
            Target::Sorted {
                quantiles,
                energy,
                directions,
            } => {
                let sorted = sorted_projections(m, directions.as_ref())?;
                Ok(mse(&sorted, quantiles)? / energy.f_clamp_min(f64::MIN_POSITIVE)?)
            }
        }
    }

    /// The layer's value for `m`, as [`Target::value`] gives it, and the
    /// term to hand the backward pass in its place: one whose gradient
    /// with respect to `m` is the value's. For a Gram matrix whose
    /// gradient may be held that term is ⟨M, Q⟩ with Q = ∂value/∂M = M·(D + Dᵀ)/(C·N)
    /// (D = ∂value/∂G) computed here without autograd and held until the
    /// backward pass, which then takes no product of the N × C matrix:
    /// autograd through MᵀM takes two (one per operand), and Q one. The
    /// value is computed without autograd then, and from the same
    /// operations, so it is the same to the bit. Other statistics, and
    /// larger Gram matrices, hand the value itself.
    /// `hold`: whether the layer's gradient may be held
    /// ([`holds_gram_gradient`] of its whole feature map, so that a
    /// layer's regions decide together, as the memory model counts them).
    pub fn value_and_pull(&self, m: &Tensor, hold: bool) -> Result<(Tensor, Tensor), TchError> {
        let (Target::Gram(t), true) = (self, hold) else {
            let value = self.value(m)?;
            return Ok((value.shallow_clone(), value));
        };
        let (value, d) = {
            let _guard = tch::no_grad_guard();
            let diff = gram_of(&m.f_detach()?)? - t;
            let value = diff.f_square()?.f_mean(m.kind())?;
            let d = &diff * (2.0 / diff.numel().max(1) as f64);
            (value, d)
        };
        let (n, c) = (m.size()[0], m.size()[1]);
        Ok((value, gram_pull(m, &d, (c * n.max(1)) as f64)?))
    }

    /// Bytes the target's statistic holds (sliced Wasserstein's directions
    /// are the layer's, shared by its regions: not counted here).
    pub fn bytes(&self) -> i64 {
        let b = |t: &Tensor| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64;
        match self {
            Target::Gram(t) => b(t),
            Target::MeanStd { mean, std, .. } => b(mean) + b(std),
            Target::Sorted { quantiles, .. } => b(quantiles),
        }
    }
}

/// A statistic's sums over positions, which add up tile by tile into the
/// whole image's: Σ MᵀM for `gram`, Σ M and Σ M² per channel for
/// `mean_std`, each with its count of positions, in f64. The other
/// statistics sort every position at once and have no sums.
pub enum Sums {
    /// Σ MᵀM (C × C) over `n` positions.
    Gram { mtm: Tensor, n: i64 },
    /// Σ M and Σ M² (C each) over `n` positions.
    Moments { s1: Tensor, s2: Tensor, n: i64 },
}

impl Sums {
    /// The sums of `loss` over the rows of `m` (an N × C matrix); None for
    /// a statistic without sums.
    pub fn of(loss: StyleLoss, m: &Tensor) -> Result<Option<Sums>, TchError> {
        let n = m.size()[0];
        Ok(match loss {
            StyleLoss::Gram => Some(Sums::Gram {
                mtm: m.f_tr()?.f_mm(m)?.f_to_kind(Kind::Double)?,
                n,
            }),
            StyleLoss::MeanStd => {
                let d = m.f_to_kind(Kind::Double)?;
                Some(Sums::Moments {
                    s1: d.f_sum_dim_intlist(0, false, Kind::Double)?,
                    s2: d.f_square()?.f_sum_dim_intlist(0, false, Kind::Double)?,
                    n,
                })
            }
            StyleLoss::Histogram | StyleLoss::SlicedWasserstein => None,
        })
    }

    /// These sums and `other`'s (of the same statistic), as one.
    pub fn plus(self, other: Sums) -> Result<Sums, TchError> {
        Ok(match (self, other) {
            (Sums::Gram { mtm, n }, Sums::Gram { mtm: b, n: m }) => Sums::Gram {
                mtm: mtm.f_add(&b)?,
                n: n + m,
            },
            (Sums::Moments { s1, s2, n }, Sums::Moments { s1: b1, s2: b2, n: m }) => Sums::Moments {
                s1: s1.f_add(&b1)?,
                s2: s2.f_add(&b2)?,
                n: n + m,
            },
            (a, _) => a,
        })
    }

    /// `Some(a + b)`, or whichever of them there is.
    pub fn merge(a: Option<Sums>, b: Option<Sums>) -> Result<Option<Sums>, TchError> {
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(a.plus(b)?),
            (a, b) => a.or(b),
        })
    }

    /// Positions counted.
    pub fn count(&self) -> i64 {
        match self {
            Sums::Gram { n, .. } | Sums::Moments { n, .. } => *n,
        }
    }

    /// Each channel's mean and variance (population, as [`mean_std`]'s)
    /// from the moments, f64.
    fn moments(s1: &Tensor, s2: &Tensor, n: i64) -> Result<(Tensor, Tensor), TchError> {
        let n = n.max(1) as f64;
        let mean = s1 / n;
        let var = (s2 / n).f_sub(&mean.f_square()?)?.f_clamp_min(0.0)?;
        Ok((mean, var))
    }
}

/// What a style term's value needs from the generated image's sums to
/// give its gradient tile by tile: the value (f64) and, per statistic,
/// ∂value/∂Σ MᵀM, or ∂value/∂mean and ∂value/∂variance with the mean.
pub enum SumsGrad {
    /// ∂value/∂(Σ MᵀM), C × C (fp32, for the tiles' surrogate).
    Gram(Tensor),
    /// ∂value/∂mean and ∂value/∂variance (C each) and the means, fp32,
    /// and the count of positions.
    Moments {
        dmean: Tensor,
        dvar: Tensor,
        mean: Tensor,
        n: i64,
    },
}

impl SumsGrad {
    /// The tile's surrogate for its own rows `m` of the statistic: a value
    /// whose gradient with respect to `m` is the tile's part of the whole
    /// value's gradient. Gram: ⟨∂v/∂S, MᵀM⟩; moments: Σ ∂v/∂μ·M/n +
    /// ∂v/∂σ²·(M − μ)²/n. Summed in `m`'s kind (fp32 in runs).
    pub fn surrogate(&self, m: &Tensor) -> Result<Tensor, TchError> {
        match self {
            // ∂⟨D, MᵀM⟩/∂M = M·(D + Dᵀ): the backward pass then takes no
            // product of the tile's rows.
            SumsGrad::Gram(d) => gram_pull(m, &d.f_to_kind(m.kind())?, 1.0),
            SumsGrad::Moments { dmean, dvar, mean, n } => {
                let n = (*n).max(1) as f64;
                let first = m.f_sum_dim_intlist(0, false, m.kind())?.f_mul(dmean)?.f_sum(m.kind())?;
                let second = (m - mean)
                    .f_square()?
                    .f_sum_dim_intlist(0, false, m.kind())?
                    .f_mul(dvar)?
                    .f_sum(m.kind())?;
                Ok((first + second) / n)
            }
        }
    }
}

impl Target {
    /// The target of `loss` (`gram` or `mean_std`) from each style image's
    /// sums with its blend: what [`Target::new`] gives from the images'
    /// matrices, summed tile by tile. None for a statistic without sums.
    pub fn from_sums(parts: &[(Sums, f64)], device: Device) -> Result<Option<Target>, TchError> {
        let _guard = tch::no_grad_guard();
        let Some((first, _)) = parts.first() else {
            return Ok(None);
        };
        let f32 = |t: Tensor| t.f_to_kind(Kind::Float)?.f_to_device(device);
        Ok(Some(match first {
            Sums::Gram { .. } => {
                let mut grams = Vec::with_capacity(parts.len());
                for (s, b) in parts {
                    if let Sums::Gram { mtm, n } = s {
                        let c = mtm.size()[0];
                        grams.push((f32(mtm / (c * (*n).max(1)) as f64)?, *b));
                    }
                }
                Target::Gram(blend(grams))
            }
            Sums::Moments { .. } => {
                let (mut means, mut stds) = (Vec::new(), Vec::new());
                for (s, b) in parts {
                    if let Sums::Moments { s1, s2, n } = s {
                        let (mean, var) = Sums::moments(s1, s2, *n)?;
                        means.push((f32(mean)?, *b));
                        stds.push((f32((var + VARIANCE_EPS).f_sqrt()?)?, *b));
                    }
                }
                let (mean, std) = (blend(means), blend(stds));
                let energy = mean.square().sum(mean.kind()) + std.square().sum(std.kind());
                Target::MeanStd { mean, std, energy }
            }
        }))
    }

    /// The value against the generated image's `sums` (over all of its
    /// positions in the region), in f64, and its gradient with respect to
    /// them; None for a statistic without sums.
    pub fn value_of_sums(&self, sums: &Sums) -> Result<Option<(Tensor, SumsGrad)>, TchError> {
        let leaf = |t: &Tensor| -> Result<Tensor, TchError> {
            t.f_to_kind(Kind::Double)?.f_detach()?.f_set_requires_grad(true)
        };
        let grad = |t: &Tensor| -> Result<Tensor, TchError> { t.f_grad()?.f_to_kind(Kind::Float) };
        tch::with_grad(|| match (self, sums) {
            (Target::Gram(t), Sums::Gram { mtm, n }) => {
                let s = leaf(mtm)?;
                let c = mtm.size()[0];
                let g = &s / (c * (*n).max(1)) as f64;
                let value = (g - t.f_to_kind(Kind::Double)?).f_square()?.f_mean(Kind::Double)?;
                value.f_backward()?;
                Ok(Some((value.f_detach()?, SumsGrad::Gram(grad(&s)?))))
            }
            (Target::MeanStd { mean, std, energy }, Sums::Moments { s1, s2, n }) => {
                let (m, v) = Sums::moments(s1, s2, *n)?;
                let (m, v) = (leaf(&m)?, leaf(&v)?);
                let sigma = (&v + VARIANCE_EPS).f_sqrt()?;
                let d = (&m - mean.f_to_kind(Kind::Double)?).f_square()?.f_sum(Kind::Double)?
                    + (sigma - std.f_to_kind(Kind::Double)?).f_square()?.f_sum(Kind::Double)?;
                let value = d / energy.f_to_kind(Kind::Double)?.f_clamp_min(f64::MIN_POSITIVE)?;
                value.f_backward()?;
                Ok(Some((
                    value.f_detach()?,
                    SumsGrad::Moments {
                        dmean: grad(&m)?,
                        dvar: grad(&v)?,
                        mean: m.f_detach()?.f_to_kind(Kind::Float)?,
                        n: *n,
                    },
                )))
            }
            _ => Ok(None),
        })
    }
}

/// Each cell's region at a layer `pools` poolings deep, from a label map
/// `H × W` (int64) at the image's size: the region covering most of the
/// 2^pools × 2^pools pixels under it (as [`positions`] counts them), as an
/// `H' × W'` int64 map.
pub fn labels_at(labels: &Tensor, regions: i64, pools: u32) -> Result<Tensor, TchError> {
    let _guard = tch::no_grad_guard();
    if pools == 0 {
        return Ok(labels.shallow_clone());
    }
    let k = 1i64 << pools;
    labels
        .f_one_hot(regions)?
        .f_permute([2, 0, 1])?
        .f_to_kind(Kind::Float)?
        .f_unsqueeze(0)?
        .f_avg_pool2d([k, k], [k, k], [0, 0], false, true, None::<i64>)?
        .f_squeeze_dim(0)?
        .f_argmax(0, false)
}

/// The positions (row-major indices at a layer `pools` poolings deep) of
/// region `region` among `regions`, from a label map `H × W` (int64) at
/// the image's size: each of the layer's cells belongs to the region that
/// covers most of the 2^pools × 2^pools pixels under it (poolings round
/// down, as VGG19's do).
pub fn positions(labels: &Tensor, region: i64, regions: i64, pools: u32) -> Result<Tensor, TchError> {
    let _guard = tch::no_grad_guard();
    labels_at(labels, regions, pools)?
        .f_eq(region)?
        .f_flatten(0, -1)?
        .f_nonzero()?
        .f_flatten(0, -1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-5 * b.abs().max(1.0)
    }

    #[test]
    fn the_matrix_of_a_feature_map_is_one_row_per_position() {
        // C = 2, H = 1, W = 3.
        let f = t(&[1., 2., 3., 10., 20., 30.], &[1, 2, 1, 3]);
        let m = matrix(&f, None).unwrap();
        assert_eq!(m.size(), [3, 2]);
        assert_eq!(
            Vec::<f32>::try_from(m.contiguous().view([-1])).unwrap(),
            [1., 10., 2., 20., 3., 30.]
        );
        let cl = crate::vgg::to_channels_last(&f);
        assert!(matrix(&cl, None).unwrap().equal(&matrix(&f, None).unwrap()));
        let p = Tensor::from_slice(&[2i64, 0]);
        let some = matrix(&f, Some(&p)).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(some.contiguous().view([-1])).unwrap(),
            [3., 30., 1., 10.]
        );
        // The full-map Gram is the engine's.
        assert!(
            gram_of(&m)
                .unwrap()
                .allclose(&super::super::loss::gram(&f).unwrap(), 1e-6, 1e-6, false)
        );
    }

    /// A Gram term holds its gradient for the backward pass only while it
    /// is small: above [`GRAM_GRADIENT_HELD_MAX_BYTES`] it hands autograd
    /// the value itself.
    #[test]
    fn only_a_small_gram_gradient_is_held_for_the_backward_pass() {
        let c = 64i64;
        let rows = (GRAM_GRADIENT_HELD_MAX_BYTES / 4.0) as i64 / c;
        for (n, held) in [(rows, true), (rows + 1, false)] {
            let map = Tensor::rand([1, c, n, 1], (Kind::BFloat16, Device::Cpu));
            assert_eq!(holds_gram_gradient(&map), held, "{n} rows");
            let m = Tensor::rand([n, c], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let style = Tensor::rand([8, c], (Kind::Float, Device::Cpu));
            let target = Target::new(StyleLoss::Gram, &[(style, 1.0)], n, None).unwrap();
            let (value, pull) = target.value_and_pull(&m, holds_gram_gradient(&map)).unwrap();
            // The held term's value is ⟨M, Q⟩, not the loss.
            let same = pull.double_value(&[]) == value.double_value(&[]);
            assert_eq!(same, !held, "{n} rows");
            assert!(pull.requires_grad());
        }
    }

    #[test]
    fn mean_std_matches_hand_computation() {
        // Channel 0: 1, 2, 3 → mean 2, variance 2/3; channel 1: 4, 4, 4 → 4, 0.
        let m = t(&[1., 4., 2., 4., 3., 4.], &[3, 2]);
        let (mu, sigma) = mean_std(&m).unwrap();
        let mu: Vec<f32> = mu.try_into().unwrap();
        let sigma: Vec<f32> = sigma.try_into().unwrap();
        assert_eq!(mu, [2.0, 4.0]);
        assert!(close(sigma[0] as f64, (2.0f64 / 3.0 + VARIANCE_EPS).sqrt()));
        assert!(close(sigma[1] as f64, VARIANCE_EPS.sqrt()));
        // Against a style with means 0, 4 and deviations 1, 1.
        let style = t(&[-1., 3., 1., 5.], &[2, 2]);
        let target = Target::new(StyleLoss::MeanStd, &[(style, 1.0)], 3, None).unwrap();
        let (s1, s2) = ((2.0f64 / 3.0 + VARIANCE_EPS).sqrt(), VARIANCE_EPS.sqrt());
        let want = ((2.0f64 - 0.0).powi(2)
            + (s1 - (1.0 + VARIANCE_EPS).sqrt()).powi(2)
            + (s2 - (1.0 + VARIANCE_EPS).sqrt()).powi(2))
            / (0.0 + 16.0 + 2.0 * (1.0 + VARIANCE_EPS));
        assert!(close(target.value(&m).unwrap().double_value(&[]), want));
    }

    #[test]
    fn histogram_matches_each_channel_sorted_against_the_styles_quantiles() {
        // The generated image: channel 0 = 3, 1, 2; channel 1 = 0, 0, 6.
        let m = t(&[3., 0., 1., 0., 2., 6.], &[3, 2]);
        // The style, 3 positions: channel 0 = 10, 30, 20; channel 1 = 1, 1, 1.
        let s = t(&[10., 1., 30., 1., 20., 1.], &[3, 2]);
        let target = Target::new(StyleLoss::Histogram, &[(s, 1.0)], 3, None).unwrap();
        // Sorted: [1, 2, 3] vs [10, 20, 30]; [0, 0, 6] vs [1, 1, 1].
        let diff = [9.0f64, 18.0, 27.0, 1.0, 1.0, 5.0];
        let mse = diff.iter().map(|d| d * d).sum::<f64>() / 6.0;
        let energy = (100.0 + 400.0 + 900.0 + 3.0) / 6.0;
        assert!(close(target.value(&m).unwrap().double_value(&[]), mse / energy));
    }

    #[test]
    fn the_radix_order_is_libtorchs_sort_order() {
        let mut rng = stylelab_core::rng::SplitMix64::new(8);
        let mut v: Vec<f32> = (0..3 * 1000).map(|_| (rng.normal() * 3.0) as f32).collect();
        // Zeros (ReLU's), negative zero, ties, extremes.
        v[..200].fill(0.0);
        v[5] = -0.0;
        v[300] = f32::MAX;
        v[301] = f32::MIN;
        v[302] = 1e-40;
        let p = Tensor::from_slice(&v).view([3, 1000]);
        let ours = p.gather(1, &argsort_rows(&p).unwrap(), false);
        let theirs = p.sort(1, false).0;
        assert!(ours.equal(&theirs), "the sorted values differ");
        // Doubles go to libtorch, with the same result.
        let d = p.to_kind(Kind::Double);
        assert!(
            d.gather(1, &argsort_rows(&d).unwrap(), false)
                .equal(&d.sort(1, false).0)
        );
    }

    #[test]
    fn quantiles_interpolate_the_sorted_style() {
        // 4 sorted values to 2 quantiles: at 0.5 and 2.5 → 15 and 35.
        let s = t(&[10., 20., 30., 40.], &[1, 4]);
        let q: Vec<f32> = quantiles(&s, 2).unwrap().view([-1]).try_into().unwrap();
        assert_eq!(q, [15.0, 35.0]);
        // To 8: at -0.25 (clamped to 0), 0.25, …, 3.25 (clamped to 3).
        let q: Vec<f32> = quantiles(&s, 8).unwrap().view([-1]).try_into().unwrap();
        assert_eq!(q, [10.0, 12.5, 17.5, 22.5, 27.5, 32.5, 37.5, 40.0]);
    }

    #[test]
    fn sliced_wasserstein_is_the_sorted_difference_along_each_direction() {
        // Computed here by hand, in f64: project, sort, compare.
        let (n, c) = (5usize, 3usize);
        let mut rng = stylelab_core::rng::SplitMix64::new(4);
        let x: Vec<f64> = (0..n * c).map(|_| rng.normal()).collect();
        let y: Vec<f64> = (0..n * c).map(|_| rng.normal() * 2.0 + 1.0).collect();
        let v = directions(c as i64, 11, Device::Cpu);
        let vv: Vec<f32> = v.contiguous().view([-1]).try_into().unwrap();
        let project = |m: &[f64], k: usize| -> Vec<f64> {
            let mut p: Vec<f64> = (0..n)
                .map(|i| (0..c).map(|j| m[i * c + j] * vv[j * c + k] as f64).sum())
                .collect();
            p.sort_by(f64::total_cmp);
            p
        };
        let (mut num, mut den) = (0.0, 0.0);
        for k in 0..c {
            let (px, py) = (project(&x, k), project(&y, k));
            num += px.iter().zip(&py).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            den += py.iter().map(|b| b * b).sum::<f64>();
        }
        let want = num / den;
        let to_t =
            |m: &[f64]| Tensor::from_slice(&m.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([n as i64, c as i64]);
        let target = Target::new(StyleLoss::SlicedWasserstein, &[(to_t(&y), 1.0)], n as i64, Some(&v)).unwrap();
        let got = target.value(&to_t(&x)).unwrap().double_value(&[]);
        assert!((got - want).abs() < 1e-5 * want, "{got} vs {want}");
        // The directions are unit vectors, and the same for the same seed.
        let norms: Vec<f32> = v
            .square()
            .sum_dim_intlist(0, false, Kind::Float)
            .sqrt()
            .try_into()
            .unwrap();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5));
        assert!(directions(3, 11, Device::Cpu).equal(&v));
        assert!(!directions(3, 12, Device::Cpu).equal(&v));
    }

    /// Each loss's gradient against central finite differences, in f64 on
    /// a small matrix (tch's autograd on the same code, cast to f64).
    #[test]
    fn every_style_loss_has_the_gradient_finite_differences_give() {
        let (n, c) = (7i64, 3i64);
        let mut rng = stylelab_core::rng::SplitMix64::new(5);
        let mut mat = |scale: f64| {
            let v: Vec<f64> = (0..n * c).map(|_| rng.normal() * scale + 0.5).collect();
            Tensor::from_slice(&v).view([n, c])
        };
        let (x0, style) = (mat(1.0), mat(2.0));
        let dirs = directions(c, 3, Device::Cpu).to_kind(Kind::Double);
        for loss in StyleLoss::ALL {
            // The target in f64 as well: the same code with Double tensors.
            let target = Target::new(loss, &[(style.shallow_clone(), 1.0)], n, Some(&dirs)).unwrap();
            let value = |x: &Tensor| target.value(x).unwrap().to_kind(Kind::Double).double_value(&[]);
            let x = x0.copy().set_requires_grad(true);
            target.value(&x).unwrap().backward();
            let grad: Vec<f64> = x.grad().view([-1]).try_into().unwrap();
            // The term the backward pass is handed instead: the same value
            // to the bit, the same gradient.
            let y = x0.copy().set_requires_grad(true);
            let (v, pull) = target.value_and_pull(&y, true).unwrap();
            assert_eq!(v.double_value(&[]), value(&x0), "{loss}: the value changed");
            pull.backward();
            let by_pull: Vec<f64> = y.grad().view([-1]).try_into().unwrap();
            for (a, b) in by_pull.iter().zip(&grad) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
                    "{loss}: {a} by the pull, {b} by autograd"
                );
            }
            let h = 1e-6;
            for i in 0..(n * c) as usize {
                let bump = |d: f64| {
                    let mut v: Vec<f64> = x0.view([-1]).try_into().unwrap();
                    v[i] += d;
                    value(&Tensor::from_slice(&v).view([n, c]))
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                assert!(
                    (fd - grad[i]).abs() <= 1e-5 * fd.abs().max(1e-3),
                    "{loss}: ∂/∂x[{i}] {} by autograd, {fd} by differences",
                    grad[i]
                );
            }
        }
    }

    #[test]
    fn a_regions_positions_at_a_layer_are_the_cells_it_mostly_covers() {
        // 4×4 labels: region 1 in the right half and the bottom-left cell.
        let l: Vec<i64> = vec![0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1];
        let labels = Tensor::from_slice(&l).view([4, 4]);
        let all: Vec<i64> = positions(&labels, 1, 2, 0).unwrap().try_into().unwrap();
        assert_eq!(all, [2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 15]);
        // One pooling: 2×2 cells; the bottom-left cell is 3/4 region 1.
        let pooled: Vec<i64> = positions(&labels, 1, 2, 1).unwrap().try_into().unwrap();
        assert_eq!(pooled, [1, 2, 3]);
        let zero: Vec<i64> = positions(&labels, 0, 2, 1).unwrap().try_into().unwrap();
        assert_eq!(zero, [0]);
    }
}
