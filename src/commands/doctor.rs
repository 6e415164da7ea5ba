//! `stylelab doctor`: libtorch, CUDA, threads and the weights files found,
//! as [`crate::doctor::report`] words them.

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// `stylelab doctor`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Folder of weights files.
    #[arg(long, default_value = "weights")]
    pub weights: PathBuf,
}

/// Prints the report, one line each.
pub fn run(args: &DoctorArgs) -> Result<ExitCode> {
    crate::doctor::report(&args.weights)
        .iter()
        .for_each(|line| safe_println!("{line}"));
    Ok(ExitCode::SUCCESS)
}
