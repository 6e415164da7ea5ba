//! `stylelab bench`: seconds per evaluation (forward + backward) of the style
//! transfer objective, VGG19 to relu5_1 with random weights, at several
//! sizes and devices, against a plain PyTorch implementation of the same
//! losses (`src/bench/reference_pytorch.py`) in the same run. Each measurement
//! runs in a fresh process, so peak memory figures do not mix.

use crate::engine::loss::{LossWeights, StyleObjective};
use crate::engine::optim::Objective;
use crate::engine::vgg::Vgg19;
use crate::layer::Layer;
use crate::weights::{Preprocess, VggWeights, WeightsInfo};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;
use tch::{Device, Tensor};

const REFERENCE_SCRIPT: &str = include_str!("bench/reference_pytorch.py");

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Image sizes (square, px).
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    pub sizes: Vec<u32>,
    /// cpu, cuda, or all (cpu, plus cuda when available).
    #[arg(long, default_value = "all")]
    pub device: String,
    /// Timed evaluations per measurement.
    #[arg(long, default_value_t = 5)]
    pub evals: usize,
    /// Untimed evaluations first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Fresh processes per implementation and configuration, run
    /// alternately; the figures are their medians.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Python with torch for the reference (default: the project's .venv).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the PyTorch reference.
    #[arg(long)]
    pub no_reference: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Instead: time `stylelab runs` on N run folders made in a temporary folder.
    #[arg(long, value_name = "N")]
    pub listing: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct OneArgs {
    #[arg(long)]
    pub size: u32,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long, default_value_t = 5)]
    pub evals: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
}

/// One measurement, as both implementations print it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    #[serde(rename = "impl")]
    pub implementation: String,
    pub size: u32,
    pub device: String,
    pub threads: i64,
    pub evals: usize,
    pub s_per_eval: f64,
    pub s_per_eval_min: f64,
    pub peak_rss_mib: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_gpu_mib: Option<f64>,
}

fn parse_device(s: &str) -> Result<Device> {
    match crate::config::DeviceChoice::parse(s) {
        Some(choice) => crate::engine::device::resolve(choice).map_err(anyhow::Error::msg),
        None => bail!("'{s}' is not a device (cpu, cuda, cuda:N)"),
    }
}

/// The benchmark objective: random VGG19 to relu5_1, random content and
/// style images, the classic layers.
pub fn objective(size: u32, device: Device) -> Result<(StyleObjective, Tensor)> {
    crate::engine::device::configure(device);
    let deepest: Layer = "relu5_1".parse().expect("a VGG19 layer");
    let convs = crate::weights::random(0, deepest)
        .into_iter()
        .map(|(l, w, b)| (l, w.to_device(device), b.to_device(device)))
        .collect::<Vec<_>>();
    let info = WeightsInfo {
        path: PathBuf::from("random"),
        preprocess: Preprocess::Caffe,
        convs: convs.iter().map(|c| c.0).collect(),
        metadata: Default::default(),
        file_size: 0,
    };
    let net = Vgg19::new(VggWeights { info, convs }, crate::config::Pooling::Max, device);
    let mut rng = crate::engine::rng::SplitMix64::new(1);
    let n = 3 * (size as usize).pow(2);
    let image = |v: Vec<f32>| {
        Tensor::from_slice(&v)
            .view([1, 3, size as i64, size as i64])
            .to_device(device)
    };
    let content = image(rng.uniform_vec(n));
    let style = image(rng.uniform_vec(n));
    let layer = |s: &str| -> Layer { s.parse().expect("a VGG19 layer") };
    let style_layers: Vec<(Layer, f64)> = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
        .iter()
        .map(|s| (layer(s), 1.0))
        .collect();
    let obj = StyleObjective::new(
        net,
        &content,
        &[(style, 1.0)],
        &[(layer("relu4_2"), 1.0)],
        &style_layers,
        LossWeights {
            content: 5.0,
            style: 100.0,
            tv: 1e-3,
        },
    )?;
    Ok((obj, content))
}

/// Measures stylelab in this process and prints one JSON line.
pub fn run_one(args: &OneArgs) -> Result<ExitCode> {
    let device = parse_device(&args.device)?;
    let (mut obj, x) = objective(args.size, device)?;
    for _ in 0..args.warmup {
        obj.evaluate(&x)?;
    }
    let mut times = Vec::with_capacity(args.evals);
    for _ in 0..args.evals.max(1) {
        let t = Instant::now();
        // evaluate() copies the losses to the host, which synchronises CUDA.
        obj.evaluate(&x)?;
        times.push(t.elapsed().as_secs_f64());
    }
    let m = Measurement {
        implementation: "stylelab".into(),
        size: args.size,
        device: args.device.clone(),
        threads: tch::get_num_threads() as i64,
        evals: times.len(),
        s_per_eval: times.iter().sum::<f64>() / times.len() as f64,
        s_per_eval_min: times.iter().cloned().fold(f64::INFINITY, f64::min),
        peak_rss_mib: crate::engine::device::peak_rss_mib(),
        peak_gpu_mib: None,
    };
    println!("{}", serde_json::to_string(&m)?);
    Ok(ExitCode::SUCCESS)
}

fn last_json_line(out: &std::process::Output, what: &str) -> Result<Measurement> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{what} printed no result"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed {line}"))
}

/// The measurement with the median seconds per evaluation, with the
/// largest peak memory seen.
fn median_of(mut runs: Vec<Measurement>) -> Measurement {
    runs.sort_by(|a, b| a.s_per_eval.total_cmp(&b.s_per_eval));
    let peak = runs.iter().map(|m| m.peak_rss_mib).fold(0.0, f64::max);
    let min = runs.iter().map(|m| m.s_per_eval_min).fold(f64::INFINITY, f64::min);
    let mut m = runs.swap_remove(runs.len() / 2);
    m.peak_rss_mib = peak;
    m.s_per_eval_min = min;
    m
}

fn default_python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// Times listing `n` runs (each with a summary, a 100-row metrics file and
/// an experiment), in this process, so libtorch's start-up is not counted.
pub fn listing(n: usize) -> Result<ExitCode> {
    use crate::record::{MetricsHeader, StepMetrics};
    let dir = std::env::temp_dir().join(format!("stylelab-listing-{}", std::process::id()));
    let results = dir.join("results");
    std::fs::create_dir_all(&results)?;
    let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
    for i in 0..n {
        let run = results.join(format!("20260101-{:06}-run{}", i, i % 7));
        std::fs::create_dir_all(&run)?;
        let mut csv = header.columns().join(",") + "\n";
        for step in 0..100u64 {
            let row = StepMetrics {
                iter: step,
                evals: step,
                elapsed_s: step as f64,
                total: 1e6 / (step + 1) as f64,
                content: 1.0,
                style: 2.0,
                tv: 3.0,
                layers: vec![1.0, 2.0],
                content_weight: 5.0,
                style_weight: 100.0 * (i % 3 + 1) as f64,
                tv_weight: 1e-3,
            };
            csv += &(row.to_fields(&header).join(",") + "\n");
        }
        std::fs::write(run.join(crate::record::METRICS_FILE), csv)?;
        let summary = format!(
            r#"{{"name":"run{}","status":"completed","started":"2026-01-01T00:00:00+00:00","steps":99,"iterations":99,"evals":99,"wall_s":99.0,"seconds_per_step":1.0,"device":"cpu","libtorch":"2.11.0","stylelab":"0.1.0","weights":"w","weights_sha256":"00","seed":0,"width":64,"height":64,"peak_rss_mib":1.0,"final_losses":{{"total":1e4,"content":1.0,"style":2.0,"tv":3.0}}}}"#,
            i % 7
        );
        std::fs::write(run.join(crate::record::SUMMARY_FILE), summary)?;
        let exp = format!(
            "name = \"run{}\"\n[loss]\nstyle_weight = {}\ncontent_weight = 5.0\n[optim]\nseed = {}\n",
            i % 7,
            100 * (i % 3 + 1),
            i % 5
        );
        std::fs::write(run.join(crate::record::EXPERIMENT_FILE), exp)?;
    }
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let l = crate::review::table::Listing::load(&results, None, None).map_err(anyhow::Error::msg)?;
        lines = l.render(crate::review::table::Format::Table).lines().count();
        times.push(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    println!(
        "listing {n} runs (read summaries and configs, find varying keys, render the table): median {:.3} s, best {:.3} s over 5 ({} lines)",
        times[2], times[0], lines
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs every measurement and prints the table.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    if let Some(n) = args.listing {
        return listing(n);
    }
    let devices: Vec<String> = match args.device.as_str() {
        "all" => {
            let mut d = vec!["cpu".to_string()];
            if tch::Cuda::is_available() {
                d.push("cuda".into());
            }
            d
        }
        other => {
            parse_device(other)?;
            vec![other.to_string()]
        }
    };
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let script = std::env::temp_dir().join(format!("stylelab-reference-{}.py", std::process::id()));
    if !args.no_reference {
        std::fs::write(&script, REFERENCE_SCRIPT).context("cannot write the reference script")?;
    }
    println!(
        "VGG19 to relu5_1, random weights; content relu4_2, style relu1_1..relu5_1; {} timed evaluations after {} warm-up; median of {} alternating processes each",
        args.evals, args.warmup, args.repeats
    );
    println!(
        "{:<8} {:>6} {:>14} {:>10} {:>14} {:>10} {:>8}",
        "device", "size", "stylelab s/ev", "RSS MiB", "pytorch s/ev", "RSS MiB", "ratio"
    );
    let mut all = Vec::new();
    for device in &devices {
        for &size in &args.sizes {
            let common = [
                "--size".to_string(),
                size.to_string(),
                "--device".into(),
                device.clone(),
                "--evals".into(),
                args.evals.to_string(),
                "--warmup".into(),
                args.warmup.to_string(),
            ];
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            // Alternate, so that a slow spell of a shared machine hits both.
            for _ in 0..args.repeats.max(1) {
                let out = Command::new(&exe).arg("bench-one").args(&common).output()?;
                ours.push(last_json_line(&out, "stylelab bench-one")?);
                if !args.no_reference {
                    let out = Command::new(&python)
                        .arg(&script)
                        .args(&common)
                        .output()
                        .with_context(|| {
                            format!("cannot run {} (set --python, or --no-reference)", python.display())
                        })?;
                    theirs.push(last_json_line(&out, "the PyTorch reference")?);
                }
            }
            let ours = median_of(ours);
            let reference = (!theirs.is_empty()).then(|| median_of(theirs));
            let (ref_s, ref_rss, ratio) = match &reference {
                Some(r) => (
                    format!("{:.4}", r.s_per_eval),
                    format!("{:.0}", r.peak_rss_mib),
                    format!("{:.2}", ours.s_per_eval / r.s_per_eval),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:<8} {:>6} {:>14.4} {:>10.0} {:>14} {:>10} {:>8}",
                device, size, ours.s_per_eval, ours.peak_rss_mib, ref_s, ref_rss, ratio
            );
            all.push(ours);
            all.extend(reference);
        }
    }
    let _ = std::fs::remove_file(&script);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
