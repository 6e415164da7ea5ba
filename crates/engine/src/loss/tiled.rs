//! The objective evaluated tile by tile, exactly (the geometry is
//! [`stylelab_core::tiling`]'s): an image too large for one pass through
//! the network is cut into tiles, each evaluated on a crop with a halo
//! wide enough that its features are the whole image's.
//!
//! Every term is a sum over positions: the content loss and tv of local
//! terms, and a Gram matrix or channel moments of sums ([`Sums`]). Two
//! passes give the value and the gradient:
//!
//! 1. without autograd, each tile's sums of every style term, added up;
//!    from them each term's value and its gradient with respect to its sums
//!    ([`Target::value_of_sums`]);
//! 2. with autograd, each tile again: its content and tv terms and each
//!    style term's linear surrogate ([`SumsGrad::surrogate`]), whose
//!    gradient is the tile's part of the whole gradient; backward, and the
//!    crop's gradient (halo included) added into the image's.
//!
//! Targets are computed the same way: the content's features tile by tile
//! into a whole-size map, the style images' sums tile by tile.
//!
//! Crops go to the network's device and their gradients come back to the
//! image's, so the image, its gradient and the optimizer's state may live
//! elsewhere (host memory) than the network.

use super::{StyleInputs, StyleObjective, StyleTerm, TileProgress, empty_region};
use crate::optim::Evaluation;
use crate::style::{self, Sums, Target};
use stylelab_core::layer::Layer;
use stylelab_core::tiling::{Rect, Tile, TilePlan};
use tch::{Device, Kind, TchError, Tensor};

/// `t` (`1×C×H×W`) cut to the rows and columns of `r`.
fn cut(t: &Tensor, r: &Rect) -> Result<Tensor, TchError> {
    t.f_narrow(2, r.y0 as i64, r.height() as i64)?
        .f_narrow(3, r.x0 as i64, r.width() as i64)
}

/// A tile's own positions `pools` poolings deep, in its crop's feature map.
fn own_in_crop(tile: &Tile, pools: u32) -> Rect {
    let (own, crop) = (tile.own.at_pools(pools), tile.crop.at_pools(pools));
    Rect {
        y0: own.y0 - crop.y0,
        y1: own.y1 - crop.y0,
        x0: own.x0 - crop.x0,
        x1: own.x1 - crop.x0,
    }
}

/// The N × C matrix of a tile's own positions at `layer` in its crop's
/// features, those of region `region` when a label map (the whole image's,
/// at the layer) is given.
fn own_matrix(feats: &Tensor, tile: &Tile, layer: Layer, region: Option<(&Tensor, i64)>) -> Result<Tensor, TchError> {
    let pools = layer.pools_before();
    let f = cut(feats, &own_in_crop(tile, pools))?;
    match region {
        None => style::matrix(&f, None),
        Some((labels, r)) => {
            let own = tile.own.at_pools(pools);
            let at = labels
                .f_narrow(0, own.y0 as i64, own.height() as i64)?
                .f_narrow(1, own.x0 as i64, own.width() as i64)?
                .f_eq(r)?
                .f_flatten(0, -1)?
                .f_nonzero()?
                .f_flatten(0, -1)?
                .f_to_device(f.device())?;
            style::matrix(&f, Some(&at))
        }
    }
}

/// The tile's part of tv (`mean(Δy²) + mean(Δx²)` over the whole image of
/// `h × w`): the differences starting on its own pixels, from its crop `x`.
fn tile_tv(x: &Tensor, tile: &Tile, h: u32, w: u32) -> Result<Tensor, TchError> {
    let own = own_in_crop(tile, 0);
    let (oh, ow) = (own.height() as i64, own.width() as i64);
    let rows = (tile.own.y1.min(h - 1)).saturating_sub(tile.own.y0) as i64;
    let cols = (tile.own.x1.min(w - 1)).saturating_sub(tile.own.x0) as i64;
    let (y0, x0) = (own.y0 as i64, own.x0 as i64);
    let zero = || Tensor::f_zeros([], (Kind::Double, x.device()));
    let dy = if rows > 0 {
        let a = x.f_narrow(2, y0 + 1, rows)?.f_narrow(3, x0, ow)?;
        let b = x.f_narrow(2, y0, rows)?.f_narrow(3, x0, ow)?;
        (a - b).f_square()?.f_sum(Kind::Double)? / (3.0 * (h as f64 - 1.0) * w as f64)
    } else {
        zero()?
    };
    let dx = if cols > 0 {
        let a = x.f_narrow(2, y0, oh)?.f_narrow(3, x0 + 1, cols)?;
        let b = x.f_narrow(2, y0, oh)?.f_narrow(3, x0, cols)?;
        (a - b).f_square()?.f_sum(Kind::Double)? / (3.0 * h as f64 * (w as f64 - 1.0))
    } else {
        zero()?
    };
    Ok(dy + dx)
}

/// The sizes `(h, w)` of a `1×C×H×W` tensor.
fn hw(t: &Tensor) -> (u32, u32) {
    let s = t.size();
    (s[2] as u32, s[3] as u32)
}

impl StyleObjective {
    /// The network's device.
    fn net_device(&self) -> Device {
        self.net.device()
    }

    /// The tile plan of a `h × w` image (the content's, a style image's) for
    /// features up to `deepest`.
    fn plan_for(&self, (h, w): (u32, u32), deepest: Layer) -> TilePlan {
        TilePlan::new(w, h, self.tile.unwrap_or(u32::MAX), deepest)
    }

    /// Targets tile by tile: each content layer's features of the content
    /// image (whole-size, on the image's device), and each style term's
    /// statistic from the style images' sums.
    pub(super) fn retarget_tiled(
        &mut self,
        content: &Tensor,
        styles: &StyleInputs,
        plan: &TilePlan,
    ) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let device = self.net_device();
        let content_layers: Vec<Layer> = self.content_targets.iter().map(|t| t.0).collect();
        let (h, w) = hw(content);
        if let Some(&deepest) = content_layers.last() {
            let plan = self.plan_for((h, w), deepest);
            for (l, _, target) in &mut self.content_targets {
                let p = l.pools_before();
                *target = Tensor::f_zeros(
                    [1, l.channels(), (h >> p) as i64, (w >> p) as i64],
                    (Kind::Float, content.device()),
                )?;
            }
            for tile in plan.tiles() {
                let feats = self
                    .net
                    .forward(&cut(content, &tile.crop)?.f_to_device(device)?, &content_layers)?;
                for (l, _, target) in &mut self.content_targets {
                    let p = l.pools_before();
                    let own = cut(&feats[l], &own_in_crop(&tile, p))?;
                    cut(target, &tile.own.at_pools(p))?.f_copy_(&own.f_to_device(content.device())?)?;
                }
            }
        }
        self.style_targets_tiled(styles, plan)
    }

    /// Each style term's target from its region's style images, summed
    /// tile by tile; the region's label map at each term's layer kept for
    /// the tiles of the evaluation.
    fn style_targets_tiled(&mut self, styles: &StyleInputs, plan: &TilePlan) -> Result<(), TchError> {
        let style_layers = stylelab_core::layer::in_forward_order(self.style_terms.iter().map(|t| t.layer));
        let Some(&deepest) = style_layers.last() else {
            return Ok(());
        };
        let device = self.net_device();
        let (h, w) = (plan.height, plan.width);
        let n_regions = styles.regions.len() as i64;
        for (r, region) in styles.regions.iter().enumerate() {
            let terms: Vec<usize> = (0..self.style_terms.len())
                .filter(|&i| self.style_terms[i].region.as_ref().is_none_or(|(j, _)| *j == r))
                .collect();
            // Per term, each style image's sums with its blend.
            let mut parts: Vec<Vec<(Sums, f64)>> = terms.iter().map(|_| Vec::new()).collect();
            for (img, blend, labels) in &region.styles {
                let at: Vec<Option<Tensor>> = terms
                    .iter()
                    .map(|&i| {
                        labels
                            .as_ref()
                            .map(|l| style::labels_at(l, n_regions, self.style_terms[i].layer.pools_before()))
                            .transpose()
                    })
                    .collect::<Result<_, _>>()?;
                let mut sums: Vec<Option<Sums>> = terms.iter().map(|_| None).collect();
                for tile in self.plan_for(hw(img), deepest).tiles() {
                    let feats = self
                        .net
                        .forward(&cut(img, &tile.crop)?.f_to_device(device)?, &style_layers)?;
                    for (k, &i) in terms.iter().enumerate() {
                        let term = &self.style_terms[i];
                        let m = own_matrix(
                            &feats[&term.layer],
                            &tile,
                            term.layer,
                            at[k].as_ref().map(|l| (l, r as i64)),
                        )?;
                        let tile_sums = Sums::of(term.loss, &m)?;
                        sums[k] = Sums::merge(sums[k].take(), tile_sums)?;
                    }
                }
                for (k, s) in sums.into_iter().enumerate() {
                    if let Some(s) = s.filter(|s| s.count() > 0) {
                        parts[k].push((s, *blend));
                    }
                }
            }
            for (k, &i) in terms.iter().enumerate() {
                let pools = self.style_terms[i].layer.pools_before();
                let labels = match &styles.labels {
                    // One byte a cell, as the memory model counts it.
                    Some(l) => Some(
                        style::labels_at(l, n_regions, pools)?
                            .f_to_kind(Kind::Uint8)?
                            .f_to_device(device)?,
                    ),
                    None => None,
                };
                let n = match &labels {
                    Some(l) => l.f_eq(r as i64)?.f_sum(Kind::Int64)?.int64_value(&[]),
                    None => (h >> pools) as i64 * (w >> pools) as i64,
                };
                let term = &mut self.style_terms[i];
                term.target = if n == 0 || parts[k].iter().all(|p| p.1 == 0.0) {
                    self.warnings.push(empty_region(term, w as i64, h as i64));
                    None
                } else {
                    Target::from_sums(&parts[k], device)?
                };
                term.labels = labels;
                term.positions = None;
            }
        }
        Ok(())
    }

    /// Pass 1: each style term's sums over the generated image `x`, tile by tile.
    fn sums_tiled(&self, x: &Tensor, plan: &TilePlan, progress: TileProgress) -> Result<Vec<Option<Sums>>, TchError> {
        let _guard = tch::no_grad_guard();
        let mut sums: Vec<Option<Sums>> = self.style_terms.iter().map(|_| None).collect();
        let style_layers = stylelab_core::layer::in_forward_order(self.style_terms.iter().map(|t| t.layer));
        if style_layers.is_empty() {
            return Ok(sums);
        }
        let tiles = plan.tiles();
        let count = tiles.len() as u32;
        for (i, tile) in tiles.into_iter().enumerate() {
            let feats = self
                .net
                .forward(&cut(x, &tile.crop)?.f_to_device(self.net_device())?, &style_layers)?;
            for (term, s) in self.style_terms.iter().zip(&mut sums) {
                if term.target.is_none() {
                    continue;
                }
                let m = own_matrix(&feats[&term.layer], &tile, term.layer, region_of(term))?;
                *s = Sums::merge(s.take(), Sums::of(term.loss, &m)?)?;
            }
            progress(1, i as u32 + 1, count);
        }
        Ok(sums)
    }

    /// Each style term's value and ∂L/∂statistic from pass 1's sums (zero
    /// and None for a term without a target).
    fn style_values_and_grads(&self, sums: &[Option<Sums>]) -> Result<StyleParts, TchError> {
        let device = self.net_device();
        let mut values = Vec::with_capacity(self.style_terms.len());
        let mut grads = Vec::with_capacity(self.style_terms.len());
        for (term, s) in self.style_terms.iter().zip(sums) {
            match (&term.target, s) {
                (Some(target), Some(s)) => match target.value_of_sums(s)? {
                    Some((value, grad)) => {
                        values.push(value);
                        grads.push(Some(grad));
                    }
                    None => return Err(TchError::Kind(format!("{} cannot be tiled", term.loss))),
                },
                _ => {
                    values.push(Tensor::f_zeros([], (Kind::Double, device))?);
                    grads.push(None);
                }
            }
        }
        Ok((values, grads))
    }

    /// Pass 1 and pass 2 (see the module): the value and gradient at `x`,
    /// equal to the one-pass evaluation's to round-off.
    /// `progress` hears of each tile done, in both passes (a pass without
    /// style terms is not reported).
    pub(super) fn evaluate_tiled(
        &mut self,
        x: &Tensor,
        plan: &TilePlan,
        progress: TileProgress,
    ) -> Result<Evaluation, TchError> {
        let device = self.net_device();
        let sums = self.sums_tiled(x, plan, &mut *progress)?;
        let (style_values, style_grads) = self.style_values_and_grads(&sums)?;
        let (w, scale) = (self.weights, self.loss_scale());
        let (h_px, w_px) = hw(x);
        let mut grad = x.f_zeros_like()?;
        let mut content_sums: Vec<Tensor> = self
            .content_targets
            .iter()
            .map(|_| Tensor::f_zeros([], (Kind::Double, device)))
            .collect::<Result<_, _>>()?;
        let mut tv_value = Tensor::f_zeros([], (Kind::Double, device))?;
        let tiles = plan.tiles();
        let count = tiles.len() as u32;
        for (i, tile) in tiles.into_iter().enumerate() {
            let crop = cut(&x.detach(), &tile.crop)?
                .f_to_device(device)?
                .f_contiguous()?
                .f_set_requires_grad(true)?;
            let feats = self.net.forward(&crop, &self.layers)?;
            let mut total = Tensor::f_zeros([], (Kind::Double, device))?;
            for ((l, lw, target), sum) in self.content_targets.iter().zip(&mut content_sums) {
                let p = l.pools_before();
                let own = cut(&feats[l], &own_in_crop(&tile, p))?;
                let t = cut(target, &tile.own.at_pools(p))?.f_to_device(device)?;
                let count = (l.channels() * (h_px >> p) as i64 * (w_px >> p) as i64) as f64;
                let part = (own - t).f_square()?.f_sum(Kind::Double)? / count;
                *sum += part.f_detach()?;
                total += part * (w.content * lw / self.norms[0] * scale);
            }
            for (term, g) in self.style_terms.iter().zip(&style_grads) {
                if let Some(g) = g {
                    let m = own_matrix(&feats[&term.layer], &tile, term.layer, region_of(term))?;
                    total += g.surrogate(&m)? * (w.style * term.weight / self.norms[1] * scale);
                }
            }
            let tv = tile_tv(&crop, &tile, h_px, w_px)?;
            tv_value += tv.f_detach()?;
            total += tv * (w.tv / self.norms[2] * scale);
            total.f_backward()?;
            let mut into = cut(&grad, &tile.crop)?;
            into += crop.f_grad()?.f_to_device(grad.device())?;
            progress(2, i as u32 + 1, count);
        }
        if scale != 1.0 {
            grad /= scale;
        }
        self.evals += 1;
        let values: Vec<Tensor> = content_sums
            .into_iter()
            .chain(style_values)
            .chain(std::iter::once(tv_value))
            .collect();
        Ok(Evaluation {
            grad,
            values: Tensor::f_stack(&values, 0)?
                .f_to_kind(Kind::Double)?
                .f_to_device(x.device())?,
        })
    }
}

/// The style terms' values, and their gradients with respect to their
/// statistics (None: the term has no target).
type StyleParts = (Vec<Tensor>, Vec<Option<style::SumsGrad>>);

/// A term's region: the label map at its layer and the region's index.
fn region_of(term: &StyleTerm) -> Option<(&Tensor, i64)> {
    match (&term.labels, &term.region) {
        (Some(l), Some((r, _))) => Some((l, *r as i64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LossWeights, RegionStyles, StyleInputs, StyleObjective};
    use crate::optim::{Lbfgs, Objective, Optimizer, StepOutcome, observe};
    use crate::vgg::Vgg19;
    use stylelab_core::config::{MemoryFormat, Pooling, Precision, StyleLayer, StyleLoss};
    use stylelab_core::layer::Layer;
    use tch::{Device, Kind, Tensor};

    fn layer(name: &str) -> Layer {
        name.parse().unwrap()
    }

    /// Seeded uniform noise, `1×3×h×w` in [0, 1]. libtorch's generator is
    /// global: the seed and the draw are taken under one lock, or another
    /// test's reseed between them gives the one-pass and the tiled
    /// objective different images (it did, in a fresh clone's test run).
    fn image(seed: i64, h: i64, w: i64) -> Tensor {
        static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _held = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(seed);
        Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu))
    }

    /// The left `3/5` of a `h × w` image is region 0, the rest region 1.
    fn halves(h: i64, w: i64) -> Tensor {
        Tensor::arange(w, (Kind::Int64, Device::Cpu))
            .ge(w * 3 / 5)
            .to_kind(Kind::Int64)
            .view([1, w])
            .expand([h, w], false)
            .contiguous()
    }

    /// An objective over a `h × w` content with two style images (blended
    /// 1 and 0.5), everywhere or in two regions, tiled or not.
    fn objective(
        size: (i64, i64),
        loss: StyleLoss,
        regions: bool,
        layers: (&str, &[&str]),
        tile: Option<u32>,
    ) -> StyleObjective {
        objective_on(Network::Fp32, size, loss, regions, layers, tile)
    }

    /// The network an objective computes with: the one runs use, or the
    /// f64 reference.
    #[derive(Clone, Copy, Debug)]
    enum Network {
        Fp32,
        F64,
    }

    /// [`objective`] on `network`.
    fn objective_on(
        network: Network,
        (h, w): (i64, i64),
        loss: StyleLoss,
        regions: bool,
        (content_layer, style): (&str, &[&str]),
        tile: Option<u32>,
    ) -> StyleObjective {
        let deepest = layer("relu5_1");
        let net = Vgg19::new(
            &crate::weights::VggWeights::random(3, deepest),
            Pooling::Max,
            Device::Cpu,
            Precision::Fp32,
            MemoryFormat::Nchw,
        );
        let net = match network {
            Network::Fp32 => net,
            Network::F64 => net.in_f64(),
        };
        let styles = vec![(image(11, 150, 180), 1.0), (image(12, 97, 121), 0.5)];
        let inputs = if regions {
            StyleInputs {
                regions: ["left", "right"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| RegionStyles {
                        name: Some(n.to_string()),
                        weight: 1.0 + i as f64,
                        styles: styles.iter().map(|(t, b)| (t.shallow_clone(), *b, None)).collect(),
                    })
                    .collect(),
                labels: Some(halves(h, w)),
            }
        } else {
            StyleInputs::everywhere(styles)
        };
        let style_layers: Vec<StyleLayer> = style
            .iter()
            .map(|l| StyleLayer {
                layer: layer(l),
                weight: 1.0,
                loss,
            })
            .collect();
        let weights = LossWeights {
            content: 1.0,
            style: 1e3,
            tv: 10.0,
        };
        let content = image(10, h, w);
        let mut obj = StyleObjective::new(net, &content, &inputs, &[], &style_layers, weights, 0, None, false).unwrap();
        // The content layer and the tiling, then the targets again.
        obj.content_targets = vec![(layer(content_layer), 1.0, Tensor::new())];
        obj.layers = stylelab_core::layer::in_forward_order(
            std::iter::once(layer(content_layer)).chain(style_layers.iter().map(|s| s.layer)),
        );
        obj.set_tile(tile).unwrap();
        obj.retarget(&content, &inputs).unwrap();
        obj
    }

    fn relative(a: &Tensor, b: &Tensor) -> f64 {
        let d = (a - b).to_kind(Kind::Double).norm().double_value(&[]);
        d / b.to_kind(Kind::Double).norm().double_value(&[]).max(f64::MIN_POSITIVE)
    }

    /// The classic style layers, and those up to relu3_1.
    const CLASSIC: &[&str] = &["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
    const SHALLOW: &[&str] = &["relu1_1", "relu2_1", "relu3_1"];

    /// One exactness case: the image's `(h, w)`, the statistic, regions or
    /// not, the content layer and style layers, and the tile's side.
    struct Case {
        size: (i64, i64),
        loss: StyleLoss,
        regions: bool,
        layers: (&'static str, &'static [&'static str]),
        tile: u32,
    }

    /// The cases both exactness tests take: gram and mean_std, with and
    /// without regions, content at relu4_2 and relu3_2, at an even size and
    /// at an odd one whose poolings floor, with the classic layers (a halo
    /// of 80 px) and shallower ones; tiles of 48 to 96 px.
    const CASES: [Case; 5] = [
        Case::new((149, 211), StyleLoss::Gram, true, ("relu4_2", CLASSIC), 96),
        Case::new((136, 200), StyleLoss::MeanStd, true, ("relu3_2", SHALLOW), 64),
        Case::new((149, 211), StyleLoss::MeanStd, false, ("relu4_2", SHALLOW), 64),
        Case::new((136, 200), StyleLoss::Gram, false, ("relu3_2", SHALLOW), 64),
        Case::new((149, 211), StyleLoss::Gram, true, ("relu3_2", SHALLOW), 48),
    ];

    impl Case {
        const fn new(
            size: (i64, i64),
            loss: StyleLoss,
            regions: bool,
            layers: (&'static str, &'static [&'static str]),
            tile: u32,
        ) -> Case {
            Case {
                size,
                loss,
                regions,
                layers,
                tile,
            }
        }
    }

    /// Evaluates `case` on `x` one pass and tiled, on `network`, and
    /// checks that values agree to `1e-5` and gradients to `grad_tol`
    /// (relative).
    fn tiled_equals_one_pass(network: Network, case: &Case, x: &Tensor, grad_tol: f64, what: &str) {
        let Case {
            size: (h, w),
            loss,
            regions,
            layers,
            tile,
        } = *case;
        let what = format!(
            "{what}: {w}×{h} {loss} regions {regions} content {} tile {tile}",
            layers.0
        );
        let mut whole = objective_on(network, (h, w), loss, regions, layers, None);
        let mut tiled = objective_on(network, (h, w), loss, regions, layers, Some(tile));
        assert!(tiled.plan(h, w).is_some_and(|p| p.count() >= 6), "{what}: tiled");
        let a = whole.evaluate(x).unwrap();
        let b = tiled.evaluate(x).unwrap();
        let (va, vb): (Vec<f64>, Vec<f64>) = (a.values.try_into().unwrap(), b.values.try_into().unwrap());
        for (i, (p, q)) in va.iter().zip(&vb).enumerate() {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1e-30),
                "{what}: value {i}: {p} one pass, {q} tiled"
            );
        }
        assert!(va.iter().all(|v| *v > 0.0), "{what}: {va:?}");
        let r = relative(&b.grad, &a.grad);
        assert!(r <= grad_tol, "{what}: gradient differs by {r:e} (relative)");
    }

    /// Tiled and one-pass objective and gradient agree to fp32 round-off
    /// on the network runs use, for every case.
    #[test]
    fn tiled_value_and_gradient_are_the_one_pass_ones() {
        for case in &CASES {
            let (h, w) = case.size;
            tiled_equals_one_pass(Network::Fp32, case, &image(20, h, w), 1e-5, "fp32");
        }
    }

    /// The tiled evaluation is exact, not merely close: with the network
    /// in f64 the two gradients agree to 10⁻⁵ (measured: ≤ 10⁻⁷ for
    /// mean_std, ≤ 4.4·10⁻⁶ for gram, whose tiled targets and ∂v/∂ΣMᵀM are
    /// kept in fp32) on two draws where the fp32 gradients differ by up to
    /// 5·10⁻³. There fp32 round-off decides which of two nearly equal
    /// values a max pooling passes the gradient to, in the one-pass
    /// evaluation as often as in the tiled one: against this f64
    /// reference each was the one off, on different draws, and with
    /// average pooling both stayed within 4·10⁻⁶ (gram, three draws).
    #[test]
    fn tiled_evaluation_is_exact_on_an_f64_network() {
        for seed in [1u64, 4] {
            for case in &CASES {
                let (h, w) = case.size;
                let x = crate::imaging::noise(seed, h, w);
                tiled_equals_one_pass(Network::F64, case, &x, 1e-5, &format!("f64, draw {seed}"));
            }
        }
    }

    /// Twenty L-BFGS steps tiled follow the one-pass run: losses within
    /// 2e-5 for ten steps and 2e-4 for twenty, images within 1/255 — closer
    /// than the one-pass run follows itself from a start changed by one
    /// unit in the last place (L-BFGS in fp32 amplifies round-off).
    /// Measured here since the Gram terms' gradient is one product
    /// (`Target::value_and_pull`): tiled 1.1e-5 after ten steps and 1.6e-4
    /// at worst, the nudged start 1.8e-5 and 2.0e-4; before it, tiled
    /// 6e-5 after twenty and the nudged start 2e-3. Either gradient is as
    /// far from the f64 network's (5.5e-7 to 6.6e-7 relative, both ways).
    #[test]
    fn twenty_lbfgs_steps_tiled_are_the_one_pass_steps() {
        let (h, w) = (72i64, 88i64);
        let run = |tile: Option<u32>, nudge: f64| {
            let mut obj = objective((h, w), StyleLoss::Gram, true, ("relu3_2", SHALLOW), tile);
            let mut x = image(10, h, w) * (1.0 + nudge);
            let mut opt = Optimizer::Lbfgs(Lbfgs::new(1.0, 10));
            let eval = obj.evaluate(&x).unwrap();
            let mut cur = observe(&obj, eval, &[]).unwrap().0;
            let mut losses = vec![cur.loss];
            for _ in 0..20 {
                cur = match opt.step(&mut obj, &mut x, cur).unwrap() {
                    StepOutcome::Moved(p) => p,
                    other => other.point(),
                };
                losses.push(cur.loss);
            }
            (losses, x)
        };
        let (la, xa) = run(None, 0.0);
        let (lb, xb) = run(Some(32), 0.0);
        let (lc, _) = run(None, 1e-7);
        let rel =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(p, q)| (p - q).abs() / p.abs()).collect() };
        let (tiled, nudged) = (rel(&la, &lb), rel(&la, &lc));
        let (worst_tiled, worst_nudged) = (
            tiled.iter().fold(0.0f64, |m, v| m.max(*v)),
            nudged.iter().fold(0.0f64, |m, v| m.max(*v)),
        );
        assert!(tiled[..=10].iter().all(|&d| d <= 2e-5), "{tiled:?}\n{la:?}\n{lb:?}");
        assert!(
            worst_tiled <= 2e-4 && worst_tiled < worst_nudged,
            "tiled {tiled:?}\nnudged {nudged:?}"
        );
        assert!(la[20] < la[0] * 0.5, "the loss fell: {la:?}");
        let diff = (&xa - &xb).abs().max().double_value(&[]);
        assert!(diff <= 1.0 / 255.0, "images differ by {diff}");
    }

    /// A tiled evaluation tells of every tile of both passes, in order; a
    /// one-pass one of none.
    #[test]
    fn a_tiled_evaluation_tells_of_each_tile_in_both_passes() {
        let (h, w) = (136i64, 200i64);
        let x = image(20, h, w);
        let mut tiled = objective((h, w), StyleLoss::Gram, false, ("relu3_2", SHALLOW), Some(64));
        let n = tiled.plan(h, w).unwrap().count() as u32;
        let mut heard = Vec::new();
        tiled
            .evaluate_with(&x, &mut |pass, done, tiles| heard.push((pass, done, tiles)))
            .unwrap();
        let expected: Vec<(u8, u32, u32)> = [1u8, 2].iter().flat_map(|&p| (1..=n).map(move |i| (p, i, n))).collect();
        assert_eq!(heard, expected);
        let mut whole = objective((h, w), StyleLoss::Gram, false, ("relu3_2", SHALLOW), None);
        let mut heard = 0;
        whole.evaluate_with(&x, &mut |_, _, _| heard += 1).unwrap();
        assert_eq!(heard, 0);
    }

    #[test]
    fn statistics_that_sort_every_position_are_not_tiled() {
        let mut obj = objective((64, 64), StyleLoss::Gram, false, ("relu4_2", SHALLOW), None);
        obj.style_terms[0].loss = StyleLoss::Histogram;
        let e = obj.set_tile(Some(32)).unwrap_err();
        assert!(e.contains("histogram cannot be tiled"), "{e}");
    }
}
