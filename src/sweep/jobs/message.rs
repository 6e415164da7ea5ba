//! What a point's child process tells the sweep that started it: one JSON
//! [`Message`] per line on the child's standard output, written by its
//! [`Messenger`]. Its human output — progress lines, the run's summary —
//! goes to its standard error, which the parent sends to `logs/pNNN.log`.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

/// A child's line to its parent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Message {
    /// The point's run folder exists.
    RunDir { point: usize, dir: PathBuf },
    /// The point was not run: `why`. `done`: a completed run of its
    /// settings exists (else another process is running it).
    Skipped { point: usize, why: String, done: bool },
}

/// A child's line to its parent ([`Message`]), on the standard output the
/// process started with.
#[derive(Debug, Clone)]
pub struct Messenger(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

impl Messenger {
    /// Keeps the standard output for messages and points file descriptor 1
    /// at standard error, so that everything else this process prints goes
    /// to its log.
    pub fn take_stdout() -> Result<Messenger> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let _ = std::io::stdout().flush();
        // SAFETY: dup(2) and dup2(2) on this process's standard descriptors;
        // the duplicate is owned by the File from here on.
        let file = unsafe {
            let fd = libc::dup(std::io::stdout().as_raw_fd());
            if fd < 0 || libc::dup2(std::io::stderr().as_raw_fd(), std::io::stdout().as_raw_fd()) < 0 {
                return Err(std::io::Error::last_os_error()).context("cannot set up the line to the parent sweep");
            }
            std::fs::File::from_raw_fd(fd)
        };
        Ok(Messenger(std::sync::Arc::new(std::sync::Mutex::new(file))))
    }

    /// Sends one message; a parent that went away is not an error here.
    pub fn send(&self, message: &Message) {
        if let (Ok(mut out), Ok(line)) = (self.0.lock(), serde_json::to_string(message)) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}
