//! The `stylelab` binary: parse the command line, run, report.

use std::process::ExitCode;

fn main() -> ExitCode {
    match stylelab::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}
