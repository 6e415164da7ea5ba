//! The processes the bench waits on, and what an interrupted bench does
//! with them. Ctrl-C (SIGINT), SIGTERM or a hang-up ends the bench the
//! same way each time: its children are asked to end (SIGTERM: a
//! `stylelab run` stops as it does for a user, the PyTorch reference and
//! `bench-one` end), the bench waits for them (at most
//! [`CHILDREN_GRACE`], or until a second signal), kills those still
//! running, removes its scratch folder, says so on stderr and exits with
//! 130, as a stopped run does. Without this the bench died at once and
//! left its scratch folder (weights, raw images, runs) in the temporary
//! folder.

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The children running now, by process id.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Set by the signal handler itself, the moment a signal arrives: a child
/// that the same Ctrl-C ended is not reported as failed.
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// How long an interrupted bench waits for its children to end.
const CHILDREN_GRACE: Duration = Duration::from_secs(30);

/// Starts the thread that ends the bench on SIGINT, SIGTERM or SIGHUP
/// (see the module's notes).
pub fn end_on_signals() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(sig, flag.clone())?;
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            end(&mut signals);
        }
    });
    Ok(())
}

/// Whether a signal has interrupted the bench.
pub fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Sends `sig` to every child running now.
fn signal_children(sig: libc::c_int) {
    for &pid in running().iter() {
        // SAFETY: kill(2) on a child this process started: it leaves the
        // list the moment its end is read, so only those few instructions
        // could see its id handed to another process.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// Waits until no child is running, `limit` has passed or (with
/// `signals`) another signal comes.
fn wait_for_children(limit: Duration, mut signals: Option<&mut signal_hook::iterator::Signals>) {
    let started = Instant::now();
    while !running().is_empty() && started.elapsed() < limit {
        if signals.as_mut().is_some_and(|s| s.pending().next().is_some()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`end_on_signals`]'s work, on the signal thread: the children asked to
/// end, then killed if they have not within the grace or a second signal
/// came; the scratch folder removed; the process ended at once (`_exit`:
/// the main thread may be inside libtorch, whose teardown must not run
/// under it).
fn end(signals: &mut signal_hook::iterator::Signals) -> ! {
    signal_children(libc::SIGTERM);
    wait_for_children(CHILDREN_GRACE, Some(signals));
    signal_children(libc::SIGKILL);
    wait_for_children(Duration::from_secs(5), None);
    super::remove_scratch();
    use std::io::Write;
    // After a hang-up stderr may be gone: a failed write is no reason to stay.
    let _ = writeln!(
        std::io::stderr(),
        "stylelab bench: interrupted; its children ended and its scratch folder removed"
    );
    // SAFETY: _exit(2) ends the process; nothing after it runs.
    unsafe { libc::_exit(130) }
}

/// The list, even when a thread panicked holding it.
fn running() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// An interrupted bench starts nothing more and goes no further: the
/// signal thread ends the process.
pub fn stop_here_if_interrupted() {
    if interrupted() {
        wait_for_the_end();
    }
}

/// Waits, while the signal thread ends the process.
fn wait_for_the_end() -> ! {
    loop {
        std::thread::park();
    }
}

/// Starts `cmd`, kept in the list of children an interrupt ends.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let mut list = running();
    // Read under the lock: a signal after this sees the child in the list.
    if interrupted() {
        drop(list);
        wait_for_the_end();
    }
    let child = cmd.spawn()?;
    list.push(child.id());
    Ok(child)
}

/// `child` has ended (its status was read): it leaves the list, and an
/// interrupted bench goes no further.
fn ended(child: &Child) {
    running().retain(|&p| p != child.id());
    stop_here_if_interrupted();
}

/// Waits for `child` to end, as [`Child::wait`] does.
pub fn wait(child: &mut Child) -> std::io::Result<ExitStatus> {
    let status = child.wait();
    ended(child);
    status
}

/// Whether `child` has ended, as [`Child::try_wait`] says.
pub fn try_wait(child: &mut Child) -> std::io::Result<Option<ExitStatus>> {
    let status = child.try_wait()?;
    if status.is_some() {
        ended(child);
    }
    Ok(status)
}

/// Runs `cmd` to its end and collects its output, as
/// [`Command::output`] does (stdin closed, stdout and stderr captured).
pub fn output(cmd: &mut Command) -> std::io::Result<Output> {
    let child = spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()))?;
    let id = child.id();
    let out = child.wait_with_output();
    running().retain(|&p| p != id);
    stop_here_if_interrupted();
    out
}
