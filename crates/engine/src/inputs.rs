//! What a run optimises towards at each of its scales: the content, style
//! and starting images (and region masks), decoded once and resized for
//! every scale, with colour preservation applied. A single-scale run has
//! one scale.

pub use stylelab_core::scales::{ScalePlan, plan};

use super::loss::{RegionStyles, StyleInputs};
use super::{color, imaging};
use image::RgbImage;
use stylelab_core::config::{Experiment, Init, PreserveColors};
use stylelab_core::mask::{self, Labels};
use tch::{Device, TchError, Tensor};

/// The tensors of one scale, on the run's device.
pub struct ScaleInputs {
    /// The content as the network sees it (its luma with `luminance`).
    pub content: Tensor,
    /// The content in colour: `luminance` puts its chroma back.
    pub content_rgb: Tensor,
    /// Style images (recoloured or reduced to luma as asked), blends and
    /// style masks, by region, and the content's region labels.
    pub styles: StyleInputs,
}

/// One region's style images at full size: (image, blend, labels of its
/// style mask).
struct LoadedRegion {
    name: Option<String>,
    weight: f64,
    styles: Vec<(RgbImage, f64, Option<Labels>)>,
}

/// A run's masks, labelled: the content's regions, and each region's style
/// masks (one per style image of the region, or none).
pub struct Masks {
    pub content: Labels,
    pub styles: Vec<Vec<Labels>>,
}

/// The content's region labels and each region's style masks' labels,
/// read and checked: the masks decode, their aspect ratios match their
/// images', every colour is a region's, every region covers a pixel.
/// Errors name the key and the file. None without regions.
pub fn read_masks(exp: &Experiment, content: (u32, u32)) -> Result<Option<Masks>, String> {
    let Some(regions) = &exp.regions else {
        return Ok(None);
    };
    let colors: Vec<[u8; 3]> = regions.list.iter().map(|r| r.color).collect();
    let read = |key: &str, path: &std::path::Path, image: (u32, u32), what: &str| -> Result<RgbImage, String> {
        let m = imaging::decode(path).map_err(|e| format!("{key}: {e}"))?;
        if !mask::aspect_matches(m.dimensions(), image) {
            return Err(format!(
                "{key}: {} is {}×{}, but {what} is {}×{}: a mask is resized to its image, so their aspect ratios must match (within {:.0} %)",
                path.display(),
                m.width(),
                m.height(),
                image.0,
                image.1,
                mask::ASPECT_TOLERANCE * 100.0
            ));
        }
        Ok(m)
    };
    let m = read("images.mask", &regions.mask, content, "the content")?;
    let labels = mask::label(&m, &colors).map_err(|e| match e {
        mask::MaskError::Empty(i) => format!(
            "regions.{}.color: no pixel of {} is {} (or nearer it than to another region's colour)",
            regions.list[i].name,
            regions.mask.display(),
            mask::color_name(colors[i])
        ),
        other => format!("images.mask: {}: {other}", regions.mask.display()),
    })?;
    let mut style_labels = Vec::new();
    for r in &regions.list {
        let key = format!("regions.{}.style_mask", r.name);
        let mut per_image = Vec::new();
        for (style, path) in r.styles.iter().zip(&r.style_masks) {
            let size = image::image_dimensions(&style.path)
                .map_err(|e| format!("regions.{}.style: {}: {e}", r.name, style.path.display()))?;
            let what = format!("its style image {}", style.path.display());
            let m = read(&key, path, size, &what)?;
            let l = mask::label_some(&m, &colors).map_err(|e| format!("{key}: {}: {e}", path.display()))?;
            let i = regions.list.iter().position(|o| o.name == r.name).unwrap_or(0);
            if l.shares(colors.len())[i] == 0.0 {
                return Err(format!(
                    "{key}: no pixel of {} is {}, region '{}''s colour: it would take no style from {}",
                    path.display(),
                    mask::color_name(r.color),
                    r.name,
                    style.path.display()
                ));
            }
            per_image.push(l);
        }
        style_labels.push(per_image);
    }
    Ok(Some(Masks {
        content: labels,
        styles: style_labels,
    }))
}

/// The decoded images and the plan of scales.
pub struct Inputs {
    /// The content image at full size; every scale resizes from it.
    content: RgbImage,
    /// The content's region labels at the mask's size; None without regions.
    labels: Option<Labels>,
    /// Style images at full size, with their blend weights and masks, by region.
    regions: Vec<LoadedRegion>,
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
        let decode = |styles: &[stylelab_core::config::StyleImage], masks: Option<Vec<Labels>>| {
            let mut masks = masks.map(Vec::into_iter);
            styles
                .iter()
                .map(|s| {
                    Ok((
                        imaging::decode(&s.path)?,
                        s.blend,
                        masks.as_mut().and_then(Iterator::next),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let (labels, regions) = match (read_masks(exp, content.dimensions())?, &exp.regions) {
            (
                Some(Masks {
                    content: labels,
                    styles: style_labels,
                }),
                Some(regions),
            ) => {
                let mut list = Vec::new();
                for (r, masks) in regions.list.iter().zip(style_labels) {
                    list.push(LoadedRegion {
                        name: Some(r.name.clone()),
                        weight: r.style_weight,
                        styles: decode(&r.styles, (!masks.is_empty()).then_some(masks))?,
                    });
                }
                (Some(labels), list)
            }
            _ => (
                None,
                vec![LoadedRegion {
                    name: None,
                    weight: 1.0,
                    styles: decode(&exp.styles, None)?,
                }],
            ),
        };
        let init = match &exp.init {
            Init::Image(p) => Some(imaging::decode(p)?),
            _ => None,
        };
        let plan = plan(exp, content.width(), content.height());
        Ok(Inputs {
            content,
            labels,
            regions,
            init,
            preserve: exp.preserve_colors,
            device,
            plan,
        })
    }

    /// The same images, their tensors made on `device` from now on.
    pub fn on(self, device: Device) -> Inputs {
        Inputs { device, ..self }
    }

    /// The content image's size, px.
    pub fn content_size(&self) -> (u32, u32) {
        self.content.dimensions()
    }

    /// The images of scale `k`.
    pub fn at(&self, k: usize) -> Result<ScaleInputs, TchError> {
        let p = &self.plan[k];
        let content_rgb = imaging::to_tensor(&imaging::resize(&self.content, p.width, p.height), self.device);
        let style_at = |img: &RgbImage| {
            let (w, h) = imaging::fit_longest(img.width(), img.height(), p.style_side);
            imaging::to_tensor(&imaging::resize(img, w, h), self.device)
        };
        let content = match self.preserve {
            PreserveColors::Luminance => color::luminance(&content_rgb)?,
            _ => content_rgb.shallow_clone(),
        };
        // Each style image as the network sees it: recoloured to the
        // content's colours, or matched in luminance, as asked.
        let style = |img: &RgbImage| -> Result<Tensor, TchError> {
            let s = style_at(img);
            match self.preserve {
                PreserveColors::None => Ok(s),
                PreserveColors::Histogram => color::match_histogram(&s, &content_rgb),
                PreserveColors::Luminance => color::match_luminance(&color::luminance(&s)?, &content),
            }
        };
        let labels_at = |l: &Labels, w: i64, h: i64| {
            let l = l.resized(w as u32, h as u32);
            let v: Vec<i64> = l.labels.iter().map(|&v| v as i64).collect();
            Tensor::from_slice(&v).view([h, w]).to_device(self.device)
        };
        let mut regions = Vec::with_capacity(self.regions.len());
        for r in &self.regions {
            let mut styles = Vec::with_capacity(r.styles.len());
            for (img, blend, mask) in &r.styles {
                let t = style(img)?;
                let (h, w) = (t.size()[2], t.size()[3]);
                styles.push((t, *blend, mask.as_ref().map(|m| labels_at(m, w, h))));
            }
            regions.push(RegionStyles {
                name: r.name.clone(),
                weight: r.weight,
                styles,
            });
        }
        let styles = StyleInputs {
            regions,
            labels: self
                .labels
                .as_ref()
                .map(|l| labels_at(l, p.width as i64, p.height as i64)),
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
            (Init::Noise, _) => crate::imaging::noise(exp.seed, p.height as i64, p.width as i64).to_device(self.device),
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
