//! stylelab, the application: the command line, the dashboard, headless
//! runs, sweeps (with `--jobs` and Slurm), scoring, doctor and the bench,
//! on top of two library crates:
//!
//! ```text
//! stylelab (this crate: cli, ui, headless, console, sweep, scoring, doctor, bench)
//!    │                 │
//!    ▼                 ▼
//! stylelab-engine ──▶ stylelab-core
//! (libtorch)          (no libtorch)
//! ```
//!
//! The core's and the engine's modules are re-exported under the names
//! they have always had here (`stylelab::config`, `stylelab::engine`, …).

pub mod bench;
pub mod check;
pub mod cli;
pub mod console;
pub mod doctor;
pub mod error;
pub mod headless;
pub mod scoring;
pub mod sweep;
pub mod ui;

pub use cli::run;
pub use stylelab_core::{
    chart, config, events, files, gpu, imaging, layer, memory, procfs, record, review, rng, scales, sinks, text,
    torch_error,
};
pub use stylelab_engine as engine;
pub use stylelab_engine::{LIBTORCH_VERSION, preflight, weights};
