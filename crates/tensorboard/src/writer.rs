//! An event file being written: created exclusively (never over another
//! file, never through a link), records framed in memory and written in
//! one `write_all` per flush, so that a process killed between flushes
//! leaves every record up to the last flush whole.

use crate::proto::{Event, FILE_VERSION, Summary, Value, What};
use crate::record::frame_into;
use prost::Message;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What every event file's name holds: how TensorBoard tells one.
pub const EVENT_FILE_MARK: &str = "tfevents";

/// `events.out.tfevents.<seconds>.<host>.<pid>.<name>`, the name
/// TensorFlow's writers give, with the host and the name reduced to
/// `[A-Za-z0-9._-]` (they are data, not paths).
pub fn file_name(seconds: u64, host: &str, pid: u32, name: &str) -> String {
    format!(
        "events.out.{EVENT_FILE_MARK}.{seconds}.{}.{pid}.{}",
        file_safe(host),
        file_safe(name)
    )
}

/// `text` with every character but ASCII letters, digits, `.`, `_` and
/// `-` replaced by `_`, never empty and never starting with a dot.
pub fn file_safe(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() { "_".into() } else { s.to_string() }
}

/// Whether `dir` holds an event file (any name TensorBoard would read).
pub fn has_event_file(dir: &Path) -> bool {
    event_files(dir).next().is_some()
}

/// The event files in `dir`, by name.
pub fn event_files(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(EVENT_FILE_MARK))
        .map(|e| e.path())
}

/// An event file open for writing.
pub struct EventWriter {
    /// Where it is.
    path: PathBuf,
    /// The file, open since its creation.
    file: File,
    /// Whole records not yet written.
    pending: Vec<u8>,
    /// When the pending records were last written.
    flushed: Instant,
}

impl EventWriter {
    /// Creates a new event file in `dir` for a run called `name`, its first
    /// record the file version (pending). The file must not exist: a
    /// second file in the same second gets `.2`, `.3`, … appended. Never
    /// follows a link.
    pub fn create(dir: &Path, name: &str, wall_time: f64) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let base = file_name(
            wall_time.max(0.0) as u64,
            &stylelab_core::procfs::hostname(),
            std::process::id(),
            name,
        );
        let mut n = 1;
        let (path, file) = loop {
            let path = dir.join(if n == 1 { base.clone() } else { format!("{base}.{n}") });
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
            {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut w = EventWriter {
            path,
            file,
            pending: Vec::new(),
            flushed: Instant::now(),
        };
        w.write(&Event {
            wall_time,
            step: 0,
            what: Some(What::FileVersion(FILE_VERSION.into())),
        });
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds an event to the pending records.
    pub fn write(&mut self, event: &Event) {
        frame_into(&mut self.pending, &event.encode_to_vec());
    }

    /// Adds a summary of `values` at `step` (none: nothing).
    pub fn summary(&mut self, wall_time: f64, step: u64, values: Vec<Value>) {
        if values.is_empty() {
            return;
        }
        self.write(&Event {
            wall_time,
            step: i64::try_from(step).unwrap_or(i64::MAX),
            what: Some(What::Summary(Summary { value: values })),
        });
    }

    /// Writes the pending records, whole, in one write.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.flushed = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending);
        self.pending.clear();
        result
    }

    /// Writes the pending records when `every` has passed since the last write.
    pub fn flush_if_due(&mut self, every: Duration) -> std::io::Result<()> {
        if self.flushed.elapsed() >= every {
            self.flush()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read_records;

    #[test]
    fn names_hold_no_path_and_files_are_never_replaced() {
        assert_eq!(
            file_name(1700000000, "gpu-07.lab", 42, "../a b/é"),
            "events.out.tfevents.1700000000.gpu-07.lab.42._a_b__"
        );
        assert_eq!(file_safe("..x"), "x");
        assert_eq!(file_safe(""), "_");
        let dir = tempfile::tempdir().unwrap();
        let mut a = EventWriter::create(dir.path(), "run", 1.5e9).unwrap();
        let b = EventWriter::create(dir.path(), "run", 1.5e9).unwrap();
        assert_ne!(a.path(), b.path());
        assert!(b.path().to_string_lossy().ends_with(".run.2"));
        assert!(has_event_file(dir.path()));
        a.summary(1.5e9, 3, vec![crate::summary::scalar("loss/total", 2.0)]);
        assert_eq!(std::fs::read(a.path()).unwrap().len(), 0, "nothing before the flush");
        a.flush().unwrap();
        let bytes = std::fs::read(a.path()).unwrap();
        let r = read_records(&bytes);
        assert_eq!((r.records.len(), r.torn, r.corrupt), (2, 0, false));
        let first = Event::decode(r.records[0]).unwrap();
        assert_eq!(first.what, Some(What::FileVersion(FILE_VERSION.into())));
    }

    #[test]
    fn a_planted_link_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let name = file_name(7, &stylelab_core::procfs::hostname(), std::process::id(), "run");
        std::os::unix::fs::symlink(&target, dir.path().join(&name)).unwrap();
        let mut w = EventWriter::create(dir.path(), "run", 7.0).unwrap();
        w.flush().unwrap();
        assert_ne!(w.path(), dir.path().join(&name));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
