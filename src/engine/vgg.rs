//! VGG19's feature extractor with named layers: 3×3 convolutions with zero
//! padding 1, ReLU, 2×2 max or average pooling. The forward pass stops after
//! the deepest layer asked for; the weights never get gradients.

use crate::config::Pooling;
use crate::layer::{Layer, LayerKind};
use crate::weights::{Preprocess, VggWeights};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// The same NCHW tensor stored channels-last (NHWC strides), which
/// libtorch's convolutions recognise; tch has no memory-format API.
pub fn to_channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

pub struct Vgg19 {
    convs: HashMap<Layer, (Tensor, Tensor)>,
    pooling: Pooling,
    /// Per-channel `input·scale + shift`, after the channel reorder.
    scale: Tensor,
    shift: Tensor,
    /// BGR order for Caffe weights.
    bgr: bool,
    /// Channels-last memory format (faster convolutions on CPU with oneDNN).
    channels_last: bool,
}

impl Vgg19 {
    pub fn new(weights: VggWeights, pooling: Pooling, device: Device) -> Self {
        let (scale, shift, bgr) = match weights.info.preprocess {
            // BGR, 0..255, minus (B, G, R) means.
            Preprocess::Caffe => ([255.0f32; 3], [-103.939f32, -116.779, -123.68], true),
            // (x - mean) / std  =  x·(1/std) + (-mean/std)
            Preprocess::Torchvision => {
                let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
                (
                    [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]],
                    [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]],
                    false,
                )
            }
        };
        let as_tensor = |v: [f32; 3]| Tensor::from_slice(&v).view([1, 3, 1, 1]).to_device(device);
        let channels_last = device == Device::Cpu;
        let convs = weights
            .convs
            .into_iter()
            .map(|(l, w, b)| {
                let w = if channels_last { to_channels_last(&w) } else { w };
                (l, (w, b))
            })
            .collect();
        Vgg19 {
            convs,
            pooling,
            scale: as_tensor(scale),
            shift: as_tensor(shift),
            bgr,
            channels_last,
        }
    }

    /// Network input for an RGB image in [0, 1].
    pub fn preprocess(&self, rgb: &Tensor) -> Tensor {
        let x = if self.bgr { rgb.flip([1]) } else { rgb.shallow_clone() };
        x * &self.scale + &self.shift
    }

    /// Activations at `wanted` (any order) for an RGB image in [0, 1].
    /// Errors come from libtorch (out of memory, mostly).
    pub fn forward(&self, rgb: &Tensor, wanted: &[Layer]) -> Result<HashMap<Layer, Tensor>, tch::TchError> {
        let deepest = *wanted.iter().max().expect("at least one layer is selected");
        let mut x = self.preprocess(rgb);
        if self.channels_last {
            x = to_channels_last(&x);
        }
        let mut out = HashMap::with_capacity(wanted.len());
        for layer in Layer::all() {
            if layer > deepest {
                break;
            }
            x = match layer.kind {
                LayerKind::Conv => {
                    let (w, b) = &self.convs[&layer];
                    x.f_conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1)?
                }
                // In place unless the conv output itself was asked for.
                LayerKind::Relu if !wanted.contains(&layer.conv_at_or_before()) => x.f_relu_()?,
                LayerKind::Relu => x.f_relu()?,
                LayerKind::Pool => match self.pooling {
                    Pooling::Max => x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?,
                    Pooling::Avg => x.f_avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>)?,
                },
            };
            if wanted.contains(&layer) {
                out.insert(layer, x.shallow_clone());
            }
        }
        Ok(out)
    }

    pub fn kind(&self) -> Kind {
        self.scale.kind()
    }
}
