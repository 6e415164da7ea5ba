//! Every sweep test but the real cluster's (`slurm.rs`), the dashboard's
//! and the hostile ones: points run, resumed and collected, the Slurm
//! script, `--jobs` on the CPU, claims (two sweeps at once run each point
//! once; a dead holder's claim is free; a failed point is retried),
//! `--dry-run`'s states, a point done only by a run of its own settings,
//! sweeps too large for memory, `run` on a sweep file, sweeps over region
//! weights and losses, bad input.

use crate::common;

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn stylelab() -> Command {
    let mut c = Command::cargo_bin("stylelab").unwrap();
    c.env("NO_COLOR", "1");
    c
}

/// A sweep of `n` points on the random network, 32 px, 2 steps each.
pub fn sweep_file(dir: &Path, name: &str, n: usize) -> PathBuf {
    let path = common::tiny_experiment(dir, name, "");
    let weights: Vec<String> = (0..n).map(|i| format!("{:.1}", 10f64.powi(i as i32 + 1))).collect();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("iterations = 8", "iterations = 2")
        .replace("size = 64", "size = 32")
        + &format!("\n[sweep]\n\"loss.style_weight\" = [{}]\n", weights.join(", "));
    std::fs::write(&path, text).unwrap();
    path
}

/// Run folders per point name (`sw-p000` → folders) under `results`.
pub fn runs_per_point(results: &Path) -> BTreeMap<String, Vec<stylelab_core::review::RunEntry>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in stylelab_core::review::list_runs(results) {
        out.entry(r.name().to_string()).or_default().push(r);
    }
    out
}

#[test]
fn jobs_run_every_point_once_with_the_cores_shared() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "jb", 4);
    let out = common::stdout_of(
        stylelab()
            .arg("sweep")
            .arg(&exp)
            .args(["--jobs", "2", "--threads", "1"]),
    );
    assert!(
        out.contains("4 points: 0 done, 0 running elsewhere, 4 to run, 2 at once (1 thread each)"),
        "{out}"
    );
    assert!(out.contains("4 of 4 points completed"), "{out}");
    let runs = runs_per_point(&tmp.path().join("results"));
    assert_eq!(runs.len(), 4, "{runs:?}");
    for (i, (name, rs)) in runs.iter().enumerate() {
        assert_eq!(name, &format!("jb-p{i:03}"));
        assert_eq!(rs.len(), 1, "{name} ran {} times", rs.len());
        let s = rs[0].summary.as_ref().unwrap();
        assert_eq!(s.status, stylelab_core::record::Status::Completed);
        assert_eq!(s.device, "cpu (1 threads)", "each job got its share of the cores");
        assert_eq!(
            s.sweep,
            Some(stylelab_core::record::SweepMember {
                name: "jb".into(),
                point: i,
                points: 4
            })
        );
    }
    let index = std::fs::read_to_string(tmp.path().join("results/jb-sweep/index.csv")).unwrap();
    assert_eq!(
        index.lines().filter(|l| l.contains(",completed,")).count(),
        4,
        "{index}"
    );
    // Nothing left claimed.
    let claims = tmp.path().join("results/jb-sweep/claims");
    let left: Vec<_> = std::fs::read_dir(&claims)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "claims left: {left:?}");
}

#[test]
fn two_sweeps_at_once_run_each_point_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "tw", 4);
    let bin = assert_cmd::cargo::cargo_bin("stylelab");
    let start = || {
        std::process::Command::new(&bin)
            .arg("sweep")
            .arg(&exp)
            .args(["--threads", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let runs = runs_per_point(&tmp.path().join("results"));
    assert_eq!(runs.len(), 4, "{runs:?}");
    for (name, rs) in &runs {
        assert_eq!(rs.len(), 1, "{name} ran {} times", rs.len());
        assert_eq!(rs[0].state, stylelab_core::review::RunState::Completed);
    }
    // Each skipped what the other ran or was running.
    let said = String::from_utf8_lossy(&a.stdout).into_owned() + &String::from_utf8_lossy(&b.stdout);
    assert_eq!(said.matches(" of 4: loss.style_weight").count(), 4, "{said}");
}

/// A claim as another process would have written it.
fn write_claim(sweep_dir: &Path, point: usize, host: &str, pid: u32) {
    let claims = sweep_dir.join("claims");
    std::fs::create_dir_all(&claims).unwrap();
    let text = format!("{{\"host\":\"{host}\",\"pid\":{pid},\"since\":\"2026-11-21T10:00:00+00:00\"}}");
    std::fs::write(claims.join(format!("p{point:03}")), text).unwrap();
}

#[test]
fn dry_run_shows_states_failed_points_are_retried_and_dead_claims_are_free() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "st", 4);
    let results = tmp.path().join("results");
    let sweep_dir = results.join("st-sweep");
    // Point 0 done; point 1 failed (its run says so); point 2 held by a live
    // process of another host; point 3 held by a process of this host that
    // has exited.
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--point", "0"])
        .assert()
        .success();
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--point", "1"])
        .assert()
        .success();
    let p1 = runs_per_point(&results)["st-p001"][0].dir.clone();
    let summary = p1.join("summary.json");
    let text = std::fs::read_to_string(&summary)
        .unwrap()
        .replace("\"status\": \"completed\"", "\"status\": \"failed\"");
    assert!(text.contains("\"failed\""), "{text}");
    std::fs::write(&summary, text).unwrap();
    write_claim(&sweep_dir, 2, "gpu-node-7", 4242);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    write_claim(&sweep_dir, 3, &stylelab_core::procfs::hostname(), dead);

    let dry = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"));
    assert!(
        dry.contains("4 points (grid) over loss.style_weight: 1 done, 1 running, 1 failed, 1 to do"),
        "{dry}"
    );
    assert!(dry.contains("  0    done     loss.style_weight=10  "), "{dry}");
    assert!(
        dry.contains("  1    failed   loss.style_weight=100  failed in ")
            && dry.contains("the next sweep runs it again"),
        "{dry}"
    );
    assert!(
        dry.contains(
            "  2    running  loss.style_weight=1000  on gpu-node-7 (pid 4242) since 2026-11-21T10:00:00+00:00"
        ),
        "{dry}"
    );
    assert!(dry.contains("  3    to do    loss.style_weight=1e4"), "{dry}");

    // The sweep retries 1, leaves 2 to its holder, takes 3 from the dead one.
    let out = common::stdout_of(stylelab().arg("sweep").arg(&exp).args(["--threads", "1"]));
    assert!(
        out.contains("point 2 (loss.style_weight=1000): running on gpu-node-7 (pid 4242)"),
        "{out}"
    );
    assert!(out.contains("3 of 4 points completed"), "{out}");
    let runs = runs_per_point(&results);
    assert_eq!(runs["st-p000"].len(), 1);
    assert_eq!(runs["st-p001"].len(), 2, "the failed point ran again");
    assert_eq!(runs["st-p001"][0].state, stylelab_core::review::RunState::Completed);
    assert!(!runs.contains_key("st-p002"));
    assert_eq!(runs["st-p003"].len(), 1);
    let dry = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"));
    assert!(dry.contains("3 done, 1 running, 0 failed, 0 to do"), "{dry}");
}

#[test]
fn bad_sweep_input_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "bd", 2);
    let results = tmp.path().join("results");
    let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).args(["--jobs", "0"]), 2);
    assert!(err.contains("--jobs") && err.contains("0 is not in 1.."), "{err}");
    let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).args(["--devices", "cpu,gpu3"]), 2);
    assert!(err.contains("--devices: \"gpu3\" is not a device"), "{err}");
    if !tch::Cuda::is_available() {
        let err = common::stderr_of(
            stylelab()
                .arg("sweep")
                .arg(&exp)
                .args(["--jobs", "2", "--devices", "cuda:0,cuda:1"]),
            2,
        );
        assert!(
            err.contains("--devices: cuda:0 was asked for but libtorch sees no CUDA device"),
            "{err}"
        );
    }
    let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).args(["--point", "2"]), 2);
    assert!(err.contains("--point 2: the sweep has points 0..1 (2 in all)"), "{err}");
    assert!(
        !results.exists(),
        "nothing started: {:?}",
        std::fs::read_dir(&results).ok()
    );

    // Another sweep of the same name over other values, into the same folder.
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--point", "0"])
        .assert()
        .success();
    let other = tmp.path().join("other.toml");
    let text = std::fs::read_to_string(&exp).unwrap().replace(
        "\"loss.style_weight\" = [10.0, 100.0]",
        "\"loss.content_weight\" = [1.0, 2.0, 3.0]",
    );
    std::fs::write(&other, text).unwrap();
    for extra in [&[][..], &["--dry-run"][..], &["--jobs", "2"][..], &["--collect"][..]] {
        let err = common::stderr_of(stylelab().arg("sweep").arg(&other).args(extra), 2);
        assert!(
            err.contains("this results folder already holds the sweep \"bd\"")
                && err.contains("loss.style_weight = [10.0, 100.0]")
                && err.contains("loss.content_weight = [1.0, 2.0, 3.0]")
                && err.contains("--set name="),
            "{extra:?}: {err}"
        );
    }
    assert_eq!(runs_per_point(&results).len(), 1, "the other sweep ran nothing");
}

#[test]
fn ctrl_c_stops_every_running_point_and_keeps_its_results() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "cc", 3);
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("iterations = 2", "iterations = 5000");
    std::fs::write(&exp, text).unwrap();
    let results = tmp.path().join("results");
    let sweep = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
        .arg("sweep")
        .arg(&exp)
        .args(["--jobs", "2", "--threads", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both points have taken steps.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while stylelab_core::review::list_runs(&results)
        .iter()
        .filter(|r| r.last.as_ref().is_some_and(|m| m.iter >= 1))
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "the points never started");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // SAFETY: kill(2) on the child this test spawned.
    unsafe { libc::kill(sweep.id() as i32, libc::SIGINT) };
    let out = sweep.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{said}");
    assert!(
        said.contains("stopping: each running point stops after its current step"),
        "{said}"
    );
    let runs = runs_per_point(&results);
    assert_eq!(runs.len(), 2, "the third point never started: {runs:?}");
    for rs in runs.values() {
        assert_eq!(rs[0].state, stylelab_core::review::RunState::Stopped);
        assert!(rs[0].dir.join("final.png").exists());
    }
    let dry = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"));
    assert!(dry.contains("0 done, 0 running, 2 failed, 1 to do"), "{dry}");
}

/// Overrides reach `--jobs` children unchanged, quotes and all (issue 18:
/// `set_args` wrapped strings in quotes without escaping them, so a value
/// holding `"` reached the child changed and its point was never found).
#[test]
fn overrides_with_quotes_and_unicode_reach_the_children_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "q", 2);
    let name = "café \"quoted\" ✓";
    let out = common::stdout_of(
        stylelab()
            .arg("sweep")
            .arg(&exp)
            .args(["--jobs", "2", "--threads", "1", "--set"])
            .arg(format!("name={name}")),
    );
    assert!(out.contains("2 of 2 points completed"), "{out}");
    let runs = runs_per_point(&tmp.path().join("results"));
    let names: Vec<&String> = runs.keys().collect();
    assert_eq!(names, [&format!("{name}-p000"), &format!("{name}-p001")]);
    // And the sweep finds them again: nothing left to do.
    let dry = common::stdout_of(
        stylelab()
            .arg("sweep")
            .arg(&exp)
            .arg("--dry-run")
            .arg("--set")
            .arg(format!("name={name}")),
    );
    assert!(dry.contains("2 done, 0 running, 0 failed, 0 to do"), "{dry}");
}

#[test]
fn check_validates_every_point_of_a_sweep_with_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "chk", 1);
    let text = std::fs::read_to_string(&exp).unwrap();
    let line = text.lines().count();
    for (values, why) in [
        ("\"loss.style_wieght\" = [1e3]", "unknown field 'style_wieght'"),
        (
            "\"loss.style_weight\" = [1e3, \"lots\"]",
            "invalid type: string \"lots\"",
        ),
    ] {
        let bad = text.replace("\"loss.style_weight\" = [10.0]", values);
        std::fs::write(&exp, &bad).unwrap();
        let key = if values.contains("wieght") {
            "loss.style_wieght"
        } else {
            "loss.style_weight"
        };
        let err = common::stderr_of(stylelab().arg("check").arg(&exp), 2);
        assert!(err.contains(&format!("chk.toml:{line}: [sweep] {key}: {why}")), "{err}");
        // The dashboard's Experiments view marks the file invalid.
        let dashboard = stylelab::check::describe(&exp).unwrap_err();
        assert!(dashboard.contains(why), "{dashboard}");
    }
}

/// A two-point sweep on the random network.
fn review_sweep_file(dir: &Path) -> PathBuf {
    let path = common::tiny_experiment(dir, "sw", "");
    let mut text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("iterations = 8", "iterations = 2");
    text += "\n[sweep]\n\"loss.style_weight\" = [10.0, 1000.0]\n";
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_sweep_runs_its_points_resumes_and_collects() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = review_sweep_file(tmp.path());
    let dry = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"));
    assert!(dry.contains("2 points (grid) over loss.style_weight: 0 done"), "{dry}");
    assert!(
        dry.contains("0    to do    loss.style_weight=10") && dry.contains("1    to do    loss.style_weight=1000"),
        "{dry}"
    );
    // One point, as a cluster task would.
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--point", "1"])
        .assert()
        .success();
    let dry = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"));
    assert!(dry.contains("0    to do") && dry.contains("1    done"), "{dry}");
    // The whole sweep skips what is done.
    let out = common::stdout_of(stylelab().arg("sweep").arg(&exp));
    assert!(out.contains("point 1 (loss.style_weight=1000): completed in"), "{out}");
    assert!(out.contains("2 of 2 points completed"), "{out}");
    let sweep_dir = tmp.path().join("results/sw-sweep");
    let index = std::fs::read_to_string(sweep_dir.join("index.csv")).unwrap();
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(
        lines[0],
        "point,run,loss.style_weight,status,total,content,style,tv,content_dist,style_dist,color_dist,ssim"
    );
    assert!(
        lines[1].starts_with("0,") && lines[1].contains("-sw-p000,10.0,completed,"),
        "{index}"
    );
    assert!(
        lines[2].starts_with("1,") && lines[2].contains("-sw-p001,1000.0,completed,"),
        "{index}"
    );
    assert!(image::open(sweep_dir.join("sheet.png")).is_ok());
    // Each point is an ordinary run with its own resolved experiment.
    let run = stylelab_core::review::list_runs(&tmp.path().join("results"))
        .into_iter()
        .find(|r| r.name() == "sw-p001")
        .unwrap();
    let resolved = std::fs::read_to_string(run.dir.join("experiment.toml")).unwrap();
    assert!(
        resolved.contains("style_weight = 1000.0") && !resolved.contains("[sweep]"),
        "{resolved}"
    );
    // --collect rebuilds the index from the runs alone.
    std::fs::remove_file(sweep_dir.join("index.csv")).unwrap();
    let out = common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--collect"));
    assert!(out.contains("2 of 2 points completed"), "{out}");
    assert_eq!(std::fs::read_to_string(sweep_dir.join("index.csv")).unwrap(), index);
}

#[test]
fn a_sweep_emits_a_slurm_job_array() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = review_sweep_file(tmp.path());
    let script = tmp.path().join("job.sbatch");
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--emit", "slurm", "--out"])
        .arg(&script)
        .args(["--set", "images.size=32"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&script).unwrap();
    let results = tmp.path().join("results");
    for want in [
        "#!/bin/bash".to_string(),
        "#SBATCH --array=0-1".into(),
        "#SBATCH --gres=gpu:1".into(),
        "#SBATCH --job-name=stylelab-sw".into(),
        format!("#SBATCH --output=\"{}/sw-sweep/slurm-%A_%a.out\"", results.display()),
        format!(
            "sweep {} --point \"$SLURM_ARRAY_TASK_ID\" --results {} --set images.size=32",
            exp.display(),
            results.display()
        ),
        "stylelab sweep".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    assert!(
        stylelab_core::review::list_runs(&results).is_empty(),
        "emitting runs nothing"
    );
    assert!(
        results.join("sw-sweep/sweep.toml").exists(),
        "but takes the sweep's folder"
    );
}

#[test]
fn sweep_errors_name_the_point() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = review_sweep_file(tmp.path());
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("[10.0, 1000.0]", "[10.0, -1.0]");
    std::fs::write(&exp, text).unwrap();
    let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"), 2);
    assert!(
        err.contains("sweep point 1 (loss.style_weight=-1)") && err.contains("-1 is negative"),
        "{err}"
    );
}

#[test]
fn a_sweep_point_is_done_only_by_a_run_of_its_own_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "sw4", 1);
    stylelab().arg("sweep").arg(&exp).assert().success();
    let dry = |sets: &[&str]| {
        let mut c = stylelab();
        c.arg("sweep").arg(&exp).arg("--dry-run");
        for s in sets {
            c.args(["--set", s]);
        }
        common::stdout_of(&mut c)
    };
    assert!(dry(&[]).contains("1 done"), "{}", dry(&[]));
    let other = dry(&["images.size=48", "loss.content_weight=1000"]);
    assert!(other.contains("0 done, 0 running, 0 failed, 1 to do"), "{other}");
    assert!(other.contains("done with other settings in"), "{other}");
    assert!(
        other.contains("images.size 32 ≠ 48") && other.contains("loss.content_weight 5.0 ≠ 1000.0"),
        "{other}"
    );
    // A plain run of another experiment under the point's name does not count either.
    let tmp2 = tempfile::tempdir().unwrap();
    let plain = common::tiny_experiment(tmp2.path(), "plain", "");
    stylelab()
        .arg("run")
        .arg(&plain)
        .args(["--set", "name=sw4-p000", "--set", "optim.iterations=1", "--results"])
        .arg(tmp.path().join("results"))
        .assert()
        .success();
    assert!(dry(&[]).contains("1 done"), "the point's own run still counts");
    let runs = crate::sweeps::runs_per_point(&tmp.path().join("results"));
    assert_eq!(runs["sw4-p000"].len(), 2);
    // The sweep with other settings runs the point again, saying why.
    let out = common::stdout_of(stylelab().arg("sweep").arg(&exp).args(["--set", "images.size=48"]));
    assert!(
        out.contains("completed with other settings (images.size 32 ≠ 48"),
        "{out}"
    );
    let runs = crate::sweeps::runs_per_point(&tmp.path().join("results"));
    assert_eq!(runs["sw4-p000"].len(), 3);
    // Swept names are refused.
    let text = std::fs::read_to_string(&exp).unwrap() + "\"name\" = [\"a\", \"b\"]\n";
    std::fs::write(&exp, text).unwrap();
    let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"), 2);
    assert!(err.contains("sweep.\"name\": points are named"), "{err}");
}

#[test]
fn a_sweep_says_which_points_another_process_runs_and_what_it_waits_for() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "held", 2);
    let sweep_dir = tmp.path().join("results/held-sweep");
    // This test process holds point 0, as a live sweep would.
    std::fs::create_dir_all(sweep_dir.join("claims")).unwrap();
    let mine = stylelab::sweep::claim::Claim::mine();
    std::fs::write(sweep_dir.join("claims/p000"), serde_json::to_vec(&mine).unwrap()).unwrap();
    let out = common::stdout_of(
        stylelab()
            .arg("sweep")
            .arg(&exp)
            .args(["--jobs", "2", "--threads", "1"]),
    );
    assert!(!out.contains("point 0 completed"), "{out}");
    assert!(out.contains("point 0: running on"), "{out}");
    assert!(out.contains("point 1 completed"), "{out}");
    // A point's child process that finds its point held reports it as
    // skipped, in one JSON line, and says so in its log.
    let child = std::process::Command::new(crate::run_records::bin())
        .arg("sweep")
        .arg(&exp)
        .args(["--point", "0", "--child"])
        .output()
        .unwrap();
    assert!(child.status.success());
    let report: serde_json::Value = serde_json::from_slice(&child.stdout).unwrap();
    assert_eq!(report["event"], "skipped");
    assert_eq!(report["done"], false);
    assert!(report["why"].as_str().unwrap().starts_with("running on"), "{report}");
    assert!(String::from_utf8_lossy(&child.stderr).contains("point 0 (loss.style_weight=10): running on"));
    // Each point's log holds its progress.
    let log = std::fs::read_to_string(sweep_dir.join("logs/p001.log")).unwrap();
    assert!(log.contains("held-p001: completed after 2 of 2 steps"), "{log}");
    // A lock that is never let go: the sweep says so and gives up.
    let lock = std::fs::File::create(sweep_dir.join("claims/.lock")).unwrap();
    lock.lock().unwrap();
    std::fs::remove_file(sweep_dir.join("claims/p000")).unwrap();
    let err = common::stderr_of(stylelab().env("STYLELAB_LOCK_TIMEOUT", "2").arg("sweep").arg(&exp), 1);
    assert!(err.contains("waiting for the lock on"), "{err}");
    assert!(err.contains("gave up after 2 s waiting for the lock"), "{err}");
}

#[test]
fn a_sweep_too_large_for_memory_names_sweep_force_and_makes_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "huge", 2);
    let err = common::stderr_of(
        stylelab().arg("sweep").arg(&exp).args([
            "--set",
            "images.size=8192",
            "--set",
            "optim.history=1000",
            "--set",
            "optim.iterations=1000",
        ]),
        2,
    );
    assert!(err.contains("`sweep --force` to try anyway"), "{err}");
    assert!(!tmp.path().join("results/huge-sweep").exists());
}

#[test]
fn run_on_a_sweep_file_says_it_runs_the_base_experiment_only() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "base", 3);
    let err = String::from_utf8(
        stylelab()
            .arg("run")
            .arg(&exp)
            .assert()
            .success()
            .get_output()
            .stderr
            .clone(),
    )
    .unwrap();
    assert!(
        err.contains("has a [sweep] table (3 points): `run` runs its base experiment only"),
        "{err}"
    );
    assert!(err.contains("stylelab sweep"), "{err}");
}

#[test]
fn a_sweep_over_region_weights_and_losses_is_listed_and_compared_by_them() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate::style_statistics::regions_experiment(
        tmp.path(),
        "size = 48",
        "[sweep]\nmode = \"zip\"\n\"regions.right.style_weight\" = [0.5, 4.0]\n\"loss.style_loss\" = [\"gram\", \"histogram\"]",
    );
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--set", "optim.iterations=2"])
        .assert()
        .success();
    let results = tmp.path().join("results");
    let out = common::stdout_of(stylelab().arg("runs").arg("--wide").arg("--results").arg(&results));
    assert!(out.contains("loss.style_loss"), "{out}");
    assert!(out.contains("regions.right.style_weight"), "{out}");
    assert!(out.contains("histogram"), "{out}");
    let out = common::stdout_of(
        stylelab()
            .args(["compare", "regions-p000", "regions-p001", "--results"])
            .arg(&results),
    );
    assert!(out.contains("style_loss=gram"), "{out}");
    assert!(out.contains("style_loss=histogram"), "{out}");
}

#[test]
fn a_sweep_run_again_with_other_settings_shows_its_two_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "sets", 2);
    common::stdout_of(stylelab().arg("sweep").arg(&exp));
    common::stdout_of(stylelab().arg("sweep").arg(&exp).args(["--set", "optim.iterations=3"]));
    let results = tmp.path().join("results");
    let runs = stylelab_core::review::list_runs(&results);
    assert_eq!(runs.len(), 4, "each point ran under both settings");
    let values = stylelab_core::review::sweeps::point_values(&results, &runs);
    assert_eq!(values.settings.get("sets"), Some(&2), "{values:?}");
    // Each run's values name its swept key and the key that tells the sets apart.
    for r in &runs {
        let text = &values.by_run[&r.dir];
        assert!(text.contains("style_weight=") && text.contains("iterations="), "{text}");
    }
    let texts: std::collections::BTreeSet<&String> = values.by_run.values().collect();
    assert_eq!(texts.len(), 4, "four runs read four ways: {texts:?}");
    // The dashboard's sweep row says so.
    let mut app = stylelab::ui::state::App::new(false);
    stylelab::ui::state::update(&mut app, stylelab::ui::state::Msg::Runs(runs));
    stylelab::ui::state::update(&mut app, stylelab::ui::state::Msg::SweepValues(values));
    app.tab = stylelab::ui::tab::Tab::Runs;
    let backend = ratatui::backend::TestBackend::new(120, 30);
    let mut terminal = ratatui::Terminal::new(backend).unwrap();
    terminal.draw(|f| stylelab::ui::view::view(&app, f)).unwrap();
    let screen = format!("{:?}", terminal.backend().buffer());
    assert!(screen.contains("2 done") && screen.contains("× 2 settings"), "{screen}");
}
