//! How a command failed, as an exit code: 2 when the input was at fault (a
//! bad experiment, a file that is not what it should be, an unknown run or
//! option), 1 when the work itself failed (a run that failed, a file that
//! could not be written). The README documents the codes; the application
//! turns an error into one (`stylelab::error::exit_code`).

/// An error caused by what the user asked for, not by the work: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// A [`BadInput`] error, for `?` in functions returning `anyhow::Result`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

/// Exit code for completed work.
pub const SUCCESS: u8 = 0;
/// Exit code for a run that failed or stalled, or work that could not be done.
pub const FAILED: u8 = 1;
/// Exit code for bad input: nothing was started.
pub const BAD_INPUT: u8 = 2;
/// Exit code for a run stopped by Ctrl-C, SIGTERM or the dashboard.
pub const STOPPED: u8 = 130;
