//! The losses of Gatys et al., exactly as documented in the README:
//! content_l = mean((F_l(x) − F_l(c))²); G = F·Fᵀ/(C·H·W);
//! style_l = mean((G_l(x) − T_l)²); tv = mean(Δy²) + mean(Δx²).

use super::optim::{Evaluation, Objective};
use super::vgg::Vgg19;
use crate::layer::Layer;
use tch::{Kind, TchError, Tensor};

/// Gram matrix of a `1×C×H×W` (or `C×H×W`) feature map, `C×C`, divided by C·H·W.
pub fn gram(features: &Tensor) -> Result<Tensor, TchError> {
    let size = features.size();
    let n = size.len();
    let (c, hw) = (size[n - 3], size[n - 2] * size[n - 1]);
    let stride = features.stride();
    let g = if c > 1 && stride[n - 3] == 1 {
        // Channels-last storage: (H·W)×C is a free view, and G = MᵀM
        // needs no copy of the feature map (C×(H·W) would).
        let m = features
            .f_permute(if n == 4 { vec![0, 2, 3, 1] } else { vec![1, 2, 0] })?
            .f_reshape([hw, c])?;
        m.f_tr()?.f_mm(&m)?
    } else {
        let f = features.f_reshape([c, hw])?;
        f.f_mm(&f.f_tr()?)?
    };
    Ok(g / (c * hw) as f64)
}

/// Mean squared difference.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    (a - b).f_square()?.f_mean(Kind::Float)
}

/// Total variation of a `1×3×H×W` image.
pub fn tv(x: &Tensor) -> Result<Tensor, TchError> {
    let (h, w) = (x.size()[2], x.size()[3]);
    let dy = x.f_narrow(2, 1, h - 1)? - x.f_narrow(2, 0, h - 1)?;
    let dx = x.f_narrow(3, 1, w - 1)? - x.f_narrow(3, 0, w - 1)?;
    Ok(dy.f_square()?.f_mean(Kind::Float)? + dx.f_square()?.f_mean(Kind::Float)?)
}

/// Loss weights, which steering may change while running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Multiplies the content term.
    pub content: f64,
    /// Multiplies the style term.
    pub style: f64,
    /// Multiplies the total-variation term.
    pub tv: f64,
}

/// The value of one evaluation, split into its parts (plain numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// `combine(content, style, tv)`: the weighted, scaled total the optimizer minimises.
    pub total: f64,
    /// Σ_l w_l·content_l.
    pub content: f64,
    /// Σ_l w_l·style_l.
    pub style: f64,
    /// The raw total variation, unweighted.
    pub tv: f64,
    /// Raw per-layer values: content layers, then style layers.
    pub layers: Vec<f64>,
}

impl Breakdown {
    /// Names the first term that is not finite, for failure messages.
    pub fn non_finite_term(&self) -> Option<&'static str> {
        [
            ("content", self.content),
            ("style", self.style),
            ("tv", self.tv),
            ("total", self.total),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(n, _)| n)
    }
}

/// Style transfer's objective: weighted content + style + tv losses of an
/// RGB image, with fixed targets computed once.
pub struct StyleObjective {
    /// The frozen network whose features the losses compare.
    net: Vgg19,
    /// Every layer either term needs, in forward order: one forward pass yields them all.
    layers: Vec<Layer>,
    /// (layer, its weight, F_l(c)) for each content layer.
    content_targets: Vec<(Layer, f64, Tensor)>,
    /// (layer, its weight, blended Gram target T_l) for each style layer.
    style_targets: Vec<(Layer, f64, Tensor)>,
    /// The term weights in force; steering changes them between steps.
    pub weights: LossWeights,
    /// Each term is divided by its own norm: 1 without normalisation, a
    /// detached estimate of its magnitude with `normalize = "running"`.
    pub norms: [f64; 3],
    /// Forward + backward passes so far.
    pub evals: u64,
    /// fp16's dynamic loss scaling; None in fp32 and bf16.
    scaler: Option<LossScaler>,
}

/// Dynamic loss scaling for fp16 (as PyTorch's `GradScaler`): the loss is
/// multiplied by `scale` before the backward pass, so that small gradients
/// do not flush to zero in fp16, and the gradient divided by it after. An
/// overflow (a gradient that is not finite) halves the scale and the
/// evaluation is done again; after `GROWTH_INTERVAL` good ones it doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    /// The factor the loss is multiplied by; starts at 2¹⁶.
    pub scale: f64,
    /// Finite evaluations since the last change of `scale`.
    good: u32,
}

impl LossScaler {
    /// Finite evaluations in a row after which the scale doubles.
    const GROWTH_INTERVAL: u32 = 200;
    /// Below this an overflow is blamed on the loss itself, not the scale.
    const MIN_SCALE: f64 = 1.0 / 65536.0;

    /// A scaler at 2¹⁶, PyTorch's starting scale.
    pub fn new() -> Self {
        LossScaler {
            scale: 65536.0,
            good: 0,
        }
    }

    /// After an evaluation whose gradient was (`finite`) or was not finite:
    /// whether to keep it. False means: evaluate again at the new scale.
    pub fn accept(&mut self, finite: bool) -> bool {
        if finite {
            self.good += 1;
            if self.good >= Self::GROWTH_INTERVAL {
                self.good = 0;
                self.scale *= 2.0;
            }
            true
        } else {
            self.good = 0;
            self.scale /= 2.0;
            // At the floor the overflow is not the scale's doing: keep it,
            // and let the non-finite loss end the run with its message.
            self.scale < Self::MIN_SCALE
        }
    }
}

impl Default for LossScaler {
    fn default() -> Self {
        Self::new()
    }
}

impl StyleObjective {
    /// Computes content targets F_l(c) and style targets
    /// T_l = Σ_i b_i·G_l(s_i) / Σ_i b_i.
    pub fn new(
        net: Vgg19,
        content: &Tensor,
        styles: &[(Tensor, f64)],
        content_layers: &[(Layer, f64)],
        style_layers: &[(Layer, f64)],
        weights: LossWeights,
    ) -> Result<Self, TchError> {
        let layers = crate::layer::in_forward_order(content_layers.iter().chain(style_layers).map(|(l, _)| *l));
        let mut objective = StyleObjective {
            net,
            layers,
            content_targets: content_layers.iter().map(|(l, w)| (*l, *w, Tensor::new())).collect(),
            style_targets: style_layers.iter().map(|(l, w)| (*l, *w, Tensor::new())).collect(),
            weights,
            norms: [1.0; 3],
            evals: 0,
            scaler: None,
        };
        objective.retarget(content, styles)?;
        Ok(objective)
    }

    /// Recomputes the targets from new content and style images (the next
    /// scale of a multi-scale run); layers and weights stay.
    pub fn retarget(&mut self, content: &Tensor, styles: &[(Tensor, f64)]) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let content_layers: Vec<Layer> = self.content_targets.iter().map(|t| t.0).collect();
        if !content_layers.is_empty() {
            let feats = self.net.forward(content, &content_layers)?;
            for (l, _, target) in &mut self.content_targets {
                *target = feats[l].detach().copy();
            }
        }
        let style_layers: Vec<Layer> = self.style_targets.iter().map(|t| t.0).collect();
        if !style_layers.is_empty() {
            let blend_sum: f64 = styles.iter().map(|(_, b)| b).sum();
            let mut sums: Vec<Option<Tensor>> = style_layers.iter().map(|_| None).collect();
            for (img, blend) in styles {
                let feats = self.net.forward(img, &style_layers)?;
                for (sum, l) in sums.iter_mut().zip(&style_layers) {
                    let g = gram(&feats[l])? * (blend / blend_sum);
                    *sum = Some(match sum.take() {
                        Some(acc) => acc + g,
                        None => g,
                    });
                }
            }
            for ((_, _, target), sum) in self.style_targets.iter_mut().zip(sums) {
                *target = sum.unwrap_or_else(Tensor::new);
            }
        }
        Ok(())
    }

    /// Column names of the per-layer values, in [`Breakdown::layers`] order.
    pub fn layer_columns(&self) -> Vec<String> {
        let c = self.content_targets.iter().map(|(l, _, _)| format!("content:{l}"));
        let s = self.style_targets.iter().map(|(l, _, _)| format!("style:{l}"));
        c.chain(s).collect()
    }

    /// The weighted total for raw term values under the current weights and norms.
    pub fn combine(&self, content: f64, style: f64, tv: f64) -> f64 {
        let w = self.weights;
        w.content * content / self.norms[0] + w.style * style / self.norms[1] + w.tv * tv / self.norms[2]
    }

    /// Uses dynamic loss scaling (fp16).
    pub fn with_loss_scaling(mut self) -> Self {
        self.scaler = Some(LossScaler::new());
        self
    }

    /// The loss scale in force (1 without loss scaling).
    pub fn loss_scale(&self) -> f64 {
        self.scaler.as_ref().map_or(1.0, |s| s.scale)
    }

    /// The number of values an evaluation reports: one per content layer,
    /// one per style layer, then tv.
    pub fn value_count(&self) -> usize {
        self.content_targets.len() + self.style_targets.len() + 1
    }

    /// The parts of an evaluation's values (as read back): the weighted
    /// terms, their total, and the raw per-layer values.
    pub fn breakdown(&self, values: &[f64]) -> Breakdown {
        let n_content = self.content_targets.len();
        let (layers, tv) = values.split_at(values.len().saturating_sub(1));
        let tv = tv.first().copied().unwrap_or(f64::NAN);
        let weighted = |range: std::ops::Range<usize>, ws: &mut dyn Iterator<Item = f64>| -> f64 {
            layers[range].iter().zip(ws).map(|(v, w)| v * w).sum()
        };
        let content = weighted(0..n_content, &mut self.content_targets.iter().map(|t| t.1));
        let style = weighted(n_content..layers.len(), &mut self.style_targets.iter().map(|t| t.1));
        Breakdown {
            total: self.combine(content, style, tv),
            content,
            style,
            tv,
            layers: layers.to_vec(),
        }
    }

    /// One forward and backward pass at `x`, at the loss scale in force.
    fn try_evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
        let x = x.detach().set_requires_grad(true);
        let feats = self.net.forward(&x, &self.layers)?;
        let mut parts: Vec<Tensor> = Vec::with_capacity(self.value_count());
        for (l, _, target) in &self.content_targets {
            parts.push(mse(&feats[l], target)?);
        }
        for (l, _, target) in &self.style_targets {
            parts.push(mse(&gram(&feats[l])?, target)?);
        }
        parts.push(tv(&x)?);
        // The total on the device, for the backward pass; its value is
        // recomputed on the host in f64 from the parts (`breakdown`).
        let n_content = self.content_targets.len();
        let sum_weighted = |range: std::ops::Range<usize>, ws: Vec<f64>| -> Option<Tensor> {
            parts[range].iter().zip(ws).map(|(p, w)| p * w).reduce(|a, b| a + b)
        };
        let content = sum_weighted(0..n_content, self.content_targets.iter().map(|t| t.1).collect());
        let style = sum_weighted(
            n_content..parts.len() - 1,
            self.style_targets.iter().map(|t| t.1).collect(),
        );
        let (w, scale) = (self.weights, self.loss_scale());
        let mut total = &parts[parts.len() - 1] * (w.tv / self.norms[2] * scale);
        if let Some(c) = &content {
            total += c * (w.content / self.norms[0] * scale);
        }
        if let Some(s) = &style {
            total += s * (w.style / self.norms[1] * scale);
        }
        total.f_backward()?;
        let grad = x.grad();
        let grad = if scale != 1.0 { grad / scale } else { grad };
        self.evals += 1;
        Ok(Evaluation {
            grad,
            values: Tensor::f_stack(&parts, 0)?.f_to_kind(Kind::Double)?,
        })
    }
}

impl Objective for StyleObjective {
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
        loop {
            // Optimizers update the image under no_grad; the loss needs autograd.
            let eval = tch::with_grad(|| self.try_evaluate(x))?;
            let Some(scaler) = self.scaler.as_mut() else {
                return Ok(eval);
            };
            // fp16 only: one more read per evaluation, to catch an overflow.
            let finite = super::reads::read(&[&eval.grad.f_isfinite()?.f_all()?])?[0] != 0.0;
            if scaler.accept(finite) {
                return Ok(eval);
            }
        }
    }

    /// The weighted total of read-back values; see [`StyleObjective::breakdown`].
    fn value(&self, values: &[f64]) -> f64 {
        self.breakdown(values).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn t(v: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    #[test]
    fn gram_matches_hand_computation() {
        // F = [[1, 2], [3, 4]] (C=2, H=1, W=2): F·Fᵀ = [[5, 11], [11, 25]], / (2·1·2).
        let f = t(&[1., 2., 3., 4.], &[1, 2, 1, 2]);
        let g = gram(&f).unwrap();
        let want = t(&[5. / 4., 11. / 4., 11. / 4., 25. / 4.], &[2, 2]);
        assert!(g.allclose(&want, 1e-6, 1e-6, false), "{g}");
    }

    #[test]
    fn gram_is_the_same_for_channels_last_storage() {
        let f =
            Tensor::from_slice(&(0..2 * 3 * 4 * 5).map(|v| (v as f32).sin()).collect::<Vec<_>>()).view([2, 3, 4, 5]);
        let f = f.narrow(0, 1, 1);
        let cl = crate::vgg::to_channels_last(&f);
        assert_eq!(cl.stride()[1], 1);
        assert!(gram(&f).unwrap().allclose(&gram(&cl).unwrap(), 1e-6, 1e-6, false));
    }

    #[test]
    fn mse_and_tv_match_hand_computation() {
        let a = t(&[1., 2., 3., 4.], &[4]);
        let b = t(&[1., 0., 3., 0.], &[4]);
        // (0 + 4 + 0 + 16) / 4 = 5
        assert!((mse(&a, &b).unwrap().double_value(&[]) - 5.0).abs() < 1e-6);
        // One channel of a 1×3×2×2 image: [[0, 1], [3, 5]], others zero.
        let mut v = vec![0f32; 12];
        v[..4].copy_from_slice(&[0., 1., 3., 5.]);
        let x = t(&v, &[1, 3, 2, 2]);
        // Vertical diffs: (3-0)², (5-1)² → 9 + 16 = 25 over 6 entries;
        // horizontal: (1-0)², (5-3)² → 1 + 4 = 5 over 6 entries.
        let want = 25.0 / 6.0 + 5.0 / 6.0;
        assert!((tv(&x).unwrap().double_value(&[]) - want).abs() < 1e-6);
    }

    #[test]
    fn breakdown_names_the_term_that_blew_up() {
        let b = Breakdown {
            total: f64::NAN,
            content: 1.0,
            style: f64::INFINITY,
            tv: 0.0,
            layers: vec![],
        };
        assert_eq!(b.non_finite_term(), Some("style"));
        let _ = Device::Cpu;
    }
}
