//! The command line: parses the arguments and dispatches each command to
//! its module in [`crate::commands`] (the dashboard to [`crate::ui`], the
//! bench to [`crate::bench`]). Argument types stop at the commands; the
//! engine sees only a validated `Experiment` and typed values.

use crate::bench::{BenchArgs, one::OneArgs};
use crate::commands;
use crate::commands::check::CheckArgs;
use crate::commands::compare::CompareArgs;
use crate::commands::doctor::DoctorArgs;
use crate::commands::export::ExportArgs;
use crate::commands::run::RunArgs;
use crate::commands::runs::RunsArgs;
use crate::commands::score::ScoreArgs;
use crate::commands::sheet::SheetArgs;
use crate::commands::show::ShowArgs;
use crate::commands::sweep::SweepArgs;
use crate::commands::weights::WeightsCommand;
use crate::error;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "stylelab",
    version,
    about = "A terminal workbench for neural style transfer experiments",
    after_help = "Without a command, on a terminal, stylelab opens the dashboard on the project the current folder is in (as `stylelab tui`)."
)]
pub struct Cli {
    /// Without a command, on a terminal: the dashboard on the current folder.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands, each with its arguments (defined beside its body in
/// [`crate::commands`]).
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The dashboard: launch, watch, steer and compare runs.
    Tui {
        /// A folder of the project (with experiments/ and results/), or any
        /// folder inside it.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run an experiment headless: progress on the terminal, results in results/.
    Run(RunArgs),
    /// Validate an experiment (keys, images, weights, device, memory) without running it.
    Check(CheckArgs),
    /// List runs: status, steps, time, final losses, and the config keys that vary.
    Runs(RunsArgs),
    /// Overlay runs' loss curves, with their config differences and final values.
    Compare(CompareArgs),
    /// Measure runs' final images with the yardstick: distance to the content and to the style,
    /// colour distance, structural similarity. Written into their summaries.
    Score(ScoreArgs),
    /// Show a run's final image (or a snapshot) in the terminal, with its numbers.
    Show(ShowArgs),
    /// A contact sheet: final images in a grid, labelled with the parameters that differ.
    Sheet(SheetArgs),
    /// Run every point of an experiment's sweep table; completed points are skipped.
    Sweep(SweepArgs),
    /// Export runs to other tools' formats: `export tensorboard` writes event
    /// files for runs recorded without one.
    Export(ExportArgs),
    /// Show libtorch, CUDA, threads and the weights files found.
    Doctor(DoctorArgs),
    /// Fetch, convert and inspect VGG19 weights.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Seconds per evaluation (forward + backward) against a plain PyTorch
    /// implementation of the same losses.
    Bench(BenchArgs),
    /// One benchmark measurement, printed as JSON (used by `bench`).
    #[command(hide = true)]
    BenchOne(OneArgs),
}

/// Runs the command line; the exit code says how a run ended. Bad
/// arguments print clap's message and give [`error::BAD_INPUT`].
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
            crate::ui::run(&project_of(Path::new(".")))?;
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
        Command::Check(_)
        | Command::Runs(_)
        | Command::Compare(_)
        | Command::Show(_)
        | Command::Sheet(_)
        | Command::Score(_)
        | Command::Doctor(_)
        | Command::Weights(WeightsCommand::Info { .. }) => true,
        Command::Sweep(a) => a.only_reports(),
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
            crate::ui::run(&project_of(&dir))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => commands::run::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Runs(args) => commands::runs::run(&args),
        Command::Compare(args) => commands::compare::run(&args),
        Command::Score(args) => commands::score::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Sheet(args) => commands::sheet::run(&args),
        Command::Sweep(args) => commands::sweep::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Weights(cmd) => commands::weights::run(&cmd),
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchOne(args) => crate::bench::one::run_one(&args),
    }
}

/// The project `dir` is in (see `config::find_project`), else `dir` itself.
fn project_of(dir: &Path) -> PathBuf {
    stylelab_core::config::find_project(dir).unwrap_or_else(|| dir.to_path_buf())
}
