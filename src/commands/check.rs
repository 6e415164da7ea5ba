//! `stylelab check`: validates an experiment — keys, images, weights,
//! device, memory, and every point of its sweep — without running it.

use super::{OverrideArgs, load_checked};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_core::memory::Target;

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
    /// Plan the memory (and the tiles) for another machine's device with
    /// this much free: `cuda:24GiB`, `cuda:80000MiB`, `cpu:64GiB`.
    #[arg(long = "for", value_name = "DEVICE:MEMORY", value_parser = parse_plan_for)]
    pub plan_for: Option<(Target, f64)>,
}

/// `cuda:24GiB` as (the device's kind, MiB free).
fn parse_plan_for(s: &str) -> Result<(Target, f64), String> {
    let usage = || format!("'{s}': give a device and its free memory, as cuda:24GiB, cuda:80000MiB or cpu:64GiB");
    let (device, amount) = s.split_once(':').ok_or_else(usage)?;
    let target = match device {
        "cuda" => Target::Cuda,
        "cpu" => Target::Cpu,
        _ => return Err(usage()),
    };
    let lower = amount.to_ascii_lowercase();
    let (number, factor) = [
        ("gib", 1024.0),
        ("gb", 1024.0),
        ("g", 1024.0),
        ("mib", 1.0),
        ("mb", 1.0),
        ("m", 1.0),
    ]
    .iter()
    .find_map(|(unit, f)| lower.strip_suffix(unit).map(|n| (n.trim().to_string(), *f)))
    .ok_or_else(usage)?;
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok((target, v * factor)),
        _ => Err(usage()),
    }
}

/// Prints what was checked (text or JSON); an error when the experiment,
/// a point of its sweep, or its memory estimate does not pass.
pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let path = args.experiment.as_path();
    let (exp, mut checked) = load_checked(path, &args.overrides)?;
    if let Some((target, mib)) = args.plan_for {
        checked.plan_for(&exp, target, mib);
    }
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
