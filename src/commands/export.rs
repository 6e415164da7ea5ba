//! `stylelab export tensorboard`: TensorBoard event files for runs recorded
//! without one — before the sink existed, or with `output.tensorboard =
//! false`. Each run's record is read back as the events that made it
//! (`stylelab_core::replay`) and handed to the very sink live runs write
//! through (`stylelab_tensorboard::TensorBoardSink`): one writer, two
//! callers. A sweep's points bring their sweep's experiment (its hparam
//! columns) into the sweep's folder.

use super::{resolve_runs, results_folder};
use crate::error::{self, bad_input};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stylelab_core::config::sweep::SweepSpec;
use stylelab_core::record::{RunPaths, read_summary};
use stylelab_core::review::{self, RunState};
use stylelab_tensorboard::{Feed, TensorBoardSink, has_event_file};

/// `stylelab export`'s arguments: what to export to.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The format.
    #[command(subcommand)]
    pub format: ExportFormat,
}

/// The formats runs can be exported to.
#[derive(clap::Subcommand, Debug)]
pub enum ExportFormat {
    /// TensorBoard event files for runs recorded without one (before the
    /// sink existed, or with output.tensorboard = false): the same scalars,
    /// images, texts and hparams a live run writes. Never replaces an event file.
    Tensorboard(TensorboardArgs),
}

/// `stylelab export tensorboard`'s arguments.
#[derive(clap::Args, Debug)]
pub struct TensorboardArgs {
    /// Run folders, or unique prefixes of their names (default: every run
    /// of the results folder that has ended and has no event file).
    pub runs: Vec<String>,
    /// Write DIR/RUN_FOLDER/events.out.tfevents… (and DIR/NAME-sweep/ for
    /// sweeps) instead of into the runs' own folders.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// Exports; exit code 1 when a run could not be exported (it is named).
pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    match &args.format {
        ExportFormat::Tensorboard(a) => tensorboard(a),
    }
}

/// `export tensorboard`: each run, then the sweeps their points belong to.
fn tensorboard(args: &TensorboardArgs) -> Result<ExitCode> {
    let results = results_folder(args.results.as_deref());
    let dirs = if args.runs.is_empty() {
        unexported(&results, args.out.as_deref())
    } else {
        resolve_runs(&args.runs, &results)?
    };
    let mut failed = 0;
    let mut sweeps = BTreeSet::new();
    for dir in &dirs {
        match export_run(dir, args.out.as_deref()) {
            Ok(path) => {
                safe_println!("wrote {}", path.display());
                if let Some(m) = read_summary(dir).ok().and_then(|s| s.sweep) {
                    sweeps.insert(m.name);
                }
            }
            Err(e) => {
                failed += 1;
                safe_eprintln!("{}: {e:#}", dir.display());
            }
        }
    }
    if dirs.is_empty() {
        safe_println!(
            "every run in {} that has ended has an event file already",
            results.display()
        );
    }
    for name in sweeps {
        match export_sweep(&results, &name, args.out.as_deref()) {
            Ok(Some(path)) => safe_println!("wrote {}", path.display()),
            Ok(None) => {}
            Err(e) => {
                failed += 1;
                safe_eprintln!("sweep {name}: {e:#}");
            }
        }
    }
    Ok(ExitCode::from(if failed > 0 { error::FAILED } else { error::SUCCESS }))
}

/// The runs of `results` an export without names takes: those that have
/// ended (a live one would be cut at its present step) and have no event
/// file where it would go.
fn unexported(results: &Path, out: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = review::list_runs(results)
        .into_iter()
        .filter(|r| !matches!(r.state, RunState::Running | RunState::Paused | RunState::Broken(_)))
        .filter(|r| target(&r.dir, out).is_ok_and(|t| !has_event_file(&t)))
        .map(|r| r.dir)
        .collect();
    dirs.sort();
    dirs
}

/// Where a run's event file goes: its own folder, or `out/<its folder's name>`.
fn target(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    match out {
        None => Ok(dir.to_path_buf()),
        Some(out) => {
            let name = dir
                .file_name()
                .ok_or_else(|| bad_input(format!("{}: names no run folder", dir.display())))?;
            Ok(out.join(name))
        }
    }
}

/// Writes one run's event file; refuses a live run and a folder that has
/// an event file already. A file left half-written by an error is removed.
fn export_run(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    if matches!(review::load_entry(dir).state, RunState::Running | RunState::Paused) {
        anyhow::bail!("still running: export it once it has ended (its event file would stop at this step)");
    }
    let to = target(dir, out)?;
    if let Some(existing) = stylelab_tensorboard::writer::event_files(&to).next() {
        let name = existing.file_name().unwrap_or_default().to_string_lossy().into_owned();
        anyhow::bail!(
            "{} already has an event file ({name}): not written again; remove it to write a new one",
            to.display()
        );
    }
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    let experiment =
        stylelab_core::files::read_text_bounded(&RunPaths::new(dir).experiment(), stylelab_core::files::TEXT_LIMIT)
            .ok();
    let mut sink = TensorBoardSink::new(&to, experiment, Feed::Replay);
    let replayed = stylelab_core::replay::replay(dir, &mut sink);
    match (replayed, sink.path()) {
        (Ok(()), Some(path)) => Ok(path.to_path_buf()),
        (Ok(()), None) => anyhow::bail!("the run's record gave no events"),
        (Err(e), written) => {
            if let Some(path) = written {
                let _ = std::fs::remove_file(path);
            }
            Err(e)
        }
    }
}

/// Writes the experiment of the sweep `name` (its hparam columns, from its
/// folder's `sweep.toml`) into its folder, or `out/<name>-sweep/`, unless
/// one is there. None when there was one, or the sweep records no table.
fn export_sweep(results: &Path, name: &str, out: Option<&Path>) -> Result<Option<PathBuf>> {
    let folder = review::sweeps::folder(results, name);
    let owner = folder.join(review::sweeps::OWNER_FILE);
    let Ok(text) = stylelab_core::files::read_text_bounded(&owner, stylelab_core::files::TEXT_LIMIT) else {
        return Ok(None);
    };
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("cannot read {}", owner.display()))?;
    let Some(sweep) = table.get("sweep").and_then(toml::Value::as_table) else {
        return Ok(None);
    };
    let spec = SweepSpec::expand(sweep).map_err(|e| anyhow::anyhow!("{}: {e}", owner.display()))?;
    let to = target(&folder, out)?;
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    stylelab_tensorboard::write_sweep_experiment(&to, name, &spec)
}
