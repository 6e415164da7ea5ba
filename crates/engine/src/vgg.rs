//! VGG19's feature extractor with named layers: 3×3 convolutions with zero
//! padding 1, ReLU, 2×2 max or average pooling. The forward pass stops after
//! the deepest layer asked for; the weights never get gradients.
//!
//! Precision is a setting of the network, not a fork of the engine: in bf16
//! or fp16 the weights are converted once and the convolutions run in that
//! precision (what `torch.autocast` does for them), while the image going in
//! and the features coming out are fp32, so Gram matrices and losses stay
//! fp32. In fp16 the activations are run scaled down by [`FP16_ACTIVATION_FACTOR`]
//! (input and biases scaled, which scales every layer exactly, since ReLU
//! and pooling are positively homogeneous) so that Caffe-scale activations,
//! in the thousands, stay far from fp16's limit of 65504.

use crate::weights::{Preprocess, VggWeights};
use std::collections::HashMap;
use stylelab_core::config::{MemoryFormat, Pooling, Precision};
use stylelab_core::layer::{Layer, LayerKind};
use tch::{Device, Kind, Tensor};

/// Activations are multiplied by this inside an fp16 network, and divided
/// by it again on the way out.
pub const FP16_ACTIVATION_FACTOR: f64 = 1.0 / 32.0;

/// The same NCHW tensor stored channels-last (NHWC strides), which
/// libtorch's convolutions recognise; tch has no memory-format API.
pub fn to_channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// The libtorch kind convolutions run in.
pub fn kind_of(precision: Precision) -> Kind {
    match precision {
        // `auto` is decided before a network is made (`device::resolve_precision`).
        Precision::Fp32 | Precision::Auto => Kind::Float,
        Precision::Bf16 => Kind::BFloat16,
        Precision::Fp16 => Kind::Half,
    }
}

/// VGG19's convolutional layers (those the weights hold), frozen. It takes
/// RGB images in [0, 1] and applies its weights' preprocessing itself.
pub struct Vgg19 {
    /// Each conv layer's (weight, bias), in the compute kind and memory format;
    /// the bias is pre-multiplied by `activation_factor`.
    convs: HashMap<Layer, (Tensor, Tensor)>,
    /// Max or average pooling between blocks.
    pooling: Pooling,
    /// Per-channel `input·gain + shift`, after the channel reorder (fp32).
    gain: Tensor,
    shift: Tensor,
    /// BGR order for Caffe weights.
    bgr: bool,
    /// The kind the convolutions run in.
    compute: Kind,
    /// Channels-last storage of weights and activations.
    channels_last: bool,
    /// Activations inside the network are this many times the real ones
    /// (1 except in fp16).
    activation_factor: f64,
}

impl Vgg19 {
    /// The network on `device`, its weights converted to `precision` and
    /// stored in `format` (which must be resolved: not `Auto`).
    pub fn new(
        weights: &VggWeights,
        pooling: Pooling,
        device: Device,
        precision: Precision,
        format: MemoryFormat,
    ) -> Self {
        let (gain, shift, bgr) = match weights.info.preprocess {
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
        let channels_last = format == MemoryFormat::ChannelsLast;
        let compute = kind_of(precision);
        let activation_factor = if precision == Precision::Fp16 {
            FP16_ACTIVATION_FACTOR
        } else {
            1.0
        };
        let convs = weights
            .convs
            .iter()
            .map(|(l, w, b)| {
                let w = w.to_device(device).to_kind(compute);
                let w = if channels_last { to_channels_last(&w) } else { w };
                let b = (b.to_device(device) * activation_factor).to_kind(compute);
                (*l, (w, b))
            })
            .collect();
        Vgg19 {
            convs,
            pooling,
            gain: as_tensor(gain),
            shift: as_tensor(shift),
            bgr,
            compute,
            channels_last,
            activation_factor,
        }
    }

    /// The device the network's weights are on.
    pub fn device(&self) -> tch::Device {
        self.gain.device()
    }

    /// Network input for an RGB image in [0, 1] (fp32, as the weights expect).
    pub fn preprocess(&self, rgb: &Tensor) -> Tensor {
        let x = if self.bgr { rgb.flip([1]) } else { rgb.shallow_clone() };
        x * &self.gain + &self.shift
    }

    /// Activations at `wanted` (any order) for an RGB image in [0, 1], as
    /// fp32 tensors. Errors come from libtorch (out of memory, mostly).
    pub fn forward(&self, rgb: &Tensor, wanted: &[Layer]) -> Result<HashMap<Layer, Tensor>, tch::TchError> {
        let Some(&deepest) = wanted.iter().max() else {
            return Ok(HashMap::new());
        };
        let mut x = self.preprocess(rgb);
        if self.activation_factor != 1.0 {
            x *= self.activation_factor;
        }
        if self.compute != Kind::Float {
            x = x.f_to_kind(self.compute)?;
        }
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
                out.insert(layer, self.to_fp32(&x)?);
            }
        }
        Ok(out)
    }

    /// An activation as the loss sees it: fp32, at its real scale (f64
    /// as it is from [`Vgg19::in_f64`]'s network, the tests' reference).
    fn to_fp32(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        if self.compute == Kind::Float {
            return Ok(x.shallow_clone());
        }
        let x = if self.compute == Kind::Double {
            x.shallow_clone()
        } else {
            x.f_to_kind(Kind::Float)?
        };
        Ok(if self.activation_factor != 1.0 {
            x / self.activation_factor
        } else {
            x
        })
    }

    /// The network computing in f64, its features leaving it in f64: the
    /// tests' reference, where fp32 round-off decides nothing (which of
    /// two nearly equal values a max pooling passes on, for one).
    #[cfg(test)]
    pub(crate) fn in_f64(mut self) -> Self {
        self.compute = Kind::Double;
        for (w, b) in self.convs.values_mut() {
            *w = w.to_kind(Kind::Double);
            *b = b.to_kind(Kind::Double);
        }
        self
    }

    /// Whether the weights and activations are stored channels-last.
    pub fn channels_last(&self) -> bool {
        self.channels_last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::VggWeights;

    fn weights() -> VggWeights {
        VggWeights::random(4, "relu2_1".parse().unwrap())
    }

    #[test]
    fn formats_and_precisions_compute_the_same_features() {
        let w = weights();
        let img = crate::imaging::noise(5, 24, 20);
        let layer: Layer = "relu2_1".parse().unwrap();
        let run = |precision, format| {
            let net = Vgg19::new(&w, Pooling::Max, Device::Cpu, precision, format);
            net.forward(&img, &[layer]).unwrap().remove(&layer).unwrap()
        };
        let reference = run(Precision::Fp32, MemoryFormat::Nchw);
        let scale = reference.abs().max().double_value(&[]);
        let cl = run(Precision::Fp32, MemoryFormat::ChannelsLast);
        assert!(cl.allclose(&reference, 1e-4, 1e-4 * scale, false));
        let bf16 = run(Precision::Bf16, MemoryFormat::ChannelsLast);
        assert_eq!(bf16.kind(), Kind::Float, "features leave the network as fp32");
        let err = (&bf16 - &reference).abs().max().double_value(&[]);
        assert!(err < 0.05 * scale, "bf16 error {err} of {scale}");
    }

    #[test]
    fn scaling_input_and_biases_scales_every_activation() {
        // What fp16 relies on, checked in fp32: conv(αx; W, αb) = α·conv(x; W, b),
        // and ReLU and pooling keep the factor.
        let w = weights();
        let img = crate::imaging::noise(6, 16, 16);
        let layer: Layer = "relu2_1".parse().unwrap();
        let mut net = Vgg19::new(&w, Pooling::Max, Device::Cpu, Precision::Fp32, MemoryFormat::Nchw);
        let plain = net.forward(&img, &[layer]).unwrap().remove(&layer).unwrap();
        net.activation_factor = FP16_ACTIVATION_FACTOR;
        for (_, b) in net.convs.values_mut() {
            *b = &*b * FP16_ACTIVATION_FACTOR;
        }
        let net = net.in_f64(); // fp32 in, fp64 inside: an exact-enough stand-in
        let scaled = net.forward(&img, &[layer]).unwrap().remove(&layer).unwrap();
        assert_eq!(scaled.kind(), Kind::Double);
        let scaled = scaled.to_kind(Kind::Float);
        let scale = plain.abs().max().double_value(&[]);
        assert!(scaled.allclose(&plain, 1e-4, 1e-5 * scale, false));
    }
}
