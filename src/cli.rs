//! The command line: parses arguments and calls into the library. CLI types
//! stop here; the engine sees only a validated [`Experiment`].

use crate::config::{self, Experiment, Override};
use crate::console::ConsoleSink;
use crate::engine;
use crate::events::Controls;
use crate::record::Status;
use crate::sinks::{RunDirSink, Tee, create_run_dir};
use crate::weights::{self, Preprocess, fetch::Source};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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

/// What `run --print-dir` prints first: how the dashboard learns a
/// launched run's folder.
pub const RUN_DIR_PREFIX: &str = "run-dir: ";

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
    },
    /// Validate an experiment (keys, images, weights, device) without running it.
    Check {
        experiment: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
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
            .map(|s| Override::parse(s).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?;
        if let Some(d) = &self.device {
            out.push(Override {
                key: "optim.device".into(),
                value: toml::Value::String(d.clone()),
            });
        }
        if let Some(r) = &self.results {
            let abs = config::absolute(r);
            out.push(Override {
                key: "output.results".into(),
                value: toml::Value::String(abs.display().to_string()),
            });
        }
        Ok(out)
    }
}

#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download an official VGG19 and convert it to weights/vgg19-<source>.safetensors.
    Fetch {
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
        input: PathBuf,
        output: PathBuf,
        /// The input convention the weights were trained with.
        #[arg(long)]
        preprocess: Preprocess,
    },
    /// List a weights file's layers, shapes, convention and sha256.
    Info { file: PathBuf },
    /// Write a seeded random VGG19 (same shapes as the real one), for tests and benchmarks.
    Random {
        output: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Deepest layer to include.
        #[arg(long, default_value = "pool5")]
        upto: crate::layer::Layer,
        #[arg(long, default_value = "caffe")]
        preprocess: Preprocess,
    },
}

/// Runs the command line; the exit code says how a run ended.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return Ok(ExitCode::from(if e.use_stderr() { 2 } else { 0 }));
        }
    };
    let Some(command) = cli.command else {
        if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
            crate::ui::run(Path::new("."))?;
            return Ok(ExitCode::SUCCESS);
        }
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return Ok(ExitCode::from(2));
    };
    match command {
        Command::Tui { dir } => {
            crate::ui::run(&dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            experiment,
            overrides,
            print_dir,
            ..
        } => run_experiment(&experiment, &overrides, print_dir),
        Command::Check { experiment, overrides } => check(&experiment, &overrides),
        Command::Doctor { weights } => {
            for line in crate::doctor::report(&weights) {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Weights(w) => weights_command(w),
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchOne(args) => crate::bench::run_one(&args),
    }
}

/// Loads and fully checks an experiment.
pub fn load_checked(path: &Path, overrides: &OverrideArgs) -> Result<(Experiment, config::Checked)> {
    let exp = config::load(path, &overrides.to_overrides()?)?;
    let checked = exp.check_files()?;
    Ok((exp, checked))
}

fn check(path: &Path, overrides: &OverrideArgs) -> Result<ExitCode> {
    let (exp, checked) = load_checked(path, overrides)?;
    let layers: Vec<String> = exp.layers().iter().map(|l| l.to_string()).collect();
    println!("{}: ok", path.display());
    println!("  name     {}", exp.name);
    println!(
        "  images   content + {} style image(s), {} px longest side",
        exp.styles.len(),
        exp.size
    );
    println!(
        "  weights  {} ({}, {})",
        exp.weights.display(),
        checked.weights.preprocess,
        checked.weights.layer_range()
    );
    println!("  layers   {}", layers.join(", "));
    println!(
        "  run      {} × {:?} on {}",
        exp.iterations,
        exp.optimizer,
        engine::device::describe(checked.device)
    );
    Ok(ExitCode::SUCCESS)
}

/// Signal handling for a headless run: the first Ctrl-C or SIGTERM asks the
/// engine to stop after the current step, a second one exits at once; a
/// SIGHUP (the SSH session dropped) only silences the console.
fn install_signals() -> Result<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let hangup = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    signal_hook::flag::register(SIGHUP, hangup.clone())?;
    Ok((stop, hangup))
}

fn run_experiment(path: &Path, overrides: &OverrideArgs, print_dir: bool) -> Result<ExitCode> {
    let (exp, checked) = load_checked(path, overrides)?;
    let sha = weights::sha256_file(&exp.weights).with_context(|| format!("cannot read {}", exp.weights.display()))?;
    let (stop, hangup) = install_signals()?;
    let paths = create_run_dir(&exp)?;
    if print_dir {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{RUN_DIR_PREFIX}{}", paths.dir.display());
        let _ = std::io::stdout().flush();
    }
    let mut dir_sink = RunDirSink::new(paths.clone());
    let mut console = ConsoleSink::new(std::io::stderr().is_terminal(), hangup);
    let mut tee = Tee::new().with(&mut dir_sink).with(&mut console);
    let ctx = engine::RunContext {
        exp: &exp,
        dir: &paths.dir,
        weights_sha256: sha,
    };
    let summary = engine::run(&ctx, checked.device, &mut tee, &Controls::for_run(stop, &paths.dir));
    Ok(match summary.status {
        Status::Completed => ExitCode::SUCCESS,
        Status::Stopped => ExitCode::from(130),
        Status::Failed | Status::Running => ExitCode::FAILURE,
    })
}

fn weights_command(cmd: WeightsCommand) -> Result<ExitCode> {
    match cmd {
        WeightsCommand::Fetch { source, dir, url } => {
            let out = weights::fetch::fetch(source, url.as_deref(), &dir, std::io::stderr().is_terminal())?;
            println!("wrote {}", out.display());
        }
        WeightsCommand::Convert {
            input,
            output,
            preprocess,
        } => {
            let layers = weights::convert(&input, &output, preprocess)?;
            println!(
                "wrote {} ({} convolutions, {} … {}, {preprocess})",
                output.display(),
                layers.len(),
                layers[0],
                layers[layers.len() - 1]
            );
        }
        WeightsCommand::Info { file } => {
            let info = weights::WeightsInfo::read(&file)?;
            println!("file        {}", file.display());
            println!("size        {} bytes", info.file_size);
            println!("sha256      {}", weights::sha256_file(&file)?);
            println!("preprocess  {}", info.preprocess);
            println!("layers      {} ({} convolutions)", info.layer_range(), info.convs.len());
            for conv in &info.convs {
                let (o, i) = conv.conv_channels();
                println!("  {conv:<8} weight [{o}, {i}, 3, 3]  bias [{o}]");
            }
            for (k, v) in info.metadata.iter().filter(|(k, _)| k.as_str() != "preprocess") {
                println!("{k:<11} {v}");
            }
        }
        WeightsCommand::Random {
            output,
            seed,
            upto,
            preprocess,
        } => {
            let convs = weights::random(seed, upto);
            weights::save(&output, &convs, preprocess, &[("random_seed", seed.to_string())])?;
            println!("wrote {} (random VGG19 up to {upto}, seed {seed})", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
