//! Up to `--jobs N` points at once, each in a child `stylelab sweep
//! --point N --child` in its own process group, on its job slot's device:
//! the pool starts them, hears their reports, and reaps them as they end.

use crate::headless::Signals;
use crate::sweep::Sweep;
use crate::sweep::jobs::message::Message;
use crate::sweep::jobs::plan::{Plan, threads_per_job, threads_text};
use crate::sweep::jobs::progress::{Counts, Progress, Running};
use crate::sweep::jobs::status::{end_status, worse};
use crate::sweep::state::PointState;
use anyhow::{Context, Result};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, IsTerminal};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use stylelab_core::config::DeviceChoice;
use stylelab_core::record::Status;

/// A point running in a child process.
struct Job {
    point: usize,
    /// Where it runs, for the progress lines: ` on cuda:1`, ` (2 threads)`.
    placement: String,
    child: Child,
    started: Instant,
    /// Its run folder, once the child has said.
    dir: Option<PathBuf>,
    log: PathBuf,
    /// The child did not run the point: whether it found it done (else
    /// another process runs it).
    skipped: Option<bool>,
}

/// A report from the child running `point`.
struct Said {
    point: usize,
    message: Message,
}

/// Up to `plan.jobs` points at once, each in a child `stylelab sweep
/// --point N` in its own process group (a Ctrl-C here reaches it once, as
/// a SIGTERM: it stops after its step and writes its results).
pub fn run(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Status> {
    let mut pool = Pool::new(sweep, plan)?;
    loop {
        if signals.stop_requested() && !pool.stopping {
            pool.stop();
        }
        pool.fill()?;
        pool.hear();
        pool.reap()?;
        if pool.slots.iter().all(Option::is_none) && (pool.todo.is_empty() || pool.stopping) {
            break;
        }
        pool.show();
        std::thread::sleep(Duration::from_millis(200));
    }
    pool.display.clear();
    Ok(if pool.stopping {
        worse(pool.status, Status::Stopped)
    } else {
        pool.status
    })
}

/// The job slots of a `--jobs` sweep and the points still to run.
struct Pool<'a> {
    sweep: &'a Sweep,
    plan: &'a Plan,
    exe: PathBuf,
    threads: Option<usize>,
    logs: PathBuf,
    todo: VecDeque<usize>,
    /// Steps each point to run takes (read once, for the progress lines).
    iterations: HashMap<usize, u64>,
    counts: Counts,
    slots: Vec<Option<Job>>,
    tx: mpsc::Sender<Said>,
    rx: mpsc::Receiver<Said>,
    status: Status,
    stopping: bool,
    display: Progress,
}

impl<'a> Pool<'a> {
    /// The points not done and not running elsewhere (checked by the
    /// sweep's precheck before the pool is made).
    fn new(sweep: &'a Sweep, plan: &'a Plan) -> Result<Pool<'a>> {
        let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
        let threads = threads_per_job(plan.threads, plan.jobs);
        let logs = sweep.dir().join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
        let mut todo = VecDeque::new();
        let mut counts = Counts::default();
        for (p, state) in sweep.spec.points.iter().zip(sweep.states()) {
            match state {
                PointState::Done(_) => counts.done += 1,
                PointState::Running(by) => {
                    say!("point {}: running on {}, left to it", p.index, by.describe());
                    counts.elsewhere += 1;
                }
                PointState::Failed(..) | PointState::Changed(..) | PointState::ToDo => todo.push_back(p.index),
            }
        }
        let mut iterations = HashMap::new();
        for &i in &todo {
            iterations.insert(i, plan.experiment(sweep, i)?.total_iterations());
        }
        say!(
            "{} points: {} done, {} running elsewhere, {} to run, {} at once{}",
            sweep.spec.points.len(),
            counts.done,
            counts.elsewhere,
            todo.len(),
            plan.jobs,
            threads
                .map(|t| format!(" ({} each)", threads_text(t)))
                .unwrap_or_default()
        );
        let (tx, rx) = mpsc::channel();
        Ok(Pool {
            sweep,
            plan,
            exe,
            threads,
            logs,
            todo,
            iterations,
            counts,
            slots: (0..plan.jobs).map(|_| None).collect(),
            tx,
            rx,
            status: Status::Completed,
            stopping: false,
            display: Progress::new(std::io::stdout().is_terminal()),
        })
    }

    /// Asks every running point to stop after its step; starts no more.
    fn stop(&mut self) {
        self.stopping = true;
        self.display.clear();
        say!("stopping: each running point stops after its current step");
        for job in self.slots.iter().flatten() {
            // SAFETY: kill(2) with a PID we spawned and have not reaped.
            unsafe { libc::kill(job.child.id() as i32, libc::SIGTERM) };
        }
    }

    /// Starts the next points in the free slots, each on its slot's device.
    fn fill(&mut self) -> Result<()> {
        for slot in 0..self.slots.len() {
            if self.slots[slot].is_some() || self.stopping {
                continue;
            }
            let Some(point) = self.todo.pop_front() else { break };
            let device = self.plan.devices.as_ref().map(|d| d[slot % d.len()]);
            let job = self.spawn(point, device)?;
            self.display.clear();
            say!(
                "point {point} started{}: {}",
                job.placement,
                self.sweep.spec.points[point].describe()
            );
            self.slots[slot] = Some(job);
        }
        Ok(())
    }

    /// What the children reported: their run folders, and points they skipped.
    fn hear(&mut self) {
        while let Ok(said) = self.rx.try_recv() {
            let Some(job) = self.slots.iter_mut().flatten().find(|j| j.point == said.point) else {
                continue;
            };
            match said.message {
                Message::RunDir { dir, .. } => job.dir = Some(dir),
                Message::Skipped { why, done, point } => {
                    job.skipped = Some(done);
                    self.display.clear();
                    say!("point {point}: {why}, skipped");
                }
            }
        }
    }

    /// Reports and frees the slots whose child has exited.
    fn reap(&mut self) -> Result<()> {
        for slot in self.slots.iter_mut() {
            let Some(j) = slot else { continue };
            let Some(exit) = j.child.try_wait()? else { continue };
            let ended = end_status(exit);
            self.display.clear();
            let took = j.started.elapsed().as_secs_f64();
            match (ended, j.skipped) {
                (Status::Completed, Some(true)) => self.counts.done += 1,
                (Status::Completed, Some(false)) => self.counts.elsewhere += 1,
                (Status::Completed, None) => {
                    self.counts.done += 1;
                    say!("point {} completed in {took:.0} s", j.point);
                }
                (Status::Stopped, _) => say!("point {} stopped after {took:.0} s", j.point),
                _ => {
                    self.counts.failed += 1;
                    say!(
                        "point {} failed after {took:.0} s ({exit}): {}\n  its output: {}",
                        j.point,
                        failure_reason(j.dir.as_deref(), &j.log),
                        j.log.display()
                    );
                }
            }
            self.status = worse(self.status, ended);
            *slot = None;
        }
        Ok(())
    }

    /// Redraws the progress lines of the running points.
    fn show(&mut self) {
        let running: Vec<Running> = self
            .slots
            .iter()
            .flatten()
            .map(|j| Running {
                point: j.point,
                placement: &j.placement,
                started: j.started,
                dir: j.dir.as_deref(),
                iterations: self.iterations.get(&j.point).copied().unwrap_or(0),
            })
            .collect();
        self.display.show(&running, &self.counts, self.todo.len());
    }

    /// Starts point `point` in a child process; its standard output comes
    /// back line by line to the pool, its standard error goes to
    /// `logs/pNNN.log`.
    fn spawn(&self, point: usize, device: Option<DeviceChoice>) -> Result<Job> {
        let log = self.logs.join(format!("p{point:03}.log"));
        let err =
            stylelab_core::files::append_no_follow(&log).with_context(|| format!("cannot open {}", log.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("sweep")
            .arg(&self.sweep.source)
            .args(["--point", &point.to_string(), "--child"])
            .args(self.sweep.set_args());
        if let Some(d) = device {
            cmd.args(["--device", &d.to_string()]);
        }
        if let Some(t) = self.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        if self.plan.force {
            cmd.arg("--force");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        if let Some(out) = child.stdout.take() {
            listen(out, point, self.tx.clone());
        }
        let placement = match (device, self.threads) {
            (Some(d), _) => format!(" on {d}"),
            (None, Some(t)) => format!(" ({})", threads_text(t)),
            (None, None) => String::new(),
        };
        Ok(Job {
            point,
            placement,
            child,
            started: Instant::now(),
            dir: None,
            log,
            skipped: None,
        })
    }
}

/// Passes the reports the child running `point` writes to `out` on to the
/// pool, from a thread of their own.
fn listen(out: std::process::ChildStdout, point: usize, tx: mpsc::Sender<Said>) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            // Anything that is not a report (there should be none) is dropped.
            let Ok(message) = serde_json::from_str::<Message>(&line) else {
                continue;
            };
            if tx.send(Said { point, message }).is_err() {
                break;
            }
        }
    });
}

/// Why a child's point failed: its run's recorded error when it got as far
/// as a run folder, else the `Error: …` line it printed, else its last line.
fn failure_reason(dir: Option<&Path>, log: &Path) -> String {
    if let Some(error) = dir
        .and_then(|d| stylelab_core::record::read_summary(d).ok())
        .and_then(|s| s.error)
    {
        return error;
    }
    let text = stylelab_core::files::read_text_bounded(log, stylelab_core::files::TEXT_LIMIT).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("Error: "))
        .or(lines.last().copied())
        .unwrap_or("it said nothing")
        .to_string()
}
