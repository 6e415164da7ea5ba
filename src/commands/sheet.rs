//! `stylelab sheet`: a contact sheet of runs' final images in a grid,
//! labelled with the parameters that differ.

use super::resolve_runs;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// `stylelab sheet`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SheetArgs {
    /// Run folders, or unique prefixes of their names.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// The sheet to write: .png, or .jpg/.jpeg for JPEG.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// Writes the sheet and says what it holds.
pub fn run(args: &SheetArgs) -> Result<ExitCode> {
    let dirs = resolve_runs(&args.runs, &crate::commands::results_folder(args.results.as_deref()))?;
    let cmp = stylelab_core::review::Comparison::load(&dirs);
    let sheet = stylelab_core::review::sheet::write_sheet(&cmp, &args.out)?;
    safe_println!(
        "wrote {} ({}×{}, {} runs)",
        args.out.display(),
        sheet.width,
        sheet.height,
        dirs.len()
    );
    if !sheet.without_image.is_empty() {
        safe_println!(
            "  no final image, marked as such: {} (`stylelab show RUN --step N` shows a snapshot)",
            sheet.without_image.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
