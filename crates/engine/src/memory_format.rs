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
            let nets = [MemoryFormat::Nchw, MemoryFormat::ChannelsLast]
                .map(|format| (format, Vgg19::new(weights, exp.pooling, device, exp.precision, format)));
            let timings = time_passes(&nets, device, side, layers)?;
            let choice = decide(&timings, default_format(device, exp.precision), side);
            cache::store(&key, &choice);
            Ok(choice)
        }
        format => fixed(format, "as set"),
    }
}

/// A faster format must beat the device's default by this fraction to be
/// chosen over it: closer timings are within what a loaded machine's
/// noise moves (on the 2-core AMD EPYC, a probe under load once chose
/// NCHW at 1358 against 1532 ms where idle it measures 483 against 472 ms,
/// and runs at 512 px are 5–13 % faster channels-last).
pub const NEAR_TIE: f64 = 0.05;

/// The choice from the probe's `timings` (format, seconds): the faster
/// format, unless it beats `default` by less than [`NEAR_TIE`].
pub fn decide(timings: &[(MemoryFormat, f64)], default: MemoryFormat, side: u32) -> FormatChoice {
    let of = |f: MemoryFormat| timings.iter().find(|t| t.0 == f).map(|t| t.1);
    let best = timings.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
    let measured = timings
        .iter()
        .map(|(f, t)| format!("{f} {:.0} ms", t * 1e3))
        .collect::<Vec<_>>()
        .join(", ");
    let how = format!("measured at {side} px: {measured}");
    let clearly_faster = |t: f64| of(default).is_some_and(|d| t < d * (1.0 - NEAR_TIE));
    match best {
        Some((format, t)) if format != default && clearly_faster(t) => FormatChoice { format, how },
        Some((format, _)) if format != default => FormatChoice {
            format: default,
            how: format!("{how}; within {:.0} %: the default", NEAR_TIE * 100.0),
        },
        _ => FormatChoice { format: default, how },
    }
}

/// Seconds for a forward and backward pass to `layers` at `side`×`side`
/// through each format's net: after one pass each to warm up, three
/// rounds that take the nets in turn (so that a load which comes or goes
/// weighs on both alike), the best of each net's three.
fn time_passes(
    nets: &[(MemoryFormat, Vgg19)],
    device: Device,
    side: u32,
    layers: &[Layer],
) -> Result<Vec<(MemoryFormat, f64)>, tch::TchError> {
    let s = side as i64;
    let img = Tensor::f_linspace(0.0, 1.0, 3 * s * s, (Kind::Float, device))?.f_reshape([1, 3, s, s])?;
    let mut best: Vec<(MemoryFormat, f64)> = nets.iter().map(|(f, _)| (*f, f64::INFINITY)).collect();
    for round in 0..4 {
        for ((_, net), (_, best)) in nets.iter().zip(best.iter_mut()) {
            let t = time_pass(net, &img, layers)?;
            if round > 0 {
                *best = best.min(t);
            }
        }
    }
    Ok(best)
}

/// Seconds for one forward and backward pass of `img` to `layers`.
fn time_pass(net: &Vgg19, img: &Tensor, layers: &[Layer]) -> Result<f64, tch::TchError> {
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
    Ok(started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NCHW: MemoryFormat = MemoryFormat::Nchw;
    const LAST: MemoryFormat = MemoryFormat::ChannelsLast;

    #[test]
    fn a_near_tie_keeps_the_default_and_says_so() {
        // The loaded probe's timings, and the idle machine's.
        let c = decide(&[(NCHW, 0.483), (LAST, 0.472)], LAST, 256);
        assert_eq!(c.format, LAST);
        assert_eq!(c.how, "measured at 256 px: nchw 483 ms, channels_last 472 ms");
        let c = decide(&[(NCHW, 0.470), (LAST, 0.483)], LAST, 256);
        assert_eq!(c.format, LAST, "{c}");
        assert!(c.how.ends_with("; within 5 %: the default"), "{c}");
        // Beyond the margin the faster wins, either way round.
        let c = decide(&[(NCHW, 1.358), (LAST, 1.532)], LAST, 256);
        assert_eq!(c.format, NCHW, "{c}");
        let c = decide(&[(NCHW, 0.400), (LAST, 0.300)], NCHW, 256);
        assert_eq!(c.format, LAST, "{c}");
        let c = decide(&[(NCHW, 0.300), (LAST, 0.310)], NCHW, 128);
        assert_eq!(
            (c.format, c.how.as_str()),
            (NCHW, "measured at 128 px: nchw 300 ms, channels_last 310 ms")
        );
    }
}
