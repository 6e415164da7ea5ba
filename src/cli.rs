//! The command line: parses arguments and calls into the library. CLI types
//! stop here; the engine sees only a validated [`Experiment`].

use crate::error::{self, bad_input};
use crate::headless::{Signals, execute};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stylelab_core::config::{self, Experiment, Override};
use stylelab_engine::preflight::{self, Preflight};
use stylelab_engine::weights::{self, Preprocess, fetch::Source};

#[derive(Parser, Debug)]
#[command(
    name = "stylelab",
    version,
    about = "A terminal workbench for neural style transfer experiments"
)]
pub struct Cli {
    /// Without a command, on a terminal: the dashboard on the current folder.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The dashboard: launch, watch, steer and compare runs.
    Tui {
        /// Project folder (with experiments/ and results/).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run an experiment headless: progress on the terminal, results in results/.
    Run {
        /// The experiment file (TOML).
        experiment: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Accepted for clarity: `run` is always headless.
        #[arg(long)]
        headless: bool,
        /// Print `run-dir: PATH` as soon as the run folder exists.
        #[arg(long, hide = true)]
        print_dir: bool,
        /// Run even when the memory estimate exceeds what the device has free.
        #[arg(long)]
        force: bool,
    },
    /// Validate an experiment (keys, images, weights, device, memory) without running it.
    Check {
        /// The experiment file (TOML).
        experiment: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Print what was checked, with the memory estimate, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List runs: status, steps, time, final losses, and the config keys that vary.
    Runs {
        /// Sort by a column or config key; -KEY for descending (default -started).
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        sort: Option<String>,
        /// Keep runs whose folder, name or status contains TEXT, or a config
        /// value does; KEY=VALUE matches a config key's value (substrings,
        /// any case).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// table (fitted to the terminal), csv or json (every column).
        #[arg(long, value_enum, default_value = "table")]
        format: stylelab_core::review::table::Format,
        /// Every column of the table, however wide the terminal.
        #[arg(long)]
        wide: bool,
        /// The folder of run folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Overlay runs' loss curves, with their config differences and final values.
    Compare {
        /// Run folders, or unique prefixes of their names.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<String>,
        /// total, content, style, tv, a column such as style:relu1_1, or a
        /// score over the scored snapshots: score.content_dist, score.style_dist, …
        #[arg(long, default_value = "total")]
        metric: String,
        /// Exponential smoothing weight in [0, 1) (TensorBoard-style).
        #[arg(long, value_name = "A")]
        smooth: Option<f64>,
        /// A linear y axis (the default is logarithmic: losses span decades).
        #[arg(long)]
        linear: bool,
        /// The default, accepted for older scripts: a logarithmic y axis.
        #[arg(long, hide = true, conflicts_with = "linear")]
        log: bool,
        /// Also write the figure (.png or .svg).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the trade-off picture (content_dist against style_dist, .png or .svg).
        #[arg(long, value_name = "FILE")]
        scatter: Option<PathBuf>,
        /// The folder of run folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Measure runs' final images with the yardstick: distance to the content and to the style,
    /// colour distance, structural similarity. Written into their summaries.
    Score {
        /// Run folders, or unique prefixes of their names.
        #[arg(required = true)]
        runs: Vec<String>,
        /// Scoring size, longest side in px (the same for runs to compare).
        #[arg(long, default_value_t = stylelab_engine::score::DEFAULT_SIZE)]
        size: u32,
        /// One JSON object per run instead of the table.
        #[arg(long)]
        json: bool,
        /// Also score every snapshot (into the run's scores.csv).
        #[arg(long)]
        steps: bool,
        /// Score every run with this weights file instead of its own.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// auto, cpu, cuda or cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
        /// The folder of run folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Show a run's final image (or a snapshot) in the terminal, with its numbers.
    Show {
        /// A run folder, or a unique prefix of its name.
        run: String,
        /// A snapshot's step instead of the final image.
        #[arg(long)]
        step: Option<u64>,
        /// Width in terminal columns.
        #[arg(long)]
        width: Option<u32>,
        /// The folder of run folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// A contact sheet: final images in a grid, labelled with the parameters that differ.
    Sheet {
        /// Run folders, or unique prefixes of their names.
        #[arg(required = true)]
        runs: Vec<String>,
        /// The sheet to write (.png).
        #[arg(long, value_name = "FILE.png")]
        out: PathBuf,
        /// The folder of run folders.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Run every point of an experiment's [sweep] table; completed points are skipped.
    Sweep(SweepArgs),
    /// Show libtorch, CUDA, threads and the weights files found.
    Doctor {
        /// Folder of weights files.
        #[arg(long, default_value = "weights")]
        weights: PathBuf,
    },
    /// Fetch, convert and inspect VGG19 weights.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Seconds per evaluation (forward + backward) against a plain PyTorch
    /// implementation of the same losses.
    Bench(crate::bench::BenchArgs),
    /// One benchmark measurement, printed as JSON (used by `bench`).
    #[command(hide = true)]
    BenchOne(crate::bench::OneArgs),
}

/// `stylelab sweep`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The experiment file (TOML) with a [sweep] table.
    pub experiment: PathBuf,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// List the points (and which are done) without running.
    #[arg(long)]
    pub dry_run: bool,
    /// Run only point N (0-based), e.g. $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "N")]
    pub point: Option<usize>,
    /// Rebuild index.csv and the contact sheet from the points that have finished.
    #[arg(long)]
    pub collect: bool,
    /// Write a batch script for a cluster scheduler instead of running.
    #[arg(long, value_enum)]
    pub emit: Option<Scheduler>,
    /// Where --emit writes (default: <results>/<name>-sweep/sweep.sbatch).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run points even when their memory estimate exceeds what is free.
    #[arg(long)]
    pub force: bool,
    /// Run up to N points at once, each in its own process.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "point")]
    pub jobs: u32,
    /// Devices the jobs use in turn, e.g. cuda:0,cuda:1 (default: every GPU
    /// for an experiment on "auto", else the experiment's device).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub devices: Option<Vec<String>>,
    /// libtorch threads per point (default: the cores shared out between
    /// jobs; in a Slurm task, $SLURM_CPUS_PER_TASK shared out).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Run as a `--jobs` child: report to the parent as JSON lines on
    /// standard output, human output on standard error (the point's log).
    #[arg(long, hide = true, requires = "point")]
    pub child: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    Slurm,
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct OverrideArgs {
    /// Override any key: `--set loss.style_weight=1e3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Device: auto, cpu, cuda or cuda:N (same as --set optim.device=…).
    #[arg(long)]
    pub device: Option<String>,
    /// Results folder (same as --set output.results=…).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

impl OverrideArgs {
    pub fn to_overrides(&self) -> Result<Vec<Override>> {
        let mut out: Vec<Override> = self
            .set
            .iter()
            .map(|s| Override::parse(s).map_err(bad_input))
            .collect::<Result<_>>()?;
        if let Some(d) = &self.device {
            out.push(Override {
                key: "optim.device".into(),
                value: toml::Value::String(d.clone()),
                from_file: false,
            });
        }
        if let Some(r) = &self.results {
            let abs = config::absolute(r);
            // Never converted lossily: the run records its folder as text.
            let text = abs.to_str().ok_or_else(|| {
                bad_input(format!(
                    "--results {}: the path is not valid UTF-8, which a run's experiment.toml cannot record; \
                     use a folder whose name is UTF-8",
                    crate::sweep::slurm::comment(&abs)
                ))
            })?;
            out.push(Override {
                key: "output.results".into(),
                value: toml::Value::String(text.to_string()),
                from_file: false,
            });
        }
        Ok(out)
    }
}

#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download an official VGG19 and convert it to weights/vgg19-<source>.safetensors.
    Fetch {
        /// Which VGG19: the Caffe original (as neural-style uses) or torchvision's.
        #[arg(long, value_enum, default_value = "caffe")]
        source: Source,
        /// Where to put the files.
        #[arg(long, default_value = "weights")]
        dir: PathBuf,
        /// Download from this address (a mirror) instead of the official one.
        #[arg(long)]
        url: Option<String>,
    },
    /// Convert a PyTorch VGG19 checkpoint (.pth) or an untagged safetensors file.
    Convert {
        /// The checkpoint to read (.pth, or untagged .safetensors).
        input: PathBuf,
        /// The file to write (.safetensors).
        output: PathBuf,
        /// The input convention the weights were trained with.
        #[arg(long)]
        preprocess: Preprocess,
    },
    /// List a weights file's layers, shapes, convention and sha256.
    Info {
        /// The weights file (.safetensors).
        file: PathBuf,
    },
    /// Write a seeded random VGG19 (same shapes as the real one), for tests and benchmarks.
    Random {
        /// The file to write (.safetensors).
        output: PathBuf,
        /// Seed of the weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Deepest layer to include.
        #[arg(long, default_value = "pool5")]
        upto: stylelab_core::layer::Layer,
        /// The input convention recorded with the weights (caffe or torchvision).
        #[arg(long, default_value = "caffe")]
        preprocess: Preprocess,
    },
}

/// Runs the command line; the exit code says how a run ended.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<ExitCode> {
    stylelab_core::torch_error::install_panic_hook();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() {
                // It may quote an argument: as text, never as escape codes.
                eprint!("{}", stylelab_core::text::terminal_safe(&e.render().to_string()));
            } else {
                let _ = e.print();
            }
            return Ok(ExitCode::from(if e.use_stderr() {
                error::BAD_INPUT
            } else {
                error::SUCCESS
            }));
        }
    };
    let Some(command) = cli.command else {
        if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
            crate::ui::run(Path::new("."))?;
            return Ok(ExitCode::SUCCESS);
        }
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return Ok(ExitCode::from(error::BAD_INPUT));
    };
    dispatch(command)
}

/// Commands that only print what they find: when their reader goes away
/// (`| head -2`) they end at once and quietly, as `ls` does. Commands that
/// run things ignore a closed pipe and carry on (their results are files).
fn only_reports(command: &Command) -> bool {
    match command {
        Command::Check { .. }
        | Command::Runs { .. }
        | Command::Compare { .. }
        | Command::Show { .. }
        | Command::Sheet { .. }
        | Command::Score { .. }
        | Command::Doctor { .. }
        | Command::Weights(WeightsCommand::Info { .. }) => true,
        Command::Sweep(a) => a.dry_run || a.collect || a.emit.is_some(),
        _ => false,
    }
}

/// Carries out one command.
fn dispatch(command: Command) -> Result<ExitCode> {
    if only_reports(&command) {
        // SAFETY: signal(2) restores the default action (end the process)
        // for SIGPIPE, which Rust's runtime had set to ignore.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match command {
        Command::Tui { dir } => {
            crate::ui::run(&dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            experiment,
            overrides,
            print_dir,
            force,
            ..
        } => run_experiment(&experiment, &overrides, print_dir, force),
        Command::Check {
            experiment,
            overrides,
            json,
        } => check(&experiment, &overrides, json),
        Command::Doctor { weights } => {
            crate::doctor::report(&weights)
                .iter()
                .for_each(|line| safe_println!("{line}"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Weights(w) => weights_command(w),
        Command::Runs {
            sort,
            filter,
            format,
            wide,
            results,
        } => runs(&results, filter.as_deref(), sort.as_deref(), format, wide),
        Command::Compare {
            runs,
            metric,
            smooth,
            linear,
            out,
            scatter,
            results,
            ..
        } => compare(
            &runs,
            &results,
            &stylelab_core::review::plot::CurveSpec {
                metric: &metric,
                smooth,
                log: !linear,
            },
            out.as_deref(),
            scatter.as_deref(),
        ),
        Command::Show {
            run,
            step,
            width,
            results,
        } => show(&run, &results, step, width),
        Command::Sweep(args) => sweep(&args),
        Command::Sheet { runs, out, results } => sheet(&runs, &results, &out),
        Command::Score {
            runs,
            size,
            json,
            steps,
            weights,
            device,
            results,
        } => score(&runs, &results, size, json, steps, weights.as_deref(), &device),
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchOne(args) => crate::bench::run_one(&args),
    }
}

/// Loads an experiment and runs its preflight.
pub fn load_checked(path: &Path, overrides: &OverrideArgs) -> Result<(Experiment, Preflight)> {
    let exp = config::load(path, &overrides.to_overrides()?)?;
    let checked = preflight::check(&exp)?;
    Ok((exp, checked))
}

fn check(path: &Path, overrides: &OverrideArgs, json: bool) -> Result<ExitCode> {
    let (exp, checked) = load_checked(path, overrides)?;
    if exp.sweep.is_some() {
        // Every point validates, as `sweep` will demand: a misspelt swept
        // key or a bad value is bad input here too (file:line:key).
        stylelab_core::config::sweep::SweepSpec::load(&exp, &overrides.to_overrides()?)?;
    }
    let report = crate::check::Checked {
        path,
        exp: &exp,
        checked: &checked,
    };
    safe_print!("{}", if json { report.json() } else { report.text() });
    checked.guard(&exp)?;
    Ok(ExitCode::SUCCESS)
}

fn run_experiment(path: &Path, overrides: &OverrideArgs, print_dir: bool, force: bool) -> Result<ExitCode> {
    let (exp, checked) = load_checked(path, overrides)?;
    if let Some(table) = &exp.sweep {
        let points = stylelab_core::config::sweep::SweepSpec::expand(table)
            .map(|s| s.points.len())
            .unwrap_or(0);
        safe_eprintln!(
            "note: {} has a [sweep] table ({points} points): `run` runs its base experiment only; \
             `stylelab sweep {}` runs the points",
            path.display(),
            path.display()
        );
    }
    if !force {
        checked.guard(&exp)?;
    }
    let signals = Signals::install()?;
    let on_dir: &dyn Fn(&Path) = if print_dir {
        &crate::headless::print_dir
    } else {
        &|_| {}
    };
    let (summary, _) = execute(&exp, &checked, &signals, on_dir, None)?;
    Ok(error::status_code(summary.status))
}

fn weights_command(cmd: WeightsCommand) -> Result<ExitCode> {
    match cmd {
        WeightsCommand::Fetch { source, dir, url } => {
            let out = weights::fetch::fetch(source, url.as_deref(), &dir, std::io::stderr().is_terminal())?;
            safe_println!("wrote {}", out.display());
        }
        WeightsCommand::Convert {
            input,
            output,
            preprocess,
        } => {
            let layers = weights::convert(&input, &output, preprocess)?;
            safe_println!(
                "wrote {} ({} convolutions, {} … {}, {preprocess})",
                output.display(),
                layers.len(),
                layers[0],
                layers[layers.len() - 1]
            );
        }
        WeightsCommand::Info { file } => safe_print!("{}", weights::describe_file(&file)?),
        WeightsCommand::Random {
            output,
            seed,
            upto,
            preprocess,
        } => {
            let convs = weights::random(seed, upto);
            weights::save(&output, &convs, preprocess, &[("random_seed", seed.to_string())])?;
            safe_println!("wrote {} (random VGG19 up to {upto}, seed {seed})", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn runs(
    results: &Path,
    filter: Option<&str>,
    sort: Option<&str>,
    format: stylelab_core::review::table::Format,
    wide: bool,
) -> Result<ExitCode> {
    let listing = stylelab_core::review::table::Listing::load(results, filter, sort).map_err(bad_input)?;
    let unreadable = stylelab_core::review::unreadable_runs(results);
    if !unreadable.is_empty() {
        // On stderr: the table (or CSV, JSON) on stdout stays whole.
        safe_eprintln!(
            "{} run folder{} not readable (permissions?): {}",
            unreadable.len(),
            if unreadable.len() == 1 { "" } else { "s" },
            unreadable.join(", ")
        );
    }
    // On a terminal the table fits its width; piped, or with --wide, it is whole.
    let width = match crossterm::terminal::size() {
        Ok((w, _)) if std::io::stdout().is_terminal() && !wide => Some(w as usize),
        _ => None,
    };
    safe_print!("{}", listing.render(format, width));
    Ok(ExitCode::SUCCESS)
}

fn sheet(specs: &[String], results: &Path, out: &Path) -> Result<ExitCode> {
    let dirs = resolve_runs(specs, results)?;
    let cmp = stylelab_core::review::Comparison::load(&dirs);
    let sheet = stylelab_core::review::sheet::write_sheet(&cmp, out)?;
    safe_println!(
        "wrote {} ({}×{}, {} runs)",
        out.display(),
        sheet.width,
        sheet.height,
        dirs.len()
    );
    if !sheet.without_image.is_empty() {
        safe_println!(
            "  no final image, marked as such: {} (`stylelab show RUN --step N` shows a snapshot)",
            sheet.without_image.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn score(
    specs: &[String],
    results: &Path,
    size: u32,
    json: bool,
    steps: bool,
    weights: Option<&Path>,
    device: &str,
) -> Result<ExitCode> {
    if !(config::MIN_SIZE as u32..=config::MAX_SIZE as u32).contains(&size) {
        return Err(bad_input(format!(
            "--size {size}: use {}..={}",
            config::MIN_SIZE,
            config::MAX_SIZE
        )));
    }
    let device = config::DeviceChoice::parse(device)
        .ok_or_else(|| bad_input(format!("--device {device}: use auto, cpu, cuda or cuda:N")))
        .and_then(|d| stylelab_engine::device::resolve(d).map_err(bad_input))?;
    let dirs = resolve_runs(specs, results)?;
    let scored = crate::scoring::score_runs(&crate::scoring::Request {
        dirs: &dirs,
        size,
        weights,
        steps,
        device,
    })?;
    let runs: Vec<(String, Option<&stylelab_core::record::Scores>)> =
        scored.iter().map(|s| (s.run.clone(), Some(&s.scores))).collect();
    let report = stylelab_core::review::compare::scores(&runs, None);
    if json {
        safe_print!("{}", report.render(&stylelab_core::review::report::Export::JsonLines));
    } else {
        let at = scored.first().map_or(size, |s| s.scores.size);
        safe_print!(
            "{}",
            report.render(&stylelab_core::review::report::Export::Table {
                width: None,
                drop_order: &[]
            })
        );
        safe_println!("(at {at} px)");
    }
    Ok(ExitCode::SUCCESS)
}

fn resolve_runs(specs: &[String], results: &Path) -> Result<Vec<PathBuf>> {
    specs
        .iter()
        .map(|s| stylelab_core::review::resolve_run(results, s).map_err(bad_input))
        .collect()
}

/// Width and height for terminal charts: the terminal's, or 100×24.
fn chart_size() -> (u16, u16) {
    match crossterm::terminal::size() {
        Ok((w, h)) if std::io::stdout().is_terminal() => (w.clamp(40, 200), (h / 2).clamp(12, 40)),
        _ => (100, 22),
    }
}

fn compare(
    specs: &[String],
    results: &Path,
    spec: &stylelab_core::review::plot::CurveSpec,
    out: Option<&Path>,
    scatter: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(a) = spec.smooth
        && !(0.0..1.0).contains(&a)
    {
        return Err(bad_input(format!("--smooth {a}: use a weight in [0, 1), e.g. 0.6")));
    }
    let dirs = resolve_runs(specs, results)?;
    let cmp = stylelab_core::review::Comparison::load(&dirs);
    safe_print!("{}", stylelab_core::review::compare::text(&cmp, spec, chart_size())?);
    if let Some(out) = out {
        let curves = stylelab_core::review::plot::curves(&cmp, spec)?;
        stylelab_core::review::plot::write_figure(out, &curves, spec.metric, spec.log, (1200, 750))?;
        safe_println!("\nwrote {}", out.display());
    }
    if let Some(path) = scatter {
        let tradeoff = cmp.tradeoff();
        if tradeoff.is_empty() {
            return Err(bad_input(
                "none of these runs has scores; measure them with `stylelab score RUN…`".to_string(),
            ));
        }
        stylelab_core::review::plot::write_scatter(path, &tradeoff, "content against style", (1200, 900))?;
        safe_println!("\nwrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn show(spec: &str, results: &Path, step: Option<u64>, width: Option<u32>) -> Result<ExitCode> {
    let dir = stylelab_core::review::resolve_run(results, spec).map_err(bad_input)?;
    crate::ui::show_run(&dir, step, width)?;
    Ok(ExitCode::SUCCESS)
}

fn sweep(args: &SweepArgs) -> Result<ExitCode> {
    let sweep = crate::sweep::Sweep::load(&args.experiment, &args.overrides.to_overrides()?)?;
    if args.dry_run {
        // Writes nothing, whatever other flag is given.
        sweep.bind(false)?;
        safe_print!("{}", sweep.dry_run());
    } else if let Some(Scheduler::Slurm) = args.emit {
        sweep.bind(true)?;
        safe_println!("{}", sweep.write_slurm_script(args.out.as_deref())?);
    } else if args.collect {
        sweep.bind(false)?;
        let done = sweep.collect()?;
        safe_println!(
            "{done} of {} points completed; wrote {}",
            sweep.spec.points.len(),
            sweep.dir().join("index.csv").display()
        );
    } else {
        // Before anything slow, so that a point stopped as it starts is stopped, not killed.
        let signals = Signals::install()?;
        let jobs = args.jobs as usize;
        let devices = match &args.devices {
            Some(list) => Some(crate::sweep::jobs::plan::parse_devices(list)?),
            None => crate::sweep::jobs::plan::default_devices(&sweep, jobs),
        };
        crate::sweep::jobs::plan::check_bounds(jobs, args.threads.map(|t| t as usize), devices.as_deref())?;
        let plan = crate::sweep::jobs::plan::Plan {
            point: args.point,
            jobs,
            devices,
            threads: args.threads.map(|t| t as usize),
            force: args.force,
            report: if args.child {
                Some(crate::sweep::jobs::report::Reporter::take_stdout()?)
            } else {
                None
            },
        };
        let outcome = crate::sweep::jobs::run(&sweep, &plan, &signals)?;
        return Ok(error::status_code(outcome.status));
    }
    Ok(ExitCode::SUCCESS)
}
