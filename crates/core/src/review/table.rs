//! `stylelab runs`: one line per run, as a table, CSV or JSON, with the
//! config keys that vary across the runs listed.
//!
//! Review side: reads run folders through [`super::list_runs`] and
//! [`super::review_configs`], orders them with [`super::sort`], and renders text
//! for `cli` (and for `bench`, which times a listing).

use super::export::{Cell, Export, Tabular};
use super::{RunEntry, differing_keys, list_runs, review_configs};
use std::collections::BTreeMap;
use std::path::Path;

/// Output format of `stylelab runs` (its `--format` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal; drops the `run` column and shortens `started`.
    Table,
    /// Every column, header first, as written by the `csv` crate.
    Csv,
    /// A pretty-printed array with one object per run.
    Json,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 3] = [Format::Table, Format::Csv, Format::Json];
}

/// `table`, `csv` or `json`.
impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
        })
    }
}

/// The `--format` words, as [`Format`]'s `Display` writes them.
impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.to_string() == s)
            .ok_or_else(|| format!("'{s}' is not a format; use table, csv or json"))
    }
}

/// Fixed columns, before the varying config keys.
pub use super::sort::COLUMNS;

/// The runs to list, their configs, and the keys that vary among them.
pub struct Listing {
    /// The runs kept by the filter, in sorted order.
    pub runs: Vec<RunEntry>,
    /// Each run's config ([`review_configs`]), index for index with `runs`.
    pub configs: Vec<BTreeMap<String, String>>,
    /// Config keys whose values differ among `runs` (see [`differing_keys`]);
    /// empty when fewer than two runs are listed.
    pub varying: Vec<String>,
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
    /// Lists `results`, keeps runs matching `filter` (see [`matches()`]),
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
        let configs = review_configs(&all);
        let mut pairs: Vec<(RunEntry, BTreeMap<String, String>)> = all
            .into_iter()
            .zip(configs)
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

    /// The listing as a [`Tabular`]: the `COLUMNS` (counts as integers,
    /// measurements at full precision, shown as the table shows them), then
    /// the varying config keys (TOML values as JSON values) — each its own
    /// column, or with `nested` one `varying` column holding them all (the
    /// JSON's shape).
    pub fn tabular(&self) -> Tabular {
        self.tabular_shaped(false)
    }

    fn tabular_shaped(&self, nested: bool) -> Tabular {
        let mut columns: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
        if nested {
            columns.push("varying".into());
        } else {
            columns.extend(self.varying.iter().cloned());
        }
        let rows = self
            .runs
            .iter()
            .zip(&self.configs)
            .map(|(r, c)| {
                let l = r.losses();
                let loss = |v: Option<f64>| Cell::number(v, |x| format!("{x:.4e}"));
                let score = |name: &str| Cell::number(r.scores().and_then(|s| s.get(name)), |x| format!("{x:.4}"));
                let mut row = vec![
                    Cell::text(r.id.clone()),
                    Cell::text(r.name()),
                    Cell::text(r.state.to_string()),
                    Cell::text(r.started()),
                    Cell::text(r.size_text()),
                    Cell::int(r.steps()),
                    Cell::number(Some(r.wall_s()), |x| format!("{x:.1}")),
                    Cell::number(Some(r.steps_per_s()), |x| format!("{x:.2}")),
                    loss(l.map(|l| l.total)),
                    loss(l.map(|l| l.content)),
                    loss(l.map(|l| l.style)),
                    loss(l.map(|l| l.tv)),
                    score("content_dist"),
                    score("style_dist"),
                    score("color_dist"),
                    score("ssim"),
                    Cell::text(r.note()),
                ];
                let varying = self.varying.iter().map(|k| match c.get(k) {
                    Some(v) => Cell {
                        value: toml_as_json(v),
                        text: crate::text::compact_number(v),
                    },
                    None => Cell::data(serde_json::Value::Null),
                });
                if nested {
                    let map = self.varying.iter().cloned().zip(varying.map(|c| c.value)).collect();
                    row.push(Cell::data(serde_json::Value::Object(map)));
                } else {
                    row.extend(varying);
                }
                row
            })
            .collect();
        Tabular { columns, rows }
    }

    /// Every row's fields as the table and CSV show them, in `COLUMNS` then
    /// `varying` order.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.tabular()
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(|c| c.text).collect())
            .collect()
    }

    /// Column names: `COLUMNS`, then the `varying` config keys.
    pub fn header(&self) -> Vec<String> {
        self.tabular().columns
    }

    /// The whole listing as text, ending in a newline. The table leaves out
    /// the `run` column and cuts `started` to `YYYY-MM-DD HH:MM:SS`. With a
    /// `width` it is fitted for a reader comparing runs: the columns come in
    /// [`TABLE_ORDER`] with the varying config keys after the scores, keys
    /// lose their section (`style_weight`) and paths read as the part that
    /// tells them apart (file names); columns go whole, least telling first
    /// ([`DROP_ORDER`], then the varying keys from the last), and the name
    /// gives way last, keeping what tells the names apart. Without a width
    /// (piped, `--wide`) every column is whole, in `COLUMNS` order.
    pub fn render(&self, format: Format, width: Option<usize>) -> String {
        let mut tabular = self.tabular();
        match format {
            Format::Csv => tabular.render(&Export::Csv),
            Format::Json => self.tabular_shaped(true).render(&Export::Json),
            Format::Table => {
                let started = tabular.columns.iter().position(|c| c == "started");
                for row in &mut tabular.rows {
                    if let Some(i) = started {
                        let t = &row[i].text;
                        row[i].text = t.get(0..19).unwrap_or(t).replace('T', " ");
                    }
                }
                if width.is_some() {
                    tabular = self.fitted_order(tabular);
                }
                if let Some(i) = tabular.columns.iter().position(|c| c == "run") {
                    tabular.columns.remove(i);
                    for row in &mut tabular.rows {
                        row.remove(i);
                    }
                }
                tabular.render(&Export::Table {
                    width,
                    drop_order: &DROP_ORDER,
                })
            }
        }
    }

    /// The table's columns for a terminal: [`TABLE_ORDER`]'s, with the
    /// varying keys (short names, path values cut to what tells them
    /// apart) after `style_dist`.
    fn fitted_order(&self, t: Tabular) -> Tabular {
        let fixed = COLUMNS.len();
        let pos = |name: &str| t.columns.iter().position(|c| c == name);
        let mut order: Vec<usize> = Vec::new();
        for name in TABLE_ORDER {
            if let Some(i) = pos(name) {
                order.push(i);
            }
            if name == "style_dist" {
                order.extend(fixed..t.columns.len());
            }
        }
        let rest: Vec<usize> = (0..fixed).filter(|i| !order.contains(i)).collect();
        order.extend(rest);
        let mut columns: Vec<String> = order.iter().map(|&i| t.columns[i].clone()).collect();
        for c in columns.iter_mut() {
            if self.varying.contains(c)
                && let Some((_, rest)) = c.split_once('.')
            {
                *c = rest.to_string();
            }
        }
        let mut rows: Vec<Vec<super::export::Cell>> = t
            .rows
            .iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect();
        for (k, &i) in order.iter().enumerate() {
            if i < fixed {
                continue;
            }
            let values: Vec<String> = rows.iter().map(|r| r[k].text.clone()).collect();
            for (r, v) in rows.iter_mut().zip(super::distinguishing_tails(&values)) {
                r[k].text = v;
            }
        }
        Tabular { columns, rows }
    }
}

/// The order of a fitted table's fixed columns, what a reader compares
/// first: the varying config keys come right after `style_dist`.
pub const TABLE_ORDER: [&str; 17] = [
    "run",
    "name",
    "status",
    "steps",
    "total",
    "style",
    "content_dist",
    "style_dist",
    "content",
    "tv",
    "ssim",
    "color_dist",
    "size",
    "wall_s",
    "steps_per_s",
    "started",
    "note",
];

/// The table's columns, the first to leave out when the terminal is narrow
/// (after them, the varying config keys, last first; the name never).
pub const DROP_ORDER: [&str; 9] = [
    "note",
    "started",
    "steps_per_s",
    "wall_s",
    "size",
    "color_dist",
    "ssim",
    "tv",
    "content",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_back_to_what_they_display() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert_eq!(
            "yaml".parse::<Format>(),
            Err("'yaml' is not a format; use table, csv or json".to_string())
        );
    }
}
