//! `stylelab sweep`: an experiment file's `[sweep]` table (validated by the
//! core, `stylelab_core::config::sweep`) gives points, and each point is an
//! ordinary run named `<name>-pNNN`. Runs are found again by that name, so
//! a sweep restarted skips the points that completed, cluster nodes can
//! run single points (`--point N`) with no shared state but the results
//! folder, and `--collect` rebuilds the sweep's `index.csv` and contact
//! sheet from whatever has finished.
//!
//! A command on top of the pipeline: each point goes through config →
//! preflight → engine → sinks like any run (`jobs` runs it, here or in a
//! child process, through `headless::execute`), and the sweep reads the
//! results back through `review` to see which points are done.
//!
//! This file holds the [`Sweep`] and what every part of it shares; one
//! idea per submodule:
//!
//! - `ownership`: the sweep's folder belongs to one sweep (`sweep.toml`);
//! - `runs`: which runs are a point's, and which one completed it;
//! - `state`: where each point stands (`--dry-run`);
//! - `claim`: which process runs which point;
//! - `jobs`: running the points, here or in child processes;
//! - `collect`: the sweep's `index.csv`, contact sheet and trade-off plot;
//! - `tensorboard`: the sweep's experiment for TensorBoard's HParams table;
//! - `slurm`: the job-array script (`--emit slurm`).

pub mod claim;
pub mod collect;
pub mod jobs;
pub mod ownership;
pub mod runs;
pub mod slurm;
pub mod state;
pub mod tensorboard;

use crate::error::bad_input;
use anyhow::Result;
use std::path::{Path, PathBuf};
use stylelab_core::config::sweep::{SweepPoint, SweepSpec};
use stylelab_core::config::{self, DeviceChoice, Experiment, Override};

pub use stylelab_core::review::sweeps::OWNER_FILE;

/// A sweep of an experiment file, every point checked.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The experiment file, as given.
    pub source: PathBuf,
    /// The base experiment's name (after overrides); points are named from it.
    pub name: String,
    /// The `[sweep]` table and its points.
    pub spec: SweepSpec,
    /// The base experiment's results folder, where every point's run goes.
    pub results: PathBuf,
    /// Overrides from the command line, applied to every point.
    pub overrides: Vec<Override>,
    /// The base experiment's device.
    pub device: DeviceChoice,
    /// Whether the base experiment writes TensorBoard event files
    /// (`output.tensorboard`): then the sweep's folder gets its experiment.
    pub tensorboard: bool,
}

impl Sweep {
    /// Reads an experiment file's sweep, checking every point's config.
    ///
    /// `overrides` (`--set`) apply to the base experiment and to every point.
    /// Bad-input error when the file has no `[sweep]` table or it does not
    /// expand; a point whose config does not validate is named by index and values.
    pub fn load(path: &Path, overrides: &[Override]) -> Result<Sweep> {
        let base = config::load(path, overrides)?;
        let Some(spec) = SweepSpec::load(&base, overrides)? else {
            return Err(bad_input(format!(
                "{}: has no [sweep] table (see the README for one)",
                path.display()
            )));
        };
        Ok(Sweep {
            source: path.to_path_buf(),
            name: base.name,
            spec,
            results: base.results,
            overrides: overrides.to_vec(),
            device: base.device,
            tensorboard: base.tensorboard,
        })
    }

    /// The run name of a point: `<name>-p007`. Runs are matched to points by it.
    pub fn point_name(&self, index: usize) -> String {
        config::sweep::point_name(&self.name, index)
    }

    /// The validated experiment of a point: the file loaded again with the
    /// command-line overrides, then the point's values, then its name.
    pub fn experiment(&self, p: &SweepPoint) -> Result<Experiment> {
        Ok(SweepSpec::experiment(&self.source, &self.overrides, &self.name, p)?)
    }

    /// `results/<name>-sweep/`: the index, the sheet and the Slurm script.
    pub fn dir(&self) -> PathBuf {
        stylelab_core::review::sweeps::folder(&self.results, &self.name)
    }

    /// Who is running which point: `<sweep dir>/claims/`.
    pub fn claims(&self) -> claim::Claims {
        claim::Claims::new(&self.dir())
    }

    /// The summary's record of point `index` of this sweep.
    pub fn member(&self, index: usize) -> stylelab_core::record::SweepMember {
        stylelab_core::record::SweepMember {
            name: self.name.clone(),
            point: index,
            points: self.spec.points.len(),
        }
    }

    /// The command-line arguments that give a point the overrides this
    /// sweep was loaded with: ` --set 'key=value'` each.
    pub fn set_args(&self) -> Vec<String> {
        self.overrides
            .iter()
            // As TOML, so that `--set` reads back the very value (strings
            // quoted and escaped).
            .flat_map(|o| ["--set".to_string(), format!("{}={}", o.key, o.value)])
            .collect()
    }
}
