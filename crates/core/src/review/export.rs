//! One shape for every table stylelab prints — `runs`, `score`, `check
//! --json`, `compare`'s final values and scores — and one set of exporters
//! for it (as hyperfine's): an aligned table fitted to the terminal, CSV,
//! a JSON array, JSON lines, or a single JSON object.
//!
//! A [`Tabular`] is columns and rows of [`Cell`]s; each cell carries its value
//! at full precision (what JSON gets: integers as integers, numbers as
//! numbers, nested data as it is) and the text a person reads (what the
//! table and CSV get). The table's columns fit the terminal by
//! [`super::fit`], as the dashboard's Runs view's do.

use super::fit::{ellipsize_distinct, fit_columns};
use serde_json::Value;

/// One cell: its value, and how it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// For JSON: full precision, integers as integers, null when missing.
    pub value: Value,
    /// For the table and CSV.
    pub text: String,
}

impl Cell {
    /// Text, the same in every format.
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        Cell {
            value: Value::String(s.clone()),
            text: s,
        }
    }

    /// A count.
    pub fn int(v: u64) -> Cell {
        Cell {
            value: Value::from(v),
            text: v.to_string(),
        }
    }

    /// A number shown as `text`, kept whole for JSON; missing or
    /// non-finite: null, and the text says what it is (`NaN`, `inf`) or nothing.
    pub fn number(v: Option<f64>, text: impl FnOnce(f64) -> String) -> Cell {
        match v {
            Some(x) if x.is_finite() => Cell {
                value: serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
                text: text(x),
            },
            Some(x) => Cell {
                value: Value::Null,
                text: x.to_string(),
            },
            None => Cell {
                value: Value::Null,
                text: String::new(),
            },
        }
    }

    /// Structured data (JSON as it is; the table shows it compact).
    pub fn data(value: Value) -> Cell {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Cell { value, text }
    }
}

/// Columns and rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tabular {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One row per record, a cell per column.
    pub rows: Vec<Vec<Cell>>,
}

/// How a report is written out.
#[derive(Debug, Clone, PartialEq)]
pub enum Export<'a> {
    /// Aligned columns two spaces apart. With a width, columns are left out
    /// whole (in `drop_order`, then from the last) until it fits, a column
    /// named `name` gives way with `…`, and a last line says what went.
    Table {
        width: Option<usize>,
        drop_order: &'a [&'a str],
    },
    /// A header and one line per row, quoted where needed.
    Csv,
    /// A pretty-printed array of objects.
    Json,
    /// One compact object per line.
    JsonLines,
    /// The first row as one pretty-printed object.
    JsonObject,
}

/// How wide a table's `name` column counts while its columns are chosen:
/// past this, a name gives way (keeping what tells names apart) before a
/// column is left out.
const NAME_ROOM: usize = 16;

impl Tabular {
    /// The report in `export`'s form, ending in a newline.
    pub fn render(&self, export: &Export) -> String {
        match export {
            Export::Table { width, drop_order } => self.table(*width, drop_order),
            Export::Csv => self.csv(),
            Export::Json => serde_json::to_string_pretty(&self.objects()).unwrap_or_default() + "\n",
            Export::JsonLines => self
                .objects()
                .iter()
                .map(|o| serde_json::to_string(o).unwrap_or_default() + "\n")
                .collect(),
            Export::JsonObject => {
                serde_json::to_string_pretty(&self.objects().into_iter().next().unwrap_or_default()).unwrap_or_default()
                    + "\n"
            }
        }
    }

    /// Each row as a JSON object, column name → value.
    fn objects(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .zip(r)
                    .map(|(c, cell)| (c.clone(), cell.value.clone()))
                    .collect()
            })
            .collect()
    }

    fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to memory cannot fail.
        let _ = w.write_record(&self.columns);
        for r in &self.rows {
            let _ = w.write_record(r.iter().map(|c| c.text.as_str()));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn table(&self, width: Option<usize>, drop_order: &[&str]) -> String {
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].text.chars().count())
                    .chain([self.columns[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Leave out the named columns first, then from the last; never the name.
        let mut order: Vec<usize> = drop_order
            .iter()
            .filter_map(|name| self.columns.iter().position(|c| c == name))
            .collect();
        let rest: Vec<usize> = (0..self.columns.len()).rev().filter(|i| !order.contains(i)).collect();
        order.extend(rest);
        order.retain(|&i| self.columns[i] != "name");
        // The name counts as at most NAME_ROOM wide while columns are
        // chosen: a long name gives way before a column that compares.
        let name_col = self.columns.iter().position(|c| c == "name");
        let mut fit_widths = widths.clone();
        if let Some(n) = name_col {
            fit_widths[n] = fit_widths[n].min(NAME_ROOM);
        }
        let chosen = fit_columns(&fit_widths, 2, width, &order, 2);
        let fitted = fit_columns(&widths, 2, width, &chosen.left_out, 0);
        let show = &fitted.kept;
        let left_out: Vec<String> = fitted.left_out.iter().map(|&i| self.columns[i].clone()).collect();
        let head: Vec<String> = show.iter().map(|&i| self.columns[i].clone()).collect();
        let mut body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| show.iter().map(|&i| r[i].text.clone()).collect())
            .collect();
        let mut widths: Vec<usize> = show.iter().map(|&i| widths[i]).collect();
        // Still too wide: the name column gives way, ending in `…`.
        if let Some(name) = head.iter().position(|h| h == "name")
            && !fitted.fits()
        {
            let keep = fitted.room_for(show[name]).max(6);
            let names: Vec<String> = body.iter().map(|r| r[name].clone()).collect();
            for (r, cut) in body.iter_mut().zip(ellipsize_distinct(&names, keep)) {
                r[name] = cut;
            }
            widths[name] = keep;
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
            let named = format!("({} left out; --wide shows all)", left_out.join(", "));
            let counted = format!("({} columns left out; --wide shows all)", left_out.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tabular() -> Tabular {
        Tabular {
            columns: vec!["name".into(), "steps".into(), "total".into(), "note".into()],
            rows: vec![vec![
                Cell::text("a-rather-long-run-name"),
                Cell::int(60),
                Cell::number(Some(3.0900123456e6), |v| format!("{v:.4e}")),
                Cell::text("a note that takes room"),
            ]],
        }
    }

    #[test]
    fn every_format_comes_from_the_same_cells() {
        let r = tabular();
        assert_eq!(
            r.render(&Export::Csv),
            "name,steps,total,note\na-rather-long-run-name,60,3.0900e6,a note that takes room\n"
        );
        let json: serde_json::Value = serde_json::from_str(&r.render(&Export::Json)).unwrap();
        assert_eq!(json[0]["steps"], 60, "an integer");
        assert_eq!(json[0]["total"], 3.0900123456e6, "full precision");
        assert_eq!(r.render(&Export::JsonLines).lines().count(), 1);
        let one: serde_json::Value = serde_json::from_str(&r.render(&Export::JsonObject)).unwrap();
        assert_eq!(one["name"], "a-rather-long-run-name");
    }

    #[test]
    fn a_narrow_table_leaves_columns_out_whole_and_says_so() {
        let r = tabular();
        let fitted = r.render(&Export::Table {
            width: Some(40),
            drop_order: &["note"],
        });
        for line in fitted.lines() {
            assert!(line.chars().count() <= 40, "{line}");
        }
        assert!(fitted.contains("3.0900e6"), "{fitted}");
        assert!(fitted.contains("(note left out; --wide shows all)"), "{fitted}");
        let wide = r.render(&Export::Table {
            width: None,
            drop_order: &[],
        });
        assert!(wide.contains("a note that takes room"));
    }
}
