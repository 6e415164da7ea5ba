//! Colour preservation (Gatys et al. 2016, "Preserving Color in Neural
//! Artistic Style Transfer"), on `1×3×H×W` RGB tensors in [0, 1]:
//!
//! - luminance-only transfer: the content and style images are reduced to
//!   their luma Y (full-range YCbCr, BT.601 weights, as JPEG uses), the
//!   style's luma matched to the content's mean and spread, the transfer
//!   runs on Y, and the content's chroma (Cb, Cr) is put back under the
//!   result;
//! - histogram matching: each style image's colours are moved to the
//!   content's mean and covariance by the affine map in RGB
//!   x ↦ Σc^½ Σs^-½ (x − μs) + μc (symmetric square roots), before the run.

use tch::{Kind, TchError, Tensor};

/// BT.601 luma weights.
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// Full-range YCbCr (Y in [0, 1], Cb and Cr centred on 0) of an RGB image.
pub fn rgb_to_ycbcr(rgb: &Tensor) -> Result<Tensor, TchError> {
    let m = Tensor::from_slice(&[
        LUMA[0], LUMA[1], LUMA[2], //
        -0.168_736, -0.331_264, 0.5, //
        0.5, -0.418_688, -0.081_312,
    ])
    .f_reshape([3, 3])?
    .f_to_kind(rgb.kind())?
    .f_to_device(rgb.device())?;
    // Per pixel: out_c = Σ_k m[c][k]·rgb_k.
    Tensor::f_einsum("ck,nkhw->nchw", &[&m, rgb], None::<&[i64]>)
}

/// RGB of a full-range YCbCr image (the inverse of [`rgb_to_ycbcr`]).
pub fn ycbcr_to_rgb(ycc: &Tensor) -> Result<Tensor, TchError> {
    let m = Tensor::from_slice(&[
        1.0, 0.0, 1.402, //
        1.0, -0.344_136, -0.714_136, //
        1.0, 1.772, 0.0,
    ])
    .f_reshape([3, 3])?
    .f_to_kind(ycc.kind())?
    .f_to_device(ycc.device())?;
    Tensor::f_einsum("ck,nkhw->nchw", &[&m, ycc], None::<&[i64]>)
}

/// The image's luma in all three channels: a grey image the network sees
/// as it would a photograph's brightness.
pub fn luminance(rgb: &Tensor) -> Result<Tensor, TchError> {
    rgb_to_ycbcr(rgb)?
        .f_narrow(1, 0, 1)?
        .f_expand([-1, 3, -1, -1], false)?
        .f_contiguous()
}

/// `style`'s luma image moved to `content`'s luma mean and standard
/// deviation (both grey images from [`luminance`]).
pub fn match_luminance(style: &Tensor, content: &Tensor) -> Result<Tensor, TchError> {
    let (ms, ss) = (style.f_mean(Kind::Float)?, style.f_std(true)?);
    let (mc, sc) = (content.f_mean(Kind::Float)?, content.f_std(true)?);
    ((style - ms) * (sc / ss.f_clamp_min(1e-6)?) + mc).f_clamp(0.0, 1.0)
}

/// The content's chroma put under a result's luma: the colours of the
/// content with the brightness of the result, clamped to [0, 1].
pub fn recombine(result: &Tensor, content: &Tensor) -> Result<Tensor, TchError> {
    let y = rgb_to_ycbcr(result)?.f_narrow(1, 0, 1)?;
    let cbcr = rgb_to_ycbcr(content)?.f_narrow(1, 1, 2)?;
    ycbcr_to_rgb(&Tensor::f_cat(&[y, cbcr], 1)?)?.f_clamp(0.0, 1.0)
}

/// Mean (3) and covariance (3×3) of an image's pixels, in f64.
pub fn color_stats(rgb: &Tensor) -> Result<(Tensor, Tensor), TchError> {
    let px = rgb.f_to_kind(Kind::Double)?.f_reshape([3, -1])?;
    let mean = px.f_mean_dim(Some([1i64].as_slice()), true, Kind::Double)?;
    let centred = &px - &mean;
    let n = px.size()[1] as f64;
    let cov = centred.f_mm(&centred.f_tr()?)? / n;
    Ok((mean.f_reshape([3])?, cov))
}

/// A symmetric matrix raised to `power` through its eigendecomposition
/// (eigenvalues floored, so a flat image stays finite).
fn sym_pow(m: &Tensor, power: f64) -> Result<Tensor, TchError> {
    let (vals, vecs) = m.f_linalg_eigh("L")?;
    let vals = vals.f_clamp_min(1e-10)?.f_pow_tensor_scalar(power)?;
    vecs.f_mm(&vals.f_diag_embed(0, -2, -1)?)?.f_mm(&vecs.f_tr()?)
}

/// `style` with its colours moved to `content`'s mean and covariance. Not
/// clamped: clamping would move the statistics again, and the network takes
/// any values.
pub fn match_histogram(style: &Tensor, content: &Tensor) -> Result<Tensor, TchError> {
    let (mu_s, cov_s) = color_stats(style)?;
    let (mu_c, cov_c) = color_stats(content)?;
    let a = sym_pow(&cov_c, 0.5)?.f_mm(&sym_pow(&cov_s, -0.5)?)?;
    let (h, w) = (style.size()[2], style.size()[3]);
    let px = style.f_to_kind(Kind::Double)?.f_reshape([3, -1])?;
    let moved = a.f_mm(&(px - mu_s.f_unsqueeze(1)?))? + mu_c.f_unsqueeze(1)?;
    moved.f_reshape([1, 3, h, w])?.f_to_kind(style.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn image(seed: u64, h: i64, w: i64, tint: [f32; 3]) -> Tensor {
        crate::imaging::noise(seed, h, w) * Tensor::from_slice(&tint).reshape([1, 3, 1, 1])
    }

    #[test]
    fn ycbcr_round_trips() {
        let x = image(1, 5, 7, [1.0, 1.0, 1.0]);
        let back = ycbcr_to_rgb(&rgb_to_ycbcr(&x).unwrap()).unwrap();
        assert!(back.allclose(&x, 1e-5, 1e-5, false));
        let grey = luminance(&x).unwrap();
        let ycc = rgb_to_ycbcr(&grey).unwrap();
        // A grey image has no chroma.
        assert!(ycc.narrow(1, 1, 2).abs().max().double_value(&[]) < 1e-5);
    }

    #[test]
    fn recombining_keeps_the_contents_chroma() {
        // Mild colours and a mid-grey result: no pixel leaves the RGB gamut,
        // so the clamp moves nothing.
        let content = image(2, 6, 6, [0.3, 0.2, 0.1]) + 0.35;
        let result = luminance(&image(3, 6, 6, [1.0, 1.0, 1.0])).unwrap() * 0.2 + 0.4;
        let out = recombine(&result, &content).unwrap();
        let chroma = |t: &Tensor| rgb_to_ycbcr(t).unwrap().narrow(1, 1, 2);
        let d = (chroma(&out) - chroma(&content)).abs().max().double_value(&[]);
        assert!(d < 1e-5, "chroma moved by {d}");
        let luma = |t: &Tensor| rgb_to_ycbcr(t).unwrap().narrow(1, 0, 1);
        assert!(luma(&out).allclose(&luma(&result), 1e-5, 1e-5, false));
    }

    #[test]
    fn histogram_matching_gives_the_contents_mean_and_covariance() {
        let content = image(4, 16, 12, [0.9, 0.4, 0.2]);
        let style = image(5, 10, 20, [0.2, 0.5, 1.0]) * 0.5 + 0.1;
        let moved = match_histogram(&style, &content).unwrap();
        let (m1, c1) = color_stats(&moved).unwrap();
        let (m2, c2) = color_stats(&content).unwrap();
        assert!(m1.allclose(&m2, 1e-4, 1e-5, false), "{m1} vs {m2}");
        assert!(c1.allclose(&c2, 1e-3, 1e-5, false), "{c1} vs {c2}");
        let _ = Device::Cpu;
    }
}
