//! The speed-ups a run can ask for (issue 27), each a true record: a
//! convergence stop (`optim.stop`, status `converged` with why, in the
//! summary, events.log, `runs` and the console), `optim.precision =
//! "auto"` (its choice and reason recorded), and the coarse-to-fine
//! schedule (its scales and steps as documented).

use crate::common::{self, tiny_experiment};
use assert_cmd::Command;

fn stylelab() -> Command {
    Command::cargo_bin("stylelab").unwrap()
}

fn summary_of(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_run_that_stops_changing_ends_converged_and_says_why_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(tmp.path(), "settles", "");
    // Any fall under 50 % over two steps counts as settled: it stops early.
    let out = common::stdout_of(stylelab().arg("run").arg(&exp).args([
        "--set",
        "optim.iterations=40",
        "--set",
        "optim.stop={ rel_change = 0.5, window = 2 }",
    ]));
    let dir = common::only_run(tmp.path());
    let s = summary_of(&dir);
    assert_eq!(s["status"], "converged", "{s}");
    let steps = s["steps"].as_u64().unwrap();
    assert!((2..40).contains(&steps), "{s}");
    let why = s["why"].as_str().unwrap();
    assert!(
        why.contains(&format!("at step {steps}")) && why.contains("optim.stop.rel_change = 0.5"),
        "{why}"
    );
    assert!(
        out.contains(&format!("converged after {steps} of 40 steps")) && out.contains("why: at step"),
        "{out}"
    );
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(
        log.contains(&format!("converged after {steps} steps: at step {steps}")),
        "{log}"
    );
    let runs = common::stdout_of(stylelab().arg("runs").arg("--results").arg(tmp.path().join("results")));
    assert!(runs.contains("converged"), "{runs}");
}

#[test]
fn a_run_without_a_stop_rule_takes_every_step_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(tmp.path(), "all", "");
    common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "optim.iterations=3"]));
    let s = summary_of(&common::only_run(tmp.path()));
    assert_eq!(
        (s["status"].as_str(), s["steps"].as_u64()),
        (Some("completed"), Some(3)),
        "{s}"
    );
    assert!(s.get("why").is_none(), "{s}");
}

#[test]
fn precision_auto_records_what_it_chose_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(tmp.path(), "auto", "");
    common::stdout_of(stylelab().arg("run").arg(&exp).args([
        "--set",
        "optim.iterations=1",
        "--set",
        "optim.precision=\"auto\"",
    ]));
    let s = summary_of(&common::only_run(tmp.path()));
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let fast = flags.contains("avx512_bf16") || flags.contains("amx_bf16");
    let want = if fast { "bf16" } else { "fp32" };
    assert_eq!(s["precision"], want, "{s}");
    let choice = s["precision_choice"].as_str().unwrap();
    assert!(choice.starts_with(&format!("auto: {want}, as the CPU has")), "{choice}");
    // The run's own record keeps what was asked: `auto`.
    let recorded = std::fs::read_to_string(common::only_run(tmp.path()).join("experiment.toml")).unwrap();
    assert!(recorded.contains("precision = \"auto\""), "{recorded}");
}

#[test]
fn a_coarse_to_fine_schedule_runs_the_scales_it_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(tmp.path(), "c2f", "");
    common::stdout_of(stylelab().arg("run").arg(&exp).args([
        "--set",
        "images.size=256",
        "--set",
        "optim.iterations=6",
        "--set",
        "optim.schedule=\"coarse-to-fine\"",
    ]));
    let s = summary_of(&common::only_run(tmp.path()));
    let sizes: Vec<u64> = s["scales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["size"].as_u64().unwrap())
        .collect();
    let steps: Vec<u64> = s["scales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["iterations"].as_u64().unwrap())
        .collect();
    assert_eq!((sizes, steps), (vec![128, 256], vec![5, 1]), "{s}");
    assert_eq!(s["status"], "completed", "{s}");
}
