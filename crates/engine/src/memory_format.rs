//! The memory format a run's network uses (`model.memory_format`): as
//! set, or with `auto` the faster of NCHW and channels-last, measured once
//! per kind of run and kept in the user's cache folder (the private `cache` module).

mod cache;

use crate::vgg::Vgg19;
use crate::weights::VggWeights;
use stylelab_core::config::{MemoryFormat, Precision};
use stylelab_core::layer::Layer;
use tch::{Device, Kind, Tensor};

/// The memory format a run's network uses, and how it was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatChoice {
    /// `Nchw` or `ChannelsLast`, never `Auto`.
    pub format: MemoryFormat,
    /// `as set`, `default below 128 px`, or the timings measured.
    pub how: String,
}

impl std::fmt::Display for FormatChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.format, self.how)
    }
}

/// Below this longest side `auto` does not measure: passes over tiny images
/// take milliseconds and time mostly noise, so the choice would vary from
/// run to run for nothing.
pub const PROBE_MIN_SIDE: u32 = 128;
/// `auto` measures at no more than this side, to keep the start quick.
const PROBE_MAX_SIDE: u32 = 256;

/// The format used without measuring: channels-last on CPUs (oneDNN) and
/// for reduced precision on CUDA (cuDNN's tensor-core kernels), NCHW for
/// fp32 on CUDA.
pub fn default_format(device: Device, precision: Precision) -> MemoryFormat {
    if device.is_cuda() && precision == Precision::Fp32 {
        MemoryFormat::Nchw
    } else {
        MemoryFormat::ChannelsLast
    }
}

/// Decides the memory format for a run: as set, or with `auto` the faster
/// of NCHW and channels-last for this machine, precision and network,
/// timed on a forward and backward pass at the run's size (at most
/// 256 px), as cuDNN's benchmark mode does for algorithms — once: the
/// choice is kept in the user's cache folder (the private `cache` module) and
/// later runs of the same kind take it from there.
pub fn choose(
    weights: &VggWeights,
    exp: &stylelab_core::config::Experiment,
    device: Device,
    side: u32,
    layers: &[Layer],
) -> Result<FormatChoice, tch::TchError> {
    let fixed = |format, how: &str| {
        Ok(FormatChoice {
            format,
            how: how.to_string(),
        })
    };
    match exp.memory_format {
        MemoryFormat::Auto if side < PROBE_MIN_SIDE => fixed(
            default_format(device, exp.precision),
            &format!("default below {PROBE_MIN_SIDE} px"),
        ),
        MemoryFormat::Auto => {
            let side = side.min(PROBE_MAX_SIDE);
            let key = cache::Key::new(exp, device, side, layers);
            if let Some(cached) = cache::lookup(&key) {
                return Ok(cached);
            }
            let mut timings = Vec::new();
            for format in [MemoryFormat::Nchw, MemoryFormat::ChannelsLast] {
                let net = Vgg19::new(weights, exp.pooling, device, exp.precision, format);
                timings.push((format, time_pass(&net, device, side, layers)?));
            }
            let best = timings
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(MemoryFormat::ChannelsLast, |t| t.0);
            let how = timings
                .iter()
                .map(|(f, t)| format!("{f} {:.0} ms", t * 1e3))
                .collect::<Vec<_>>()
                .join(", ");
            let choice = FormatChoice {
                format: best,
                how: format!("measured at {side} px: {how}"),
            };
            cache::store(&key, &choice);
            Ok(choice)
        }
        format => fixed(format, "as set"),
    }
}

/// Seconds for a forward and backward pass to `layers` at `side`×`side`:
/// the better of two, after one to warm up.
fn time_pass(net: &Vgg19, device: Device, side: u32, layers: &[Layer]) -> Result<f64, tch::TchError> {
    let s = side as i64;
    let img = Tensor::f_linspace(0.0, 1.0, 3 * s * s, (Kind::Float, device))?.f_reshape([1, 3, s, s])?;
    let mut best = f64::INFINITY;
    for rep in 0..3 {
        let x = img.detach().set_requires_grad(true);
        let started = std::time::Instant::now();
        let feats = tch::with_grad(|| net.forward(&x, layers))?;
        let total = feats
            .values()
            .map(|f| f.f_sum(Kind::Float))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .reduce(|a, b| a + b);
        if let Some(total) = total {
            total.f_backward()?;
        }
        // The read waits for the device: the time is the pass's.
        crate::reads::read(&[&x.grad().f_sum(Kind::Float)?])?;
        if rep > 0 {
            best = best.min(started.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}
