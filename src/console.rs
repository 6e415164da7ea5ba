//! Headless mode's view of a run: a progress bar on a terminal, plain
//! periodic lines otherwise, and the same final summary either way. It never
//! fails a run: when the terminal goes away (SIGHUP) it falls silent and the
//! run goes on.
//!
//! Pipeline position: a sink, after events. `headless::execute` tees the
//! engine's events to the run folder first and to [`ConsoleSink`] second;
//! `stylelab show` and the dashboard reuse [`summary_lines`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stylelab_core::events::RunEvent;
use stylelab_core::record::{Status, Summary};
use stylelab_core::sinks::Sink;
use stylelab_core::text::short;

/// Prints a run's progress: the bar (or lines) and the steering, pause and
/// end messages. Messages go to stdout, the bar to stderr.
pub struct ConsoleSink {
    /// The progress bar on stderr; `None` when not interactive, after a
    /// hangup, and once the run has finished.
    bar: Option<ProgressBar>,
    /// Set by the SIGHUP handler: the terminal is gone.
    hangup: Arc<AtomicBool>,
    /// When the last periodic step line was printed (no bar only).
    last_line: Instant,
    /// Least time between periodic step lines (10 s).
    line_every: Duration,
    /// Steps asked for, from the `Started` event; 0 before it.
    iterations: u64,
    /// Whether the run is on CUDA, and its GPU memory as last looked up.
    cuda: bool,
    gpu_checked: Option<Instant>,
    gpu_mib: Option<f64>,
}

impl ConsoleSink {
    /// The opening lines: what runs where, and each tiled scale's tiles.
    fn started(&mut self, info: &stylelab_core::events::RunInfo) {
        self.iterations = info.iterations;
        self.cuda = info.device.starts_with("cuda");
        if let Some(bar) = &self.bar {
            bar.set_length(info.iterations);
        }
        self.say(&format!(
            "{}: {} of {} on {} at {} → {}",
            info.name,
            stylelab_core::text::count(info.iterations, "step"),
            info.optimizer,
            info.device,
            info.summary.size_text(),
            info.dir.display()
        ));
        for (i, s) in info.summary.scales.iter().enumerate() {
            if let Some(t) = s.tiling {
                self.say(&format!(
                    "scale {} ({}×{}): {} tiles of {} px with a {} px halo (exact)",
                    i + 1,
                    s.width,
                    s.height,
                    t.tiles,
                    t.tile,
                    t.halo
                ));
            }
        }
    }

    /// `interactive`: draw a progress bar (stderr is a terminal).
    pub fn new(interactive: bool, hangup: Arc<AtomicBool>) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} [{bar:30}] {per_sec} ETA {eta} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        ConsoleSink {
            bar,
            hangup,
            last_line: Instant::now(),
            line_every: Duration::from_secs(10),
            iterations: 0,
            cuda: false,
            gpu_checked: None,
            gpu_mib: None,
        }
    }

    /// Whether the terminal has hung up; the first time it has, hides the bar
    /// so that nothing more is drawn.
    fn quiet(&mut self) -> bool {
        if self.hangup.load(Ordering::SeqCst) {
            if let Some(bar) = self.bar.take() {
                bar.set_draw_target(ProgressDrawTarget::hidden());
            }
            return true;
        }
        false
    }

    /// `  GPU 1234 MiB` on CUDA runs (NVML, looked up at most once a
    /// second), else nothing.
    fn gpu_memory(&mut self) -> String {
        if !self.cuda {
            return String::new();
        }
        if self.gpu_checked.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            self.gpu_checked = Some(Instant::now());
            self.gpu_mib = stylelab_core::gpu::process_mib(std::process::id());
        }
        self.gpu_mib.map(|m| format!("  GPU {m:.0} MiB")).unwrap_or_default()
    }

    /// A line on stdout, above the bar; errors (a closed terminal) ignored.
    fn say(&self, line: &str) {
        let line = stylelab_core::text::terminal_safe(line);
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                let _ = writeln!(std::io::stdout(), "{line}");
            }),
            None => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    }
}

/// The lines printed when a run ends; `has_image`: whether it left an
/// image (a run that fails before its first step leaves none).
///
/// Status and steps, the error if any, time/device/size/peak RSS (MiB), the
/// final losses if any, and the run folder with a note on its image.
pub fn summary_lines(summary: &Summary, dir: &std::path::Path, has_image: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} after {} of {}",
        summary.name,
        summary.status,
        summary.steps,
        stylelab_core::text::count(summary.iterations, "step")
    )];
    if let Some(e) = &summary.error {
        let label = if summary.status == Status::Stalled {
            "why"
        } else {
            "error"
        };
        lines.push(format!("  {label}: {e}"));
    }
    if let Some(why) = &summary.why {
        lines.push(format!("  why: {why}"));
    }
    let gpu = summary
        .peak_gpu_mib
        .map(|m| format!(", peak GPU {m:.0} MiB"))
        .unwrap_or_default();
    lines.push(format!(
        "  {:.1} s, {:.3} s/step, {} evaluations, {} {} at {}, peak RSS {:.0} MiB{gpu}",
        summary.wall_s,
        summary.seconds_per_step,
        summary.evals,
        summary.device,
        summary.precision,
        summary.size_text(),
        summary.peak_rss_mib
    ));
    if let Some(l) = &summary.final_losses {
        lines.push(format!(
            "  final total {}  content {}  style {}  tv {}",
            short(l.total),
            short(l.content),
            short(l.style),
            short(l.tv)
        ));
    }
    if let Some(share) = summary.clipped.filter(|&s| s > 0.0) {
        lines.push(format!(
            "  final.png clamps {:.2} % of the image's values to [0, 1]: the losses are the unclamped image's, the \
             scores the saved one's",
            100.0 * share
        ));
    }
    if let Some(s) = &summary.scores {
        lines.push(format!(
            "  scores (at {} px): content_dist {:.4}  style_dist {:.4}  color_dist {:.4}  ssim {:.4}",
            s.size, s.content_dist, s.style_dist, s.color_dist, s.ssim
        ));
    }
    let image = match (summary.status, has_image) {
        (Status::Failed | Status::Stalled, true) => " (final.png: the last finite image)",
        (_, false) => " (no image)",
        _ => "",
    };
    lines.push(format!("  results: {}{image}", dir.display()));
    lines
}

/// Never returns an error: a console that cannot print must not fail the run.
/// Without a bar, a step line is printed at step 0, at the last step, and
/// otherwise at most every 10 s.
impl Sink for ConsoleSink {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        if self.quiet() {
            return Ok(());
        }
        match event {
            RunEvent::Started(info) => self.started(info),
            RunEvent::Step(row) => {
                let msg = format!(
                    "total {} content {} style {} tv {}{}",
                    short(row.total),
                    short(row.content),
                    short(row.style),
                    short(row.tv),
                    self.gpu_memory()
                );
                match &self.bar {
                    Some(bar) => {
                        bar.set_position(row.iter);
                        bar.set_message(msg);
                    }
                    None => {
                        let last = row.iter == self.iterations;
                        if row.iter == 0 || last || self.last_line.elapsed() >= self.line_every {
                            self.last_line = Instant::now();
                            let rate = if row.elapsed_s > 0.0 {
                                row.iter as f64 / row.elapsed_s
                            } else {
                                0.0
                            };
                            self.say(&format!(
                                "step {}/{} ({} evals, {:.1} s, {rate:.2} steps/s): {msg}",
                                row.iter, self.iterations, row.evals, row.elapsed_s
                            ));
                        }
                    }
                }
            }
            RunEvent::Evaluating(p) => match &self.bar {
                Some(bar) => bar.set_message(format!("evaluating: {}", p.words())),
                None => {
                    if self.last_line.elapsed() >= self.line_every {
                        self.last_line = Instant::now();
                        self.say(&format!(
                            "after step {}/{}: evaluating, {}",
                            p.iter,
                            self.iterations,
                            p.words()
                        ));
                    }
                }
            },
            RunEvent::Snapshot { .. } | RunEvent::Debug(_) => {}
            RunEvent::Steered { .. }
            | RunEvent::Scale { .. }
            | RunEvent::Paused { .. }
            | RunEvent::Refused { .. }
            | RunEvent::Warning(_) => {
                if let Some(line) = stylelab_core::sinks::log_line(event) {
                    self.say(&line.text());
                }
            }
            // The outcome is printed by the caller once the run folder has
            // taken it: writing the final image or summary can still fail.
            RunEvent::Finished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: Status) -> Summary {
        Summary {
            name: "x".into(),
            status,
            error: Some("out of memory".into()),
            why: None,
            started: String::new(),
            finished: None,
            steps: 0,
            iterations: 10,
            evals: 0,
            wall_s: 0.0,
            seconds_per_step: 0.0,
            device: "cpu".into(),
            libtorch: String::new(),
            stylelab: String::new(),
            weights: String::new(),
            weights_sha256: String::new(),
            images_sha256: Default::default(),
            seed: 0,
            width: 0,
            height: 0,
            peak_rss_mib: 0.0,
            peak_gpu_mib: None,
            final_losses: None,
            clipped: None,
            pid: None,
            precision: "fp32".into(),
            precision_choice: None,
            memory_format: String::new(),
            host_reads_per_step: None,
            seconds_to_first_evaluation: None,
            seconds_to_first_step: None,
            startup: Vec::new(),
            scales: Vec::new(),
            style_losses: Default::default(),
            regions: Vec::new(),
            scores: None,
            sweep: None,
            host: None,
            visible_devices: None,
            cuda_alloc_conf: None,
        }
    }

    #[test]
    fn a_run_without_an_image_says_so_and_still_names_its_folder() {
        let dir = std::path::Path::new("results/20261121-101500-x");
        let lines = summary_lines(&summary(Status::Failed), dir, false);
        let last = lines.last().expect("lines");
        assert_eq!(last, "  results: results/20261121-101500-x (no image)");
        let lines = summary_lines(&summary(Status::Failed), dir, true);
        assert!(
            lines
                .last()
                .expect("lines")
                .ends_with("(final.png: the last finite image)")
        );
    }
}
