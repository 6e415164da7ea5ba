//! Reading runs back: the list of run folders with their state, their
//! metrics, and the config keys that differ between runs. The dashboard's
//! Runs and Compare views use it, as do the review commands (`runs`,
//! `compare`, `show`, `sheet`).
//!
//! The reading side of the pipeline: it starts from `results/<run>/` folders
//! that the run-folder sink wrote, through `record`'s types, and never talks
//! to an engine. `table`, `plot`, `sheet` and `sort` turn what is read here
//! into text, charts and images.

pub mod compare;
pub mod export;
pub mod fit;
pub mod plot;
pub mod sheet;
pub mod sort;
pub mod sweeps;
pub mod table;

use crate::record::{self, Losses, MetricsHeader, RunPaths, Status, StepMetrics, Summary};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// What a listing says about a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// Its summary says so and its process is alive.
    Running,
    /// Running, but paused: its process is alive and its events.log's last
    /// pause event says `paused` (it waits for a resume or a stop).
    Paused,
    /// Its summary says `completed`.
    Completed,
    /// Its summary says `converged`: it ended before its iterations because
    /// the loss stopped changing; `Summary::why` says when.
    Converged,
    /// Its summary says `stopped` (a stop command or a signal).
    Stopped,
    /// Its summary says `failed`; `Summary::error` says why.
    Failed,
    /// Its summary says `stalled`: no step could lower the loss; `Summary::error` says where.
    Stalled,
    /// Said `running`, but its process is gone (killed, machine rebooted).
    Died,
    /// No readable summary: a folder being created, or damaged. Holds the
    /// reason, for the listing to show.
    Broken(String),
}

impl RunState {
    /// Whether the run's process is alive and still has it: running or paused.
    pub fn is_going(&self) -> bool {
        matches!(self, RunState::Running | RunState::Paused)
    }

    /// Whether the run did its work: completed, or converged before its
    /// iterations (a sweep's point is done then).
    pub fn is_done(&self) -> bool {
        matches!(self, RunState::Completed | RunState::Converged)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunState::Running => f.write_str("running"),
            RunState::Paused => f.write_str("paused"),
            RunState::Completed => f.write_str("completed"),
            RunState::Converged => f.write_str("converged"),
            RunState::Stopped => f.write_str("stopped"),
            RunState::Failed => f.write_str("failed"),
            RunState::Stalled => f.write_str("stalled"),
            RunState::Died => f.write_str("died"),
            RunState::Broken(_) => f.write_str("broken"),
        }
    }
}

/// One run folder, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// The run folder, as found under `results` (or as given).
    pub dir: PathBuf,
    /// The folder's name (`20261121-101500-starry-cat`).
    pub id: String,
    /// Read from the summary, with the process checked for `running`.
    pub state: RunState,
    /// `None` when summary.json is missing or unreadable (state `Broken`).
    pub summary: Option<Summary>,
    /// The latest metrics row (for runs still going, newer than the summary).
    /// Read only for running, died and broken runs; `None` otherwise.
    pub last: Option<StepMetrics>,
}

/// The accessors prefer the latest metrics row, then the summary, then a
/// zero or empty value, so a listing has something to show for every run.
impl RunEntry {
    /// Why a run needs a second look, if it does: the reason a run is
    /// broken, the last step of one that died, or a failed run's error;
    /// empty otherwise.
    pub fn note(&self) -> String {
        match &self.state {
            RunState::Broken(reason) => reason.clone(),
            RunState::Died => format!("process gone after step {}", self.steps()),
            _ => self.summary.as_ref().and_then(|s| s.error.clone()).unwrap_or_default(),
        }
    }
    /// The sweep this run is a point of, if its summary says so.
    pub fn sweep(&self) -> Option<&crate::record::SweepMember> {
        self.summary.as_ref().and_then(|s| s.sweep.as_ref())
    }
    /// The experiment's name, or the folder name when there is no summary.
    pub fn name(&self) -> &str {
        self.summary.as_ref().map(|s| s.name.as_str()).unwrap_or(&self.id)
    }
    /// Optimizer steps taken; 0 when nothing says.
    pub fn steps(&self) -> u64 {
        self.last
            .as_ref()
            .map(|r| r.iter)
            .or(self.summary.as_ref().map(|s| s.steps))
            .unwrap_or(0)
    }
    /// Seconds of optimisation so far, pauses excluded; 0.0 when nothing says.
    pub fn wall_s(&self) -> f64 {
        self.last
            .as_ref()
            .map(|r| r.elapsed_s)
            .or(self.summary.as_ref().map(|s| s.wall_s))
            .unwrap_or(0.0)
    }
    /// Steps per second over the whole run; 0.0 before any time has passed.
    pub fn steps_per_s(&self) -> f64 {
        let w = self.wall_s();
        if w > 0.0 { self.steps() as f64 / w } else { 0.0 }
    }
    /// `512×341`, or `256→512→1024` for a multi-scale run; empty without a summary.
    pub fn size_text(&self) -> String {
        self.summary.as_ref().map(|s| s.size_text()).unwrap_or_default()
    }

    /// The yardstick's numbers, when the run was scored.
    pub fn scores(&self) -> Option<&crate::record::Scores> {
        self.summary.as_ref()?.scores.as_ref()
    }

    /// Start time, RFC 3339; empty without a summary.
    pub fn started(&self) -> &str {
        self.summary.as_ref().map(|s| s.started.as_str()).unwrap_or("")
    }
    /// The latest losses; `None` before the first recorded step.
    pub fn losses(&self) -> Option<Losses> {
        self.last
            .as_ref()
            .map(|r| Losses {
                total: r.total,
                content: r.content,
                style: r.style,
                tv: r.tv,
            })
            .or(self.summary.as_ref().and_then(|s| s.final_losses))
    }
}

/// The last complete row of a metrics file, reading only its head and tail
/// (the last 16 KiB), so that listing a long run stays cheap.
///
/// `None` when the file is missing, its header does not parse, or no line in
/// the tail is a whole row.
pub fn last_row(dir: &Path) -> Option<StepMetrics> {
    use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(RunPaths::new(dir).metrics()).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = String::new();
    BufReader::new(&f).read_line(&mut head).ok()?;
    let reader = record::MetricsReader::new(&head).ok()?;
    let tail_len = len.min(16 * 1024);
    f.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = String::new();
    f.read_to_string(&mut tail).ok()?;
    tail.lines().rev().find_map(|l| reader.row(l).ok())
}

/// Why a run has no final image yet, and what to do instead.
pub fn no_final_image(dir: &Path) -> String {
    let entry = load_entry(dir);
    let snapshots = RunPaths::new(dir).list_snapshots();
    let why = match &entry.state {
        RunState::Running | RunState::Paused => format!("it is still {} (step {})", entry.state, entry.steps()),
        RunState::Died => format!("its process died at step {} before writing it", entry.steps()),
        RunState::Broken(why) => format!("it is broken: {why}"),
        other => format!("it {other} without one"),
    };
    let instead = match snapshots.last() {
        Some((n, _)) => format!(
            "; its latest snapshot is at step {n}: `stylelab show {} --step {n}`",
            dir.display()
        ),
        None => String::new(),
    };
    format!("{} has no final image: {why}{instead}", dir.display())
}

/// Reads one run folder. Never fails: what cannot be read shows up as
/// [`RunState::Broken`] with the reason.
pub fn load_entry(dir: &Path) -> RunEntry {
    let id = dir
        .file_name()
        .map(|n| record::printable(&n.to_string_lossy()))
        .unwrap_or_default();
    let (state, summary) = match record::read_summary(dir) {
        Err(e) if e.is_missing() => (
            RunState::Broken("no summary.json (killed before its first step, or not a run)".into()),
            None,
        ),
        Err(e) => (
            RunState::Broken(format!("unreadable summary.json: {}", e.reason())),
            None,
        ),
        Ok(s) => {
            let state = match s.status {
                Status::Running if s.pid.is_some_and(crate::procfs::is_stylelab) => {
                    if is_paused(dir) {
                        RunState::Paused
                    } else {
                        RunState::Running
                    }
                }
                Status::Running => RunState::Died,
                Status::Completed => RunState::Completed,
                Status::Converged => RunState::Converged,
                Status::Stopped => RunState::Stopped,
                Status::Failed => RunState::Failed,
                Status::Stalled => RunState::Stalled,
            };
            (state, Some(s))
        }
    };
    // Runs that are going (or died going) have newer numbers in their CSV.
    let last = match state {
        RunState::Running | RunState::Paused | RunState::Died | RunState::Broken(_) => last_row(dir),
        _ => None,
    };
    RunEntry {
        dir: dir.to_path_buf(),
        id,
        state,
        summary,
        last,
    }
}

/// Whether a run's events.log says it is paused: its last pause event
/// is `paused` (read bounded; a missing or unreadable log says no).
fn is_paused(dir: &Path) -> bool {
    let Ok(text) = crate::files::read_text_bounded(&RunPaths::new(dir).events(), crate::files::TEXT_LIMIT) else {
        return false;
    };
    text.lines()
        .rev()
        .find_map(|l| match record::LogEvent::parse_line(l) {
            Some(record::LogEvent::Paused { paused, .. }) => Some(paused),
            _ => None,
        })
        .unwrap_or(false)
}

/// How far a sweep has got, counted over the runs listed: each point
/// counts once, by its best run (completed, else running, else failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepProgress {
    /// Points in the sweep, as its runs record it.
    pub points: usize,
    /// Points with a completed run.
    pub done: usize,
    /// Points whose best run is still running.
    pub running: usize,
    /// Points whose best run failed, stopped, died or is broken.
    pub failed: usize,
}

impl SweepProgress {
    /// Points no listed run has started.
    pub fn to_do(&self) -> usize {
        self.points.saturating_sub(self.done + self.running + self.failed)
    }

    /// The progress of the sweep named `name` among `runs`.
    pub fn of(runs: &[RunEntry], name: &str) -> SweepProgress {
        let mut best: BTreeMap<usize, u8> = BTreeMap::new();
        let mut points = 0;
        for r in runs {
            let Some(m) = r.sweep().filter(|m| m.name == name) else {
                continue;
            };
            points = points.max(m.points);
            let rank = match r.state {
                RunState::Completed | RunState::Converged => 3,
                RunState::Running | RunState::Paused => 2,
                _ => 1,
            };
            let b = best.entry(m.point).or_insert(0);
            *b = (*b).max(rank);
        }
        let count = |rank: u8| best.values().filter(|&&b| b == rank).count();
        SweepProgress {
            points,
            done: count(3),
            running: count(2),
            failed: count(1),
        }
    }
}

/// Every run folder under `results`, newest first.
///
/// A run folder is a subfolder holding summary.json or experiment.toml.
/// "Newest first" is reverse order of folder names, which start with the
/// time stamp. A missing or unreadable `results` gives an empty list.
pub fn list_runs(results: &Path) -> Vec<RunEntry> {
    list_runs_where(results, |_| true)
}

/// The run folders under `results` whose folder name passes `keep`, newest
/// first; only those are read (a sweep looks up one point's runs this way).
pub fn list_runs_where(results: &Path, keep: impl Fn(&str) -> bool) -> Vec<RunEntry> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .into_iter()
        .flatten()
        .flatten()
        // A folder whose name is not UTF-8 is no run any command could name
        // (`unreadable_runs` lists it): left out here, as by `show`.
        .filter(|e| e.file_name().to_str().is_some_and(&keep))
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| p.join(record::SUMMARY_FILE).exists() || p.join(record::EXPERIMENT_FILE).exists())
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs.iter().map(|d| load_entry(d)).collect()
}

/// The folders under `results` that may be runs but cannot be read (another
/// user's run folder, mode 700; a folder whose name is not UTF-8, which no
/// command can be given): `runs` names them rather than leaving them out
/// without a word. Folders are shown [`record::printable`].
pub fn unreadable_runs(results: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(results)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| {
            let p = e.path();
            let denied =
                |r: std::io::Result<std::fs::Metadata>| r.is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound);
            let name_ok = e.file_name().to_str().is_some();
            let looks_like_run = || p.join(record::SUMMARY_FILE).exists() || p.join(record::EXPERIMENT_FILE).exists();
            std::fs::read_dir(&p).is_err()
                || denied(std::fs::metadata(p.join(record::SUMMARY_FILE)))
                    && denied(std::fs::metadata(p.join(record::EXPERIMENT_FILE)))
                || !name_ok && looks_like_run()
        })
        .map(|e| match e.file_name().to_str() {
            Some(name) => record::printable(name),
            None => format!(
                "{} (its name is not UTF-8)",
                record::printable(&e.file_name().to_string_lossy())
            ),
        })
        .collect();
    out.sort();
    out
}

/// A run's resolved experiment as flat `section.key` → value text (TOML;
/// strings without quotes), every text [`printable`](record::printable),
/// and, for a run that was steered, a `steering` key: what changed, e.g.
/// `style_weight 1e4→2e4@19` (see [`steering_text`]), so that a steered
/// run differs from an unsteered one wherever configs are compared. Empty
/// when experiment.toml is missing or unreadable; read bounded.
pub fn flat_config(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let steers = steering(dir);
    if !steers.is_empty() {
        out.insert(STEERING_KEY.to_string(), steering_text(&steers));
    }
    let Ok(text) = crate::files::read_text_bounded(&RunPaths::new(dir).experiment(), crate::files::TEXT_LIMIT) else {
        return out;
    };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return out;
    };
    for (key, value) in crate::config::dotted_keys(&table) {
        let text = match value {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        out.insert(record::printable(&key), record::printable(&text));
    }
    out
}

/// Each run's [`flat_config`], and, when the scored ones among them were
/// measured at more than one size, each scored run's size as
/// `score_size` (px): scores of different sizes do not compare, so then
/// the size differs wherever configs are compared.
pub fn review_configs(entries: &[RunEntry]) -> Vec<BTreeMap<String, String>> {
    let mut configs: Vec<_> = entries.iter().map(|e| flat_config(&e.dir)).collect();
    let sizes: BTreeSet<u32> = entries.iter().filter_map(|e| e.scores().map(|s| s.size)).collect();
    if sizes.len() > 1 {
        for (c, e) in configs.iter_mut().zip(entries) {
            if let Some(s) = e.scores() {
                c.insert(SCORE_SIZE_KEY.to_string(), s.size.to_string());
            }
        }
    }
    configs
}

/// The key [`review_configs`] gives a scored run's scoring size.
pub const SCORE_SIZE_KEY: &str = "score_size";

/// The key [`flat_config`] gives a steered run's weight changes.
pub const STEERING_KEY: &str = "steering";

/// A loss weight changed while a run went: after step `iter`, `term`'s
/// weight went from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steer {
    pub iter: u64,
    pub term: record::Term,
    pub from: f64,
    pub to: f64,
}

/// Every weight change events.log records, in order (read bounded; none
/// when the log is missing or unreadable).
pub fn steering(dir: &Path) -> Vec<Steer> {
    let Ok(text) = crate::files::read_text_bounded(&RunPaths::new(dir).events(), crate::files::TEXT_LIMIT) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| match record::LogEvent::parse_line(l) {
            Some(record::LogEvent::Steered { iter, term, from, to }) => Some(Steer { iter, term, from, to }),
            _ => None,
        })
        .collect()
}

/// `style_weight 1e4→2e4@19, tv_weight 1→0.5@30`: each change as the
/// weight, its values before and after ([`crate::text::number`]) and the
/// step after which it applied.
pub fn steering_text(steers: &[Steer]) -> String {
    steers
        .iter()
        .map(|s| {
            format!(
                "{} {}→{}@{}",
                s.term.weight_key(),
                crate::text::number(s.from),
                crate::text::number(s.to),
                s.iter
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values as short as they can be while still telling the different ones
/// apart: paths (anything with a `/`) keep only their last components —
/// the file name, or as many folders above it as it takes — behind `…/`.
/// Other values come back as they are.
pub fn distinguishing_tails(values: &[String]) -> Vec<String> {
    if !values.iter().any(|v| v.contains('/')) {
        return values.to_vec();
    }
    let parts: Vec<Vec<&str>> = values.iter().map(|v| v.split('/').collect()).collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(1);
    let tail = |p: &[&str], k: usize| -> String {
        let k = k.min(p.len());
        let t = p[p.len() - k..].join("/");
        if k < p.len() { format!("…/{t}") } else { t }
    };
    for k in 1..=longest {
        let tails: Vec<String> = parts.iter().map(|p| tail(p, k)).collect();
        // Values that differ must read differently; equal ones may read alike.
        let clash = (0..values.len()).any(|i| (0..i).any(|j| values[i] != values[j] && tails[i] == tails[j]));
        if !clash {
            return tails;
        }
    }
    values.to_vec()
}

/// Whether a config key says where a run wrote or how often, not what it
/// computed: `name` and `output.*` (snapshots, results, scoring). Never a
/// difference between runs.
pub fn is_noise_key(key: &str) -> bool {
    key == "name" || key.starts_with("output.")
}

/// Keys whose values are not the same in every config (a key missing from
/// one counts as different); [noise keys](is_noise_key) are left out.
pub fn differing_keys(configs: &[BTreeMap<String, String>]) -> Vec<String> {
    let all: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    all.into_iter()
        .filter(|k| !is_noise_key(k))
        .filter(|k| configs.windows(2).any(|w| w[0].get(*k) != w[1].get(*k)))
        .cloned()
        .collect()
}

/// Finds a run by folder path or by a unique prefix of its folder name
/// (`20261121-10`, or the name part: `starry`).
///
/// `spec` is taken as a path when that folder holds summary.json or
/// metrics.csv; otherwise it is matched against the subfolders of `results`.
/// The error, meant for the user, says that nothing matched or lists every match.
pub fn resolve_run(results: &Path, spec: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(spec);
    if as_path.join(record::SUMMARY_FILE).exists() || as_path.join(record::METRICS_FILE).exists() {
        return Ok(as_path.to_path_buf());
    }
    let names: Vec<String> = std::fs::read_dir(results)
        .map_err(|e| format!("cannot read {}: {e}", results.display()))?
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // A prefix of the folder name, or of the part after the time stamp.
    let matches: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(spec) || n.get(16..).is_some_and(|rest| rest.starts_with(spec)))
        .collect();
    match matches.as_slice() {
        [one] => Ok(results.join(one)),
        [] => Err(format!("no run matches '{spec}' in {}", results.display())),
        many => {
            let mut list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            list.sort();
            Err(format!(
                "'{spec}' matches {} runs: {}; give more of the name",
                many.len(),
                list.join(", ")
            ))
        }
    }
}

/// What to call each of `runs` in a report, the one rule of every report:
/// its experiment's name where no other run of the set has it, else its
/// folder's name (`20261201-201753-texture`) — for every run sharing the
/// name, so the labels do not depend on the order the runs were given in.
pub fn run_labels(runs: &[RunEntry]) -> Vec<String> {
    runs.iter()
        .map(|r| {
            if runs.iter().filter(|o| o.name() == r.name()).count() > 1 {
                r.id.clone()
            } else {
                r.name().to_string()
            }
        })
        .collect()
}

/// A run as the compare views need it.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// What every report calls it ([`run_labels`]): its experiment's name,
    /// or its folder's name when another compared run has the same name.
    pub name: String,
    /// metrics.csv's columns; empty when the file is missing or invalid.
    pub header: MetricsHeader,
    /// Every row of metrics.csv; empty when the file is missing or invalid.
    pub rows: Vec<StepMetrics>,
    /// The run as a listing shows it.
    pub entry: RunEntry,
    /// The weight changes steering made, in order.
    pub steering: Vec<Steer>,
}

/// Runs side by side: their metrics, and the config keys that differ.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// One per folder, in the order given.
    pub runs: Vec<ComparedRun>,
    /// Differing keys, each with one value per run (`—` where missing).
    pub diff: Vec<(String, Vec<String>)>,
}

impl Comparison {
    /// Reads every folder in `dirs`. Never fails: a run whose files are
    /// missing or broken comes back with no rows and no config keys.
    pub fn load(dirs: &[PathBuf]) -> Comparison {
        let entries: Vec<RunEntry> = dirs.iter().map(|d| load_entry(d)).collect();
        let configs = review_configs(&entries);
        let diff = differing_keys(&configs)
            .into_iter()
            .map(|k| {
                let vals = configs
                    .iter()
                    .map(|c| c.get(&k).cloned().unwrap_or_else(|| "—".into()))
                    .collect();
                (k, vals)
            })
            .collect();
        let names = run_labels(&entries);
        let runs = dirs
            .iter()
            .zip(entries)
            .zip(names)
            .map(|((d, entry), name)| {
                let (header, rows) = record::read_metrics(d).map(|(h, r, _)| (h, r)).unwrap_or_default();
                ComparedRun {
                    dir: d.clone(),
                    name,
                    header,
                    rows,
                    entry,
                    steering: steering(d),
                }
            })
            .collect();
        Comparison { runs, diff }
    }
}

impl Comparison {
    /// The distinct sizes the compared runs' scores were measured at,
    /// smallest first: more than one, and their scores do not compare.
    pub fn score_sizes(&self) -> Vec<u32> {
        let mut sizes: Vec<u32> = self
            .runs
            .iter()
            .filter_map(|r| r.entry.scores().map(|s| s.size))
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    /// The scored runs as trade-off points: (label, content_dist,
    /// style_dist); runs without scores are left out.
    pub fn tradeoff(&self) -> Vec<plot::TradeoffPoint> {
        let labels = sheet::short_labels(self);
        self.runs
            .iter()
            .zip(labels)
            .filter_map(|(r, label)| {
                let s = r.entry.scores()?;
                Some((label, s.content_dist, s.style_dist))
            })
            .collect()
    }
}

/// A column's (step, value) points for one run; None when the run has no
/// such column, or no rows at all.
pub fn column(run: &ComparedRun, metric: &str) -> Option<Vec<(f64, f64)>> {
    let probe = run.rows.first()?;
    probe.value(&run.header, metric)?;
    Some(
        run.rows
            .iter()
            .filter_map(|r| Some((r.iter as f64, r.value(&run.header, metric)?)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_cut_to_the_part_that_tells_them_apart() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::distinguishing_tails(&v(&["/home/me/proj/img/cat.png", "/home/me/proj/img/dog.png"])),
            v(&["…/cat.png", "…/dog.png"])
        );
        assert_eq!(
            super::distinguishing_tails(&v(&["/a/x/cat.png", "/a/y/cat.png", "/a/y/cat.png"])),
            v(&["…/x/cat.png", "…/y/cat.png", "…/y/cat.png"])
        );
        assert_eq!(super::distinguishing_tails(&v(&["1.0", "2.0"])), v(&["1.0", "2.0"]));
    }

    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn differing_keys_include_missing_ones() {
        let a = cfg(&[
            ("name", "a"),
            ("loss.style_weight", "100.0"),
            ("loss.style_layers.relu1_1", "1.0"),
        ]);
        let b = cfg(&[
            ("name", "b"),
            ("loss.style_weight", "1000.0"),
            ("loss.style_layers.relu1_1", "1.0"),
            ("loss.style_layers.relu2_1", "1.0"),
        ]);
        assert_eq!(
            differing_keys(&[a, b]),
            vec!["loss.style_layers.relu2_1", "loss.style_weight"]
        );
    }
}
