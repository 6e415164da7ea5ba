//! How a command failed, as an exit code: 2 when the input was at fault (a
//! bad experiment, a file that is not what it should be, an unknown run or
//! option), 1 when the work itself failed (a run that failed, a file that
//! could not be written). The README documents the codes; `main` asks
//! [`exit_code`] for every error.

use crate::config::ConfigError;
use crate::weights::WeightsError;

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
/// Exit code for a run that failed, or work that could not be done.
pub const FAILED: u8 = 1;
/// Exit code for bad input: nothing was started.
pub const BAD_INPUT: u8 = 2;
/// Exit code for a run stopped by Ctrl-C, SIGTERM or the dashboard.
pub const STOPPED: u8 = 130;

/// The exit code an error calls for: [`BAD_INPUT`] when any cause in its
/// chain is a bad input, else [`FAILED`].
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad = e.chain().any(|cause| {
        cause.is::<BadInput>()
            || cause.is::<ConfigError>()
            || cause
                .downcast_ref::<WeightsError>()
                .is_some_and(WeightsError::is_bad_input)
    });
    if bad { BAD_INPUT } else { FAILED }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn bad_input_anywhere_in_the_chain_is_code_2() {
        let e = Err::<(), _>(bad_input("no run matches 'x'"))
            .context("compare")
            .unwrap_err();
        assert_eq!(exit_code(&e), BAD_INPUT);
        let io = anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write sheet.png");
        assert_eq!(exit_code(&io), FAILED);
        let write = anyhow::Error::new(WeightsError::Write {
            path: "w.safetensors".into(),
            message: "disk full".into(),
        });
        assert_eq!(exit_code(&write), FAILED);
    }
}
