//! Reading runs back: the list of run folders with their state, their
//! metrics, and the config keys that differ between runs. The dashboard's
//! Runs and Compare views use it, as do the review commands (`runs`,
//! `compare`, `show`, `sheet`).

pub mod plot;
pub mod sheet;
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
    Completed,
    Stopped,
    Failed,
    /// Said `running`, but its process is gone (killed, machine rebooted).
    Died,
    /// No readable summary: a folder being created, or damaged.
    Broken(String),
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunState::Running => f.write_str("running"),
            RunState::Completed => f.write_str("completed"),
            RunState::Stopped => f.write_str("stopped"),
            RunState::Failed => f.write_str("failed"),
            RunState::Died => f.write_str("died"),
            RunState::Broken(_) => f.write_str("broken"),
        }
    }
}

/// One run folder, as listed.
#[derive(Debug, Clone)]
pub struct RunEntry {
    pub dir: PathBuf,
    /// The folder's name (`20261121-101500-starry-cat`).
    pub id: String,
    pub state: RunState,
    pub summary: Option<Summary>,
    /// The latest metrics row (for runs still going, newer than the summary).
    pub last: Option<StepMetrics>,
}

impl RunEntry {
    pub fn name(&self) -> &str {
        self.summary.as_ref().map(|s| s.name.as_str()).unwrap_or(&self.id)
    }
    pub fn steps(&self) -> u64 {
        self.last
            .as_ref()
            .map(|r| r.iter)
            .or(self.summary.as_ref().map(|s| s.steps))
            .unwrap_or(0)
    }
    pub fn wall_s(&self) -> f64 {
        self.last
            .as_ref()
            .map(|r| r.elapsed_s)
            .or(self.summary.as_ref().map(|s| s.wall_s))
            .unwrap_or(0.0)
    }
    pub fn steps_per_s(&self) -> f64 {
        let w = self.wall_s();
        if w > 0.0 { self.steps() as f64 / w } else { 0.0 }
    }
    pub fn started(&self) -> &str {
        self.summary.as_ref().map(|s| s.started.as_str()).unwrap_or("")
    }
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

/// Whether a process that wrote a summary is still a live stylelab.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("stylelab"))
        .unwrap_or(false)
}

/// The last complete row of a metrics file, reading only its head and tail.
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

/// Reads one run folder.
pub fn load_entry(dir: &Path) -> RunEntry {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let summary = record::read_summary(dir);
    let (state, summary) = match summary {
        Err(_) if !RunPaths::new(dir).summary().exists() => (
            RunState::Broken("no summary.json (killed before its first step, or not a run)".into()),
            None,
        ),
        Err(e) => (
            RunState::Broken(format!(
                "unreadable summary.json: {}",
                e.rsplit(": ").next().unwrap_or(&e)
            )),
            None,
        ),
        Ok(s) => {
            let state = match s.status {
                Status::Running if s.pid.is_some_and(process_alive) => RunState::Running,
                Status::Running => RunState::Died,
                Status::Completed => RunState::Completed,
                Status::Stopped => RunState::Stopped,
                Status::Failed => RunState::Failed,
            };
            (state, Some(s))
        }
    };
    // Runs that are going (or died going) have newer numbers in their CSV.
    let last = match state {
        RunState::Running | RunState::Died | RunState::Broken(_) => last_row(dir),
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

/// Every run folder under `results`, newest first.
pub fn list_runs(results: &Path) -> Vec<RunEntry> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| p.join(record::SUMMARY_FILE).exists() || p.join(record::EXPERIMENT_FILE).exists())
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs.iter().map(|d| load_entry(d)).collect()
}

/// A run's resolved experiment as dotted keys → TOML values:
/// `loss.style_layers.relu1_1 = 1.0`.
pub fn flat_config(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(RunPaths::new(dir).experiment()) else {
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
        out.insert(key, text);
    }
    out
}

/// Keys whose values are not the same in every config (a key missing from
/// one counts as different). `name` is left out: it always differs.
pub fn differing_keys(configs: &[BTreeMap<String, String>]) -> Vec<String> {
    let all: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    all.into_iter()
        .filter(|k| k.as_str() != "name")
        .filter(|k| configs.windows(2).any(|w| w[0].get(*k) != w[1].get(*k)))
        .cloned()
        .collect()
}

/// Finds a run by folder path or by a unique prefix of its folder name
/// (`20261121-10`, or the name part: `starry`).
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

/// A run as the compare views need it.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    pub dir: PathBuf,
    pub name: String,
    pub header: MetricsHeader,
    pub rows: Vec<StepMetrics>,
    pub entry: RunEntry,
}

/// Runs side by side: their metrics, and the config keys that differ.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub runs: Vec<ComparedRun>,
    /// Differing keys, each with one value per run (`—` where missing).
    pub diff: Vec<(String, Vec<String>)>,
}

impl Comparison {
    pub fn load(dirs: &[PathBuf]) -> Comparison {
        let configs: Vec<_> = dirs.iter().map(|d| flat_config(d)).collect();
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
        let mut names: Vec<String> = Vec::new();
        let runs = dirs
            .iter()
            .map(|d| {
                let entry = load_entry(d);
                let (header, rows) = record::read_metrics(d).map(|(h, r, _)| (h, r)).unwrap_or_default();
                // Two runs of one experiment: tell them apart by folder.
                let mut name = entry.name().to_string();
                if names.contains(&name) {
                    name = entry.id.clone();
                }
                names.push(name.clone());
                ComparedRun {
                    dir: d.clone(),
                    name,
                    header,
                    rows,
                    entry,
                }
            })
            .collect();
        Comparison { runs, diff }
    }
}

/// A column's (step, value) points for one run; None when the run has no
/// such column.
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

    #[test]
    fn a_dead_process_is_not_running() {
        assert!(process_alive(std::process::id()) == std::env::args().next().unwrap().contains("stylelab"));
        assert!(!process_alive(u32::MAX - 1));
    }
}
