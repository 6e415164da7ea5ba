//! `stylelab weights fetch`: downloads an official VGG19 checkpoint, checks
//! it, and converts it to `weights/vgg19-<source>.safetensors`.
//!
//! Outside the run pipeline: it produces the weights file that `preflight`
//! later checks and the engine loads. The only module that uses the network.

use super::{Preprocess, convert};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an official VGG19 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// torchvision's `vgg19-dcbb9e9d.pth` (RGB 0..1, ImageNet mean/std).
    Torchvision,
    /// The original Caffe VGG19 converted to PyTorch, as used by
    /// neural-style-pt: `vgg19-d01eb7cb.pth` (BGR 0..255 minus mean).
    Caffe,
}

impl Source {
    /// The official download address.
    pub fn url(self) -> &'static str {
        match self {
            Source::Torchvision => "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            Source::Caffe => "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
        }
    }

    /// The checkpoint's file name, which ends in the first 8 hex digits of
    /// its SHA-256 (the torch.hub convention): that is the checksum.
    pub fn file_name(self) -> &'static str {
        self.url().rsplit('/').next().expect("urls have a path")
    }

    /// The 8 hex digits at the end of [`Source::file_name`]'s stem: what a
    /// downloaded file's SHA-256 must start with.
    pub fn sha256_prefix(self) -> &'static str {
        let stem = self.file_name().trim_end_matches(".pth");
        stem.rsplit('-').next().expect("names end in -hash")
    }

    /// The convention the converted file is tagged with.
    pub fn preprocess(self) -> Preprocess {
        match self {
            Source::Torchvision => Preprocess::Torchvision,
            Source::Caffe => Preprocess::Caffe,
        }
    }

    /// `torchvision` or `caffe`, as in the output file's name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Torchvision => "torchvision",
            Source::Caffe => "caffe",
        }
    }

    /// `weights/vgg19-<source>.safetensors`.
    pub fn output(self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(format!("vgg19-{}.safetensors", self.name()))
    }
}

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
/// [`convert`] failed.
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
    let digest = super::sha256_file(&pth).with_context(|| format!("cannot read {}", pth.display()))?;
    if !digest.starts_with(source.sha256_prefix()) {
        bail!(
            "{}: checksum mismatch: sha256 {digest} does not start with {} (delete the file and fetch again)",
            pth.display(),
            source.sha256_prefix()
        );
    }
    convert(&pth, &out, source.preprocess())?;
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
    let bar = if show_progress {
        indicatif::ProgressBar::new(total.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
            .expect("static template"),
    );
    bar.set_message(source.file_name());
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
    let digest = super::hex(&hasher.finalize());
    if !digest.starts_with(source.sha256_prefix()) {
        let _ = std::fs::remove_file(&part);
        bail!(
            "downloaded file's sha256 {digest} does not start with {}",
            source.sha256_prefix()
        );
    }
    std::fs::rename(&part, dest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_come_from_the_file_names() {
        assert_eq!(Source::Torchvision.sha256_prefix(), "dcbb9e9d");
        assert_eq!(Source::Caffe.sha256_prefix(), "d01eb7cb");
        assert_eq!(
            Source::Caffe.output(Path::new("w")),
            Path::new("w/vgg19-caffe.safetensors")
        );
    }
}
