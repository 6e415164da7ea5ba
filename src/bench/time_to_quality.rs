//! `stylelab bench --time-to-quality`: how long stylelab takes to reach
//! the quality a strong PyTorch user's run reaches, and with which
//! speed-ups. The PyTorch reference (`reference_pytorch.py --trace`:
//! L-BFGS with the strong-Wolfe search, history 100, fp32, the same
//! objective) runs the classic problem for a budget of evaluations; its
//! final loss is the target. stylelab then runs the same experiment as a
//! user would write it, and as each speed-up would run it, each until a
//! metrics row at the full size reaches the target (the bench then stops
//! it through its control file). Both sides load the same weights file
//! and the same pixels (stylelab's own resize, handed to the reference as
//! raw floats), and the bench refuses to time when their first losses
//! differ by more than 1e-5 relative. Every final image is then scored
//! alike (8-bit, as saved), so a speed-up that reaches the loss with a
//! worse image shows; the loss column is each run's own at its last row
//! (a bf16 run's is its bf16 evaluation: the saved 8-bit image's fp32 loss
//! would measure its quantisation, which dominates at these weights).

use super::say;
use super::{BenchArgs, default_python, examples, last_json_line};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;
use stylelab_core::config::Experiment;
use stylelab_core::record::{self, RunPaths};

/// The rows timed: the experiment as written, then each speed-up (named
/// as `--speedups` names it), each as `--set` overrides on the user's
/// experiment (on a CPU with AVX-512 bf16 or AMX, `auto` is bf16).
const VARIANTS: [(&str, &str, &[&str]); 5] = [
    ("", "as written (fp32)", &[]),
    ("no-precondition", "no preconditioner", &["optim.precondition=\"none\""]),
    ("auto", "precision auto", &["optim.precision=\"auto\""]),
    (
        "coarse-to-fine",
        "coarse-to-fine",
        &["optim.schedule=\"coarse-to-fine\""],
    ),
    (
        "coarse-to-fine-auto",
        "coarse-to-fine, auto",
        &["optim.schedule=\"coarse-to-fine\"", "optim.precision=\"auto\""],
    ),
];

/// A problem: the weights and the layers.
struct Problem {
    name: &'static str,
    weights: PathBuf,
    content: &'static str,
    style: &'static [&'static str],
}

/// What the reference printed.
#[derive(Debug, Deserialize)]
struct Reference {
    /// (process seconds, loss) at each evaluation.
    trace: Vec<(f64, f64)>,
    first_loss: f64,
    final_loss: f64,
    evals: u64,
}

/// One stylelab row.
struct Row {
    name: String,
    /// Process seconds to the first full-size row at or below the target.
    reached_s: Option<f64>,
    /// The run's own loss at its last row (at the full size), and the
    /// final image's scores.
    loss: f64,
    scores: Option<record::Scores>,
    first_loss: f64,
}

/// Runs the table at each of `args.sizes` for each problem.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let tmp = super::scratch()?.join("ttq");
    std::fs::create_dir_all(&tmp)?;
    let random = tmp.join("vgg19-random.safetensors");
    let convs = stylelab_engine::weights::random(0, "relu5_1".parse()?);
    stylelab_engine::weights::save(&random, &convs, stylelab_engine::weights::Preprocess::Caffe, &[])?;
    let mut problems = vec![Problem {
        name: "random VGG19, classic layers",
        weights: random,
        content: "relu4_2",
        style: &["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    }];
    let partial = PathBuf::from("weights/vgg19-caffe-conv1_1-conv3_4.safetensors");
    if partial.exists() {
        problems.push(Problem {
            name: "real partial VGG19",
            weights: stylelab_core::config::absolute(&partial),
            content: "relu3_2",
            style: &["relu1_1", "relu2_1", "relu3_1"],
        });
    }
    let device = if args.device == "all" {
        "cpu"
    } else {
        args.device.as_str()
    };
    say!(
        "chelsea.png in the style of starry_night.jpg; weights 5, 100, 1e-3; the PyTorch reference: L-BFGS (strong \
         Wolfe, history 100), fp32, {} evaluations; stylelab (with 3× as many steps) until a full-size row reaches its \
         final loss; seconds \
         from each process's start; final loss: each run's own at its last row; scores of the saved images; on {device}",
        args.budget
    );
    for &size in &args.sizes {
        for problem in &problems {
            let dir = tmp.join(format!("{size}-{}", problem.content));
            std::fs::create_dir_all(&dir)?;
            table(args, device, size, problem, &dir)?;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}

/// One table: the reference, then each variant, printed as they finish.
fn table(args: &BenchArgs, device: &str, size: u32, problem: &Problem, dir: &Path) -> Result<()> {
    let exp = experiment(dir, problem, size, args.budget, device)?;
    let reference = reference(args, device, &exp, problem, dir)?;
    let target = reference.final_loss;
    let reference_s = reference.trace.last().map_or(f64::NAN, |p| p.0);
    say!(
        "\n{size} px, {}: the reference's final loss {target:.6e} after {} evaluations in {reference_s:.1} s",
        problem.name,
        reference.evals
    );
    say!(
        "{:<22} {:>11} {:>8} {:>13} {:>13} {:>11}",
        "",
        "reached (s)",
        "× ref",
        "final loss",
        "content_dist",
        "style_dist"
    );
    let ref_image = dir.join("reference.raw");
    let ref_scores = scores(&exp, &raw_image(&ref_image, &exp)?)?;
    print_row(
        "pytorch reference",
        Some(reference_s),
        reference_s,
        &(target, ref_scores),
    );
    let chosen = VARIANTS
        .iter()
        .filter(|(key, ..)| key.is_empty() || args.speedups.iter().any(|s| s == key));
    for &(key, name, sets) in chosen {
        let row = variant(&exp, name, sets, target, dir)?;
        if key.is_empty() {
            let d = (row.first_loss - reference.first_loss).abs() / reference.first_loss.abs();
            if d > 1e-5 {
                bail!(
                    "the two sides see different problems: first losses {:.9e} (stylelab) and {:.9e} (PyTorch) differ by {d:.1e}",
                    row.first_loss,
                    reference.first_loss
                );
            }
        }
        print_row(&row.name, row.reached_s, reference_s, &(row.loss, row.scores));
    }
    Ok(())
}

fn print_row(name: &str, reached: Option<f64>, reference_s: f64, (loss, scores): &(f64, Option<record::Scores>)) {
    let (reached, ratio) = match reached {
        Some(s) => (format!("{s:.1}"), format!("{:.2}", s / reference_s)),
        None => ("not reached".into(), "-".into()),
    };
    let (c, s) = scores.as_ref().map_or(("-".into(), "-".into()), |s| {
        (format!("{:.4}", s.content_dist), format!("{:.4}", s.style_dist))
    });
    say!("{name:<22} {reached:>11} {ratio:>8} {loss:>13.6e} {c:>13} {s:>11}");
}

/// The classic experiment as a user writes it, at `size`, from the
/// content (the memory format `auto`, measured by a 1-step run before
/// each timed one: timed as a user's later runs go, with the choice
/// cached), with three times the reference's budget in steps: room to
/// reach its loss (a run is stopped once it has), and a coarse-to-fine
/// schedule's fifth at the top.
fn experiment(dir: &Path, problem: &Problem, size: u32, budget: u64, device: &str) -> Result<Experiment> {
    let examples = examples()?;
    let style_layers: Vec<String> = problem.style.iter().map(|l| format!("{l} = 1.0")).collect();
    let text = format!(
        "name = \"classic\"\n[images]\ncontent = {c}\nstyle = [{s}]\ninit = \"content\"\nsize = {size}\n\
         [model]\nweights = {w}\n[loss]\ncontent_weight = 5.0\nstyle_weight = 100.0\n\
         tv_weight = 1e-3\ncontent_layers = {{ {content} = 1.0 }}\nstyle_layers = {{ {style} }}\n\
         [optim]\niterations = {steps}\nhistory = 100\ndevice = \"{device}\"\n\
         [output]\nsnapshot_every = 0\nscore = false\ntensorboard = false\nresults = {r}\n",
        c = toml_string(&stylelab_core::config::absolute(&examples.join("chelsea.png"))),
        s = toml_string(&stylelab_core::config::absolute(&examples.join("starry_night.jpg"))),
        w = toml_string(&problem.weights),
        r = toml_string(&dir.join("results")),
        content = problem.content,
        style = style_layers.join(", "),
        steps = 3 * budget,
    );
    let path = dir.join("classic.toml");
    std::fs::write(&path, &text)?;
    Ok(stylelab_core::config::parse(&path, &text, &[])?)
}

fn toml_string(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The reference's trace, on the run's own pixels written as raw floats.
fn reference(args: &BenchArgs, device: &str, exp: &Experiment, problem: &Problem, dir: &Path) -> Result<Reference> {
    let inputs = stylelab_engine::inputs::Inputs::load(exp, tch::Device::Cpu).map_err(anyhow::Error::msg)?;
    let first = inputs.at(0)?;
    let style = &first.styles.regions[0].styles[0].0;
    let (content_raw, style_raw) = (dir.join("content.raw"), dir.join("style.raw"));
    write_raw(&first.content, &content_raw)?;
    write_raw(style, &style_raw)?;
    let hw = |t: &tch::Tensor| format!("{},{}", t.size()[2], t.size()[3]);
    let script = dir.join("reference.py");
    std::fs::write(&script, super::REFERENCE_SCRIPT)?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let out = super::children::output(
        Command::new(python)
            .arg(&script)
            .args(["--trace", &args.budget.to_string(), "--device", device])
            .arg("--weights")
            .arg(&problem.weights)
            .arg("--content")
            .arg(&content_raw)
            .args(["--content-hw", &hw(&first.content)])
            .arg("--style")
            .arg(&style_raw)
            .args(["--style-hw", &hw(style)])
            .args([
                "--content-layers",
                problem.content,
                "--style-layers",
                &problem.style.join(","),
            ])
            .arg("--out")
            .arg(dir.join("reference.raw")),
    )
    .context("cannot run the PyTorch reference")?;
    last_json_line(&out, "the PyTorch reference")
}

/// A `1×3×H×W` tensor as raw little-endian f32.
fn write_raw(t: &tch::Tensor, path: &Path) -> Result<()> {
    let v = Vec::<f32>::try_from(t.to_device(tch::Device::Cpu).contiguous().flatten(0, -1))?;
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    Ok(std::fs::write(path, bytes)?)
}

/// The reference's final image (raw f32 at the experiment's content shape) as 8-bit RGB.
fn raw_image(path: &Path, exp: &Experiment) -> Result<image::RgbImage> {
    let inputs = stylelab_engine::inputs::Inputs::load(exp, tch::Device::Cpu).map_err(anyhow::Error::msg)?;
    let p = inputs.plan.last().context("no scale")?;
    let bytes = std::fs::read(path)?;
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let t = tch::Tensor::from_slice(&v).view([1, 3, p.height as i64, p.width as i64]);
    Ok(stylelab_engine::imaging::from_tensor(&t))
}

/// An image's scores with the yardstick at its default size.
fn scores(exp: &Experiment, image: &image::RgbImage) -> Result<Option<record::Scores>> {
    let sha = stylelab_engine::weights::sha256_file(&exp.weights)?;
    let size = stylelab_engine::score::DEFAULT_SIZE.min(image.width().max(image.height()));
    let scorer = stylelab_engine::score::Scorer::new(&exp.weights, &sha, size, tch::Device::Cpu)?;
    let targets = stylelab_engine::score::experiment_targets(&scorer, exp)?;
    Ok(scorer.score(image, &targets).ok())
}

/// One variant: `stylelab run` with its overrides, followed until a
/// full-size row reaches `target` (then stopped), and its image measured.
fn variant(exp: &Experiment, name: &str, sets: &[&str], target: f64, dir: &Path) -> Result<Row> {
    let results = dir.join("results");
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let run = |more: &[&str]| {
        let mut cmd = Command::new(&exe);
        cmd.arg("run").arg(&exp.source).arg("--force");
        for s in sets.iter().chain(more) {
            cmd.args(["--set", s]);
        }
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", name.replace([' ', ',', '(', ')'], "_"))))?;
        anyhow::Ok(super::children::spawn(
            cmd.stdout(log.try_clone()?).stderr(log).stdin(Stdio::null()),
        )?)
    };
    // The memory format's probe, kept in the cache for the timed run: it
    // probes at its first scale, which a 1-step run at that size shares.
    let first = format!("images.size={}", first_scale_side(exp, sets)?);
    let status = super::children::wait(&mut run(&["optim.iterations=1", &first])?)?;
    if !status.success() {
        bail!(
            "{name}: the 1-step run that measures the memory format failed ({status}); see its log in {}",
            dir.display()
        );
    }
    let before: Vec<PathBuf> = stylelab_core::review::list_runs(&results)
        .into_iter()
        .map(|r| r.dir)
        .collect();
    let mut child = run(&[])?;
    let run = follow(&mut child, &results, &before, exp, target)?;
    let s = record::read_summary(&run.0)?;
    let image = stylelab_core::imaging::decode(&RunPaths::new(&run.0).final_image()).map_err(anyhow::Error::msg)?;
    Ok(Row {
        name: name.to_string(),
        reached_s: run
            .1
            .map(|elapsed| s.seconds_to_first_evaluation.unwrap_or(0.0) + elapsed),
        loss: s.final_losses.map_or(f64::NAN, |l| l.total),
        scores: scores(exp, &image)?,
        first_loss: run.2,
    })
}

/// The longest side of the first scale `exp` with `sets` runs.
fn first_scale_side(exp: &Experiment, sets: &[&str]) -> Result<u32> {
    let overrides = sets
        .iter()
        .map(|s| stylelab_core::config::Override::parse(s).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let text = std::fs::read_to_string(&exp.source)?;
    let exp = stylelab_core::config::parse(&exp.source, &text, &overrides)?;
    let inputs = stylelab_engine::inputs::Inputs::load(&exp, tch::Device::Cpu).map_err(anyhow::Error::msg)?;
    Ok(inputs.plan.first().map_or(0, |p| p.width.max(p.height)))
}

/// Waits for the run's folder, then reads its rows as they come; at the
/// first full-size row at or below `target`, asks the run to stop. Returns
/// the folder, that row's elapsed seconds (None: never reached), and the
/// first row's loss.
fn follow(
    child: &mut Child,
    results: &Path,
    before: &[PathBuf],
    exp: &Experiment,
    target: f64,
) -> Result<(PathBuf, Option<f64>, f64)> {
    let width = {
        let inputs = stylelab_engine::inputs::Inputs::load(exp, tch::Device::Cpu).map_err(anyhow::Error::msg)?;
        inputs.plan.last().map_or(0, |p| p.width)
    };
    let mut dir: Option<PathBuf> = None;
    let mut reached = None;
    let mut first = f64::NAN;
    loop {
        let done = super::children::try_wait(child)?.is_some();
        if dir.is_none() {
            dir = stylelab_core::review::list_runs(results)
                .into_iter()
                .map(|r| r.dir)
                .find(|d| !before.contains(d));
        }
        if let Some(d) = &dir
            && let Ok((_, rows, _)) = record::read_metrics(d)
        {
            first = rows.first().map_or(f64::NAN, |r| r.total);
            if reached.is_none()
                && let Some(r) = rows.iter().find(|r| r.width == width && r.total <= target)
            {
                reached = Some(r.elapsed_s);
                let _ = stylelab_core::events::send_control(d, stylelab_core::events::Control::Stop);
            }
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok((dir.context("the run left no folder")?, reached, first))
}
