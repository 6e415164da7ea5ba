//! Files as stylelab reads and writes them: listing a folder by extension,
//! refusing what is not a regular file before it is opened, and writing a
//! file whole or not at all.

use anyhow::{Context, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// The files in `dir` whose names end in `.ext`, sorted; none when `dir`
/// cannot be read.
pub fn with_extension(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Fails unless `path` is a regular file (after symbolic links): a FIFO,
/// a device or a socket would block or never end when read, a folder
/// cannot be. Checked before opening, since opening a FIFO itself waits
/// for a writer.
pub fn regular_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path)?.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}
/// Writes a file whole or not at all (write to a temporary, then rename).
///
/// The temporary is a new file beside `path` (same folder, so the rename
/// stays on one file system), created exclusively: a link or file planted
/// under its name is never written through. The rename replaces whatever
/// `path` was — a symbolic link included — and never writes through it.
/// The temporary is removed again when the write fails; its mode comes
/// from the umask (0644 typically).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (tmp, file) = create_temporary(path, "tmp").with_context(|| format!("cannot write {}", path.display()))?;
    let written = (|| {
        let mut f = file;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    finish_atomic(&tmp, path, written)
}

/// A new, exclusively created file beside `path`: `.<name>.<pid>.<n>.<ext>`.
fn create_temporary(path: &Path, ext: &str) -> std::io::Result<(std::path::PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.{ext}", std::process::id()));
        match fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Opens `path` for appending without following a symbolic link at its
/// last component (created if missing, mode from the umask): a log inside
/// a run or sweep folder is never written through a link planted there.
/// Anything but a regular file is refused.
pub fn append_no_follow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "it is a symbolic link; stylelab does not write through links in a run or sweep folder",
                )
            } else {
                e
            }
        })?;
    if !f.metadata()?.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    Ok(f)
}

/// The most a text file stylelab reads from a project or a results folder
/// may hold by default (an experiment, a summary, a claim): far above any
/// real one, far below what would hurt.
pub const TEXT_LIMIT: u64 = 16 << 20;

/// Reads at most `limit` bytes of a regular file, without ever blocking on
/// it: it is opened non-blocking (a FIFO's open waits for a writer
/// otherwise), refused unless it is a regular file (a FIFO, a device such
/// as /dev/zero, a socket, a folder), and refused when it holds more than
/// `limit` bytes (a file that grows while read is cut there and refused too).
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        // The same words as [`regular_file`].
        return Err(regular_file(path)
            .err()
            .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "it is not a regular file")));
    }
    let too_big = |n: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it holds {n} bytes, more than the {limit} a file of this kind may hold"),
        )
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Renames a temporary that was written without error into place;
/// otherwise (or when the rename fails) removes it. Errors carry the
/// system's reason.
fn finish_atomic(tmp: &Path, path: &Path, written: std::io::Result<()>) -> Result<()> {
    let result = written
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display())));
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Saves a PNG atomically (a reader never sees half an image); a failed
/// write leaves no temporary behind.
pub fn save_png(path: &Path, image: &image::RgbImage) -> Result<()> {
    let (tmp, file) = create_temporary(path, "tmp").with_context(|| format!("cannot write {}", path.display()))?;
    let written = Ok(file).and_then(|f: File| {
        let mut w = BufWriter::new(f);
        image.write_to(&mut w, image::ImageFormat::Png).map_err(|e| match e {
            image::ImageError::IoError(io) => io,
            other => std::io::Error::other(other),
        })?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    finish_atomic(&tmp, path, written)
}
