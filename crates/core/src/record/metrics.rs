//! metrics.csv: one row per recorded step — the losses, the per-layer
//! and per-region terms, the loss weights and the image's size — after a
//! header naming the columns.

use super::{RecordError, RunPaths, printable, read_text};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Columns every metrics.csv starts with, in order.
pub const BASE_COLUMNS: [&str; 7] = ["iter", "evals", "elapsed_s", "total", "content", "style", "tv"];
/// Loss-weight columns, written after the per-layer ones.
pub const WEIGHT_COLUMNS: [&str; 3] = ["content_weight", "style_weight", "tv_weight"];
/// The image's size at this row (multi-scale runs change it), written last.
pub const SIZE_COLUMNS: [&str; 2] = ["width", "height"];

/// A loss weight, by its metrics column: what steering changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    /// `content_weight`.
    Content,
    /// `style_weight`.
    Style,
    /// `tv_weight` (total variation, the smoothness term).
    Tv,
}

impl Term {
    /// Every term, in column order.
    pub const ALL: [Term; 3] = [Term::Content, Term::Style, Term::Tv];

    /// The weight's column in metrics.csv and its key in `[loss]`.
    pub fn weight_key(self) -> &'static str {
        match self {
            Term::Content => "content_weight",
            Term::Style => "style_weight",
            Term::Tv => "tv_weight",
        }
    }

    /// The term a weight key stands for; `None` for anything but the three
    /// keys [`Term::weight_key`] returns.
    pub fn from_name(name: &str) -> Option<Term> {
        Term::ALL.into_iter().find(|t| t.weight_key() == name)
    }
}

/// One row of metrics.csv: the losses after an optimizer step.
///
/// Built by the engine from each evaluation, written by the run-folder sink
/// and read back by review and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer steps taken; 0 is the initial image.
    pub iter: u64,
    /// Cumulative function evaluations (forward + backward passes).
    pub evals: u64,
    /// Seconds since optimisation began (after images, weights and targets were
    /// ready), not counting pauses; written with 3 decimals.
    pub elapsed_s: f64,
    /// The weighted objective being minimised: each term times its weight,
    /// divided by the term's scale (1 unless `normalize = "running"`).
    pub total: f64,
    /// Σ_l w_l·content_l (unweighted by content_weight).
    pub content: f64,
    /// Σ_l w_l·style_l over the style layers (unweighted by style_weight).
    pub style: f64,
    /// Total variation of the image (unweighted by tv_weight).
    pub tv: f64,
    /// Raw per-layer losses, in the order of [`MetricsHeader::layers`].
    pub layers: Vec<f64>,
    /// The weight in force for this row (steering may change it); NaN when
    /// read from an older file without weight columns.
    pub content_weight: f64,
    /// As `content_weight`, for the style term.
    pub style_weight: f64,
    /// As `content_weight`, for the tv term.
    pub tv_weight: f64,
    /// The image's size at this row, px; 0 when read from an older file
    /// without size columns.
    pub width: u32,
    pub height: u32,
}

/// Which columns a metrics.csv holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsHeader {
    /// Per-layer column names: `content:relu4_2`, `style:relu1_1`, …
    pub layers: Vec<String>,
    /// Whether the loss-weight columns are present (older files lack them).
    pub has_weights: bool,
    /// Whether the width and height columns are present (older files lack them).
    pub has_size: bool,
}

impl MetricsHeader {
    /// A header for a new file: these per-layer columns, with weight columns.
    pub fn new(layers: Vec<String>) -> Self {
        MetricsHeader {
            layers,
            has_weights: true,
            has_size: true,
        }
    }

    /// Column names in file order: [`BASE_COLUMNS`], the per-layer columns,
    /// then [`WEIGHT_COLUMNS`] if `has_weights` and [`SIZE_COLUMNS`] if `has_size`.
    pub fn columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = BASE_COLUMNS.iter().map(|s| s.to_string()).collect();
        cols.extend(self.layers.iter().cloned());
        if self.has_weights {
            cols.extend(WEIGHT_COLUMNS.iter().map(|s| s.to_string()));
        }
        if self.has_size {
            cols.extend(SIZE_COLUMNS.iter().map(|s| s.to_string()));
        }
        cols
    }

    /// Reads a header line's fields. Unknown columns are ignored; the base
    /// columns must be there.
    ///
    /// Every field containing `:` counts as a per-layer column, in file order.
    /// The error names the first missing base column.
    pub fn parse(fields: &[&str]) -> Result<Self, String> {
        for base in BASE_COLUMNS {
            if !fields.contains(&base) {
                return Err(format!("metrics header lacks the '{base}' column"));
            }
        }
        let layers = fields
            .iter()
            .filter(|f| f.contains(':'))
            .map(|f| f.to_string())
            .collect();
        let has_weights = WEIGHT_COLUMNS.iter().all(|w| fields.contains(w));
        let has_size = SIZE_COLUMNS.iter().all(|w| fields.contains(w));
        Ok(MetricsHeader {
            layers,
            has_weights,
            has_size,
        })
    }
}

/// Reads metrics rows: the column positions come from the header line
/// once, not from a name lookup per field per row.
#[derive(Debug, Clone)]
pub struct MetricsReader {
    /// The columns the header line named.
    pub header: MetricsHeader,
    /// Fields per line; a row with any other count is rejected.
    width: usize,
    /// Field index of each of [`BASE_COLUMNS`], in that order.
    base: [usize; 7],
    /// Field index of each per-layer column, in `header.layers` order.
    layers: Vec<usize>,
    /// Field indices of [`WEIGHT_COLUMNS`], when the file has them.
    weights: Option<[usize; 3]>,
    /// Field indices of [`SIZE_COLUMNS`], when the file has them.
    size: Option<[usize; 2]>,
}

impl MetricsReader {
    /// From a metrics.csv header line (a trailing `\r`/`\n` is allowed).
    /// Fails with [`MetricsHeader::parse`]'s message when a base column is missing.
    pub fn new(header_line: &str) -> Result<Self, String> {
        let names: Vec<&str> = header_line.trim_end_matches(['\r', '\n']).split(',').collect();
        let mut header = MetricsHeader::parse(&names)?;
        let at = |name: &str| names.iter().position(|n| *n == name).expect("parse checked the column");
        let base = BASE_COLUMNS.map(at);
        let layers = header.layers.iter().map(|l| at(l)).collect();
        // Column names are shown on terminals: no escapes from a hand-made file.
        header.layers = header.layers.iter().map(|l| printable(l)).collect();
        let weights = header.has_weights.then(|| WEIGHT_COLUMNS.map(at));
        let size = header.has_size.then(|| SIZE_COLUMNS.map(at));
        Ok(MetricsReader {
            header,
            width: names.len(),
            base,
            layers,
            weights,
            size,
        })
    }

    /// One row of the file (a trailing `\r`/`\n` is allowed).
    ///
    /// Fails when the field count differs from the header's (a line cut short)
    /// or a field is not a number; the message gives the 1-based column.
    /// `iter` and `evals` are parsed as `f64` and truncated.
    pub fn row(&self, line: &str) -> Result<StepMetrics, String> {
        let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split(',').collect();
        if fields.len() != self.width {
            return Err(format!("row has {} fields, header has {}", fields.len(), self.width));
        }
        let get = |i: usize| -> Result<f64, String> {
            fields[i]
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("'{}' in column {} is not a number", fields[i], i + 1))
        };
        let [iter, evals, elapsed_s, total, content, style, tv] = self.base;
        let (cw, sw, tw) = match self.weights {
            Some([c, s, t]) => (get(c)?, get(s)?, get(t)?),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let (width, height) = match self.size {
            Some([w, h]) => (get(w)? as u32, get(h)? as u32),
            None => (0, 0),
        };
        Ok(StepMetrics {
            iter: get(iter)? as u64,
            evals: get(evals)? as u64,
            elapsed_s: get(elapsed_s)?,
            total: get(total)?,
            content: get(content)?,
            style: get(style)?,
            tv: get(tv)?,
            layers: self.layers.iter().map(|&i| get(i)).collect::<Result<_, _>>()?,
            content_weight: cw,
            style_weight: sw,
            tv_weight: tw,
            width,
            height,
        })
    }
}

impl StepMetrics {
    /// The CSV fields, in the order of `header.columns()`.
    ///
    /// `layers` must match `header.layers` in length; losses and weights use
    /// the shortest text that reads back to the same `f64`.
    pub fn to_fields(&self, header: &MetricsHeader) -> Vec<String> {
        let mut out = vec![
            self.iter.to_string(),
            self.evals.to_string(),
            format!("{:.3}", self.elapsed_s),
            fmt_f64(self.total),
            fmt_f64(self.content),
            fmt_f64(self.style),
            fmt_f64(self.tv),
        ];
        out.extend(self.layers.iter().map(|&v| fmt_f64(v)));
        if header.has_weights {
            out.extend([self.content_weight, self.style_weight, self.tv_weight].map(fmt_f64));
        }
        if header.has_size {
            out.extend([self.width.to_string(), self.height.to_string()]);
        }
        out
    }

    /// The value of a named column (`total`, `style:relu1_1`, …); `None` for
    /// a column the header does not have. `header` must be the one this row
    /// was read with.
    pub fn value(&self, header: &MetricsHeader, column: &str) -> Option<f64> {
        match column {
            "iter" => Some(self.iter as f64),
            "evals" => Some(self.evals as f64),
            "elapsed_s" => Some(self.elapsed_s),
            "total" => Some(self.total),
            "content" => Some(self.content),
            "style" => Some(self.style),
            "tv" => Some(self.tv),
            "content_weight" => Some(self.content_weight),
            "style_weight" => Some(self.style_weight),
            "tv_weight" => Some(self.tv_weight),
            "width" if header.has_size => Some(self.width as f64),
            "height" if header.has_size => Some(self.height as f64),
            other => header.layers.iter().position(|l| l == other).map(|i| self.layers[i]),
        }
    }
}

/// Shortest text that reads back to the same f64.
pub(super) fn fmt_f64(v: f64) -> String {
    if v.is_finite() { format!("{v:e}") } else { v.to_string() }
}

/// Rows of a metrics file: the header, the rows, and a note when the last
/// line was cut short and left out.
pub type Metrics = (MetricsHeader, Vec<StepMetrics>, Option<String>);

/// Reads metrics.csv, tolerating a last line cut short by a crash or a run
/// still writing.
///
/// `Invalid` when the file is empty, its header lacks a base column, or a
/// line other than the last non-blank one is malformed.
pub fn read_metrics(dir: &Path) -> Result<Metrics, RecordError> {
    let (path, text) = read_text(RunPaths::new(dir).metrics())?;
    parse_metrics(&text).map_err(|message| RecordError::Invalid { path, message })
}

/// Parses metrics.csv text (see [`read_metrics`]). Blank lines are skipped;
/// line numbers in messages count the header as line 1.
pub fn parse_metrics(text: &str) -> Result<Metrics, String> {
    let mut lines = text.split('\n');
    let head_line = lines.next().filter(|l| !l.trim().is_empty()).ok_or("empty file")?;
    let reader = MetricsReader::new(head_line)?;
    let mut rows = Vec::new();
    let mut note = None;
    let body: Vec<&str> = lines.collect();
    for (i, line) in body.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match reader.row(line) {
            Ok(row) => rows.push(row),
            // A partial last line: the writer was cut off mid-row.
            Err(e) if body[i + 1..].iter().all(|l| l.trim().is_empty()) => {
                note = Some(format!("last line {} is incomplete ({e}); ignored", i + 2));
            }
            Err(e) => return Err(format!("line {}: {e}", i + 2)),
        }
    }
    Ok((reader.header, rows, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(iter: u64) -> StepMetrics {
        StepMetrics {
            iter,
            evals: iter * 2,
            elapsed_s: 0.5,
            total: 123.25,
            content: 1.0,
            style: 2.0e-7,
            tv: 3.0,
            layers: vec![0.1, 0.2],
            content_weight: 5.0,
            style_weight: 100.0,
            tv_weight: 1e-3,
            width: 0,
            height: 0,
        }
    }

    #[test]
    fn rows_round_trip_through_text() {
        let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
        let mut text = header.columns().join(",") + "\n";
        for i in 0..3 {
            text += &(row(i).to_fields(&header).join(",") + "\n");
        }
        let (h, rows, note) = parse_metrics(&text).unwrap();
        assert_eq!(h, header);
        assert_eq!(rows, vec![row(0), row(1), row(2)]);
        assert_eq!(note, None);
        assert_eq!(rows[1].value(&h, "style:relu1_1"), Some(0.2));
    }

    #[test]
    fn a_cut_last_line_is_dropped_with_a_note() {
        let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
        let text = format!(
            "{}\n{}\n0,1,2",
            header.columns().join(","),
            row(0).to_fields(&header).join(",")
        );
        let (_, rows, note) = parse_metrics(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(note.unwrap().contains("line 3 is incomplete"));
    }

    #[test]
    fn older_files_without_weight_columns_load() {
        let text = "iter,evals,elapsed_s,total,content,style,tv,style:relu1_1\n0,1,0.1,5,1,2,3,0.5\n";
        let (h, rows, _) = parse_metrics(text).unwrap();
        assert!(!h.has_weights);
        assert_eq!(rows[0].layers, vec![0.5]);
        assert!(rows[0].style_weight.is_nan());
    }
}
