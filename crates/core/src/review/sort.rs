//! Ordering runs by a column or a config key: one rule for `stylelab runs`
//! and the dashboard's Runs view. Numbers sort as numbers and text as text;
//! a run without the value (or with NaN) goes last in either direction, and
//! ties fall back to the folder name.
//!
//! Review side: works on [`RunEntry`]s already read from run folders, and on
//! their flattened configs when the caller has them.

use super::RunEntry;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Columns every run has, before its config keys. `table` uses them as the
/// listing's fixed columns, so these names are also valid `--sort` keys.
pub const COLUMNS: [&str; 17] = [
    "run",
    "name",
    "status",
    "started",
    "size",
    "steps",
    "wall_s",
    "steps_per_s",
    "total",
    "content",
    "style",
    "tv",
    "content_dist",
    "style_dist",
    "color_dist",
    "ssim",
    "note",
];

/// A run's value in one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A numeric column or a config value that parses as `f64`; `None` when
    /// missing or NaN (both sort last).
    Number(Option<f64>),
    /// Any other column or config value, compared as a string (byte order).
    Text(String),
}

/// The value of `column` for a run; config keys are looked up in `config`
/// (a number when the value reads as one).
///
/// `started` sorts by the folder name, whose time stamp is the start time.
/// A key that is neither a column nor in `config` is a missing number.
pub fn value(run: &RunEntry, config: Option<&BTreeMap<String, String>>, column: &str) -> Value {
    let losses = run.losses();
    let number = |v: Option<f64>| Value::Number(v.filter(|x| !x.is_nan()));
    match column {
        "run" | "started" => Value::Text(run.id.clone()),
        "name" => Value::Text(run.name().to_string()),
        "status" => Value::Text(run.state.to_string()),
        "note" => Value::Text(run.note()),
        "size" => Value::Text(run.size_text()),
        "content_dist" | "style_dist" | "color_dist" | "ssim" => number(
            run.summary
                .as_ref()
                .and_then(|s| s.scores.as_ref())
                .and_then(|s| s.get(column)),
        ),
        "steps" => number(Some(run.steps() as f64)),
        "wall_s" => number(Some(run.wall_s())),
        "steps_per_s" => number(Some(run.steps_per_s())),
        "total" => number(losses.map(|l| l.total)),
        "content" => number(losses.map(|l| l.content)),
        "style" => number(losses.map(|l| l.style)),
        "tv" => number(losses.map(|l| l.tv)),
        key => match config.and_then(|c| c.get(key)) {
            Some(v) => match v.parse::<f64>() {
                Ok(x) => number(Some(x)),
                Err(_) => Value::Text(v.clone()),
            },
            None => Value::Number(None),
        },
    }
}

/// How two values order, `desc` reversing all but the missing-last rule.
///
/// Numbers come before text and text before missing values, in either
/// direction; only comparisons of like with like are reversed by `desc`.
pub fn compare(a: &Value, b: &Value, desc: bool) -> Ordering {
    let o = match (a, b) {
        (Value::Number(Some(x)), Value::Number(Some(y))) => x.total_cmp(y),
        (Value::Number(Some(_)), _) => return Ordering::Less,
        (_, Value::Number(Some(_))) => return Ordering::Greater,
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Text(_), Value::Number(None)) => return Ordering::Less,
        (Value::Number(None), Value::Text(_)) => return Ordering::Greater,
        (Value::Number(None), Value::Number(None)) => Ordering::Equal,
    };
    if desc { o.reverse() } else { o }
}

/// Sorts `items` by `column` of the run (and config) each one holds.
///
/// `run` picks the entry and, when the caller has it, the flattened config out
/// of an item. Ties are broken by folder name, ascending even when `desc`.
/// The sort is stable.
pub fn sort_by<T>(
    items: &mut [T],
    column: &str,
    desc: bool,
    run: impl Fn(&T) -> (&RunEntry, Option<&BTreeMap<String, String>>),
) {
    items.sort_by(|a, b| {
        let ((ra, ca), (rb, cb)) = (run(a), run(b));
        compare(&value(ra, ca, column), &value(rb, cb, column), desc).then_with(|| ra.id.cmp(&rb.id))
    });
}

/// Keeps the points of each sweep together after a sort: a sweep's runs
/// move up to where its first run sorted, in their sorted order; other runs
/// keep their places. Stable.
pub fn group_sweeps(runs: &mut Vec<RunEntry>) {
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, r) in runs.iter().enumerate() {
        if let Some(m) = r.sweep() {
            first.entry(m.name.clone()).or_insert(i);
        }
    }
    let mut keyed: Vec<(usize, RunEntry)> = runs
        .drain(..)
        .enumerate()
        .map(|(i, r)| (r.sweep().map(|m| first[&m.name]).unwrap_or(i), r))
        .collect();
    keyed.sort_by_key(|(g, _)| *g);
    runs.extend(keyed.into_iter().map(|(_, r)| r));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_numbers_go_last_in_both_directions() {
        let (one, two, none) = (Value::Number(Some(1.0)), Value::Number(Some(2.0)), Value::Number(None));
        assert_eq!(compare(&one, &two, false), Ordering::Less);
        assert_eq!(compare(&one, &two, true), Ordering::Greater);
        for desc in [false, true] {
            assert_eq!(compare(&one, &none, desc), Ordering::Less);
            assert_eq!(compare(&none, &two, desc), Ordering::Greater);
        }
    }
}
