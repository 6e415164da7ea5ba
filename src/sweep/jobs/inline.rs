//! A sweep's points one after another in this process: the whole sweep
//! with `--jobs 1`, or the single point of a `--point N` (a Slurm array
//! task, or a `--jobs` child reporting to its parent).

use crate::headless::{Signals, execute};
use crate::sweep::Sweep;
use crate::sweep::claim::Taken;
use crate::sweep::jobs::message::Message;
use crate::sweep::jobs::plan::Plan;
use crate::sweep::jobs::status::worse;
use crate::sweep::runs::Completion;
use anyhow::Result;
use stylelab_core::config::sweep::SweepPoint;
use stylelab_core::record::Status;
use stylelab_core::review::RunEntry;

/// The points, one after another, in this process.
pub fn run(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Status> {
    let n = sweep.spec.points.len();
    let claims = sweep.claims();
    let mut status = Status::Completed;
    let skip = |p: &SweepPoint, why: String, done: bool| {
        say!("point {} ({}): {why}, skipped", p.index, p.describe());
        if let Some(r) = &plan.parent {
            r.send(&Message::Skipped {
                point: p.index,
                why,
                done,
            });
        }
    };
    for (p, runs) in sweep.spec.points.iter().zip(sweep.find_runs()) {
        if plan.point.is_some_and(|i| i != p.index) {
            continue;
        }
        if let Some(done) = completed(sweep, p, &runs) {
            skip(p, done, true);
            continue;
        }
        let _guard = match claims.try_claim(p.index)? {
            Taken::Held(by) => {
                skip(p, format!("running on {}", by.describe()), false);
                continue;
            }
            Taken::Mine(guard) => guard,
        };
        // Another process may have completed it between our listing and our claim.
        if let Some(done) = completed(sweep, p, &sweep.runs_of(p.index)) {
            skip(p, done, true);
            continue;
        }
        say!("point {} of {n}: {}", p.index, p.describe());
        let ended = run_point(sweep, plan, signals, p)?;
        if !matches!(ended, Status::Completed | Status::Converged) {
            status = worse(status, ended);
        }
        if signals.stop_requested() {
            break;
        }
    }
    Ok(status)
}

/// Runs point `p`, claimed, through the preflight and the engine; how its run ended.
fn run_point(sweep: &Sweep, plan: &Plan, signals: &Signals, p: &SweepPoint) -> Result<Status> {
    let exp = plan.experiment(sweep, p.index)?;
    let checked = stylelab_engine::preflight::check(&exp)?;
    if !plan.force {
        checked.guard_for(&exp, "sweep")?;
    }
    let on_dir = |dir: &std::path::Path| {
        if let Some(r) = &plan.parent {
            r.send(&Message::RunDir {
                point: p.index,
                dir: dir.to_path_buf(),
            });
        }
    };
    let (summary, _) = execute(&exp, &checked, signals, &on_dir, Some(sweep.member(p.index)))?;
    Ok(summary.status)
}

/// `completed in DIR` when `runs` (a point's) hold a completed run of the
/// point's settings; says so when one ran with other settings.
fn completed(sweep: &Sweep, p: &SweepPoint, runs: &[RunEntry]) -> Option<String> {
    match sweep.completed_run(p, runs) {
        Completion::Same(done) => Some(format!("completed in {}", done.dir.display())),
        Completion::Other(r, diff) => {
            say!(
                "point {}: {} completed with other settings ({diff}); running it with this sweep's",
                p.index,
                r.dir.display()
            );
            None
        }
        Completion::None => None,
    }
}
