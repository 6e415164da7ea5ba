//! `stylelab bench --tensorboard`: what the TensorBoard sink costs a run,
//! timed in this process on the events of a classic run (content relu4_2,
//! style relu1_1 … relu5_1: 17 scalars a step) of 100 steps at each of
//! --sizes, a snapshot every 50 steps (the example cat at that size) and
//! the final image — the sink alone, without the engine's noise around it.

use super::say;
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stylelab_core::events::{RunEvent, RunInfo};
use stylelab_core::record::{MetricsHeader, StepMetrics, Summary};
use stylelab_core::sinks::Sink;
use stylelab_tensorboard::{Feed, TensorBoardSink};

/// Steps of the timed run, and its snapshot interval.
const STEPS: u64 = 100;
const SNAPSHOT_EVERY: u64 = 50;
/// Timed runs per size; the figures are their medians.
const REPEATS: usize = 5;

/// One timed run: seconds in its steps' records, in its snapshots, in all;
/// the file's bytes.
struct Timing {
    per_step: f64,
    per_snapshot: f64,
    total: f64,
    bytes: u64,
}

/// A metrics row of the timed run.
fn row(header: &MetricsHeader, iter: u64, image: &image::RgbImage) -> StepMetrics {
    let x = 1.0 / (iter + 1) as f64;
    StepMetrics {
        iter,
        evals: iter * 2 + 1,
        elapsed_s: iter as f64 * 0.5,
        total: 1.2e5 * x,
        content: 300.0 * x,
        style: 900.0 * x,
        tv: 0.01 * x,
        layers: (0..header.layers.len()).map(|i| (i + 1) as f64 * x).collect(),
        content_weight: 5.0,
        style_weight: 100.0,
        tv_weight: 1e-3,
        width: image.width(),
        height: image.height(),
    }
}

/// Times the sink over one run's events, into `dir`, flushed every step
/// (the worst case: a run whose steps take 2 s or more).
fn time_run(dir: &std::path::Path, image: &Arc<image::RgbImage>, summary: &Summary) -> Result<Timing> {
    let header = MetricsHeader::new(
        [
            "content:relu4_2",
            "style:relu1_1",
            "style:relu2_1",
            "style:relu3_1",
            "style:relu4_1",
            "style:relu5_1",
        ]
        .map(String::from)
        .to_vec(),
    );
    let info = RunInfo {
        name: "bench".into(),
        dir: dir.to_path_buf(),
        device: "cpu".into(),
        iterations: STEPS,
        width: image.width(),
        height: image.height(),
        header: header.clone(),
        content_layers: Vec::new(),
        style_layers: Vec::new(),
        optimizer: String::new(),
        summary: summary.clone(),
    };
    let experiment = "[loss]\nstyle_weight = 100.0\n".to_string();
    let mut sink = TensorBoardSink::new(dir, Some(experiment), Feed::Live).with_flush_every(Duration::ZERO);
    let (mut steps, mut snapshots) = (Duration::ZERO, Duration::ZERO);
    let all = Instant::now();
    sink.handle(&RunEvent::Started(Box::new(info)))?;
    for iter in 0..=STEPS {
        let event = RunEvent::Step(row(&header, iter, image));
        let t = Instant::now();
        sink.handle(&event)?;
        steps += t.elapsed();
        if iter > 0 && iter % SNAPSHOT_EVERY == 0 {
            let t = Instant::now();
            sink.handle(&RunEvent::Snapshot {
                iter,
                image: image.clone(),
            })?;
            snapshots += t.elapsed();
        }
    }
    sink.handle(&RunEvent::Finished {
        summary: Box::new(summary.clone()),
        image: Some(image.clone()),
    })?;
    let total = all.elapsed().as_secs_f64();
    if let Some(w) = sink.take_warning() {
        anyhow::bail!("{w}");
    }
    let path = sink.path().context("the sink wrote no file")?;
    Ok(Timing {
        per_step: steps.as_secs_f64() / (STEPS + 1) as f64,
        per_snapshot: snapshots.as_secs_f64() / (STEPS / SNAPSHOT_EVERY) as f64,
        total,
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// Times the sink at each size and prints one line per size.
pub fn run(sizes: &[u32]) -> Result<ExitCode> {
    let cat = stylelab_core::imaging::decode(&super::examples()?.join("chelsea.png")).map_err(anyhow::Error::msg)?;
    let summary: Summary = serde_json::from_str(
        r#"{"name":"bench","status":"completed","started":"2026-01-01T00:00:00+00:00","steps":100,
        "iterations":100,"evals":201,"wall_s":50.0,"seconds_per_step":0.5,"device":"cpu","libtorch":"2.11.0",
        "stylelab":"0.1.0","weights":"w","weights_sha256":"00","seed":0,"width":1,"height":1,"peak_rss_mib":1.0,
        "final_losses":{"total":1e3,"content":3.0,"style":9.0,"tv":0.1}}"#,
    )?;
    let root = super::scratch()?.join("tensorboard");
    for &size in sizes {
        let (w, h) = stylelab_core::imaging::fit_longest(cat.width(), cat.height(), size);
        let image = Arc::new(stylelab_core::imaging::resize(&cat, w, h));
        let mut timings = Vec::new();
        for i in 0..REPEATS {
            let dir = root.join(format!("{size}-{i}"));
            std::fs::create_dir_all(&dir)?;
            timings.push(time_run(&dir, &image, &summary)?);
        }
        let median = |f: fn(&Timing) -> f64| {
            let mut v: Vec<f64> = timings.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        say!(
            "TensorBoard sink at {size} px ({w}×{h}), median of {REPEATS}: {:.1} µs per step (17 scalars, \
             written every step), {:.2} ms per snapshot (PNG), {:.3} ms per step in all with a snapshot every \
             {SNAPSHOT_EVERY} steps and the final image; {:.0} KiB for {STEPS} steps",
            median(|t| t.per_step) * 1e6,
            median(|t| t.per_snapshot) * 1e3,
            median(|t| t.total) * 1e3 / STEPS as f64,
            median(|t| t.bytes as f64) / 1024.0,
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(ExitCode::SUCCESS)
}
