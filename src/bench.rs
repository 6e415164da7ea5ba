//! `stylelab bench`: what users wait for. For each device, size and
//! precision it measures, in fresh processes run alternately with a plain
//! PyTorch implementation of the same problem (`src/bench/reference_pytorch.py`):
//!
//! - seconds per evaluation (one forward and backward pass of the whole
//!   objective: VGG19 to relu5_1 with random weights, content relu4_2,
//!   style relu1_1 … relu5_1, tv; the example cat in the style of the
//!   example Starry Night, squared to the size);
//! - seconds per L-BFGS step (history 100, strong-Wolfe line search, the
//!   optimizer a run uses), evaluations per step, and reads from the
//!   device per step, so the optimizer's own cost shows;
//! - peak memory (resident set on CPU, NVML's per-process figure on CUDA).
//!
//! The PyTorch side runs `torch.optim.LBFGS` the same way, its bf16 rows
//! under `torch.autocast` with channels-last storage. Each figure is the
//! median of the repeats; `--json` prints one object per row instead of
//! the table.

mod children;
mod end_to_end;
mod listing;
pub mod one;
mod quality;
mod style_losses;
mod tensorboard;
mod tiles;
mod time_to_quality;

use stylelab_engine::measure::{Measurement, write_raw_image};

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The PyTorch reference, built into the binary and written to a temporary
/// file when `bench` runs it.
const REFERENCE_SCRIPT: &str = include_str!("bench/reference_pytorch.py");

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Image sizes (square, px).
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    pub sizes: Vec<u32>,
    /// cpu, cuda, or all (cpu, plus cuda when available).
    #[arg(long, default_value = "all")]
    pub device: String,
    /// Precisions: fp32, bf16, and fp16 (CUDA only).
    #[arg(long, value_delimiter = ',', default_value = "fp32,bf16")]
    pub precisions: Vec<String>,
    #[command(flatten)]
    pub counts: one::Counts,
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
    /// Print one JSON object per row instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Instead: time `stylelab runs` on N run folders made in a temporary folder.
    #[arg(long, value_name = "N")]
    pub listing: Option<usize>,
    /// Instead: run EXP 100 steps in fp32 and bf16 at each size, L-BFGS and
    /// Adam, and compare their losses.
    #[arg(long, value_name = "EXP")]
    pub quality: Option<PathBuf>,
    /// Also replay the reference's forward and backward as one CUDA graph
    /// (CUDA only): what PyTorch can do at its fastest.
    #[arg(long)]
    pub cuda_graph: bool,
    /// Instead: the whole `stylelab run` process of the classic problem
    /// (chelsea.png in the style of starry_night.jpg at --sizes' first size,
    /// random VGG19 to relu5_1, content relu4_2, style relu1_1…relu5_1,
    /// L-BFGS history 100, both keeping the image in [0, 1]) against the
    /// reference's whole script: seconds to
    /// the first step, per step, in all, and the run's step against the
    /// bench's at the same shape.
    #[arg(long)]
    pub end_to_end: bool,
    /// Steps of the --end-to-end run (its step is compared with the bench's over steps 3–22: at least 22).
    #[arg(long, default_value_t = 500)]
    pub run_steps: u64,
    /// Instead: seconds per evaluation of each style statistic (gram,
    /// mean_std, histogram, sliced_wasserstein) and of Gram over two
    /// regions, against plain Gram, at --sizes on --device (cpu when all), fp32.
    #[arg(long)]
    pub style_losses: bool,
    /// Instead: what the TensorBoard sink costs a run, timed in this process
    /// on a 100-step run's events at each of --sizes (17 scalars a step, a
    /// snapshot every 50 steps, the final image).
    #[arg(long)]
    pub tensorboard: bool,
    /// Instead: seconds per evaluation tiled in tiles of each of these
    /// sides (px), against one pass, at --sizes on --device (cpu when
    /// all), fp32, with each tiling's overlap.
    #[arg(long, value_delimiter = ',', value_name = "PX,…")]
    pub tiles: Vec<u32>,
    /// Instead: seconds to reach the quality of the PyTorch reference's run
    /// of --budget evaluations (its final loss, at the full size), for the
    /// classic problem at --sizes, as a user writes it and with each
    /// speed-up: the run's own loss where it reached the target and the
    /// scores of its image there, then when both scores were first no worse
    /// than the reference's. Both sides keep the image in [0, 1] or leave
    /// it free as --bounds says, and must agree at an image outside [0, 1]
    /// before anything is timed.
    #[arg(long)]
    pub time_to_quality: bool,
    /// The reference's evaluations for --time-to-quality.
    #[arg(long, default_value_t = 500)]
    pub budget: u64,
    /// How long --time-to-quality lets each run go on, as a multiple of
    /// its time to the reference's loss, for its scores to catch up with
    /// the reference's, on the run's clock (from its first evaluation);
    /// from 1 to 100 (1: stop at the loss).
    #[arg(long, default_value_t = 2.0, value_name = "TIMES", value_parser = go_on_times)]
    pub go_on: f64,
    /// The speed-ups --time-to-quality times after the row as written
    /// (which always runs: it checks that both sides see one problem).
    #[arg(long, value_delimiter = ',', default_value = "no-precondition,auto,coarse-to-fine,coarse-to-fine-auto",
          value_parser = ["no-precondition", "auto", "coarse-to-fine", "coarse-to-fine-auto"])]
    pub speedups: Vec<String>,
    /// --time-to-quality's `optim.bounds`, on both sides: box keeps the
    /// image in [0, 1] (the reference with the same clamp and pull back),
    /// none leaves both free (the loss at the unclamped image).
    /// (--end-to-end and the rows always keep both in [0, 1], as a run
    /// does; the CUDA-graph row leaves it free.)
    #[arg(long, default_value = "box", value_parser = ["box", "none"])]
    pub bounds: String,
}

/// `--go-on`: a finite multiple of at least 1.
fn go_on_times(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (1.0..=100.0).contains(&x) => Ok(x),
        _ => Err(format!("{s:?} is not a multiple from 1 to 100")),
    }
}

/// The measurement a `bench-one` or reference process printed: its last
/// line starting with `{`. A failed process is an error carrying the last
/// line of its stderr (the error, not a traceback's start).
fn last_json_line<T: serde::de::DeserializeOwned>(out: &std::process::Output, what: &str) -> Result<T> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        bail!("{what} failed ({}): {last}", out.status);
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{what} printed no result"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed {line}"))
}

/// The median of each figure over the repeats (the peak memory: the
/// largest seen).
fn median_of(runs: Vec<Measurement>) -> Option<Measurement> {
    let median = |f: fn(&Measurement) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let first = runs.first()?.clone();
    Some(Measurement {
        s_per_eval: median(|m| m.s_per_eval),
        s_per_step: median(|m| m.s_per_step),
        evals_per_step: median(|m| m.evals_per_step),
        host_reads_per_step: median(|m| m.host_reads_per_step),
        peak_mib: runs.iter().map(|m| m.peak_mib).fold(0.0, f64::max),
        s_per_direction_full: first
            .s_per_direction_full
            .map(|_| median(|m| m.s_per_direction_full.unwrap_or(0.0))),
        s_per_direction_full_as_run: first
            .s_per_direction_full_as_run
            .map(|_| median(|m| m.s_per_direction_full_as_run.unwrap_or(0.0))),
        s_overhead: first.s_overhead.map(|_| median(|m| m.s_overhead.unwrap_or(0.0))),
        ..first
    })
}

/// A command running the PyTorch reference under `python`, with the host
/// allocator set as stylelab's own (docs/reference.md, "Host memory"): the
/// two sides differ in their work, not in how glibc hands out memory.
fn reference_command(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    if let Some(tunables) = stylelab_engine::device::host_allocator_tunables() {
        cmd.env("GLIBC_TUNABLES", tunables);
    }
    cmd
}

/// How the header says both sides' host allocator is set.
fn allocator_note() -> &'static str {
    if stylelab_engine::device::host_allocator_tunables().is_some() {
        "both sides keep freed host memory (glibc, as a run does)"
    } else {
        "the host allocator as the environment sets it, on both sides"
    }
}

fn default_python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// The folder holding the bench's images: ./examples, or the source tree's.
fn examples() -> Result<PathBuf> {
    [PathBuf::from("examples"), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")]
        .into_iter()
        .find(|d| d.join("chelsea.png").exists())
        .context("the bench's images (examples/chelsea.png, examples/starry_night.jpg) are not here: run it from the project folder")
}

/// The example images the bench optimises (the cat in the style of The
/// Starry Night, resized to `width × height`), written once as raw float32
/// files both implementations read.
fn images(width: u32, height: u32) -> Result<(PathBuf, PathBuf)> {
    let examples = examples()?;
    let dir = scratch()?;
    let (content, style) = (
        dir.join(format!("content-{width}x{height}.f32")),
        dir.join(format!("style-{width}x{height}.f32")),
    );
    if !content.exists() {
        write_raw_image(&examples.join("chelsea.png"), width, height, &content)?;
        write_raw_image(&examples.join("starry_night.jpg"), width, height, &style)?;
    }
    Ok((content, style))
}

/// A `bench-one` process of the example images at `size` px on `device`,
/// timing `evals` evaluations and one step after two warm-ups; callers add
/// what they vary.
fn bench_one_command(exe: &Path, (content, style): (&Path, &Path), size: u32, device: &str, evals: usize) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("bench-one")
        .arg("--content")
        .arg(content)
        .arg("--style")
        .arg(style)
        .args(["--size", &size.to_string(), "--device", device])
        .args(["--evals", &evals.to_string(), "--steps", "1", "--warmup", "2"]);
    cmd
}

/// The bench's other modes (`--listing`, `--quality`, `--end-to-end`,
/// `--tensorboard`, `--time-to-quality`, `--tiles`, `--style-losses`): the
/// one asked for, run; None for the rows against PyTorch.
fn other_bench(args: &BenchArgs) -> Option<Result<ExitCode>> {
    // Modes measured on one device take the CPU when asked for all.
    let device = if args.device == "all" {
        "cpu"
    } else {
        args.device.as_str()
    };
    Some(if let Some(n) = args.listing {
        listing::run(n)
    } else if let Some(exp) = &args.quality {
        quality::run_quality(exp, &args.sizes, 100)
    } else if args.end_to_end {
        end_to_end::run(args)
    } else if args.tensorboard {
        tensorboard::run(&args.sizes)
    } else if args.time_to_quality {
        time_to_quality::run(args)
    } else if !args.tiles.is_empty() {
        tiles::run(
            &args.sizes,
            &args.tiles,
            device,
            args.counts.evals,
            args.repeats,
            args.json,
        )
    } else if args.style_losses {
        style_losses::run(&args.sizes, device, args.counts.evals, args.repeats, args.json)
    } else {
        return None;
    })
}

/// The devices asked for, checked.
fn devices(arg: &str) -> Result<Vec<String>> {
    Ok(match arg {
        "all" => {
            let mut d = vec!["cpu".to_string()];
            if tch::Cuda::is_available() {
                d.push("cuda".into());
            }
            d
        }
        other => {
            one::parse_device(other)?;
            vec![other.to_string()]
        }
    })
}

/// Prints a line of the bench's report, as `println!` would; when its
/// reader has gone (`| head -1`), removes the scratch folder and ends the
/// process as a closed pipe ends the reporting commands. The bench prints
/// only between its child processes, never while one runs.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::bench::say_line(&format!($($arg)*))
    };
}
use say;

/// [`say`]'s work.
fn say_line(line: &str) {
    use std::io::Write;
    if writeln!(std::io::stdout(), "{line}").is_err() {
        remove_scratch();
        // SAFETY: signal(2) and raise(3) with the default action: the
        // process ends by SIGPIPE, as `runs | head -1` does.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
        std::process::exit(141);
    }
}

/// Removes the scratch folder, if one was made.
fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The bench's scratch folder, made on first use: fresh, private (0700)
/// and under a name no other user can guess, so that nothing another user
/// left in the temporary folder (a planted link, a script of their own
/// under a name made of our process id) is written through or run.
static SCRATCH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// [`SCRATCH`], made if it is not yet.
fn scratch() -> Result<&'static Path> {
    if let Some(dir) = SCRATCH.get() {
        return Ok(dir);
    }
    use std::os::unix::fs::PermissionsExt;
    let made = tempfile::Builder::new()
        .prefix("stylelab-bench-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .context("cannot make the bench's temporary folder")?
        .keep();
    // One thread makes it; a second maker would only lose its own folder.
    Ok(SCRATCH.get_or_init(|| made))
}

/// Runs the measurement asked for and prints its table (or JSON rows),
/// then removes the scratch folder.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    children::end_on_signals()?;
    let done = other_bench(args).unwrap_or_else(|| against_pytorch(args));
    // An interrupted bench's error is the interruption's doing: the signal
    // thread says so and ends the process.
    children::stop_here_if_interrupted();
    remove_scratch();
    done
}

/// Every row against the PyTorch reference.
fn against_pytorch(args: &BenchArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let script = scratch()?.join("reference.py");
    if !args.no_reference {
        std::fs::write(&script, REFERENCE_SCRIPT).context("cannot write the reference script")?;
    }
    if !args.json {
        say!(
            "VGG19 to relu5_1, random weights; chelsea.png in the style of starry_night.jpg, squared; content relu4_2, \
             style relu1_1..relu5_1; L-BFGS history 100; {} evaluations and {} steps timed after {} warm-up each; \
             median of {} alternating processes; {}",
            args.counts.evals,
            args.counts.steps,
            args.counts.warmup,
            args.repeats,
            allocator_note()
        );
        say!(
            "{:<6} {:>5} {:<5} {:<13} {:>9} {:>9} {:>7} {:>8} {:>8} {:>9} {:>9}",
            "device",
            "size",
            "prec",
            "impl",
            "s/eval",
            "s/step",
            "evals/s",
            "reads/s",
            "peak MiB",
            "eval ×",
            "step ×"
        );
        say!(
            "(per step: evaluations and device reads; × = stylelab ÷ pytorch; overhead: a step's time outside its \
             evaluations, and a direction from a full history of 100 pairs)"
        );
    }
    let programs = Programs {
        exe: &exe,
        python: &python,
        script: &script,
    };
    for device in devices(&args.device)? {
        for precision in &args.precisions {
            if precision == "fp16" && device == "cpu" {
                continue;
            }
            for &size in &args.sizes {
                let (content, style) = images(size, size)?;
                let mut common = vec![
                    "--content".to_string(),
                    content.display().to_string(),
                    "--style".into(),
                    style.display().to_string(),
                    "--size".into(),
                    size.to_string(),
                    "--device".into(),
                    device.clone(),
                    "--precision".into(),
                    precision.clone(),
                ];
                common.extend(args.counts.to_args());
                let rows = measure_rows(args, &programs, &common, &device);
                print_config(&device, size, precision, &rows, args.json)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The programs a configuration is measured with.
struct Programs<'a> {
    /// This stylelab binary (`bench-one`).
    exe: &'a std::path::Path,
    /// Python with torch, for the reference.
    python: &'a std::path::Path,
    /// The reference script, written to a temporary file.
    script: &'a std::path::Path,
}

/// One configuration's rows (stylelab, then the references asked for),
/// measured in `args.repeats` alternating rounds of fresh processes, each
/// given `common`; a row's first failure ends its measuring.
fn measure_rows(args: &BenchArgs, programs: &Programs, common: &[String], device: &str) -> Vec<Row> {
    let mut rows = vec![Row::new("stylelab")];
    if !args.no_reference {
        rows.push(Row::new("pytorch"));
        if args.cuda_graph && device.starts_with("cuda") {
            rows.push(Row::new("pytorch-graph"));
        }
    }
    // Alternate, so that a slow spell of a shared machine hits both.
    for _ in 0..args.repeats.max(1) {
        for row in rows.iter_mut().filter(|r| r.failed.is_none()) {
            let out = match row.implementation {
                "stylelab" => children::output(Command::new(programs.exe).arg("bench-one").args(common)),
                // The eager reference keeps its image in [0, 1] as
                // `bench-one` does (`optim.bounds`' default); the CUDA
                // graph's replays leave it free.
                graph => children::output(
                    reference_command(programs.python)
                        .arg(programs.script)
                        .args(common)
                        .args(if graph == "pytorch-graph" {
                            &["--cuda-graph"][..]
                        } else {
                            &["--bounds", "box"][..]
                        }),
                ),
            };
            let measured = out
                .context("cannot run it (set --python, or --no-reference)")
                .and_then(|out| last_json_line::<Measurement>(&out, row.implementation));
            match measured {
                Ok(m) => row.runs.push(m),
                Err(e) => row.failed = Some(format!("{e:#}")),
            }
        }
    }
    rows
}

/// One implementation's measurements of one configuration, or why it failed.
struct Row {
    /// `stylelab`, `pytorch` or `pytorch-graph`.
    implementation: &'static str,
    /// One per repeat.
    runs: Vec<Measurement>,
    /// Its first failure: the row is printed as failed and not run again.
    failed: Option<String>,
}

impl Row {
    fn new(implementation: &'static str) -> Self {
        Row {
            implementation,
            runs: Vec::new(),
            failed: None,
        }
    }
}

/// One configuration's rows: stylelab, then each reference with the
/// ratios; a row that failed says so, and the others still print.
fn print_config(device: &str, size: u32, precision: &str, rows: &[Row], json: bool) -> Result<()> {
    let ours = rows
        .first()
        .filter(|r| r.failed.is_none())
        .and_then(|r| median_of(r.runs.clone()));
    for row in rows {
        if let Some(why) = &row.failed {
            if json {
                let failed = serde_json::json!({
                    "device": device, "size": size, "precision": precision,
                    "implementation": row.implementation, "failed": why,
                });
                say!("{failed}");
            } else {
                say!(
                    "{device:<6} {size:>5} {precision:<5} {:<13} failed: {why}",
                    row.implementation
                );
            }
            continue;
        }
        let Some(m) = median_of(row.runs.clone()) else { continue };
        if json {
            say!("{}", serde_json::to_string(&m)?);
        } else if row.implementation == "stylelab" {
            print_row(&m, &overhead_text(&m));
        } else {
            let ratios = ours
                .as_ref()
                .map(|o| {
                    format!(
                        "{:>9.2} {:>9.2}",
                        o.s_per_eval / m.s_per_eval,
                        o.s_per_step / m.s_per_step
                    )
                })
                .unwrap_or_default();
            print_row(&m, &ratios);
        }
    }
    Ok(())
}

/// A step's own cost, for stylelab's row.
fn overhead_text(ours: &Measurement) -> String {
    let overhead = ours
        .s_overhead
        .unwrap_or(ours.s_per_step - ours.evals_per_step * ours.s_per_eval);
    let full = ours
        .s_per_direction_full
        .map(|d| {
            format!(
                ", full history {:.1} ms ({:.1} % of a one-evaluation step)",
                d * 1e3,
                100.0 * d / (d + ours.s_per_eval)
            )
        })
        .unwrap_or_default();
    let as_run = ours
        .s_per_direction_full_as_run
        .map(|d| {
            format!(
                ", projected and preconditioned as a run's {:.1} ms ({:.1} %)",
                d * 1e3,
                100.0 * d / (d + ours.s_per_eval)
            )
        })
        .unwrap_or_default();
    format!(
        "  overhead {:.1} ms ({:.1} %){full}{as_run}",
        overhead * 1e3,
        100.0 * overhead / ours.s_per_step
    )
}

fn print_row(m: &Measurement, tail: &str) {
    say!(
        "{:<6} {:>5} {:<5} {:<13} {:>9.4} {:>9.4} {:>7.2} {:>8.2} {:>8.0} {tail}",
        m.device,
        m.size,
        m.precision,
        m.implementation,
        m.s_per_eval,
        m.s_per_step,
        m.evals_per_step,
        m.host_reads_per_step,
        m.peak_mib
    );
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// The scratch folder is a real folder only its user can enter, made
    /// once, under a name nobody can foresee from the process id (the old
    /// `/tmp/stylelab-bench-<pid>` could be planted by another user, and
    /// the reference script written there run).
    #[test]
    fn the_scratch_folder_is_private_fresh_and_not_named_by_the_process_id() {
        let dir = super::scratch().unwrap();
        let meta = std::fs::symlink_metadata(dir).unwrap();
        assert!(meta.is_dir() && !meta.file_type().is_symlink());
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("stylelab-bench-"), "{name}");
        assert!(!name.ends_with(&std::process::id().to_string()), "{name}");
        assert_eq!(super::scratch().unwrap(), dir, "made once");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
