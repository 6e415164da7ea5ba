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
/// The temporary is `path` with its extension replaced by `tmp`, in the
/// same folder, so the rename stays on one file system; it is removed
/// again when the write fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    finish_atomic(&tmp, path, written)
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
    let tmp = path.with_extension("png.tmp");
    let written = File::create(&tmp).and_then(|f| {
        let mut w = BufWriter::new(f);
        image.write_to(&mut w, image::ImageFormat::Png).map_err(|e| match e {
            image::ImageError::IoError(io) => io,
            other => std::io::Error::other(other),
        })?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    finish_atomic(&tmp, path, written)
}
