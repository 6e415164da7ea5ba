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
