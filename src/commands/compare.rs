//! `stylelab compare`: runs' loss curves overlaid in the terminal, with
//! their config differences and final values; optionally the figure and
//! the content-against-style trade-off as files.

use super::resolve_runs;
use crate::error::bad_input;
use anyhow::Result;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_core::review::plot::{self, CurveSpec};

/// `stylelab compare`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Run folders, or unique prefixes of their names.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<String>,
    /// total, content, style, tv, a column such as style:relu1_1, or a
    /// score over the scored snapshots: score.content_dist, score.style_dist, …
    #[arg(long, default_value = "total")]
    pub metric: String,
    /// Exponential smoothing weight in [0, 1) (TensorBoard-style).
    #[arg(long, value_name = "A", value_parser = smoothing)]
    pub smooth: Option<f64>,
    /// A linear y axis (the default is logarithmic: losses span decades).
    #[arg(long)]
    pub linear: bool,
    /// The default, accepted for older scripts: a logarithmic y axis.
    #[arg(long, hide = true, conflicts_with = "linear")]
    pub log: bool,
    /// Also write the figure (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the trade-off picture (content_dist against style_dist, .png or .svg).
    #[arg(long, value_name = "FILE")]
    pub scatter: Option<PathBuf>,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// `--smooth`: a weight in [0, 1).
fn smoothing(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if (0.0..1.0).contains(&a) => Ok(a),
        _ => Err("use a weight in [0, 1), e.g. 0.6".to_string()),
    }
}

/// Width and height for terminal charts: the terminal's, or 100×22.
fn chart_size() -> (u16, u16) {
    match crossterm::terminal::size() {
        Ok((w, h)) if std::io::stdout().is_terminal() => (w.clamp(40, 200), (h / 2).clamp(12, 40)),
        _ => (100, 22),
    }
}

/// Prints the comparison, then writes the figures asked for; bad input
/// for `--scatter` when no run has scores.
pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    let spec = CurveSpec {
        metric: &args.metric,
        smooth: args.smooth,
        log: !args.linear,
    };
    let dirs = resolve_runs(&args.runs, &crate::commands::results_folder(args.results.as_deref()))?;
    let cmp = stylelab_core::review::Comparison::load(&dirs);
    safe_print!("{}", stylelab_core::review::compare::text(&cmp, &spec, chart_size())?);
    if let Some(out) = &args.out {
        let curves = plot::curves(&cmp, &spec)?;
        plot::write_figure(out, &curves, spec.metric, spec.log, (1200, 750))?;
        safe_println!("\nwrote {}", out.display());
    }
    if let Some(path) = &args.scatter {
        let tradeoff = cmp.tradeoff();
        if tradeoff.is_empty() {
            return Err(bad_input(
                "none of these runs has scores; measure them with `stylelab score RUN…`".to_string(),
            ));
        }
        // Scores of different sizes on one picture: the title says so.
        let title = match cmp.score_sizes().as_slice() {
            [_, _, ..] => format!(
                "content against style — scores at {} px do not compare",
                cmp.score_sizes()
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            _ => "content against style".to_string(),
        };
        plot::write_scatter(path, &tradeoff, &title, (1200, 900))?;
        safe_println!("\nwrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_a_weight_in_zero_to_one() {
        assert_eq!(smoothing("0"), Ok(0.0));
        assert_eq!(smoothing("0.6"), Ok(0.6));
        for bad in ["1", "1.5", "-0.1", "NaN", "x"] {
            assert!(smoothing(bad).is_err(), "{bad}");
        }
    }
}
