//! Which runs are a point's, and which one completed it: a run belongs to
//! a point by its name (`<name>-pNNN`), and completed the point when its
//! recorded experiment is the point's, up to where it wrote and ran.

use crate::sweep::Sweep;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use stylelab_core::config;
use stylelab_core::config::sweep::{SweepPoint, value_text};
use stylelab_core::review::{self, RunEntry};

/// Keys of a resolved experiment that say where a run's output goes or
/// where it ran, not what it computes: a completed run that differs from a
/// point only in these is that point's run. (`--devices` puts points on
/// whichever device is free.)
const NOT_COMPARED: [&str; 3] = ["name", "output", "optim.device"];

/// A resolved experiment as runs are compared: without `NOT_COMPARED`
/// and without a `[sweep]` table.
pub fn comparable(mut table: toml::Table) -> toml::Table {
    table.remove("sweep");
    for key in NOT_COMPARED {
        match key.split_once('.') {
            Some((section, k)) => {
                if let Some(t) = table.get_mut(section).and_then(toml::Value::as_table_mut) {
                    t.remove(k);
                }
            }
            None => {
                table.remove(key);
            }
        }
    }
    table
}

/// A run folder's experiment.toml in comparable form; None when missing or
/// unreadable.
fn run_experiment(dir: &Path) -> Option<toml::Table> {
    let text = stylelab_core::files::read_text_bounded(
        &stylelab_core::record::RunPaths::new(dir).experiment(),
        stylelab_core::files::TEXT_LIMIT,
    )
    .ok()?;
    toml::from_str::<toml::Table>(&text).ok().map(comparable)
}

/// Where a run's experiment differs from a point's.
struct Differences {
    /// Keys that differ (every key when the run's experiment is unreadable).
    count: usize,
    /// `images.size 64 ≠ 96; loss.content_weight 5.0 ≠ 1000.0`: at most four keys.
    text: String,
}

/// Where a run's experiment (`theirs`) differs from the point's (`ours`).
fn differences(theirs: Option<&toml::Table>, ours: &toml::Table) -> Differences {
    let Some(theirs) = theirs else {
        return Differences {
            count: usize::MAX,
            text: "its experiment.toml cannot be read".into(),
        };
    };
    let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) = (
        config::dotted_keys(theirs).into_iter().collect(),
        config::dotted_keys(ours).into_iter().collect(),
    );
    let show = |v: Option<&toml::Value>| v.map(value_text).unwrap_or_else(|| "(unset)".into());
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} ≠ {}", show(a.get(k)), show(b.get(k))))
        .collect();
    let text = match diff.len() {
        0 => "the same settings in another order".into(),
        n if n > 4 => format!("{} and {} more", diff[..4].join("; "), n - 4),
        _ => diff.join("; "),
    };
    Differences {
        count: diff.len(),
        text,
    }
}

/// What completed runs a point has ([`Sweep::completed_run`]).
#[derive(Debug)]
pub enum Completion<'r> {
    /// A completed run of exactly this point's experiment.
    Same(&'r RunEntry),
    /// Completed runs by the point's name, none with its settings: the
    /// newest, and what differs.
    Other(&'r RunEntry, String),
    /// No completed run by the point's name.
    None,
}

impl Sweep {
    /// The runs of each point, newest first, one `Vec` per point in index order.
    ///
    /// A run belongs to a point when its summary's name is the point's name,
    /// so a run without a readable summary.json belongs to none.
    pub fn find_runs(&self) -> Vec<Vec<RunEntry>> {
        let all = review::list_runs(&self.results);
        self.spec
            .points
            .iter()
            .map(|p| {
                all.iter()
                    .filter(|r| r.name() == self.point_name(p.index))
                    .cloned()
                    .collect()
            })
            .collect()
    }

    /// The runs of one point, newest first (read fresh from the results folder).
    pub fn runs_of(&self, index: usize) -> Vec<RunEntry> {
        let name = self.point_name(index);
        // Folders are `<time>-<slug>[-N]`: read only those that can be this point's.
        let slug = stylelab_core::record::slug(&name);
        review::list_runs_where(&self.results, |folder| folder.contains(&slug))
            .into_iter()
            .filter(|r| r.name() == name)
            .collect()
    }

    /// The point's resolved experiment in the form runs are compared in
    /// (see [`comparable`]); None when it does not validate (a sweep checks
    /// every point when it loads, so only a file changed since does not).
    pub fn comparable_experiment(&self, p: &SweepPoint) -> Option<toml::Table> {
        let exp = self.experiment(p).ok()?;
        toml::Table::try_from(exp.to_raw()).ok().map(comparable)
    }

    /// The completed run among `runs` (a point's, newest first) that ran
    /// exactly this point's experiment; else the completed run by its name
    /// that comes closest (fewest keys differ, newest first), with what differs.
    pub fn completed_run<'r>(&self, p: &SweepPoint, runs: &'r [RunEntry]) -> Completion<'r> {
        let Some(wanted) = self.comparable_experiment(p) else {
            return Completion::None;
        };
        let mut closest: Option<(&RunEntry, Differences)> = None;
        for r in runs.iter().filter(|r| r.state.is_done()) {
            let theirs = run_experiment(&r.dir);
            if theirs.as_ref() == Some(&wanted) {
                return Completion::Same(r);
            }
            let diff = differences(theirs.as_ref(), &wanted);
            if closest.as_ref().is_none_or(|(_, best)| diff.count < best.count) {
                closest = Some((r, diff));
            }
        }
        match closest {
            Some((r, diff)) => Completion::Other(r, diff.text),
            None => Completion::None,
        }
    }

    /// The run that stands for point `p`: its completed run with the
    /// point's settings, else its newest run with them, else its newest.
    /// `runs` must be newest first, as [`Sweep::find_runs`] gives them;
    /// `None` when the point has not been run.
    pub fn representative<'r>(&self, p: &SweepPoint, runs: &'r [RunEntry]) -> Option<&'r RunEntry> {
        if let Completion::Same(r) = self.completed_run(p, runs) {
            return Some(r);
        }
        let wanted = self.comparable_experiment(p);
        runs.iter()
            .find(|r| wanted.is_some() && run_experiment(&r.dir) == wanted)
            .or(runs.first())
    }
}
