//! `stylelab run`: an experiment headless, its progress on the terminal,
//! its results in its run folder; the exit code says how it ended.

use super::{OverrideArgs, load_checked};
use crate::error;
use crate::headless::{Signals, execute};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `stylelab run`'s arguments.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Accepted for clarity: `run` is always headless.
    #[arg(long)]
    pub headless: bool,
    /// Print `run-dir: PATH` as soon as the run folder exists.
    #[arg(long, hide = true)]
    pub print_dir: bool,
    /// Run even when the memory estimate exceeds what the device has free.
    #[arg(long)]
    pub force: bool,
}

/// Checks the experiment (unless `--force`, its memory estimate is a
/// guard), runs it, and returns the code of how it ended.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let path = args.experiment.as_path();
    let (exp, checked) = load_checked(path, &args.overrides)?;
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
    if !args.force {
        checked.guard(&exp)?;
    }
    let signals = Signals::install()?;
    let on_dir: &dyn Fn(&Path) = if args.print_dir {
        &crate::headless::print_dir
    } else {
        &|_| {}
    };
    let (summary, _) = execute(&exp, &checked, &signals, on_dir, None)?;
    Ok(error::status_code(summary.status))
}
