//! `stylelab bench --time-to-quality`: how long stylelab takes to reach
//! the quality a strong PyTorch user's run reaches, and with which
//! speed-ups. The PyTorch reference (`reference_pytorch.py --trace`:
//! L-BFGS with the strong-Wolfe search, history 100, fp32, the same
//! objective) runs the classic problem for a budget of evaluations; its
//! final loss is the target. Both minimise the loss at the image clamped
//! to [0, 1] (`--bounds box`, stylelab's default: the reference pulls a
//! value outside back, stylelab's L-BFGS projects its steps onto the box
//! and never leaves it), or both leave the image free (`--bounds none`), and
//! before anything is timed both evaluate at an image outside [0, 1]
//! and must agree there. stylelab then runs the same experiment as a
//! user would write it, and as each speed-up would run it, each until a
//! metrics row at the full size reaches the target. Both sides load the
//! same weights file and the same pixels (stylelab's own resize, handed
//! to the reference as raw floats), and the bench ends the row as written
//! at its first metrics row, with an error, when their first losses
//! differ by more than 1e-5 relative.
//!
//! Reaching the loss is not the whole of quality: the image there (or a
//! step later: the run reads the bench's request between steps) is
//! scored alike (8-bit, as saved), so a speed-up that reaches the loss
//! with a worse image shows. The run then goes on (`--go-on`: until twice
//! its time to the target by default), keeping 40 images over that window
//! (the bench asks through the control file, so the time to the target is
//! measured with none kept), and the last column says when the first of those had both
//! content_dist and style_dist no worse than the reference's final
//! image's: the time to the reference's quality by every measure. The
//! loss column is each run's own at the row that reached the target (a
//! bf16 run's is its bf16 evaluation: the saved 8-bit image's fp32 loss
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

/// What a row is timed against.
struct Goal<'a> {
    /// The reference's final loss.
    target: f64,
    /// Its final image's scores.
    scores: Option<&'a record::Scores>,
    /// Its first loss, when this row checks that both sides see one
    /// problem: the run is ended at its first row when its own differs by
    /// more than 1e-5 relative.
    same_problem: Option<f64>,
}

/// One stylelab row.
struct Row {
    name: String,
    /// Process seconds to the first full-size row at or below the target.
    reached_s: Option<f64>,
    /// Process seconds to the first image kept from then on whose scores
    /// are both no worse than the reference's (None: not within
    /// `--go-on` times its time to the target, on the run's clock).
    no_worse_s: Option<f64>,
    /// The run's own loss at that row (unreached: at its last row), and
    /// the scores of the first image kept from then on (that row's, or a
    /// step later's; unreached: the final image's).
    loss: f64,
    scores: Option<record::Scores>,
}

/// Images kept over the window after the target is reached, in which the
/// scores may catch up (as `snapshot` commands, so that the time to the
/// target is measured with none).
const IMAGES_KEPT: f64 = 40.0;

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
        "chelsea.png in the style of starry_night.jpg; weights 5, 100, 1e-3; {}; the PyTorch reference: L-BFGS \
         (strong Wolfe, history 100), fp32, {} evaluations, of the same objective; stylelab (with {}× as many steps) until a full-size row reaches \
         its final loss, then until {}× that time; seconds from each process's start; the loss and the scores (of the saved \
         8-bit images) where the loss is reached; no worse: when content_dist and style_dist are both first no worse \
         than the reference's; {}; on {device}",
        if args.bounds == "box" {
            "both images kept in [0, 1] (the loss at the clamped image; the reference pulls values outside back, \
             stylelab's L-BFGS projects its steps onto [0, 1])"
        } else {
            "both images free (the loss at the unclamped image; saving clamps it)"
        },
        args.budget,
        steps_per_evaluation(args.go_on),
        args.go_on,
        super::allocator_note()
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
    let steps = args.budget * steps_per_evaluation(args.go_on);
    let exp = experiment(dir, problem, size, steps, (device, &args.bounds))?;
    let (reference, agreement) = reference(args, device, &exp, problem, dir)?;
    let target = reference.final_loss;
    let reference_s = reference.trace.last().map_or(f64::NAN, |p| p.0);
    say!(
        "\n{size} px, {}: the reference's final loss {target:.6e} after {} evaluations in {reference_s:.1} s; \
         at an image outside [0, 1] the two objectives' losses are {:.0e}, pulls {:.0e} and gradients {:.0e} \
         apart",
        problem.name,
        reference.evals,
        agreement.loss,
        agreement.pull,
        agreement.grad
    );
    say!(
        "{:<22} {:>11} {:>8} {:>13} {:>13} {:>11} {:>14} {:>8}",
        "",
        "reached (s)",
        "× ref",
        "loss there",
        "content_dist",
        "style_dist",
        "no worse (s)",
        "× ref"
    );
    let ref_image = raw_image(&dir.join("reference.raw"), &exp)?;
    let yardstick = Yardstick::new(&exp, ref_image.width().max(ref_image.height()))?;
    let ref_scores = yardstick.score(&ref_image);
    print_row(
        &Row {
            name: "pytorch reference".into(),
            reached_s: Some(reference_s),
            no_worse_s: Some(reference_s),
            loss: target,
            scores: ref_scores.clone(),
        },
        reference_s,
        args.go_on,
    );
    let chosen = VARIANTS
        .iter()
        .filter(|(key, ..)| key.is_empty() || args.speedups.iter().any(|s| s == key));
    for &(key, name, sets) in chosen {
        // The row as written checks that both sides see one problem.
        let same_problem = key.is_empty().then_some(reference.first_loss);
        let goal = Goal {
            target,
            scores: ref_scores.as_ref(),
            same_problem,
        };
        let row = variant(&exp, (name, sets), &goal, (&yardstick, args.go_on), dir)?;
        print_row(&row, reference_s, args.go_on);
    }
    Ok(())
}

/// A run's steps per reference evaluation: room to reach the reference's
/// loss (a run needs up to ~1.3 evaluations of the reference's for one of
/// its own, a coarse-to-fine schedule's fifth at the top) and to go on for
/// `go_on` times as long; 3 at the default `--go-on 2`.
fn steps_per_evaluation(go_on: f64) -> u64 {
    (go_on + 1.0).ceil() as u64
}

fn print_row(row: &Row, reference_s: f64, go_on: f64) {
    let seconds = |t: Option<f64>, none: &str| match t {
        Some(s) => (format!("{s:.1}"), format!("{:.2}", s / reference_s)),
        None => (none.to_string(), "-".into()),
    };
    let (reached, ratio) = seconds(row.reached_s, "not reached");
    // Looked for only when the loss was reached and the reference scored.
    let looked = row.reached_s.is_some() && row.scores.is_some();
    let not_by = format!("not by {go_on}×");
    let (no_worse, no_worse_ratio) = seconds(row.no_worse_s, if looked { &not_by } else { "-" });
    let (c, s) = row.scores.as_ref().map_or(("-".into(), "-".into()), |s| {
        (significant(s.content_dist), significant(s.style_dist))
    });
    say!(
        "{:<22} {reached:>11} {ratio:>8} {:>13.6e} {c:>13} {s:>11} {no_worse:>14} {no_worse_ratio:>8}",
        row.name,
        row.loss
    );
}

/// A score with four significant digits (style_dist in the box is a few
/// thousandths: four decimals would keep two).
fn significant(x: f64) -> String {
    let decimals = if x.is_finite() && x > 0.0 {
        (3 - x.log10().floor() as i32).clamp(0, 12) as usize
    } else {
        4
    };
    format!("{x:.decimals$}")
}

/// The classic experiment as a user writes it, at `size`, from the
/// content, with `optim.bounds` as `--bounds` says (the memory format `auto`, measured by a 1-step run before
/// each timed one: timed as a user's later runs go, with the choice
/// cached), with `steps` steps (a run is stopped once it has gone on
/// long enough).
fn experiment(
    dir: &Path,
    problem: &Problem,
    size: u32,
    steps: u64,
    (device, bounds): (&str, &str),
) -> Result<Experiment> {
    let examples = examples()?;
    let style_layers: Vec<String> = problem.style.iter().map(|l| format!("{l} = 1.0")).collect();
    let text = format!(
        "name = \"classic\"\n[images]\ncontent = {c}\nstyle = [{s}]\ninit = \"content\"\nsize = {size}\n\
         [model]\nweights = {w}\n[loss]\ncontent_weight = 5.0\nstyle_weight = 100.0\n\
         tv_weight = 1e-3\ncontent_layers = {{ {content} = 1.0 }}\nstyle_layers = {{ {style} }}\n\
         [optim]\niterations = {steps}\nhistory = 100\ndevice = \"{device}\"\nbounds = \"{bounds}\"\n\
         [output]\nsnapshot_every = 0\nscore = false\ntensorboard = false\nresults = {r}\n",
        c = toml_string(&stylelab_core::config::absolute(&examples.join("chelsea.png"))),
        s = toml_string(&stylelab_core::config::absolute(&examples.join("starry_night.jpg"))),
        w = toml_string(&problem.weights),
        r = toml_string(&dir.join("results")),
        content = problem.content,
        style = style_layers.join(", "),
    );
    let path = dir.join("classic.toml");
    std::fs::write(&path, &text)?;
    Ok(stylelab_core::config::parse(&path, &text, &[])?)
}

fn toml_string(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The reference's trace, on the run's own pixels written as raw floats,
/// once [`same_objective`] has found both sides' objectives alike; and
/// how closely they agreed.
fn reference(
    args: &BenchArgs,
    device: &str,
    exp: &Experiment,
    problem: &Problem,
    dir: &Path,
) -> Result<(Reference, Agreement)> {
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
    let command = |device: &str| {
        let mut cmd = super::reference_command(&python);
        cmd.arg(&script)
            .args(["--device", device, "--bounds", &args.bounds])
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
            ]);
        cmd
    };
    let agreement = same_objective(exp, &first.content, dir, command("cpu"))?;
    let out = super::children::output(
        command(device)
            .args(["--trace", &args.budget.to_string()])
            .arg("--out")
            .arg(dir.join("reference.raw")),
    )
    .context("cannot run the PyTorch reference")?;
    Ok((last_json_line(&out, "the PyTorch reference")?, agreement))
}

/// One evaluation's numbers, as the reference's `--check-at` prints them.
#[derive(Debug, Deserialize)]
struct Evaluated {
    /// The loss (at the clamped image, with bounds).
    loss: f64,
    /// The pull back into [0, 1] (0 without bounds).
    pull: f64,
}

/// How far apart the two sides' objectives were at the check's image:
/// the relative differences of the loss and the pull, and the gradients'
/// difference relative to stylelab's (in the L2 norm over every pixel).
struct Agreement {
    loss: f64,
    pull: f64,
    grad: f64,
}

/// The most the two sides' losses at the check's image may differ by,
/// relative (the first losses' rule).
const SAME_LOSS: f64 = 1e-5;
/// The most their pulls (made of a maximum and a sum over every pixel)
/// and their gradients may differ by, relative.
const SAME_GRADIENT: f64 = 1e-4;

/// Both sides evaluate at the content (which sets the pull's μ, as a
/// run's first evaluation does), then at an image that lies outside
/// [0, 1] (the content stretched to [−0.2, 1.2]); an error when the loss,
/// the pull or the gradient there differ by more than [`SAME_LOSS`] /
/// [`SAME_GRADIENT`] relative: the two sides would time different
/// objectives. `reference` is the reference's command, to which
/// `--check-at` is added. Both store the network as NCHW (the
/// reference's layout in fp32; no memory-format probe is made here).
fn same_objective(exp: &Experiment, content: &tch::Tensor, dir: &Path, mut reference: Command) -> Result<Agreement> {
    use stylelab_engine::optim::Objective;
    let stretched = content * 1.4 - 0.2;
    let (raw, grad_raw) = (dir.join("check.raw"), dir.join("check-grad.raw"));
    write_raw(&stretched, &raw)?;
    let out = super::children::output(reference.arg("--check-at").arg(&raw).arg("--out").arg(&grad_raw))
        .context("cannot run the PyTorch reference")?;
    let theirs: Evaluated = last_json_line(&out, "the PyTorch reference's check")?;
    let (h, w) = (content.size()[2] as u32, content.size()[3] as u32);
    let their_grad = stylelab_engine::measure::read_raw_image(&grad_raw, w, h, tch::Device::Cpu)?;
    let exp = Experiment {
        memory_format: stylelab_core::config::MemoryFormat::Nchw,
        ..exp.clone()
    };
    let mut prepared = stylelab_engine::prepare(&exp, tch::Device::Cpu)?;
    let x = stretched.to_device(prepared.x.device());
    prepared.objective.evaluate(&prepared.x)?;
    let eval = prepared.objective.evaluate(&x)?;
    let values = Vec::<f64>::try_from(eval.values.to_device(tch::Device::Cpu))?;
    let parts = prepared.objective.breakdown(&values);
    let norm = |t: &tch::Tensor| t.to_kind(tch::Kind::Double).norm().double_value(&[]);
    let ours = eval.grad.to_device(tch::Device::Cpu);
    let apart = |a: f64, b: f64| {
        if a == b {
            0.0
        } else {
            (a - b).abs() / a.abs().max(b.abs())
        }
    };
    let agreement = Agreement {
        loss: apart(parts.total, theirs.loss),
        pull: apart(parts.pull, theirs.pull),
        grad: norm(&(&ours - &their_grad)) / norm(&ours),
    };
    // (NaN fails every comparison.)
    if !(agreement.loss <= SAME_LOSS && agreement.pull <= SAME_GRADIENT && agreement.grad <= SAME_GRADIENT) {
        bail!(
            "the two sides see different objectives at an image outside [0, 1]: loss {:.9e} and {:.9e}, pull \
             {:.9e} and {:.9e} (stylelab, PyTorch), gradients {:.1e} apart (relative)",
            parts.total,
            theirs.loss,
            parts.pull,
            theirs.pull,
            agreement.grad
        );
    }
    Ok(agreement)
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
    let t = stylelab_engine::measure::read_raw_image(path, p.width, p.height, tch::Device::Cpu)?;
    Ok(stylelab_engine::imaging::from_tensor(&t))
}

/// The yardstick for one table's images (all at the full size).
struct Yardstick {
    scorer: stylelab_engine::score::Scorer,
    targets: stylelab_engine::score::Targets,
}

impl Yardstick {
    /// At the default scoring size, or the images' own when smaller.
    fn new(exp: &Experiment, longest_side: u32) -> Result<Self> {
        let sha = stylelab_engine::weights::sha256_file(&exp.weights)?;
        let size = stylelab_engine::score::DEFAULT_SIZE.min(longest_side);
        let scorer = stylelab_engine::score::Scorer::new(&exp.weights, &sha, size, tch::Device::Cpu)?;
        let targets = stylelab_engine::score::experiment_targets(&scorer, exp)?;
        Ok(Yardstick { scorer, targets })
    }

    fn score(&self, image: &image::RgbImage) -> Option<record::Scores> {
        self.scorer.score(image, &self.targets).ok()
    }

    /// An image file's scores.
    fn score_file(&self, path: &Path) -> Result<Option<record::Scores>> {
        let image = stylelab_core::imaging::decode(path).map_err(anyhow::Error::msg)?;
        Ok(self.score(&image))
    }
}

/// Whether `s` is no worse than `reference` on both distances.
fn no_worse(s: Option<&record::Scores>, reference: &record::Scores) -> bool {
    s.is_some_and(|s| s.content_dist <= reference.content_dist && s.style_dist <= reference.style_dist)
}

/// One variant: `stylelab run` with its overrides, followed until a
/// full-size row reaches the target loss, then until `go_on` times that
/// time with images kept (see [`follow`]); the image at the target is scored,
/// and the first kept image whose scores are no worse than the
/// reference's is found.
fn variant(
    exp: &Experiment,
    (name, sets): (&str, &[&str]),
    goal: &Goal,
    (yardstick, go_on): (&Yardstick, f64),
    dir: &Path,
) -> Result<Row> {
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
    // (Read before the run starts: an error here leaves no child behind.)
    let width = {
        let inputs = stylelab_engine::inputs::Inputs::load(exp, tch::Device::Cpu).map_err(anyhow::Error::msg)?;
        inputs.plan.last().map_or(0, |p| p.width)
    };
    let mut child = run(&[])?;
    let followed = follow(&mut child, (&results, &before), width, goal, go_on)?;
    let s = record::read_summary(&followed.dir)?;
    let process_s = |elapsed: f64| s.seconds_to_first_evaluation.unwrap_or(0.0) + elapsed;
    let paths = RunPaths::new(&followed.dir);
    let Some(reach) = followed.reached else {
        return Ok(Row {
            name: name.to_string(),
            reached_s: None,
            no_worse_s: None,
            loss: s.final_losses.map_or(f64::NAN, |l| l.total),
            scores: yardstick.score_file(&paths.final_image())?,
        });
    };
    let images = kept_images(&paths, &followed.rows, reach.iter);
    let (at_reach, _) = images.first().context("the run kept no image")?;
    let scores = yardstick.score_file(at_reach)?;
    let no_worse_s = match goal.scores {
        Some(r) => first_no_worse(&images, yardstick, r)?.map(process_s),
        None => None,
    };
    Ok(Row {
        name: name.to_string(),
        reached_s: Some(process_s(reach.elapsed_s)),
        no_worse_s,
        loss: reach.total,
        scores,
    })
}

/// The images a run kept from step `from` on, oldest first, each with its
/// row's elapsed seconds: the snapshots, then the final image when it is
/// newer.
fn kept_images(paths: &RunPaths, rows: &[record::StepMetrics], from: u64) -> Vec<(PathBuf, f64)> {
    let elapsed = |iter: u64| rows.iter().find(|r| r.iter == iter).map(|r| r.elapsed_s);
    let mut images: Vec<(u64, PathBuf)> = paths.list_snapshots().into_iter().filter(|(i, _)| *i >= from).collect();
    let last = rows.last().map_or(0, |r| r.iter);
    if images.last().is_none_or(|(i, _)| *i < last) && paths.final_image().exists() {
        images.push((last, paths.final_image()));
    }
    images.into_iter().filter_map(|(i, p)| Some((p, elapsed(i)?))).collect()
}

/// The elapsed seconds of the first of `images` whose scores are no worse
/// than `reference`'s (see [`first_passing`]).
fn first_no_worse(images: &[(PathBuf, f64)], yardstick: &Yardstick, reference: &record::Scores) -> Result<Option<f64>> {
    let ok = |i: usize| -> Result<bool> { Ok(no_worse(yardstick.score_file(&images[i].0)?.as_ref(), reference)) };
    Ok(first_passing(images.len(), ok)?.map(|i| images[i].1))
}

/// The first of `n` items that passes `ok`, found by bisection: a run's
/// scores improve as it goes on, and each image scored costs a second or
/// more. None when the last fails.
fn first_passing(n: usize, mut ok: impl FnMut(usize) -> Result<bool>) -> Result<Option<usize>> {
    if n == 0 || !ok(n - 1)? {
        return Ok(None);
    }
    // The answer is in lo..=hi: hi passes.
    let (mut lo, mut hi) = (0, n - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some(hi))
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

/// What following a run found.
struct Followed {
    dir: PathBuf,
    /// The first full-size row at or below the target.
    reached: Option<record::StepMetrics>,
    rows: Vec<record::StepMetrics>,
}

/// Waits for the run's folder, then reads its rows as they come. At the
/// first row at the full size (`width` wide) at or below `goal.target` it asks
/// for a snapshot (the image there, or a step later: the run reads the
/// request between steps, and the bench looks every 0.1 s), then for
/// [`IMAGES_KEPT`] more evenly over the window up to `go_on` times that
/// time, and at its end asks the run to stop. A run whose first row is not
/// `goal.same_problem` is killed: the two sides would time different
/// problems.
fn follow(
    child: &mut Child,
    (results, before): (&Path, &[PathBuf]),
    width: u32,
    goal: &Goal,
    go_on: f64,
) -> Result<Followed> {
    use stylelab_core::events::{Control, send_control};
    let mut dir: Option<PathBuf> = None;
    let mut reached: Option<record::StepMetrics> = None;
    let mut rows = Vec::new();
    let (mut next_image, mut stopped) = (f64::INFINITY, false);
    loop {
        let done = super::children::try_wait(child)?.is_some();
        if dir.is_none() {
            dir = stylelab_core::review::list_runs(results)
                .into_iter()
                .map(|r| r.dir)
                .find(|d| !before.contains(d));
        }
        if let Some(d) = &dir
            && let Ok((_, read, _)) = record::read_metrics(d)
        {
            rows = read;
            if let (Some(theirs), Some(first)) = (goal.same_problem, rows.first()) {
                let d = (first.total - theirs).abs() / theirs.abs();
                if d > 1e-5 {
                    let _ = child.kill();
                    super::children::wait(child)?;
                    bail!(
                        "the two sides see different problems: first losses {:.9e} (stylelab) and {theirs:.9e} \
                         (PyTorch) differ by {d:.1e}",
                        first.total
                    );
                }
            }
            let now = rows.last().map_or(0.0, |r| r.elapsed_s);
            if reached.is_none()
                && let Some(r) = rows.iter().find(|r| r.width == width && r.total <= goal.target)
            {
                reached = Some(r.clone());
                next_image = now;
            }
            if let Some(r) = &reached
                && !stopped
            {
                if now >= go_on * r.elapsed_s {
                    let _ = send_control(d, Control::Stop);
                    stopped = true;
                } else if now >= next_image {
                    let _ = send_control(d, Control::SnapshotNow);
                    next_image = now + (go_on - 1.0) * r.elapsed_s / IMAGES_KEPT;
                }
            }
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Followed {
        dir: dir.context("the run left no folder")?,
        reached,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::{first_passing, significant};

    /// Scores are printed with four significant digits, small or not.
    #[test]
    fn scores_keep_four_significant_digits() {
        assert_eq!(significant(0.2558), "0.2558");
        assert_eq!(significant(0.004437), "0.004437");
        assert_eq!(significant(1.794), "1.794");
        assert_eq!(significant(0.0), "0.0000");
        assert_eq!(significant(f64::NAN), "NaN");
    }

    /// The bisection finds the first passing item in few tries, says None
    /// when the last fails, and asks nothing of an empty list.
    #[test]
    fn the_first_passing_image_is_found_by_bisection() {
        for n in 1..40 {
            for first in 0..=n {
                let mut asked = 0;
                let found = first_passing(n, |i| {
                    asked += 1;
                    Ok(i >= first)
                })
                .unwrap();
                assert_eq!(found, (first < n).then_some(first), "n {n}, first {first}");
                assert!(asked <= 2 + n.ilog2() as usize, "{asked} tries for {n}");
            }
        }
        assert_eq!(first_passing(0, |_| panic!("asked")).unwrap(), None);
    }
}
