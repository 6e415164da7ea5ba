//! `stylelab weights fetch`: downloads an official VGG19 checkpoint (with
//! a progress bar on a terminal), checks it against its source's checksum,
//! and converts it to `weights/vgg19-<source>.safetensors`.
//!
//! The one module that uses the network; what a source is, its checksum
//! and the conversion are the engine's ([`Source`], [`weights::convert`]).

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stylelab_engine::weights::{self, source::Source};

/// Downloads (unless already there) from `url` (default: the official
/// address), verifies and converts. Returns the converted file.
///
/// The checkpoint is kept in `weights_dir` under its official name, so a
/// second fetch skips the download; a file placed there by hand counts.
/// Whatever `url` says, the file must match the source's checksum prefix.
/// The conversion runs every time and overwrites the output.
///
/// Errors: the folder cannot be created; the download failed (the message
/// says how to place the file by hand); the checksum does not match; or
/// [`weights::convert`] failed.
pub fn fetch(source: Source, url: Option<&str>, weights_dir: &Path, show_progress: bool) -> Result<PathBuf> {
    let url = url.unwrap_or(source.url());
    std::fs::create_dir_all(weights_dir)
        .with_context(|| format!("cannot create the weights folder {}", weights_dir.display()))?;
    let pth = weights_dir.join(source.file_name());
    let out = source.output(weights_dir);
    if !pth.exists() {
        download(source, url, &pth, show_progress).map_err(|e| {
            anyhow::anyhow!(format!(
                "could not download {url} ({e:#}).\nWithout network access, place the file by hand: copy {} to {} and run\n  stylelab weights convert {} {} --preprocess {}",
                source.file_name(),
                pth.display(),
                pth.display(),
                out.display(),
                source.preprocess()
            ))
        })?;
    }
    source.verify(&pth)?;
    weights::convert(&pth, &out, source.preprocess())?;
    Ok(out)
}

/// Streams `url` into `<dest>.part`, hashing as it goes, and renames it to
/// `dest` only when the hash matches; a mismatched download is deleted.
///
/// Timeouts: 10 s to connect, 30 s for the response headers; the body itself
/// has none. A progress bar goes to stderr when `show_progress`.
fn download(source: Source, url: &str, dest: &Path, show_progress: bool) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .build()
        .into();
    let response = agent.get(url).call()?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let part = dest.with_extension("pth.part");
    let mut file = std::fs::File::create(&part).with_context(|| format!("cannot write {}", part.display()))?;
    let bar = progress_bar(show_progress, total, source.file_name());
    let mut reader = response.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    file.sync_all()?;
    bar.finish_and_clear();
    let digest = weights::hex(&hasher.finalize());
    if !source.matches(&digest) {
        let _ = std::fs::remove_file(&part);
        bail!(
            "downloaded file's sha256 {digest} does not start with {}",
            source.sha256_prefix()
        );
    }
    std::fs::rename(&part, dest)?;
    Ok(())
}

/// The download's progress bar on stderr (hidden unless `shown`): the
/// file's name, bytes so far of `total`, speed and time left.
fn progress_bar(shown: bool, total: Option<u64>, name: &'static str) -> indicatif::ProgressBar {
    let bar = if shown {
        indicatif::ProgressBar::new(total.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
            .expect("static template"),
    );
    bar.set_message(name);
    bar
}
