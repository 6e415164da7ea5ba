//! stylelab: a terminal workbench for neural style transfer experiments.
//!
//! ```text
//! experiments/*.toml ─▶ config ─▶ preflight ─▶ engine ─▶ events ─▶ sinks ─▶ results/<run>/
//!                       (pure)    (files,      (VGG19,     │         (run folder: record's schema)
//!                                  weights,     losses,    └──▶ console (headless progress)
//!                                  device)      optim)
//! results/<run>/ ─▶ record ─▶ review (runs, compare, show, sheet) ─▶ chart
//!                          └─▶ ui (dashboard: follow → state → view) ─▶ chart
//!                                  └─ control file ─▶ events::Controls ─▶ engine
//! ```
//!
//! Leaves that any box may use: `layer` (VGG19's names), `rng` (seeded
//! numbers), `procfs` (process memory), `error` (exit codes). The commands
//! (`cli`, `headless`, `sweep`, `doctor`, `bench`) sit on top.

pub mod bench;
pub mod chart;
pub mod cli;
pub mod config;
pub mod console;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod events;
pub mod gpu;
pub mod headless;
pub mod layer;
pub mod preflight;
pub mod procfs;
pub mod record;
pub mod review;
pub mod rng;
pub mod scoring;
pub mod sinks;
pub mod sweep;
pub mod ui;
pub mod weights;

pub use cli::run;

/// The libtorch this binary was built against.
pub const LIBTORCH_VERSION: &str = env!("STYLELAB_LIBTORCH_VERSION");

/// The files in `dir` whose names end in `.ext`, sorted; none when `dir`
/// cannot be read.
pub fn files_with_extension(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}
