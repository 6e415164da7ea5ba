//! The spectral preconditioner: L-BFGS's initial inverse Hessian γ·M²
//! instead of γ·I, where M multiplies each spatial frequency f of the
//! image by (f / f_max)^(−α): α = [`EXPONENT`] for a free image,
//! [`EXPONENT_BOX`] for one L-BFGS keeps in [0, 1] by projection.
//!
//! Why: a style loss's gradient is dominated by fine detail, so plain
//! L-BFGS (and gradient descent) spends most of its evaluations before
//! the image's broad structure moves. Scaling the low frequencies up, as
//! the Fourier image parameterisations of feature visualisation do (Olah
//! et al., "Feature Visualization", Distill 2017), lets one step move
//! both. The minimum is the same (M is invertible); only the path to it
//! is shorter. Measured on the classic problem (docs/BENCHMARKS.md, "Time
//! to quality"): the reference's 500-evaluation loss at 256 px in 124
//! evaluations of PyTorch's L-BFGS so preconditioned; at 128 px α = 0.5
//! beat 0.25, 0.75 and 1 (docs/reference.md, "Optimizers"). Projected
//! onto the box, α = 0.25 did best on both the random and the real
//! weights (the same page).
//!
//! L-BFGS so preconditioned is L-BFGS on z with x = M z, written in x:
//! the gradient in z is M g, a direction found in z is mapped back by M,
//! and the curvature pairs are kept in z (s_z = t·d_z, y_z = M g₁ − M g₀),
//! where sᵀy and every inner product the line search needs are the same
//! as in x. So both forms of the history work unchanged on z, and the
//! line search, its Wolfe tests and the step stay in x, on the image.

use tch::{Device, Kind, TchError, Tensor};

/// The power of the frequency M scales by for a free image: f^(−α), so
/// M² scales by 1/f.
pub const EXPONENT: f64 = 0.5;

/// The same for an image projected onto the box [0, 1]: M² scales by
/// f^(−1/2). Measured with stylelab's projected L-BFGS at 256 px
/// (evaluations to the PyTorch reference's 500-evaluation loss, random /
/// real partial weights): α = 0.5 took 167 / 447, 0.375 88 / 352, 0.25
/// 91 / 278, 0 – / 322.
pub const EXPONENT_BOX: f64 = 0.25;

/// M for images of one shape (kept until a shape changes: a new scale).
pub(super) struct Spectral {
    /// α: the gain is f^(−α).
    exponent: f64,
    /// `(H, W)` and M's gain for the half spectrum `rfft2` gives, and
    /// M²'s (the gain squared): `[H, W/2 + 1]` f32.
    gain: Option<((i64, i64), [Tensor; 2])>,
}

impl Spectral {
    pub(super) fn new(exponent: f64) -> Self {
        Spectral { exponent, gain: None }
    }

    /// M·v for `v` shaped `[…, H, W]` (the image's shape): the real FFT
    /// over the last two dimensions, each frequency scaled by its gain,
    /// and back. Orthonormal transforms and a gain even in f make M
    /// symmetric and positive definite.
    pub(super) fn apply(&mut self, v: &Tensor) -> Result<Tensor, TchError> {
        self.scale(v, 0)
    }

    /// M²·v in one transform and back (the gain squared): what two
    /// [`Spectral::apply`] give, up to rounding.
    pub(super) fn apply_squared(&mut self, v: &Tensor) -> Result<Tensor, TchError> {
        self.scale(v, 1)
    }

    /// v with each frequency scaled by the gain (`power` 0) or its square (1).
    fn scale(&mut self, v: &Tensor, power: usize) -> Result<Tensor, TchError> {
        let size = v.size();
        let (h, w) = match size.as_slice() {
            [.., h, w] => (*h, *w),
            _ => {
                return Err(TchError::Shape(format!(
                    "the spectral preconditioner needs an image, not {size:?}"
                )));
            }
        };
        let gain = &self.gain_for(h, w, v.device())?[power];
        let mut spectrum = v
            .f_to_kind(Kind::Float)?
            .f_fft_rfft2(None::<&[i64]>, [-2, -1], "ortho")?;
        let _ = spectrum.f_mul_(gain)?;
        spectrum
            .f_fft_irfft2(Some(&[h, w][..]), [-2, -1], "ortho")?
            .f_to_kind(v.kind())
    }

    /// The gain (f / f_max)^(−α) at each frequency of the half spectrum,
    /// f = √(f_y² + f_x²) in cycles per pixel, held at no less than one
    /// cycle per image side (so the mean, f = 0, gets a finite gain).
    fn gain_for(&mut self, h: i64, w: i64, device: Device) -> Result<&[Tensor; 2], TchError> {
        if !matches!(&self.gain, Some((shape, [g, _])) if *shape == (h, w) && g.device() == device) {
            let opts = (Kind::Float, device);
            let fy = Tensor::f_fft_fftfreq(h, 1.0, opts)?.f_reshape([h, 1])?;
            let fx = Tensor::f_fft_rfftfreq(w, 1.0, opts)?.f_reshape([1, w / 2 + 1])?;
            let f = (fy.f_square()? + fx.f_square()?).f_sqrt()?;
            let f = f.f_clamp_min(1.0 / h.max(w) as f64)?;
            let f_max = f.f_max()?;
            let gain = f.f_div(&f_max)?.f_pow_tensor_scalar(-self.exponent)?;
            let squared = gain.f_square()?;
            self.gain = Some(((h, w), [gain, squared]));
        }
        match &self.gain {
            Some((_, g)) => Ok(g),
            None => Err(TchError::Kind("no gain".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64, h: i64, w: i64) -> Tensor {
        let mut rng = stylelab_core::rng::SplitMix64::new(seed);
        let v: Vec<f64> = (0..3 * h * w).map(|_| rng.normal()).collect();
        Tensor::from_slice(&v).reshape([1, 3, h, w])
    }

    /// M² in one transform (the gain squared) is M applied twice, on odd
    /// and even sides, the shape changing between calls.
    #[test]
    fn m_squared_in_one_transform_is_m_twice() {
        let mut m = Spectral::new(EXPONENT_BOX);
        for (h, w) in [(16, 16), (15, 22), (9, 7), (16, 16)] {
            let v = image(3, h, w).to_kind(Kind::Float);
            let mv = m.apply(&v).unwrap();
            let twice = m.apply(&mv).unwrap();
            let once = m.apply_squared(&v).unwrap();
            let largest = |t: &Tensor| f64::try_from(t.abs().max()).unwrap();
            let (err, scale) = (largest(&(&once - &twice)), largest(&twice));
            assert!(err <= 1e-5 * scale, "{h}×{w}: {err} of {scale}");
        }
    }

    /// L-BFGS's theory needs H₀ = γ·M² symmetric positive definite: uᵀMv
    /// = vᵀMu and vᵀMv > 0, on odd and even sides (where the half
    /// spectrum's last column is or is not the Nyquist one).
    #[test]
    fn m_is_symmetric_and_positive_definite() {
        let mut m = Spectral::new(EXPONENT);
        for (h, w) in [(16, 16), (15, 22), (9, 7)] {
            let (u, v) = (image(1, h, w), image(2, h, w));
            let dot = |a: &Tensor, b: &Tensor| {
                f64::try_from((a.to_kind(Kind::Double) * b.to_kind(Kind::Double)).sum(Kind::Double)).unwrap()
            };
            let (mu, mv) = (m.apply(&u).unwrap(), m.apply(&v).unwrap());
            let (a, b) = (dot(&u, &mv), dot(&v, &mu));
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{h}×{w}: uᵀMv {a} vᵀMu {b}");
            assert!(dot(&v, &mv) > 0.0, "{h}×{w}");
        }
    }

    /// The highest frequency passes unchanged and a constant image, the
    /// lowest, is scaled by (f_max / f_min)^α: here the checkerboard's
    /// f_max = √2/2 against one cycle per side of 8 px.
    #[test]
    fn the_gain_is_one_at_the_top_and_rises_as_f_falls() {
        let mut m = Spectral::new(EXPONENT);
        let (h, w) = (8i64, 8i64);
        let checker = Tensor::from_slice(
            &(0..h * w)
                .map(|i| if (i / w + i % w) % 2 == 0 { 1.0f32 } else { -1.0 })
                .collect::<Vec<_>>(),
        )
        .reshape([1, 1, h, w]);
        let out = m.apply(&checker).unwrap();
        let diff = f64::try_from((&out - &checker).abs().max()).unwrap();
        assert!(diff < 1e-5, "the checkerboard changed by {diff}");
        let flat = Tensor::ones([1, 1, h, w], (Kind::Float, Device::Cpu));
        let out = f64::try_from(m.apply(&flat).unwrap().mean(Kind::Double)).unwrap();
        let want = ((0.5f64 * 2f64.sqrt()) / (1.0 / 8.0)).powf(EXPONENT);
        assert!((out - want).abs() < 1e-4 * want, "{out} vs {want}");
    }

    /// f(x) = ½ xᵀAx with A = M⁻²: curvature rising as f^(2α), like a
    /// style loss's. Preconditioned, L-BFGS sees ½|z|², perfectly
    /// conditioned, and the first line search lands on the minimum; plain
    /// L-BFGS still has most of the loss left after as many steps.
    struct Rising {
        m: Spectral,
    }

    impl crate::optim::Objective for Rising {
        fn evaluate(&mut self, x: &Tensor) -> Result<crate::optim::Evaluation, TchError> {
            let [.., h, w] = x.size()[..] else { unreachable!() };
            let gain = self.m.gain_for(h, w, x.device())?[0].shallow_clone();
            let spectrum = x.f_fft_rfft2(None::<&[i64]>, [-2, -1], "ortho")?;
            let grad = (spectrum / gain.square()).f_fft_irfft2(Some(&[h, w][..]), [-2, -1], "ortho")?;
            let value = (x.to_kind(Kind::Double) * grad.to_kind(Kind::Double)).sum(Kind::Double) * 0.5;
            Ok(crate::optim::Evaluation {
                grad,
                values: value.reshape([1]),
            })
        }
        fn value(&self, values: &[f64]) -> f64 {
            values[0]
        }
    }

    #[test]
    fn preconditioned_lbfgs_solves_a_problem_whose_curvature_rises_with_frequency() {
        use crate::optim::{Lbfgs, Objective, StepOutcome, observe};
        use stylelab_core::config::Precondition;
        let left = |precondition: Precondition| {
            let mut f = Rising {
                m: Spectral::new(EXPONENT),
            };
            let mut x = image(3, 32, 32).to_kind(Kind::Float);
            let mut opt = Lbfgs::new(1.0, 10).with_precondition(precondition);
            let eval = f.evaluate(&x).unwrap();
            let mut p = observe(&f, eval, &[]).unwrap().0;
            let f0 = p.loss;
            for _ in 0..3 {
                p = match opt.step(&mut f, &mut x, p).unwrap() {
                    StepOutcome::Moved(p) | StepOutcome::Converged(p) => p,
                    StepOutcome::Stalled(_, why) => panic!("{why}"),
                };
            }
            p.loss / f0
        };
        let (spectral, plain) = (left(Precondition::Spectral), left(Precondition::None));
        assert!(
            spectral < 1e-6,
            "preconditioned: {spectral:e} of the loss left after 3 steps"
        );
        assert!(
            plain > 1e-3,
            "plain: {plain:e} left (the problem is too easy to tell them apart)"
        );
    }
}
