//! Follows a run folder as it grows — metrics rows, snapshots, the events
//! log, the summary — and reports what changed. The dashboard watches every
//! run this way, whether it launched it or re-attached to one started
//! elsewhere (headless, or before an SSH session dropped).

use crate::events::Term;
use crate::record::{MetricsHeader, MetricsReader, RunPaths, StepMetrics, Summary};
use crate::review;
use image::RgbImage;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Something new in a followed run folder.
#[derive(Debug, Clone)]
pub enum LiveUpdate {
    Config(BTreeMap<String, String>),
    Summary(Box<Summary>),
    Header(MetricsHeader),
    Rows(Vec<StepMetrics>),
    Snapshots(Vec<(u64, PathBuf)>),
    Image {
        iter: u64,
        image: Arc<RgbImage>,
    },
    Steered {
        iter: u64,
        term: Term,
        from: f64,
        to: f64,
    },
    Paused(bool),
    /// The process running it: whether it is alive, and its resident memory.
    Process {
        alive: bool,
        rss_mib: Option<f64>,
    },
}

/// A line of events.log, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    Steered { iter: u64, term: Term, from: f64, to: f64 },
    Paused(bool),
    Other,
}

/// Parses `<time> step 12: style_weight 100 -> 200 (from step 13)` and
/// `<time> step 12: paused`.
pub fn parse_log_line(line: &str) -> LogLine {
    let Some((_, rest)) = line.split_once(' ') else {
        return LogLine::Other;
    };
    let Some(rest) = rest.strip_prefix("step ") else {
        return LogLine::Other;
    };
    let Some((iter, what)) = rest.split_once(": ") else {
        return LogLine::Other;
    };
    let Ok(iter) = iter.parse::<u64>() else {
        return LogLine::Other;
    };
    match what.trim() {
        "paused" => return LogLine::Paused(true),
        "resumed" => return LogLine::Paused(false),
        _ => {}
    }
    let words: Vec<&str> = what.split_whitespace().collect();
    if let [name, from, "->", to, ..] = words.as_slice()
        && let Some(term) = Term::ALL.into_iter().find(|t| t.name() == *name)
        && let (Ok(from), Ok(to)) = (from.parse(), to.parse())
    {
        return LogLine::Steered { iter, term, from, to };
    }
    LogLine::Other
}

/// Reads what was appended to a file since `offset`, whole lines only.
fn read_new_lines(path: &Path, offset: &mut u64) -> Vec<String> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len <= *offset {
        return Vec::new();
    }
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(*offset))
        .and_then(|_| f.read_to_end(&mut buf))
        .is_err()
    {
        return Vec::new();
    }
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    *offset += end as u64 + 1;
    String::from_utf8_lossy(&buf[..end])
        .lines()
        .map(str::to_string)
        .collect()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Longest side of images kept for display: more than a 250-column
/// terminal shows with half blocks (2 pixels a cell).
const DISPLAY_PIXELS: u32 = 512;

/// Decodes an image for display, downscaled once here rather than at every
/// frame (None while the file is being replaced).
pub fn load_image(path: &Path) -> Option<Arc<RgbImage>> {
    let img = image::open(path).ok()?;
    let img = if img.width().max(img.height()) > DISPLAY_PIXELS {
        img.thumbnail(DISPLAY_PIXELS, DISPLAY_PIXELS)
    } else {
        img
    };
    Some(Arc::new(img.to_rgb8()))
}

/// Resident memory of a process, MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = text
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Watches `dir` until `stop` is set, sending updates through `send`
/// (which returns false once nobody listens). Blocking: run it on a thread.
pub fn follow(dir: &Path, stop: &AtomicBool, poll: Duration, send: &dyn Fn(LiveUpdate) -> bool) {
    let paths = RunPaths::new(dir);
    let mut metrics_offset = 0u64;
    let mut reader: Option<MetricsReader> = None;
    // The run's process while its summary says running; its final steps after.
    let mut pid: Option<u32> = None;
    let mut final_steps: Option<u64> = None;
    let mut events_offset = 0u64;
    let mut summary_seen: Option<SystemTime> = None;
    let mut config_sent = false;
    let mut snapshot_count = 0usize;
    let mut final_sent = false;
    while !stop.load(Ordering::SeqCst) {
        if !config_sent && paths.experiment().exists() {
            config_sent = true;
            if !send(LiveUpdate::Config(review::flat_config(dir))) {
                return;
            }
        }
        if let Some(m) = modified(&paths.summary())
            && summary_seen != Some(m)
            && let Ok(s) = crate::record::read_summary(dir)
        {
            summary_seen = Some(m);
            let running = s.status == crate::record::Status::Running;
            pid = if running { s.pid } else { None };
            final_steps = (!running).then_some(s.steps);
            if !send(LiveUpdate::Summary(Box::new(s))) {
                return;
            }
        }
        if let Some(p) = pid {
            let alive = review::process_alive(p);
            if !send(LiveUpdate::Process {
                alive,
                rss_mib: if alive { rss_mib(p) } else { None },
            }) {
                return;
            }
        }
        let lines = read_new_lines(&paths.metrics(), &mut metrics_offset);
        let mut rows = Vec::new();
        for line in lines {
            match &reader {
                None => {
                    if let Ok(r) = MetricsReader::new(&line) {
                        if !send(LiveUpdate::Header(r.header.clone())) {
                            return;
                        }
                        reader = Some(r);
                    }
                }
                Some(r) => rows.extend(r.row(&line).ok()),
            }
        }
        if !rows.is_empty() && !send(LiveUpdate::Rows(rows)) {
            return;
        }
        for line in read_new_lines(&paths.events(), &mut events_offset) {
            let update = match parse_log_line(&line) {
                LogLine::Steered { iter, term, from, to } => LiveUpdate::Steered { iter, term, from, to },
                LogLine::Paused(p) => LiveUpdate::Paused(p),
                LogLine::Other => continue,
            };
            if !send(update) {
                return;
            }
        }
        let snaps = paths.list_snapshots();
        if snaps.len() != snapshot_count {
            snapshot_count = snaps.len();
            let newest = snaps.last().cloned();
            if !send(LiveUpdate::Snapshots(snaps)) {
                return;
            }
            if let Some((iter, path)) = newest
                && let Some(image) = load_image(&path)
                && !send(LiveUpdate::Image { iter, image })
            {
                return;
            }
        }
        if let Some(iter) = final_steps
            && !final_sent
        {
            final_sent = true;
            if let Some(image) = load_image(&paths.final_image())
                && !send(LiveUpdate::Image { iter, image })
            {
                return;
            }
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_engines_log_lines() {
        assert_eq!(
            parse_log_line("2026-11-21T10:00:00+00:00 step 12: style_weight 100 -> 200 (from step 13)"),
            LogLine::Steered {
                iter: 12,
                term: Term::Style,
                from: 100.0,
                to: 200.0
            }
        );
        assert_eq!(
            parse_log_line("2026-11-21T10:00:00+00:00 step 3: paused"),
            LogLine::Paused(true)
        );
        assert_eq!(
            parse_log_line("2026-11-21T10:00:00+00:00 step 3: resumed"),
            LogLine::Paused(false)
        );
        assert_eq!(
            parse_log_line("2026-11-21T10:00:00+00:00 started on cpu"),
            LogLine::Other
        );
    }
}
