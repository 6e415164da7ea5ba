//! `stylelab bench-one`: one measurement in this process, printed as one
//! JSON line — what `stylelab bench` runs in fresh processes, and what the
//! PyTorch reference prints too.

use crate::loss::{LossWeights, RegionStyles, StyleInputs, StyleObjective};
use crate::optim::{Lbfgs, Objective, Optimizer, Point, StepOutcome, observe};
use crate::reads;
use crate::vgg::Vgg19;
use crate::weights::VggWeights;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use stylelab_core::config::{MemoryFormat, Pooling, Precision, StyleLayer, StyleLoss};
use stylelab_core::layer::Layer;
use tch::{Device, Tensor};

#[derive(clap::Args, Debug)]
pub struct OneArgs {
    /// Width of the image, px (and its height unless --height says).
    #[arg(long)]
    pub size: u32,
    /// Height of the image, px (default: --size, a square).
    #[arg(long)]
    pub height: Option<u32>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// `fp32`, `bf16` or `fp16`.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// auto (measured, as a run does), nchw or channels_last.
    #[arg(long, default_value = "auto")]
    pub memory_format: String,
    /// Timed evaluations (forward and backward passes); at least one is made.
    #[arg(long, default_value_t = 5)]
    pub evals: usize,
    /// Timed L-BFGS steps; at least one is made.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed evaluations, then untimed steps, made first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// The content and style images, as raw float32 `1×3×height×size` RGB
    /// in [0, 1] (written by `bench`: examples/chelsea.png and
    /// examples/starry_night.jpg, resized).
    #[arg(long)]
    pub content: PathBuf,
    /// The style image, in the same raw form as `content`.
    #[arg(long)]
    pub style: PathBuf,
    /// The statistic every style layer matches: gram, mean_std, histogram
    /// or sliced_wasserstein.
    #[arg(long, default_value = "gram", value_parser = parse_style_loss)]
    pub style_loss: StyleLoss,
    /// Regions the image is cut into (vertical bands, one style each); 1
    /// for none.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub regions: u32,
}

/// `--style-loss` as the experiment file spells it.
fn parse_style_loss(s: &str) -> Result<StyleLoss, String> {
    parse("style loss", s).map_err(|e| e.to_string())
}

/// One measurement, as both implementations print it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// The device as asked for (`--device`).
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
}

/// A device as `bench` and `bench-one` take it; an error when it is not a
/// device name or libtorch cannot see it.
pub fn parse_device(s: &str) -> Result<Device> {
    match stylelab_core::config::DeviceChoice::parse(s) {
        Some(choice) => crate::device::resolve(choice).map_err(anyhow::Error::msg),
        None => bail!("'{s}' is not a device (cpu, cuda, cuda:N)"),
    }
}

/// A config enum (precision, memory format) from its TOML spelling; `what`
/// names it in the error.
fn parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    toml::Value::String(s.to_string())
        .try_into()
        .map_err(|_| anyhow::anyhow!("'{s}' is not a {what}"))
}

/// The benchmark objective: random VGG19 to relu5_1, random content and
/// style images, the classic layers; the network set up as a run does.
pub fn objective(
    args: &OneArgs,
    device: Device,
    precision: Precision,
    format: MemoryFormat,
) -> Result<(StyleObjective, Tensor, String)> {
    let (size, height) = (args.size, args.height.unwrap_or(args.size));
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
                loss: args.style_loss,
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
        memory_format: format,
        precision,
        pooling: Pooling::Max,
        ..bench_experiment()?
    };
    let choice = crate::memory_format::choose(&weights, &exp, device, size.max(height), &layers)?;
    let net = Vgg19::new(&weights, Pooling::Max, device, precision, choice.format);
    let image = |path: &std::path::Path| -> Result<Tensor> {
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
    };
    let content = image(&args.content)?;
    let style = image(&args.style)?;
    let styles = if args.regions > 1 {
        // Regions as vertical bands, one style each (the same image).
        let n = args.regions as i64;
        let band: Vec<i64> = (0..height as i64 * size as i64)
            .map(|i| (i % size as i64) * n / size as i64)
            .collect();
        let labels = Tensor::from_slice(&band)
            .view([height as i64, size as i64])
            .to_device(device);
        StyleInputs {
            regions: (0..args.regions)
                .map(|i| RegionStyles {
                    name: Some(format!("r{i}")),
                    weight: 1.0,
                    styles: vec![(style.shallow_clone(), 1.0, None)],
                })
                .collect(),
            labels: Some(labels),
        }
    } else {
        StyleInputs::everywhere(vec![(style, 1.0)])
    };
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
    )?;
    let obj = if precision == Precision::Fp16 {
        obj.with_loss_scaling()
    } else {
        obj
    };
    Ok((obj, content, choice.to_string()))
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

/// Measures stylelab in this process and prints one JSON line.
pub fn run_one(args: &OneArgs) -> Result<ExitCode> {
    let device = parse_device(&args.device)?;
    let precision: Precision = parse("precision", &args.precision)?;
    let format: MemoryFormat = parse("memory format", &args.memory_format)?;
    let (mut obj, x, format) = objective(args, device, precision, format)?;
    for _ in 0..args.warmup {
        evaluate(&mut obj, &x)?;
    }
    let started = Instant::now();
    for _ in 0..args.evals.max(1) {
        // The read that ends each evaluation waits for the device.
        evaluate(&mut obj, &x)?;
    }
    let s_per_eval = started.elapsed().as_secs_f64() / args.evals.max(1) as f64;
    let form = crate::optim::Form::for_device(device);
    let mut lbfgs = Optimizer::Lbfgs(Lbfgs::with_form(1.0, 100, form).with_precision(precision));
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
    for _ in 0..args.warmup {
        current = step(&mut timed, &mut x, current)?;
    }
    timed.seconds = 0.0;
    let (evals0, reads0, started) = (timed.inner.evals, reads::count(), Instant::now());
    for _ in 0..args.steps.max(1) {
        current = step(&mut timed, &mut x, current)?;
    }
    let steps = args.steps.max(1) as f64;
    let s_per_step = started.elapsed().as_secs_f64() / steps;
    let s_overhead = (s_per_step - timed.seconds / steps).max(0.0);
    let obj = timed.inner;
    let host_reads_per_step = (reads::count() - reads0) as f64 / steps;
    let evals_per_step = (obj.evals - evals0) as f64 / steps;
    let s_per_direction_full = Some(crate::optim::time_direction(&x, 100, form, 3)?);
    let m = Measurement {
        device: args.device.clone(),
        size: args.size,
        height: args.height,
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
        s_overhead: Some(s_overhead),
        style_loss: (args.style_loss != StyleLoss::Gram).then(|| args.style_loss.to_string()),
        regions: (args.regions > 1).then_some(args.regions),
    };
    drop(current);
    println!("{}", serde_json::to_string(&m)?);
    Ok(ExitCode::SUCCESS)
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
