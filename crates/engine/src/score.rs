//! The yardstick: how far a result is from its content and from its style,
//! measured the same way for every run whatever its configuration, so that
//! runs whose losses mean different things can be compared. Version 1:
//!
//! - every image at one scoring size (longest side, default 512 px), resized
//!   from the run's own files; never larger than the output, though (nor,
//!   when runs are scored together, than the smallest of them): an
//!   enlarged result measures the blur of the enlargement, not its style;
//! - `content_dist`: ‖F(out) − F(c)‖² / ‖F(c)‖² at relu4_2, or the deepest
//!   ReLU before it that the weights file holds;
//! - `style_dist`: ‖G(out) − T‖² / ‖T‖² averaged over relu1_1 … relu5_1
//!   (those the file holds), T the run's blend of its style images' Grams;
//!   with regions, per region (its positions in the output against its
//!   style images', masked the same way as the run's loss) and then
//!   averaged by the regions' areas;
//! - `color_dist`: the sliced Wasserstein-2 distance between the colours of
//!   the output and of the style images (pixels in OKLab, 32 fixed
//!   directions, 4096 quantiles; style images in proportion to their blend,
//!   and with regions to their region's area);
//! - `ssim`: structural similarity of the output's luma to the content's
//!   (Gaussian window 11, σ 1.5, K₁ 0.01, K₂ 0.03; Wang et al. 2004).
//!
//! The network is always max-pooled, fp32, whatever the run used.

use super::imaging;
use super::style;
use super::vgg::Vgg19;
use image::RgbImage;
use std::collections::HashMap;
use std::path::Path;
use stylelab_core::config::{MemoryFormat, Pooling, Precision};
use stylelab_core::layer::{Layer, LayerKind};
use stylelab_core::mask::Labels;
use stylelab_core::record::Scores;
use tch::{Device, Kind, Tensor};

/// The yardstick's version, recorded with every score.
pub const VERSION: u32 = 1;
/// The default scoring size (longest side), px.
pub const DEFAULT_SIZE: u32 = 512;
/// The content layer asked for, and the style layers.
const CONTENT_LAYER: Layer = Layer::relu(4, 2);
/// The style layers: the first ReLU of each block, as Gatys et al. use.
const STYLE_LAYERS: [Layer; 5] = [
    Layer::relu(1, 1),
    Layer::relu(2, 1),
    Layer::relu(3, 1),
    Layer::relu(4, 1),
    Layer::relu(5, 1),
];

/// Why a run could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{0}")]
    Weights(#[from] crate::weights::WeightsError),
    #[error("{0}")]
    Torch(#[from] tch::TchError),
    #[error("{0}")]
    Image(String),
}

/// The network and layers of the yardstick, for one weights file.
pub struct Scorer {
    net: Vgg19,
    content_layer: Layer,
    style_layers: Vec<Layer>,
    size: u32,
    device: Device,
    weights_sha256: String,
}

/// What results are compared with: the content's features and luma and the
/// style's Grams (per region) and colours, at the scoring size.
pub struct Targets {
    content: Tensor,
    content_luma: Vec<f32>,
    content_dims: (u32, u32),
    regions: Vec<RegionTarget>,
    /// The content's region labels at the scoring size; None without regions.
    labels: Option<Tensor>,
    style_colors: Vec<[f32; 3]>,
}

/// One region's Grams (one per style layer) and its share of the content.
struct RegionTarget {
    grams: Vec<Tensor>,
    share: f64,
}

/// The style of one region (or of the whole image) as scoring reads it:
/// style images at full size, their blends, and their masks' labels.
pub struct ScoreStyles {
    /// Each style image, its blend, its style mask's labels if any.
    pub styles: Vec<(RgbImage, f64, Option<Labels>)>,
}

impl Scorer {
    /// The yardstick for the weights file at `path` (whose SHA-256 is
    /// `sha256`), at scoring size `size`.
    pub fn new(path: &Path, sha256: &str, size: u32, device: Device) -> Result<Scorer, ScoreError> {
        let info = crate::weights::WeightsInfo::read(path)?;
        let available = info.available_layers();
        let content_layer = available
            .iter()
            .copied()
            .filter(|l| l.kind == LayerKind::Relu && *l <= CONTENT_LAYER)
            .max()
            .ok_or_else(|| ScoreError::Image(format!("{} holds no ReLU layer to score with", path.display())))?;
        let style_layers: Vec<Layer> = STYLE_LAYERS.into_iter().filter(|l| info.has_layer(*l)).collect();
        let deepest = style_layers.iter().copied().chain([content_layer]).max();
        let weights = crate::weights::load(path, deepest, device)?;
        let net = Vgg19::new(&weights, Pooling::Max, device, Precision::Fp32, MemoryFormat::Nchw);
        Ok(Scorer {
            net,
            content_layer,
            style_layers,
            size,
            device,
            weights_sha256: sha256.to_string(),
        })
    }

    /// `img` at the scoring size.
    fn at_size(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = imaging::fit_longest(img.width(), img.height(), self.size);
        imaging::resize(img, w, h)
    }

    /// The scoring size, px (longest side).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The style and content layers' activations for `img`, no gradient kept.
    fn features(&self, img: &RgbImage) -> Result<HashMap<Layer, Tensor>, ScoreError> {
        let _guard = tch::no_grad_guard();
        let layers: Vec<Layer> = self.style_layers.iter().copied().chain([self.content_layer]).collect();
        Ok(self.net.forward(&imaging::to_tensor(img, self.device), &layers)?)
    }

    /// The targets of a run: its content image and, per region (one
    /// without regions), its style images with their blend weights and
    /// masks, as given (full size: they are resized here); `labels`, the
    /// content's region labels at the mask's size.
    pub fn targets(
        &self,
        content: &RgbImage,
        regions: &[ScoreStyles],
        labels: Option<&Labels>,
    ) -> Result<Targets, ScoreError> {
        let content = self.at_size(content);
        let feats = self.features(&content)?;
        let to_tensor = |l: &Labels, w: u32, h: u32| {
            let l = l.resized(w, h);
            let v: Vec<i64> = l.labels.iter().map(|&v| v as i64).collect();
            Tensor::from_slice(&v).view([h as i64, w as i64]).to_device(self.device)
        };
        let labels = labels.map(|l| to_tensor(l, content.width(), content.height()));
        let n = regions.len() as i64;
        let shares = match &labels {
            Some(l) => {
                let counts = l.view([-1]).bincount(None::<Tensor>, n).to_kind(Kind::Double);
                Vec::<f64>::try_from(&counts / (l.numel() as f64)).map_err(ScoreError::Torch)?
            }
            None => vec![1.0],
        };
        let mut targets = Vec::with_capacity(regions.len());
        let mut style_colors = Vec::new();
        for (r, region) in regions.iter().enumerate() {
            let blend_sum: f64 = region.styles.iter().map(|s| s.1).sum::<f64>().max(f64::MIN_POSITIVE);
            let mut grams: Vec<Vec<(Tensor, f64)>> = self.style_layers.iter().map(|_| Vec::new()).collect();
            for (img, blend, mask) in &region.styles {
                let img = self.at_size(img);
                let f = self.features(&img)?;
                let mask = mask.as_ref().map(|m| to_tensor(m, img.width(), img.height()));
                for (acc, l) in grams.iter_mut().zip(&self.style_layers) {
                    let at = match &mask {
                        Some(m) => Some(style::positions(m, r as i64, n, l.pools_before())?),
                        None => None,
                    };
                    let m = style::matrix(&f[l], at.as_ref())?;
                    if m.size()[0] > 0 {
                        acc.push((style::gram_of(&m)?, *blend));
                    }
                }
                let share =
                    ((COLOR_SAMPLES as f64) * shares.get(r).copied().unwrap_or(0.0) * blend / blend_sum).round();
                style_colors.extend(sample_oklab(&img, share as usize));
            }
            let grams = grams
                .into_iter()
                .map(|parts| {
                    let sum: f64 = parts.iter().map(|p| p.1).sum::<f64>().max(f64::MIN_POSITIVE);
                    parts
                        .into_iter()
                        .map(|(g, b)| g * (b / sum))
                        .reduce(|a, b| a + b)
                        .unwrap_or_else(Tensor::new)
                })
                .collect();
            targets.push(RegionTarget {
                grams,
                share: shares.get(r).copied().unwrap_or(0.0),
            });
        }
        Ok(Targets {
            content: feats[&self.content_layer].shallow_clone(),
            content_luma: luma(&content),
            content_dims: content.dimensions(),
            regions: targets,
            labels,
            style_colors,
        })
    }

    /// The scores of `output` against `targets`.
    pub fn score(&self, output: &RgbImage, targets: &Targets) -> Result<Scores, ScoreError> {
        let (cw, ch) = targets.content_dims;
        // At the content's size exactly, so that the maps line up.
        let output = imaging::resize(output, cw, ch);
        let feats = self.features(&output)?;
        let energy = |t: &Tensor| t.square().sum(Kind::Double).double_value(&[]);
        let c = &feats[&self.content_layer];
        let content_dist = energy(&(c - &targets.content)) / energy(&targets.content).max(f64::MIN_POSITIVE);
        let n = targets.regions.len() as i64;
        let mut style_dist = 0.0;
        for (r, region) in targets.regions.iter().enumerate() {
            let mut sum = 0.0;
            for (l, t) in self.style_layers.iter().zip(&region.grams) {
                let at = match &targets.labels {
                    Some(m) => Some(style::positions(m, r as i64, n, l.pools_before())?),
                    None => None,
                };
                let m = style::matrix(&feats[l], at.as_ref())?;
                if m.size()[0] == 0 || t.numel() == 0 {
                    continue;
                }
                let g = style::gram_of(&m)?;
                sum += energy(&(&g - t)) / energy(t).max(f64::MIN_POSITIVE);
            }
            style_dist += region.share * sum / self.style_layers.len().max(1) as f64;
        }
        let color_dist = sliced_wasserstein(&sample_oklab(&output, COLOR_SAMPLES), &targets.style_colors);
        let ssim = ssim(&luma(&output), &targets.content_luma, cw as usize, ch as usize);
        Ok(Scores {
            version: VERSION,
            size: self.size,
            weights_sha256: self.weights_sha256.clone(),
            content_layer: self.content_layer.to_string(),
            style_layers: self.style_layers.iter().map(Layer::to_string).collect(),
            content_dist,
            style_dist,
            color_dist,
            ssim,
        })
    }
}

/// Pixels a colour distribution is estimated from.
const COLOR_SAMPLES: usize = 16384;
/// Quantiles compared per direction.
const QUANTILES: usize = 4096;
/// Projection directions.
const DIRECTIONS: usize = 32;

/// sRGB (0..255) → OKLab (Björn Ottosson, 2020).
fn oklab(p: [u8; 3]) -> [f32; 3] {
    let lin = |v: u8| {
        let c = v as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(p[0]), lin(p[1]), lin(p[2]));
    let l = (0.412_221_46 * r + 0.536_332_55 * g + 0.051_445_995 * b).cbrt();
    let m = (0.211_903_5 * r + 0.680_699_5 * g + 0.107_396_96 * b).cbrt();
    let s = (0.088_302_46 * r + 0.281_718_85 * g + 0.629_978_7 * b).cbrt();
    [
        0.210_454_26 * l + 0.793_617_8 * m - 0.004_072_047 * s,
        1.977_998_5 * l - 2.428_592_2 * m + 0.450_593_7 * s,
        0.025_904_037 * l + 0.782_771_77 * m - 0.808_675_77 * s,
    ]
}

/// `n` pixels of an image, evenly spread over it, in OKLab.
fn sample_oklab(img: &RgbImage, n: usize) -> Vec<[f32; 3]> {
    let pixels = img.as_raw().chunks_exact(3);
    let total = pixels.len();
    if total == 0 || n == 0 {
        return Vec::new();
    }
    let raw = img.as_raw();
    (0..n)
        .map(|i| {
            let k = (i * total / n) * 3;
            oklab([raw[k], raw[k + 1], raw[k + 2]])
        })
        .collect()
}

/// The sliced Wasserstein-2 distance between two sets of colours: the root
/// mean square difference of their quantiles along fixed directions.
pub fn sliced_wasserstein(a: &[[f32; 3]], b: &[[f32; 3]]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut rng = stylelab_core::rng::SplitMix64::new(1);
    let mut sum = 0.0;
    for _ in 0..DIRECTIONS {
        let v = [rng.normal(), rng.normal(), rng.normal()];
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
        let dir = v.map(|x| (x / norm) as f32);
        let project = |set: &[[f32; 3]]| {
            let mut p: Vec<f32> = set
                .iter()
                .map(|c| c[0] * dir[0] + c[1] * dir[1] + c[2] * dir[2])
                .collect();
            p.sort_by(f32::total_cmp);
            p
        };
        let (pa, pb) = (project(a), project(b));
        let q = |p: &[f32], i: usize| p[(i * p.len() / QUANTILES).min(p.len() - 1)] as f64;
        sum += (0..QUANTILES).map(|i| (q(&pa, i) - q(&pb, i)).powi(2)).sum::<f64>() / QUANTILES as f64;
    }
    (sum / DIRECTIONS as f64).sqrt()
}

/// BT.601 luma of every pixel, in [0, 1].
fn luma(img: &RgbImage) -> Vec<f32> {
    img.as_raw()
        .chunks_exact(3)
        .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
        .collect()
}

/// A separable Gaussian blur (σ 1.5, 11 taps, edges clamped).
fn blur(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let taps: Vec<f32> = (-5i32..=5)
        .map(|i| (-(i * i) as f32 / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let total: f32 = taps.iter().sum();
    let taps: Vec<f32> = taps.iter().map(|t| t / total).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (k, t) in taps.iter().enumerate() {
                    let d = k as i64 - 5;
                    let (sx, sy) = if horizontal {
                        ((x as i64 + d).clamp(0, w as i64 - 1) as usize, y)
                    } else {
                        (x, (y as i64 + d).clamp(0, h as i64 - 1) as usize)
                    };
                    acc += t * src[sy * w + sx];
                }
                out[y * w + x] = acc;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

/// Mean structural similarity of two luma images of `w × h`.
pub fn ssim(a: &[f32], b: &[f32], w: usize, h: usize) -> f64 {
    if a.len() != w * h || b.len() != w * h || a.is_empty() {
        return f64::NAN;
    }
    let (c1, c2) = (0.01f32.powi(2), 0.03f32.powi(2));
    let prod = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).collect::<Vec<f32>>();
    let (mu_a, mu_b) = (blur(a, w, h), blur(b, w, h));
    let (aa, bb, ab) = (
        blur(&prod(a, a), w, h),
        blur(&prod(b, b), w, h),
        blur(&prod(a, b), w, h),
    );
    let mut sum = 0.0f64;
    for i in 0..w * h {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let (va, vb, cov) = (aa[i] - ma * ma, bb[i] - mb * mb, ab[i] - ma * mb);
        let s = ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        sum += s as f64;
    }
    sum / (w * h) as f64
}

/// The targets of an experiment: its content and style images from its
/// files, with its blend weights.
pub fn experiment_targets(scorer: &Scorer, exp: &stylelab_core::config::Experiment) -> Result<Targets, ScoreError> {
    let content = imaging::decode(&exp.content).map_err(ScoreError::Image)?;
    let decode =
        |styles: &[stylelab_core::config::StyleImage], masks: Vec<Labels>| -> Result<ScoreStyles, ScoreError> {
            let mut masks = masks.into_iter();
            Ok(ScoreStyles {
                styles: styles
                    .iter()
                    .map(|s| {
                        Ok((
                            imaging::decode(&s.path).map_err(ScoreError::Image)?,
                            s.blend,
                            masks.next(),
                        ))
                    })
                    .collect::<Result<_, ScoreError>>()?,
            })
        };
    let masks = super::inputs::read_masks(exp, content.dimensions()).map_err(ScoreError::Image)?;
    match (&exp.regions, masks) {
        (
            Some(regions),
            Some(super::inputs::Masks {
                content: labels,
                styles: style_labels,
            }),
        ) => {
            let list = regions
                .list
                .iter()
                .zip(style_labels)
                .map(|(r, m)| decode(&r.styles, m))
                .collect::<Result<Vec<_>, _>>()?;
            scorer.targets(&content, &list, Some(&labels))
        }
        _ => scorer.targets(&content, &[decode(&exp.styles, Vec::new())?], None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(seed: u64, w: u32, h: u32) -> RgbImage {
        let mut rng = stylelab_core::rng::SplitMix64::new(seed);
        RgbImage::from_fn(w, h, |x, y| {
            let n = (rng.uniform() * 40.0) as u8;
            image::Rgb([(x * 3) as u8 + n, (y * 5) as u8, 90 + n])
        })
    }

    #[test]
    fn an_image_against_itself_is_at_distance_zero() {
        let a = picture(1, 40, 30);
        let l = luma(&a);
        assert!((ssim(&l, &l, 40, 30) - 1.0).abs() < 1e-6);
        assert_eq!(sliced_wasserstein(&sample_oklab(&a, 500), &sample_oklab(&a, 500)), 0.0);
        let b = picture(2, 40, 30);
        let s = ssim(&l, &luma(&b), 40, 30);
        assert!(s < 0.99, "{s}");
        assert!(sliced_wasserstein(&sample_oklab(&a, 500), &sample_oklab(&b, 500)) > 0.0);
    }

    #[test]
    fn oklab_gives_white_lightness_one_and_no_chroma() {
        let w = oklab([255, 255, 255]);
        assert!(
            (w[0] - 1.0).abs() < 1e-3 && w[1].abs() < 1e-3 && w[2].abs() < 1e-3,
            "{w:?}"
        );
        assert!(oklab([0, 0, 0])[0].abs() < 1e-6);
    }
}
