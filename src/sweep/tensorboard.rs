//! The sweep's experiment for TensorBoard: an event file in the sweep's
//! folder whose HParams columns are the keys the sweep varies and whose
//! metrics are the points' final losses and scores. Each point's run writes
//! its own event file (its hyperparameters and how it ended) in its own
//! folder, as every run does.

use crate::sweep::Sweep;

impl Sweep {
    /// Writes the sweep's experiment into its folder unless it holds one
    /// (or the experiment says `output.tensorboard = false`). A failure is
    /// said on standard error and the sweep goes on: its runs are whole
    /// without it.
    pub fn write_tensorboard_experiment(&self) {
        if !self.tensorboard {
            return;
        }
        if let Err(e) = stylelab_tensorboard::write_sweep_experiment(&self.dir(), &self.name, &self.spec) {
            use std::io::Write as _;
            // Never a panic: the terminal may be gone while the points go on.
            let text = format!(
                "{}: TensorBoard: {e:#}; the sweep goes on without its hparams experiment \
                 (`stylelab export tensorboard` writes it with its points)",
                self.name
            );
            let _ = writeln!(std::io::stderr(), "{}", stylelab_core::text::terminal_safe(&text));
        }
    }
}
