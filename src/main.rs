//! The `stylelab` binary: parse the command line, run, report. Exit codes:
//! 0 completed, 130 stopped, 1 failed run or I/O failure, 2 bad input.

use std::process::ExitCode;

fn main() -> ExitCode {
    // SAFETY: the first thing the process does, before any thread exists.
    unsafe { stylelab_engine::device::set_allocator_defaults() };
    let code = match stylelab::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", stylelab_core::text::terminal_safe(&format!("{e:#}")));
            ExitCode::from(stylelab::error::exit_code(&e))
        }
    };
    stylelab::end_now(code)
}
