//! `stylelab bench --tiles 512,256`: what exact tiled evaluation costs per
//! evaluation against one pass, on the bench's problem (VGG19 to relu5_1,
//! random weights, the cat in the style of The Starry Night, squared;
//! content relu4_2, style relu1_1…relu5_1, Gram), with each tile size's
//! overlap (the halos' extra pixels), in fresh `bench-one` processes run
//! alternately. (Not memory: a bench process also forms an L-BFGS
//! direction from a full history of 100 pairs, which sets its peak; a
//! tiled run's memory is measured by runs, docs/BENCHMARKS.md.)

use super::say;
use super::{images, last_json_line, median_of};
use anyhow::{Context, Result};
use std::process::ExitCode;
use stylelab_core::tiling::TilePlan;
use stylelab_engine::measure::Measurement;

/// Measures one pass and each tile size at each of `sizes` on `device`
/// (fp32) and prints seconds per evaluation, the ratio to one pass, the
/// tiles and their overlap.
pub fn run(sizes: &[u32], tiles: &[u32], device: &str, evals: usize, repeats: usize, json: bool) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let deepest = "relu5_1".parse().context("relu5_1")?;
    if !json {
        say!(
            "VGG19 to relu5_1, random weights; chelsea.png in the style of starry_night.jpg, squared; content relu4_2, \
             style relu1_1..relu5_1 (gram); {evals} evaluations timed after 2 warm-up; median of {repeats} alternating \
             processes; fp32 on {device}; overlap = pixels the crops cover ÷ the image's"
        );
        say!(
            "{:>5} {:>6} {:>6} {:>8} {:>9} {:>11}",
            "size",
            "tile",
            "tiles",
            "overlap",
            "s/eval",
            "× one pass"
        );
    }
    let rows: Vec<Option<u32>> = std::iter::once(None).chain(tiles.iter().map(|&t| Some(t))).collect();
    for &size in sizes {
        let (content, style) = images(size, size)?;
        let mut runs: Vec<Vec<Measurement>> = rows.iter().map(|_| Vec::new()).collect();
        for _ in 0..repeats.max(1) {
            for (tile, runs) in rows.iter().zip(runs.iter_mut()) {
                let mut cmd = super::bench_one_command(&exe, (&content, &style), size, device, evals);
                cmd.args(["--memory-format", "nchw"]);
                if let Some(t) = tile {
                    cmd.args(["--tile", &t.to_string()]);
                }
                let out = super::children::output(&mut cmd).context("cannot run bench-one")?;
                let what = tile.map_or("one pass".to_string(), |t| format!("tiles of {t} px"));
                runs.push(last_json_line(&out, &what)?);
            }
        }
        let medians: Vec<Measurement> = runs.into_iter().filter_map(median_of).collect();
        let whole = medians.first().map_or(f64::NAN, |m| m.s_per_eval);
        for (tile, m) in rows.iter().zip(&medians) {
            if json {
                say!("{}", serde_json::to_string(m)?);
                continue;
            }
            let plan = tile.map(|t| TilePlan::new(size, size, t, deepest));
            let (tile, count, overlap) = match plan {
                Some(p) if !p.is_whole() => (p.tile.to_string(), p.count().to_string(), format!("{:.2}", p.overlap())),
                Some(p) => (p.tile.to_string(), "1".into(), "1.00".into()),
                None => ("-".into(), "-".into(), "-".into()),
            };
            say!(
                "{size:>5} {tile:>6} {count:>6} {overlap:>8} {:>9.3} {:>11.2}",
                m.s_per_eval,
                m.s_per_eval / whole
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
