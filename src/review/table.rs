//! `stylelab runs`: one line per run, as a table, CSV or JSON, with the
//! config keys that vary across the runs listed.

use super::{RunEntry, RunState, differing_keys, flat_config, list_runs};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Fixed columns, before the varying config keys.
pub const COLUMNS: [&str; 12] = [
    "run",
    "name",
    "status",
    "started",
    "steps",
    "wall_s",
    "steps_per_s",
    "total",
    "content",
    "style",
    "tv",
    "note",
];

/// The runs to list, their configs, and the keys that vary among them.
pub struct Listing {
    pub runs: Vec<RunEntry>,
    pub configs: Vec<BTreeMap<String, String>>,
    pub varying: Vec<String>,
}

/// Why a run needs a second look, if it does.
pub fn note(r: &RunEntry) -> String {
    match &r.state {
        RunState::Broken(reason) => reason.clone(),
        RunState::Died => format!("process gone after step {}", r.steps()),
        _ => r.summary.as_ref().and_then(|s| s.error.clone()).unwrap_or_default(),
    }
}

fn number(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        Some(x) => x.to_string(),
        None => String::new(),
    }
}

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
        let cell = |r: &RunEntry, c: &BTreeMap<String, String>| -> (Option<f64>, String) {
            let losses = r.losses();
            match key.as_str() {
                "run" | "started" => (None, r.id.clone()),
                "name" => (None, r.name().to_string()),
                "status" => (None, r.state.to_string()),
                "note" => (None, note(r)),
                "steps" => (Some(r.steps() as f64), String::new()),
                "wall_s" => (Some(r.wall_s()), String::new()),
                "steps_per_s" => (Some(r.steps_per_s()), String::new()),
                "total" => (losses.map(|l| l.total), String::new()),
                "content" => (losses.map(|l| l.content), String::new()),
                "style" => (losses.map(|l| l.style), String::new()),
                "tv" => (losses.map(|l| l.tv), String::new()),
                k => match c.get(k) {
                    Some(v) => (v.parse().ok(), v.clone()),
                    None => (None, String::new()),
                },
            }
        };
        pairs.sort_by(|(ra, ca), (rb, cb)| {
            let (a, b) = (cell(ra, ca), cell(rb, cb));
            let o = match (a.0.filter(|x| !x.is_nan()), b.0.filter(|x| !x.is_nan())) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => a.1.cmp(&b.1),
            };
            (if desc { o.reverse() } else { o }).then_with(|| ra.id.cmp(&rb.id))
        });
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
                let mut row = vec![
                    r.id.clone(),
                    r.name().to_string(),
                    r.state.to_string(),
                    r.started().to_string(),
                    r.steps().to_string(),
                    number(Some(r.wall_s()), 1),
                    number(Some(r.steps_per_s()), 2),
                    loss(l.map(|l| l.total)),
                    loss(l.map(|l| l.content)),
                    loss(l.map(|l| l.style)),
                    loss(l.map(|l| l.tv)),
                    note(r),
                ];
                row.extend(self.varying.iter().map(|k| c.get(k).cloned().unwrap_or_default()));
                row
            })
            .collect()
    }

    pub fn header(&self) -> Vec<String> {
        COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(self.varying.iter().cloned())
            .collect()
    }

    pub fn render(&self, format: Format) -> String {
        let header = self.header();
        let rows = self.rows();
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(&header).expect("writing to memory");
                for r in &rows {
                    w.write_record(r).expect("writing to memory");
                }
                String::from_utf8(w.into_inner().expect("writing to memory")).expect("utf-8 in, utf-8 out")
            }
            Format::Json => {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let mut obj = serde_json::Map::new();
                        for (i, col) in COLUMNS.iter().enumerate() {
                            let v = &r[i];
                            let value = match *col {
                                "steps" | "wall_s" | "steps_per_s" | "total" | "content" | "style" | "tv" => v
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
                serde_json::to_string_pretty(&list).expect("plain data") + "\n"
            }
            Format::Table => {
                // The started time and the note are long: the table shows the
                // time only, and the note last.
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
                let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
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
    }
}
