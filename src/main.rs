//! The `stylelab` binary: parse the command line, run, report. Exit codes:
//! 0 completed, 130 stopped, 1 failed run or I/O failure, 2 bad input.

use std::process::ExitCode;

fn main() -> ExitCode {
    match stylelab::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(stylelab::error::exit_code(&e))
        }
    }
}
