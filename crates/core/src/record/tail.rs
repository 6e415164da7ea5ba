//! Reading a file that another process appends to (metrics.csv, events.log,
//! the control file): each call returns the whole lines added since the
//! last one, and leaves a line still being written for next time.
//!
//! Reading side: the dashboard's follower tails a live run's metrics.csv and
//! events.log, and the engine's `events::ControlFile` tails the control file.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// At most this much is read per call, so a huge append is taken in parts.
const CHUNK: u64 = 8 << 20;

/// A position in a growing file.
#[derive(Debug, Clone)]
pub struct Tail {
    /// The file followed.
    path: PathBuf,
    /// Bytes already returned as lines: the start of the next read.
    offset: u64,
    /// Lines longer than this many bytes are dropped, never held whole.
    max_line: usize,
    /// Inside a line too long to keep: bytes up to its newline are dropped.
    skipping: bool,
}

impl Tail {
    /// From the start of `path` (which need not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Tail::with_max_line(path, CHUNK as usize)
    }

    /// As [`Tail::new`], dropping lines longer than `max_line` bytes.
    pub fn with_max_line(path: PathBuf, max_line: usize) -> Self {
        Tail {
            path,
            offset: 0,
            max_line: max_line.min(CHUNK as usize),
            skipping: false,
        }
    }

    /// The file followed.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whole lines appended since the last call; a length check when
    /// nothing changed. A missing or unreadable file has no new lines.
    ///
    /// Lines come without their `\n`; invalid UTF-8 is replaced. The file is
    /// assumed only to grow: if it is truncated or replaced by a shorter one,
    /// nothing is returned until it grows past the old offset.
    pub fn new_lines(&mut self) -> Vec<String> {
        let len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Replaced by a shorter file: read the new one from its start.
            self.offset = 0;
        }
        if len <= self.offset {
            return Vec::new();
        }
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset))
            .and_then(|_| f.take(CHUNK).read_to_end(&mut buf))
            .is_err()
        {
            return Vec::new();
        }
        let mut start = 0;
        if self.skipping {
            match buf.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.skipping = false;
                    start = nl + 1;
                }
                None => {
                    self.offset += buf.len() as u64;
                    return Vec::new();
                }
            }
        }
        // Only whole lines: the writer may be half-way through one.
        let Some(end) = buf[start..].iter().rposition(|&b| b == b'\n').map(|e| e + start) else {
            if buf.len() - start > self.max_line {
                // A line longer than any we keep, not ended yet: drop it as it comes.
                self.skipping = true;
                self.offset += buf.len() as u64;
            } else {
                self.offset += start as u64;
            }
            return Vec::new();
        };
        self.offset += end as u64 + 1;
        String::from_utf8_lossy(&buf[start..end])
            .lines()
            .filter(|l| l.len() <= self.max_line)
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn each_whole_line_comes_once_and_half_lines_wait() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("log");
        let mut tail = Tail::new(path.clone());
        assert!(tail.new_lines().is_empty(), "a missing file has no lines");
        let mut f = std::fs::File::create(&path).expect("created");
        f.write_all(b"one\ntwo\nthr").expect("written");
        assert_eq!(tail.new_lines(), ["one", "two"]);
        assert!(tail.new_lines().is_empty());
        f.write_all(b"ee\n").expect("written");
        assert_eq!(tail.new_lines(), ["three"]);
    }

    #[test]
    fn a_line_too_long_is_dropped_without_being_held() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("control");
        let mut tail = Tail::with_max_line(path.clone(), 16);
        let mut f = std::fs::File::create(&path).expect("created");
        f.write_all(b"stop\n").expect("written");
        f.write_all(&[b'x'; 100]).expect("written");
        assert_eq!(tail.new_lines(), ["stop"]);
        f.write_all(&[b'x'; 100]).expect("written");
        assert!(tail.new_lines().is_empty(), "still inside the long line");
        f.write_all(b"xx\npause\nshort but over sixteen\nresume\n")
            .expect("written");
        assert_eq!(tail.new_lines(), ["pause", "resume"]);
    }
}
