//! stylelab's core: everything of the workbench that needs no libtorch.
//!
//! ```text
//! experiments/*.toml ─▶ config ─▶ scales, memory        (what a run will be)
//!                         │
//! engine (stylelab-engine) ─▶ events ─▶ sinks ─▶ record ─▶ results/<run>/
//!                                                  │
//! results/<run>/ ─▶ record ─▶ review (tables, figures, sheets) ─▶ chart
//! results/<run>/ ─▶ replay ─▶ sinks                    (a recorded run's events again)
//! ```
//!
//! Leaves any module may use: `layer` (VGG19's names), `rng`, `procfs`,
//! `gpu` (NVML), `files`, `imaging` (decode, resize), `text` (numbers as
//! people read them), `torch_error` (libtorch's messages as one line),
//! `error` (exit codes).

pub mod chart;
pub mod config;
pub mod error;
pub mod events;
pub mod files;
pub mod gpu;
pub mod imaging;
pub mod layer;
pub mod mask;
pub mod memory;
pub mod procfs;
pub mod record;
pub mod replay;
pub mod review;
pub mod rng;
pub mod scales;
pub mod sinks;
pub mod text;
pub mod tiling;
pub mod torch_error;
