//! `stylelab bench --quality EXP`: what reduced precision does to a real
//! run. For each size and optimizer it runs EXP 100 steps in fp32 and in
//! bf16 (ordinary `stylelab run` processes, results in a temporary folder)
//! and reports each run's final loss, and the evaluations and seconds bf16
//! needed to reach the loss fp32 ended at (bf16 may go on to 150 steps).

use super::say;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, ExitCode};
use stylelab_core::record::{self, StepMetrics};

/// One run's rows.
fn run(exe: &Path, exp: &Path, results: &Path, sets: &[String]) -> Result<Vec<StepMetrics>> {
    let name = format!("q{}", std::fs::read_dir(results).map(|d| d.count()).unwrap_or(0));
    let out = super::children::output(
        Command::new(exe)
            .arg("run")
            .arg(exp)
            .args(sets.iter().flat_map(|s| ["--set", s.as_str()]))
            .args(["--set", &format!("name=\"{name}\""), "--set", "output.snapshot_every=0"])
            .arg("--results")
            .arg(results),
    )?;
    if !out.status.success() {
        bail!("stylelab run failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let dir = std::fs::read_dir(results)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(&format!("-{name}")))
        })
        .context("the run left no folder")?;
    Ok(record::read_metrics(&dir).map_err(anyhow::Error::msg)?.1)
}

/// Runs the comparison and prints its table.
pub fn run_quality(exp: &Path, sizes: &[u32], steps: u64) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
    let tmp = super::scratch()?.join("quality");
    std::fs::create_dir_all(&tmp)?;
    say!(
        "{}: {steps} steps each; \"reached\": the first bf16 row at or below fp32's final loss",
        exp.display()
    );
    say!(
        "{:>5} {:<6} {:>12} {:>12} {:>9} {:>10} {:>10} {:>12} {:>12}",
        "size",
        "optim",
        "fp32 final",
        "bf16 final",
        "ratio",
        "fp32 evals",
        "bf16 evals",
        "bf16 reached",
        "fp32 s → bf16 s"
    );
    for &size in sizes {
        for (optimizer, lr) in [("lbfgs", "1.0"), ("adam", "0.02")] {
            let base = vec![
                format!("images.size={size}"),
                format!("optim.iterations={steps}"),
                format!("optim.optimizer=\"{optimizer}\""),
                format!("optim.learning_rate={lr}"),
            ];
            let with = |p: &str| {
                let mut v = base.clone();
                v.push(format!("optim.precision=\"{p}\""));
                v
            };
            let fp32 = run(&exe, exp, &tmp, &with("fp32"))?;
            // bf16 may take up to half again as many steps to get there.
            let mut longer = with("bf16");
            longer.push(format!("optim.iterations={}", steps * 3 / 2));
            let bf16_all = run(&exe, exp, &tmp, &longer)?;
            let bf16: Vec<StepMetrics> = bf16_all.iter().filter(|r| r.iter <= steps).cloned().collect();
            let (Some(a), Some(b)) = (fp32.last(), bf16.last()) else {
                bail!("a run wrote no rows");
            };
            let reached = bf16_all.iter().find(|r| r.total <= a.total);
            let reached_text = match reached {
                Some(r) => format!("{} ({:.2}×)", r.evals, r.evals as f64 / a.evals as f64),
                None => format!("not in {}", bf16_all.last().map_or(0, |r| r.evals)),
            };
            let time_text = match reached {
                Some(r) => format!("{:.1} → {:.1}", a.elapsed_s, r.elapsed_s),
                None => format!("{:.1} → -", a.elapsed_s),
            };
            say!(
                "{:>5} {:<6} {:>12.4e} {:>12.4e} {:>9.3} {:>10} {:>10} {:>12} {:>12}",
                size,
                optimizer,
                a.total,
                b.total,
                b.total / a.total,
                a.evals,
                b.evals,
                reached_text,
                time_text
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}
