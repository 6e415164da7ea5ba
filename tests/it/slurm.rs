//! The Slurm script `sweep --emit slurm` writes, run unchanged on a real
//! one-node Slurm cluster started here: slurmctld and slurmd (Debian's
//! Slurm 22.05), munged, two fake GPUs (character devices like /dev/null, so
//! `--gres=gpu:1` is scheduled for real and sets `CUDA_VISIBLE_DEVICES`),
//! and a node that declares more CPUs than the machine has.
//!
//! Needs root and apt-get (it installs the packages when missing); skips
//! with the reason otherwise — CI runs as root on Debian, so CI runs it.

use crate::common;
use crate::sweeps::{runs_per_point, sweep_file};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKAGES: [&str; 4] = ["slurmctld", "slurmd", "slurm-client", "munge"];

/// Why this machine cannot run the cluster, if it cannot.
fn cannot_run() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: slurmd and munged need root".into());
    }
    if ["slurmctld", "slurmd", "sbatch", "munged"]
        .iter()
        .all(|c| which(c).is_some())
    {
        return None;
    }
    if which("apt-get").is_none() {
        return Some("Slurm is not installed and there is no apt-get to install it".into());
    }
    let install = |update: bool| {
        if update {
            let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        }
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        install(false) || install(true),
        "root with apt-get, but `apt-get install {}` failed",
        PACKAGES.join(" ")
    );
    None
}

fn which(cmd: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.exists())
}

/// A running one-node cluster; stops the daemons it started, by PID, when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    /// (what, PID) of each daemon this test started.
    started: Vec<(&'static str, u32)>,
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn pid_in(file: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse().ok()) {
            return pid;
        }
        assert!(Instant::now() < deadline, "{} never appeared", file.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: u32) -> bool {
    // A zombie child still has a /proc entry; its state is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let host = String::from_utf8(run(Command::new("hostname").arg("-s")).stdout)
            .unwrap()
            .trim()
            .to_string();
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
            started: Vec::new(),
        };
        cluster.start_munge();
        // A state folder of its own (slurmctld refuses another cluster's),
        // PID files in a folder owned by the slurm user, ports of its own;
        // addresses given, so nothing depends on the host name resolving.
        for sub in ["state", "spool", "run"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        run(Command::new("chown")
            .arg("slurm:slurm")
            .arg(dir.join("state"))
            .arg(dir.join("run")));
        for gpu in ["gpu0", "gpu1"] {
            run(Command::new("mknod").arg(dir.join(gpu)).args(["c", "1", "3"]));
        }
        cluster.write_conf(&host);
        run(Command::new("/usr/sbin/slurmctld").arg("-f").arg(&cluster.conf));
        cluster
            .started
            .push(("slurmctld", pid_in(&dir.join("run/slurmctld.pid"))));
        run(Command::new("/usr/sbin/slurmd").arg("-f").arg(&cluster.conf));
        cluster.started.push(("slurmd", pid_in(&dir.join("run/slurmd.pid"))));
        cluster.wait_idle();
        cluster
    }

    /// Starts munged, unless one already answers.
    fn start_munge(&mut self) {
        let munge_ok = || {
            Command::new("munge")
                .arg("-n")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !munge_ok() {
            for d in ["/run/munge", "/var/log/munge", "/var/lib/munge"] {
                std::fs::create_dir_all(d).unwrap();
                run(Command::new("chown").args(["munge:munge", d]));
            }
            let _ = std::fs::remove_file("/run/munge/munged.pid");
            run(Command::new("runuser").args(["-u", "munge", "--", "/usr/sbin/munged"]));
            self.started
                .push(("munged", pid_in(Path::new("/run/munge/munged.pid"))));
            assert!(munge_ok(), "munged started but `munge -n` fails");
        }
    }

    /// slurm.conf and gres.conf: one node of 8 CPUs and two GPUs (device
    /// nodes of their own), ports of its own.
    fn write_conf(&self, host: &str) {
        let dir = &self.dir;
        let port = 20000 + (std::process::id() % 10000) * 2;
        let d = dir.display();
        std::fs::write(
            &self.conf,
            format!(
                "ClusterName=stylelab{pid}\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmUser=slurm\n\
             SlurmctldPort={port}\n\
             SlurmdPort={port1}\n\
             AuthType=auth/munge\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/run/slurmctld.pid\n\
             SlurmdPidFile={d}/run/slurmd.pid\n\
             SlurmctldLogFile={d}/slurmctld.log\n\
             SlurmdLogFile={d}/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             SlurmdParameters=config_overrides\n\
             GresTypes=gpu\n\
             ReturnToService=2\n\
             JobCompType=jobcomp/none\n\
             AccountingStorageType=accounting_storage/none\n\
             MpiDefault=none\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs=8 Gres=gpu:2 State=UNKNOWN\n\
             PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                pid = std::process::id(),
                port1 = port + 1,
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("gres.conf"),
            format!("Name=gpu File={d}/gpu0\nName=gpu File={d}/gpu1\n"),
        )
        .unwrap();
    }

    /// Waits for the node to be idle, about a second after start.
    fn wait_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self.command("sinfo").args(["-h", "-o", "%t"]).output().unwrap();
            let state = String::from_utf8_lossy(&state.stdout).trim().to_string();
            if state == "idle" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the node is {state:?}, not idle, a minute after start; {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A Slurm client command talking to this cluster.
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(name);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// The daemons' logs, for a failure message.
    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "\n--- {f} (last lines) ---\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("scontrol")
            .arg("shutdown")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for &(_, pid) in self.started.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut signal = libc::SIGTERM;
            while alive(pid) {
                // SAFETY: kill(2) on a daemon this test started.
                unsafe { libc::kill(pid as i32, signal) };
                if Instant::now() > deadline {
                    signal = libc::SIGKILL;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
#[ignore = "needs root and Slurm (installed with apt-get when missing; CI runs as root; make test runs ignored tests)"]
fn the_emitted_job_array_runs_unchanged_on_a_real_slurm() {
    if let Some(why) = cannot_run() {
        panic!("this test cannot run here: {why}");
    }
    let root = tempfile::tempdir().unwrap();
    // The project's path holds `%`, spaces, quotes and `$(…)`: data to the
    // script and to Slurm, never code or a file-name pattern.
    let tmp = root.path().join(crate::hostile::HOSTILE[1]);
    std::fs::create_dir_all(&tmp).unwrap();
    let exp = sweep_file(&tmp, "sl", 3);
    let work = tmp.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let stylelab = assert_cmd::cargo::cargo_bin("stylelab");
    let out = common::stdout_of(
        assert_cmd::Command::new(&stylelab)
            .current_dir(&work)
            .arg("sweep")
            .arg(&exp)
            .args(["--emit", "slurm"]),
    );
    let script = tmp.join("results/sl-sweep/sweep.sbatch");
    assert!(out.contains(&format!("wrote {}", script.display())), "{out}");
    let text = std::fs::read_to_string(&script).unwrap();

    let cluster = Cluster::start(&root.path().join("slurm"));
    let task_logs = sbatch_wait(&cluster, &script, &work, &text);
    let out = common::stdout_of(
        assert_cmd::Command::new(&stylelab)
            .arg("sweep")
            .arg(&exp)
            .arg("--collect"),
    );
    assert!(out.contains("3 of 3 points completed"), "{out}{task_logs}");
    check_points(&tmp.join("results"), &task_logs);
    newline_in_the_project_path(&cluster, root.path(), &work);

    let pids: Vec<u32> = cluster.started.iter().map(|&(_, p)| p).collect();
    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "daemon {pid} still running");
    }
}

/// `sbatch --wait` on the script, with a five-minute bound; the tasks'
/// output files, for failure messages.
fn sbatch_wait(cluster: &Cluster, script: &Path, work: &Path, text: &str) -> String {
    let started = Instant::now();
    let mut sbatch = cluster
        .command("sbatch")
        .arg("--wait")
        .arg(script)
        .current_dir(work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = sbatch.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = sbatch.kill();
            panic!("the job array did not finish in 5 minutes; {}", cluster.logs());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let task_logs: String = std::fs::read_dir(script.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .map(|p| {
            format!(
                "\n--- {} ---\n{}",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            )
        })
        .collect();
    assert!(
        status.success(),
        "sbatch --wait: {status}\n{text}{task_logs}{}",
        cluster.logs()
    );
    task_logs
}

/// Each of the three points ran once, completed, saw one GPU and four
/// CPUs; the sweep's index and sheet hold all three.
fn check_points(results: &Path, task_logs: &str) {
    let runs = runs_per_point(results);
    assert_eq!(runs.len(), 3, "{runs:?}");
    for (i, (name, rs)) in runs.iter().enumerate() {
        assert_eq!(name, &format!("sl-p{i:03}"));
        assert_eq!(rs.len(), 1, "{name} ran {} times{task_logs}", rs.len());
        let s = rs[0].summary.as_ref().unwrap();
        assert_eq!(s.status, stylelab_core::record::Status::Completed);
        // Slurm gave the task one of the two GPUs and 4 CPUs; the point saw both.
        let gpu = s.visible_devices.as_deref();
        assert!(
            matches!(gpu, Some("0") | Some("1")),
            "{name}: CUDA_VISIBLE_DEVICES {gpu:?}"
        );
        assert_eq!(s.device, "cpu (4 threads)", "{name}: threads from SLURM_CPUS_PER_TASK");
        assert_eq!(s.sweep.as_ref().map(|m| m.point), Some(i));
    }
    let index = std::fs::read_to_string(results.join("sl-sweep/index.csv")).unwrap();
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), 4, "{index}");
    for (i, w) in ["10.0", "100.0", "1000.0"].iter().enumerate() {
        assert!(
            lines[i + 1].starts_with(&format!("{i},"))
                && lines[i + 1].contains(&format!("-sl-p{i:03}"))
                && lines[i + 1].contains(&format!(",{w},completed,")),
            "{index}"
        );
    }
    let sheet = image::open(results.join("sl-sweep/sheet.png")).unwrap();
    assert!(sheet.width() > 32 * 3, "a sheet with three results");
}

/// A project path with a newline: no directive can name its folder, so
/// the script's shell sends the task's output there; no path runs as a
/// command.
fn newline_in_the_project_path(cluster: &Cluster, root: &Path, work: &Path) {
    let stylelab = assert_cmd::cargo::cargo_bin("stylelab");
    let project = crate::hostile::hostile_project(root, crate::hostile::HOSTILE[0]);
    common::stdout_of(assert_cmd::Command::new(&stylelab).current_dir(&project).args([
        "sweep",
        "experiments/s.toml",
        "--emit",
        "slurm",
    ]));
    let script = project.join("results/s-sweep/sweep.sbatch");
    let status = cluster
        .command("sbatch")
        .arg("--wait")
        .arg(&script)
        .current_dir(work)
        .status()
        .unwrap();
    let outs: Vec<_> = std::fs::read_dir(project.join("results/s-sweep"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .collect();
    assert!(status.success(), "sbatch --wait: {status}; {outs:?}{}", cluster.logs());
    assert_eq!(outs.len(), 1, "{outs:?}");
    let runs = runs_per_point(&project.join("results"));
    let s = runs["s-p000"][0].summary.as_ref().unwrap();
    assert_eq!(s.status, stylelab_core::record::Status::Completed);
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf(), work.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("PWNED") {
                found.push(e.path());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    assert!(found.is_empty(), "the paths ran as commands: {found:?}");
}
