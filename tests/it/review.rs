//! Review commands on a fixture results folder (tests/fixtures/results):
//! two completed runs that differ in style weight and layers, a run whose
//! CSV was cut mid-line and whose process is gone, one without a summary,
//! and one written before the loss-weight columns existed. Plus sweeps.

use crate::common;

use assert_cmd::Command;
use insta::assert_snapshot;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures/results")
}

fn stylelab() -> Command {
    let mut c = Command::cargo_bin("stylelab").unwrap();
    c.env("NO_COLOR", "1");
    c
}

use common::stdout_of as stdout;

#[test]
fn runs_as_a_table() {
    let out = stdout(stylelab().args(["runs", "--results"]).arg(fixtures()));
    assert_snapshot!(out);
}

#[test]
fn runs_as_csv_sorted_by_total() {
    let out = stdout(
        stylelab()
            .args(["runs", "--format", "csv", "--sort", "total", "--results"])
            .arg(fixtures()),
    );
    assert_snapshot!(out);
}

#[test]
fn runs_as_json_filtered() {
    let out = stdout(
        stylelab()
            .args(["runs", "--format", "json", "--filter", "style-", "--results"])
            .arg(fixtures()),
    );
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
    assert_snapshot!(out);
}

#[test]
fn corrupt_and_partial_runs_are_listed_with_a_clear_status() {
    let listing = stylelab_core::review::table::Listing::load(&fixtures(), None, Some("run")).unwrap();
    let states: Vec<(String, String, String)> = listing
        .runs
        .iter()
        .map(|r| (r.id.clone(), r.state.to_string(), r.note()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("20260101-100000-style-low".into(), "completed".into(), "".into()),
            ("20260101-110000-style-high".into(), "completed".into(), "".into()),
            (
                "20260101-120000-cut-csv".into(),
                "died".into(),
                "process gone after step 3".into()
            ),
            (
                "20260101-130000-no-summary".into(),
                "broken".into(),
                "no summary.json (killed before its first step, or not a run)".into()
            ),
            ("20260101-140000-old-format".into(), "stopped".into(), "".into()),
        ]
    );
    // The cut run's numbers come from its last whole row.
    assert_eq!(listing.runs[2].steps(), 3);
    let err = stylelab_core::review::table::Listing::load(&fixtures(), None, Some("colour"))
        .err()
        .unwrap();
    assert!(err.contains("cannot sort by 'colour'"), "{err}");
}

#[test]
fn compare_prints_curves_differences_and_final_values() {
    let out = stdout(
        stylelab()
            .args(["compare", "style-low", "style-high", "--log", "--results"])
            .arg(fixtures()),
    );
    assert_snapshot!(out);
}

#[test]
fn compare_writes_png_and_svg_figures() {
    let tmp = tempfile::tempdir().unwrap();
    for ext in ["png", "svg"] {
        let out = tmp.path().join(format!("cmp.{ext}"));
        stylelab()
            .args([
                "compare",
                "style-low",
                "style-high",
                "20260101-140000",
                "--metric",
                "style",
                "--smooth",
                "0.5",
                "--log",
                "--out",
            ])
            .arg(&out)
            .arg("--results")
            .arg(fixtures())
            .assert()
            .success();
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.len() > 1000, "{ext}: {} bytes", bytes.len());
        if ext == "png" {
            let img = image::open(&out).unwrap();
            assert_eq!((img.width(), img.height()), (1200, 750));
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.starts_with("<svg") && text.contains("width=\"1200\"") && text.contains("style-high"),
                "{}",
                &text[..200]
            );
        }
    }
    // A column one run lacks is simply not drawn for it; one no run has is an error.
    let err = common::stderr_of(
        stylelab()
            .args([
                "compare",
                "style-low",
                "style-high",
                "--metric",
                "style:relu9_9",
                "--results",
            ])
            .arg(fixtures()),
        2,
    );
    assert!(err.contains("no run has a 'style:relu9_9' column"));
}

#[test]
fn runs_are_named_by_unique_prefixes() {
    let r = |s: &str| stylelab_core::review::resolve_run(&fixtures(), s);
    assert!(r("style-low").unwrap().ends_with("20260101-100000-style-low"));
    assert!(r("20260101-11").unwrap().ends_with("20260101-110000-style-high"));
    assert!(r("style").unwrap_err().contains("matches 2 runs"));
    assert!(r("nothing").unwrap_err().contains("no run matches 'nothing'"));
}

#[test]
fn sheet_is_a_grid_of_labelled_images() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sheet.png");
    let msg = stdout(
        stylelab()
            .args(["sheet", "style-low", "style-high", "old-format", "--out"])
            .arg(&out)
            .arg("--results")
            .arg(fixtures()),
    );
    assert!(msg.contains("3 runs"), "{msg}");
    let img = image::open(&out).unwrap().to_rgb8();
    // 2 columns × 2 rows of 344-pixel-wide cells; labels under each image.
    assert_eq!(img.width(), 2 * 344);
    let cmp = stylelab_core::review::Comparison::load(&[
        fixtures().join("20260101-100000-style-low"),
        fixtures().join("20260101-110000-style-high"),
    ]);
    let labels = stylelab_core::review::sheet::labels(&cmp);
    assert_eq!(
        labels[0],
        vec!["style-low (completed)", "style_layers.relu2_1=—", "style_weight=100"]
    );
    assert_eq!(labels[1][2], "style_weight=1000");
    // The image is there, at the top of its row: no blank band above it
    // (each row is as tall as its tallest image, here 16×12 drawn 320×240).
    let p = img.get_pixel(12 + 160, 12 + 120).0;
    assert!(p[0] > 150 && p[2] < 100, "{p:?}");
    assert_eq!(img.height(), 2 * (240 + 24 + 3 * 20));
}

#[test]
fn show_prints_the_image_and_the_key_numbers() {
    let out = stdout(
        stylelab()
            .args(["show", "style-high", "--width", "20", "--results"])
            .arg(fixtures()),
    );
    assert!(out.contains("style-high: completed after 4 of 4 steps"), "{out}");
    assert!(out.contains("final total"), "{out}");
    let err = common::stderr_of(
        stylelab()
            .args(["show", "style-high", "--step", "7", "--results"])
            .arg(fixtures()),
        2,
    );
    assert!(err.contains("no snapshot at step 7 (snapshots at: 2)"));
}

/// Runs `exp` with 60 steps, steering it with `control` lines sent at
/// once with a pause and a resume after its fifth step (none: not
/// steered); its run folder.
fn steered_run(exp: &std::path::Path, results: &std::path::Path, control: &[&str]) -> PathBuf {
    use std::time::{Duration, Instant};
    let before: Vec<PathBuf> = std::fs::read_dir(results)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
        .arg("run")
        .arg(exp)
        .args(["--set", "optim.iterations=60", "--set", "output.score=true"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let dir = loop {
        let new = std::fs::read_dir(results)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .find(|p| !before.contains(p) && p.join("summary.json").exists());
        if let Some(d) = new {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no run folder");
        std::thread::sleep(Duration::from_millis(10));
    };
    if !control.is_empty() {
        let rows = || {
            std::fs::read_to_string(dir.join("metrics.csv"))
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        while rows() < 6 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the run never reached step 5"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let send = |line: &str| {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("control"))
                .unwrap();
            writeln!(f, "{line}").unwrap();
        };
        send("pause");
        for line in control {
            send(line);
        }
        send("resume");
    }
    assert!(child.wait().unwrap().success());
    dir
}

/// `compare A B` and `compare B A` both have a `steering` row naming the
/// change, with a dash for the run without it, labelled by folder.
fn assert_compare_names_the_steering(results: &Path, ids: &[String], change: &str) {
    let ab = stdout(stylelab().arg("compare").args(ids).arg("--results").arg(results));
    let ba = stdout(
        stylelab()
            .arg("compare")
            .arg(&ids[1])
            .arg(&ids[0])
            .arg("--results")
            .arg(results),
    );
    for out in [&ab, &ba] {
        let row = out
            .lines()
            .find(|l| l.starts_with("steering"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(row.contains('—') && row.contains(change), "{row}");
        assert!(
            out.contains(&ids[0]) && out.contains(&ids[1]),
            "labelled by folder: {out}"
        );
    }
}

/// `compare --out` draws a marker at the change, in the steered run's
/// colour: its figure differs from the same curves drawn unmarked.
fn assert_compare_marks_the_change(
    tmp: &Path,
    (cmp, ids, results): (&stylelab_core::review::Comparison, &[String], &Path),
    at_iter: u64,
) {
    use stylelab_core::review::plot;
    let fig = tmp.join("fig.png");
    stdout(
        stylelab()
            .arg("compare")
            .args(ids)
            .arg("--out")
            .arg(&fig)
            .arg("--results")
            .arg(results),
    );
    let spec = plot::CurveSpec {
        metric: "total",
        smooth: None,
        log: true,
    };
    let curves = plot::curves(cmp, &spec).unwrap();
    assert_eq!(curves[1].marks, vec![at_iter]);
    let unmarked: Vec<_> = curves
        .iter()
        .map(|c| plot::Curve {
            marks: Vec::new(),
            ..c.clone()
        })
        .collect();
    let plain_fig = tmp.join("plain.png");
    plot::write_figure(&plain_fig, &unmarked, "total", true, (1200, 750)).unwrap();
    assert_ne!(
        std::fs::read(&fig).unwrap(),
        std::fs::read(&plain_fig).unwrap(),
        "no marker drawn"
    );
}

/// Re-scoring the second run at another size: said when done, and flagged
/// wherever the two runs' scores meet (`runs`, `compare`, the scatter).
fn assert_rescoring_is_flagged(tmp: &Path, ids: &[String], results: &Path) {
    let rescored = stylelab()
        .args(["score"])
        .arg(&ids[1])
        .args(["--size", "32", "--results"])
        .arg(results)
        .output()
        .unwrap();
    assert!(rescored.status.success());
    let err = String::from_utf8_lossy(&rescored.stderr);
    assert!(
        err.contains("replaced scores measured at 64 px with these at 32 px"),
        "{err}"
    );
    let csv = stdout(stylelab().args(["runs", "--format", "csv", "--results"]).arg(results));
    assert!(csv.lines().next().unwrap().contains(",score_size"), "{csv}");
    let out = stdout(stylelab().arg("compare").args(ids).arg("--results").arg(results));
    assert!(out.contains("scores measured at 32 px and 64 px"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("score_size")), "{out}");
    let scatter = tmp.join("tradeoff.png");
    stdout(
        stylelab()
            .arg("compare")
            .args(ids)
            .arg("--scatter")
            .arg(&scatter)
            .arg("--results")
            .arg(results),
    );
    assert!(image::open(&scatter).is_ok());
}

#[test]
fn steering_and_score_sizes_show_wherever_runs_are_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "pair", "");
    let results = tmp.path().join("results");
    let plain = steered_run(&exp, &results, &[]);
    let steered = steered_run(&exp, &results, &["scale style_weight 2"]);
    let steers = stylelab_core::review::steering(&steered);
    assert_eq!(steers.len(), 1, "the steered run recorded one change");
    let change = stylelab_core::review::steering_text(&steers);
    assert!(change.starts_with("style_weight 100→200@"), "{change}");
    // `runs`: the steering is a varying key.
    let csv = stdout(stylelab().args(["runs", "--format", "csv", "--results"]).arg(&results));
    assert!(csv.lines().next().unwrap().contains(",steering"), "{csv}");
    assert!(csv.contains(&change), "{csv}");
    // `compare`: a difference in the key table, named the same whichever
    // order the runs are given in (both are `pair`: by folder).
    let ids: Vec<String> = [&plain, &steered]
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_compare_names_the_steering(&results, &ids, &change);
    // The sheet's and the trade-off picture's labels carry it too.
    let cmp = stylelab_core::review::Comparison::load(&[plain.clone(), steered.clone()]);
    let labels = stylelab_core::review::sheet::labels(&cmp);
    assert!(
        labels[1].iter().any(|l| l == &format!("steering={change}")),
        "{labels:?}"
    );
    let tradeoff = cmp.tradeoff();
    assert_eq!(tradeoff.len(), 2, "both runs were scored");
    assert!(tradeoff[1].0.contains("steering="), "{tradeoff:?}");
    assert_compare_marks_the_change(tmp.path(), (&cmp, &ids, &results), steers[0].iter);
    assert_rescoring_is_flagged(tmp.path(), &ids, &results);
}

#[test]
fn runs_fitted_to_80_120_and_200_columns_keep_what_a_reader_compares() {
    use stylelab_core::review::table::{Format, Listing};
    let listing = Listing::load(&fixtures(), None, None).unwrap();
    for width in [80, 120, 200] {
        let out = listing.render(Format::Table, Some(width));
        for line in out.lines() {
            assert!(line.chars().count() <= width, "{width}: {line}");
        }
        let head = out.lines().next().unwrap();
        // Name, status, steps, total, style, the scores and the varying
        // keys come first and go last.
        for col in [
            "name",
            "status",
            "steps",
            "total",
            "style",
            "content_dist",
            "style_dist",
        ] {
            assert!(head.split_whitespace().any(|c| c == col), "{width}: no {col} in {head}");
        }
        if width >= 120 {
            assert!(head.contains("style_weight"), "{width}: {head}");
        }
        assert_snapshot!(format!("runs_fitted_{width}"), out);
    }
}
