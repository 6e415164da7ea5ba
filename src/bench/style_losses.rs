//! `stylelab bench --style-losses`: what each style statistic, and a run
//! split into two regions, costs per evaluation against plain Gram, on the
//! bench's problem (VGG19 to relu5_1, random weights, the cat in the style
//! of The Starry Night, squared), in fresh `bench-one` processes run
//! alternately so that a slow spell of the machine hits every row.

use super::say;
use super::{images, last_json_line, median_of};
use anyhow::{Context, Result};
use std::process::ExitCode;
use stylelab_engine::measure::Measurement;

/// The rows: a style statistic, and how many regions.
const ROWS: [(&str, u32); 5] = [
    ("gram", 1),
    ("mean_std", 1),
    ("histogram", 1),
    ("sliced_wasserstein", 1),
    ("gram", 2),
];

/// Measures every row at each size on `device` (fp32) and prints seconds
/// per evaluation and the ratio to plain Gram's.
pub fn run(sizes: &[u32], device: &str, evals: usize, repeats: usize, json: bool) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    if !json {
        say!(
            "VGG19 to relu5_1, random weights; chelsea.png in the style of starry_night.jpg, squared; content relu4_2, \
             style relu1_1..relu5_1, every layer the statistic named; {evals} evaluations timed after 2 warm-up; \
             median of {repeats} alternating processes; fp32 on {device}"
        );
        say!(
            "{:>5} {:<20} {:>7} {:>9} {:>9} {:>9}",
            "size",
            "style loss",
            "regions",
            "s/eval",
            "× gram",
            "peak MiB"
        );
    }
    for &size in sizes {
        let (content, style) = images(size, size)?;
        let mut runs: Vec<Vec<Measurement>> = ROWS.iter().map(|_| Vec::new()).collect();
        for _ in 0..repeats.max(1) {
            for ((loss, regions), runs) in ROWS.iter().zip(runs.iter_mut()) {
                let out = super::children::output(
                    super::bench_one_command(&exe, (&content, &style), size, device, evals).args([
                        "--style-loss",
                        loss,
                        "--regions",
                        &regions.to_string(),
                    ]),
                )
                .context("cannot run bench-one")?;
                runs.push(last_json_line(&out, &format!("{loss}, {regions} region(s)"))?);
            }
        }
        let medians: Vec<Measurement> = runs.into_iter().filter_map(median_of).collect();
        let gram = medians.first().map_or(f64::NAN, |m| m.s_per_eval);
        for ((loss, regions), m) in ROWS.iter().zip(&medians) {
            if json {
                say!("{}", serde_json::to_string(m)?);
            } else {
                say!(
                    "{size:>5} {loss:<20} {regions:>7} {:>9.4} {:>9.2} {:>9.0}",
                    m.s_per_eval,
                    m.s_per_eval / gram,
                    m.peak_mib
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
