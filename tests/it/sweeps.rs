//! Sweeps at scale: `--jobs` on the CPU, claims (two sweeps at once run
//! each point once; a dead holder's claim is free; a failed point is
//! retried), `--dry-run`'s states, bad input. The real Slurm cluster is in
//! `slurm.rs`.

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
    assert!(dry.contains("  0    done     loss.style_weight=10.0  "), "{dry}");
    assert!(
        dry.contains("  1    failed   loss.style_weight=100.0  failed in ")
            && dry.contains("the next sweep runs it again"),
        "{dry}"
    );
    assert!(
        dry.contains(
            "  2    running  loss.style_weight=1000.0  on gpu-node-7 (pid 4242) since 2026-11-21T10:00:00+00:00"
        ),
        "{dry}"
    );
    assert!(dry.contains("  3    to do    loss.style_weight=10000.0"), "{dry}");

    // The sweep retries 1, leaves 2 to its holder, takes 3 from the dead one.
    let out = common::stdout_of(stylelab().arg("sweep").arg(&exp).args(["--threads", "1"]));
    assert!(
        out.contains("point 2 (loss.style_weight=1000.0): running on gpu-node-7 (pid 4242)"),
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
