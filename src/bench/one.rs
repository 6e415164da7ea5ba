//! `stylelab bench-one`: its arguments, read into the engine's typed
//! [`Probe`], and the one JSON line it prints — what `stylelab bench` runs
//! in fresh processes, and what the PyTorch reference prints too.

use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_core::config::{DeviceChoice, MemoryFormat, Precision, StyleLoss};
use stylelab_engine::measure::{Measurement, Probe, measure};
use tch::Device;

/// `stylelab bench-one`'s arguments.
#[derive(clap::Args, Debug)]
pub struct OneArgs {
    /// Width of the image, px (and its height unless --height says).
    #[arg(long)]
    pub size: u32,
    /// Height of the image, px (default: --size, a square).
    #[arg(long)]
    pub height: Option<u32>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// `fp32`, `bf16` or `fp16`.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// auto (measured, as a run does), nchw or channels_last.
    #[arg(long, default_value = "auto")]
    pub memory_format: String,
    #[command(flatten)]
    pub counts: Counts,
    /// The content and style images, as raw float32 `1×3×height×size` RGB
    /// in [0, 1] (written by `bench`: examples/chelsea.png and
    /// examples/starry_night.jpg, resized).
    #[arg(long)]
    pub content: PathBuf,
    /// The style image, in the same raw form as `content`.
    #[arg(long)]
    pub style: PathBuf,
    /// The statistic every style layer matches: gram, mean_std, histogram
    /// or sliced_wasserstein.
    #[arg(long, default_value = "gram", value_parser = str::parse::<StyleLoss>)]
    pub style_loss: StyleLoss,
    /// Regions the image is cut into (vertical bands, one style each); 1
    /// for none.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub regions: u32,
    /// Evaluate tile by tile, in tiles of this side (px, a multiple of 16).
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=32768))]
    pub tile: Option<u32>,
    /// Step as a run's default L-BFGS does (preconditioned, its steps
    /// projected onto [0, 1]); without it, the textbook L-BFGS of the
    /// PyTorch reference.
    #[arg(long)]
    pub as_run: bool,
}

/// How much `bench` and `bench-one` time: the same three flags, one struct.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Counts {
    /// Timed evaluations (forward and backward passes) per measurement; at
    /// least one is made.
    #[arg(long, default_value_t = 5)]
    pub evals: usize,
    /// Timed L-BFGS steps per measurement; at least one is made.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed evaluations, then as many untimed steps, made first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
}

impl Counts {
    /// The flags again, for a `bench-one` child.
    pub fn to_args(self) -> [String; 6] {
        [
            "--evals".into(),
            self.evals.to_string(),
            "--steps".into(),
            self.steps.to_string(),
            "--warmup".into(),
            self.warmup.to_string(),
        ]
    }
}

/// A device as `bench` and `bench-one` take it; an error when it is not a
/// device name or libtorch cannot see it.
pub fn parse_device(s: &str) -> Result<Device> {
    match DeviceChoice::parse(s) {
        Some(choice) => stylelab_engine::device::resolve(choice).map_err(anyhow::Error::msg),
        None => bail!("'{s}' is not a device (cpu, cuda, cuda:N)"),
    }
}

impl OneArgs {
    /// The engine's probe; an error (the run fails, and `bench` prints its
    /// row as failed with it) for a device, precision or memory format that
    /// is not one.
    pub fn probe(&self) -> Result<Probe> {
        Ok(Probe {
            size: self.size,
            height: self.height,
            device: parse_device(&self.device)?,
            precision: self.precision.parse::<Precision>().map_err(anyhow::Error::msg)?,
            memory_format: self.memory_format.parse::<MemoryFormat>().map_err(anyhow::Error::msg)?,
            evals: self.counts.evals,
            steps: self.counts.steps,
            warmup: self.counts.warmup,
            content: self.content.clone(),
            style: self.style.clone(),
            style_loss: self.style_loss,
            regions: self.regions,
            tile: self.tile,
            as_run: self.as_run,
        })
    }
}

/// Measures stylelab in this process and prints one JSON line, with the
/// device as it was asked for.
pub fn run_one(args: &OneArgs) -> Result<ExitCode> {
    let m = Measurement {
        device: args.device.clone(),
        ..measure(&args.probe()?)?
    };
    println!("{}", serde_json::to_string(&m)?);
    Ok(ExitCode::SUCCESS)
}
