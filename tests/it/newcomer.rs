//! What a newcomer meets on the command line and in the figures (issue
//! 17): compare on a log axis by default, tick labels that never repeat, a
//! front only when drawn, `--sort -KEY`, `--filter` on values, `runs` fitted
//! to the terminal, full-precision JSON, `show` without escape codes in a
//! file, a description for every argument, and `run` on a sweep file.

use crate::common;

use assert_cmd::Command;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures/results")
}

fn stylelab() -> Command {
    let mut c = Command::cargo_bin("stylelab").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn compare_draws_a_log_axis_unless_told_and_no_negative_tick_for_a_loss() {
    let out = common::stdout_of(
        stylelab()
            .args(["compare", "style-low", "style-high", "--results"])
            .arg(fixtures()),
    );
    assert!(out.contains("total (log10)"), "{out}");
    let out = common::stdout_of(
        stylelab()
            .args(["compare", "style-low", "style-high", "--linear", "--results"])
            .arg(fixtures()),
    );
    assert!(!out.contains("(log10)"), "{out}");
    // The y axis' labels: the text before the axis line on each chart row.
    for line in out.lines().take_while(|l| !l.starts_with('└')) {
        if let Some((label, _)) = line.trim_start_matches('│').split_once('│') {
            assert!(!label.trim().starts_with('-'), "a negative tick for a loss: {line}");
        }
    }
}

/// Every `<text>` of an SVG that parses as a number.
fn numbers_in_svg(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_string())
        })
        .filter(|t| t.parse::<f64>().is_ok())
        .collect()
}

#[test]
fn the_trade_off_picture_reads_distinct_ticks_and_names_only_a_drawn_front() {
    let tmp = tempfile::tempdir().unwrap();
    // Four runs' scores close together, as a sweep at 96 px gives.
    let points: Vec<(String, f64, f64)> = [(0.0312, 0.0181), (0.0318, 0.0177), (0.0305, 0.0179), (0.0321, 0.0172)]
        .iter()
        .enumerate()
        .map(|(i, (c, s))| (format!("run-p00{i} style_weight=1e{i}"), *c, *s))
        .collect();
    let svg = tmp.path().join("t.svg");
    stylelab_core::review::plot::write_scatter(&svg, &points, "t", (1200, 900)).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    let ticks = numbers_in_svg(&text);
    assert!(ticks.len() >= 6, "{ticks:?}");
    let mut seen = std::collections::BTreeSet::new();
    for t in &ticks {
        assert!(seen.insert(t.clone()), "tick {t} repeats: {ticks:?}");
    }
    assert!(text.contains("Pareto front"));
    // One point: no front is drawn, and the legend does not name one.
    stylelab_core::review::plot::write_scatter(&svg, &points[..1], "t", (1200, 900)).unwrap();
    assert!(!std::fs::read_to_string(&svg).unwrap().contains("Pareto front"));
}

#[test]
fn runs_takes_the_documented_sort_and_filters_on_values() {
    let out = common::stdout_of(
        stylelab()
            .args(["runs", "--sort", "-style_dist", "--format", "csv", "--results"])
            .arg(fixtures()),
    );
    assert!(out.lines().count() > 2, "{out}");
    // `layers` is in every run's key names but in no value: nothing matches.
    let out = common::stdout_of(
        stylelab()
            .args(["runs", "--filter", "layers", "--format", "csv", "--results"])
            .arg(fixtures()),
    );
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    // A key=value pair matches that key's value.
    let out = common::stdout_of(
        stylelab()
            .args(["runs", "--filter", "style_weight=1000", "--format", "csv", "--results"])
            .arg(fixtures()),
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("style-high"), "{out}");
}

#[test]
fn the_runs_table_fits_the_terminal_and_the_json_keeps_full_precision() {
    let listing = stylelab_core::review::table::Listing::load(&fixtures(), None, None).unwrap();
    let fitted = listing.render(stylelab_core::review::table::Format::Table, Some(80));
    for line in fitted.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    assert!(fitted.contains("--wide shows all)"), "{fitted}");
    let wide = listing.render(stylelab_core::review::table::Format::Table, None);
    assert!(wide.lines().any(|l| l.chars().count() > 80));
    let json: serde_json::Value =
        serde_json::from_str(&listing.render(stylelab_core::review::table::Format::Json, None)).unwrap();
    let run = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "style-high")
        .unwrap();
    assert!(run["steps"].is_u64(), "steps as an integer: {run}");
    let total = run["total"].as_f64().unwrap();
    let summary = stylelab_core::record::read_summary(&fixtures().join("20260101-110000-style-high")).unwrap();
    assert_eq!(total, summary.final_losses.unwrap().total, "full precision");
}

#[test]
fn show_into_a_file_writes_no_escape_codes() {
    let out = common::stdout_of(stylelab().args(["show", "style-high", "--results"]).arg(fixtures()));
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("not a terminal: the image is not drawn"), "{out}");
    assert!(out.contains("style-high: completed"), "{out}");
}

#[test]
fn every_argument_of_every_command_says_what_it_is() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" || arg.is_hide_set() {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if !sub.is_hide_set() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
    }
    let cmd = <stylelab::cli::Cli as clap::CommandFactory>::command();
    let mut missing = Vec::new();
    walk(&cmd, "stylelab", &mut missing);
    assert!(missing.is_empty(), "arguments without a description: {missing:?}");
}

#[test]
fn the_slurm_script_names_the_file_it_was_written_to() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = crate::sweeps::sweep_file(tmp.path(), "sl", 2);
    let script = tmp.path().join("elsewhere/job.sbatch");
    stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--emit", "slurm", "--out"])
        .arg(&script)
        .assert()
        .success();
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains(&format!("# Submit with:   sbatch {}", script.display())),
        "{text}"
    );
}

/// While a run is paused, a snapshot and a weight change asked for happen
/// at once (issue 17: `n` and `+` showed nothing until the run resumed).
#[test]
fn a_paused_run_takes_snapshots_and_weight_changes_at_once() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "paused", "");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
        .arg("run")
        .arg(&exp)
        .args(["--set", "optim.iterations=40", "--set", "output.snapshot_every=0"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = tmp.path().join("results");
    let wait_for = |what: &dyn Fn() -> bool, why: &str| {
        let started = Instant::now();
        while !what() {
            assert!(started.elapsed() < Duration::from_secs(60), "{why}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(
        &|| std::fs::read_dir(&results).is_ok_and(|mut d| d.next().is_some()),
        "no run folder",
    );
    let dir = std::fs::read_dir(&results).unwrap().next().unwrap().unwrap().path();
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
    let events = || std::fs::read_to_string(dir.join("events.log")).unwrap_or_default();
    wait_for(&|| events().contains(": paused"), "the run never paused");
    send("snapshot");
    send("scale style_weight 2");
    wait_for(
        &|| std::fs::read_dir(dir.join("snapshots")).is_ok_and(|mut d| d.next().is_some()),
        "no snapshot while paused",
    );
    wait_for(
        &|| events().contains("style_weight 100 -> 200"),
        "no weight change while paused",
    );
    assert!(!events().contains("resumed"), "all of it while paused: {}", events());
    // A paused run is listed paused, not running (issue 24, item 11).
    assert_eq!(stylelab_core::review::load_entry(&dir).state.to_string(), "paused");
    let listed = common::stdout_of(
        assert_cmd::Command::cargo_bin("stylelab")
            .unwrap()
            .args(["runs", "--format", "csv", "--results"])
            .arg(&results),
    );
    assert!(listed.contains(",paused,"), "{listed}");
    send("resume");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
}

#[test]
fn review_commands_find_the_project_from_any_folder_inside_it() {
    // `run` from experiments/ writes to ../results; `runs`, `show` and
    // `compare` from there (or deeper) read the same folder.
    let tmp = tempfile::tempdir().unwrap();
    let exps = tmp.path().join("experiments");
    std::fs::create_dir_all(&exps).unwrap();
    let exp = common::tiny_experiment(&exps, "rooted", "");
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("results = "))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&exp, text).unwrap();
    assert_cmd::Command::cargo_bin("stylelab")
        .unwrap()
        .current_dir(&exps)
        .args(["run", "rooted.toml", "--set", "optim.iterations=2"])
        .assert()
        .success();
    assert!(tmp.path().join("results").is_dir(), "run wrote elsewhere");
    let deeper = exps.join("drafts/old");
    std::fs::create_dir_all(&deeper).unwrap();
    for dir in [&exps, &deeper] {
        let out = common::stdout_of(
            assert_cmd::Command::cargo_bin("stylelab")
                .unwrap()
                .current_dir(dir)
                .args(["runs", "--format", "csv"]),
        );
        assert!(out.contains(",rooted,completed,"), "from {}: {out}", dir.display());
        let shown = common::stdout_of(
            assert_cmd::Command::cargo_bin("stylelab")
                .unwrap()
                .current_dir(dir)
                .args(["show", "rooted"]),
        );
        assert!(shown.contains("rooted: completed after 2 of 2 steps"), "{shown}");
    }
}

#[test]
fn the_smaller_truths_of_issue_24() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "one", "");
    // One step is "1 step".
    let out = common::stdout_of(
        assert_cmd::Command::cargo_bin("stylelab")
            .unwrap()
            .arg("run")
            .arg(&exp)
            .args(["--set", "optim.iterations=1", "--set", "output.snapshot_every=1"]),
    );
    assert!(out.contains("after 1 of 1 step\n"), "{out}");
    // (" 1 steps": a rate such as "4.11 steps/s" is no plural of one.)
    assert!(!out.contains(" 1 steps"), "{out}");
    // A snapshot's own losses under it, not only the run's last.
    let results = tmp.path().join("results");
    let shown = common::stdout_of(
        assert_cmd::Command::cargo_bin("stylelab")
            .unwrap()
            .args(["show", "one", "--step", "1", "--results"])
            .arg(&results),
    );
    let (_, rows, _) = stylelab_core::record::read_metrics(&the_only_run(&results)).unwrap();
    assert!(
        shown.contains(&format!("step 1: total {}", stylelab_core::text::short(rows[1].total))),
        "{shown}"
    );
    // A size that is not a number says what it should be.
    let bad = assert_cmd::Command::cargo_bin("stylelab")
        .unwrap()
        .args(["check"])
        .arg(&exp)
        .args(["--set", "images.size=\"big\""])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("a whole number or a list of whole numbers"), "{err}");
    assert!(!err.contains("i64"), "{err}");
    // --preprocess lists its values; the bare command says it opens the dashboard.
    let help = common::stdout_of(
        assert_cmd::Command::cargo_bin("stylelab")
            .unwrap()
            .args(["weights", "convert", "--help"]),
    );
    assert!(help.contains("[possible values: caffe, torchvision]"), "{help}");
    let help = common::stdout_of(assert_cmd::Command::cargo_bin("stylelab").unwrap().arg("--help"));
    assert!(
        help.contains("Without a command, on a terminal, stylelab opens the dashboard"),
        "{help}"
    );
    // A sheet may be a JPEG, as the README's is.
    let sheet = tmp.path().join("sheet.jpg");
    assert_cmd::Command::cargo_bin("stylelab")
        .unwrap()
        .args(["sheet", "one", "--out"])
        .arg(&sheet)
        .arg("--results")
        .arg(&results)
        .assert()
        .success();
    assert_eq!(image::ImageFormat::from_path(&sheet).unwrap(), image::ImageFormat::Jpeg);
    assert!(image::open(&sheet).is_ok());
    // examples/README.md names every shipped image.
    let root = common::root();
    let readme = std::fs::read_to_string(root.join("examples/README.md")).unwrap();
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name != "README.md" {
            assert!(readme.contains(&name), "examples/README.md leaves out {name}");
        }
    }
}

fn the_only_run(results: &std::path::Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(results).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}
