//! How a point ended, as a run's [`Status`]: a child's exit read as one,
//! and which of two statuses a sweep reports.

use stylelab_core::record::Status;

/// Stopped outranks failed, failed outranks completed.
pub fn worse(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Stopped => 3,
        Status::Failed | Status::Stalled | Status::Running => 2,
        Status::Completed | Status::Converged => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// A child's exit as a run's status (see `error`'s codes). A child ended by
/// SIGINT or SIGTERM before its handlers were in place (it was just
/// starting) was stopped, not failed.
pub fn end_status(exit: std::process::ExitStatus) -> Status {
    use std::os::unix::process::ExitStatusExt;
    match (exit.code().map(|c| c as u8), exit.signal()) {
        (Some(crate::error::SUCCESS), _) => Status::Completed,
        (Some(crate::error::STOPPED), _) => Status::Stopped,
        (None, Some(libc::SIGINT | libc::SIGTERM)) => Status::Stopped,
        _ => Status::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
