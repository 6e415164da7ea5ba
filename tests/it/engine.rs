//! The engine against its past and its promises: the device-resident
//! L-BFGS reproduces what the two-loop recursion wrote before it (the same
//! algorithm), reads the device once per evaluation, and reduced precision
//! runs.

use crate::common;
use assert_cmd::Command;
use std::path::Path;
use stylelab_core::record::{self, StepMetrics};

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
    let text = std::fs::read_to_string(common::root().join("tests/fixtures/optimizer-loss-curves").join(file)).unwrap();
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

/// The textbook L-BFGS (`precondition = "none"`) on the free image
/// (`bounds = "none"`) is the one these rows were written by. Past its
/// sixth step this run amplifies round-off tenfold a step: the Gram terms'
/// gradient computed as one product instead of two (`value_and_pull`)
/// moved the rows by 1e-7 after one step, 3e-5 after six and 2e-3 after
/// seven (the code before it wrote them to the bit).
#[test]
fn lbfgs_on_the_device_reproduces_the_two_loop_runs_first_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(
        tmp.path(),
        "lbfgs",
        &[
            "optim.iterations=12",
            "output.snapshot_every=0",
            "optim.precondition=\"none\"",
            "optim.bounds=\"none\"",
        ],
    );
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert_close(&rows, &old_rows("lbfgs.csv"), 7, 1e-4);
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

/// The default L-BFGS is the spectrally preconditioned one: the run's
/// experiment.toml says so, and after as many steps as the textbook one
/// it has a lower loss (the classic layers at 64 px, random VGG19).
#[test]
fn the_default_lbfgs_is_preconditioned_says_so_and_gets_further() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = ["optim.iterations=40", "output.snapshot_every=0"];
    for d in ["spectral", "none"] {
        std::fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    let spectral = run(&tmp.path().join("spectral"), "spectral", &steps);
    let toml = std::fs::read_to_string(record::RunPaths::new(&spectral).experiment()).unwrap();
    assert!(toml.contains("precondition = \"spectral\""), "{toml}");
    let log = std::fs::read_to_string(spectral.join("events.log")).unwrap();
    assert!(log.contains("projected two-loop, spectral preconditioner)"), "{log}");
    let none = run(
        &tmp.path().join("none"),
        "none",
        &[steps[0], steps[1], "optim.precondition=\"none\""],
    );
    let toml = std::fs::read_to_string(record::RunPaths::new(&none).experiment()).unwrap();
    assert!(toml.contains("precondition = \"none\""), "{toml}");
    let log = std::fs::read_to_string(none.join("events.log")).unwrap();
    assert!(log.contains("two-loop, no preconditioner)"), "{log}");
    let last = |dir: &Path| record::read_metrics(dir).unwrap().1.last().unwrap().total;
    let (a, b) = (last(&spectral), last(&none));
    assert!(a < b, "after 40 steps: spectral {a:.6e}, none {b:.6e}");
}

/// Written by Adam on the free image (`bounds = "none"`).
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
            "optim.bounds=\"none\"",
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
fn auto_measures_the_memory_format_at_a_real_size_once() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "format", "");
    let cache = tmp.path().join("cache");
    let summaries: Vec<record::Summary> = (0..2)
        .map(|_| {
            stylelab()
                .env("STYLELAB_CACHE_DIR", &cache)
                .arg("run")
                .arg(&exp)
                .args(["--set", "images.size=128", "--set", "optim.iterations=1"])
                .args([
                    "--set",
                    "loss.style_layers={ relu1_1 = 1.0 }",
                    "--set",
                    "loss.content_layers={}",
                ])
                .assert()
                .success();
            let newest = stylelab_core::review::list_runs(&tmp.path().join("results")).remove(0);
            record::read_summary(&newest.dir).unwrap()
        })
        .collect();
    let first = &summaries[0].memory_format;
    assert!(
        first.contains("(measured at 128 px: nchw") && first.contains("channels_last"),
        "{first}"
    );
    // The second run takes the first's measurement from the cache.
    let second = &summaries[1].memory_format;
    assert!(second.contains("(cached, measured at 128 px: nchw"), "{second}");
    assert_eq!(first.split(' ').next(), second.split(' ').next(), "the same choice");
    assert!(cache.join("memory-formats.json").exists());
}

/// The classic problem at 512 px (random VGG19 to relu5_1, content
/// relu4_2, style relu1_1…relu5_1): bf16 L-BFGS used to stop after one step
/// and say "completed", its first trial moving pixels by 3e-5, below bf16's
/// rounding noise.
#[test]
fn bf16_lbfgs_at_512_px_takes_every_step_at_about_one_evaluation_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(
        tmp.path(),
        "bf16",
        &[
            "images.size=512",
            "optim.precision=\"bf16\"",
            "optim.iterations=4",
            "optim.history=100",
            "output.snapshot_every=0",
        ],
    );
    let s = record::read_summary(&dir).unwrap();
    assert_eq!((s.status, s.steps), (record::Status::Completed, 4), "{:?}", s.error);
    assert!(
        s.evals as f64 <= 1.0 + 1.3 * 4.0 + 1.0,
        "{} evaluations for 4 steps",
        s.evals
    );
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert!(
        rows[4].total < 0.5 * rows[0].total,
        "the loss falls: {} → {}",
        rows[0].total,
        rows[4].total
    );
    assert!(s.seconds_to_first_evaluation.is_some() && s.seconds_to_first_step.is_some());
}

/// A step so short that no trial moves the image: the line search finds no
/// lower loss along the steepest descent, far from a minimum. The run says
/// it stalled, where and why, everywhere a status shows, and exits 1.
#[test]
fn a_run_that_cannot_move_says_it_stalled() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "stuck", "");
    let out = stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", "optim.learning_rate=1e-300"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("stuck: stalled after 1 of 8 steps"), "{out}");
    assert!(
        out.contains("  why: at step 1: along the steepest descent no step along it"),
        "{out}"
    );
    assert!(!out.contains("completed"), "{out}");
    let dir = common::only_run(tmp.path());
    let s = record::read_summary(&dir).unwrap();
    assert_eq!(s.status, record::Status::Stalled);
    assert!(s.error.unwrap().contains("far from 0"));
    let events = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(events.contains("stalled after 1 step: at step 1:"), "{events}");
    let runs = common::stdout_of(stylelab().arg("runs").arg("--results").arg(tmp.path().join("results")));
    assert!(runs.contains("stalled"), "{runs}");
    assert!(dir.join("final.png").exists());
}
