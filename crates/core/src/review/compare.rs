//! What `stylelab compare` prints: the runs' curves of one metric in the
//! terminal, their final values, their scores, the config keys that differ
//! and the trade-off picture — every table a [`Tabular`], the scores' the
//! same one `stylelab score` prints.

use super::Comparison;
use super::export::{Cell, Export, Tabular};
use super::plot::{self, CurveSpec};
use crate::record::Scores;

/// Each run's status, steps and final losses.
pub fn final_values(cmp: &Comparison) -> Tabular {
    let rows = cmp
        .runs
        .iter()
        .map(|r| {
            let l = r.entry.losses();
            let loss = |f: fn(&crate::record::Losses) -> f64| Cell::number(l.map(|l| f(&l)), |v| format!("{v:.4e}"));
            vec![
                Cell::text(r.name.clone()),
                Cell::text(r.entry.state.to_string()),
                Cell::int(r.entry.steps()),
                loss(|l| l.total),
                loss(|l| l.content),
                loss(|l| l.style),
                loss(|l| l.tv),
            ]
        })
        .collect();
    Tabular {
        columns: ["run", "status", "steps", "total", "content", "style", "tv"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// The yardstick's four numbers per run (`not scored` where there are
/// none), with each run's size when `sizes` are given: `score`'s table and
/// `compare`'s.
pub fn scores(runs: &[(String, Option<&Scores>)], sizes: Option<&[String]>) -> Tabular {
    let mut columns: Vec<String> = std::iter::once("run".to_string())
        .chain(Scores::NAMES.iter().map(|s| s.to_string()))
        .collect();
    if sizes.is_some() {
        columns.push("size".into());
    }
    let rows = runs
        .iter()
        .enumerate()
        .map(|(i, (name, s))| {
            let mut row = vec![Cell::text(name.clone())];
            row.extend(Scores::NAMES.iter().enumerate().map(|(k, n)| match s {
                Some(s) => Cell::number(s.get(n), |v| format!("{v:.4}")),
                None if k == 0 => Cell::text("not scored"),
                None => Cell::text(""),
            }));
            if let Some(sizes) = sizes {
                row.push(Cell::text(sizes[i].clone()));
            }
            row
        })
        .collect();
    Tabular { columns, rows }
}

/// The config keys that differ: one column per run, paths cut to the part
/// that tells them apart.
pub fn differences(cmp: &Comparison) -> Tabular {
    let columns = std::iter::once("key".to_string())
        .chain(cmp.runs.iter().map(|r| r.name.clone()))
        .collect();
    let rows = cmp
        .diff
        .iter()
        .map(|(k, vals)| {
            std::iter::once(Cell::text(k.clone()))
                .chain(
                    super::distinguishing_tails(vals)
                        .into_iter()
                        .map(|v| Cell::text(crate::text::compact_number(&v))),
                )
                .collect()
        })
        .collect();
    Tabular { columns, rows }
}

/// What to say when the compared runs' scores were measured at more than
/// one size (`score_size` in the key table tells which): they do not
/// compare, and how to measure them alike.
pub fn mixed_sizes(cmp: &Comparison) -> Option<String> {
    let sizes = cmp.score_sizes();
    (sizes.len() > 1).then(|| {
        let px: Vec<String> = sizes.iter().map(|s| format!("{s} px")).collect();
        format!(
            "scores measured at {}: scores of different sizes do not compare; measure them at one with `stylelab score RUN… --size N`",
            px.join(" and ")
        )
    })
}

/// Everything `compare` prints, for a terminal of `width × height`
/// characters (the charts' size).
pub fn text(cmp: &Comparison, spec: &CurveSpec, (width, height): (u16, u16)) -> anyhow::Result<String> {
    let curves = plot::curves(cmp, spec)?;
    let title = format!(
        " {}{}{} ",
        spec.metric,
        if spec.log { " (log10)" } else { "" },
        spec.smooth.map(|a| format!(", smoothed {a}")).unwrap_or_default()
    );
    let table = Export::Table {
        width: None,
        drop_order: &[],
    };
    let mut out = plot::terminal_chart(&curves, &title, spec.log, width, height) + "\n";
    out += &final_values(cmp).render(&table);
    if cmp.runs.iter().any(|r| r.entry.scores().is_some()) {
        let runs: Vec<(String, Option<&Scores>)> =
            cmp.runs.iter().map(|r| (r.name.clone(), r.entry.scores())).collect();
        let sizes: Vec<String> = cmp.runs.iter().map(|r| r.entry.size_text()).collect();
        out += "\n";
        out += &scores(&runs, Some(&sizes)).render(&table);
        if let Some(note) = mixed_sizes(cmp) {
            out += &format!("{note}\n");
        }
    }
    out += "\n";
    if cmp.diff.is_empty() {
        out += "config: no differences\n";
    } else {
        out += &differences(cmp).render(&table);
    }
    let tradeoff = cmp.tradeoff();
    if tradeoff.len() >= 2 {
        out += "\n";
        if let Some(note) = mixed_sizes(cmp) {
            out += &format!("trade-off picture: {note}\n");
        }
        out += &plot::terminal_scatter(&tradeoff, width, height);
    }
    Ok(out)
}
