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
pub mod torch_error;
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

/// Fails unless `path` is a regular file (after symbolic links): a FIFO,
/// a device or a socket would block or never end when read, a folder
/// cannot be. Checked before opening, since opening a FIFO itself waits
/// for a writer.
pub fn regular_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path)?.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}
