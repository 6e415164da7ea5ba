//! Follows a run folder as it grows — metrics rows, snapshots, the events
//! log, the summary — and reports what changed, and only what changed. The
//! dashboard watches every run this way, whether it launched it or
//! re-attached to one started elsewhere (headless, or before an SSH session
//! dropped). Once a run has ended and its final image is sent, nothing more
//! can change and the follower returns.

use super::widgets::DisplayImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use stylelab_core::events::EvalProgress;
use stylelab_core::record::{
    LogEvent, MetricsHeader, MetricsReader, RunPaths, Status, StepMetrics, Summary, Tail, Term,
};
use stylelab_core::review;

/// Something new in a followed run folder.
#[derive(Debug, Clone)]
pub enum LiveUpdate {
    /// The run's `experiment.toml` as flat dotted keys; sent once, when it exists.
    Config(BTreeMap<String, String>),
    /// `summary.json`, each time it is rewritten.
    Summary(Box<Summary>),
    /// The metrics file's header, once its first line is in.
    Header(MetricsHeader),
    /// Metrics rows appended since the last look, oldest first.
    Rows(Vec<StepMetrics>),
    /// Every snapshot so far, (step, file), oldest first; sent when their number changes.
    Snapshots(Vec<(u64, PathBuf)>),
    /// A decoded image: the newest snapshot, or the final image once the run ended.
    Image { iter: u64, image: Arc<DisplayImage> },
    /// A loss weight changed after step `iter` (from the events log).
    Steered { iter: u64, term: Term, from: f64, to: f64 },
    /// The run paused (true) or resumed (false).
    Paused(bool),
    /// A multi-scale run moved to scale `index` of `count` after step `iter`.
    Scale {
        iter: u64,
        index: usize,
        count: usize,
        width: u32,
        height: u32,
    },
    /// How far the tiled evaluation under way has got; None once it is over.
    Progress(Option<EvalProgress>),
    /// The process running it: whether it is alive, its resident memory
    /// and its GPU memory (NVML; None on CPU runs), in whole MiB. Sent when
    /// any of them changes.
    Process {
        alive: bool,
        rss_mib: Option<f64>,
        gpu_mib: Option<f64>,
    },
}

/// A file's modification time; None when it is missing or the time unknown.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Longest side of images kept for display: more than a 250-column
/// terminal shows with half blocks (2 pixels a cell).
const DISPLAY_PIXELS: u32 = 512;

/// Decodes an image for display, downscaled once here rather than at every
/// frame (None while the file is being replaced).
pub fn load_image(path: &Path) -> Option<Arc<DisplayImage>> {
    let img = image::open(path).ok()?;
    let img = if img.width().max(img.height()) > DISPLAY_PIXELS {
        img.thumbnail(DISPLAY_PIXELS, DISPLAY_PIXELS)
    } else {
        img
    };
    Some(Arc::new(DisplayImage::new(img.to_rgb8())))
}

/// What the follower has seen of a run folder so far.
struct Seen {
    /// The folder's file names.
    paths: RunPaths,
    /// New lines of `metrics.csv`.
    metrics: Tail,
    /// New lines of `events.log`: steering, pauses, scale changes.
    events: Tail,
    /// Reads rows once the metrics header has been seen.
    reader: Option<MetricsReader>,
    /// The config has been sent.
    config_sent: bool,
    /// The summary's modification time when last read: unchanged means nothing to send.
    summary_modified: Option<SystemTime>,
    /// The run's process while its summary says running.
    pid: Option<u32>,
    /// (alive, RSS, GPU memory, in whole MiB) as last sent.
    process: Option<(bool, Option<u64>, Option<u64>)>,
    /// The final step count once the summary says the run ended.
    ended_at: Option<u64>,
    /// Snapshots seen: a different count means the list is sent again.
    snapshots: usize,
    /// The tiled evaluation's progress as last sent.
    progress: Option<EvalProgress>,
}

impl Seen {
    /// Nothing seen yet of the run in `dir`.
    fn new(dir: &Path) -> Self {
        let paths = RunPaths::new(dir);
        Seen {
            metrics: Tail::new(paths.metrics()),
            events: Tail::new(paths.events()),
            paths,
            reader: None,
            config_sent: false,
            summary_modified: None,
            pid: None,
            process: None,
            ended_at: None,
            snapshots: 0,
            progress: None,
        }
    }

    /// Everything new since the last look, in the order a reader wants it.
    fn changes(&mut self) -> Vec<LiveUpdate> {
        let mut out = Vec::new();
        if !self.config_sent && self.paths.experiment().exists() {
            self.config_sent = true;
            out.push(LiveUpdate::Config(review::flat_config(&self.paths.dir)));
        }
        self.summary(&mut out);
        self.process(&mut out);
        self.rows(&mut out);
        for line in self.events.new_lines() {
            match LogEvent::parse_line(&line) {
                Some(LogEvent::Steered { iter, term, from, to }) => {
                    out.push(LiveUpdate::Steered { iter, term, from, to })
                }
                Some(LogEvent::Paused { paused, .. }) => out.push(LiveUpdate::Paused(paused)),
                Some(LogEvent::Scale {
                    iter,
                    index,
                    count,
                    width,
                    height,
                }) => out.push(LiveUpdate::Scale {
                    iter,
                    index,
                    count,
                    width,
                    height,
                }),
                _ => {}
            }
        }
        self.snapshots(&mut out);
        self.progress(&mut out);
        out
    }

    /// The `progress` file of a running run: sent when it changes, None
    /// when it is gone (the evaluation is over). Read bounded and parsed:
    /// anything else in it is ignored.
    fn progress(&mut self, out: &mut Vec<LiveUpdate>) {
        let now = if self.pid.is_some() {
            stylelab_core::files::read_bounded(&self.paths.progress(), 256)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|line| EvalProgress::parse(&line))
        } else {
            None
        };
        if now != self.progress {
            self.progress = now;
            out.push(LiveUpdate::Progress(now));
        }
    }

    /// The summary, if it changed since the last read and parses (a half-written
    /// one is tried again next time). Notes the process to watch, or the step
    /// the run ended at.
    fn summary(&mut self, out: &mut Vec<LiveUpdate>) {
        let Some(m) = modified(&self.paths.summary()).filter(|m| self.summary_modified != Some(*m)) else {
            return;
        };
        let Ok(s) = stylelab_core::record::read_summary(&self.paths.dir) else {
            return;
        };
        self.summary_modified = Some(m);
        let running = s.status == Status::Running;
        self.pid = if running { s.pid } else { None };
        self.ended_at = (!running).then_some(s.steps);
        out.push(LiveUpdate::Summary(Box::new(s)));
    }

    /// The running run's process: alive, RSS and GPU memory, sent when any
    /// changes at whole-MiB resolution.
    fn process(&mut self, out: &mut Vec<LiveUpdate>) {
        let Some(pid) = self.pid else { return };
        let alive = stylelab_core::procfs::is_stylelab(pid);
        let rss = alive.then(|| stylelab_core::procfs::rss_mib(Some(pid))).flatten();
        let gpu = alive.then(|| stylelab_core::gpu::process_mib(pid)).flatten();
        let whole = |m: Option<f64>| m.map(|m| m.round() as u64);
        let now = (alive, whole(rss), whole(gpu));
        if self.process != Some(now) {
            self.process = Some(now);
            out.push(LiveUpdate::Process {
                alive,
                rss_mib: now.1.map(|m| m as f64),
                gpu_mib: now.2.map(|m| m as f64),
            });
        }
    }

    /// New metrics lines: the first becomes the header, the rest rows; a line
    /// that does not parse is skipped.
    fn rows(&mut self, out: &mut Vec<LiveUpdate>) {
        let mut rows = Vec::new();
        for line in self.metrics.new_lines() {
            match &self.reader {
                None => {
                    if let Ok(r) = MetricsReader::new(&line) {
                        out.push(LiveUpdate::Header(r.header.clone()));
                        self.reader = Some(r);
                    }
                }
                Some(r) => rows.extend(r.row(&line).ok()),
            }
        }
        if !rows.is_empty() {
            out.push(LiveUpdate::Rows(rows));
        }
    }

    /// The snapshot list when it changed, with the newest decoded.
    fn snapshots(&mut self, out: &mut Vec<LiveUpdate>) {
        let snaps = self.paths.list_snapshots();
        if snaps.len() == self.snapshots {
            return;
        }
        self.snapshots = snaps.len();
        let newest = snaps.last().cloned();
        out.push(LiveUpdate::Snapshots(snaps));
        if let Some((iter, path)) = newest
            && let Some(image) = load_image(&path)
        {
            out.push(LiveUpdate::Image { iter, image });
        }
    }
}

/// Watches `dir` until `stop` is set or the run has ended, sending updates
/// through `send` (which returns false once nobody listens). Blocking: run
/// it on a thread.
pub fn follow(dir: &Path, stop: &AtomicBool, poll: Duration, send: &dyn Fn(LiveUpdate) -> bool) {
    let mut seen = Seen::new(dir);
    while !stop.load(Ordering::SeqCst) {
        for update in seen.changes() {
            if !send(update) {
                return;
            }
        }
        if let Some(iter) = seen.ended_at {
            // The summary is written last: every row and snapshot is in.
            if let Some(image) = load_image(&seen.paths.final_image()) {
                send(LiveUpdate::Image { iter, image });
            }
            return;
        }
        if matches!(seen.process, Some((false, ..))) {
            // Said running, but its process is gone: nothing more will come.
            return;
        }
        std::thread::sleep(poll);
    }
}
