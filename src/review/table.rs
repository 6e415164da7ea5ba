//! `stylelab runs`: one line per run, as a table, CSV or JSON, with the
//! config keys that vary across the runs listed.
//!
//! Review side: reads run folders through [`super::list_runs`] and
//! [`super::flat_config`], orders them with [`super::sort`], and renders text
//! for `cli` (and for `bench`, which times a listing).

use super::{RunEntry, RunState, differing_keys, flat_config, list_runs};
use std::collections::BTreeMap;
use std::path::Path;

/// Output format of `stylelab runs` (its `--format` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal; drops the `run` column and shortens `started`.
    Table,
    /// Every column, header first, as written by the `csv` crate.
    Csv,
    /// A pretty-printed array with one object per run.
    Json,
}

/// Fixed columns, before the varying config keys.
pub use super::sort::COLUMNS;

/// The runs to list, their configs, and the keys that vary among them.
pub struct Listing {
    /// The runs kept by the filter, in sorted order.
    pub runs: Vec<RunEntry>,
    /// Each run's [`flat_config`], index for index with `runs`.
    pub configs: Vec<BTreeMap<String, String>>,
    /// Config keys whose values differ among `runs` (see [`differing_keys`]);
    /// empty when fewer than two runs are listed.
    pub varying: Vec<String>,
}

/// Why a run needs a second look, if it does: the reason a run is broken,
/// the last step of one that died, or a failed run's error; empty otherwise.
pub fn note(r: &RunEntry) -> String {
    match &r.state {
        RunState::Broken(reason) => reason.clone(),
        RunState::Died => format!("process gone after step {}", r.steps()),
        _ => r.summary.as_ref().and_then(|s| s.error.clone()).unwrap_or_default(),
    }
}

/// `digits` decimals; non-finite values as `NaN`/`inf`; empty for `None`.
fn number(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        Some(x) => x.to_string(),
        None => String::new(),
    }
}

/// Scientific notation with 4 decimals; non-finite as `NaN`/`inf`; empty for `None`.
fn loss(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4e}"),
        Some(x) => x.to_string(),
        None => String::new(),
    }
}

impl Listing {
    /// Lists `results`, keeps runs matching `filter` (a case-insensitive
    /// substring of the folder, name, status or any `key=value` of the
    /// config), and sorts by `sort` (a column or config key; `-KEY` for
    /// descending; default: newest first).
    ///
    /// Errors, meant for the user: `results` is not a folder, or `sort` names
    /// neither a column nor a key of any listed run's config (not checked when
    /// no run is left to sort).
    pub fn load(results: &Path, filter: Option<&str>, sort: Option<&str>) -> Result<Listing, String> {
        if !results.is_dir() {
            return Err(format!("{} is not a folder of runs", results.display()));
        }
        let all = list_runs(results);
        let mut pairs: Vec<(RunEntry, BTreeMap<String, String>)> = all
            .into_iter()
            .map(|r| {
                let c = flat_config(&r.dir);
                (r, c)
            })
            .filter(|(r, c)| match filter {
                None => true,
                Some(f) => {
                    let f = f.to_lowercase();
                    let hay = [r.id.clone(), r.name().to_string(), r.state.to_string()];
                    hay.iter().any(|h| h.to_lowercase().contains(&f))
                        || c.iter().any(|(k, v)| format!("{k}={v}").to_lowercase().contains(&f))
                }
            })
            .collect();
        let (key, desc) = match sort.unwrap_or("-started") {
            s if s.starts_with('-') => (s[1..].to_string(), true),
            s => (s.to_string(), false),
        };
        let known = COLUMNS.contains(&key.as_str()) || pairs.iter().any(|(_, c)| c.contains_key(&key));
        if !known && !pairs.is_empty() {
            return Err(format!(
                "cannot sort by '{key}': not a column ({}) nor a config key",
                COLUMNS.join(", ")
            ));
        }
        super::sort::sort_by(&mut pairs, &key, desc, |(r, c)| (r, Some(c)));
        let (runs, configs): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        let varying = if runs.len() > 1 {
            differing_keys(&configs)
        } else {
            Vec::new()
        };
        Ok(Listing { runs, configs, varying })
    }

    /// Every row's fields, in `COLUMNS` then `varying` order.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.runs
            .iter()
            .zip(&self.configs)
            .map(|(r, c)| {
                let l = r.losses();
                let score = |name: &str| {
                    let v = r
                        .summary
                        .as_ref()
                        .and_then(|s| s.scores.as_ref())
                        .and_then(|s| s.get(name));
                    number(v, 4)
                };
                let mut row = vec![
                    r.id.clone(),
                    r.name().to_string(),
                    r.state.to_string(),
                    r.started().to_string(),
                    r.size_text(),
                    r.steps().to_string(),
                    number(Some(r.wall_s()), 1),
                    number(Some(r.steps_per_s()), 2),
                    loss(l.map(|l| l.total)),
                    loss(l.map(|l| l.content)),
                    loss(l.map(|l| l.style)),
                    loss(l.map(|l| l.tv)),
                    score("content_dist"),
                    score("style_dist"),
                    score("color_dist"),
                    score("ssim"),
                    note(r),
                ];
                row.extend(self.varying.iter().map(|k| c.get(k).cloned().unwrap_or_default()));
                row
            })
            .collect()
    }

    /// Column names: `COLUMNS`, then the `varying` config keys.
    pub fn header(&self) -> Vec<String> {
        COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(self.varying.iter().cloned())
            .collect()
    }

    /// The whole listing as text, ending in a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Csv => self.csv(),
            Format::Json => self.json(),
            Format::Table => self.table(),
        }
    }

    /// Header and rows through the `csv` crate, which quotes where needed.
    fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to memory cannot fail.
        let _ = w.write_record(self.header());
        for r in self.rows() {
            let _ = w.write_record(&r);
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// One object per run: the columns (numbers as numbers, null when
    /// missing) and the varying config keys under `varying`.
    fn json(&self) -> String {
        let list: Vec<serde_json::Value> = self
            .rows()
            .iter()
            .map(|r| {
                let mut obj = serde_json::Map::new();
                for (i, col) in COLUMNS.iter().enumerate() {
                    let v = &r[i];
                    let value = match *col {
                        "steps" | "wall_s" | "steps_per_s" | "total" | "content" | "style" | "tv" | "content_dist"
                        | "style_dist" | "color_dist" | "ssim" => v
                            .parse::<f64>()
                            .ok()
                            .filter(|x| x.is_finite())
                            .and_then(serde_json::Number::from_f64)
                            .map(serde_json::Value::Number)
                            .unwrap_or(serde_json::Value::Null),
                        _ => serde_json::Value::String(v.clone()),
                    };
                    obj.insert(col.to_string(), value);
                }
                let config: serde_json::Map<String, serde_json::Value> = self
                    .varying
                    .iter()
                    .zip(&r[COLUMNS.len()..])
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                obj.insert("varying".into(), serde_json::Value::Object(config));
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    }

    /// Aligned columns for the terminal, two spaces apart. The `run` column is
    /// left out, and `started` is cut to `YYYY-MM-DD HH:MM:SS` (no UTC offset).
    fn table(&self) -> String {
        let header = self.header();
        let show: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "run").collect();
        let cells = |r: &Vec<String>| -> Vec<String> {
            show.iter()
                .map(|&i| {
                    if header[i] == "started" {
                        r[i].get(0..19).unwrap_or(&r[i]).replace('T', " ")
                    } else {
                        r[i].clone()
                    }
                })
                .collect()
        };
        let head: Vec<String> = show.iter().map(|&i| header[i].clone()).collect();
        let body: Vec<Vec<String>> = self.rows().iter().map(cells).collect();
        let widths: Vec<usize> = (0..head.len())
            .map(|c| {
                body.iter()
                    .map(|r| r[c].chars().count())
                    .chain([head[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |r: &[String]| {
            r.iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = line(&head) + "\n";
        for r in &body {
            out += &(line(r) + "\n");
        }
        out
    }
}
