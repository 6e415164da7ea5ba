//! Where each point of a sweep stands — done, running (where, since
//! when), failed (to be retried), done with other settings, to do — and
//! `sweep --dry-run`, which lists them.

use crate::sweep::Sweep;
use crate::sweep::claim::Claim;
use crate::sweep::runs::Completion;
use std::path::PathBuf;

/// Where a point stands ([`Sweep::states`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PointState {
    /// Completed, in this run folder.
    Done(PathBuf),
    /// A run by its name completed there, but with other settings (what
    /// differs): the next sweep runs the point.
    Changed(PathBuf, String),
    /// A live process holds it.
    Running(Claim),
    /// Its latest run ended otherwise (`failed`, `stopped`, `died`,
    /// `broken`): the next `sweep` runs it again.
    Failed(String, PathBuf),
    /// Never run.
    ToDo,
}

impl PointState {
    /// `done`, `running`, `failed` or `to do`.
    pub fn label(&self) -> &'static str {
        match self {
            PointState::Done(_) => "done",
            PointState::Changed(..) => "to do",
            PointState::Running(_) => "running",
            PointState::Failed(..) => "failed",
            PointState::ToDo => "to do",
        }
    }
}

impl Sweep {
    /// Where every point stands: done, running (claimed by a live process),
    /// failed (its latest run did not complete), or still to do.
    pub fn states(&self) -> Vec<PointState> {
        let claims = self.claims();
        self.find_runs()
            .iter()
            .zip(&self.spec.points)
            .map(|(runs, p)| {
                let other = match self.completed_run(p, runs) {
                    Completion::Same(done) => return PointState::Done(done.dir.clone()),
                    Completion::Other(r, diff) => Some((r.dir.clone(), diff)),
                    Completion::None => None,
                };
                if let Some(claim) = claims.holder(p.index) {
                    return PointState::Running(claim);
                }
                match (runs.first(), other) {
                    (Some(r), _) if r.state.is_going() => PointState::Running(Claim {
                        host: r
                            .summary
                            .as_ref()
                            .and_then(|s| s.host.clone())
                            .unwrap_or_else(|| "?".into()),
                        pid: r.summary.as_ref().and_then(|s| s.pid).unwrap_or(0),
                        since: r.started().to_string(),
                        start: None,
                    }),
                    (_, Some((dir, diff))) => PointState::Changed(dir, diff),
                    (Some(r), None) => PointState::Failed(r.state.to_string(), r.dir.clone()),
                    (None, None) => PointState::ToDo,
                }
            })
            .collect()
    }

    /// `sweep --dry-run`: every point and where it stands — done, running
    /// (where, since when), failed (to be retried), done with other
    /// settings, to do.
    pub fn dry_run(&self) -> String {
        let states = self.states();
        let count = |label: &str| states.iter().filter(|s| s.label() == label).count();
        let mut out = format!(
            "{}: {} points ({}) over {}: {} done, {} running, {} failed, {} to do\n",
            self.source.display(),
            self.spec.points.len(),
            self.spec.mode,
            self.spec.keys.join(", "),
            count("done"),
            count("running"),
            count("failed"),
            count("to do"),
        );
        for (p, state) in self.spec.points.iter().zip(&states) {
            let detail = match state {
                PointState::Done(dir) => {
                    // Done with its own settings, then steered: say so.
                    let steers = stylelab_core::review::steering(dir);
                    if steers.is_empty() {
                        format!("  {}", dir.display())
                    } else {
                        format!(
                            "  {} (steered: {})",
                            dir.display(),
                            stylelab_core::review::steering_text(&steers)
                        )
                    }
                }
                PointState::Running(by) => format!("  on {}", by.describe()),
                PointState::Failed(how, dir) => format!("  {how} in {}; the next sweep runs it again", dir.display()),
                PointState::Changed(dir, diff) => format!("  done with other settings in {}: {diff}", dir.display()),
                PointState::ToDo => String::new(),
            };
            out += &format!("  {:<4} {:<8} {}{detail}\n", p.index, state.label(), p.describe());
        }
        out
    }
}
