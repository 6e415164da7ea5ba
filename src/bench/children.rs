//! The processes the bench waits on, and what an interrupted bench does
//! with them. Ctrl-C (SIGINT), SIGTERM or a hang-up ends the bench the
//! same way each time: its children are asked to end (SIGTERM: a
//! `stylelab run` stops as it does for a user, the PyTorch reference and
//! `bench-one` end), the bench waits for them (at most
//! [`CHILDREN_GRACE`]), removes its scratch folder, says so on stderr and
//! exits with 130, as a stopped run does. Without this the bench died at
//! once and left its scratch folder (weights, raw images, runs) in the
//! temporary folder.

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The children running now, by process id.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The signal that interrupted the bench; 0 while none has.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// How long an interrupted bench waits for its children to end.
const CHILDREN_GRACE: Duration = Duration::from_secs(30);

/// Starts the thread that ends the bench on SIGINT, SIGTERM or SIGHUP
/// (see the module's notes).
pub fn end_on_signals() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            end(sig);
        }
    });
    Ok(())
}

/// [`end_on_signals`]'s work, on the signal thread.
fn end(sig: i32) -> ! {
    INTERRUPTED.store(sig, Ordering::SeqCst);
    for &pid in running().iter() {
        // SAFETY: kill(2) on a child this process started: it leaves the
        // list the moment its end is read, so only those few instructions
        // could see its id handed to another process.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    let started = Instant::now();
    while !running().is_empty() && started.elapsed() < CHILDREN_GRACE {
        std::thread::sleep(Duration::from_millis(50));
    }
    super::remove_scratch();
    eprintln!("stylelab bench: interrupted; its children ended and its scratch folder removed");
    std::process::exit(130)
}

/// The list, even when a thread panicked holding it.
fn running() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// An interrupted bench starts nothing more and goes no further: the
/// signal thread ends the process.
fn stop_here_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) != 0 {
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
    if INTERRUPTED.load(Ordering::SeqCst) != 0 {
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
