//! stylelab's integration tests, in one test binary: each binary links
//! libtorch, so one binary instead of five builds and links once.
//!
//! - `architecture`: the module graph has no cycles, docs/ARCHITECTURE.md names every module.
//! - `docs`: every relative link, anchor and repository path in the README and docs/ exists.
//! - `cli`: the binary end to end on a seeded random VGG19 at 64 px.
//! - `invalid_configs`: one bad experiment per file in tests/invalid_configs/.
//! - `dashboard`: the views as insta snapshots of ratatui's TestBackend.
//! - `hostile`: hostile paths, keys, values and files: no code, no escapes, no links, no blocking reads.
//! - `engine`: the device-resident optimizers against the old CSVs, precision.
//! - `tmux`: the real dashboard driven through tmux, as a person would.
//! - `review`: the review commands on tests/fixtures/results.
//! - `scales`: multi-scale runs, colour preservation, the memory estimate and guard.
//! - `scores`: the yardstick, `score`, and where scores show.
//! - `style_statistics`: the four style statistics and styles by region, end to end.
//! - `speedups`: a convergence stop (status `converged`), precision auto, the coarse-to-fine schedule.
//! - `sweeps`: every sweep test: points, resume, collect, the script, `--jobs`, claims, `--dry-run` states, bad input.
//! - `slurm`: the emitted job array on a real one-node Slurm cluster.
//! - `run_records`: what a run's folder and messages say is true: names, full disks, failures, limits.
//! - `newcomer`: the command line and figures as a newcomer meets them.
//! - `tensorboard`: event files read by TensorBoard's own reader: scalars, images, texts, hparams, export, a killed run, a sweep.
//! - `tiling`: exact tiled evaluation from the command line: the plan in `check`, a tiled run, refusals.

// Tests may unwrap: a panic here is a failed test with its message.
#![allow(clippy::unwrap_used)]

mod architecture;
mod cli;
mod common;
mod dashboard;
mod docs;
mod engine;
mod hostile;
mod invalid_configs;
mod newcomer;
mod review;
mod run_records;
mod scales;
mod scores;
mod slurm;
mod speedups;
mod style_statistics;
mod sweeps;
mod tensorboard;
mod tiling;
mod tmux;
