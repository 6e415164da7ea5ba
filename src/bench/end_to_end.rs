//! `stylelab bench --end-to-end`: a user's whole wait for the classic
//! problem — chelsea.png in the style of starry_night.jpg at the first of
//! `--sizes` (the content's aspect: 512×341 at 512), random VGG19 to
//! relu5_1, content relu4_2, style relu1_1 … relu5_1, weights 5, 100 and
//! 1e-3, L-BFGS history 100, `--run-steps` steps — from the command to the
//! final image: the whole `stylelab run` process, against the PyTorch
//! reference's whole script doing the same (its images handed over already
//! resized, as raw floats: its environment has no image library). Each row
//! gives seconds to the first step, per step once going, in all, the
//! evaluations and the final loss (the two random networks differ, so the
//! losses are each implementation's own; both keep the image in [0, 1],
//! stylelab by its default `optim.bounds = "box"`, the reference with
//! `--bounds box`, the same work per evaluation), and for stylelab its step
//! against `bench-one --as-run`'s at the same shape, over the same steps
//! (the run's L-BFGS, its history as long): the bench must time what a run
//! does.

use super::say;
use super::{BenchArgs, default_python, examples, last_json_line};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;
use stylelab_core::record;
use stylelab_engine::measure::Measurement;

/// One whole run, as a row prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WholeRun {
    /// Seconds from the process's start to the end of its first step.
    seconds_to_first_step: f64,
    /// Seconds per step after the first.
    s_per_step: f64,
    /// Optimizer steps and function evaluations made.
    steps: u64,
    evals: u64,
    /// The last total loss.
    final_loss: f64,
    /// Seconds from the command to its exit (measured here).
    #[serde(default)]
    process_s: f64,
    /// stylelab's run: its peak GPU memory (NVML), MiB; CUDA only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peak_gpu_mib: Option<f64>,
    /// stylelab's run: seconds per step and per evaluation over the steps
    /// `bench-one` times ([`BENCH_STEPS`]): the same steps of the same
    /// optimizer, its history as long (a step's direction costs more as
    /// the history grows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s_per_step_as_bench: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s_per_eval_as_bench: Option<f64>,
    /// stylelab's run: its step over those steps ÷ `bench-one`'s step at
    /// the same shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_step_per_bench_step: Option<f64>,
    /// stylelab's run: its evaluation over those steps (their time over
    /// their evaluations, line searches included) ÷ `bench-one`'s
    /// evaluation (the step's ratio without the line search's extra
    /// evaluations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_eval_per_bench_eval: Option<f64>,
}

/// The steps `bench-one` times: after its untimed steps (the first, with
/// no history, among them), these, as a run's steps (first, last],
/// counted from 1.
const BENCH_STEPS: (u64, u64) = (2, 22);

/// The classic experiment on `weights`, for `steps` steps at `size` px.
fn experiment(dir: &Path, weights: &Path, size: u32, steps: u64, device: &str) -> Result<PathBuf> {
    let examples = examples()?;
    let text = format!(
        r#"name = "classic"
[images]
content = "{content}"
style = ["{style}"]
init = "content"
size = {size}
[model]
weights = "{weights}"
[loss]
content_weight = 5.0
style_weight = 100.0
tv_weight = 1e-3
content_layers = {{ relu4_2 = 1.0 }}
style_layers = {{ relu1_1 = 1.0, relu2_1 = 1.0, relu3_1 = 1.0, relu4_1 = 1.0, relu5_1 = 1.0 }}
[optim]
iterations = {steps}
history = 100
device = "{device}"
[output]
snapshot_every = 0
score = false
results = "{results}"
"#,
        content = stylelab_core::config::absolute(&examples.join("chelsea.png")).display(),
        style = stylelab_core::config::absolute(&examples.join("starry_night.jpg")).display(),
        weights = weights.display(),
        results = dir.join("results").display(),
    );
    let path = dir.join("classic.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The whole `stylelab run` process, and what its run folder says.
fn stylelab_run(exe: &Path, exp: &Path, precision: &str, results: &Path) -> Result<WholeRun> {
    let before: Vec<PathBuf> = stylelab_core::review::list_runs(results)
        .into_iter()
        .map(|r| r.dir)
        .collect();
    let started = Instant::now();
    let out = super::children::output(Command::new(exe).arg("run").arg(exp).args([
        "--set",
        &format!("optim.precision=\"{precision}\""),
        "--force",
    ]))?;
    let process_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "stylelab run failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let dir = stylelab_core::review::list_runs(results)
        .into_iter()
        .map(|r| r.dir)
        .find(|d| !before.contains(d))
        .context("the run left no folder")?;
    let s = record::read_summary(&dir)?;
    let (_, rows, _) = record::read_metrics(&dir)?;
    let after_first = match (rows.get(1), rows.last()) {
        (Some(a), Some(b)) if b.iter > a.iter => (b.elapsed_s - a.elapsed_s) / (b.iter - a.iter) as f64,
        _ => s.seconds_per_step,
    };
    let at = |iter: u64| rows.iter().find(|r| r.iter == iter);
    let (per_step, per_eval) = match (at(BENCH_STEPS.0), at(BENCH_STEPS.1)) {
        (Some(a), Some(b)) if b.evals > a.evals => (
            Some((b.elapsed_s - a.elapsed_s) / (b.iter - a.iter) as f64),
            Some((b.elapsed_s - a.elapsed_s) / (b.evals - a.evals) as f64),
        ),
        _ => (None, None),
    };
    Ok(WholeRun {
        seconds_to_first_step: s.seconds_to_first_step.unwrap_or(f64::NAN),
        s_per_step: after_first,
        steps: s.steps,
        evals: s.evals,
        final_loss: s.final_losses.map_or(f64::NAN, |l| l.total),
        process_s,
        peak_gpu_mib: s.peak_gpu_mib,
        s_per_step_as_bench: per_step,
        s_per_eval_as_bench: per_eval,
        run_step_per_bench_step: None,
        run_eval_per_bench_eval: None,
    })
}

/// What every row of the end-to-end bench reads, written once to a
/// temporary folder: random VGG19 weights, the experiment, and the images
/// as raw f32 at the run's shapes for bench-one and the reference.
struct Inputs {
    tmp: PathBuf,
    exp: PathBuf,
    /// The content's and the style's (width, height).
    content_wh: (u32, u32),
    style_wh: (u32, u32),
    content: PathBuf,
    style: PathBuf,
    /// The style at the content's shape: bench-one takes both images at
    /// one shape, and the style's shape only sets the targets, which are
    /// not timed.
    style_as_content: PathBuf,
    script: PathBuf,
}

impl Inputs {
    fn write(args: &BenchArgs, device: &str) -> Result<Inputs> {
        let size = args.sizes.first().copied().unwrap_or(512);
        let tmp = super::scratch()?.join("e2e");
        std::fs::create_dir_all(tmp.join("results"))?;
        let weights = tmp.join("vgg19-random.safetensors");
        let convs = stylelab_engine::weights::random(0, "relu5_1".parse()?);
        stylelab_engine::weights::save(&weights, &convs, stylelab_engine::weights::Preprocess::Caffe, &[])?;
        let exp = experiment(&tmp, &weights, size, args.run_steps, device)?;
        // The shapes a run uses: the content's aspect, the style at the same longest side.
        let (cw, ch) = stylelab_engine::imaging::fit_longest(451, 300, size);
        let (sw, sh) = stylelab_engine::imaging::fit_longest(752, 600, size);
        let raw = |name: &str, (w, h): (u32, u32), file: &str| -> Result<PathBuf> {
            let out = tmp.join(file);
            stylelab_engine::measure::write_raw_image(&examples()?.join(name), w, h, &out)?;
            Ok(out)
        };
        let content = raw("chelsea.png", (cw, ch), "content.f32")?;
        let style = raw("starry_night.jpg", (sw, sh), "style.f32")?;
        let style_as_content = raw("starry_night.jpg", (cw, ch), "style-at-content-shape.f32")?;
        let script = tmp.join("reference.py");
        std::fs::write(&script, super::REFERENCE_SCRIPT)?;
        Ok(Inputs {
            tmp,
            exp,
            content_wh: (cw, ch),
            style_wh: (sw, sh),
            content,
            style,
            style_as_content,
            script,
        })
    }

    /// The bench's step at the run's own shape.
    fn bench_step(&self, exe: &Path, device: &str, precision: &str) -> Result<Measurement> {
        let (cw, ch) = self.content_wh;
        let o = super::children::output(
            Command::new(exe)
                .arg("bench-one")
                .args([
                    "--size",
                    &cw.to_string(),
                    "--height",
                    &ch.to_string(),
                    "--device",
                    device,
                ])
                .args(["--precision", precision, "--evals", "3"])
                .args(["--warmup", &BENCH_STEPS.0.to_string()])
                .args(["--steps", &(BENCH_STEPS.1 - BENCH_STEPS.0).to_string()])
                // The run's own L-BFGS: preconditioned and projected.
                .arg("--as-run")
                .arg("--content")
                .arg(&self.content)
                .arg("--style")
                .arg(&self.style_as_content),
        )?;
        last_json_line::<Measurement>(&o, "bench-one")
    }

    /// The PyTorch reference's whole run, timed from its start to its exit.
    fn reference(&self, python: &Path, args: &BenchArgs, device: &str, precision: &str) -> Result<WholeRun> {
        let ((cw, ch), (sw, sh)) = (self.content_wh, self.style_wh);
        let started = Instant::now();
        let o = super::children::output(
            super::reference_command(python)
                .arg(&self.script)
                .args(["--run-steps", &args.run_steps.to_string(), "--device", device])
                // As the run keeps its image: `optim.bounds`' default.
                .args(["--bounds", "box"])
                .args(["--precision", precision])
                .args([
                    "--content-hw",
                    &format!("{ch},{cw}"),
                    "--style-hw",
                    &format!("{sh},{sw}"),
                ])
                .arg("--content")
                .arg(&self.content)
                .arg("--style")
                .arg(&self.style)
                .arg("--out")
                .arg(self.tmp.join("reference-final.f32")),
        )?;
        let r = last_json_line::<WholeRun>(&o, "the PyTorch reference")?;
        Ok(WholeRun {
            process_s: started.elapsed().as_secs_f64(),
            ..r
        })
    }
}

/// Runs the end-to-end rows and prints them.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let device = match args.device.as_str() {
        "all" if tch::Cuda::is_available() => "cuda".to_string(),
        "all" => "cpu".to_string(),
        d => d.to_string(),
    };
    let inputs = Inputs::write(args, &device)?;
    let (cw, ch) = inputs.content_wh;
    if !args.json {
        say!(
            "the whole run: chelsea.png ({cw}×{ch}) in the style of starry_night.jpg, {} steps of L-BFGS, random \
             VGG19 to relu5_1, on {device}; the command to its exit; {}",
            args.run_steps,
            super::allocator_note()
        );
        say!(
            "{:<5} {:<9} {:>9} {:>12} {:>9} {:>7} {:>7} {:>12}  run step ÷ bench step (steps {}–{})",
            "prec",
            "impl",
            "process s",
            "to 1st step s",
            "ms/step",
            "steps",
            "evals",
            "final loss",
            BENCH_STEPS.0 + 1,
            BENCH_STEPS.1
        );
    }
    for precision in &args.precisions {
        if precision == "fp16" && device == "cpu" {
            continue;
        }
        let ours = stylelab_run(&exe, &inputs.exp, precision, &inputs.tmp.join("results"));
        let bench = inputs.bench_step(&exe, &device, precision);
        let ratio = |ours: Option<f64>, bench: f64| {
            ours.map_or("-".into(), |o| {
                format!("{:.2} ({:.1} ms ÷ {:.1} ms)", o / bench, o * 1e3, bench * 1e3)
            })
        };
        let tail = match (&ours, &bench) {
            (Ok(r), Ok(_)) if r.s_per_step_as_bench.is_none() => format!(
                "not compared: the run made {} steps, the bench times steps {}–{}",
                r.steps,
                BENCH_STEPS.0 + 1,
                BENCH_STEPS.1
            ),
            (Ok(r), Ok(b)) => format!(
                "{}; per evaluation {}",
                ratio(r.s_per_step_as_bench, b.s_per_step),
                ratio(r.s_per_eval_as_bench, b.s_per_eval)
            ),
            (_, Err(e)) => format!("bench failed: {e:#}"),
            _ => String::new(),
        };
        let ours = ours.map(|r| WholeRun {
            run_step_per_bench_step: bench
                .as_ref()
                .ok()
                .zip(r.s_per_step_as_bench)
                .map(|(b, o)| o / b.s_per_step),
            run_eval_per_bench_eval: bench
                .as_ref()
                .ok()
                .zip(r.s_per_eval_as_bench)
                .map(|(b, o)| o / b.s_per_eval),
            ..r
        });
        print_whole(precision, "stylelab", ours, &tail, args.json);
        if !args.no_reference {
            let theirs = inputs.reference(&python, args, &device, precision);
            print_whole(precision, "pytorch", theirs, "", args.json);
        }
    }
    let _ = std::fs::remove_dir_all(&inputs.tmp);
    Ok(ExitCode::SUCCESS)
}

/// One row; a failed run is printed as failed.
fn print_whole(precision: &str, implementation: &str, r: Result<WholeRun>, tail: &str, json: bool) {
    if json {
        let mut v = match &r {
            Ok(r) => serde_json::to_value(r).unwrap_or_default(),
            Err(e) => serde_json::json!({ "failed": format!("{e:#}") }),
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("precision".into(), precision.into());
            o.insert("implementation".into(), implementation.into());
        }
        say!("{v}");
        return;
    }
    match r {
        Ok(r) => say!(
            "{precision:<5} {implementation:<9} {:>9.2} {:>12.2} {:>9.2} {:>7} {:>7} {:>12.4e}  {tail}",
            r.process_s,
            r.seconds_to_first_step,
            r.s_per_step * 1e3,
            r.steps,
            r.evals,
            r.final_loss
        ),
        Err(e) => say!("{precision:<5} {implementation:<9} failed: {e:#}"),
    }
}
