//! What a run optimises towards at each of its scales: the content, style
//! and starting images, decoded once and resized for every scale, with
//! colour preservation applied. A single-scale run has one scale.

pub use stylelab_core::scales::{ScalePlan, plan};

use super::{color, imaging};
use crate::config::{Experiment, Init, PreserveColors};
use image::RgbImage;
use tch::{Device, TchError, Tensor};

/// The tensors of one scale, on the run's device.
pub struct ScaleInputs {
    /// The content as the network sees it (its luma with `luminance`).
    pub content: Tensor,
    /// The content in colour: `luminance` puts its chroma back.
    pub content_rgb: Tensor,
    /// Style images (recoloured or reduced to luma as asked) and blends.
    pub styles: Vec<(Tensor, f64)>,
}

/// The decoded images and the plan of scales.
pub struct Inputs {
    /// The content image at full size; every scale resizes from it.
    content: RgbImage,
    /// Style images at full size, with their blend weights.
    styles: Vec<(RgbImage, f64)>,
    /// The starting image when `init` names one; None for `content` and `noise`.
    init: Option<RgbImage>,
    /// Colour preservation, applied when a scale's tensors are made.
    preserve: PreserveColors,
    /// Where the tensors are put.
    device: Device,
    /// One entry per scale, coarse to fine.
    pub plan: Vec<ScalePlan>,
}

impl Inputs {
    /// Decodes every image an experiment names and plans its scales. Fails
    /// with a message naming the file when one cannot be opened or decoded.
    pub fn load(exp: &Experiment, device: Device) -> Result<Inputs, String> {
        let content = imaging::decode(&exp.content)?;
        let styles = exp
            .styles
            .iter()
            .map(|s| Ok((imaging::decode(&s.path)?, s.blend)))
            .collect::<Result<Vec<_>, String>>()?;
        let init = match &exp.init {
            Init::Image(p) => Some(imaging::decode(p)?),
            _ => None,
        };
        let plan = plan(exp, content.width(), content.height());
        Ok(Inputs {
            content,
            styles,
            init,
            preserve: exp.preserve_colors,
            device,
            plan,
        })
    }

    /// The images of scale `k`.
    pub fn at(&self, k: usize) -> Result<ScaleInputs, TchError> {
        let p = &self.plan[k];
        let content_rgb = imaging::to_tensor(&imaging::resize(&self.content, p.width, p.height), self.device);
        let style_at = |img: &RgbImage| {
            let (w, h) = imaging::fit_longest(img.width(), img.height(), p.style_side);
            imaging::to_tensor(&imaging::resize(img, w, h), self.device)
        };
        let (content, styles) = match self.preserve {
            PreserveColors::None => {
                let styles = self.styles.iter().map(|(s, b)| (style_at(s), *b)).collect();
                (content_rgb.shallow_clone(), styles)
            }
            PreserveColors::Histogram => {
                let styles = self
                    .styles
                    .iter()
                    .map(|(s, b)| Ok((color::match_histogram(&style_at(s), &content_rgb)?, *b)))
                    .collect::<Result<_, TchError>>()?;
                (content_rgb.shallow_clone(), styles)
            }
            PreserveColors::Luminance => {
                let content = color::luminance(&content_rgb)?;
                let styles = self
                    .styles
                    .iter()
                    .map(|(s, b)| Ok((color::match_luminance(&color::luminance(&style_at(s))?, &content)?, *b)))
                    .collect::<Result<_, TchError>>()?;
                (content, styles)
            }
        };
        Ok(ScaleInputs {
            content,
            content_rgb,
            styles,
        })
    }

    /// The image the first scale starts from: uniform noise in [0, 1] from
    /// the run's seed, the init image resized (reduced to luma with
    /// `luminance`), or a copy of the content as the network sees it.
    pub fn start(&self, exp: &Experiment, first: &ScaleInputs) -> Result<Tensor, TchError> {
        let p = &self.plan[0];
        let x = match (&exp.init, &self.init) {
            (Init::Noise, _) => {
                let n = 3 * p.width as usize * p.height as usize;
                let noise = crate::rng::SplitMix64::new(exp.seed).uniform_vec(n);
                Tensor::from_slice(&noise)
                    .view([1, 3, p.height as i64, p.width as i64])
                    .to_device(self.device)
            }
            (Init::Image(_), Some(img)) => {
                let t = imaging::to_tensor(&imaging::resize(img, p.width, p.height), self.device);
                if self.preserve == PreserveColors::Luminance {
                    color::luminance(&t)?
                } else {
                    t
                }
            }
            _ => first.content.copy(),
        };
        Ok(x)
    }

    /// What the run shows of the image it optimises: the image itself, or
    /// with `luminance` its luma under the content's chroma.
    pub fn display(&self, x: &Tensor, scale: &ScaleInputs) -> Result<Tensor, TchError> {
        match self.preserve {
            PreserveColors::Luminance => color::recombine(x, &scale.content_rgb),
            _ => Ok(x.shallow_clone()),
        }
    }
}

/// The previous scale's result enlarged to the next scale (bicubic),
/// clamped to [0, 1]: where the next scale starts.
pub fn upsample(x: &Tensor, width: u32, height: u32) -> Result<Tensor, TchError> {
    x.f_upsample_bicubic2d([height as i64, width as i64], false, None, None)?
        .f_clamp(0.0, 1.0)
}
