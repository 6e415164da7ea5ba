//! stylelab tells the truth about every run (issue 15): the same result
//! however the experiment file is named; no "completed" for a run whose
//! writes failed; the final image is the last good step; records that
//! agree; one line for libtorch's errors; `check` judges what the run
//! would fail on; a sweep point is done only by a run of its own settings;
//! no hang on a FIFO, a huge `--threads` or a held lock; escapes defanged;
//! quiet on a closed pipe.

use crate::common;

use assert_cmd::Command;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stylelab_core::record::{self, Status};

fn stylelab() -> Command {
    let mut c = Command::cargo_bin("stylelab").unwrap();
    c.env("NO_COLOR", "1").timeout(Duration::from_secs(300));
    c
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("stylelab")
}

/// Every file under `dir` whose name ends in `.tmp`.
fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(tmp_files(&p));
        } else if p.to_string_lossy().ends_with(".tmp") {
            out.push(p);
        }
    }
    out
}

/// An experiment with relative paths only (images and weights copied
/// beside it), in `dir`, so that its name can be given in every form.
fn relative_experiment(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    std::fs::copy(common::example("chelsea.png"), dir.join("img/content.png")).unwrap();
    std::fs::copy(common::example("starry_night.jpg"), dir.join("img/style.jpg")).unwrap();
    std::fs::copy(common::random_weights(), dir.join("vgg.safetensors")).unwrap();
    let text = r#"[images]
content = "img/content.png"
style = ["img/style.jpg"]
size = 32
[model]
weights = "vgg.safetensors"
[loss]
content_layers = { relu4_2 = 1.0 }
style_layers = { relu1_1 = 1.0, relu2_1 = 1.0 }
[optim]
iterations = 2
[output]
snapshot_every = 0
score = false
"#;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_form_of_an_experiments_name_gives_the_same_results_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = tmp.path().join("proj");
    let file = relative_experiment(&proj, "my");
    // Bare name, ./name, dir/name, absolute: each from where it makes sense.
    let forms: [(&Path, String); 4] = [
        (&proj, "my.toml".into()),
        (&proj, "./my.toml".into()),
        (tmp.path(), "proj/my.toml".into()),
        (Path::new("/"), file.display().to_string()),
    ];
    for (cwd, arg) in &forms {
        stylelab().current_dir(cwd).args(["check", arg]).assert().success();
        stylelab().current_dir(cwd).args(["run", arg]).assert().success();
    }
    let runs: Vec<_> = std::fs::read_dir(proj.join("results")).unwrap().collect();
    assert_eq!(runs.len(), forms.len(), "every run in proj/results");
    // A sweep: its dry runs agree, and its values' paths resolve against the file.
    let sweep_text = std::fs::read_to_string(&file).unwrap()
        + "\n[sweep]\n\"images.content\" = [\"img/content.png\", \"img/style.jpg\"]\n";
    std::fs::write(proj.join("sw.toml"), sweep_text).unwrap();
    stylelab()
        .current_dir(tmp.path())
        .args(["sweep", "proj/sw.toml"])
        .assert()
        .success();
    let dry = |cwd: &Path, arg: &str| common::stdout_of(stylelab().current_dir(cwd).args(["sweep", arg, "--dry-run"]));
    let bare = dry(&proj, "sw.toml");
    assert!(bare.contains("2 done, 0 running, 0 failed, 0 to do"), "{bare}");
    let after_name = |s: &str| s.split_once(": ").map(|(_, rest)| rest.to_string()).unwrap();
    assert_eq!(after_name(&bare), after_name(&dry(&proj, "./sw.toml")));
    for r in stylelab_core::review::list_runs(&proj.join("results"))
        .iter()
        .filter(|r| r.name().starts_with("sw-"))
    {
        let exp = stylelab_core::config::load(&r.dir.join("experiment.toml"), &[]).unwrap();
        assert!(exp.content.starts_with(proj.join("img")), "{}", exp.content.display());
    }
}

/// A tmpfs of `kib` KiB at a new folder under `dir`, unmounted on drop;
/// None (saying why) where this process may not mount, which CI must allow.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: u32) -> Tmpfs {
        let at = dir.join("small-disk");
        std::fs::create_dir_all(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "this test mounts a tmpfs: it needs root");
        Tmpfs(at)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root to mount a small tmpfs (CI runs as root; make test runs ignored tests)"]
fn a_disk_that_fills_ends_the_run_failed_with_the_reason_and_no_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(tmp.path(), 600);
    let exp = common::tiny_experiment(tmp.path(), "full", "");
    let out = stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--results"])
        .arg(&disk.0)
        .args(["--set", "optim.iterations=400", "--set", "output.snapshot_every=1"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("completed"), "{stdout}");
    assert!(stdout.contains("full: failed after"), "{stdout}");
    assert!(stdout.contains("No space left on device"), "{stdout}");
    let runs: Vec<PathBuf> = std::fs::read_dir(&disk.0).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1);
    let s = record::read_summary(&runs[0]).unwrap();
    assert_eq!(s.status, Status::Failed);
    assert!(
        s.error.as_deref().unwrap().contains("No space left on device"),
        "{:?}",
        s.error
    );
    assert!(s.steps < 400);
    assert_eq!(tmp_files(&runs[0]), Vec::<PathBuf>::new());
    assert!(!runs[0].join(".reserve").exists(), "the room set aside is given back");
    let events = std::fs::read_to_string(runs[0].join("events.log")).unwrap();
    assert!(events.contains("failed after"), "{events}");
}

#[test]
#[ignore = "needs root to mount a small tmpfs (CI runs as root; make test runs ignored tests)"]
fn a_full_disk_at_the_start_leaves_no_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(tmp.path(), 32);
    let exp = common::tiny_experiment(tmp.path(), "nospace", "");
    let err = common::stderr_of(stylelab().arg("run").arg(&exp).arg("--results").arg(&disk.0), 1);
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(std::fs::read_dir(&disk.0).unwrap().count(), 0, "no run folder left");
}

#[test]
fn a_run_whose_folder_is_removed_says_so_and_prints_its_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "gone", "");
    let child = std::process::Command::new(bin())
        .arg("run")
        .arg(&exp)
        .args(["--set", "optim.iterations=100000", "--set", "output.snapshot_every=0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results = tmp.path().join("results");
    let started = Instant::now();
    let dir = loop {
        let dir = std::fs::read_dir(&results)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path());
        if let Some(d) =
            dir.filter(|d| std::fs::read_to_string(d.join("metrics.csv")).is_ok_and(|t| t.lines().count() > 3))
        {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::fs::remove_dir_all(&dir).unwrap();
    // The run cannot write its final image into a folder that is gone.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("gone: failed after"), "{stdout}");
    assert!(!stdout.contains("completed") && !stdout.contains("stopped"), "{stdout}");
    assert!(stderr.contains("the run's summary could not be written"), "{stderr}");
    assert!(stderr.contains("\"status\": \"failed\""), "{stderr}");
}

/// A command whose address space is capped at `gib` GiB: large enough to
/// load libtorch (about 3 GiB of mappings), too small for a 4096 px run.
fn capped(cmd: &mut std::process::Command, gib: u64) -> &mut std::process::Command {
    // SAFETY: setrlimit(2) in the child between fork and exec touches no
    // memory of the parent's.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: gib << 30,
                rlim_max: gib << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

#[test]
fn out_of_memory_mid_run_keeps_the_last_good_step_and_says_it_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "oom", "");
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("run").arg(&exp).args([
        "--force",
        "--set",
        "images.size=[64, 4096]",
        "--set",
        "optim.iterations=[10, 2]",
        "--set",
        "output.snapshot_every=10",
    ]);
    let out = capped(&mut cmd, 5).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("frame #") && !text.contains("Exception raised"),
            "{text}"
        );
    }
    let dir = common::only_run(tmp.path());
    let s = record::read_summary(&dir).unwrap();
    assert_eq!(s.status, Status::Failed);
    let error = s.error.unwrap();
    assert!(error.starts_with("out of memory ("), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
    let events = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(!events.contains("frame #"), "{events}");
    let debug = std::fs::read_to_string(dir.join("debug.log")).unwrap();
    assert!(
        debug.lines().count() > 1,
        "the whole text is kept for debugging: {debug}"
    );
    // The result is the 10th step at 64 px, not the starting image.
    assert_eq!(s.steps, 10);
    assert_eq!((s.width, s.height), (64, 43));
    let (_, rows, _) = record::read_metrics(&dir).unwrap();
    assert_eq!(rows.last().map(|r| (r.iter, r.width)), Some((10, 64)));
    assert_eq!(
        std::fs::read(dir.join("final.png")).unwrap(),
        std::fs::read(dir.join("snapshots/iter_000010.png")).unwrap()
    );
    assert!(stdout.contains("final.png: the last finite image"), "{stdout}");
}

/// Sets the stop flag when the engine reports step `at`.
struct StopAt {
    at: u64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl stylelab_core::sinks::Sink for StopAt {
    fn handle(&mut self, event: &stylelab_core::events::RunEvent) -> anyhow::Result<()> {
        if let stylelab_core::events::RunEvent::Step(row) = event
            && row.iter == self.at
        {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

#[test]
fn a_stop_at_a_scale_change_leaves_records_that_agree() {
    use stylelab_core::sinks::{RunDirSink, Tee, create_run_dir};
    let tmp = tempfile::tempdir().unwrap();
    let path = common::tiny_experiment(tmp.path(), "edge", "");
    let sets = [
        "images.size=[64, 96]",
        "optim.iterations=[3, 3]",
        "output.snapshot_every=0",
    ]
    .map(|s| stylelab_core::config::Override::parse(s).unwrap());
    let exp = stylelab_core::config::load(&path, &sets).unwrap();
    let paths = create_run_dir(&exp).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The stop comes with the last row of the first scale: the engine moves
    // to 96 px and then obeys it, before any step there.
    let mut at = StopAt {
        at: 3,
        stop: stop.clone(),
    };
    let mut dir_sink = RunDirSink::new(paths.clone());
    let mut tee = Tee::new().with(&mut dir_sink).with(&mut at);
    let ctx = stylelab_engine::RunContext {
        exp: &exp,
        dir: &paths.dir,
        weights_sha256: String::new(),
        sweep: None,
    };
    let mut controls = stylelab_core::events::Controls::with_flag(stop);
    let summary = stylelab_engine::run(&ctx, tch::Device::Cpu, &mut tee, &mut controls);
    assert_eq!(summary.status, Status::Stopped);
    let (_, rows, _) = record::read_metrics(&paths.dir).unwrap();
    let last = rows.last().unwrap();
    assert_eq!((last.iter, last.width, last.height), (3, 64, 43));
    let s = record::read_summary(&paths.dir).unwrap();
    assert_eq!((s.steps, s.width, s.height), (3, 64, 43));
    // The same step's total; on the 2-core AMD EPYC (AVX-512) of 2026-12-02
    // the two records differed in the last bit (26065.2047676112 against
    // 26065.204767611198), so they are compared to 1e-12 of the value.
    let total = s.final_losses.unwrap().total;
    assert!(
        (total - last.total).abs() <= 1e-12 * last.total.abs(),
        "{total} vs {}",
        last.total
    );
    let img = image::open(paths.final_image()).unwrap();
    assert_eq!((img.width(), img.height()), (64, 43));
}

#[test]
fn check_refuses_what_the_run_would_fail_on() {
    let tmp = tempfile::tempdir().unwrap();
    let thin = tmp.path().join("thin.png");
    image::RgbImage::from_pixel(2000, 1, image::Rgb([90, 120, 200]))
        .save(&thin)
        .unwrap();
    let exp = common::tiny_experiment(tmp.path(), "thin", "");
    for cmd in ["check", "run"] {
        let err = common::stderr_of(
            stylelab()
                .arg(cmd)
                .arg(&exp)
                .arg("--set")
                .arg(format!("images.content={}", thin.display())),
            2,
        );
        assert!(err.contains("images.size"), "{err}");
        assert!(
            err.contains("at 64 px the generated image is 64×1, relu5_1 comes after 4 pooling(s) and needs a side of at least 16 px"),
            "{err}"
        );
    }
    assert!(!tmp.path().join("results").exists(), "no folder");
    // A name too long for a folder, and one with a control character.
    let long = "n".repeat(300);
    let err = common::stderr_of(
        stylelab()
            .arg("check")
            .arg(&exp)
            .arg("--set")
            .arg(format!("name={long}")),
        2,
    );
    assert!(
        err.contains("--set name: it is 300 characters long; use at most 200"),
        "{err}"
    );
    let err = common::stderr_of(
        stylelab()
            .arg("run")
            .arg(&exp)
            .args(["--set", "name=evil\u{1b}]0;pwned\u{7}\u{1b}[31mRED"]),
        2,
    );
    assert!(
        err.contains("holds a control character (\\u{1b}) at position 5"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "the message itself carries no escape: {err:?}");
    // A results folder that is a link to nowhere.
    let link = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("nowhere/at/all"), &link).unwrap();
    let err = common::stderr_of(stylelab().arg("check").arg(&exp).arg("--results").arg(&link), 2);
    assert!(
        err.contains("is a symbolic link to") && err.contains("which does not exist"),
        "{err}"
    );
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe.png");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let exp = common::tiny_experiment(tmp.path(), "fifo", "");
    for (cmd, key) in [("check", "images.content"), ("run", "images.init")] {
        let err = common::stderr_of(
            stylelab()
                .timeout(Duration::from_secs(30))
                .arg(cmd)
                .arg(&exp)
                .arg("--set")
                .arg(format!("{key}={}", fifo.display())),
            2,
        );
        assert!(err.contains("it is a FIFO (named pipe), not a regular file"), "{err}");
    }
}

#[test]
fn threads_and_jobs_beyond_the_machine_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate::sweeps::sweep_file(tmp.path(), "many", 2);
    for args in [["--threads", "99999"], ["--jobs", "99999"]] {
        let err = common::stderr_of(
            stylelab()
                .timeout(Duration::from_secs(30))
                .arg("sweep")
                .arg(&exp)
                .args(args),
            2,
        );
        assert!(
            err.contains(&format!("{} 99999: this machine gives this process", args[0])),
            "{err}"
        );
    }
    assert!(!tmp.path().join("results").exists());
}

#[test]
fn steering_that_would_overflow_is_refused_and_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "steer", "");
    let child = std::process::Command::new(bin())
        .arg("run")
        .arg(&exp)
        .args(["--set", "optim.iterations=60", "--set", "loss.style_weight=1e-300"])
        // From noise the content term has work to do for every step.
        .args(["--set", "images.init=\"noise\""])
        .args(["--set", "output.snapshot_every=0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results = tmp.path().join("results");
    let started = Instant::now();
    let dir = loop {
        if let Some(d) = std::fs::read_dir(&results).ok().and_then(|mut d| d.next()) {
            break d.unwrap().path();
        }
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    };
    std::fs::write(
        dir.join("control"),
        "scale style_weight 1e-6\nscale style_weight 1e-6\nscale style_weight 1e-320\n",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let events = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(events.contains("style_weight 1e-300 -> 1e-306"), "{events}");
    assert!(
        events.contains("refused: multiply style_weight by 0.000001: the weight would become 1e-312"),
        "{events}"
    );
    assert_eq!(
        events.matches("refused").count(),
        1,
        "1e-320 is no factor: ignored: {events}"
    );
}

#[test]
fn text_from_a_run_folder_reaches_the_terminal_defanged() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let run = results.join("20260101-100000-evil");
    std::fs::create_dir_all(&run).unwrap();
    let fixture = common::root().join("tests/fixtures/results/20260101-100000-style-low");
    for f in ["experiment.toml", "metrics.csv"] {
        std::fs::copy(fixture.join(f), run.join(f)).unwrap();
    }
    let summary = std::fs::read_to_string(fixture.join("summary.json")).unwrap().replacen(
        "\"name\": \"style-low\"",
        "\"name\": \"evil\\u001b]0;pwned\\u0007\\u001b[31mRED\\nrow\"",
        1,
    );
    assert!(summary.contains("pwned"));
    std::fs::write(run.join("summary.json"), summary).unwrap();
    let out = common::stdout_of(stylelab().arg("runs").arg("--results").arg(&results));
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(out.contains("evil\\u{1b}]0;pwned"), "{out}");
    assert_eq!(out.lines().count(), 2, "one header and one row: {out}");
}

#[test]
fn a_reader_that_goes_away_ends_a_report_quietly() {
    let results = common::root().join("tests/fixtures/results");
    // On the random weights: a fresh clone has no weights/ of its own.
    let tmp = tempfile::tempdir().unwrap();
    let experiment = common::tiny_experiment(tmp.path(), "pipe", "");
    let commands: [&[&str]; 6] = [
        &["compare", "style-low", "style-high"],
        &["runs"],
        &["runs", "--format", "csv"],
        &["runs", "--format", "json"],
        &["show", "style-high"],
        &["check", "--json"],
    ];
    for args in commands {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args);
        if args[0] == "check" {
            cmd.arg(&experiment);
        } else {
            cmd.arg("--results").arg(&results);
        }
        // Read one byte, then go away, as `| head -c1` does.
        let (read, out) = common::read_one_byte_and_close(&mut cmd);
        assert!(read, "{args:?} wrote nothing: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn show_and_score_say_when_a_run_has_no_final_image_and_score_warns_of_changed_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let run = results.join("20260101-100000-died");
    std::fs::create_dir_all(&run).unwrap();
    let fixture = common::root().join("tests/fixtures/results/20260101-120000-cut-csv");
    for f in ["experiment.toml", "metrics.csv", "summary.json"] {
        std::fs::copy(fixture.join(f), run.join(f)).unwrap();
    }
    for cmd in ["show", "score"] {
        let err = common::stderr_of(stylelab().args([cmd, "died", "--results"]).arg(&results), 2);
        assert!(
            err.contains("has no final image: its process died at step"),
            "{cmd}: {err}"
        );
    }
    let sheet = tmp.path().join("sheet.png");
    let out = common::stdout_of(
        stylelab()
            .args(["sheet", "died", "--results"])
            .arg(&results)
            .arg("--out")
            .arg(&sheet),
    );
    assert!(out.contains("no final image, marked as such: cut-csv (died)"), "{out}");
    // A run whose weights file changed after it ran.
    let exp = common::tiny_experiment(tmp.path(), "changed", "");
    let weights = tmp.path().join("w.safetensors");
    std::fs::copy(common::random_weights(), &weights).unwrap();
    stylelab()
        .arg("run")
        .arg(&exp)
        .arg("--set")
        .arg(format!("model.weights={}", weights.display()))
        .args(["--set", "optim.iterations=1"])
        .assert()
        .success();
    common::random_weights_upto(tmp.path(), "w.safetensors", "relu5_1");
    let err = String::from_utf8(
        stylelab()
            .args(["score", "changed", "--size", "32", "--results"])
            .arg(&results)
            .assert()
            .success()
            .get_output()
            .stderr
            .clone(),
    )
    .unwrap();
    assert!(
        err.contains("now has sha256") && err.contains("the file changed since"),
        "{err}"
    );
}

/// A run's step-0 loss with `init` set to `image` (one step): the loss
/// of that image as saved.
fn loss_of_saved_image(dir: &std::path::Path, image: &std::path::Path, bounds: &str) -> f64 {
    let tmp = tempfile::tempdir_in(dir).unwrap();
    let init = format!("init = {}", common::toml_path(image));
    let (run, _) = strong_style_run(tmp.path(), &init, 1, bounds);
    let (_, rows, _) = record::read_metrics(&run).unwrap();
    rows[0].total
}

/// The tiny experiment (`images_extra` added to `[images]`) for `steps`
/// steps with a strong style, which pulls the image out of [0, 1] within
/// a few: its run folder and what it printed.
fn strong_style_run(dir: &std::path::Path, images_extra: &str, steps: u32, bounds: &str) -> (PathBuf, String) {
    let exp = common::tiny_experiment(dir, "clamped", images_extra);
    let out = stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", "loss.style_weight=1e7"])
        .args(["--set", &format!("optim.iterations={steps}")])
        .args(["--set", &format!("optim.bounds=\"{bounds}\"")])
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    (common::only_run(dir), printed)
}

/// With `optim.bounds = "none"` the optimised image strays outside [0, 1]
/// and final.png clamps it: the summary records the share clamped and the
/// console says so, every clamped value is a 0 or a 255 in final.png, and
/// the saved image's loss is not the one the run reported.
#[test]
fn the_share_of_the_image_that_saving_clamps_is_recorded_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, printed) = strong_style_run(tmp.path(), "", 20, "none");
    let summary = record::read_summary(&dir).unwrap();
    let share = summary
        .clipped
        .expect("a run that kept an image records its clipped share");
    assert!(share > 0.0 && share < 1.0, "{share}");
    let said = format!(
        "final.png clamps {:.2} % of the image's values to [0, 1]",
        100.0 * share
    );
    assert!(printed.contains(&said), "{said:?} not in {printed}");
    let final_png = record::RunPaths::new(&dir).final_image();
    let img = image::open(&final_png).unwrap().to_rgb8();
    let at_ends = img.as_raw().iter().filter(|&&v| v == 0 || v == 255).count();
    assert!(
        at_ends as f64 >= share * img.as_raw().len() as f64,
        "{at_ends} values at 0 or 255 for a clipped share of {share}"
    );
    let reported = summary.final_losses.unwrap().total;
    let saved = loss_of_saved_image(tmp.path(), &final_png, "none");
    assert!(saved > reported * 1.1, "saved {saved:e}, reported {reported:e}");
}

/// Kept in [0, 1] (`optim.bounds = "box"`, the default: L-BFGS projects
/// its steps; `"pull"`: by the pull back alone, as before), the loss a
/// run reports is its saved image's: a run that starts from final.png
/// finds the same loss, up to the 8-bit rounding of saving; nothing is
/// said to be clamped.
#[test]
fn kept_in_range_the_reported_loss_is_the_saved_images() {
    for bounds in ["box", "pull"] {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, printed) = strong_style_run(tmp.path(), "", 20, bounds);
        let summary = record::read_summary(&dir).unwrap();
        assert_eq!(summary.clipped, None, "{bounds}");
        assert!(!printed.contains("clamps"), "{bounds}: {printed}");
        let experiment = std::fs::read_to_string(dir.join("experiment.toml")).unwrap();
        assert!(experiment.contains(&format!("bounds = \"{bounds}\"")), "{experiment}");
        let reported = summary.final_losses.unwrap().total;
        let saved = loss_of_saved_image(tmp.path(), &record::RunPaths::new(&dir).final_image(), bounds);
        assert!(
            (saved - reported).abs() <= 0.02 * reported,
            "{bounds}: saved {saved:e}, reported {reported:e}"
        );
    }
}
