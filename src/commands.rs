//! The commands' bodies, one module per command: each defines its
//! arguments (clap `Args`, with their `--help` texts), does its work
//! through the library crates, and prints what it found. `cli` parses the
//! command line and dispatches to them; what several commands share — the
//! experiment overrides, loading a checked experiment, finding runs by
//! name — lives here.

pub mod check;
pub mod compare;
pub mod doctor;
pub mod export;
pub mod run;
pub mod runs;
pub mod score;
pub mod sheet;
pub mod show;
pub mod sweep;
pub mod weights;

use crate::error::bad_input;
use anyhow::Result;
use std::path::{Path, PathBuf};
use stylelab_core::config::{self, Experiment, Override};
use stylelab_engine::preflight::{self, Preflight};

/// The folder of run folders a review command reads: `--results` as
/// given, else `results/` of the project the current folder is in (found
/// from any folder inside it, `experiments/` included), else `./results`.
pub fn results_folder(given: Option<&Path>) -> PathBuf {
    match given {
        Some(p) => p.to_path_buf(),
        None => config::find_project(Path::new("."))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("results"),
    }
}

/// The overrides `run`, `check` and `sweep` take on top of the experiment file.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct OverrideArgs {
    /// Override any key: `--set loss.style_weight=1e3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Device: auto, cpu, cuda or cuda:N (same as --set optim.device=…).
    #[arg(long)]
    pub device: Option<String>,
    /// Results folder (same as --set output.results=…).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

impl OverrideArgs {
    /// The overrides in the order they apply: every `--set`, then
    /// `--device`, then `--results` (as an absolute path). Bad input for a
    /// `--set` that is not `KEY=VALUE` or a results folder that is not UTF-8.
    pub fn to_overrides(&self) -> Result<Vec<Override>> {
        let mut out: Vec<Override> = self
            .set
            .iter()
            .map(|s| Override::parse(s).map_err(bad_input))
            .collect::<Result<_>>()?;
        if let Some(d) = &self.device {
            out.push(Override {
                key: "optim.device".into(),
                value: toml::Value::String(d.clone()),
                from_file: false,
            });
        }
        if let Some(r) = &self.results {
            let abs = config::absolute(r);
            // Never converted lossily: the run records its folder as text.
            let text = abs.to_str().ok_or_else(|| {
                bad_input(format!(
                    "--results {}: the path is not valid UTF-8, which a run's experiment.toml cannot record; \
                     use a folder whose name is UTF-8",
                    crate::sweep::slurm::comment(&abs)
                ))
            })?;
            out.push(Override {
                key: "output.results".into(),
                value: toml::Value::String(text.to_string()),
                from_file: false,
            });
        }
        Ok(out)
    }
}

/// Loads an experiment and runs its preflight.
pub fn load_checked(path: &Path, overrides: &OverrideArgs) -> Result<(Experiment, Preflight)> {
    let exp = config::load(path, &overrides.to_overrides()?)?;
    let checked = preflight::check(&exp)?;
    Ok((exp, checked))
}

/// The run folders that `specs` (folders, or unique prefixes of their
/// names) name in `results`; bad input for one that names none or several.
pub fn resolve_runs(specs: &[String], results: &Path) -> Result<Vec<PathBuf>> {
    specs
        .iter()
        .map(|s| stylelab_core::review::resolve_run(results, s).map_err(bad_input))
        .collect()
}
