//! Hostile input on a shared server: every path, key, value and file
//! another process left is data — never code in the script stylelab
//! emits, never a terminal sequence, never a link to write through, never
//! a read that blocks or has no end.

use crate::common;
use crate::sweeps::sweep_file;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn stylelab() -> Command {
    let mut c = Command::cargo_bin("stylelab").unwrap();
    c.env("NO_COLOR", "1");
    c
}

/// Every file under `dir` whose name starts with `PWNED`.
fn planted(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with("PWNED") {
                found.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    found
}

/// A project folder whose path holds `hostile`, with a 1-point sweep in
/// `experiments/s.toml`; the project folder.
pub fn hostile_project(tmp: &Path, hostile: &str) -> PathBuf {
    let project = tmp.join(hostile);
    std::fs::create_dir_all(project.join("experiments")).unwrap();
    let exp = sweep_file(&project.join("experiments"), "s", 1);
    // Results in the project (not in experiments/).
    let text = std::fs::read_to_string(&exp).unwrap().replace(
        &common::toml_path(&project.join("experiments/results")),
        &common::toml_path(&project.join("results")),
    );
    std::fs::write(&exp, text).unwrap();
    project
}

/// Projects whose paths hold a newline (a command on its own line), `%`,
/// spaces, quotes, `$(…)` and backticks; and one without the newline, so
/// that both ways of naming the output (directive, shell) are exercised.
pub const HOSTILE: [&str; 2] = [
    "a\ntouch PWNED-newline\n b 50% $(touch PWNED-subst) `touch PWNED-tick` it's \"q\" #c",
    "p 100% $(touch PWNED-subst2) it's \"q\" #c",
];

#[test]
fn the_slurm_script_from_hostile_paths_runs_the_point_and_runs_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, hostile) in HOSTILE.iter().enumerate() {
        let project = hostile_project(tmp.path(), hostile);
        let out = common::stdout_of(stylelab().current_dir(&project).args([
            "sweep",
            "experiments/s.toml",
            "--emit",
            "slurm",
        ]));
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        let script = project.join("results/s-sweep/sweep.sbatch");
        let text = std::fs::read_to_string(&script).unwrap();
        // Every line is a comment, a directive or one of the three commands.
        for line in text.lines() {
            assert!(
                line.starts_with('#')
                    || line.starts_with("exec ")
                    || line.starts_with("cd ")
                    || line == "set -euo pipefail",
                "line {line:?} of\n{text}"
            );
        }
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        let elsewhere = tmp.path().join(format!("cwd{i}"));
        std::fs::create_dir_all(&elsewhere).unwrap();
        let run = std::process::Command::new("bash")
            .arg(&script)
            .current_dir(&elsewhere)
            .env("SLURM_ARRAY_TASK_ID", "0")
            .env("SLURM_ARRAY_JOB_ID", "77")
            .output()
            .unwrap();
        assert!(run.status.success(), "{hostile:?}: {run:?}\n{text}");
        assert_eq!(planted(tmp.path()), Vec::<PathBuf>::new(), "{text}");
        let runs = crate::sweeps::runs_per_point(&project.join("results"));
        let s = runs["s-p000"][0].summary.as_ref().unwrap();
        assert_eq!(s.status, stylelab_core::record::Status::Completed, "{hostile:?}");
        if hostile.contains('\n') {
            // No directive can name this folder: the shell sends the output there.
            assert!(text.contains("#SBATCH --output=/dev/null"), "{text}");
            let log = project.join("results/s-sweep/slurm-77_0.out");
            assert!(log.exists(), "{}", log.display());
        } else {
            assert!(
                text.contains("100%% $(touch PWNED-subst2) it's \\\"q\\\" #c/results/s-sweep/slurm-%A_%a.out\""),
                "{text}"
            );
        }
    }
}

#[test]
fn a_sweep_value_may_not_move_the_results_by_any_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("OUTSIDE");
    for (spelling, line) in [
        (
            format!("\"output\" = [{{ results = {} }}]", common::toml_path(&outside)),
            0,
        ),
        (format!("output = {{ results = [{}] }}", common::toml_path(&outside)), 0),
        (
            format!("[sweep.output]\nresults = [{}]", common::toml_path(&outside)),
            1,
        ),
    ] {
        let exp = common::tiny_experiment(tmp.path(), "mv", "");
        let text = std::fs::read_to_string(&exp).unwrap();
        let at = text.lines().count() + 3 + line;
        std::fs::write(&exp, format!("{text}\n[sweep]\n{spelling}\n")).unwrap();
        let err = common::stderr_of(stylelab().arg("sweep").arg(&exp), 2);
        assert!(
            err.contains(&format!("mv.toml:{at}: sweep.\"output")),
            "{spelling}: {err}"
        );
        assert!(err.contains("may not set output.results"), "{err}");
        let err = common::stderr_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run"), 2);
        assert!(err.contains("may not set output.results"), "{err}");
        assert!(!outside.exists());
    }
}

#[test]
fn dry_run_writes_nothing_whatever_else_is_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "dr", 2);
    for extra in [&["--collect"][..], &["--emit", "slurm"]] {
        common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--dry-run").args(extra));
        assert!(!tmp.path().join("results").exists(), "{extra:?} wrote results/");
    }
}

#[test]
fn cpu_devices_count_against_the_cores_like_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "dv", 2);
    let cores = std::thread::available_parallelism().unwrap().get();
    let list = vec!["cpu"; cores + 1].join(",");
    let err = common::stderr_of(
        stylelab()
            .arg("sweep")
            .arg(&exp)
            .args(["--devices", &list, "--jobs", &(cores + 1).to_string()]),
        2,
    );
    assert!(
        err.contains(&format!("--devices names cpu {} times", cores + 1)),
        "{err}"
    );
    assert!(!tmp.path().join("results").exists());
}

/// Runs `f` on another thread and fails (instead of hanging the suite) if
/// it has not returned after a minute: a read that blocks never returns.
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

#[test]
fn a_fifo_and_dev_zero_among_the_experiments_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our own temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let zero = dir.join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (path, what) in [(fifo, "a FIFO"), (zero, "a device")] {
        // The dashboard's checker calls this for every file in experiments/.
        let p = path.clone();
        let checked = returns("checking a FIFO", move || stylelab::check::describe(&p));
        let err = checked.unwrap_err();
        assert!(err.contains(what), "{err}");
        let err = common::stderr_of(stylelab().arg("check").arg(&path), 2);
        assert!(err.contains(what), "{err}");
    }
    // A file that is too large is refused, not read whole.
    let big = dir.join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(stylelab_core::config::EXPERIMENT_LIMIT + 1).unwrap();
    let err = stylelab::check::describe(&big).unwrap_err();
    assert!(err.contains("more than the"), "{err}");
}

/// The memory-format cache is read without blocking and within bounds: a
/// FIFO or a link to /dev/zero in its place is no cache (the run measures
/// and keeps its choice in a file of its own), never a hang or a read
/// without end.
#[test]
fn a_fifo_or_dev_zero_as_the_format_cache_is_no_cache() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["fifo", "zero"] {
        let cache = tmp.path().join(format!("cache-{name}"));
        std::fs::create_dir_all(&cache).unwrap();
        let file = cache.join("memory-formats.json");
        if name == "fifo" {
            let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo on a path in our own temporary folder.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        } else {
            std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
        }
        let exp = common::tiny_experiment(tmp.path(), name, "");
        let log = tmp.path().join(format!("{name}.log"));
        // At 128 px: smaller runs take the default format without a probe.
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
            .env("STYLELAB_CACHE_DIR", &cache)
            .arg("run")
            .arg(&exp)
            .args(["--set", "optim.iterations=1", "--set", "images.size=128"])
            .args(["--set", "model.memory_format=\"auto\""])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed().as_secs() > 120 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("a run whose format cache is {name} blocked");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert!(status.success(), "{}", std::fs::read_to_string(&log).unwrap());
        let kept = std::fs::symlink_metadata(&file).unwrap();
        assert!(kept.file_type().is_file(), "the choice is kept in a file of its own");
        assert!(std::fs::read_to_string(&file).unwrap().contains("measured at"));
    }
}

#[test]
fn symlinks_planted_in_run_and_sweep_folders_are_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // index.csv of a sweep, and a point's log under --jobs.
    let exp = sweep_file(tmp.path(), "ln", 2);
    let sweep_dir = tmp.path().join("results/ln-sweep");
    std::fs::create_dir_all(sweep_dir.join("logs")).unwrap();
    std::os::unix::fs::symlink(&victim, sweep_dir.join("index.csv")).unwrap();
    std::os::unix::fs::symlink(&victim, sweep_dir.join("logs/p000.log")).unwrap();
    let out = stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--jobs", "2", "--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "{out:?}");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("p000.log: it is a symbolic link"),
        "point 0's log is refused and said: {text}"
    );
    assert_eq!(out.status.code(), Some(1));
    common::stdout_of(stylelab().arg("sweep").arg(&exp).arg("--collect"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        !std::fs::symlink_metadata(sweep_dir.join("index.csv"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "index.csv was replaced by a file of its own"
    );
    // scores.csv of a run.
    let exp = common::tiny_experiment(tmp.path(), "sc", "");
    common::stdout_of(stylelab().arg("run").arg(&exp));
    let run = crate::sweeps::runs_per_point(&tmp.path().join("results"))["sc"][0]
        .dir
        .clone();
    std::os::unix::fs::symlink(&victim, run.join("scores.csv")).unwrap();
    common::stdout_of(
        stylelab()
            .arg("score")
            .arg(&run)
            .args(["--steps", "--size", "32"])
            .arg("--results")
            .arg(tmp.path().join("results")),
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        std::fs::read_to_string(run.join("scores.csv"))
            .unwrap()
            .starts_with("iter,")
    );
}

/// Every byte a command printed that a terminal would act on (below 0x20
/// but newline and tab, DEL, and the C1 controls).
fn controls(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .map(|c| c.escape_default().to_string())
        .collect()
}

#[test]
fn no_printer_puts_an_escape_on_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let esc = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\r";
    // weights info: metadata and file name.
    let weights = tmp.path().join(format!("w{esc}.safetensors"));
    let convs = stylelab_engine::weights::random(0, "relu1_1".parse().unwrap());
    stylelab_engine::weights::save(
        &weights,
        &convs,
        stylelab_engine::weights::Preprocess::Caffe,
        &[("note", format!("hi{esc}")), (&*format!("k{esc}"), "v".into())],
    )
    .unwrap();
    let mut printed: Vec<(String, std::process::Output)> = Vec::new();
    let mut run = |what: &str, cmd: &mut Command| printed.push((what.to_string(), cmd.output().unwrap()));
    run("weights info", stylelab().args(["weights", "info"]).arg(&weights));
    // doctor: weights file names in weights/.
    std::fs::create_dir_all(tmp.path().join("weights")).unwrap();
    std::fs::copy(&weights, tmp.path().join("weights").join(format!("x{esc}.safetensors"))).unwrap();
    run("doctor", stylelab().arg("doctor").current_dir(tmp.path()));
    // check and run: a key, an image path, a --set value.
    let exp = common::tiny_experiment(tmp.path(), "esc", "");
    let text = std::fs::read_to_string(&exp).unwrap();
    let bad_key = tmp.path().join("key.toml");
    std::fs::write(&bad_key, format!("{text}\n[extra]\n\"k{esc}\" = 1\n")).unwrap();
    run("check (key)", stylelab().arg("check").arg(&bad_key));
    run("run (key)", stylelab().arg("run").arg(&bad_key));
    let image = format!("images.content=/nowhere/{esc}.png");
    run(
        "check (image)",
        stylelab().arg("check").arg(&exp).args(["--set", &image]),
    );
    run(
        "run (--set)",
        stylelab()
            .arg("run")
            .arg(&exp)
            .args(["--set", &format!("optim.iterations=\"{esc}\"")]),
    );
    run("clap", stylelab().arg(format!("--{esc}")));
    // sweep --dry-run: a claim's host and since.
    let sweep = sweep_file(tmp.path(), "cl", 1);
    let claims = tmp.path().join("results/cl-sweep/claims");
    std::fs::create_dir_all(&claims).unwrap();
    let claim = serde_json::json!({ "host": format!("h{esc}"), "pid": 1, "since": format!("s{esc}") });
    std::fs::write(claims.join("p000"), claim.to_string()).unwrap();
    run("sweep --dry-run", stylelab().arg("sweep").arg(&sweep).arg("--dry-run"));
    for (what, out) in &printed {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert_eq!(
                controls(bytes),
                Vec::<String>::new(),
                "{what} {stream}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    // They did print the text, as escapes.
    let info = String::from_utf8_lossy(&printed[0].1.stdout);
    assert!(info.contains("hi\\u{1b}]0;pwned"), "{info}");
}

/// Writes PyTorch checkpoints with the project's own torch (`.venv`, which
/// `make test` installs): a module's `state_dict()` (an OrderedDict with
/// `_metadata`), a plain OrderedDict, fp16 tensors, a legacy (pre-1.6) save, a
/// pickle that calls `os.system`, and two bombs — a storage declaring
/// 4 GiB behind a 7 KB tensor, and a 7 KB tensor whose zip entry inflates
/// to 256 MiB. `raw.bin`: conv1_1's weight as float32 bytes.
const CHECKPOINTS: &str = r#"
import collections, io, os, pickle, sys, zipfile, zlib
import torch, torch.nn as nn
out = sys.argv[1]
torch.manual_seed(0)
class Vgg(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
m = Vgg()
sd = m.state_dict()
torch.save(sd, f"{out}/module.pth")
torch.save(collections.OrderedDict(sd.items()), f"{out}/ordered.pth")
torch.save({k: v.half() for k, v in sd.items()}, f"{out}/half.pth")
torch.save(sd, f"{out}/legacy.pth", _use_new_zipfile_serialization=False)
open(f"{out}/raw.bin", "wb").write(bytes(sd["features.0.weight"].contiguous().untyped_storage()))
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + out + "/PWNED-pickle",))
with zipfile.ZipFile(f"{out}/evil.pth", "w") as z:
    z.writestr("archive/data.pkl", pickle.dumps({"features.0.weight": Evil()}, protocol=2))
class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel
class T:
    def __init__(self, st, size, stride):
        self.st, self.size, self.stride = st, size, stride
    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (self.st, 0, self.size, self.stride, False, collections.OrderedDict()))
class P(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel) if isinstance(obj, Storage) else None
def bomb(path, numel, inflate):
    buf = io.BytesIO()
    P(buf, protocol=2).dump({
        "features.0.weight": T(Storage("0", numel), (64, 3, 3, 3), (27, 9, 3, 1)),
        "features.0.bias": T(Storage("1", 64), (64,), (1,)),
    })
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/1", bytes(256))
        with z.open("archive/data/0", "w", force_zip64=True) as f:
            chunk = bytes(1 << 24)
            for _ in range(inflate >> 24):
                f.write(chunk)
bomb(f"{out}/bomb-declared.pth", 1 << 30, 1 << 24)
bomb(f"{out}/bomb-inflated.pth", 64 * 27, 1 << 28)
"#;

#[test]
fn pytorch_checkpoints_convert_and_hostile_ones_are_refused_without_running_or_inflating() {
    let python = common::venv_python();
    let tmp = tempfile::tempdir().unwrap();
    let made = std::process::Command::new(&python)
        .args(["-c", CHECKPOINTS])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let raw = std::fs::read(tmp.path().join("raw.bin")).unwrap();
    let want: Vec<f32> = raw
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for name in ["module", "ordered", "half", "legacy"] {
        let out = tmp.path().join(format!("{name}.safetensors"));
        let layers = stylelab_engine::weights::convert(
            &tmp.path().join(format!("{name}.pth")),
            &out,
            stylelab_engine::weights::Preprocess::Torchvision,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(layers.len(), 2, "{name}");
        let tensors = tch::Tensor::read_safetensors(&out).unwrap();
        let w = &tensors.iter().find(|(k, _)| k == "conv1_1.weight").unwrap().1;
        let got = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
        let tolerance = if name == "half" { 1e-3 } else { 0.0 };
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= tolerance),
            "{name}: values differ"
        );
        // Shared servers: the umask decides (0644 under the usual 022), not 0600.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        // SAFETY: umask only reads and restores this process's mask.
        let mask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        assert_eq!(mode, 0o666 & !mask, "{name}: mode {mode:o}");
    }
    for (name, why) in [
        ("evil", "system, which a file of weights has no need of"),
        ("bomb-declared", "implausible"),
        ("bomb-inflated", ""),
    ] {
        let input = tmp.path().join(format!("{name}.pth"));
        let out = tmp.path().join(format!("{name}.safetensors"));
        let run = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"))
            .args(["weights", "convert"])
            .arg(&input)
            .arg(&out)
            .args(["--preprocess", "torchvision"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        if name == "bomb-inflated" {
            // Read up to its declared 6912 bytes, never the 256 MiB it inflates to.
            assert!(run.status.success(), "{err}");
            continue;
        }
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(!out.exists());
    }
    assert_eq!(planted(tmp.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_implausible_safetensors_header_is_called_so() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big-header.safetensors");
    let mut bytes = 200_000_000u64.to_le_bytes().to_vec();
    bytes.extend(b"{}");
    std::fs::write(&path, bytes).unwrap();
    let err = common::stderr_of(stylelab().args(["weights", "info"]).arg(&path), 2);
    assert!(err.contains("implausibly large"), "{err}");
}

#[test]
fn weights_beyond_fp32_are_refused_and_failures_name_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "ovf", "");
    // check refuses a weight no fp32 loss can hold.
    let err = common::stderr_of(
        stylelab()
            .arg("check")
            .arg(&exp)
            .args(["--set", "loss.style_weight=1e39"]),
        2,
    );
    assert!(err.contains("--set loss.style_weight: 1e39 is too large"), "{err}");
    // A run that goes NaN after a finite step: the summary, the last row
    // and final.png are that step's, and the error names the weight.
    let weights = common::amplified_weights(tmp.path(), 100.0);
    let run = stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", &format!("model.weights={}", common::toml_path(&weights))])
        .args(["--set", "loss.style_weight=1e30", "--set", "optim.optimizer=\"adam\""])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let dir = common::only_run(tmp.path());
    let s = stylelab_core::record::read_summary(&dir).unwrap();
    let err = s.error.clone().unwrap();
    assert!(
        err.contains("the style term weighted by loss.style_weight = 1e30") && err.contains("beyond what fp32 holds"),
        "{err}"
    );
    let (_, rows, _) = stylelab_core::record::read_metrics(&dir).unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last.iter, s.steps);
    let l = s.final_losses.unwrap();
    assert!(l.total.is_finite() && l.total == last.total, "{l:?} vs {last:?}");
    assert!(dir.join("final.png").exists());
    // A learning rate that overshoots is not called too small.
    std::fs::remove_dir_all(tmp.path().join("results")).unwrap();
    let run = stylelab()
        .arg("run")
        .arg(&exp)
        .args(["--set", "optim.learning_rate=1e30", "--set", "images.init=\"noise\""])
        .output()
        .unwrap();
    let s = stylelab_core::record::read_summary(&common::only_run(tmp.path())).unwrap();
    let why = s.error.clone().unwrap_or_default();
    assert!(
        why.contains("overshoots") && !why.contains("too small"),
        "{why} {run:?}"
    );
}

/// Starts `run EXP --set …` in the background (output piped) and waits
/// for its run folder under the experiment's `results/`.
fn spawn_run(exp: &Path, sets: &[&str]) -> (std::process::Child, PathBuf) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("stylelab"));
    cmd.arg("run").arg(exp);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = first_run_dir(&exp.parent().unwrap().join("results"));
    (child, dir)
}

/// The first folder to appear in `results`.
fn first_run_dir(results: &Path) -> PathBuf {
    loop {
        if let Some(d) = std::fs::read_dir(results).ok().and_then(|mut d| d.next()) {
            return d.unwrap().path();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn steering_never_takes_a_weight_beyond_what_check_allows() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "walk", "");
    let (child, dir) = spawn_run(
        &exp,
        &[
            "optim.iterations=12",
            "loss.style_weight=1e27",
            "images.init=\"noise\"",
            "output.snapshot_every=0",
        ],
    );
    // Ten doublings' worth in one go, then a walk in steps of 10.
    std::fs::write(
        dir.join("control"),
        "scale style_weight 10000\nscale style_weight 10\nscale style_weight 10\nscale style_weight 10\nscale style_weight 10\n",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let events = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(events.contains("style_weight 1e27 -> 1e28"), "{events}");
    assert!(events.contains("style_weight 1e29 -> "), "{events}");
    assert_eq!(events.matches("refused").count(), 2, "1e31 twice: {events}");
    let s = stylelab_core::record::read_summary(&dir).unwrap();
    assert_eq!(s.status, stylelab_core::record::Status::Completed);
}

#[test]
fn runs_names_the_run_folders_it_cannot_read() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "mine", "");
    common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "optim.iterations=1"]));
    let results = tmp.path().join("results");
    let theirs = results.join("20260101-000000-theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("summary.json"), "{}").unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    for d in [tmp.path(), results.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let out = if root {
        // Root reads everything: list as another user, as on a shared server.
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("stylelab"))
            .arg("runs")
            .arg("--results")
            .arg(&results)
            .output()
            .unwrap()
    } else {
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o000)).unwrap();
        stylelab().arg("runs").arg("--results").arg(&results).output().unwrap()
    };
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("mine"), "{stdout}{stderr}");
    assert!(
        stderr.contains("1 run folder not readable (permissions?): 20260101-000000-theirs"),
        "{stderr}"
    );
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_paused_run_whose_folder_is_removed_ends_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "gonepaused", "");
    let (child, dir) = spawn_run(&exp, &["optim.iterations=100000", "output.snapshot_every=0"]);
    stylelab_core::events::send_control(&dir, stylelab_core::events::Control::Pause).unwrap();
    while !std::fs::read_to_string(dir.join("events.log")).is_ok_and(|t| t.contains(": paused")) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Without the check the run would wait for a resume that cannot come.
    let out = returns("a paused run whose folder is gone", move || {
        child.wait_with_output().unwrap()
    });
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("gonepaused: failed after"), "{stdout}");
    assert!(stdout.contains("was removed while the run was paused"), "{stdout}");
    assert!(stderr.contains("\"status\": \"failed\""), "{stderr}");
}

#[test]
fn score_warns_when_an_input_image_changed_since_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content.png");
    std::fs::copy(common::example("chelsea.png"), &content).unwrap();
    let exp = common::tiny_experiment(tmp.path(), "img", "");
    let text = std::fs::read_to_string(&exp).unwrap().replace(
        &common::toml_path(&common::example("chelsea.png")),
        &common::toml_path(&content),
    );
    std::fs::write(&exp, text).unwrap();
    common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "optim.iterations=1"]));
    let run = common::only_run(tmp.path());
    let s = stylelab_core::record::read_summary(&run).unwrap();
    assert_eq!(s.images_sha256.len(), 2, "{:?}", s.images_sha256);
    let score = |cmd: &mut Command| {
        String::from_utf8_lossy(
            &cmd.arg("score")
                .arg(&run)
                .args(["--size", "32"])
                .assert()
                .success()
                .get_output()
                .stderr,
        )
        .into_owned()
    };
    assert!(!score(&mut stylelab()).contains("warning"));
    // The content replaced by another picture.
    std::fs::copy(common::example("starry_night.jpg"), &content).unwrap();
    let err = score(&mut stylelab());
    assert!(
        err.contains(&format!("{} changed since the run read it", content.display())),
        "{err}"
    );
}

#[test]
fn figures_into_a_folder_or_a_missing_one_say_why_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "fig", "");
    for _ in 0..2 {
        common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "optim.iterations=2"]));
    }
    let runs: Vec<PathBuf> = crate::sweeps::runs_per_point(&tmp.path().join("results"))["fig"]
        .iter()
        .map(|r| r.dir.clone())
        .collect();
    std::fs::create_dir_all(tmp.path().join("taken.png")).unwrap();
    for (out, why) in [
        (tmp.path().join("missing/x.png"), "No such file or directory"),
        (tmp.path().join("taken.png"), "Is a directory"),
    ] {
        let err = common::stderr_of(stylelab().arg("compare").args(&runs).arg("--out").arg(&out), 1);
        assert!(
            err.contains(why) && !err.contains("Error(") && !err.contains("BackendError"),
            "{err}"
        );
    }
}

#[test]
fn a_failed_point_under_jobs_is_reported_by_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = sweep_file(tmp.path(), "why", 1);
    let loud = common::amplified_weights(tmp.path(), 1e15);
    let text = std::fs::read_to_string(&exp).unwrap().replace(
        "\"loss.style_weight\" = [10.0]",
        &format!(
            "\"model.weights\" = [{}, {}]",
            common::toml_path(common::random_weights()),
            common::toml_path(&loud)
        ),
    );
    std::fs::write(&exp, text).unwrap();
    let out = stylelab()
        .arg("sweep")
        .arg(&exp)
        .args(["--jobs", "2", "--threads", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("point 1 failed after") && l.contains("the style loss became inf")),
        "{stdout}"
    );
}

#[test]
fn paths_that_are_not_utf8_are_refused_never_converted_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "nu", "");
    let odd = tmp.path().join(std::ffi::OsStr::from_bytes(b"nu\xffdir"));
    let err = common::stderr_of(stylelab().arg("run").arg(&exp).arg("--results").arg(&odd), 2);
    assert!(err.contains("--results") && err.contains("not valid UTF-8"), "{err}");
    assert!(!odd.exists());
    assert!(!tmp.path().join("nu\u{fffd}dir").exists(), "a lossy folder was made");
    // A project folder whose name is not UTF-8: relative paths resolve into it.
    let project = tmp.path().join(std::ffi::OsStr::from_bytes(b"exp\xff"));
    std::fs::create_dir_all(project.join("experiments")).unwrap();
    std::fs::copy(common::example("chelsea.png"), project.join("c.png")).unwrap();
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace(&common::toml_path(&common::example("chelsea.png")), "\"../c.png\"");
    std::fs::write(project.join("experiments/e.toml"), text).unwrap();
    let err = common::stderr_of(stylelab().arg("check").arg(project.join("experiments/e.toml")), 2);
    assert!(
        err.contains("images.content") && err.contains("not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn a_run_folder_whose_name_is_not_utf8_is_named_unreadable_not_listed() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(tmp.path(), "ok", "");
    common::stdout_of(stylelab().arg("run").arg(&exp).args(["--set", "optim.iterations=1"]));
    let results = tmp.path().join("results");
    let good = common::only_run(tmp.path());
    let odd = results.join(std::ffi::OsStr::from_bytes(b"20260101-000000-nu\xff"));
    std::fs::create_dir_all(&odd).unwrap();
    for f in ["summary.json", "experiment.toml", "metrics.csv"] {
        std::fs::copy(good.join(f), odd.join(f)).unwrap();
    }
    let out = stylelab().arg("runs").arg("--results").arg(&results).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success());
    assert!(stdout.contains("ok"), "{stdout}");
    assert!(!stdout.contains("nu\u{fffd}"), "{stdout}");
    assert!(stderr.contains("(its name is not UTF-8)"), "{stderr}");
}
