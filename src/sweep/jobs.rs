//! Running a sweep's points: one after another in this process
//! (`inline`), or up to `--jobs N` at once, each in a child `stylelab
//! sweep --point` process pinned to one device, on a CPU with its share of
//! the cores (`pool`, drawn by `progress`). `plan` says how; a child tells
//! its parent what it did through `report`; `status` ranks how points ended.
//!
//! Every point, however it is started — here, by a child, by a Slurm array
//! task, by another terminal — is claimed first (`crate::sweep::claim`),
//! and is checked again for a completed run once claimed: a point runs
//! once at a time, and a completed point never runs again.

/// A line on standard output that never panics: after the terminal went
/// away (an SSH session dropped) the points go on and the printing stops.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{}", stylelab_core::text::terminal_safe(&format!($($arg)*)));
    }};
}

pub mod inline;
pub mod message;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod status;

use crate::error::bad_input;
use crate::headless::Signals;
use crate::sweep::Sweep;
use crate::sweep::state::PointState;
use anyhow::{Context, Result};
use plan::Plan;
use stylelab_core::record::Status;

/// How the run of a sweep ended, for the exit code.
pub struct Outcome {
    /// `Completed` unless a point failed (`Failed`) or a stop was asked for
    /// (`Stopped`).
    pub status: Status,
}

/// Runs the sweep as `plan` says; collects the index and sheet after a
/// whole sweep (not after a single `--point`).
pub fn run(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Outcome> {
    let n = sweep.spec.points.len();
    if let Some(i) = plan.point
        && i >= n
    {
        return Err(bad_input(format!(
            "--point {i}: the sweep has points 0..{} ({n} in all)",
            n - 1
        )));
    }
    if plan.point.is_none() {
        precheck(sweep, plan)?;
    }
    sweep.claim_folder()?;
    sweep.write_tensorboard_experiment();
    let status = if plan.jobs > 1 && plan.point.is_none() {
        pool::run(sweep, plan, signals)?
    } else {
        if let Some(t) = plan::threads_per_job(plan.threads, 1) {
            tch::set_num_threads(t as i32);
        }
        inline::run(sweep, plan, signals)?
    };
    let status = if plan.point.is_none() {
        finish(sweep, status)?
    } else {
        status
    };
    Ok(Outcome { status })
}

/// After a whole sweep: collects it and says how many points completed; a
/// sweep that ends with points neither done nor running elsewhere did not
/// do its work, whatever each run said, and fails.
fn finish(sweep: &Sweep, status: Status) -> Result<Status> {
    let n = sweep.spec.points.len();
    let done = sweep.collect()?;
    say!(
        "{done} of {n} points completed; index and sheet in {}",
        sweep.dir().display()
    );
    if done == n || status != Status::Completed {
        return Ok(status);
    }
    let states = sweep.states();
    let missing: Vec<String> = sweep
        .spec
        .points
        .iter()
        .zip(&states)
        .filter(|(_, s)| !matches!(s, PointState::Done(_) | PointState::Running(_)))
        .map(|(p, s)| format!("{} ({})", p.index, s.label()))
        .collect();
    if missing.is_empty() {
        return Ok(status);
    }
    say!(
        "not completed: point{} {}",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    );
    Ok(Status::Failed)
}

/// Every point still to run passes its preflight and fits in memory
/// (unless `--force`), before the sweep makes its folder: bad input or a
/// point too large stops the sweep with nothing written.
fn precheck(sweep: &Sweep, plan: &Plan) -> Result<()> {
    for (p, state) in sweep.spec.points.iter().zip(sweep.states()) {
        if matches!(state, PointState::Done(_) | PointState::Running(_)) {
            continue;
        }
        let exp = plan.experiment(sweep, p.index)?;
        let checked = stylelab_engine::preflight::check(&exp)
            .with_context(|| format!("sweep point {} ({})", p.index, p.describe()))?;
        if !plan.force {
            checked
                .guard_for(&exp, "sweep")
                .with_context(|| format!("sweep point {} ({})", p.index, p.describe()))?;
        }
    }
    Ok(())
}
