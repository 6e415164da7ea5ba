//! `stylelab score`: measures runs' final images with the yardstick —
//! distance to the content and to the style, colour distance, structural
//! similarity — writes them into the runs' summaries and prints them.

use super::resolve_runs;
use crate::error::bad_input;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_core::config::{self, DeviceChoice};
use stylelab_core::review::export::Export;

/// `stylelab score`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Run folders, or unique prefixes of their names.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// Scoring size, longest side in px (the same for runs to compare).
    #[arg(
        long,
        default_value_t = stylelab_engine::score::DEFAULT_SIZE,
        value_parser = clap::value_parser!(u32).range(config::MIN_SIZE..=config::MAX_SIZE)
    )]
    pub size: u32,
    /// One JSON object per run instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also score every snapshot (into the run's scores.csv).
    #[arg(long)]
    pub steps: bool,
    /// Score every run with this weights file instead of its own.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_parser = device_choice)]
    pub device: DeviceChoice,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// `--device`: a device's name, whether or not this machine has it.
fn device_choice(s: &str) -> Result<DeviceChoice, String> {
    DeviceChoice::parse(s).ok_or_else(|| "use auto, cpu, cuda or cuda:N".to_string())
}

/// Scores the runs and prints a table (with the size scored at) or one
/// JSON object per run; bad input for a device libtorch does not have.
pub fn run(args: &ScoreArgs) -> Result<ExitCode> {
    let device = stylelab_engine::device::resolve(args.device).map_err(bad_input)?;
    let dirs = resolve_runs(&args.runs, &crate::commands::results_folder(args.results.as_deref()))?;
    let scored = crate::scoring::score_runs(&crate::scoring::Request {
        dirs: &dirs,
        size: args.size,
        weights: args.weights.as_deref(),
        steps: args.steps,
        device,
    })?;
    for s in &scored {
        if let Some(old) = s.replaced {
            // Said on stderr: the table (or JSON) on stdout stays whole.
            safe_eprintln!(
                "{}: replaced scores measured at {old} px with these at {} px; runs scored at another size do not compare with it",
                s.run,
                s.scores.size
            );
        }
    }
    let runs: Vec<(String, Option<&stylelab_core::record::Scores>)> =
        scored.iter().map(|s| (s.run.clone(), Some(&s.scores))).collect();
    let report = stylelab_core::review::compare::scores(&runs, None);
    if args.json {
        safe_print!("{}", report.render(&Export::JsonLines));
    } else {
        let at = scored.first().map_or(args.size, |s| s.scores.size);
        safe_print!(
            "{}",
            report.render(&Export::Table {
                width: None,
                drop_order: &[]
            })
        );
        safe_println!("(at {at} px)");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_others_say_what_to_use() {
        assert_eq!(device_choice("cuda:1"), Ok(DeviceChoice::Cuda(1)));
        assert_eq!(device_choice("auto"), Ok(DeviceChoice::Auto));
        assert_eq!(device_choice("gpu"), Err("use auto, cpu, cuda or cuda:N".to_string()));
    }
}
