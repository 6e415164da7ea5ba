//! Running a sweep's points: one after another in this process, or up to
//! `--jobs N` at once, each in a child `stylelab sweep --point` process
//! pinned to one device (on a CPU: with its share of the cores).
//!
//! Every point, however it is started — here, by a child, by a Slurm array
//! task, by another terminal — is claimed first ([`super::claim`]), and is
//! checked again for a completed run once claimed: a point runs once at a
//! time, and a completed point never runs again.

use super::claim::Taken;
use super::{Completion, PointState, Sweep};
use crate::error::bad_input;
use crate::headless::{Signals, execute};
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use stylelab_core::config::DeviceChoice;
use stylelab_core::record::Status;

/// A line on standard output that never panics: after the terminal went
/// away (an SSH session dropped) the points go on and the printing stops.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), "{}", stylelab_core::text::terminal_safe(&format!($($arg)*)));
    }};
}

/// How a sweep runs its points.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Only this point (a cluster task); else every point not done.
    pub point: Option<usize>,
    /// Points at once (1: in this process).
    pub jobs: usize,
    /// The device of each job slot in turn; `None`: each point keeps its
    /// experiment's device.
    pub devices: Option<Vec<DeviceChoice>>,
    /// libtorch threads per point; `None`: libtorch's default (all cores) for
    /// one job, the cores shared out for several.
    pub threads: Option<usize>,
    /// Run points whose memory estimate exceeds what is free.
    pub force: bool,
    /// This process is a `--jobs` child: where it reports to its parent.
    pub report: Option<Reporter>,
}

/// What a point's child process tells the sweep that started it: one JSON
/// object per line on the child's standard output. Its human output —
/// progress lines, the run's summary — goes to its standard error, which
/// the parent sends to `logs/pNNN.log`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    /// The point's run folder exists.
    RunDir { point: usize, dir: PathBuf },
    /// The point was not run: `why`. `done`: a completed run of its
    /// settings exists (else another process is running it).
    Skipped { point: usize, why: String, done: bool },
}

/// A child's line to its parent ([`Report`]), on the standard output the
/// process started with.
#[derive(Debug, Clone)]
pub struct Reporter(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

impl Reporter {
    /// Keeps the standard output for reports and points file descriptor 1
    /// at standard error, so that everything else this process prints goes
    /// to its log.
    pub fn take_stdout() -> Result<Reporter> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let _ = std::io::stdout().flush();
        // SAFETY: dup(2) and dup2(2) on this process's standard descriptors;
        // the duplicate is owned by the File from here on.
        let file = unsafe {
            let fd = libc::dup(std::io::stdout().as_raw_fd());
            if fd < 0 || libc::dup2(std::io::stderr().as_raw_fd(), std::io::stdout().as_raw_fd()) < 0 {
                return Err(std::io::Error::last_os_error()).context("cannot set up the report to the parent sweep");
            }
            std::fs::File::from_raw_fd(fd)
        };
        Ok(Reporter(std::sync::Arc::new(std::sync::Mutex::new(file))))
    }

    /// Sends one report; a parent that went away is not an error here.
    pub fn send(&self, report: &Report) {
        if let (Ok(mut out), Ok(line)) = (self.0.lock(), serde_json::to_string(report)) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// How the run of a sweep ended, for the exit code.
pub struct Outcome {
    /// `Completed` unless a point failed (`Failed`) or a stop was asked for
    /// (`Stopped`).
    pub status: Status,
}

/// Checks `--devices` against this machine, before anything runs: each
/// entry must parse and exist. Bad-input error naming the entry otherwise.
pub fn parse_devices(list: &[String]) -> Result<Vec<DeviceChoice>> {
    if list.is_empty() {
        return Err(bad_input("--devices: the list is empty; e.g. --devices cuda:0,cuda:1"));
    }
    list.iter()
        .map(|s| {
            let choice = DeviceChoice::parse(s.trim())
                .ok_or_else(|| bad_input(format!("--devices: \"{s}\" is not a device; use cpu, cuda or cuda:N")))?;
            stylelab_engine::device::resolve(choice).map_err(|e| bad_input(format!("--devices: {e}")))?;
            Ok(choice)
        })
        .collect()
}

/// The devices job slots use when `--devices` is not given: with several
/// jobs, an experiment on `auto` uses every CUDA device; otherwise every
/// point keeps its experiment's device (`None`).
pub fn default_devices(sweep: &Sweep, jobs: usize) -> Option<Vec<DeviceChoice>> {
    let gpus = if tch::Cuda::is_available() {
        tch::Cuda::device_count().max(0) as usize
    } else {
        0
    };
    (jobs > 1 && sweep.device == DeviceChoice::Auto && gpus > 1).then(|| (0..gpus).map(DeviceChoice::Cuda).collect())
}

/// The cores this process may use (its CPU affinity and quota).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Refuses `--threads` above the cores this process may use, and `--jobs`
/// above the cores or the devices given (each point needs a core or a
/// device): more only queues threads behind each other, and tens of
/// thousands of them take minutes to start.
pub fn check_bounds(jobs: usize, threads: Option<usize>, devices: Option<&[DeviceChoice]>) -> Result<()> {
    let cores = cores();
    if let Some(t) = threads
        && t > cores
    {
        return Err(bad_input(format!(
            "--threads {t}: this machine gives this process {cores} core(s); use 1..={cores}"
        )));
    }
    // A point on the CPU takes cores whichever flag put it there.
    let on_cpu = devices.map_or(0, |d| d.iter().filter(|d| **d == DeviceChoice::Cpu).count());
    if on_cpu > cores {
        return Err(bad_input(format!(
            "--devices names cpu {on_cpu} times: this machine gives this process {cores} core(s), \
             so at most {cores} points can run on the CPU at once"
        )));
    }
    let most = cores.max(devices.map_or(0, <[_]>::len));
    if jobs > most {
        return Err(bad_input(format!(
            "--jobs {jobs}: this machine gives this process {cores} core(s){}; use 1..={most}",
            devices
                .map(|d| format!(" and --devices names {}", d.len()))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// libtorch threads for each of `jobs` points at once: `threads` when given,
/// else a Slurm task's `SLURM_CPUS_PER_TASK` shared out, else the cores
/// shared out (`None`: one job and nothing said, libtorch's default).
pub fn threads_per_job(threads: Option<usize>, jobs: usize) -> Option<usize> {
    if threads.is_some() {
        return threads;
    }
    if let Some(n) = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return Some((n / jobs).max(1));
    }
    (jobs > 1).then(|| (cores() / jobs).max(1))
}

/// Runs the sweep as `plan` says; collects the index and sheet after a
/// whole sweep (not after a single `--point`).
pub fn run(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Outcome> {
    let n = sweep.points.len();
    if let Some(i) = plan.point
        && i >= n
    {
        return Err(bad_input(format!(
            "--point {i}: the sweep has points 0..{} ({n} in all)",
            n - 1
        )));
    }
    if plan.point.is_none() {
        precheck(sweep, plan)?;
    }
    sweep.bind(true)?;
    let status = if plan.jobs > 1 && plan.point.is_none() {
        run_children(sweep, plan, signals)?
    } else {
        if let Some(t) = threads_per_job(plan.threads, 1) {
            tch::set_num_threads(t as i32);
        }
        run_here(sweep, plan, signals)?
    };
    let mut status = status;
    if plan.point.is_none() {
        let done = super::collect(sweep)?;
        say!(
            "{done} of {n} points completed; index and sheet in {}",
            sweep.dir().display()
        );
        // A sweep that ends with points neither done nor running elsewhere
        // did not do its work, whatever each run said.
        if done < n && status == Status::Completed {
            let states = sweep.states();
            let missing: Vec<String> = sweep
                .points
                .iter()
                .zip(&states)
                .filter(|(_, s)| !matches!(s, super::PointState::Done(_) | super::PointState::Running(_)))
                .map(|(p, s)| format!("{} ({})", p.index, s.label()))
                .collect();
            if !missing.is_empty() {
                say!(
                    "not completed: point{} {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                );
                status = Status::Failed;
            }
        }
    }
    Ok(Outcome { status })
}

/// The experiment of point `index` on the device its job slot gives it.
fn point_experiment(sweep: &Sweep, plan: &Plan, index: usize) -> Result<stylelab_core::config::Experiment> {
    let mut exp = sweep.experiment(&sweep.points[index])?;
    if let Some(devices) = &plan.devices {
        exp.device = devices[0];
    }
    Ok(exp)
}

/// Every point still to run passes its preflight and fits in memory
/// (unless `--force`), before the sweep makes its folder: bad input or a
/// point too large stops the sweep with nothing written.
fn precheck(sweep: &Sweep, plan: &Plan) -> Result<()> {
    for (p, state) in sweep.points.iter().zip(sweep.states()) {
        if matches!(state, PointState::Done(_) | PointState::Running(_)) {
            continue;
        }
        let exp = point_experiment(sweep, plan, p.index)?;
        let checked = stylelab_engine::preflight::check(&exp)
            .with_context(|| format!("sweep point {} ({})", p.index, p.describe()))?;
        if !plan.force {
            checked
                .guard_for(&exp, "sweep")
                .with_context(|| format!("sweep point {} ({})", p.index, p.describe()))?;
        }
    }
    Ok(())
}

/// The points, one after another, in this process.
fn run_here(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Status> {
    let n = sweep.points.len();
    let claims = sweep.claims();
    let mut status = Status::Completed;
    let skip = |p: &super::Point, why: String, done: bool| {
        say!("point {} ({}): {why}, skipped", p.index, p.describe());
        if let Some(r) = &plan.report {
            r.send(&Report::Skipped {
                point: p.index,
                why,
                done,
            });
        }
    };
    for (p, runs) in sweep.points.iter().zip(sweep.find_runs()) {
        if plan.point.is_some_and(|i| i != p.index) {
            continue;
        }
        if let Some(done) = completed(sweep, p, &runs) {
            skip(p, done, true);
            continue;
        }
        let _guard = match claims.try_claim(p.index)? {
            Taken::Held(by) => {
                skip(p, format!("running on {}", by.describe()), false);
                continue;
            }
            Taken::Mine(guard) => guard,
        };
        // Another process may have completed it between our listing and our claim.
        if let Some(done) = completed(sweep, p, &sweep.runs_of(p.index)) {
            skip(p, done, true);
            continue;
        }
        say!("point {} of {n}: {}", p.index, p.describe());
        let exp = point_experiment(sweep, plan, p.index)?;
        let checked = stylelab_engine::preflight::check(&exp)?;
        if !plan.force {
            checked.guard_for(&exp, "sweep")?;
        }
        let on_dir = |dir: &std::path::Path| {
            if let Some(r) = &plan.report {
                r.send(&Report::RunDir {
                    point: p.index,
                    dir: dir.to_path_buf(),
                });
            }
        };
        let (summary, _) = execute(&exp, &checked, signals, &on_dir, Some(sweep.member(p.index)))?;
        if summary.status != Status::Completed {
            status = worse(status, summary.status);
        }
        if signals.stop_requested() {
            break;
        }
    }
    Ok(status)
}

/// `completed in DIR` when `runs` (a point's) hold a completed run of the
/// point's settings; says so when one ran with other settings.
fn completed(sweep: &Sweep, p: &super::Point, runs: &[stylelab_core::review::RunEntry]) -> Option<String> {
    match sweep.completed_run(p, runs) {
        Completion::Same(done) => Some(format!("completed in {}", done.dir.display())),
        Completion::Other(r, diff) => {
            say!(
                "point {}: {} completed with other settings ({diff}); running it with this sweep's",
                p.index,
                r.dir.display()
            );
            None
        }
        Completion::None => None,
    }
}

/// Stopped outranks failed, failed outranks completed.
fn worse(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Stopped => 3,
        Status::Failed | Status::Stalled | Status::Running => 2,
        Status::Completed => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

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
    report: Report,
}

/// Up to `plan.jobs` points at once, each in a child `stylelab sweep
/// --point N` in its own process group (a Ctrl-C here reaches it once, as
/// a SIGTERM: it stops after its step and writes its results).
fn run_children(sweep: &Sweep, plan: &Plan, signals: &Signals) -> Result<Status> {
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
        pool.display
            .show(&pool.slots, &pool.iterations, &pool.counts, pool.todo.len());
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
    iterations: std::collections::HashMap<usize, u64>,
    counts: Counts,
    slots: Vec<Option<Job>>,
    tx: mpsc::Sender<Said>,
    rx: mpsc::Receiver<Said>,
    status: Status,
    stopping: bool,
    display: Progress,
}

impl<'a> Pool<'a> {
    /// The points not done and not running elsewhere (checked by
    /// [`precheck`] before the pool is made).
    fn new(sweep: &'a Sweep, plan: &'a Plan) -> Result<Pool<'a>> {
        let exe = std::env::current_exe().context("cannot find the stylelab binary")?;
        let threads = threads_per_job(plan.threads, plan.jobs);
        let logs = sweep.dir().join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
        let mut todo = VecDeque::new();
        let mut counts = Counts::default();
        for (p, state) in sweep.points.iter().zip(sweep.states()) {
            match state {
                PointState::Done(_) => counts.done += 1,
                PointState::Running(by) => {
                    say!("point {}: running on {}, left to it", p.index, by.describe());
                    counts.elsewhere += 1;
                }
                PointState::Failed(..) | PointState::Changed(..) | PointState::ToDo => todo.push_back(p.index),
            }
        }
        let mut iterations = std::collections::HashMap::new();
        for &i in &todo {
            iterations.insert(i, point_experiment(sweep, plan, i)?.total_iterations());
        }
        say!(
            "{} points: {} done, {} running elsewhere, {} to run, {} at once{}",
            sweep.points.len(),
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
            let job = spawn(self, point, device)?;
            self.display.clear();
            say!(
                "point {point} started{}: {}",
                job.placement,
                self.sweep.points[point].describe()
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
            match said.report {
                Report::RunDir { dir, .. } => job.dir = Some(dir),
                Report::Skipped { why, done, point } => {
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
}

/// Why a child's point failed: its run's recorded error when it got as far
/// as a run folder, else the `Error: …` line it printed, else its last line.
fn failure_reason(dir: Option<&std::path::Path>, log: &std::path::Path) -> String {
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

/// `1 thread`, `4 threads`.
fn threads_text(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

/// A child's exit as a run's status (see `error`'s codes). A child ended by
/// SIGINT or SIGTERM before its handlers were in place (it was just
/// starting) was stopped, not failed.
fn end_status(exit: std::process::ExitStatus) -> Status {
    use std::os::unix::process::ExitStatusExt;
    match (exit.code().map(|c| c as u8), exit.signal()) {
        (Some(crate::error::SUCCESS), _) => Status::Completed,
        (Some(crate::error::STOPPED), _) => Status::Stopped,
        (None, Some(libc::SIGINT | libc::SIGTERM)) => Status::Stopped,
        _ => Status::Failed,
    }
}

/// Starts point `point` in a child process; its standard output comes back
/// line by line to the pool, its standard error goes to `logs/pNNN.log`.
fn spawn(pool: &Pool, point: usize, device: Option<DeviceChoice>) -> Result<Job> {
    let (sweep, plan, exe, threads, logs, tx) = (pool.sweep, pool.plan, &pool.exe, pool.threads, &pool.logs, &pool.tx);
    let log = logs.join(format!("p{point:03}.log"));
    let err = stylelab_core::files::append_no_follow(&log).with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("sweep")
        .arg(&sweep.source)
        .args(["--point", &point.to_string(), "--child"])
        .args(sweep.set_args());
    if let Some(d) = device {
        cmd.args(["--device", &d.to_string()]);
    }
    if let Some(t) = threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    if plan.force {
        cmd.arg("--force");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                // Anything that is not a report (there should be none) is dropped.
                let Ok(report) = serde_json::from_str::<Report>(&line) else {
                    continue;
                };
                if tx.send(Said { point, report }).is_err() {
                    break;
                }
            }
        });
    }
    let placement = match (device, threads) {
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

#[derive(Default)]
struct Counts {
    done: usize,
    failed: usize,
    elsewhere: usize,
}

/// The running points, one line each: redrawn in place on a terminal,
/// a line every half minute otherwise.
struct Progress {
    tty: bool,
    drawn: usize,
    last: Option<Instant>,
}

impl Progress {
    fn new(tty: bool) -> Self {
        Progress {
            tty,
            drawn: 0,
            last: None,
        }
    }

    /// Removes the block drawn last (a terminal), so a message prints above it.
    fn clear(&mut self) {
        if self.tty && self.drawn > 0 {
            let _ = write!(std::io::stdout(), "\r\x1b[{}A\x1b[J", self.drawn);
            let _ = std::io::stdout().flush();
        }
        self.drawn = 0;
    }

    fn show(
        &mut self,
        slots: &[Option<Job>],
        iterations: &std::collections::HashMap<usize, u64>,
        counts: &Counts,
        todo: usize,
    ) {
        let every = if self.tty {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(30)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let lines: Vec<String> = slots
            .iter()
            .flatten()
            .map(|j| {
                let iterations = iterations.get(&j.point).copied().unwrap_or(0);
                let step = j.dir.as_deref().and_then(stylelab_core::review::last_row);
                let progress = match &step {
                    Some(m) => format!("step {}/{iterations}  loss {:.4e}", m.iter, m.total),
                    None => "starting".into(),
                };
                format!(
                    "  p{:03}{}  {progress}  {:.0} s",
                    j.point,
                    j.placement,
                    j.started.elapsed().as_secs_f64()
                )
            })
            .collect();
        let head = format!(
            "{} running, {} done, {} failed, {} to do",
            lines.len(),
            counts.done,
            counts.failed,
            todo
        );
        self.clear();
        if self.tty {
            say!("{head}");
            for l in &lines {
                say!("{l}");
            }
            self.drawn = lines.len() + 1;
        } else {
            say!(
                "{head}: {}",
                lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("; ")
            );
        }
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_shared_out_unless_said() {
        assert_eq!(threads_per_job(Some(3), 4), Some(3));
        if std::env::var_os("SLURM_CPUS_PER_TASK").is_none() {
            let cores = std::thread::available_parallelism().unwrap().get();
            assert_eq!(threads_per_job(None, 1), None);
            assert_eq!(threads_per_job(None, 2), Some((cores / 2).max(1)));
            assert_eq!(threads_per_job(None, 1000), Some(1));
        }
    }

    #[test]
    fn bad_devices_are_refused_by_name() {
        let err = parse_devices(&["gpu0".into()]).unwrap_err().to_string();
        assert!(err.contains("\"gpu0\" is not a device"), "{err}");
        assert!(parse_devices(&[]).is_err());
        assert_eq!(parse_devices(&["cpu".into()]).unwrap(), vec![DeviceChoice::Cpu]);
        if !tch::Cuda::is_available() {
            let err = parse_devices(&["cpu".into(), "cuda:1".into()]).unwrap_err().to_string();
            assert!(err.contains("cuda:1 was asked for"), "{err}");
        }
    }

    #[test]
    fn the_worse_status_wins() {
        assert_eq!(worse(Status::Completed, Status::Failed), Status::Failed);
        assert_eq!(worse(Status::Failed, Status::Stopped), Status::Stopped);
        assert_eq!(worse(Status::Stopped, Status::Completed), Status::Stopped);
        use std::os::unix::process::ExitStatusExt;
        let exit = std::process::ExitStatus::from_raw;
        assert_eq!(end_status(exit(0)), Status::Completed);
        assert_eq!(end_status(exit(130 << 8)), Status::Stopped);
        assert_eq!(end_status(exit(1 << 8)), Status::Failed);
        assert_eq!(end_status(exit(libc::SIGTERM)), Status::Stopped);
        assert_eq!(end_status(exit(libc::SIGKILL)), Status::Failed);
    }
}
