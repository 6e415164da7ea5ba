//! The tags stylelab writes, and which metrics.csv column each scalar
//! mirrors: one table for the writer, the tests and the docs.
//!
//! | metrics.csv | tag |
//! |---|---|
//! | `total`, `content`, `style`, `tv` | `loss/total`, `loss/content`, `loss/style`, `loss/tv` |
//! | each per-layer and per-region column (`style:relu1_1`, …) | `layer/<column>` |
//! | `content_weight`, `style_weight`, `tv_weight` | `weight/content_weight`, … |
//! | `evals`, `elapsed_s` | `run/evaluations`, `run/seconds` |
//! | `width`, `height` | `scale/width`, `scale/height` |

use stylelab_core::record::{MetricsHeader, StepMetrics};

/// The snapshots, each at its step.
pub const SNAPSHOT: &str = "image/snapshot";
/// The final image, at the run's last step.
pub const FINAL_IMAGE: &str = "image/final";
/// The resolved experiment (TOML), at step 0.
pub const EXPERIMENT: &str = "config/experiment";
/// How the run ended, at its last step.
pub const OUTCOME: &str = "run/outcome";
/// Steering, pauses, scale changes, refusals and warnings: events.log's
/// lines, each at its step.
pub const LOG: &str = "run/log";
/// The final losses (summary.json), at the last step: the HParams metrics.
pub const FINAL: [&str; 4] = ["final/total", "final/content", "final/style", "final/tv"];
/// The yardstick's scores (summary.json), when scored: HParams metrics too.
pub const SCORES: [&str; 4] = [
    "score/content_dist",
    "score/style_dist",
    "score/color_dist",
    "score/ssim",
];

/// The tag of a metrics.csv column; None for `iter` (the step itself).
pub fn of_column(column: &str) -> Option<String> {
    Some(match column {
        "iter" => return None,
        "evals" => "run/evaluations".into(),
        "elapsed_s" => "run/seconds".into(),
        "total" | "content" | "style" | "tv" => format!("loss/{column}"),
        "content_weight" | "style_weight" | "tv_weight" => format!("weight/{column}"),
        "width" | "height" => format!("scale/{column}"),
        layer => format!("layer/{layer}"),
    })
}

/// A metrics row as (tag, value) pairs: every column of its file but
/// `iter`, each the very number metrics.csv holds (read back from the text
/// the file is written with: `elapsed_s` has 3 decimals there).
pub fn scalars(header: &MetricsHeader, row: &StepMetrics) -> Vec<(String, f64)> {
    header
        .columns()
        .iter()
        .zip(row.to_fields(header))
        .filter_map(|(c, text)| Some((of_column(c)?, text.parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_but_the_step_has_a_tag() {
        let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1@sky".into()]);
        let row = StepMetrics {
            iter: 3,
            evals: 7,
            elapsed_s: 1.50049,
            total: 10.0,
            content: 1.0,
            style: 2.0,
            tv: 3.0,
            layers: vec![0.25, 0.5],
            content_weight: 5.0,
            style_weight: 100.0,
            tv_weight: 1e-3,
            width: 64,
            height: 43,
        };
        let s = scalars(&header, &row);
        assert_eq!(s.len(), header.columns().len() - 1);
        let get = |t: &str| s.iter().find(|(k, _)| k == t).map(|(_, v)| *v);
        assert_eq!(get("loss/total"), Some(10.0));
        assert_eq!(get("layer/style:relu1_1@sky"), Some(0.5));
        assert_eq!(get("weight/style_weight"), Some(100.0));
        assert_eq!(get("run/evaluations"), Some(7.0));
        assert_eq!(get("run/seconds"), Some(1.5), "as metrics.csv writes it");
        assert_eq!(get("scale/height"), Some(43.0));
    }
}
