//! Where the official VGG19 checkpoints come from: their addresses, file
//! names and checksums, and the convention each is converted with.
//!
//! Outside the run pipeline: `stylelab weights fetch` (in the application,
//! which does the downloading) uses it to name, check and [`super::convert`]
//! the file that `preflight` later checks and the engine loads. Nothing
//! here touches the network.

use super::Preprocess;
use anyhow::{Context, Result, bail};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where an official VGG19 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// Whether a SHA-256 (hex) is this source's: it starts with
    /// [`Source::sha256_prefix`].
    pub fn matches(self, sha256: &str) -> bool {
        sha256.starts_with(self.sha256_prefix())
    }

    /// Checks the checkpoint at `path` against the source's checksum.
    ///
    /// Errors: the file cannot be read; its SHA-256 does not start with
    /// [`Source::sha256_prefix`] (the message says to fetch it again).
    pub fn verify(self, path: &Path) -> Result<()> {
        let digest = super::sha256_file(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !self.matches(&digest) {
            bail!(
                "{}: checksum mismatch: sha256 {digest} does not start with {} (delete the file and fetch again)",
                path.display(),
                self.sha256_prefix()
            );
        }
        Ok(())
    }

    /// `weights/vgg19-<source>.safetensors`.
    pub fn output(self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(format!("vgg19-{}.safetensors", self.name()))
    }
}

/// [`Source::name`]: `torchvision` or `caffe`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `torchvision` or `caffe`; the error names both.
impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Source::Torchvision, Source::Caffe]
            .into_iter()
            .find(|source| source.name() == s)
            .ok_or_else(|| format!("'{s}' is not a VGG19 source; use \"caffe\" or \"torchvision\""))
    }
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
        assert!(Source::Caffe.matches("d01eb7cb00"));
        assert!(!Source::Torchvision.matches("d01eb7cb00"));
        for source in [Source::Torchvision, Source::Caffe] {
            assert_eq!(source.to_string().parse::<Source>(), Ok(source));
        }
        assert!("vgg16".parse::<Source>().is_err());
    }

    #[test]
    fn a_checkpoint_that_does_not_match_its_checksum_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("vgg19-d01eb7cb.pth");
        std::fs::write(&path, b"not the checkpoint").unwrap();
        let err = format!("{:#}", Source::Caffe.verify(&path).unwrap_err());
        assert!(err.contains("checksum mismatch") && err.contains("d01eb7cb"), "{err}");
    }
}
