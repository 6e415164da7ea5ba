//! The yardstick: what it measures, where it shows, and that listing runs
//! never recomputes it.

use crate::common;
use assert_cmd::Command;
use std::path::Path;
use stylelab_core::record;
use stylelab_engine::{imaging, score};

fn stylelab() -> Command {
    Command::cargo_bin("stylelab").unwrap()
}

#[test]
fn the_content_itself_scores_content_dist_0_and_ssim_1() {
    let weights = common::random_weights();
    let sha = stylelab_engine::weights::sha256_file(weights).unwrap();
    let scorer = score::Scorer::new(weights, &sha, 128, tch::Device::Cpu).unwrap();
    let content = imaging::decode(&common::example("chelsea.png")).unwrap();
    let style = imaging::decode(&common::example("starry_night.jpg")).unwrap();
    let styles = stylelab_engine::score::ScoreStyles {
        styles: vec![(style.clone(), 1.0, None)],
    };
    let targets = scorer.targets(&content, &[styles], None).unwrap();
    let s = scorer.score(&content, &targets).unwrap();
    assert_eq!(s.content_dist, 0.0);
    assert!((s.ssim - 1.0).abs() < 1e-6, "{}", s.ssim);
    assert_eq!((s.content_layer.as_str(), s.style_layers.len()), ("relu4_2", 5));
    // The style image itself (reshaped to the content's frame) is nearer
    // the style than the content is, and further from the content.
    let as_style = scorer.score(&style, &targets).unwrap();
    assert!(as_style.style_dist < s.style_dist, "{as_style:?} vs {s:?}");
    assert!(as_style.color_dist < s.color_dist, "{as_style:?} vs {s:?}");
    assert!(as_style.content_dist > s.content_dist && as_style.ssim < 0.9);
}

/// Runs the tiny experiment (unscored) and returns its folder.
fn tiny_run(dir: &Path, name: &str, sets: &[&str]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let exp = common::tiny_experiment(dir, name, "");
    let mut cmd = stylelab();
    cmd.arg("run").arg(&exp).args(["--set", "optim.iterations=4"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.assert().success();
    common::only_run(dir)
}

#[test]
fn score_writes_summaries_and_feeds_runs_compare_and_the_scatter() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tiny_run(&tmp.path().join("a"), "low", &["loss.style_weight=1"]);
    let b = tiny_run(&tmp.path().join("b"), "high", &["loss.style_weight=1e4"]);
    assert!(
        record::read_summary(&a).unwrap().scores.is_none(),
        "score = false in the tiny experiment"
    );
    let out = common::stdout_of(
        stylelab()
            .arg("score")
            .arg(&a)
            .arg(&b)
            .args(["--size", "512", "--json", "--steps"]),
    );
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["color_dist", "content_dist", "run", "ssim", "style_dist"]);
    let s = record::read_summary(&a).unwrap().scores.unwrap();
    // Asked for 512 px, scored at 64: a result is never enlarged.
    assert_eq!((s.version, s.size), (score::VERSION, 64));
    assert_eq!(lines[0]["style_dist"].as_f64().unwrap(), s.style_dist);
    // Snapshots scored: a curve for compare.
    let steps = record::read_step_scores(&a, "style_dist").unwrap();
    assert_eq!(steps.iter().map(|p| p.0).collect::<Vec<_>>(), vec![4.0]);
    // runs lists them (and sorts by them).
    let results = tmp.path().join("all");
    std::fs::create_dir_all(&results).unwrap();
    for d in [&a, &b] {
        let to = results.join(d.file_name().unwrap());
        std::process::Command::new("cp")
            .arg("-r")
            .arg(d)
            .arg(&to)
            .status()
            .unwrap();
    }
    let csv = common::stdout_of(
        stylelab()
            .args(["runs", "--format", "csv", "--sort", "style_dist", "--results"])
            .arg(&results),
    );
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("content_dist,style_dist,color_dist,ssim"),
        "{csv}"
    );
    // compare: the table, a score curve, the trade-off picture.
    let png = tmp.path().join("tradeoff.png");
    let out = common::stdout_of(
        stylelab()
            .arg("compare")
            .arg(&a)
            .arg(&b)
            .args(["--metric", "score.style_dist", "--scatter"])
            .arg(&png),
    );
    assert!(out.contains("content_dist") && out.contains("Pareto front"), "{out}");
    let img = image::open(&png).unwrap();
    // 1200×900 for the plot, and a key line per run under it.
    assert_eq!((img.width(), img.height()), (1200, 900 + 12 + 2 * 24));
}

#[test]
fn runs_made_with_other_weights_are_not_scored_together() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tiny_run(&tmp.path().join("a"), "one", &[]);
    let other = common::random_weights_upto(tmp.path(), "other.safetensors", "relu5_1");
    let b = tiny_run(
        &tmp.path().join("b"),
        "two",
        &[&format!("model.weights=\"{}\"", other.display())],
    );
    let err = common::stderr_of(stylelab().arg("score").arg(&a).arg(&b), 2);
    assert!(
        err.contains("different weights files") && err.contains("--weights FILE"),
        "{err}"
    );
}

#[test]
fn listing_reads_scores_from_summaries_and_old_runs_have_none() {
    // The fixture summaries name a weights file that does not exist: a
    // listing that recomputed anything would fail.
    let fixtures = common::root().join("tests/fixtures/results");
    let listing = stylelab_core::review::table::Listing::load(&fixtures, None, Some("style_dist")).unwrap();
    let names: Vec<&str> = listing.runs.iter().map(|r| r.name()).collect();
    assert_eq!(
        &names[..2],
        ["style-high", "style-low"],
        "sorted by style_dist, scored first"
    );
    let rows = listing.rows();
    let col = listing.header().iter().position(|h| h == "ssim").unwrap();
    assert_eq!(rows[0][col], "0.3822");
    assert!(rows[2..].iter().all(|r| r[col].is_empty()), "older runs: empty");
}

/// The yardstick orders a trade-off as a person would: 1000× the style
/// weight, on the real weights, takes more style and keeps less content.
#[test]
#[ignore = "needs the real partial VGG19 in ../shared/weights (CI provides it; make test runs ignored tests)"]
fn a_heavier_style_weight_scores_closer_to_the_style_and_further_from_the_content() {
    let weights = common::partial_weights();
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::root().join("experiments/texture.toml");
    let mut scores = Vec::new();
    for (i, w) in ["1e1", "1e4"].iter().enumerate() {
        let results = tmp.path().join(format!("r{i}"));
        stylelab()
            .arg("run")
            .arg(&exp)
            .args([
                "--set",
                &format!("model.weights=\"{}\"", weights.display()),
                "--set",
                "images.size=128",
                "--set",
                "optim.iterations=60",
                "--set",
                &format!("loss.style_weight={w}"),
                "--set",
                "output.snapshot_every=0",
                "--results",
            ])
            .arg(&results)
            .assert()
            .success();
        let dir = std::fs::read_dir(&results).unwrap().next().unwrap().unwrap().path();
        scores.push(
            record::read_summary(&dir)
                .unwrap()
                .scores
                .expect("runs are scored when they end"),
        );
    }
    let (low, high) = (&scores[0], &scores[1]);
    assert!(
        high.style_dist < low.style_dist,
        "style_dist {} → {}",
        low.style_dist,
        high.style_dist
    );
    assert!(
        high.content_dist > low.content_dist,
        "content_dist {} → {}",
        low.content_dist,
        high.content_dist
    );
    assert_eq!(
        high.content_layer, "relu3_4",
        "the deepest ReLU the partial weights hold before relu4_2"
    );
}
