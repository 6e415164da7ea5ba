//! stylelab's TensorBoard writer: runs and sweeps as event files that
//! TensorBoard (and the tools that import its files: W&B, Aim) read live.
//!
//! Pipeline position: one more sink after `events`, beside the run folder
//! (`sink::TensorBoardSink`); `stylelab export tensorboard` feeds it a
//! recorded run instead. The parts, one idea each:
//!
//! - `record`: the TFRecord framing (length, masked CRC32C);
//! - `proto`: the Event and Summary messages (prost, no protoc);
//! - `hparams`: the HParams plugin's messages and what stylelab puts in them;
//! - `summary`: one tagged value (scalar, PNG image, text, plugin data);
//! - `tags`: the tags, and which metrics.csv column each scalar mirrors;
//! - `writer`: an event file, created exclusively, flushed whole;
//! - `sink`: a run's events into its event file;
//! - `experiment`: a sweep's experiment (its hparam columns) in its folder.
//!
//! It depends on `stylelab-core` and never the reverse: the core holds no
//! protobuf.

pub mod experiment;
pub mod hparams;
pub mod proto;
pub mod record;
pub mod sink;
pub mod summary;
pub mod tags;
pub mod writer;

pub use experiment::write_sweep_experiment;
pub use sink::{Feed, TensorBoardSink};
pub use writer::has_event_file;
