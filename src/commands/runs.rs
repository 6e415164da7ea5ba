//! `stylelab runs`: one line per run — status, steps, time, final losses
//! and the config keys that vary — as a table fitted to the terminal, CSV
//! or JSON.

use crate::error::bad_input;
use anyhow::Result;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use stylelab_core::review::table::{Format, Listing};

/// `stylelab runs`'s arguments.
#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    /// Sort by a column or config key; -KEY for descending (default -started).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Keep runs whose folder, name or status contains TEXT, or a config
    /// value does; KEY=VALUE matches a config key's value (substrings,
    /// any case).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// table (fitted to the terminal), csv or json (every column).
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Every column of the table, however wide the terminal.
    #[arg(long)]
    pub wide: bool,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// `--format`'s values: the core's [`Format`], with the help clap shows
/// for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Aligned columns for a terminal; drops the `run` column and shortens `started`.
    Table,
    /// Every column, header first, as written by the `csv` crate.
    Csv,
    /// A pretty-printed array with one object per run.
    Json,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Prints the listing; unreadable run folders are named on stderr.
pub fn run(args: &RunsArgs) -> Result<ExitCode> {
    let results = &crate::commands::results_folder(args.results.as_deref());
    let listing = Listing::load(results, args.filter.as_deref(), args.sort.as_deref()).map_err(bad_input)?;
    let unreadable = stylelab_core::review::unreadable_runs(results);
    if !unreadable.is_empty() {
        // On stderr: the table (or CSV, JSON) on stdout stays whole.
        safe_eprintln!(
            "{} run folder{} not readable (permissions?): {}",
            unreadable.len(),
            if unreadable.len() == 1 { "" } else { "s" },
            unreadable.join(", ")
        );
    }
    // On a terminal the table fits its width; piped, or with --wide, it is whole.
    let width = match crossterm::terminal::size() {
        Ok((w, _)) if std::io::stdout().is_terminal() && !args.wide => Some(w as usize),
        _ => None,
    };
    safe_print!("{}", listing.render(args.format.into(), width));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_format_value_is_the_core_format_of_that_name() {
        for arg in FormatArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name, Some(Format::from(*arg).to_string()));
        }
        assert_eq!(FormatArg::value_variants().len(), Format::ALL.len());
    }
}
