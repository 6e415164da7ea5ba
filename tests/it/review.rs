//! Review commands on a fixture results folder (tests/fixtures/results):
//! two completed runs that differ in style weight and layers, a run whose
//! CSV was cut mid-line and whose process is gone, one without a summary,
//! and one written before the loss-weight columns existed. Plus sweeps.

use crate::common;

use assert_cmd::Command;
use insta::assert_snapshot;
use std::path::PathBuf;

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
        vec!["style-low (completed)", "style_layers.relu2_1=—", "style_weight=100.0"]
    );
    assert_eq!(labels[1][2], "style_weight=1000.0");
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
