//! The losses of Gatys et al., exactly as documented in the README:
//! content_l = mean((F_l(x) − F_l(c))²); G = F·Fᵀ/(C·H·W);
//! style_l = mean((G_l(x) − T_l)²); tv = mean(Δy²) + mean(Δx²). A style
//! layer may match another statistic instead of the Gram matrix, and over
//! each region of a mask separately ([`super::style`]).

mod tiled;

use super::optim::{Evaluation, Objective};
use super::style::{self, Target};
use super::vgg::Vgg19;
use std::collections::HashMap;
use stylelab_core::config::{StyleLayer, StyleLoss};
use stylelab_core::layer::Layer;
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
    /// With the image kept in [0, 1] ([`StyleObjective::with_bounds`]): the
    /// pull back on values outside it, which the optimizer minimises with
    /// `total` (its [`Objective::value`] is their sum); 0 once the image is
    /// inside, and always 0 without bounds.
    pub pull: f64,
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
    /// The content image (on the network's device) whose content targets
    /// are left to the first evaluation, which takes them from its own
    /// forward pass when it is at that image: a run that starts from its
    /// content does one forward pass fewer before its first step. None
    /// once they are computed.
    pending_content: Option<Tensor>,
    /// Whether the next [`StyleObjective::retarget`] leaves the content
    /// targets to the first evaluation (it does only in one pass).
    defer_content: bool,
    /// Whether the content targets were taken from an evaluation's own
    /// forward pass (the pass saved).
    content_from_evaluation: bool,
    /// One per style layer and region (region by region), with its target.
    style_terms: Vec<StyleTerm>,
    /// Sliced Wasserstein's directions, per layer, from the run's seed.
    directions: HashMap<Layer, Tensor>,
    /// The run's seed, which the directions are drawn from.
    seed: u64,
    /// Said by the last [`StyleObjective::retarget`], for the run to report.
    warnings: Vec<String>,
    /// The term weights in force; steering changes them between steps.
    pub weights: LossWeights,
    /// Each term is divided by its own norm: 1 without normalisation, a
    /// detached estimate of its magnitude with `normalize = "running"`.
    pub norms: [f64; 3],
    /// Forward + backward passes so far.
    pub evals: u64,
    /// fp16's dynamic loss scaling; None in fp32 and bf16.
    scaler: Option<LossScaler>,
    /// Tiles' side in pixels when the scale is evaluated tile by tile
    /// (exactly: [`stylelab_core::tiling`]); None for one pass.
    tile: Option<u32>,
    /// Keeps the image in [0, 1] (`optim.bounds = "box"`); None: free.
    bounds: Option<Bounds>,
}

/// A pixel value this far outside [0, 1] is pulled back as hard as the
/// loss pulled its strongest pixel at the scale's first evaluation: the
/// pull's stiffness μ = max|∇f₀| / `PULL_DISTANCE`. Any μ > 0 gives the
/// same minimum (there every value is inside); μ sets how fast a value
/// that strayed comes back. A choice, not a tuned figure: the same
/// quarter of the range as L-BFGS's first step (`optim::lbfgs::FIRST_STEP`).
/// A value the loss pushes against a bound steps out and is pulled back
/// from step to step: at the end of the classic problem's 500 steps at
/// 256 px, 3 % of the values lie outside, which the loss (at the
/// clamped image) does not see.
pub const PULL_DISTANCE: f64 = 0.25;

/// `optim.bounds = "box"`: the loss is evaluated at the image clamped to
/// [0, 1] (the image final.png saves), so the optimizer minimises the
/// saved image's loss. A value outside has no gradient from the loss there
/// (clamping flattens it), so a quadratic pull μ/2·dist(x, [0, 1])² brings
/// it back; inside, the objective is the loss itself.
struct Bounds {
    /// μ as a device scalar, set at a scale's first evaluation, with the
    /// weights and norms in force then: when steering or `normalize =
    /// "running"` changes them, the loss's scale changed and μ is set again.
    stiffness: Option<(Tensor, LossWeights, [f64; 3])>,
}

/// Dynamic loss scaling for fp16 (as PyTorch's `GradScaler`): the loss is
/// multiplied by `factor` before the backward pass, so that small gradients
/// do not flush to zero in fp16, and the gradient divided by it after. An
/// overflow (a gradient that is not finite) halves the factor and the
/// evaluation is done again; after `GROWTH_INTERVAL` good ones it doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    /// The factor the loss is multiplied by; starts at 2¹⁶.
    pub factor: f64,
    /// Finite evaluations since the last change of `factor`.
    good: u32,
}

impl LossScaler {
    /// Finite evaluations in a row after which the factor doubles.
    const GROWTH_INTERVAL: u32 = 200;
    /// Below this an overflow is blamed on the loss itself, not the factor.
    const MIN_FACTOR: f64 = 1.0 / 65536.0;

    /// A scaler at 2¹⁶, PyTorch's starting scale.
    pub fn new() -> Self {
        LossScaler {
            factor: 65536.0,
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
                self.factor *= 2.0;
            }
            true
        } else {
            self.good = 0;
            self.factor /= 2.0;
            // At the floor the overflow is not the scale's doing: keep it,
            // and let the non-finite loss end the run with its message.
            self.factor < Self::MIN_FACTOR
        }
    }
}

impl Default for LossScaler {
    fn default() -> Self {
        Self::new()
    }
}

/// One region's style images at one scale, as the network sees them.
pub struct RegionStyles {
    /// The region's name; None without regions (one style everywhere).
    pub name: Option<String>,
    /// Multiplies the style layers' weights in this region.
    pub weight: f64,
    /// Each image, its blend, and with a style mask its label map (`H × W`
    /// int64, indices of the regions' colours) at the image's size.
    pub styles: Vec<(Tensor, f64, Option<Tensor>)>,
}

/// What the style term compares against at one scale.
pub struct StyleInputs {
    /// One entry per region; one without regions.
    pub regions: Vec<RegionStyles>,
    /// The content's label map at the scale's size (`H × W` int64), or
    /// None without regions.
    pub labels: Option<Tensor>,
}

impl StyleInputs {
    /// One style everywhere: images and blends.
    pub fn everywhere(styles: Vec<(Tensor, f64)>) -> Self {
        StyleInputs {
            regions: vec![RegionStyles {
                name: None,
                weight: 1.0,
                styles: styles.into_iter().map(|(t, b)| (t, b, None)).collect(),
            }],
            labels: None,
        }
    }
}

/// What a run is told when a region covers no position of a term's layer
/// at a `w × h` scale.
fn empty_region(term: &StyleTerm, w: i64, h: i64) -> String {
    let name = term.region.as_ref().map_or("", |r| r.1.as_str());
    format!(
        "region '{name}' covers no position of {} at {w}×{h} (in the content or in its style masks); its style there counts 0 at this scale",
        term.layer
    )
}

/// One term of the style loss: a layer, in a region or everywhere.
struct StyleTerm {
    layer: Layer,
    /// The layer's weight times the region's.
    weight: f64,
    loss: StyleLoss,
    /// The region's index and name; None: every position.
    region: Option<(usize, String)>,
    /// The generated image's positions at this layer in the region (None:
    /// all); set with the targets.
    positions: Option<Tensor>,
    /// None when the region covers no position of this layer at this
    /// scale (the term is 0 there).
    target: Option<Target>,
    /// Tiled: each of the layer's cells' region at this scale (`H' × W'`
    /// int64), from which a tile finds its own positions; None without regions.
    labels: Option<Tensor>,
}

impl StyleObjective {
    /// Computes content targets F_l(c) and the style terms' targets: for
    /// each style layer (and region), the blend of the style images'
    /// statistics. `seed` draws sliced Wasserstein's directions; `tile`
    /// evaluates tile by tile (see [`StyleObjective::set_tile`]). With
    /// `content_first`, the first evaluation will be at the content image
    /// (the run starts from it) and, in one pass, the content targets are
    /// taken from its forward pass instead of one of their own.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        net: Vgg19,
        content: &Tensor,
        styles: &StyleInputs,
        content_layers: &[(Layer, f64)],
        style_layers: &[StyleLayer],
        weights: LossWeights,
        seed: u64,
        tile: Option<u32>,
        content_first: bool,
    ) -> Result<Self, TchError> {
        let layers = stylelab_core::layer::in_forward_order(
            content_layers
                .iter()
                .map(|(l, _)| *l)
                .chain(style_layers.iter().map(|s| s.layer)),
        );
        let style_terms = styles
            .regions
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                style_layers.iter().map(move |s| StyleTerm {
                    layer: s.layer,
                    weight: s.weight * r.weight,
                    loss: s.loss,
                    region: r.name.clone().map(|n| (i, n)),
                    positions: None,
                    target: None,
                    labels: None,
                })
            })
            .collect();
        let mut objective = StyleObjective {
            net,
            layers,
            content_targets: content_layers.iter().map(|(l, w)| (*l, *w, Tensor::new())).collect(),
            pending_content: None,
            defer_content: content_first,
            content_from_evaluation: false,
            style_terms,
            directions: HashMap::new(),
            seed,
            warnings: Vec::new(),
            weights,
            norms: [1.0; 3],
            evals: 0,
            scaler: None,
            tile: None,
            bounds: None,
        };
        objective.set_tile(tile).map_err(TchError::Kind)?;
        objective.retarget(content, styles)?;
        Ok(objective)
    }

    /// Evaluates (and computes the targets) tile by tile, in tiles of at
    /// most `tile` px, from the next [`StyleObjective::retarget`] on; None:
    /// in one pass. Refused for a style statistic without sums over
    /// positions (`histogram`, `sliced_wasserstein`), which needs every
    /// position at once.
    pub fn set_tile(&mut self, tile: Option<u32>) -> Result<(), String> {
        if tile.is_some()
            && let Some(t) = self.style_terms.iter().find(|t| !t.loss.sums_over_positions())
        {
            return Err(format!(
                "{} cannot be tiled: it sorts every position of the image at once (tiles need gram or mean_std)",
                t.loss
            ));
        }
        self.tile = tile;
        Ok(())
    }

    /// The tiles an `h × w` image is evaluated in, when tiled and more than one.
    fn plan(&self, h: i64, w: i64) -> Option<stylelab_core::tiling::TilePlan> {
        let deepest = *self.layers.last()?;
        let plan = stylelab_core::tiling::TilePlan::new(w as u32, h as u32, self.tile?, deepest);
        (!plan.is_whole()).then_some(plan)
    }

    /// Sliced Wasserstein's directions at `layer`: C of them, drawn from
    /// the run's seed and the layer, the same at every scale.
    fn directions_at(&mut self, layer: Layer, device: tch::Device) -> Tensor {
        let seed = self.seed;
        self.directions
            .entry(layer)
            .or_insert_with(|| {
                let salt = (layer.block as u64) << 16 | (layer.index as u64) << 8 | layer.kind as u64;
                style::directions(
                    layer.channels(),
                    seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    device,
                )
            })
            .shallow_clone()
    }

    /// Recomputes the targets from new content and style images (the next
    /// scale of a multi-scale run); layers and weights stay. Keeps a
    /// warning per style term whose region covers no position of its layer
    /// at this scale (the term is 0 there): see [`StyleObjective::take_warnings`].
    pub fn retarget(&mut self, content: &Tensor, styles: &StyleInputs) -> Result<(), TchError> {
        let defer = std::mem::take(&mut self.defer_content);
        self.pending_content = None;
        if let Some(b) = &mut self.bounds {
            b.stiffness = None;
        }
        if let Some(plan) = self.plan(content.size()[2], content.size()[3]) {
            return self.retarget_tiled(content, styles, &plan);
        }
        let _guard = tch::no_grad_guard();
        // The images may live in host memory (the run's state does when the
        // device cannot hold it): one pass takes them to the network.
        let device = self.net.device();
        let content = &content.f_to_device(device)?;
        if !self.content_targets.is_empty() {
            if defer {
                self.pending_content = Some(content.shallow_clone());
            } else {
                self.content_targets_of(content, None)?;
            }
        }
        let style_layers = stylelab_core::layer::in_forward_order(self.style_terms.iter().map(|t| t.layer));
        if style_layers.is_empty() {
            return Ok(());
        }
        let (h, w) = (content.size()[2], content.size()[3]);
        let n_regions = styles.regions.len() as i64;
        for (r, region) in styles.regions.iter().enumerate() {
            // Every style image of the region through the network once.
            let mut feats = Vec::with_capacity(region.styles.len());
            for (img, blend, labels) in &region.styles {
                let labels = labels.as_ref().map(|l| l.f_to_device(device)).transpose()?;
                feats.push((
                    self.net.forward(&img.f_to_device(device)?, &style_layers)?,
                    *blend,
                    labels,
                ));
            }
            let terms: Vec<usize> = (0..self.style_terms.len())
                .filter(|&i| self.style_terms[i].region.as_ref().is_none_or(|(j, _)| *j == r))
                .collect();
            for i in terms {
                let (layer, loss) = (self.style_terms[i].layer, self.style_terms[i].loss);
                let pools = layer.pools_before();
                let positions = match &styles.labels {
                    Some(labels) => Some(style::positions(
                        &labels.f_to_device(device)?,
                        r as i64,
                        n_regions,
                        pools,
                    )?),
                    None => None,
                };
                let n = positions.as_ref().map_or((h >> pools) * (w >> pools), |p| p.size()[0]);
                let mut mats = Vec::new();
                for (f, blend, labels) in &feats {
                    let at = match labels {
                        Some(l) => Some(style::positions(l, r as i64, n_regions, pools)?),
                        None => None,
                    };
                    let m = style::matrix(&f[&layer], at.as_ref())?;
                    if m.size()[0] > 0 {
                        mats.push((m, *blend));
                    }
                }
                let directions =
                    (loss == StyleLoss::SlicedWasserstein).then(|| self.directions_at(layer, content.device()));
                let term = &mut self.style_terms[i];
                term.target = if n == 0 || mats.iter().all(|m| m.1 == 0.0) {
                    self.warnings.push(empty_region(term, w, h));
                    None
                } else {
                    Some(Target::new(loss, &mats, n, directions.as_ref())?)
                };
                term.positions = positions;
                term.labels = None;
            }
        }
        Ok(())
    }

    /// Sets the content targets from the content image's features: those
    /// given (an evaluation's, at that image), else a forward pass's.
    fn content_targets_of(&mut self, content: &Tensor, feats: Option<&HashMap<Layer, Tensor>>) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        let own;
        let feats = match feats {
            Some(f) => f,
            None => {
                let layers: Vec<Layer> = self.content_targets.iter().map(|t| t.0).collect();
                own = self.net.forward(content, &layers)?;
                &own
            }
        };
        for (l, _, target) in &mut self.content_targets {
            *target = feats[l].detach().copy();
        }
        Ok(())
    }

    /// The content targets left to the first evaluation, at `x` with its
    /// features `feats`: taken from them when `x` is the content image,
    /// else computed now.
    fn settle_content_targets(&mut self, x: &Tensor, feats: &HashMap<Layer, Tensor>) -> Result<(), TchError> {
        let Some(content) = self.pending_content.take() else {
            return Ok(());
        };
        let at_content = x.size() == content.size() && x.kind() == content.kind() && x.f_equal(&content)?;
        self.content_from_evaluation = at_content;
        self.content_targets_of(&content, at_content.then_some(feats))
    }

    /// The warnings the targets' computation left, once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Column names of the per-layer values, in [`Breakdown::layers`] order:
    /// `content:relu4_2`, `style:relu1_1`, with regions `style:relu1_1@sky`.
    pub fn layer_columns(&self) -> Vec<String> {
        let c = self.content_targets.iter().map(|(l, _, _)| format!("content:{l}"));
        let s = self.style_terms.iter().map(|t| match &t.region {
            None => format!("style:{}", t.layer),
            Some((_, name)) => format!("style:{}@{name}", t.layer),
        });
        c.chain(s).collect()
    }

    /// Bytes the style targets hold, with sliced Wasserstein's directions
    /// once per layer: what `memory::style_target_bytes` models.
    pub fn style_target_bytes(&self) -> i64 {
        let targets: i64 = self
            .style_terms
            .iter()
            .filter_map(|t| t.target.as_ref())
            .map(Target::bytes)
            .sum();
        let directions: i64 = self
            .directions
            .values()
            .map(|d| d.numel() as i64 * d.kind().elt_size_in_bytes() as i64)
            .sum();
        targets + directions
    }

    /// The weighted total for raw term values under the current weights and norms.
    pub fn combine(&self, content: f64, style: f64, tv: f64) -> f64 {
        let w = self.weights;
        w.content * content / self.norms[0] + w.style * style / self.norms[1] + w.tv * tv / self.norms[2]
    }

    /// Keeps the image in [0, 1] with `bounds = Box` (the loss at the clamped
    /// image and a pull back on values outside; see [`PULL_DISTANCE`]): the
    /// values an evaluation reports gain one, the pull.
    pub fn with_bounds(mut self, bounds: stylelab_core::config::Bounds) -> Self {
        use stylelab_core::config::Bounds as Kept;
        self.bounds = matches!(bounds, Kept::Box | Kept::Pull).then_some(Bounds { stiffness: None });
        self
    }

    /// Uses dynamic loss scaling (fp16).
    pub fn with_loss_scaling(mut self) -> Self {
        self.scaler = Some(LossScaler::new());
        self
    }

    /// The loss scale in force (1 without loss scaling).
    pub fn loss_scale(&self) -> f64 {
        self.scaler.as_ref().map_or(1.0, |s| s.factor)
    }

    /// The number of values an evaluation reports: one per content layer,
    /// one per style layer, then tv, and with bounds the pull.
    pub fn value_count(&self) -> usize {
        self.content_targets.len() + self.style_terms.len() + 1 + usize::from(self.bounds.is_some())
    }

    /// The parts of an evaluation's values (as read back): the weighted
    /// terms, their total, and the raw per-layer values.
    pub fn breakdown(&self, values: &[f64]) -> Breakdown {
        let n_content = self.content_targets.len();
        let (values, pull) = match self.bounds {
            Some(_) => values.split_at(values.len().saturating_sub(1)),
            None => (values, &[][..]),
        };
        let pull = pull.first().copied().unwrap_or(0.0);
        let (layers, tv) = values.split_at(values.len().saturating_sub(1));
        let tv = tv.first().copied().unwrap_or(f64::NAN);
        let weighted = |range: std::ops::Range<usize>, ws: &mut dyn Iterator<Item = f64>| -> f64 {
            layers[range].iter().zip(ws).map(|(v, w)| v * w).sum()
        };
        let content = weighted(0..n_content, &mut self.content_targets.iter().map(|t| t.1));
        let style = weighted(n_content..layers.len(), &mut self.style_terms.iter().map(|t| t.weight));
        Breakdown {
            total: self.combine(content, style, tv),
            content,
            style,
            tv,
            layers: layers.to_vec(),
            pull,
        }
    }

    /// One forward and backward pass at `x` (tile by tile when tiled), at
    /// the loss scale in force.
    fn try_evaluate(&mut self, x: &Tensor, progress: TileProgress) -> Result<Evaluation, TchError> {
        if let Some(plan) = self.plan(x.size()[2], x.size()[3]) {
            return self.evaluate_tiled(x, &plan, progress);
        }
        // The image may live in host memory: evaluated on the network's
        // device, its gradient and values given back where it lives.
        let home = x.device();
        let x = x.detach().f_to_device(self.net.device())?.set_requires_grad(true);
        let feats = self.net.forward(&x, &self.layers)?;
        // (Deferred only in one pass, and a tile plan changes only with a
        // retarget: the tiled evaluation never finds any pending.)
        self.settle_content_targets(&x, &feats)?;
        // Each term's value, and what the backward pass is handed for it
        // (the value itself but for a Gram term: see `value_and_pull`).
        let mut parts: Vec<Tensor> = Vec::with_capacity(self.value_count());
        let mut pulls: Vec<Tensor> = Vec::with_capacity(self.value_count());
        for (l, _, target) in &self.content_targets {
            let part = mse(&feats[l], target)?;
            pulls.push(part.shallow_clone());
            parts.push(part);
        }
        for term in &self.style_terms {
            let (part, pull) = match &term.target {
                Some(target) => {
                    let map = &feats[&term.layer];
                    let m = style::matrix(map, term.positions.as_ref())?;
                    target.value_and_pull(&m, style::holds_gram_gradient(map))?
                }
                None => {
                    let zero = Tensor::zeros([], (Kind::Float, x.device()));
                    (zero.shallow_clone(), zero)
                }
            };
            parts.push(part);
            pulls.push(pull);
        }
        // The features the terms took are held now only where the
        // backward pass needs them.
        drop(feats);
        let tv = tv(&x)?;
        pulls.push(tv.shallow_clone());
        parts.push(tv);
        // The total on the device, for the backward pass; its value is
        // recomputed on the host in f64 from the parts (`breakdown`).
        let n_content = self.content_targets.len();
        let sum_weighted = |range: std::ops::Range<usize>, ws: Vec<f64>| -> Option<Tensor> {
            pulls[range].iter().zip(ws).map(|(p, w)| p * w).reduce(|a, b| a + b)
        };
        let content = sum_weighted(0..n_content, self.content_targets.iter().map(|t| t.1).collect());
        let style = sum_weighted(
            n_content..parts.len() - 1,
            self.style_terms.iter().map(|t| t.weight).collect(),
        );
        let (w, scale) = (self.weights, self.loss_scale());
        let mut total = &pulls[pulls.len() - 1] * (w.tv / self.norms[2] * scale);
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
            grad: grad.f_to_device(home)?,
            values: Tensor::f_stack(&parts, 0)?.f_to_kind(Kind::Double)?.f_to_device(home)?,
        })
    }
}

/// Told of each tile a tiled evaluation has done: (pass, tiles done in
/// it, tiles in a pass); see [`stylelab_core::events::EvalProgress`].
pub type TileProgress<'a> = &'a mut dyn FnMut(u8, u32, u32);

impl StyleObjective {
    /// [`Objective::evaluate`], telling `progress` of each tile done when
    /// the scale is evaluated tile by tile (never otherwise).
    pub fn evaluate_with(&mut self, x: &Tensor, progress: TileProgress) -> Result<Evaluation, TchError> {
        if self.bounds.is_none() {
            return self.evaluate_scaled(x, progress);
        }
        let _guard = tch::no_grad_guard();
        // One image-sized buffer besides the evaluation's (and a 1-byte
        // mask): clamp(x), then, in place, x − clamp(x), 0 where the value
        // is inside (the boundary included, where the loss's gradient
        // still counts, as clamp's backward has it).
        let mut outside = x.f_clamp(0.0, 1.0)?;
        let eval = self.evaluate_scaled(&outside, progress)?;
        let _ = outside.f_sub_(x)?.f_neg_()?;
        let stiffness = self.pull_stiffness(&eval.grad)?;
        let mut grad = eval.grad;
        let _ = grad.f_masked_fill_(&outside.f_ne(0.0)?, 0.0)?;
        let outside = outside.f_to_kind(grad.kind())?;
        let _ = grad.f_addcmul_(&outside, &stiffness.f_to_kind(grad.kind())?)?;
        let pull = crate::optim::dot(&outside, &outside)? * stiffness * 0.5;
        let values = Tensor::f_cat(&[eval.values, pull.f_reshape([1])?.f_to_device(x.device())?], 0)?;
        Ok(Evaluation { grad, values })
    }

    /// The pull's μ in force ([`Bounds`]): set from `grad`, the loss's
    /// gradient at this evaluation, when none is set for the weights and
    /// norms in force.
    fn pull_stiffness(&mut self, grad: &Tensor) -> Result<Tensor, TchError> {
        let (weights, norms) = (self.weights, self.norms);
        let bounds = self.bounds.get_or_insert(Bounds { stiffness: None });
        if let Some((s, w, n)) = &bounds.stiffness
            && *w == weights
            && *n == norms
        {
            return Ok(s.shallow_clone());
        }
        let s = (grad.f_abs()?.f_max()?.f_to_kind(Kind::Double)? / PULL_DISTANCE).f_clamp_min(1e-30)?;
        bounds.stiffness = Some((s.shallow_clone(), weights, norms));
        Ok(s)
    }

    /// [`StyleObjective::evaluate_with`] at `x` as it is, with fp16's loss
    /// scaling.
    fn evaluate_scaled(&mut self, x: &Tensor, progress: TileProgress) -> Result<Evaluation, TchError> {
        loop {
            // Optimizers update the image under no_grad; the loss needs autograd.
            let eval = tch::with_grad(|| self.try_evaluate(x, &mut *progress))?;
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
}

impl Objective for StyleObjective {
    fn evaluate(&mut self, x: &Tensor) -> Result<Evaluation, TchError> {
        self.evaluate_with(x, &mut |_, _, _| {})
    }

    /// The weighted total of read-back values and the pull back into
    /// [0, 1]; see [`StyleObjective::breakdown`].
    fn value(&self, values: &[f64]) -> f64 {
        let b = self.breakdown(values);
        b.total + b.pull
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
            pull: 0.0,
        };
        assert_eq!(b.non_finite_term(), Some("style"));
        let _ = Device::Cpu;
    }

    /// A small objective on a random VGG19 to relu3_1: content relu3_1,
    /// style relu1_1 and relu2_1 of a random style image.
    fn small_objective(content: &Tensor, content_first: bool) -> StyleObjective {
        use stylelab_core::config::{MemoryFormat, Pooling, Precision};
        let net = Vgg19::new(
            &crate::weights::VggWeights::random(5, Layer::relu(3, 1)),
            Pooling::Max,
            Device::Cpu,
            Precision::Fp32,
            MemoryFormat::Nchw,
        );
        tch::manual_seed(2);
        let style = Tensor::rand([1, 3, 40, 56], (Kind::Float, Device::Cpu));
        let style_layers = [Layer::relu(1, 1), Layer::relu(2, 1)].map(|layer| StyleLayer {
            layer,
            weight: 1.0,
            loss: StyleLoss::Gram,
        });
        let weights = LossWeights {
            content: 5.0,
            style: 100.0,
            tv: 1e-3,
        };
        let styles = StyleInputs::everywhere(vec![(style, 1.0)]);
        let content_layers = [(Layer::relu(3, 1), 1.0)];
        StyleObjective::new(
            net,
            content,
            &styles,
            &content_layers,
            &style_layers,
            weights,
            0,
            None,
            content_first,
        )
        .unwrap()
    }

    /// Kept in [0, 1]: inside, the objective is the free one's (one value
    /// more, a pull of 0); outside, its values are the clamped image's, the
    /// gradient the clamped image's where a value is inside and μ·(x −
    /// clamp(x)) where it is not, μ = max|∇f| at the first evaluation /
    /// [`PULL_DISTANCE`], and the value the optimizer sees adds the pull
    /// μ/2·Σ(x − clamp(x))² to the reported total.
    #[test]
    fn kept_in_range_the_objective_is_the_clamped_images_with_a_pull_back() {
        tch::manual_seed(1);
        let content = Tensor::rand([1, 3, 48, 64], (Kind::Float, Device::Cpu));
        let mut free = small_objective(&content, false);
        let mut boxed = small_objective(&content, false).with_bounds(stylelab_core::config::Bounds::Box);
        assert_eq!(boxed.value_count(), free.value_count() + 1);
        let inside = (Tensor::randn_like(&content) * 0.1 + &content).clamp(0.0, 1.0);
        let (f, b) = (free.evaluate(&inside).unwrap(), boxed.evaluate(&inside).unwrap());
        let n = free.value_count() as i64;
        assert!(b.values.narrow(0, 0, n).equal(&f.values));
        assert_eq!(b.values.double_value(&[n]), 0.0);
        assert!(b.grad.equal(&f.grad));
        let mu = f.grad.abs().max().double_value(&[]) / PULL_DISTANCE;

        let strayed = &inside + Tensor::randn_like(&content) * 0.3;
        let clamped = strayed.clamp(0.0, 1.0);
        let out = &strayed - &clamped;
        let is_out = out.ne(0.0);
        let share = is_out.to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        assert!(share > 0.05, "too few values outside: {share}");
        let (f, b) = (free.evaluate(&clamped).unwrap(), boxed.evaluate(&strayed).unwrap());
        assert!(b.values.narrow(0, 0, n).allclose(&f.values, 1e-9, 0.0, false));
        let pull = 0.5 * mu * out.square().sum(Kind::Double).double_value(&[]);
        let got = b.values.double_value(&[n]);
        assert!((got - pull).abs() <= 1e-6 * pull, "pull {got:e}, want {pull:e}");
        let want = f.grad.where_self(&is_out.logical_not(), &(&out * mu));
        assert!(b.grad.allclose(&want, 1e-5, 1e-6, false));
        let values: Vec<f64> = Vec::<f64>::try_from(&b.values).unwrap();
        let parts = boxed.breakdown(&values);
        assert_eq!(parts.pull, got);
        assert_eq!(parts.total, free.breakdown(&values[..n as usize]).total);
        assert_eq!(boxed.value(&values), parts.total + parts.pull);
    }

    /// A run from its content takes the content targets from its first
    /// evaluation's forward pass: every value and gradient is the same as
    /// with targets computed beforehand, at the content and after it; an
    /// objective whose first evaluation is elsewhere computes them then.
    #[test]
    fn content_targets_from_the_first_evaluation_change_nothing() {
        let objective = small_objective;
        tch::manual_seed(1);
        let content = Tensor::rand([1, 3, 48, 64], (Kind::Float, Device::Cpu));
        let elsewhere = (Tensor::randn_like(&content) * 0.1 + &content).clamp(0.0, 1.0);
        let same = |a: &Evaluation, b: &Evaluation| a.values.equal(&b.values) && a.grad.equal(&b.grad);
        let (mut before, mut deferred) = (objective(&content, false), objective(&content, true));
        assert!(
            deferred.pending_content.is_some(),
            "nothing was left to the first evaluation"
        );
        assert!(
            !deferred.content_targets[0].2.defined(),
            "computed beforehand all the same"
        );
        for x in [&content, &elsewhere] {
            assert!(same(&before.evaluate(x).unwrap(), &deferred.evaluate(x).unwrap()));
        }
        assert!(deferred.pending_content.is_none());
        assert!(
            deferred.content_from_evaluation,
            "the evaluation's forward pass was not used"
        );
        assert!(!before.content_from_evaluation);
        // First evaluated elsewhere: the targets are the content's all the same.
        let (mut before, mut deferred) = (objective(&content, false), objective(&content, true));
        assert!(same(
            &before.evaluate(&elsewhere).unwrap(),
            &deferred.evaluate(&elsewhere).unwrap()
        ));
        assert!(same(
            &before.evaluate(&content).unwrap(),
            &deferred.evaluate(&content).unwrap()
        ));
        assert!(!deferred.content_from_evaluation);
    }
}
