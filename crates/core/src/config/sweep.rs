//! An experiment file's `[sweep]` table, validated: [`SweepSpec`] is its
//! points — the grid of every combination, or with `mode = "zip"` the
//! lists taken in step — and [`SweepSpec::load`] checks that every point
//! is a valid [`Experiment`] that writes where the sweep looks for it.
//!
//! Still the config box: pure, it reads the experiment file and nothing
//! else. Running the points, and finding their runs again, is the
//! application's `sweep` command.

use super::{ConfigError, Experiment, Locator, Override};
use std::fmt;
use std::path::{Path, PathBuf};

/// The most points a grid may have.
pub const MAX_POINTS: usize = 100_000;

/// How the `[sweep]` lists combine into points (`mode` in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every combination, the first key varying slowest (the default).
    Grid,
    /// The i-th value of every list together; all lists must have one length.
    Zip,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Grid => "grid",
            Mode::Zip => "zip",
        })
    }
}

/// One point of a sweep: the values it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// 0-based position in the sweep: the `NNN` of `<name>-pNNN` and `--point N`.
    pub index: usize,
    /// Dotted key and value for each swept key, in [`SweepSpec::keys`] order.
    pub values: Vec<(String, toml::Value)>,
}

impl SweepPoint {
    /// `loss.style_weight=1000.0, optim.iterations=50`.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::text::compact_number(&value_text(v))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A value as TOML writes it, strings without their quotes.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The run name of point `index` of the sweep of experiment `name`:
/// `<name>-p007`. Runs are matched to points by it.
pub fn point_name(name: &str, index: usize) -> String {
    format!("{name}-p{index:03}")
}

/// A `[sweep]` table, expanded into its points.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Grid or zip.
    pub mode: Mode,
    /// Swept keys, in the order the points vary them.
    pub keys: Vec<String>,
    /// Every point, in index order.
    pub points: Vec<SweepPoint>,
    /// The table as written (after overrides).
    pub table: toml::Table,
}

/// Why a `[sweep]` table does not expand: the message, and the swept key
/// it is about when there is one (to find its line).
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

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExpandError {}

/// Why an experiment file's sweep cannot run. Every variant is bad input.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepError {
    /// The `[sweep]` table does not expand.
    Table {
        /// The experiment file, as given.
        file: PathBuf,
        /// Where the key is written, else the `[sweep]` header's line.
        line: Option<usize>,
        /// What is wrong, naming the key.
        error: ExpandError,
    },
    /// A point's experiment does not validate.
    Point {
        /// The point's index.
        index: usize,
        /// Its values ([`SweepPoint::describe`]).
        values: String,
        /// Why, at the file's line or the `[sweep]` value's.
        error: Box<ConfigError>,
    },
    /// A point's values would put its run outside the sweep's results folder.
    Results {
        /// The experiment file, as given.
        file: PathBuf,
        /// The point's index.
        index: usize,
        /// Its values ([`SweepPoint::describe`]).
        values: String,
        /// Where the point would write.
        point: PathBuf,
        /// The sweep's results folder.
        sweep: PathBuf,
    },
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Table { file, line, error } => match line {
                Some(line) => write!(f, "{}:{line}: {error}", file.display()),
                None => write!(f, "{}: {error}", file.display()),
            },
            SweepError::Point { index, values, error } => write!(f, "sweep point {index} ({values}): {error}"),
            SweepError::Results {
                file,
                index,
                values,
                point,
                sweep,
            } => write!(
                f,
                "{}: sweep point {index} ({values}) would write to {} instead of the sweep's results folder {}; \
                 a sweep value may not move the results (give the folder with --results)",
                file.display(),
                point.display(),
                sweep.display()
            ),
        }
    }
}

impl std::error::Error for SweepError {}

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

/// The mode a `mode = …` value names.
fn mode_of(v: &toml::Value) -> Result<Mode, ExpandError> {
    match v.as_str() {
        Some("grid") => Ok(Mode::Grid),
        Some("zip") => Ok(Mode::Zip),
        _ => Err(ExpandError::at(
            "mode",
            format!("sweep.mode: {v} is not a mode; use \"grid\" or \"zip\""),
        )),
    }
}

/// The points of every list taken in step.
fn zip(lists: &[(String, Vec<toml::Value>)]) -> Result<Vec<SweepPoint>, ExpandError> {
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
    Ok((0..n)
        .map(|i| SweepPoint {
            index: i,
            values: lists.iter().map(|(k, l)| (k.clone(), l[i].clone())).collect(),
        })
        .collect())
}

/// The points of every combination of the lists, the first key slowest.
fn grid(lists: &[(String, Vec<toml::Value>)]) -> Result<Vec<SweepPoint>, ExpandError> {
    let total: usize = lists.iter().map(|(_, l)| l.len()).product();
    if total > MAX_POINTS {
        return Err(ExpandError::whole(format!(
            "sweep: the grid has {total} points; that is more than {MAX_POINTS}"
        )));
    }
    Ok((0..total)
        .map(|i| {
            let mut rest = i;
            let mut values = vec![(String::new(), toml::Value::Boolean(false)); lists.len()];
            for (j, (k, l)) in lists.iter().enumerate().rev() {
                values[j] = (k.clone(), l[rest % l.len()].clone());
                rest /= l.len();
            }
            SweepPoint { index: i, values }
        })
        .collect())
}

impl SweepSpec {
    /// The points of a `[sweep]` table.
    ///
    /// Every key but `mode` must hold a non-empty list; keys come in
    /// dotted-key order (TOML tables sort theirs). A grid is capped at
    /// [`MAX_POINTS`]. Error messages name the offending key where there is
    /// one, but not the file: [`SweepSpec::load`] adds it.
    pub fn expand(table: &toml::Table) -> Result<SweepSpec, ExpandError> {
        // `"loss.style_weight" = [...]` and `[sweep.loss] style_weight = [...]`
        // both give dotted keys.
        let mut mode = Mode::Grid;
        let mut lists: Vec<(String, Vec<toml::Value>)> = Vec::new();
        for (k, v) in super::dotted_keys(table) {
            if let Some(why) = unsweepable(&k) {
                return Err(ExpandError::at(&k, format!("sweep.\"{k}\": {why}")));
            }
            if k == "mode" {
                mode = mode_of(&v)?;
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
        let points = match mode {
            Mode::Zip => zip(&lists)?,
            Mode::Grid => grid(&lists)?,
        };
        Ok(SweepSpec {
            mode,
            keys: lists.into_iter().map(|(k, _)| k).collect(),
            points,
            table: table.clone(),
        })
    }

    /// The sweep of `base`, an experiment loaded from its file with
    /// `overrides` (`--set`): None when it has no `[sweep]` table.
    ///
    /// The table expands (else the error names file, line and key), every
    /// point validates ([`SweepSpec::experiment`]) and writes to the base
    /// experiment's results folder, where the sweep finds it again.
    pub fn load(base: &Experiment, overrides: &[Override]) -> Result<Option<SweepSpec>, SweepError> {
        let Some(table) = &base.sweep else {
            return Ok(None);
        };
        let spec = SweepSpec::expand(table).map_err(|error| locate(&base.source, error))?;
        for p in &spec.points {
            let exp = SweepSpec::experiment(&base.source, overrides, &base.name, p)?;
            // Whatever spelling a value used, a point's run goes where the sweep looks.
            if super::absolute(&exp.results) != super::absolute(&base.results) {
                return Err(SweepError::Results {
                    file: base.source.clone(),
                    index: p.index,
                    values: p.describe(),
                    point: exp.results,
                    sweep: base.results.clone(),
                });
            }
        }
        Ok(Some(spec))
    }

    /// The validated experiment of point `p` of the sweep in `source`
    /// whose base experiment is called `name`: the file loaded again with
    /// the command-line `overrides`, then the point's values, then its name
    /// ([`point_name`]).
    pub fn experiment(
        source: &Path,
        overrides: &[Override],
        name: &str,
        p: &SweepPoint,
    ) -> Result<Experiment, SweepError> {
        let mut all = overrides.to_vec();
        all.extend(p.values.iter().map(|(k, v)| Override::from_sweep(k, v.clone())));
        all.push(Override::from_sweep(
            "name",
            toml::Value::String(point_name(name, p.index)),
        ));
        super::load(source, &all).map_err(|error| SweepError::Point {
            index: p.index,
            values: p.describe(),
            error: Box::new(error),
        })
    }
}

/// An [`ExpandError`] placed in `file`: on the line where its key is
/// written, else on the `[sweep]` table's.
fn locate(file: &Path, error: ExpandError) -> SweepError {
    let src = crate::files::read_text_bounded(file, super::EXPERIMENT_LIMIT).unwrap_or_default();
    let locator = Locator::new(&src);
    let line = error
        .key
        .as_deref()
        .and_then(|k| locator.line_of_sweep_key(k))
        .or_else(|| locator.line_of_key("sweep"));
    SweepError::Table {
        file: file.to_path_buf(),
        line,
        error,
    }
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
        let spec = SweepSpec::expand(&t).unwrap();
        assert_eq!(spec.mode, Mode::Grid);
        let points = spec.points;
        assert_eq!(points.len(), 6);
        // toml tables sort their keys.
        assert_eq!(spec.keys, vec!["loss.style_layers", "loss.style_weight"]);
        assert_eq!(
            points[0].describe(),
            "loss.style_layers={ relu1_1 = 1.0 }, loss.style_weight=100"
        );
        assert_eq!(
            points[1].describe(),
            "loss.style_layers={ relu1_1 = 1.0 }, loss.style_weight=1000"
        );
        assert_eq!(
            points[5].describe(),
            "loss.style_layers={ relu1_1 = 1.0, relu2_1 = 1.0 }, loss.style_weight=1e4"
        );
        assert_eq!(
            points.iter().map(|p| p.index).collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>()
        );
    }

    #[test]
    fn zip_takes_the_lists_in_step() {
        let t = table("mode = \"zip\"\n\"loss.style_weight\" = [1, 2]\n\"optim.seed\" = [7, 8]\n");
        let spec = SweepSpec::expand(&t).unwrap();
        assert_eq!(spec.mode, Mode::Zip);
        assert_eq!(
            spec.points.iter().map(SweepPoint::describe).collect::<Vec<_>>(),
            vec!["loss.style_weight=1, optim.seed=7", "loss.style_weight=2, optim.seed=8"]
        );
        let bad = table("mode = \"zip\"\na = [1, 2]\nb = [1]\n");
        assert!(
            SweepSpec::expand(&bad)
                .unwrap_err()
                .to_string()
                .contains("\"a\" has 2 values, \"b\" has 1")
        );
    }

    #[test]
    fn nested_tables_are_dotted_keys_and_bad_values_are_named() {
        let t = table("[loss]\nstyle_weight = [1, 2]\n");
        assert_eq!(SweepSpec::expand(&t).unwrap().keys, vec!["loss.style_weight"]);
        let err = SweepSpec::expand(&table("\"loss.tv_weight\" = 3")).unwrap_err();
        assert!(err.to_string().contains("is not a list"), "{err}");
        assert_eq!(err.key.as_deref(), Some("loss.tv_weight"));
        assert!(
            SweepSpec::expand(&table("mode = \"cube\"\na = [1]"))
                .unwrap_err()
                .to_string()
                .contains("use \"grid\" or \"zip\"")
        );
        assert!(
            SweepSpec::expand(&table(""))
                .unwrap_err()
                .to_string()
                .contains("lists no keys")
        );
    }

    #[test]
    fn the_name_and_the_results_are_not_swept() {
        for text in [
            "name = [\"a\", \"b\"]",
            "\"output.results\" = [\"x\"]",
            "output = [{ results = \"x\" }]",
        ] {
            let err = SweepSpec::expand(&table(text)).unwrap_err();
            assert!(err.to_string().starts_with("sweep.\""), "{err}");
        }
        let err = SweepSpec::expand(&table("\"output.score\" = [true]\n\"optim.seed\" = [1]"));
        assert!(err.is_ok(), "{err:?}");
    }

    #[test]
    fn a_grid_over_the_cap_is_refused() {
        let list = format!("[{}]", (0..1000).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
        let t = table(&format!("a = {list}\nb = {list}\n"));
        let err = SweepSpec::expand(&t).unwrap_err().to_string();
        assert!(err.contains("the grid has 1000000 points"), "{err}");
    }

    #[test]
    fn load_places_errors_on_the_file_line_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("c.png"), b"").unwrap();
        std::fs::write(tmp.path().join("s.png"), b"").unwrap();
        let path = tmp.path().join("sw.toml");
        let head = "[images]\ncontent = \"c.png\"\nstyle = \"s.png\"\n[sweep]\n";
        let load = |sweep: &str| {
            std::fs::write(&path, format!("{head}{sweep}")).unwrap();
            let base = super::super::load(&path, &[]).unwrap();
            SweepSpec::load(&base, &[])
        };
        let spec = load("\"loss.style_weight\" = [1.0, 2.0]\n").unwrap().unwrap();
        assert_eq!(spec.points.len(), 2);
        let err = load("\"loss.tv_weight\" = 3\n").unwrap_err().to_string();
        assert!(
            err.contains("sw.toml:5: sweep.\"loss.tv_weight\": 3 is not a list"),
            "{err}"
        );
        let err = load("\"loss.style_weight\" = [1.0, \"lots\"]\n").unwrap_err();
        assert!(matches!(err, SweepError::Point { index: 1, .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.starts_with("sweep point 1 (loss.style_weight=lots): "), "{err}");
        assert!(err.contains("sw.toml:5: [sweep] loss.style_weight: "), "{err}");
    }
}
