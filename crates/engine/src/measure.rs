//! One benchmark measurement in this process: the bench's problem (random
//! VGG19 to relu5_1, the classic layers) at one [`Probe`]'s shape, device
//! and precision, timed into a [`Measurement`] — what `stylelab bench-one`
//! prints as a JSON line in the fresh processes `stylelab bench` runs, and
//! the same record the PyTorch reference prints.

use crate::loss::{LossWeights, RegionStyles, StyleInputs, StyleObjective};
use crate::optim::{Lbfgs, Objective, Optimizer, Point, StepOutcome, observe};
use crate::reads;
use crate::vgg::Vgg19;
use crate::weights::VggWeights;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;
use stylelab_core::config::{MemoryFormat, Pooling, Precision, StyleLayer, StyleLoss};
use stylelab_core::layer::Layer;
use tch::{Device, Tensor};

/// What to measure: the bench's problem at one shape, device and precision.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Width of the image, px.
    pub size: u32,
    /// Height of the image, px (`None`: `size`, a square).
    pub height: Option<u32>,
    /// Where the network runs.
    pub device: Device,
    /// The convolutions' precision.
    pub precision: Precision,
    /// How the network is stored (`Auto`: measured, as a run does).
    pub memory_format: MemoryFormat,
    /// Timed evaluations (forward and backward passes); at least one is made.
    pub evals: usize,
    /// Timed L-BFGS steps; at least one is made.
    pub steps: usize,
    /// Untimed evaluations, then untimed steps, made first.
    pub warmup: usize,
    /// The content image, as raw float32 `1×3×height×size` RGB in [0, 1]
    /// (see [`write_raw_image`]).
    pub content: PathBuf,
    /// The style image, in the same raw form as `content`.
    pub style: PathBuf,
    /// The statistic every style layer matches.
    pub style_loss: StyleLoss,
    /// Regions the image is cut into (vertical bands, one style each); 1
    /// for none.
    pub regions: u32,
    /// Evaluate tile by tile in tiles of this side, px; None: one pass.
    pub tile: Option<u32>,
    /// Step as a run's default L-BFGS does (`optim.precondition` and
    /// `optim.bounds` as a run leaves them: preconditioned, its steps
    /// projected onto the box [0, 1]); false: the textbook L-BFGS the
    /// PyTorch reference runs.
    pub as_run: bool,
}

/// One measurement, as both implementations print it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// The device: [`device_name`]'s from [`measure`]; as asked for
    /// (`--device`) from `bench-one` and the PyTorch reference.
    pub device: String,
    /// Width of the image, px.
    pub size: u32,
    /// Height of the image, px, when it is not square.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The convolutions' precision: `fp32`, `bf16` or `fp16`.
    pub precision: String,
    /// `stylelab` or `pytorch`.
    #[serde(rename = "implementation")]
    pub implementation: String,
    /// Seconds per forward and backward pass of the objective.
    pub s_per_eval: f64,
    /// Seconds per L-BFGS step (direction and line search).
    pub s_per_step: f64,
    /// Evaluations per L-BFGS step.
    pub evals_per_step: f64,
    /// Reads from the device per L-BFGS step (for PyTorch: the host syncs
    /// its LBFGS makes: `.item()`, `float()`, and tensors used as `bool`).
    pub host_reads_per_step: f64,
    /// Peak resident memory on CPU; the process's GPU memory on CUDA; MiB.
    pub peak_mib: f64,
    /// Seconds to form an L-BFGS direction from a full history of 100
    /// pairs at this size (stylelab only: the steps above start with few).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_per_direction_full: Option<f64>,
    /// The same as a run's default L-BFGS forms it: projected onto the box
    /// with [`HELD_SHARE`] of the image held at a bound, preconditioned
    /// (stylelab only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_per_direction_full_as_run: Option<f64>,
    /// Seconds of each timed step spent outside its evaluations (timed
    /// within the same steps, so a slow spell of the machine cancels out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_overhead: Option<f64>,
    /// How the network was stored.
    #[serde(default)]
    pub memory_format: String,
    /// libtorch's intra-op threads.
    #[serde(default)]
    pub threads: i64,
    /// The style layers' statistic, when not the Gram matrix (stylelab only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_loss: Option<String>,
    /// Regions the style term was split into, when more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<u32>,
    /// Tiles' side when evaluated tile by tile, px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile: Option<u32>,
}

/// The share of the image a projected direction is timed with held at a
/// bound: about what the classic problem's result has there on the real
/// partial weights at 256 px (3.6 % of its values at 0, 0.3 % at 255).
pub const HELD_SHARE: f64 = 0.04;

/// A device's name in a [`Measurement`]: `cpu`, or `cuda:N`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    }
}

/// The benchmark objective: random VGG19 to relu5_1, random content and
/// style images, the classic layers; the network set up as a run does.
pub fn objective(probe: &Probe) -> Result<(StyleObjective, Tensor, String)> {
    let (size, height) = (probe.size, probe.height.unwrap_or(probe.size));
    let (device, precision) = (probe.device, probe.precision);
    crate::device::configure(device);
    let deepest: Layer = "relu5_1".parse()?;
    let weights = VggWeights::random(0, deepest);
    let layer = |s: &str| -> Result<Layer> { Ok(s.parse()?) };
    let style_layers: Vec<StyleLayer> = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
        .iter()
        .map(|s| {
            Ok(StyleLayer {
                layer: layer(s)?,
                weight: 1.0,
                loss: probe.style_loss,
            })
        })
        .collect::<Result<_>>()?;
    let content_layers = vec![(layer("relu4_2")?, 1.0)];
    let mut layers: Vec<Layer> = style_layers
        .iter()
        .map(|s| s.layer)
        .chain(content_layers.iter().map(|l| l.0))
        .collect();
    layers.sort();
    let exp = stylelab_core::config::Experiment {
        memory_format: probe.memory_format,
        precision,
        pooling: Pooling::Max,
        ..bench_experiment()?
    };
    let choice = crate::memory_format::choose(&weights, &exp, device, size.max(height), &layers)?;
    let net = Vgg19::new(&weights, Pooling::Max, device, precision, choice.format);
    let content = read_raw_image(&probe.content, size, height, device)?;
    let style = read_raw_image(&probe.style, size, height, device)?;
    let styles = style_inputs(style, probe.regions, size, height, device);
    let obj = StyleObjective::new(
        net,
        &content,
        &styles,
        &content_layers,
        &style_layers,
        LossWeights {
            content: 5.0,
            style: 100.0,
            tv: 1e-3,
        },
        0,
        probe.tile,
        false,
    )?
    .with_bounds(exp.bounds);
    let obj = if precision == Precision::Fp16 {
        obj.with_loss_scaling()
    } else {
        obj
    };
    Ok((obj, content, choice.to_string()))
}

/// An image as [`write_raw_image`] writes it (raw little-endian f32,
/// `1×3×height×size`), on `device`; an error when the file cannot be read
/// or does not hold `size × height` pixels.
pub fn read_raw_image(path: &std::path::Path, size: u32, height: u32, device: Device) -> Result<Tensor> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if v.len() != 3 * size as usize * height as usize {
        bail!("{} does not hold a {size}×{height} image", path.display());
    }
    Ok(Tensor::from_slice(&v)
        .view([1, 3, height as i64, size as i64])
        .to_device(device))
}

/// The style everywhere, or with `regions > 1` the image cut into that many
/// vertical bands, each a region with the same style.
fn style_inputs(style: Tensor, regions: u32, size: u32, height: u32, device: Device) -> StyleInputs {
    if regions <= 1 {
        return StyleInputs::everywhere(vec![(style, 1.0)]);
    }
    let n = regions as i64;
    let band: Vec<i64> = (0..height as i64 * size as i64)
        .map(|i| (i % size as i64) * n / size as i64)
        .collect();
    let labels = Tensor::from_slice(&band)
        .view([height as i64, size as i64])
        .to_device(device);
    StyleInputs {
        regions: (0..regions)
            .map(|i| RegionStyles {
                name: Some(format!("r{i}")),
                weight: 1.0,
                styles: vec![(style.shallow_clone(), 1.0, None)],
            })
            .collect(),
        labels: Some(labels),
    }
}

/// A placeholder experiment: only the network's settings are read from it.
fn bench_experiment() -> Result<stylelab_core::config::Experiment> {
    let text = "[images]\ncontent = \"c.png\"\nstyle = \"s.png\"\n";
    Ok(stylelab_core::config::parse(
        std::path::Path::new("bench.toml"),
        text,
        &[],
    )?)
}

/// The objective with the time its evaluations take (waiting for the
/// device on CUDA), so a step's own cost can be told from them.
struct Timed {
    inner: StyleObjective,
    device: Device,
    seconds: f64,
}

impl Objective for Timed {
    fn evaluate(&mut self, x: &Tensor) -> Result<crate::optim::Evaluation, tch::TchError> {
        let started = Instant::now();
        let eval = self.inner.evaluate(x)?;
        if let Device::Cuda(n) = self.device {
            tch::Cuda::synchronize(n as i64);
        }
        self.seconds += started.elapsed().as_secs_f64();
        Ok(eval)
    }
    fn value(&self, values: &[f64]) -> f64 {
        self.inner.value(values)
    }
}

/// One evaluation, read back: the read waits for the device, so timing
/// around it times the evaluation.
fn evaluate(obj: &mut StyleObjective, x: &Tensor) -> Result<Point> {
    let eval = obj.evaluate(x)?;
    Ok(observe(obj, eval, &[])?.0)
}

/// Measures stylelab in this process: seconds per evaluation and per
/// L-BFGS step, reads per step, peak memory. The measurement's `device` is
/// [`device_name`]'s.
pub fn measure(probe: &Probe) -> Result<Measurement> {
    let (device, precision) = (probe.device, probe.precision);
    let (mut obj, x, format) = objective(probe)?;
    for _ in 0..probe.warmup {
        evaluate(&mut obj, &x)?;
    }
    let started = Instant::now();
    for _ in 0..probe.evals.max(1) {
        // The read that ends each evaluation waits for the device.
        evaluate(&mut obj, &x)?;
    }
    let s_per_eval = started.elapsed().as_secs_f64() / probe.evals.max(1) as f64;
    let form = crate::optim::Form::for_device(device);
    let mut lbfgs = Optimizer::Lbfgs(match probe.as_run {
        // A run's L-BFGS with every optimizer setting left at its default.
        true => Lbfgs::for_run(
            &stylelab_core::config::Experiment {
                precision,
                ..bench_experiment()?
            },
            100,
            device,
        ),
        false => Lbfgs::with_form(1.0, 100, form).with_precision(precision),
    });
    let mut x = x.copy();
    let mut timed = Timed {
        inner: obj,
        device,
        seconds: 0.0,
    };
    let mut current = evaluate(&mut timed.inner, &x)?;
    let mut step = |obj: &mut Timed, x: &mut Tensor, current: Point| -> Result<Point> {
        Ok(match lbfgs.step(obj, x, current)? {
            StepOutcome::Moved(p) | StepOutcome::Converged(p) | StepOutcome::Stalled(p, _) => p,
        })
    };
    for _ in 0..probe.warmup {
        current = step(&mut timed, &mut x, current)?;
    }
    timed.seconds = 0.0;
    let (evals0, reads0, started) = (timed.inner.evals, reads::count(), Instant::now());
    for _ in 0..probe.steps.max(1) {
        current = step(&mut timed, &mut x, current)?;
    }
    let steps = probe.steps.max(1) as f64;
    let s_per_step = started.elapsed().as_secs_f64() / steps;
    let s_overhead = (s_per_step - timed.seconds / steps).max(0.0);
    let obj = timed.inner;
    let host_reads_per_step = (reads::count() - reads0) as f64 / steps;
    let evals_per_step = (obj.evals - evals0) as f64 / steps;
    let s_per_direction_full = Some(crate::optim::time_direction(&x, 100, form, 10)?);
    let s_per_direction_full_as_run = Some(crate::optim::time_projected_direction(&x, 100, HELD_SHARE, 10)?);
    let m = Measurement {
        device: device_name(device),
        size: probe.size,
        height: probe.height,
        precision: precision.to_string(),
        implementation: "stylelab".into(),
        s_per_eval,
        s_per_step,
        evals_per_step,
        host_reads_per_step,
        peak_mib: if device.is_cuda() {
            stylelab_core::gpu::process_mib(std::process::id()).unwrap_or(0.0)
        } else {
            stylelab_core::procfs::peak_rss_mib()
        },
        memory_format: format,
        threads: tch::get_num_threads() as i64,
        s_per_direction_full,
        s_per_direction_full_as_run,
        s_overhead: Some(s_overhead),
        style_loss: (probe.style_loss != StyleLoss::Gram).then(|| probe.style_loss.to_string()),
        regions: (probe.regions > 1).then_some(probe.regions),
        tile: probe.tile,
    };
    drop(current);
    Ok(m)
}

/// Writes an example image as `bench-one` reads it: raw little-endian
/// float32 `1×3×height×width` RGB in [0, 1], resized to that.
pub fn write_raw_image(example: &std::path::Path, width: u32, height: u32, out: &std::path::Path) -> Result<()> {
    let img = crate::imaging::decode(example).map_err(anyhow::Error::msg)?;
    let img = crate::imaging::resize(&img, width, height);
    let t = crate::imaging::to_tensor(&img, Device::Cpu).contiguous();
    let v = Vec::<f32>::try_from(t.flatten(0, -1))?;
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))
}
