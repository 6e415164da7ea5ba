//! How a command failed, as an exit code: 2 when the input was at fault (a
//! bad experiment, a file that is not what it should be, an unknown run or
//! option), 1 when the work itself failed (a run that failed, a file that
//! could not be written). The README documents the codes; `main` asks
//! [`exit_code`] for every error. The markers live where the errors are
//! made: [`BadInput`] in the core, `WeightsError` in the engine.

use stylelab_core::config::ConfigError;
use stylelab_core::config::sweep::SweepError;
pub use stylelab_core::error::{BAD_INPUT, BadInput, FAILED, STOPPED, SUCCESS, bad_input};
use stylelab_engine::weights::WeightsError;

/// The exit code an error calls for: [`BAD_INPUT`] when any cause in its
/// chain is a bad input, else [`FAILED`].
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad = e.chain().any(|cause| {
        cause.is::<BadInput>()
            || cause.is::<ConfigError>()
            || cause.is::<SweepError>()
            || cause
                .downcast_ref::<WeightsError>()
                .is_some_and(WeightsError::is_bad_input)
    });
    if bad { BAD_INPUT } else { FAILED }
}

/// The exit code of a run that ended: 0 completed, 130 stopped, 1 failed
/// or stalled.
pub fn status_code(status: stylelab_core::record::Status) -> std::process::ExitCode {
    use stylelab_core::record::Status;
    std::process::ExitCode::from(match status {
        Status::Completed | Status::Converged => SUCCESS,
        Status::Stopped => STOPPED,
        Status::Failed | Status::Stalled | Status::Running => FAILED,
    })
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
