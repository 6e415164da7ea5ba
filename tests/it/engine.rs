//! The engine against its past and its promises: the device-resident
//! L-BFGS reproduces what the two-loop recursion wrote before it (the same
//! algorithm), reads the device once per evaluation, and reduced precision
//! runs.

use crate::common;
use assert_cmd::Command;
use std::path::Path;
use stylelab::record::{self, StepMetrics};

fn stylelab() -> Command {
    Command::cargo_bin("stylelab").unwrap()
}

/// Runs the tiny experiment with `sets` and returns its folder.
fn run(dir: &Path, name: &str, sets: &[&str]) -> std::path::PathBuf {
    let exp = common::tiny_experiment(dir, name, "");
    let mut cmd = stylelab();
    cmd.arg("run").arg(&exp);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.assert().success();
    common::only_run(dir)
}

fn old_rows(file: &str) -> Vec<StepMetrics> {
    let text = std::fs::read_to_string(common::root().join("tests/fixtures/before-device-lbfgs").join(file)).unwrap();
    record::parse_metrics(&text).unwrap().1
}

/// Every number of the first `n` rows agrees to `rel` (evaluation counts exactly).
fn assert_close(new: &[StepMetrics], old: &[StepMetrics], n: usize, rel: f64) {
    assert!(new.len() >= n && old.len() >= n);
    for (a, b) in new.iter().zip(old).take(n) {
        assert_eq!((a.iter, a.evals), (b.iter, b.evals), "row {}", b.iter);
        let pairs = [
            (a.total, b.total),
            (a.content, b.content),
            (a.style, b.style),
            (a.tv, b.tv),
        ]
        .into_iter()
        .chain(a.layers.iter().copied().zip(b.layers.iter().copied()));
        for (x, y) in pairs {
            let scale = x.abs().max(y.abs()).max(1e-12);
            assert!((x - y).abs() <= rel * scale, "row {}: {x} vs {y}", b.iter);
        }
    }
}

#[test]
fn lbfgs_on_the_device_reproduces_the_two_loop_runs_first_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(tmp.path(), "lbfgs", &["optim.iterations=12", "output.snapshot_every=0"]);
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert_close(&rows, &old_rows("lbfgs.csv"), 10, 1e-4);
    // One read per evaluation, nothing else, once the loop runs.
    let s = record::read_summary(&dir).unwrap();
    let evals_in_steps = (rows[12].evals - rows[0].evals) as f64;
    assert_eq!(s.host_reads_per_step, Some(evals_in_steps / 12.0));
    assert_eq!(s.precision, "fp32");
    assert!(
        s.memory_format.starts_with("channels_last (default below 128 px"),
        "{}",
        s.memory_format
    );
}

#[test]
fn adam_on_the_device_reproduces_its_old_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(
        tmp.path(),
        "adam",
        &[
            "optim.iterations=12",
            "output.snapshot_every=0",
            "optim.optimizer=\"adam\"",
            "optim.learning_rate=0.02",
        ],
    );
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert_close(&rows, &old_rows("adam.csv"), 10, 1e-4);
    assert_eq!(record::read_summary(&dir).unwrap().host_reads_per_step, Some(1.0));
}

#[test]
fn bf16_runs_and_lowers_the_loss_on_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(tmp.path(), "bf16", &["optim.precision=\"bf16\"", "optim.iterations=10"]);
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert!(
        rows[10].total < rows[0].total * 0.5,
        "{} → {}",
        rows[0].total,
        rows[10].total
    );
    let s = record::read_summary(&dir).unwrap();
    assert_eq!(s.precision, "bf16");
}

#[test]
fn fp16_on_a_cpu_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "fp16", "");
    let err = common::stderr_of(
        stylelab()
            .arg("run")
            .arg(&exp)
            .args(["--device", "cpu", "--set", "optim.precision=\"fp16\""]),
        2,
    );
    assert!(err.contains("optim.precision: fp16 needs a CUDA device"), "{err}");
    assert!(!tmp.path().join("results").exists());
}

#[test]
fn auto_measures_the_memory_format_at_a_real_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(
        tmp.path(),
        "format",
        &[
            "images.size=128",
            "optim.iterations=1",
            "loss.style_layers={ relu1_1 = 1.0 }",
            "loss.content_layers={}",
        ],
    );
    let s = record::read_summary(&dir).unwrap();
    assert!(
        s.memory_format.contains("measured at 128 px: nchw") && s.memory_format.contains("channels_last"),
        "{}",
        s.memory_format
    );
}
