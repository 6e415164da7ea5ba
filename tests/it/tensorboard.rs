//! TensorBoard's event files, read by TensorBoard's own Python package
//! (`tests/it/tensorboard_reader.py`): a run's scalars equal metrics.csv
//! to float32, its images are its snapshots, its texts its experiment and
//! outcome, its hparams its keys; `export tensorboard` writes the same for
//! a run made without the sink; steering steps the weight curve; a killed
//! run's file reads up to its last flush; a sweep's points are sessions
//! with the swept keys as the HParams table's columns.
//!
//! The reader needs `tensorboard` in `.venv` (`make test` installs it):
//! those tests are `#[ignore = "needs tensorboard in .venv …"]` and fail
//! saying so without it.

use crate::common;
use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stylelab_core::record::{self, MetricsHeader, StepMetrics};

fn stylelab() -> Command {
    Command::cargo_bin("stylelab").unwrap()
}

/// The project's Python, which `make test` gives TensorBoard.
fn python() -> PathBuf {
    let py = common::root().join(".venv/bin/python");
    let has = std::process::Command::new(&py)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has,
        "this test needs TensorBoard's Python package in .venv: `make test` installs it \
         (.venv/bin/python -m pip install tensorboard)"
    );
    py
}

/// What TensorBoard's reader makes of `path` (`events` of a run folder, or
/// `hparams` of a logdir).
fn read(mode: &str, path: &Path) -> Value {
    let out = std::process::Command::new(python())
        .arg(common::root().join("tests/it/tensorboard_reader.py"))
        .arg(mode)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The event files in a folder.
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains("tfevents"))
        .collect();
    files.sort();
    files
}

/// A series of scalars as (step, value) pairs.
fn scalars(read: &Value, tag: &str) -> Vec<(u64, f32)> {
    read["scalars"][tag]
        .as_array()
        .unwrap_or_else(|| {
            panic!(
                "no scalar {tag}: {:?}",
                read["scalars"].as_object().map(|o| o.keys().collect::<Vec<_>>())
            )
        })
        .iter()
        .map(|p| {
            (
                p[0].as_u64().unwrap(),
                p[1].as_str().unwrap().parse::<f64>().unwrap() as f32,
            )
        })
        .collect()
}

/// The scalars TensorBoard read equal metrics.csv's columns, row by row,
/// to float32; none is missing and none is extra but the final ones.
fn assert_scalars_are_the_csv(read: &Value, header: &MetricsHeader, rows: &[StepMetrics]) {
    let columns: Vec<String> = header.columns().into_iter().filter(|c| c != "iter").collect();
    for column in &columns {
        let tag = stylelab_tensorboard::tags::of_column(column).unwrap();
        let expected: Vec<(u64, f32)> = rows
            .iter()
            .map(|r| {
                let text = &r.to_fields(header)[header.columns().iter().position(|c| c == column).unwrap()];
                (r.iter, text.parse::<f64>().unwrap() as f32)
            })
            .collect();
        assert_eq!(scalars(read, &tag), expected, "{tag}");
    }
    let tags: BTreeSet<String> = read["scalars"].as_object().unwrap().keys().cloned().collect();
    let extra: Vec<&String> = tags
        .iter()
        .filter(|t| !t.starts_with("final/") && !t.starts_with("score/"))
        .filter(|t| {
            !columns
                .iter()
                .any(|c| stylelab_tensorboard::tags::of_column(c).as_deref() == Some(t))
        })
        .collect();
    assert!(extra.is_empty(), "tags beyond metrics.csv: {extra:?}");
}

/// The images TensorBoard read under `tag`, decoded, by step.
fn images(read: &Value, tag: &str) -> Vec<(u64, image::RgbImage)> {
    read["images"][tag]
        .as_array()
        .unwrap_or_else(|| panic!("no image {tag}"))
        .iter()
        .map(|e| {
            let hex = e[3].as_str().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(
                (e[1].as_u64(), e[2].as_u64()),
                (Some(img.width() as u64), Some(img.height() as u64))
            );
            (e[0].as_u64().unwrap(), img)
        })
        .collect()
}

/// The texts TensorBoard read under `tag`, by step.
fn texts(read: &Value, tag: &str) -> Vec<(u64, String)> {
    read["texts"][tag]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e[0].as_u64().unwrap(), e[1].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything a run's event file says that its record says too: the
/// scalars, the images (the very pixels of its PNGs), the experiment, the
/// outcome, the hparams and how the session ended.
fn assert_the_file_is_the_record(read: &Value, dir: &Path) {
    let (header, rows, _) = record::read_metrics(dir).unwrap();
    assert_scalars_are_the_csv(read, &header, &rows);
    let summary = record::read_summary(dir).unwrap();
    let last = summary.steps;
    let l = summary.final_losses.unwrap();
    for (tag, v) in stylelab_tensorboard::tags::FINAL
        .iter()
        .zip([l.total, l.content, l.style, l.tv])
    {
        assert_eq!(scalars(read, tag), vec![(last, v as f32)], "{tag}");
    }
    let paths = record::RunPaths::new(dir);
    let snapshots: Vec<(u64, image::RgbImage)> = paths
        .list_snapshots()
        .into_iter()
        .map(|(i, p)| (i, image::open(p).unwrap().to_rgb8()))
        .collect();
    assert!(!snapshots.is_empty());
    assert_eq!(images(read, "image/snapshot"), snapshots);
    let final_png = image::open(paths.final_image()).unwrap().to_rgb8();
    assert_eq!(images(read, "image/final"), vec![(last, final_png)]);
    let experiment = std::fs::read_to_string(paths.experiment()).unwrap();
    let config = texts(read, "config/experiment");
    assert_eq!(config.len(), 1);
    assert_eq!(config[0].0, 0);
    assert!(config[0].1.contains(experiment.trim_end()), "{}", config[0].1);
    let outcome = format!("{} after {last} steps", summary.status);
    assert_eq!(texts(read, "run/outcome"), vec![(last, outcome)]);
    let hp = &read["hparams"];
    let start = &hp["_hparams_/session_start_info"]["session_start_info"]["hparams"];
    assert_eq!(start["loss.style_weight"], 100.0);
    assert_eq!(start["optim.iterations"].as_f64(), Some(summary.iterations as f64));
    assert_eq!(
        start["images.content"],
        common::example("chelsea.png").to_str().unwrap()
    );
    assert_eq!(start["loss.style_layers.relu3_1"], 1.0);
    assert!(
        start.get("name").is_none() && start.get("output.results").is_none(),
        "{start}"
    );
    let end = &hp["_hparams_/session_end_info"]["session_end_info"];
    let status = if summary.status == record::Status::Completed {
        "STATUS_SUCCESS"
    } else {
        "STATUS_UNKNOWN"
    };
    assert_eq!(end["status"], status);
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn a_runs_event_file_reads_in_tensorboard_as_its_record() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "tb run", "");
    stylelab().arg("run").arg(&exp).assert().success();
    let dir = common::only_run(tmp.path());
    let files = event_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    // events.out.tfevents.<time>.<host>.<pid>.<name>, each part file-safe.
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    let parts: Vec<&str> = name.splitn(5, '.').collect();
    assert_eq!(&parts[..2], ["events", "out"], "{name}");
    assert!(
        name.starts_with("events.out.tfevents.") && name.ends_with(".tb_run"),
        "{name}"
    );
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "{name}"
    );
    let read = read("events", &dir);
    assert_the_file_is_the_record(&read, &dir);
    let rows = record::read_metrics(&dir).unwrap().1;
    assert_eq!(scalars(&read, "loss/total").len(), rows.len());
    assert_eq!(
        images(&read, "image/snapshot")
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>(),
        [4, 8]
    );
}

/// `read` with the times taken out: what must match between two writers.
fn without_times(mut read: Value) -> Value {
    for tag in ["_hparams_/session_start_info", "_hparams_/session_end_info"] {
        for key in ["session_start_info", "session_end_info"] {
            if let Some(o) = read["hparams"][tag][key].as_object_mut() {
                o.remove("start_time_secs");
                o.remove("end_time_secs");
            }
        }
    }
    read
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn export_writes_what_the_live_sink_wrote_and_never_replaces_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "exp", "");
    // With the sink off, the run folder holds no event file…
    stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", "output.tensorboard=false"])
        .assert()
        .success();
    let off = common::only_run(tmp.path());
    assert!(event_files(&off).is_empty());
    // …until `export tensorboard` writes one from its record.
    stylelab().arg("run").arg(&exp).assert().success();
    let results = tmp.path().join("results");
    let out = common::stdout_of(stylelab().args(["export", "tensorboard", "--results"]).arg(&results));
    assert_eq!(out.matches("wrote ").count(), 1, "only the run without one: {out}");
    assert_eq!(event_files(&off).len(), 1);
    let exported = read("events", &off);
    assert_the_file_is_the_record(&exported, &off);
    // The live run's file and its export elsewhere read the same.
    let on = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| *p != off)
        .unwrap();
    let copy = tmp.path().join("copy");
    stylelab()
        .args(["export", "tensorboard", "--results"])
        .arg(&results)
        .arg(&on)
        .arg("--out")
        .arg(&copy)
        .assert()
        .success();
    let there = copy.join(on.file_name().unwrap());
    assert_eq!(
        without_times(read("events", &there)),
        without_times(read("events", &on))
    );
    // An event file is never replaced.
    let err = common::stderr_of(
        stylelab()
            .args(["export", "tensorboard", "--results"])
            .arg(&results)
            .arg(&on),
        1,
    );
    assert!(err.contains("already has an event file"), "{err}");
    assert_eq!(event_files(&on).len(), 1);
}

/// Starts a headless run of `exp` with `args`; its folder once it exists.
fn spawn_run(exp: &Path, args: &[&str]) -> (std::process::Child, PathBuf) {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
        .arg("run")
        .arg(exp)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = exp.parent().unwrap().join("results");
    let started = Instant::now();
    let dir = loop {
        if let Some(d) = std::fs::read_dir(&results).ok().and_then(|mut d| d.next()) {
            break d.unwrap().path();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no run folder");
        std::thread::sleep(Duration::from_millis(20));
    };
    (child, dir)
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn a_steered_runs_weight_curve_steps_at_the_steering_step() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "steer", "init = \"noise\"");
    let (child, dir) = spawn_run(
        &exp,
        &["--set", "optim.iterations=12", "--set", "output.snapshot_every=0"],
    );
    stylelab_core::events::send_control(&dir, stylelab_core::events::Control::Steer(record::Term::Style, 2.0)).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let (header, rows, _) = record::read_metrics(&dir).unwrap();
    let at = rows
        .iter()
        .position(|r| r.style_weight == 200.0)
        .expect("the weight changed") as u64;
    assert!(at >= 1 && rows[at as usize - 1].style_weight == 100.0);
    let read = read("events", &dir);
    assert_scalars_are_the_csv(&read, &header, &rows);
    let curve = scalars(&read, "weight/style_weight");
    assert!(
        curve.iter().all(|&(s, w)| w == if s < at { 100.0 } else { 200.0 }),
        "{curve:?}"
    );
    let log = texts(&read, "run/log");
    let said = format!("step {}: style_weight 100 -> 200 (from step {at})", at - 1);
    assert_eq!(log, vec![(at - 1, said)]);
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn a_killed_run_leaves_a_file_that_reads_to_its_last_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "kill", "");
    let (mut child, dir) = spawn_run(&exp, &["--set", "optim.iterations=100000"]);
    // Steps are flushed at least every 2 s: wait until some have been.
    let started = Instant::now();
    loop {
        let rows = std::fs::read_to_string(dir.join("metrics.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if rows > 3 && started.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let file = event_files(&dir).pop().unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let whole = stylelab_tensorboard::record::read_records(&bytes);
    assert!(!whole.corrupt && whole.torn == 0, "whole records only");
    let rows = record::read_metrics(&dir).unwrap().1;
    let read_killed = read("events", &dir);
    let total = scalars(&read_killed, "loss/total");
    assert!(
        total.len() >= 2 && total.len() <= rows.len(),
        "{} of {}",
        total.len(),
        rows.len()
    );
    let expected: Vec<(u64, f32)> = rows[..total.len()].iter().map(|r| (r.iter, r.total as f32)).collect();
    assert_eq!(total, expected);
    // Cut inside its last record, the file still reads, that record left out.
    let cut_dir = tmp.path().join("cut");
    std::fs::create_dir(&cut_dir).unwrap();
    let last = whole.records.last().unwrap().len() + 16;
    std::fs::write(
        cut_dir.join(file.file_name().unwrap()),
        &bytes[..bytes.len() - last / 2],
    )
    .unwrap();
    let cut = scalars(&read("events", &cut_dir), "loss/total");
    assert!(
        cut.len() + 1 >= total.len() && total.starts_with(&cut),
        "{} of {}",
        cut.len(),
        total.len()
    );
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn a_sweeps_points_are_sessions_with_the_swept_keys_as_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate::sweeps::sweep_file(tmp.path(), "tbs", 2);
    let text = std::fs::read_to_string(&exp).unwrap() + "\"images.init\" = [\"content\", \"noise\"]\n";
    std::fs::write(&exp, text).unwrap();
    stylelab().arg("sweep").arg(&exp).assert().success();
    let results = tmp.path().join("results");
    assert_eq!(event_files(&results.join("tbs-sweep")).len(), 1);
    let hp = read("hparams", &results);
    let columns: Vec<&str> = hp["experiment"]["hparam_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["images.init", "loss.style_weight"]);
    let metrics: Vec<&str> = hp["experiment"]["metric_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(&metrics[..4], stylelab_tensorboard::tags::FINAL);
    let groups = hp["groups"]["session_groups"].as_array().unwrap();
    let runs = stylelab_core::review::list_runs(&results);
    assert_eq!((groups.len(), runs.len()), (4, 4), "{groups:?}");
    for run in &runs {
        let group = groups
            .iter()
            .find(|g| g["name"] == run.id.as_str())
            .unwrap_or_else(|| panic!("{}", run.id));
        let config = stylelab_core::review::flat_config(&run.dir);
        let weight: f64 = config["loss.style_weight"].parse().unwrap();
        assert_eq!(group["hparams"]["loss.style_weight"].as_f64(), Some(weight));
        assert_eq!(group["hparams"]["images.init"], config["images.init"].as_str());
        let total = run.losses().unwrap().total as f32;
        let value = group["metric_values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"]["tag"] == "final/total")
            .unwrap()["value"]
            .as_f64()
            .unwrap();
        assert_eq!(value as f32, total, "{}", run.id);
    }
    // Exported elsewhere, the sweep alone: its points and its columns.
    let alone = tmp.path().join("alone");
    let mut export = stylelab();
    export.args(["export", "tensorboard", "--results"]).arg(&results);
    export.args(runs.iter().map(|r| &r.dir)).arg("--out").arg(&alone);
    let out = common::stdout_of(&mut export);
    assert_eq!(out.matches("wrote ").count(), 5, "4 runs and the sweep: {out}");
    let hp = read("hparams", &alone);
    assert_eq!(hp["experiment"]["hparam_infos"].as_array().unwrap().len(), 2);
    assert_eq!(hp["groups"]["session_groups"].as_array().unwrap().len(), 4);
}

/// A TensorBoard sink that cannot write does not fail the run: it says so
/// once, as a warning in events.log, and the run's record is whole.
#[test]
fn a_sink_that_cannot_write_warns_and_the_run_goes_on() {
    use stylelab_core::sinks::{RunDirSink, Tee, create_run_dir};
    use stylelab_tensorboard::{Feed, TensorBoardSink};
    let tmp = tempfile::tempdir().unwrap();
    let path = common::tiny_experiment(tmp.path(), "nowhere", "");
    let exp = stylelab_core::config::load(&path, &[]).unwrap();
    let paths = create_run_dir(&exp).unwrap();
    let mut dir_sink = RunDirSink::new(paths.clone());
    let mut tb = TensorBoardSink::new(&tmp.path().join("missing/folder"), Some(exp.to_toml()), Feed::Live);
    let summary = {
        let mut tee = Tee::new().with(&mut dir_sink).with(&mut tb);
        let ctx = stylelab_engine::RunContext {
            exp: &exp,
            dir: &paths.dir,
            weights_sha256: String::new(),
            sweep: None,
        };
        let mut controls = stylelab_core::events::Controls::with_flag(Default::default());
        stylelab_engine::run(&ctx, tch::Device::Cpu, &mut tee, &mut controls)
    };
    assert_eq!(summary.status, record::Status::Completed);
    assert!(tb.failed() && tb.path().is_none());
    let events = std::fs::read_to_string(paths.events()).unwrap();
    assert_eq!(
        events
            .matches("warning: TensorBoard: cannot create an event file in")
            .count(),
        1,
        "{events}"
    );
    assert_eq!(
        record::read_summary(&paths.dir).unwrap().status,
        record::Status::Completed
    );
    assert!(event_files(&paths.dir).is_empty());
}

#[test]
#[ignore = "needs tensorboard in .venv (make test installs it)"]
fn a_multi_scale_runs_size_steps_at_its_scale_change() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "scales", "");
    stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", "images.size=[32, 48]", "--set", "optim.iterations=[3, 3]"])
        .args(["--set", "output.snapshot_every=0"])
        .assert()
        .success();
    let dir = common::only_run(tmp.path());
    let (header, rows, _) = record::read_metrics(&dir).unwrap();
    let read = read("events", &dir);
    assert_scalars_are_the_csv(&read, &header, &rows);
    let width = scalars(&read, "scale/width");
    assert_eq!(width.first(), Some(&(0, 32.0)));
    assert_eq!(width.last(), Some(&(6, 48.0)));
    let change = width.iter().position(|&(_, w)| w == 48.0).unwrap();
    let log = texts(&read, "run/log");
    assert_eq!(
        log,
        vec![(
            width[change - 1].0,
            format!("step {}: scale 2/2 at 48×32", width[change - 1].0)
        )]
    );
}
