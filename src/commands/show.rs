//! `stylelab show`: a run's final image (or a snapshot) drawn in the
//! terminal with viuer, with the run's numbers under it; and the drawing
//! of an image on this terminal that the dashboard's full-screen view
//! uses too.

use crate::error::bad_input;
use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `stylelab show`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A run folder, or a unique prefix of its name.
    pub run: String,
    /// A snapshot's step instead of the final image.
    #[arg(long)]
    pub step: Option<u64>,
    /// Width in terminal columns.
    #[arg(long)]
    pub width: Option<u32>,
    /// The folder of run folders (default: results/ of the project the
    /// current folder is in, found from any folder inside it).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// Finds the run and shows it ([`show_run`]).
pub fn run(args: &ShowArgs) -> Result<ExitCode> {
    let dir = stylelab_core::review::resolve_run(&crate::commands::results_folder(args.results.as_deref()), &args.run)
        .map_err(bad_input)?;
    show_run(&dir, args.step, args.width)?;
    Ok(ExitCode::SUCCESS)
}

/// viuer's settings for drawing on this terminal. The graphics protocols
/// are chosen from the environment, never by asking the terminal: viuer's
/// kitty query leaves the terminal's reply (`^[[?1;2c`) on screen in tmux
/// and elsewhere, and writes escape codes into a file when output is
/// redirected. Kitty where the terminal says it is kitty (or WezTerm,
/// ghostty); iTerm2's protocol in iTerm2; half blocks otherwise.
pub fn image_config(width: Option<u32>, height: Option<u32>) -> viuer::Config {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let term_program = var("TERM_PROGRAM");
    let kitty = var("TERM") == "xterm-kitty"
        || std::env::var_os("KITTY_WINDOW_ID").is_some()
        || matches!(term_program.as_str(), "WezTerm" | "ghostty");
    let iterm = term_program == "iTerm.app" || var("LC_TERMINAL") == "iTerm2";
    viuer::Config {
        width,
        height,
        use_kitty: kitty,
        use_iterm: iterm,
        ..Default::default()
    }
}

/// `stylelab show`: a run's final image (or the snapshot of `step`) drawn
/// on the terminal with viuer, `width` columns wide, and the run's numbers
/// under it. Off a terminal the image is not drawn (no escape codes go into
/// a file). Bad input when the run has no such image.
pub fn show_run(dir: &Path, step: Option<u64>, width: Option<u32>) -> Result<()> {
    let paths = stylelab_core::record::RunPaths::new(dir);
    let image = match step {
        None if !paths.final_image().is_file() => return Err(bad_input(stylelab_core::review::no_final_image(dir))),
        None => paths.final_image(),
        Some(n) => {
            let path = paths.snapshot(n);
            if !path.exists() {
                let have: Vec<String> = paths.list_snapshots().iter().map(|(i, _)| i.to_string()).collect();
                return Err(bad_input(format!(
                    "{} has no snapshot at step {n} (snapshots at: {})",
                    dir.display(),
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                )));
            }
            path
        }
    };
    let img = image::open(&image).with_context(|| format!("cannot read {}", image.display()))?;
    if std::io::stdout().is_terminal() {
        let cols = width.unwrap_or_else(|| {
            crossterm::terminal::size()
                .map(|(w, _)| w as u32)
                .unwrap_or(80)
                .min(120)
        });
        let config = viuer::Config {
            absolute_offset: false,
            ..image_config(Some(cols), None)
        };
        viuer::print(&img, &config).map_err(|e| anyhow::anyhow!("cannot draw the image: {e}"))?;
    } else {
        // Escape codes are for a terminal, not for a file or a pipe.
        safe_println!(
            "(not a terminal: the image is not drawn; {}×{})",
            img.width(),
            img.height()
        );
    }
    safe_println!("{}", image.display());
    if let Some(n) = step {
        // The snapshot's own losses first: the summary's are the run's last.
        safe_println!("{}", step_losses(dir, n));
    }
    match stylelab_core::record::read_summary(dir) {
        Ok(s) => {
            for line in crate::console::summary_lines(&s, dir, paths.final_image().exists()) {
                safe_println!("{line}");
            }
        }
        Err(e) => safe_println!("no summary: {e}"),
    }
    Ok(())
}

/// `step 5: total … content … style … tv …` from metrics.csv's row of
/// that step, or why there is none.
fn step_losses(dir: &Path, step: u64) -> String {
    use stylelab_core::text::short;
    match stylelab_core::record::read_metrics(dir) {
        Ok((_, rows, _)) => match rows.iter().find(|r| r.iter == step) {
            Some(r) => format!(
                "step {step}: total {}  content {}  style {}  tv {}",
                short(r.total),
                short(r.content),
                short(r.style),
                short(r.tv)
            ),
            None => format!("step {step}: no metrics row"),
        },
        Err(e) => format!("step {step}: no metrics ({e})"),
    }
}

/// Shows an image with viuer in the best protocol the terminal offers
/// (kitty, iTerm2, sixel; half blocks otherwise), then waits for a key:
/// the dashboard's full-screen view of an image. It draws on the
/// alternate screen and leaves it, whatever happens, so the shell's
/// screen never shows the image.
pub fn show_large(path: &Path) -> Result<()> {
    let img = image::open(path)?;
    execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let shown = draw_and_wait(path, &img);
    let left = execute!(std::io::stdout(), crossterm::terminal::LeaveAlternateScreen);
    let _ = disable_raw_mode();
    shown?;
    Ok(left?)
}

/// The image over the whole alternate screen, its path under it, until a key.
fn draw_and_wait(path: &Path, img: &image::DynamicImage) -> Result<()> {
    let (w, h) = crossterm::terminal::size().unwrap_or((80, 24));
    execute!(
        std::io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::MoveTo(0, 0)
    )?;
    let config = viuer::Config {
        absolute_offset: true,
        x: 0,
        y: 0,
        ..image_config(Some(w as u32), Some(h.saturating_sub(2) as u32))
    };
    viuer::print(img, &config).map_err(|e| anyhow::anyhow!("{e}"))?;
    safe_println!("\r\n{} — press any key to return", path.display());
    enable_raw_mode()?;
    loop {
        if let Event::Key(k) = event::read()?
            && k.kind == KeyEventKind::Press
        {
            return Ok(());
        }
    }
}
