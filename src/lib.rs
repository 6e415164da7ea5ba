//! stylelab, the application: the command line, the dashboard, headless
//! runs, sweeps (with `--jobs` and Slurm), scoring, doctor and the bench,
//! on top of three library crates:
//!
//! ```text
//! stylelab (this crate: cli, commands, ui, headless, console, sweep, scoring, doctor, bench)
//!    │                 │                  │
//!    ▼                 ▼                  ▼
//! stylelab-engine ──▶ stylelab-core ◀── stylelab-tensorboard
//! (libtorch)          (no libtorch)      (event files, no libtorch)
//! ```
//!
//! The core's and the engine's modules are re-exported under the names
//! they have always had here (`stylelab_core::config`, `stylelab_engine`, …).

/// `println!` through [`stylelab_core::text::terminal_safe`]: the one rule for text that
/// reaches a terminal. Every printer of the command line uses it (or
/// `safe_print!`), so a path, key, value, metadata string or claim that
/// holds an escape sequence is shown, never obeyed.
macro_rules! safe_println {
    ($($arg:tt)*) => {
        println!("{}", stylelab_core::text::terminal_safe(&format!($($arg)*)))
    };
}

/// `print!` through [`stylelab_core::text::terminal_safe`] (see `safe_println!`).
macro_rules! safe_print {
    ($($arg:tt)*) => {
        print!("{}", stylelab_core::text::terminal_safe(&format!($($arg)*)))
    };
}

/// `eprintln!` through [`stylelab_core::text::terminal_safe`] (see `safe_println!`).
macro_rules! safe_eprintln {
    ($($arg:tt)*) => {
        eprintln!("{}", stylelab_core::text::terminal_safe(&format!($($arg)*)))
    };
}

pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod console;
pub mod doctor;
pub mod error;
pub mod headless;
pub mod scoring;
pub mod sweep;
pub mod ui;

pub use cli::run;

/// Ends the process with `code` once everything is written: standard
/// output and error flushed, then `_exit(2)`, without the C++ teardown of
/// libtorch's static state (about 0.1 s of a CPU run's end, measured by
/// strace between the last line and the process's exit), which holds
/// nothing of ours: every file is written, closed and renamed by then.
pub fn end_now(code: std::process::ExitCode) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let status = (0..=u8::MAX)
        .find(|&n| std::process::ExitCode::from(n) == code)
        .unwrap_or(1);
    // SAFETY: _exit(2) ends the process; nothing after it runs.
    unsafe { libc::_exit(i32::from(status)) }
}
