//! Headless mode's view of a run: a progress bar on a terminal, plain
//! periodic lines otherwise, and the same final summary either way. It never
//! fails a run: when the terminal goes away (SIGHUP) it falls silent and the
//! run goes on.

use crate::events::RunEvent;
use crate::record::{Status, Summary};
use crate::sinks::Sink;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct ConsoleSink {
    bar: Option<ProgressBar>,
    /// Set by the SIGHUP handler: the terminal is gone.
    hangup: Arc<AtomicBool>,
    last_line: Instant,
    line_every: Duration,
    iterations: u64,
    dir: std::path::PathBuf,
}

/// `1.23e4`-style short number.
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:.3e}")
    }
}

impl ConsoleSink {
    /// `interactive`: draw a progress bar (stderr is a terminal).
    pub fn new(interactive: bool, hangup: Arc<AtomicBool>) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} [{bar:30}] {per_sec} ETA {eta} {wide_msg}")
                    .expect("static template")
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
            dir: Default::default(),
        }
    }

    fn quiet(&mut self) -> bool {
        if self.hangup.load(Ordering::SeqCst) {
            if let Some(bar) = self.bar.take() {
                bar.set_draw_target(ProgressDrawTarget::hidden());
            }
            return true;
        }
        false
    }

    /// A line on stdout, above the bar; errors (a closed terminal) ignored.
    fn say(&self, line: &str) {
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

/// The lines printed when a run ends.
pub fn summary_lines(summary: &Summary, dir: &std::path::Path) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} after {} of {} steps",
        summary.name, summary.status, summary.steps, summary.iterations
    )];
    if let Some(e) = &summary.error {
        lines.push(format!("  error: {e}"));
    }
    lines.push(format!(
        "  {:.1} s, {:.3} s/step, {} evaluations, {} at {}×{}, peak RSS {:.0} MiB",
        summary.wall_s,
        summary.seconds_per_step,
        summary.evals,
        summary.device,
        summary.width,
        summary.height,
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
    let image = if summary.status == Status::Failed {
        " (last finite image)"
    } else {
        ""
    };
    lines.push(format!("  results: {}{image}", dir.display()));
    lines
}

impl Sink for ConsoleSink {
    fn handle(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        if self.quiet() {
            return Ok(());
        }
        match event {
            RunEvent::Started(info) => {
                self.iterations = info.iterations;
                self.dir = info.dir.clone();
                if let Some(bar) = &self.bar {
                    bar.set_length(info.iterations);
                }
                self.say(&format!(
                    "{}: {} steps of {} on {} at {}×{} → {}",
                    info.name,
                    info.iterations,
                    info.optimizer,
                    info.device,
                    info.width,
                    info.height,
                    info.dir.display()
                ));
            }
            RunEvent::Step(row) => {
                let msg = format!(
                    "total {} content {} style {} tv {}",
                    short(row.total),
                    short(row.content),
                    short(row.style),
                    short(row.tv)
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
            RunEvent::Snapshot { .. } => {}
            RunEvent::Steered { iter, term, from, to } => {
                self.say(&format!("step {iter}: {} {from} → {to}", term.name()));
            }
            RunEvent::Paused { iter, paused } => {
                self.say(&format!("step {iter}: {}", if *paused { "paused" } else { "resumed" }));
            }
            RunEvent::Finished { summary, .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                for line in summary_lines(summary, &self.dir) {
                    self.say(&line);
                }
            }
        }
        Ok(())
    }
}
