//! `stylelab bench --listing N`: how long listing N runs takes, the work
//! behind `stylelab runs` and the dashboard's Runs view.

use super::say;
use anyhow::Result;
use std::process::ExitCode;
use std::time::Instant;

/// Times listing `n` runs (each with a summary, a 100-row metrics file and
/// an experiment), in this process, so libtorch's start-up is not counted.
pub fn run(n: usize) -> Result<ExitCode> {
    use stylelab_core::record::{MetricsHeader, StepMetrics};
    let dir = super::scratch()?.join("listing");
    let results = dir.join("results");
    std::fs::create_dir_all(&results)?;
    let header = MetricsHeader::new(vec!["content:relu4_2".into(), "style:relu1_1".into()]);
    for i in 0..n {
        let run = results.join(format!("20260101-{:06}-run{}", i, i % 7));
        std::fs::create_dir_all(&run)?;
        let mut csv = header.columns().join(",") + "\n";
        for step in 0..100u64 {
            let row = StepMetrics {
                iter: step,
                evals: step,
                elapsed_s: step as f64,
                total: 1e6 / (step + 1) as f64,
                content: 1.0,
                style: 2.0,
                tv: 3.0,
                layers: vec![1.0, 2.0],
                content_weight: 5.0,
                style_weight: 100.0 * (i % 3 + 1) as f64,
                tv_weight: 1e-3,
                width: 64,
                height: 64,
            };
            csv += &(row.to_fields(&header).join(",") + "\n");
        }
        std::fs::write(run.join(stylelab_core::record::METRICS_FILE), csv)?;
        let summary = format!(
            r#"{{"name":"run{}","status":"completed","started":"2026-01-01T00:00:00+00:00","steps":99,"iterations":99,"evals":99,"wall_s":99.0,"seconds_per_step":1.0,"device":"cpu","libtorch":"2.11.0","stylelab":"0.1.0","weights":"w","weights_sha256":"00","seed":0,"width":64,"height":64,"peak_rss_mib":1.0,"final_losses":{{"total":1e4,"content":1.0,"style":2.0,"tv":3.0}}}}"#,
            i % 7
        );
        std::fs::write(run.join(stylelab_core::record::SUMMARY_FILE), summary)?;
        let exp = format!(
            "name = \"run{}\"\n[loss]\nstyle_weight = {}\ncontent_weight = 5.0\n[optim]\nseed = {}\n",
            i % 7,
            100 * (i % 3 + 1),
            i % 5
        );
        std::fs::write(run.join(stylelab_core::record::EXPERIMENT_FILE), exp)?;
    }
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let l = stylelab_core::review::table::Listing::load(&results, None, None).map_err(anyhow::Error::msg)?;
        lines = l
            .render(stylelab_core::review::table::Format::Table, None)
            .lines()
            .count();
        times.push(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    say!(
        "listing {n} runs (read summaries and configs, find varying keys, render the table): median {:.3} s, best {:.3} s over 5 ({} lines)",
        times[2],
        times[0],
        lines
    );
    Ok(ExitCode::SUCCESS)
}
