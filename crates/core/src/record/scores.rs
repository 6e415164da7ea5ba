//! scores.csv: the yardstick's numbers for each scored snapshot
//! (`stylelab score --steps`).

use super::metrics::fmt_f64;
use super::summary::Scores;
use super::{RunPaths, SCORES_FILE};
use std::path::Path;

/// Writes `scores.csv`: `iter,content_dist,style_dist,color_dist,ssim`.
pub fn write_step_scores(dir: &Path, rows: &[(u64, Scores)]) -> anyhow::Result<()> {
    let mut text = format!("iter,{}\n", Scores::NAMES.join(","));
    for (iter, s) in rows {
        let values: Vec<String> = Scores::NAMES
            .iter()
            .map(|n| fmt_f64(s.get(n).unwrap_or(f64::NAN)))
            .collect();
        text += &format!("{iter},{}\n", values.join(","));
    }
    // Replace by rename: a scores.csv planted as a link is replaced, never written through.
    crate::files::write_atomic(&RunPaths::new(dir).dir.join(SCORES_FILE), text.as_bytes())
}

/// Reads `scores.csv`: (step, score) points of one of [`Scores::NAMES`];
/// None when the run's snapshots were never scored.
pub fn read_step_scores(dir: &Path, name: &str) -> Option<Vec<(f64, f64)>> {
    let text =
        crate::files::read_text_bounded(&RunPaths::new(dir).dir.join(SCORES_FILE), crate::files::TEXT_LIMIT).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = header.iter().position(|h| *h == name)?;
    Some(
        lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Some((f.first()?.parse().ok()?, f.get(col)?.parse().ok()?))
            })
            .collect(),
    )
}
