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

/// Whether a run matches `--filter TEXT`, case aside: TEXT in its folder,
/// name or status, or in one of its config values (not the key names:
/// `layers` would match every run); `KEY=VALUE` matches runs whose config
/// key containing KEY has a value containing VALUE.
pub fn matches(r: &RunEntry, config: &BTreeMap<String, String>, filter: &str) -> bool {
    let f = filter.to_lowercase();
    let has = |hay: &str| hay.to_lowercase().contains(&f);
    if let Some((key, value)) = f.split_once('=') {
        let (key, value) = (key.trim(), value.trim());
        return config
            .iter()
            .any(|(k, v)| k.to_lowercase().contains(key) && v.to_lowercase().contains(value));
    }
    has(&r.id) || has(r.name()) || has(&r.state.to_string()) || config.values().any(|v| has(v))
}

impl Listing {
    /// Lists `results`, keeps runs matching `filter` (see [`matches`]),
    /// and sorts by `sort` (a column or config key; `-KEY` for descending;
    /// default: newest first).
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
            .filter(|(r, c)| filter.is_none_or(|f| matches(r, c, f)))
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

    /// The whole listing as text, ending in a newline; a table fits in
    /// `width` columns when given ([`Listing::table`]).
    pub fn render(&self, format: Format, width: Option<usize>) -> String {
        match format {
            Format::Csv => self.csv(),
            Format::Json => self.json(),
            Format::Table => self.table(width),
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

    /// One object per run: the columns at full precision (counts as
    /// integers, measurements as numbers, null when missing) and the
    /// varying config keys under `varying` (TOML values as JSON values).
    fn json(&self) -> String {
        let list: Vec<serde_json::Value> = self
            .runs
            .iter()
            .zip(&self.configs)
            .zip(self.rows())
            .map(|((r, c), row)| {
                let num = |v: Option<f64>| {
                    v.filter(|x| x.is_finite())
                        .and_then(serde_json::Number::from_f64)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                };
                let l = r.losses();
                let score = |name: &str| num(r.scores().and_then(|s| s.get(name)));
                let mut obj = serde_json::Map::new();
                for (i, col) in COLUMNS.iter().enumerate() {
                    let value = match *col {
                        "steps" => serde_json::Value::from(r.steps()),
                        "wall_s" => num(Some(r.wall_s())),
                        "steps_per_s" => num(Some(r.steps_per_s())),
                        "total" => num(l.map(|l| l.total)),
                        "content" => num(l.map(|l| l.content)),
                        "style" => num(l.map(|l| l.style)),
                        "tv" => num(l.map(|l| l.tv)),
                        "content_dist" | "style_dist" | "color_dist" | "ssim" => score(col),
                        _ => serde_json::Value::String(row[i].clone()),
                    };
                    obj.insert(col.to_string(), value);
                }
                let config: serde_json::Map<String, serde_json::Value> = self
                    .varying
                    .iter()
                    .map(|k| (k.clone(), c.get(k).map_or(serde_json::Value::Null, |v| toml_as_json(v))))
                    .collect();
                obj.insert("varying".into(), serde_json::Value::Object(config));
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    }

    /// Aligned columns for the terminal, two spaces apart. The `run` column is
    /// left out, and `started` is cut to `YYYY-MM-DD HH:MM:SS` (no UTC offset).
    ///
    /// With a `width`, the table fits in it: columns are left out whole, the
    /// least telling first ([`DROP_ORDER`], then the varying keys from the
    /// last), never cut, and a last line says which went and that `--wide`
    /// shows them; names longer than their share end in `…`.
    fn table(&self, width: Option<usize>) -> String {
        let mut header = self.header();
        if width.is_some() {
            // Config keys lose their section when room is short: `style_weight`.
            for h in header.iter_mut().skip(COLUMNS.len()) {
                if let Some((_, rest)) = h.split_once('.') {
                    *h = rest.to_string();
                }
            }
        }
        let header = header;
        let mut show: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "run").collect();
        let cells = |r: &Vec<String>, show: &[usize]| -> Vec<String> {
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
        let rows = self.rows();
        let measure = |show: &[usize]| -> Vec<usize> {
            let body: Vec<Vec<String>> = rows.iter().map(|r| cells(r, show)).collect();
            (0..show.len())
                .map(|c| {
                    body.iter()
                        .map(|r| r[c].chars().count())
                        .chain([header[show[c]].chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect()
        };
        let total = |widths: &[usize]| widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        let mut left_out = Vec::new();
        if let Some(limit) = width {
            let mut order: Vec<usize> = DROP_ORDER
                .iter()
                .filter_map(|name| header.iter().position(|h| h == name))
                .collect();
            order.extend((COLUMNS.len()..header.len()).rev());
            for i in order {
                if total(&measure(&show)) <= limit {
                    break;
                }
                show.retain(|&s| s != i);
                left_out.push(header[i].clone());
            }
        }
        let head: Vec<String> = show.iter().map(|&i| header[i].clone()).collect();
        let mut body: Vec<Vec<String>> = rows.iter().map(|r| cells(r, &show)).collect();
        let mut widths = measure(&show);
        // Still too wide: the name column gives way, ending in `…`.
        if let (Some(limit), Some(name)) = (width, head.iter().position(|h| h == "name")) {
            let over = total(&widths).saturating_sub(limit);
            if over > 0 {
                let keep = widths[name].saturating_sub(over).max(6);
                for r in &mut body {
                    if r[name].chars().count() > keep {
                        r[name] = r[name].chars().take(keep - 1).collect::<String>() + "…";
                    }
                }
                widths[name] = keep;
            }
        }
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
        if !left_out.is_empty() {
            let named = format!("({} left out to fit; --wide shows every column)", left_out.join(", "));
            let counted = format!(
                "({} columns left out to fit; --wide shows every column)",
                left_out.len()
            );
            out += if width.is_some_and(|w| named.chars().count() > w) {
                &counted
            } else {
                &named
            };
            out.push('\n');
        }
        out
    }
}

/// The table's columns, the first to leave out when the terminal is narrow
/// (after them, the varying config keys, last first).
pub const DROP_ORDER: [&str; 13] = [
    "note",
    "color_dist",
    "ssim",
    "steps_per_s",
    "started",
    "tv",
    "wall_s",
    "content",
    "size",
    "content_dist",
    "steps",
    "style_dist",
    "style",
];

/// A config value as `flat_config` keeps it (TOML, strings without quotes)
/// as JSON: numbers and booleans as such, anything else as a string.
fn toml_as_json(v: &str) -> serde_json::Value {
    if let Ok(i) = v.parse::<i64>() {
        return serde_json::Value::from(i);
    }
    if let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        return serde_json::Value::Number(n);
    }
    match v {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(v.to_string()),
    }
}
