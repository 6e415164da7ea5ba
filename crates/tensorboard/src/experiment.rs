//! A sweep's event file, in its folder (`results/<name>-sweep/`): the
//! HParams plugin's experiment, whose columns are the keys the sweep varies
//! and whose metrics are the runs' final losses and scores. TensorBoard's
//! HParams table then lists each point's run with those columns.

use crate::writer::{EventWriter, has_event_file};
use crate::{hparams, summary};
use anyhow::{Context, Result};
use prost::Message;
use std::path::{Path, PathBuf};
use stylelab_core::config::sweep::SweepSpec;

/// Writes the experiment of the sweep `name` into its folder `dir`, unless
/// the folder already holds an event file (the sweep's folder belongs to one
/// sweep, so one experiment serves every time it runs). Returns the file
/// written, None when there was one.
pub fn write_sweep_experiment(dir: &Path, name: &str, spec: &SweepSpec) -> Result<Option<PathBuf>> {
    if has_event_file(dir) {
        return Ok(None);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut w = EventWriter::create(dir, &format!("{name}-sweep"), now)
        .with_context(|| format!("cannot create an event file in {}", dir.display()))?;
    let data = hparams::sweep_experiment(name, spec, now);
    w.summary(
        now,
        0,
        vec![summary::plugin(
            hparams::EXPERIMENT_TAG,
            hparams::PLUGIN_NAME,
            data.encode_to_vec(),
        )],
    );
    w.flush()
        .with_context(|| format!("cannot write {}", w.path().display()))?;
    Ok(Some(w.path().to_path_buf()))
}
