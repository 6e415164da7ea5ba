//! The dashboard driven as a person would, through tmux: open it, launch a
//! tiny experiment (64 px, random VGG19), watch the chart and progress
//! move, stop it, quit, and check the run folder and the terminal.
//! Needs tmux (`make test` installs it).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use stylelab_core::record::{self, Status};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("stylelab-test-{name}-{}", std::process::id()),
        };
        let ok = t
            .cmd(&["new-session", "-d", "-s", "s", "-x", "120", "-y", "40", command])
            .status
            .success();
        assert!(ok, "tmux could not start (is it installed?)");
        t
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "s"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend(keys);
        self.cmd(&args);
    }

    fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["display-message", "-p", "-t", "s", format]).stdout)
            .trim()
            .to_string()
    }

    /// Waits until the screen satisfies `pred`; returns that screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

/// Stops every run under `results` when dropped, so that a failing test
/// leaves no detached run behind.
struct StopRuns(PathBuf);

impl Drop for StopRuns {
    fn drop(&mut self) {
        for run in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = stylelab_core::events::send_control(&run.path(), stylelab_core::events::Control::Stop);
        }
    }
}

/// A project folder with one long experiment on the random network.
fn project(dir: &Path) -> PathBuf {
    let exps = dir.join("experiments");
    std::fs::create_dir_all(&exps).unwrap();
    let path = common::tiny_experiment(&exps, "tiny", "");
    let text = std::fs::read_to_string(&path).unwrap();
    let results = dir.join("results");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("results = ") {
                format!("results = \"{}\"", results.display())
            } else {
                l.to_string()
            }
        })
        .map(|l| {
            if l.starts_with("iterations = ") {
                "iterations = 100000".to_string()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, text).unwrap();
    results
}

/// The step count shown as `N/100000`.
fn step_on(screen: &str) -> Option<u64> {
    let i = screen.find("/100000")?;
    screen[..i].rsplit(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn dashboard(dir: &Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("stylelab");
    format!("{} tui {}; echo EXITED:$?; sleep 120", bin.display(), dir.display())
}

fn the_run(results: &Path) -> PathBuf {
    let runs: Vec<_> = std::fs::read_dir(results).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[test]
#[ignore = "needs tmux (make test installs it and runs ignored tests)"]
fn launch_watch_stop_and_quit_through_tmux() {
    let tmp = tempfile::tempdir().unwrap();
    let results = project(tmp.path());
    let _cleanup = StopRuns(results.clone());
    let t = Tmux::start("main", &dashboard(tmp.path()));
    t.wait_for("the experiment list", |s| {
        s.contains("✓ tiny.toml") && s.contains("Enter: launch it")
    });
    assert_eq!(t.display("#{alternate_on}"), "1");
    t.keys(&["Enter"]);
    let first = t.wait_for("the run to make progress", |s| {
        step_on(s).is_some_and(|n| n >= 2) && s.contains("running")
    });
    let first_step = step_on(&first).unwrap();
    assert!(
        first.contains("log10 losses") && first.contains("1e"),
        "no chart:\n{first}"
    );
    t.wait_for("more progress", |s| step_on(s).is_some_and(|n| n > first_step + 2));
    t.wait_for("a snapshot", |s| s.contains('▀'));
    // `v` shows the image on the alternate screen, and a key comes back to
    // the dashboard: the shell's screen never sees it (checked at the end).
    t.keys(&["v"]);
    t.wait_for("the full-screen image", |s| s.contains("press any key to return"));
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the image is drawn on the shell's screen"
    );
    t.keys(&["x"]);
    t.wait_for("the dashboard again", |s| {
        s.contains("stylelab    1 Experiments") && !s.contains("press any key")
    });
    t.keys(&["s"]);
    t.wait_for("the run to stop", |s| s.contains(" stopped"));
    t.keys(&["q"]);
    let end = t.wait_for("the dashboard to exit", |s| s.contains("EXITED:0"));
    assert!(
        !end.contains("stylelab    1 Experiments"),
        "the dashboard is still drawn:\n{end}"
    );
    assert!(
        !end.contains("press any key to return"),
        "the full-screen image was drawn on the shell's screen:\n{end}"
    );
    assert_eq!(
        t.display("#{alternate_on} #{cursor_flag}"),
        "0 1",
        "terminal not restored"
    );
    let run = the_run(&results);
    let s = record::read_summary(&run).unwrap();
    assert_eq!(s.status, Status::Stopped);
    let (_, rows, note) = record::read_metrics(&run).unwrap();
    assert_eq!(note, None);
    assert_eq!(rows.len() as u64, s.steps + 1);
    assert!(run.join("final.png").exists());
}

#[test]
#[ignore = "needs tmux (make test installs it and runs ignored tests)"]
fn quitting_asks_and_sigterm_restores_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let results = project(tmp.path());
    let _cleanup = StopRuns(results.clone());
    let t = Tmux::start("prompt", &dashboard(tmp.path()));
    t.wait_for("the experiment list", |s| s.contains("✓ tiny.toml"));
    t.keys(&["Enter"]);
    t.wait_for("the run to start", |s| step_on(s).is_some_and(|n| n >= 1));
    // q while a run started here is going: a question, not an exit.
    t.keys(&["q"]);
    t.wait_for("the quit prompt", |s| {
        s.contains("still going") && s.contains("leave them running detached")
    });
    t.keys(&["Escape"]);
    t.wait_for("the prompt to close", |s| !s.contains("still going"));
    // SIGTERM to the dashboard: terminal restored, the run carries on.
    let shell = t.display("#{pane_pid}");
    let pgrep = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
    let pid = String::from_utf8_lossy(&pgrep.stdout)
        .lines()
        .next()
        .expect("the dashboard's pid")
        .trim()
        .to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    t.wait_for("the dashboard to exit", |s| s.contains("EXITED:"));
    assert_eq!(
        t.display("#{alternate_on} #{cursor_flag}"),
        "0 1",
        "terminal not restored"
    );
    let run = the_run(&results);
    let steps_then = record::read_metrics(&run).unwrap().1.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while record::read_metrics(&run).unwrap().1.len() <= steps_then {
        assert!(Instant::now() < deadline, "the detached run stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Re-attach the way a user would after an SSH drop: its control file.
    stylelab_core::events::send_control(&run, stylelab_core::events::Control::Stop).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while record::read_summary(&run).unwrap().status == Status::Running {
        assert!(Instant::now() < deadline, "the run ignored stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(record::read_summary(&run).unwrap().status, Status::Stopped);
}

#[test]
#[ignore = "needs tmux (make test installs it and runs ignored tests)"]
fn a_hang_up_ends_the_dashboard_and_not_its_run() {
    let tmp = tempfile::tempdir().unwrap();
    let results = project(tmp.path());
    let _cleanup = StopRuns(results.clone());
    let bin = assert_cmd::cargo::cargo_bin("stylelab");
    // The dashboard is the pane's own process, as with `ssh -t host stylelab`.
    let t = Tmux::start("hup", &format!("exec {} tui {}", bin.display(), tmp.path().display()));
    t.wait_for("the experiment list", |s| s.contains("✓ tiny.toml"));
    let pid = t.display("#{pane_pid}");
    t.keys(&["Enter"]);
    t.wait_for("the run to start", |s| step_on(s).is_some_and(|n| n >= 1));
    // The terminal goes away, as when an SSH session drops.
    t.cmd(&["kill-server"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "the dashboard outlived its terminal");
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = the_run(&results);
    let before = record::read_metrics(&run).unwrap().1.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while record::read_metrics(&run).unwrap().1.len() <= before {
        assert!(Instant::now() < deadline, "the run died with the dashboard");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs tmux (make test installs it and runs ignored tests)"]
fn editing_an_experiment_revalidates_it() {
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path());
    // An "editor" that adds a table stylelab does not know.
    let editor = tmp.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf '\\n[extras]\\nx = 1\\n' >> \"$1\"\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("stylelab");
    let t = Tmux::start(
        "edit",
        &format!(
            "EDITOR={} {} tui {}; echo EXITED:$?; sleep 60",
            editor.display(),
            bin.display(),
            tmp.path().display()
        ),
    );
    t.wait_for("the experiment list", |s| s.contains("✓ tiny.toml"));
    t.keys(&["e"]);
    let s = t.wait_for("the new error", |s| s.contains("✗ tiny.toml"));
    assert!(s.contains("tiny.toml:19: extras: unknown field"), "{s}");
    t.keys(&["q"]);
    t.wait_for("the dashboard to exit", |s| s.contains("EXITED:0"));
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "0 1");
}
