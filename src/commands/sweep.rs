//! `stylelab sweep`: every point of an experiment's `[sweep]` table — run
//! (completed points skipped, up to `--jobs` at once), listed, collected,
//! or emitted as a cluster batch script. The sweep itself is
//! [`crate::sweep`]'s; this module reads the arguments into it.

use super::OverrideArgs;
use crate::error;
use crate::headless::Signals;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// `stylelab sweep`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The experiment file (TOML) with a sweep table.
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
    /// Where --emit writes (default: RESULTS/NAME-sweep/sweep.sbatch).
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

/// The cluster schedulers `--emit` writes a batch script for: Slurm (an
/// `sbatch` array script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    // No `///` here: clap would show it as the value's help in `--help`.
    Slurm,
}

impl SweepArgs {
    /// Whether the command only reports (lists, collects or emits) rather
    /// than running points.
    pub fn only_reports(&self) -> bool {
        self.dry_run || self.collect || self.emit.is_some()
    }
}

/// Lists, emits, collects or runs the sweep; after a run, the exit code
/// says how its points ended.
pub fn run(args: &SweepArgs) -> Result<ExitCode> {
    let sweep = crate::sweep::Sweep::load(&args.experiment, &args.overrides.to_overrides()?)?;
    if args.dry_run {
        // Writes nothing, whatever other flag is given.
        sweep.check_folder()?;
        safe_print!("{}", sweep.dry_run());
    } else if let Some(Scheduler::Slurm) = args.emit {
        sweep.claim_folder()?;
        // Written once here, so that the array's tasks find it there.
        sweep.write_tensorboard_experiment();
        safe_println!("{}", sweep.write_slurm_script(args.out.as_deref())?);
    } else if args.collect {
        sweep.check_folder()?;
        let done = sweep.collect()?;
        sweep.write_tensorboard_experiment();
        safe_println!(
            "{done} of {} points completed; wrote {}",
            sweep.spec.points.len(),
            sweep.dir().join("index.csv").display()
        );
    } else {
        return run_points(&sweep, args);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the points, `--jobs` at a time on `--devices`.
fn run_points(sweep: &crate::sweep::Sweep, args: &SweepArgs) -> Result<ExitCode> {
    // Before anything slow, so that a point stopped as it starts is stopped, not killed.
    let signals = Signals::install()?;
    let jobs = args.jobs as usize;
    let devices = match &args.devices {
        Some(list) => Some(crate::sweep::jobs::plan::parse_devices(list)?),
        None => crate::sweep::jobs::plan::default_devices(sweep, jobs),
    };
    crate::sweep::jobs::plan::check_bounds(jobs, args.threads.map(|t| t as usize), devices.as_deref())?;
    let plan = crate::sweep::jobs::plan::Plan {
        point: args.point,
        jobs,
        devices,
        threads: args.threads.map(|t| t as usize),
        force: args.force,
        parent: if args.child {
            Some(crate::sweep::jobs::message::Messenger::take_stdout()?)
        } else {
            None
        },
    };
    let outcome = crate::sweep::jobs::run(sweep, &plan, &signals)?;
    Ok(error::status_code(outcome.status))
}
