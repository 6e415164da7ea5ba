//! `stylelab sweep`: an experiment file's `[sweep]` table expands into
//! points — the grid of every combination, or with `mode = "zip"` the lists
//! taken in step — and each point is an ordinary run named `<name>-pNNN`.
//! Runs are found again by that name, so a sweep restarted skips the points
//! that completed, cluster nodes can run single points (`--point N`) with
//! no shared state but the results folder, and `--collect` rebuilds the
//! sweep's `index.csv` and contact sheet from whatever has finished.
//!
//! A command on top of the pipeline: each point goes through config →
//! preflight → engine → sinks like any run (`jobs` runs it, here or in a
//! child process, through `headless::execute`), and this module reads the
//! results back through `review` to see which points are done.

pub mod claim;
pub mod jobs;
pub mod slurm;

use crate::error::bad_input;
use anyhow::{Context, Result};
use claim::{Claim, Claims};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use stylelab_core::config::{self, DeviceChoice, Experiment, Override};
use stylelab_core::review::{self, RunEntry, RunState};

/// The file in a sweep's folder that names the sweep it belongs to: its
/// experiment file and `[sweep]` table. Another sweep of the same name but a
/// different table is refused there, so points are never mixed up.
pub const OWNER_FILE: &str = "sweep.toml";

/// How the `[sweep]` lists combine into points (`mode` in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every combination, the first key varying slowest (the default).
    Grid,
    /// The i-th value of every list together; all lists must have one length.
    Zip,
}

/// One point: the values it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// 0-based position in the sweep: the `NNN` of `<name>-pNNN` and `--point N`.
    pub index: usize,
    /// Dotted key and value for each swept key, in `Sweep::keys` order.
    pub values: Vec<(String, toml::Value)>,
}

impl Point {
    /// `loss.style_weight=1000.0, optim.iterations=50`.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A value as TOML writes it, strings without their quotes.
fn display_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An expanded sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The experiment file, as given.
    pub source: PathBuf,
    /// The base experiment's name (after overrides); points are named from it.
    pub name: String,
    /// Grid or zip.
    pub mode: Mode,
    /// Swept keys, in the order the points vary them.
    pub keys: Vec<String>,
    /// Every point, in index order.
    pub points: Vec<Point>,
    /// The base experiment's results folder, where every point's run goes.
    pub results: PathBuf,
    /// Overrides from the command line, applied to every point.
    pub overrides: Vec<Override>,
    /// The `[sweep]` table as written (after overrides).
    pub table: toml::Table,
    /// The base experiment's device.
    pub device: DeviceChoice,
}

/// Why `key` cannot be swept, if it cannot: points are named by the sweep
/// and found in its results folder, so no value may set the name or move
/// the results — `output.results` itself or any table that holds it
/// (`"output" = [{ results = … }]`).
fn unsweepable(key: &str) -> Option<&'static str> {
    let sets = |target: &str| key == target || target.strip_prefix(key).is_some_and(|rest| rest.starts_with('.'));
    if sets("name") {
        Some("points are named <name>-p000, <name>-p001, …, so a swept name changes nothing; sweep another key")
    } else if sets("output.results") {
        Some(
            "every point goes to the sweep's results folder, where the sweep finds it again, so a sweep value may not \
             set output.results (nor the table holding it); give the folder with --results",
        )
    } else {
        None
    }
}

/// An [`expand`] error as `file:line: sweep."key": …`, the line found where
/// the key is written (else the `[sweep]` table's).
fn locate(path: &Path, error: &ExpandError) -> String {
    let src = stylelab_core::files::read_text_bounded(path, config::EXPERIMENT_LIMIT).unwrap_or_default();
    let locator = config::Locator::new(&src);
    let line = error
        .key
        .as_deref()
        .and_then(|k| locator.line_of_sweep_key(k))
        .or_else(|| locator.line_of_key("sweep"));
    match line {
        Some(line) => format!("{}:{line}: {error}", path.display()),
        None => format!("{}: {error}", path.display()),
    }
}

/// Why a `[sweep]` table does not expand: the message, and the swept key
/// it is about when there is one (for [`Sweep::load`] to find its line).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandError {
    /// The dotted key, as written in `[sweep]`.
    pub key: Option<String>,
    /// `sweep."loss.tv_weight": 3 is not a list; …`.
    pub message: String,
}

impl ExpandError {
    fn at(key: &str, message: String) -> Self {
        ExpandError {
            key: Some(key.to_string()),
            message,
        }
    }

    fn whole(message: String) -> Self {
        ExpandError { key: None, message }
    }
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The points of a `[sweep]` table.
///
/// Every key but `mode` must hold a non-empty list; keys come in dotted-key
/// order (TOML tables sort theirs). A grid is capped at 100 000 points.
/// Error messages name the offending key where there is one, but not the
/// file: [`Sweep::load`] adds it.
pub fn expand(table: &toml::Table) -> Result<(Mode, Vec<String>, Vec<Point>), ExpandError> {
    // `"loss.style_weight" = [...]` and `[sweep.loss] style_weight = [...]`
    // both give dotted keys.
    let entries = config::dotted_keys(table);
    let mut mode = Mode::Grid;
    let mut lists: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (k, v) in entries {
        if let Some(why) = unsweepable(&k) {
            return Err(ExpandError::at(&k, format!("sweep.\"{k}\": {why}")));
        }
        if k == "mode" {
            mode = match v.as_str() {
                Some("grid") => Mode::Grid,
                Some("zip") => Mode::Zip,
                _ => {
                    return Err(ExpandError::at(
                        "mode",
                        format!("sweep.mode: {v} is not a mode; use \"grid\" or \"zip\""),
                    ));
                }
            };
            continue;
        }
        match v {
            toml::Value::Array(a) if !a.is_empty() => lists.push((k, a)),
            toml::Value::Array(_) => return Err(ExpandError::at(&k, format!("sweep.\"{k}\": the list is empty"))),
            other => {
                let message = format!("sweep.\"{k}\": {other} is not a list; write [value, value, …]");
                return Err(ExpandError::at(&k, message));
            }
        }
    }
    if lists.is_empty() {
        return Err(ExpandError::whole(
            "[sweep] lists no keys to vary, e.g. \"loss.style_weight\" = [1e2, 1e3]".into(),
        ));
    }
    let keys: Vec<String> = lists.iter().map(|(k, _)| k.clone()).collect();
    let points: Vec<Point> = match mode {
        Mode::Zip => {
            let n = lists[0].1.len();
            if let Some((k, l)) = lists.iter().find(|(_, l)| l.len() != n) {
                return Err(ExpandError::at(
                    k,
                    format!(
                        "sweep: mode \"zip\" needs lists of one length; \"{}\" has {n} values, \"{k}\" has {}",
                        lists[0].0,
                        l.len()
                    ),
                ));
            }
            (0..n)
                .map(|i| Point {
                    index: i,
                    values: lists.iter().map(|(k, l)| (k.clone(), l[i].clone())).collect(),
                })
                .collect()
        }
        Mode::Grid => {
            let total: usize = lists.iter().map(|(_, l)| l.len()).product();
            if total > 100_000 {
                return Err(ExpandError::whole(format!(
                    "sweep: the grid has {total} points; that is more than 100000"
                )));
            }
            (0..total)
                .map(|i| {
                    // The first key varies slowest.
                    let mut rest = i;
                    let mut values = vec![(String::new(), toml::Value::Boolean(false)); lists.len()];
                    for (j, (k, l)) in lists.iter().enumerate().rev() {
                        values[j] = (k.clone(), l[rest % l.len()].clone());
                        rest /= l.len();
                    }
                    Point { index: i, values }
                })
                .collect()
        }
    };
    Ok((mode, keys, points))
}

impl Sweep {
    /// Reads an experiment file's sweep, checking every point's config.
    ///
    /// `overrides` (`--set`) apply to the base experiment and to every point.
    /// Bad-input error when the file has no `[sweep]` table or it does not
    /// expand; a point whose config does not validate is named by index and values.
    pub fn load(path: &Path, overrides: &[Override]) -> Result<Sweep> {
        let base = config::load(path, overrides)?;
        let Some(table) = base.sweep.clone() else {
            return Err(bad_input(format!(
                "{}: has no [sweep] table (see the README for one)",
                path.display()
            )));
        };
        let (mode, keys, points) = expand(&table).map_err(|e| bad_input(locate(path, &e)))?;
        let sweep = Sweep {
            source: path.to_path_buf(),
            name: base.name.clone(),
            mode,
            keys,
            points,
            results: base.results.clone(),
            overrides: overrides.to_vec(),
            table,
            device: base.device,
        };
        for p in &sweep.points {
            let exp = sweep.experiment(p)?;
            // Whatever spelling a value used, a point's run goes where the sweep looks.
            if config::absolute(&exp.results) != config::absolute(&sweep.results) {
                return Err(bad_input(format!(
                    "{}: sweep point {} ({}) would write to {} instead of the sweep's results folder {}; \
                     a sweep value may not move the results (give the folder with --results)",
                    path.display(),
                    p.index,
                    p.describe(),
                    exp.results.display(),
                    sweep.results.display()
                )));
            }
        }
        Ok(sweep)
    }

    /// The run name of a point: `<name>-p007`. Runs are matched to points by it.
    pub fn point_name(&self, index: usize) -> String {
        format!("{}-p{index:03}", self.name)
    }

    /// The validated experiment of a point: the file loaded again with the
    /// command-line overrides, then the point's values, then its name.
    pub fn experiment(&self, p: &Point) -> Result<Experiment> {
        let mut all = self.overrides.clone();
        all.extend(p.values.iter().map(|(k, v)| Override::from_sweep(k, v.clone())));
        all.push(Override::from_sweep(
            "name",
            toml::Value::String(self.point_name(p.index)),
        ));
        config::load(&self.source, &all).with_context(|| format!("sweep point {} ({})", p.index, p.describe()))
    }

    /// `results/<name>-sweep/`: the index, the sheet and the Slurm script.
    pub fn dir(&self) -> PathBuf {
        self.results
            .join(format!("{}-sweep", stylelab_core::record::slug(&self.name)))
    }

    /// The runs of each point, newest first, one `Vec` per point in index order.
    ///
    /// A run belongs to a point when its summary's name is the point's name,
    /// so a run without a readable summary.json belongs to none.
    pub fn find_runs(&self) -> Vec<Vec<RunEntry>> {
        let all = review::list_runs(&self.results);
        self.points
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

    /// Who is running which point: `<sweep dir>/claims/`.
    pub fn claims(&self) -> Claims {
        Claims::new(&self.dir())
    }

    /// The summary's record of point `index` of this sweep.
    pub fn member(&self, index: usize) -> stylelab_core::record::SweepMember {
        stylelab_core::record::SweepMember {
            name: self.name.clone(),
            point: index,
            points: self.points.len(),
        }
    }

    /// Checks that the sweep's folder belongs to this sweep — no other
    /// sweep of the same name with a different `[sweep]` table uses it —
    /// and, with `write`, records that it does ([`OWNER_FILE`]).
    /// Bad-input error otherwise, before anything runs.
    pub fn bind(&self, write: bool) -> Result<()> {
        let dir = self.dir();
        let path = dir.join(OWNER_FILE);
        match stylelab_core::files::read_text_bounded(&path, stylelab_core::files::TEXT_LIMIT) {
            Ok(text) => {
                let stored: toml::Table =
                    toml::from_str(&text).map_err(|e| bad_input(format!("{}: {}", path.display(), e.message())))?;
                let theirs = stored.get("sweep").and_then(toml::Value::as_table);
                if theirs != Some(&self.table) {
                    let source = stored.get("source").and_then(toml::Value::as_str).unwrap_or("?");
                    return Err(bad_input(format!(
                        "{}: this results folder already holds the sweep \"{}\" of {source}, over {}; {} sweeps {}. \
                         Give this experiment another name (--set name=…) or another results folder (--results …)",
                        dir.display(),
                        self.name,
                        theirs
                            .map(describe_table)
                            .unwrap_or_else(|| "an unreadable table".into()),
                        self.source.display(),
                        describe_table(&self.table),
                    )));
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if write {
                    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                    let mut owner = toml::Table::new();
                    owner.insert(
                        "source".into(),
                        toml::Value::String(config::absolute(&self.source).display().to_string()),
                    );
                    owner.insert("sweep".into(), toml::Value::Table(self.table.clone()));
                    stylelab_core::files::write_atomic(&path, toml::to_string(&owner)?.as_bytes())?;
                }
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The point's resolved experiment in the form runs are compared in
    /// (see [`comparable`]); None when it does not validate (a sweep checks
    /// every point when it loads, so only a file changed since does not).
    pub fn comparable_experiment(&self, p: &Point) -> Option<toml::Table> {
        let exp = self.experiment(p).ok()?;
        toml::Table::try_from(exp.to_raw()).ok().map(comparable)
    }

    /// The completed run among `runs` (a point's, newest first) that ran
    /// exactly this point's experiment; else the completed run by its name
    /// that comes closest (fewest keys differ, newest first), with what differs.
    pub fn completed_run<'r>(&self, p: &Point, runs: &'r [RunEntry]) -> Completion<'r> {
        let Some(wanted) = self.comparable_experiment(p) else {
            return Completion::None;
        };
        let mut closest: Option<(&RunEntry, Differences)> = None;
        for r in runs.iter().filter(|r| r.state == RunState::Completed) {
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

    /// Where every point stands: done, running (claimed by a live process),
    /// failed (its latest run did not complete), or still to do.
    pub fn states(&self) -> Vec<PointState> {
        let claims = self.claims();
        self.find_runs()
            .iter()
            .zip(&self.points)
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
                    (Some(r), _) if r.state == RunState::Running => PointState::Running(Claim {
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

    /// `sweep --emit slurm`: writes the job-array script to `out` (default
    /// `<sweep dir>/sweep.sbatch`) and says how to submit it.
    pub fn write_slurm_script(&self, out: Option<&Path>) -> Result<String> {
        let script = out
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir().join("sweep.sbatch"));
        if let Some(dir) = script.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
        let workdir = std::env::current_dir().context("no current folder")?;
        stylelab_core::files::write_atomic(&script, &slurm::script(self, &exe, &workdir, &script))?;
        Ok(format!(
            "wrote {} ({} array tasks); submit it with: sbatch {}",
            script.display(),
            self.points.len(),
            slurm::shell_word(script.as_os_str())
        ))
    }

    /// `sweep --dry-run`: every point and where it stands — done, running
    /// (where, since when), failed (to be retried), done with other
    /// settings, to do.
    pub fn dry_run(&self) -> String {
        let mode = match self.mode {
            Mode::Zip => "zip",
            Mode::Grid => "grid",
        };
        let states = self.states();
        let count = |label: &str| states.iter().filter(|s| s.label() == label).count();
        let mut out = format!(
            "{}: {} points ({mode}) over {}: {} done, {} running, {} failed, {} to do\n",
            self.source.display(),
            self.points.len(),
            self.keys.join(", "),
            count("done"),
            count("running"),
            count("failed"),
            count("to do"),
        );
        for (p, state) in self.points.iter().zip(&states) {
            let detail = match state {
                PointState::Done(dir) => format!("  {}", dir.display()),
                PointState::Running(by) => format!("  on {}", by.describe()),
                PointState::Failed(how, dir) => format!("  {how} in {}; the next sweep runs it again", dir.display()),
                PointState::Changed(dir, diff) => format!("  done with other settings in {}: {diff}", dir.display()),
                PointState::ToDo => String::new(),
            };
            out += &format!("  {:<4} {:<8} {}{detail}\n", p.index, state.label(), p.describe());
        }
        out
    }

    /// The command-line arguments that give a point the overrides this
    /// sweep was loaded with: ` --set 'key=value'` each.
    pub fn set_args(&self) -> Vec<String> {
        self.overrides
            .iter()
            // As TOML, so that `--set` reads back the very value (strings
            // quoted and escaped).
            .flat_map(|o| ["--set".to_string(), format!("{}={}", o.key, o.value)])
            .collect()
    }
}

/// `loss.style_weight = [10.0, 1000.0]; mode = "zip"`.
fn describe_table(table: &toml::Table) -> String {
    config::dotted_keys(table)
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Keys of a resolved experiment that say where a run's output goes or
/// where it ran, not what it computes: a completed run that differs from a
/// point only in these is that point's run. (`--devices` puts points on
/// whichever device is free.)
const NOT_COMPARED: [&str; 3] = ["name", "output", "optim.device"];

/// A resolved experiment as runs are compared: without [`NOT_COMPARED`]
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
    let show = |v: Option<&toml::Value>| v.map(display_value).unwrap_or_else(|| "(unset)".into());
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

/// Each sweep point's values of its sweep's keys, as `style_weight=1e3
/// layers=…` (keys without their section), by run folder: for the runs of
/// every sweep whose folder (`<results>/<name>-sweep/sweep.toml`) says
/// which keys it sweeps. Runs of sweeps without one are left out.
pub fn point_values(results: &Path, runs: &[RunEntry]) -> std::collections::HashMap<PathBuf, String> {
    let mut keys_of: std::collections::HashMap<String, Option<Vec<String>>> = std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for r in runs {
        let Some(member) = r.sweep() else { continue };
        let keys = keys_of.entry(member.name.clone()).or_insert_with(|| {
            let owner = results
                .join(format!("{}-sweep", stylelab_core::record::slug(&member.name)))
                .join(OWNER_FILE);
            let table: toml::Table = toml::from_str(
                &stylelab_core::files::read_text_bounded(&owner, stylelab_core::files::TEXT_LIMIT).ok()?,
            )
            .ok()?;
            let sweep = table.get("sweep")?.as_table()?;
            expand(sweep).ok().map(|(_, keys, _)| keys)
        });
        let Some(keys) = keys else { continue };
        let config = review::flat_config(&r.dir);
        let text: Vec<String> = keys
            .iter()
            .map(|k| {
                let short = k.rsplit('.').next().unwrap_or(k);
                let v = config.get(k).cloned().unwrap_or_else(|| {
                    // A table swept whole: its entries, as `relu1_1,relu2_1`.
                    let prefix = format!("{k}.");
                    config
                        .keys()
                        .filter_map(|c| c.strip_prefix(&prefix))
                        .collect::<Vec<_>>()
                        .join(",")
                });
                format!("{short}={v}")
            })
            .collect();
        out.insert(r.dir.clone(), text.join(" "));
    }
    out
}

/// The run that stands for point `p`: its completed run with the point's
/// settings, else its newest run with them, else its newest. `runs` must be
/// newest first, as [`Sweep::find_runs`] gives them; `None` when the point
/// has not been run.
pub fn representative<'r>(sweep: &Sweep, p: &Point, runs: &'r [RunEntry]) -> Option<&'r RunEntry> {
    if let Completion::Same(r) = sweep.completed_run(p, runs) {
        return Some(r);
    }
    let wanted = sweep.comparable_experiment(p);
    runs.iter()
        .find(|r| wanted.is_some() && run_experiment(&r.dir) == wanted)
        .or(runs.first())
}

/// Writes `index.csv` (point, run folder, varied values, status, final
/// losses, scores) and, when any point has a final image, `sheet.png`, and
/// `tradeoff.png` when any is scored. Returns how many points have completed.
///
/// Both go to [`Sweep::dir`], which is created if needed. A point without a
/// run is listed with status `pending` and empty losses. The sheet holds the
/// representative runs that have a final.png, whatever their status.
pub fn collect(sweep: &Sweep) -> Result<usize> {
    let dir = sweep.dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let found = sweep.find_runs();
    // Built in memory and replaced by rename: an index.csv planted as a
    // link is replaced, never written through.
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point".to_string(), "run".into()];
    header.extend(sweep.keys.iter().cloned());
    header.extend(["status", "total", "content", "style", "tv"].map(String::from));
    header.extend(stylelab_core::record::Scores::NAMES.map(String::from));
    w.write_record(&header)?;
    let mut done = 0;
    let mut with_images = Vec::new();
    for (p, runs) in sweep.points.iter().zip(&found) {
        let rep = representative(sweep, p, runs);
        let mut row = vec![
            p.index.to_string(),
            rep.map(|r| r.dir.display().to_string()).unwrap_or_default(),
        ];
        row.extend(p.values.iter().map(|(_, v)| display_value(v)));
        row.push(rep.map(|r| r.state.to_string()).unwrap_or_else(|| "pending".into()));
        let l = rep.and_then(|r| r.losses());
        let parts: [fn(&stylelab_core::record::Losses) -> f64; 4] = [|l| l.total, |l| l.content, |l| l.style, |l| l.tv];
        for f in parts {
            row.push(l.map(|l| format!("{:e}", f(&l))).unwrap_or_default());
        }
        for name in stylelab_core::record::Scores::NAMES {
            let v = rep.and_then(|r| r.scores()).and_then(|s| s.get(name));
            row.push(v.map(|v| format!("{v:e}")).unwrap_or_default());
        }
        w.write_record(&row)?;
        if let Some(r) = rep {
            done += usize::from(r.state == RunState::Completed);
            if stylelab_core::record::RunPaths::new(&r.dir).final_image().exists() {
                with_images.push(r.dir.clone());
            }
        }
    }
    let index = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write index.csv: {e}"))?;
    stylelab_core::files::write_atomic(&dir.join("index.csv"), &index)?;
    if !with_images.is_empty() {
        let cmp = review::Comparison::load(&with_images);
        stylelab_core::review::sheet::write_sheet(&cmp, &dir.join("sheet.png"))?;
        let tradeoff = cmp.tradeoff();
        if !tradeoff.is_empty() {
            let title = format!("{}: content against style", sweep.name);
            stylelab_core::review::plot::write_scatter(&dir.join("tradeoff.png"), &tradeoff, &title, (1200, 900))?;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_grid_is_every_combination_first_key_slowest() {
        let t = table(
            r#"
"loss.style_weight" = [1e2, 1e3, 1e4]
"loss.style_layers" = [{ relu1_1 = 1.0 }, { relu1_1 = 1.0, relu2_1 = 1.0 }]
"#,
        );
        let (mode, keys, points) = expand(&t).unwrap();
        assert_eq!(mode, Mode::Grid);
        assert_eq!(points.len(), 6);
        // toml tables sort their keys.
        assert_eq!(keys, vec!["loss.style_layers", "loss.style_weight"]);
        assert_eq!(
            points[0].describe(),
            "loss.style_layers={ relu1_1 = 1.0 }, loss.style_weight=100.0"
        );
        assert_eq!(
            points[1].describe(),
            "loss.style_layers={ relu1_1 = 1.0 }, loss.style_weight=1000.0"
        );
        assert_eq!(
            points[5].describe(),
            "loss.style_layers={ relu1_1 = 1.0, relu2_1 = 1.0 }, loss.style_weight=10000.0"
        );
        assert_eq!(
            points.iter().map(|p| p.index).collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>()
        );
    }

    #[test]
    fn zip_takes_the_lists_in_step() {
        let t = table("mode = \"zip\"\n\"loss.style_weight\" = [1, 2]\n\"optim.seed\" = [7, 8]\n");
        let (mode, _, points) = expand(&t).unwrap();
        assert_eq!(mode, Mode::Zip);
        assert_eq!(
            points.iter().map(Point::describe).collect::<Vec<_>>(),
            vec!["loss.style_weight=1, optim.seed=7", "loss.style_weight=2, optim.seed=8"]
        );
        let bad = table("mode = \"zip\"\na = [1, 2]\nb = [1]\n");
        assert!(
            expand(&bad)
                .unwrap_err()
                .to_string()
                .contains("\"a\" has 2 values, \"b\" has 1")
        );
    }

    #[test]
    fn nested_tables_are_dotted_keys_and_bad_values_are_named() {
        let t = table("[loss]\nstyle_weight = [1, 2]\n");
        assert_eq!(expand(&t).unwrap().1, vec!["loss.style_weight"]);
        assert!(
            expand(&table("\"loss.tv_weight\" = 3"))
                .unwrap_err()
                .to_string()
                .contains("is not a list")
        );
        assert!(
            expand(&table("mode = \"cube\"\na = [1]"))
                .unwrap_err()
                .to_string()
                .contains("use \"grid\" or \"zip\"")
        );
        assert!(expand(&table("")).unwrap_err().to_string().contains("lists no keys"));
    }
}
