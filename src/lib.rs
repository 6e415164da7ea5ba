//! stylelab: a terminal workbench for neural style transfer experiments.
//!
//! ```text
//! experiments/*.toml ─▶ config ─▶ engine ─▶ events ─▶ sinks (CSV, images, run folder)
//!                                                      └──▶ console (headless)
//! results/<run>/ ─▶ record (the run folder's schema)
//! ```

pub mod bench;
pub mod cli;
pub mod config;
pub mod console;
pub mod doctor;
pub mod engine;
pub mod events;
pub mod headless;
pub mod layer;
pub mod record;
pub mod review;
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
