//! The engine: loads images and weights for an [`Experiment`](stylelab_core::config::Experiment), plans its
//! scales, computes the targets, and runs the optimizer loop, reporting
//! [`RunEvent`](stylelab_core::events::RunEvent)s to a [`Sink`](stylelab_core::sinks::Sink) and obeying [`Control`](stylelab_core::events::Control)s between steps. It
//! owns every tensor, on one thread, and reads from the device only through
//! [`reads`].
//!
//! A multi-scale run (`images.size = [256, 512, …]`) is one loop: at the end
//! of each scale the image is enlarged, the targets are recomputed from the
//! images at the new size, and the optimizer starts afresh (its history and
//! moments belong to the old size); the step count runs on.

pub mod color;
pub mod device;
pub mod imaging;
pub mod inputs;
pub mod loss;
pub mod measure;
pub mod memory_format;
#[cfg(test)]
mod memory_tests;
pub mod optim;
pub mod preflight;
pub mod reads;
mod runner;
pub mod score;
pub mod style;
pub mod vgg;
pub mod weights;

/// The libtorch this crate was built against.
pub const LIBTORCH_VERSION: &str = env!("STYLELAB_LIBTORCH_VERSION");

pub use runner::prepare::{Prepared, prepare};
pub use runner::{RunContext, image_hashes, run};

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An image could not be read (the message names the file and why).
    #[error("{0}")]
    Image(String),
    /// The weights file could not be loaded.
    #[error(transparent)]
    Weights(#[from] crate::weights::WeightsError),
    /// The weights file lacks a layer the experiment selects.
    #[error(transparent)]
    MissingLayer(#[from] crate::weights::MissingLayer),
    /// A loss term stopped being a finite number: the run diverged.
    #[error(
        "the {term} loss became {value} at step {step}{cause}; try smaller loss weights, a smaller learning rate, or another init"
    )]
    Diverged {
        term: &'static str,
        value: f64,
        step: u64,
        /// What grew too large before, when known (` (at the step before …)`).
        cause: String,
    },
    /// libtorch failed (out of memory, mostly).
    #[error("{}", stylelab_core::torch_error::summarize(&.0.to_string()))]
    Torch(#[from] tch::TchError),
    /// libtorch failed while doing `during` (e.g. loading the weights onto cuda:0).
    #[error("{during}: {}", stylelab_core::torch_error::summarize(&source.to_string()))]
    TorchDuring { during: String, source: tch::TchError },
    /// A sink could not take an event: the run folder could not be written.
    #[error("writing results failed: {0}")]
    Record(String),
}

impl EngineError {
    /// The whole text behind the one-line message (libtorch's backtrace),
    /// for the debug log; None when the message is all there is.
    pub fn detail(&self) -> Option<String> {
        match self {
            EngineError::Torch(e) | EngineError::TorchDuring { source: e, .. } => {
                stylelab_core::torch_error::detail(&e.to_string())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_allocation_failure_reads_as_one_line_with_advice() {
        // More than any machine has: libtorch's CPU allocator refuses it.
        let err = tch::Tensor::f_empty([1i64 << 50], (tch::Kind::Float, tch::Device::Cpu)).expect_err("too large");
        let text = err.to_string();
        let short = stylelab_core::torch_error::summarize(&text);
        assert_eq!(short.lines().count(), 1, "{short}");
        assert!(short.starts_with("out of memory ("), "{short}");
        assert!(!short.contains("frame #"), "{short}");
    }

    #[test]
    fn oom_messages_suggest_a_smaller_size() {
        let e = EngineError::Torch(tch::TchError::Torch(
            "CUDA out of memory. Tried to allocate 2 GiB\nException raised from ...".into(),
        ));
        let msg = e.to_string();
        assert!(
            msg.starts_with("out of memory (CUDA out of memory. Tried to allocate 2 GiB)"),
            "{msg}"
        );
        assert!(msg.contains("smaller images.size"));
    }
}
