//! `stylelab weights`: fetch, convert, inspect and make VGG19 weights
//! files. The formats and checks are the engine's
//! ([`stylelab_engine::weights`]); the download is [`fetch`]'s.

pub mod fetch;

use anyhow::Result;
use clap::Subcommand;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_engine::weights::{self, Preprocess, source::Source};

/// `stylelab weights`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download an official VGG19 and convert it to weights/vgg19-<source>.safetensors.
    Fetch {
        /// Which VGG19: the Caffe original (as neural-style uses) or torchvision's.
        #[arg(long, value_enum, default_value = "caffe")]
        source: SourceArg,
        /// Where to put the files.
        #[arg(long, default_value = "weights")]
        dir: PathBuf,
        /// Download from this address (a mirror) instead of the official one.
        #[arg(long)]
        url: Option<String>,
    },
    /// Convert a PyTorch VGG19 checkpoint (.pth) or an untagged safetensors file.
    Convert {
        /// The checkpoint to read (.pth, or untagged .safetensors).
        input: PathBuf,
        /// The file to write (.safetensors).
        output: PathBuf,
        /// The input convention the weights were trained with: caffe (BGR,
        /// 0..255, mean subtracted) or torchvision (RGB, 0..1, ImageNet
        /// mean and deviation).
        #[arg(long, value_parser = preprocess_parser())]
        preprocess: Preprocess,
    },
    /// List a weights file's layers, shapes, convention and sha256.
    Info {
        /// The weights file (.safetensors).
        file: PathBuf,
    },
    /// Write a seeded random VGG19 (same shapes as the real one), for tests and benchmarks.
    Random {
        /// The file to write (.safetensors).
        output: PathBuf,
        /// Seed of the weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Deepest layer to include.
        #[arg(long, default_value = "pool5")]
        upto: stylelab_core::layer::Layer,
        /// The input convention recorded with the weights (caffe or torchvision).
        #[arg(long, default_value = "caffe", value_parser = preprocess_parser())]
        preprocess: Preprocess,
    },
}

/// `--preprocess`'s values, listed by `--help` and in clap's error.
fn preprocess_parser() -> impl clap::builder::TypedValueParser<Value = Preprocess> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["caffe", "torchvision"]).try_map(|s| s.parse::<Preprocess>())
}

/// `--source`'s values: the engine's [`Source`], with the help clap shows
/// for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    /// torchvision's `vgg19-dcbb9e9d.pth` (RGB 0..1, ImageNet mean/std).
    Torchvision,
    /// The original Caffe VGG19 converted to PyTorch, as used by
    /// neural-style-pt: `vgg19-d01eb7cb.pth` (BGR 0..255 minus mean).
    Caffe,
}

impl From<SourceArg> for Source {
    fn from(arg: SourceArg) -> Self {
        match arg {
            SourceArg::Torchvision => Source::Torchvision,
            SourceArg::Caffe => Source::Caffe,
        }
    }
}

/// Carries out one `weights` subcommand and says what it wrote or found.
pub fn run(cmd: &WeightsCommand) -> Result<ExitCode> {
    match cmd {
        WeightsCommand::Fetch { source, dir, url } => {
            let progress = std::io::stderr().is_terminal();
            let out = fetch::fetch((*source).into(), url.as_deref(), dir, progress)?;
            safe_println!("wrote {}", out.display());
        }
        WeightsCommand::Convert {
            input,
            output,
            preprocess,
        } => {
            let layers = weights::convert(input, output, *preprocess)?;
            safe_println!(
                "wrote {} ({} convolutions, {} … {}, {preprocess})",
                output.display(),
                layers.len(),
                layers[0],
                layers[layers.len() - 1]
            );
        }
        WeightsCommand::Info { file } => safe_print!("{}", weights::describe_file(file)?),
        WeightsCommand::Random {
            output,
            seed,
            upto,
            preprocess,
        } => {
            let convs = weights::random(*seed, *upto);
            weights::save(output, &convs, *preprocess, &[("random_seed", seed.to_string())])?;
            safe_println!("wrote {} (random VGG19 up to {upto}, seed {seed})", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_source_value_is_the_engine_source_of_that_name() {
        for arg in SourceArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name, Some(Source::from(*arg).to_string()));
        }
    }
}
