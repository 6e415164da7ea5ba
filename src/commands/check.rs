//! `stylelab check`: validates an experiment — keys, images, weights,
//! device, memory, and every point of its sweep — without running it.

use super::{OverrideArgs, load_checked};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// `stylelab check`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Print what was checked, with the memory estimate, as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints what was checked (text or JSON); an error when the experiment,
/// a point of its sweep, or its memory estimate does not pass.
pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let path = args.experiment.as_path();
    let (exp, checked) = load_checked(path, &args.overrides)?;
    if exp.sweep.is_some() {
        // Every point validates, as `sweep` will demand: a misspelt swept
        // key or a bad value is bad input here too (file:line:key).
        stylelab_core::config::sweep::SweepSpec::load(&exp, &args.overrides.to_overrides()?)?;
    }
    let report = crate::check::Checked {
        path,
        exp: &exp,
        checked: &checked,
    };
    safe_print!("{}", if args.json { report.json() } else { report.text() });
    checked.guard(&exp)?;
    Ok(ExitCode::SUCCESS)
}
