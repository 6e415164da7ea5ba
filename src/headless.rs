//! Headless mode: an experiment run with a progress display on the console,
//! its record in the run folder and, unless `output.tensorboard = false`,
//! its TensorBoard event file there too — what `stylelab run` and every
//! point of `stylelab sweep` do.

use crate::console::ConsoleSink;
use anyhow::{Context, Result};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use stylelab_core::config::Experiment;
use stylelab_core::events::Controls;
use stylelab_core::record::{RUN_DIR_PREFIX, RunPaths, Summary, SweepMember};
use stylelab_core::sinks::{RunDirSink, Tee, create_run_dir};
use stylelab_engine::preflight::Preflight;
use stylelab_tensorboard::{Feed, TensorBoardSink};

/// Flags set by signal handlers, installed once per process: the first
/// Ctrl-C or SIGTERM asks the engine to stop after the current step (a
/// second exits at once); a SIGHUP (the SSH session dropped) only silences
/// the console, and the run goes on writing its results.
#[derive(Clone)]
pub struct Signals {
    /// Set by the first SIGINT or SIGTERM; a second one exits with status 130.
    pub stop: Arc<AtomicBool>,
    /// Set by SIGHUP: the terminal is gone, so the console stops writing.
    pub hangup: Arc<AtomicBool>,
}

impl Signals {
    /// Registers the handlers; fails only when signal registration does.
    pub fn install() -> Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let hangup = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
            signal_hook::flag::register(sig, stop.clone())?;
        }
        signal_hook::flag::register(SIGHUP, hangup.clone())?;
        Ok(Signals { stop, hangup })
    }

    /// Whether a stop has been asked for.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Runs an experiment that passed its preflight to its end; returns its
/// summary and folder. `on_dir` hears of the run folder as soon as it
/// exists (a dashboard or a parent sweep wants to follow it).
pub fn execute(
    exp: &Experiment,
    checked: &Preflight,
    signals: &Signals,
    on_dir: &dyn Fn(&Path),
    sweep: Option<SweepMember>,
) -> Result<(Summary, PathBuf)> {
    let sha = stylelab_engine::weights::sha256_file(&exp.weights)
        .with_context(|| format!("cannot read {}", exp.weights.display()))?;
    let paths = create_run_dir(exp)?;
    on_dir(&paths.dir);
    let mut dir_sink = RunDirSink::new(paths.clone());
    let mut console = ConsoleSink::new(std::io::stderr().is_terminal(), signals.hangup.clone());
    // The event file beside the record: its failures are warnings, not the run's.
    let mut tensorboard = exp
        .tensorboard
        .then(|| TensorBoardSink::new(&paths.dir, Some(exp.to_toml()), Feed::Live));
    let mut tee = Tee::new().with(&mut dir_sink).with(&mut console);
    if let Some(tb) = tensorboard.as_mut() {
        tee = tee.with(tb);
    }
    let ctx = stylelab_engine::RunContext {
        exp,
        dir: &paths.dir,
        weights_sha256: sha,
        sweep,
    };
    let mut controls = Controls::for_run(signals.stop.clone(), &paths.dir);
    let summary = stylelab_engine::run(&ctx, checked.device, &mut tee, &mut controls);
    print_ending(&summary, &paths, signals);
    Ok((summary, paths.dir))
}

/// `stylelab run --print-dir`: the run folder on standard output, first,
/// as `run-dir: PATH` (how the dashboard learns where a run it launched writes).
pub fn print_dir(dir: &Path) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{RUN_DIR_PREFIX}{}", dir.display());
    let _ = out.flush();
}

/// Prints how the run ended once its folder has taken the end (or failed
/// to). When summary.json does not hold the run's end — the disk filled,
/// the folder was removed — the summary goes to standard error whole, so
/// that what the run did is not lost with it.
fn print_ending(summary: &Summary, paths: &RunPaths, signals: &Signals) {
    let json = serde_json::to_string_pretty(summary).unwrap_or_default();
    let on_disk = std::fs::read_to_string(paths.summary());
    if !matches!(&on_disk, Ok(text) if *text == json) {
        let why = match &on_disk {
            Ok(_) => "it still holds an earlier state".to_string(),
            Err(e) => e.to_string(),
        };
        let _ = writeln!(
            std::io::stderr(),
            "{}: the run's summary could not be written to {} ({why}); here it is:\n{json}",
            summary.name,
            paths.summary().display()
        );
    }
    if signals.hangup.load(Ordering::SeqCst) {
        return;
    }
    let has_image = paths.final_image().is_file();
    let mut out = std::io::stdout();
    for line in crate::console::summary_lines(summary, &paths.dir, has_image) {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}
