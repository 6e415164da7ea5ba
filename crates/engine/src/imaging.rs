//! Images in and out of the engine: `image::RgbImage` to and from
//! `1×3×H×W` RGB tensors in [0, 1]. Decoding and resizing are the core's.

pub use stylelab_core::imaging::{decode, fit_longest, resize};

use image::RgbImage;
use tch::{Device, Kind, Tensor};

/// `1×3×h×w` uniform noise in [0, 1) on the CPU, the same for a seed on
/// every machine (SplitMix64, not libtorch's global generator).
pub fn noise(seed: u64, h: i64, w: i64) -> Tensor {
    let values = stylelab_core::rng::SplitMix64::new(seed).uniform_vec((3 * h * w).max(0) as usize);
    Tensor::from_slice(&values).view([1, 3, h, w])
}

/// `1×3×H×W` float tensor in [0, 1].
pub fn to_tensor(img: &RgbImage, device: Device) -> Tensor {
    let (w, h) = img.dimensions();
    let data: Vec<f32> = img.as_raw().iter().map(|&v| v as f32 / 255.0).collect();
    Tensor::from_slice(&data)
        .view([h as i64, w as i64, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_device(device)
        .contiguous()
}

/// The image a `1×3×H×W` tensor shows, clamped to [0, 1]: one read from
/// the device, counted with the others.
pub fn from_tensor(t: &Tensor) -> RgbImage {
    super::reads::count_one();
    let t = t.detach().to_device(Device::Cpu).to_kind(Kind::Float);
    let (h, w) = (t.size()[2], t.size()[3]);
    let bytes = (t.squeeze_dim(0).permute([1, 2, 0]).clamp(0.0, 1.0) * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .contiguous()
        .flatten(0, -1);
    let data = Vec::<u8>::try_from(bytes).expect("a uint8 CPU tensor converts to bytes");
    RgbImage::from_raw(w as u32, h as u32, data).expect("sizes match by construction")
}

/// The share of a `1×C×H×W` image tensor's values outside [0, 1]: what
/// [`from_tensor`] clamps. Counted a band of rows at a time on the
/// tensor's device, so that a print-size image on a full GPU needs no
/// image-sized mask; one read per band.
pub fn clipped_share(t: &Tensor) -> Result<f64, tch::TchError> {
    const BAND_VALUES: i64 = 1 << 24;
    let size = t.size();
    let (h, per_row) = (size[2], size[1] * size[3]);
    let rows = (BAND_VALUES / per_row.max(1)).max(1);
    let mut outside = 0i64;
    let mut start = 0;
    while start < h {
        let band = t.f_narrow(2, start, rows.min(h - start))?;
        super::reads::count_one();
        outside += band
            .f_lt(0.0)?
            .f_logical_or(&band.f_gt(1.0)?)?
            .f_sum(Kind::Int64)?
            .f_int64_value(&[])?;
        start += rows;
    }
    Ok(outside as f64 / (t.numel() as f64).max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clipped_share_counts_the_values_outside_zero_to_one() {
        let t = Tensor::from_slice(&[-0.5f32, 0.0, 0.5, 1.0, 1.5, 2.0, 0.25, -1e-6]).view([1, 2, 2, 2]);
        assert_eq!(clipped_share(&t).unwrap(), 0.5);
        let inside = Tensor::from_slice(&[0.0f32, 1.0, 0.3, 0.7]).view([1, 1, 2, 2]);
        assert_eq!(clipped_share(&inside).unwrap(), 0.0);
        // Counted in bands of rows: an image taller than one band (2^24
        // values) gives the same share, its last band a short one.
        let tall = Tensor::zeros([1, 3, 5600, 1000], (Kind::Float, Device::Cpu));
        let _ = tall.narrow(2, 5599, 1).narrow(3, 0, 10).fill_(-1.0);
        let _ = tall.narrow(2, 0, 1).narrow(3, 0, 20).fill_(2.0);
        // (3 channels × 10 values, and 3 × 20.)
        assert_eq!(clipped_share(&tall).unwrap(), 90.0 / (3.0 * 5600.0 * 1000.0));
    }

    #[test]
    fn tensor_round_trip_is_exact() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let t = to_tensor(&img, Device::Cpu);
        assert_eq!(t.size(), [1, 3, 3, 5]);
        assert!((t.double_value(&[0, 0, 0, 1]) - 40.0 / 255.0).abs() < 1e-6);
        assert!((t.double_value(&[0, 1, 2, 0]) - 160.0 / 255.0).abs() < 1e-6);
        assert_eq!(from_tensor(&t), img);
    }
}
