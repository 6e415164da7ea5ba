//! The experiment vocabulary of issue 19, end to end: the four style
//! statistics, per layer, and styles by region — what a run records, what
//! `check`, `runs` and `compare` say, and (on the real partial weights) that
//! each statistic is one an optimizer can actually match.

use crate::common;
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use stylelab_core::record;

fn stylelab() -> Command {
    Command::cargo_bin("stylelab").unwrap()
}

const LOSSES: [&str; 4] = ["gram", "mean_std", "sliced_wasserstein", "histogram"];

/// Runs `exp` with `sets` into `results`; the one run folder made there.
fn run_into(exp: &Path, results: &Path, sets: &[&str]) -> PathBuf {
    let mut cmd = stylelab();
    cmd.arg("run").arg(exp).arg("--results").arg(results);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd.assert().success();
    let runs: Vec<PathBuf> = std::fs::read_dir(results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("summary.json").exists())
        .collect();
    assert_eq!(runs.len(), 1, "one run in {}", results.display());
    runs[0].clone()
}

#[test]
fn each_style_loss_runs_and_is_named_in_the_summary_and_the_resolved_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "losses", "");
    for loss in LOSSES {
        let dir = run_into(
            &exp,
            &tmp.path().join(loss),
            &[&format!("loss.style_loss=\"{loss}\""), "optim.iterations=4"],
        );
        let summary = record::read_summary(&dir).unwrap();
        assert_eq!(summary.status, record::Status::Completed, "{loss}");
        assert_eq!(summary.style_losses.len(), 5, "{loss}: {:?}", summary.style_losses);
        assert!(
            summary.style_losses.values().all(|l| l == loss),
            "{:?}",
            summary.style_losses
        );
        assert!(summary.regions.is_empty());
        let resolved = std::fs::read_to_string(dir.join("experiment.toml")).unwrap();
        assert!(resolved.contains(&format!("style_loss = \"{loss}\"")), "{resolved}");
        // The per-layer columns keep their names and meaning: one per layer.
        let (header, rows, _) = record::read_metrics(&dir).unwrap();
        let style: Vec<&String> = header.layers.iter().filter(|c| c.starts_with("style:")).collect();
        assert_eq!(
            style,
            [
                "style:relu1_1",
                "style:relu2_1",
                "style:relu3_1",
                "style:relu4_1",
                "style:relu5_1"
            ]
        );
        let first = &rows[0];
        let sum: f64 = header
            .layers
            .iter()
            .zip(&first.layers)
            .filter(|(c, _)| c.starts_with("style:"))
            .map(|(_, v)| v)
            .sum();
        assert!(
            (sum - first.style).abs() <= 1e-4 * first.style.abs(),
            "{loss}: the style column ({}) sums its layers ({sum}) at weight 1",
            first.style
        );
        assert!(rows.iter().all(|r| r.total.is_finite()), "{loss}: finite losses");
        assert!(rows.last().unwrap().total < first.total, "{loss}: the loss falls");
    }
    // Per layer: a table beside plain weights.
    let dir = run_into(
        &exp,
        &tmp.path().join("mixed"),
        &[
            r#"loss.style_layers={ relu1_1 = { weight = 2.0, loss = "histogram" }, relu2_1 = 1.0 }"#,
            r#"loss.style_loss="mean_std""#,
            "optim.iterations=3",
        ],
    );
    let summary = record::read_summary(&dir).unwrap();
    let kinds: Vec<(&str, &str)> = summary
        .style_losses
        .iter()
        .map(|(l, k)| (l.as_str(), k.as_str()))
        .collect();
    assert_eq!(kinds, [("relu1_1", "histogram"), ("relu2_1", "mean_std")]);
}

#[test]
fn sliced_wasserstein_repeats_exactly_with_its_seed_and_not_with_another() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "sw", "");
    let totals = |name: &str, seed: u64| -> Vec<String> {
        let dir = run_into(
            &exp,
            &tmp.path().join(name),
            &[
                r#"loss.style_loss="sliced_wasserstein""#,
                &format!("optim.seed={seed}"),
                "optim.iterations=5",
                "output.snapshot_every=0",
            ],
        );
        let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        // Every loss column of every row, as written (elapsed time aside).
        text.lines()
            .skip(1)
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f.remove(2);
                f.join(",")
            })
            .collect()
    };
    let a = totals("a", 7);
    assert_eq!(a, totals("b", 7), "same seed, same projections, same numbers");
    assert_ne!(a[0], totals("c", 8)[0], "another seed draws other projections");
}

/// chelsea.png is 451×300: a mask of white (left) and black (right) halves.
fn halves_mask(dir: &Path) -> PathBuf {
    let path = dir.join("halves.png");
    image::RgbImage::from_fn(451, 300, |x, _| {
        if x < 225 {
            image::Rgb([255; 3])
        } else {
            image::Rgb([0; 3])
        }
    })
    .save(&path)
    .unwrap();
    path
}

/// Two regions on the random network: `extra` goes into [images].
pub fn regions_experiment(dir: &Path, extra: &str, sweep: &str) -> PathBuf {
    let mask = halves_mask(dir);
    let text = format!(
        r#"name = "regions"
[images]
content = "{content}"
mask = "{mask}"
{extra}
[regions.left]
color = "white"
style = "{starry}"
[regions.right]
color = "black"
style = ["{brick}", "{starry}"]
style_blend = [0.75, 0.25]
style_weight = 2.0
[model]
weights = "{weights}"
[loss]
content_layers = {{ relu4_2 = 1.0 }}
style_layers = {{ relu1_1 = 1.0, relu3_1 = 1.0 }}
[optim]
iterations = 6
seed = 1
[output]
snapshot_every = 3
results = "{results}"
{sweep}
"#,
        content = common::example("chelsea.png").display(),
        mask = mask.display(),
        starry = common::example("starry_night.jpg").display(),
        brick = common::example("brick.png").display(),
        weights = common::random_weights().display(),
        results = dir.join("results").display(),
    );
    let path = dir.join("regions.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn regions_run_end_to_end_with_scales_colours_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = regions_experiment(tmp.path(), "size = [48, 64]\npreserve_colors = \"luminance\"", "");
    let out = common::stdout_of(stylelab().arg("check").arg(&exp));
    assert!(out.contains("left (white) ← starry_night.jpg"), "{out}");
    assert!(
        out.contains("right (black) ← brick.png ×0.75 + starry_night.jpg ×0.25, style ×2"),
        "{out}"
    );
    let out = common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "output.score=true"]));
    assert!(out.contains("completed after 12 of 12 steps"), "{out}");
    let dir = common::only_run(tmp.path());
    let (header, rows, _) = record::read_metrics(&dir).unwrap();
    let style: Vec<&String> = header.layers.iter().filter(|c| c.starts_with("style:")).collect();
    assert_eq!(
        style,
        [
            "style:relu1_1@left",
            "style:relu3_1@left",
            "style:relu1_1@right",
            "style:relu3_1@right"
        ]
    );
    // The style column is the regions' sum, each weighted by its region's
    // style weight (here ×1 and ×2).
    let value = |row: &record::StepMetrics, col: &str| row.layers[header.layers.iter().position(|c| c == col).unwrap()];
    let row = &rows[0];
    let expected = value(row, "style:relu1_1@left")
        + value(row, "style:relu3_1@left")
        + 2.0 * (value(row, "style:relu1_1@right") + value(row, "style:relu3_1@right"));
    assert!(
        (row.style - expected).abs() <= 1e-4 * expected,
        "style {} = Σ regions {expected}",
        row.style
    );
    // Both scales ran, the second on the mask resized for it.
    let sizes: Vec<(u32, u32)> = rows.iter().map(|r| (r.width, r.height)).collect();
    assert_eq!(sizes.first(), Some(&(48, 32)));
    assert_eq!(sizes.last(), Some(&(64, 43)));
    let summary = record::read_summary(&dir).unwrap();
    assert_eq!(summary.status, record::Status::Completed);
    assert_eq!(summary.regions, ["left", "right"]);
    let scores = summary.scores.expect("scored at the end");
    assert!(scores.style_dist.is_finite() && scores.style_dist > 0.0, "{scores:?}");
    assert!(image::open(dir.join("final.png")).is_ok());
}

/// On the real partial weights at 128 px, each statistic is one L-BFGS can
/// match: its own style term falls at least tenfold in 100 steps, from the
/// content image, with the shipped experiment's weights.
#[test]
#[ignore = "needs the real partial VGG19 in ../shared/weights (CI provides it; make test runs ignored tests)"]
fn on_real_weights_each_style_loss_lowers_its_own_term_tenfold() {
    let weights = common::partial_weights();
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::root().join("experiments/style-losses.toml");
    for (loss, weight) in LOSSES.iter().zip(["1e4", "8e8", "8e8", "8e8"]) {
        let dir = run_into(
            &exp,
            &tmp.path().join(loss),
            &[
                &format!("model.weights=\"{}\"", weights.display()),
                &format!("loss.style_loss=\"{loss}\""),
                &format!("loss.style_weight={weight}"),
                "images.size=128",
                "optim.iterations=100",
                "output.score=false",
            ],
        );
        let (_, rows, _) = record::read_metrics(&dir).unwrap();
        let (first, last) = (rows[0].style, rows.last().unwrap().style);
        assert!(rows.len() == 101, "{loss}: 100 steps, {} rows", rows.len());
        assert!(
            last * 10.0 <= first,
            "{loss}: style term {first} → {last}, less than 10×"
        );
    }
}
