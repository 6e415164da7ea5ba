//! The running points of a `--jobs` sweep, one line each: redrawn in place
//! on a terminal, a line every half minute otherwise. Plain data in, text
//! out: the pool says what runs, this draws it.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How many points ended which way, for the head line.
#[derive(Debug, Default)]
pub struct Counts {
    /// Completed (here, or found done).
    pub done: usize,
    /// Failed here.
    pub failed: usize,
    /// Run by another process.
    pub elsewhere: usize,
}

/// One running point, as the progress lines show it.
pub struct Running<'a> {
    /// Its index.
    pub point: usize,
    /// Where it runs: ` on cuda:1`, ` (2 threads)`.
    pub placement: &'a str,
    /// When its child started.
    pub started: Instant,
    /// Its run folder, once known: its metrics give the step.
    pub dir: Option<&'a Path>,
    /// Steps it takes in all.
    pub iterations: u64,
}

/// The progress block and when it was drawn.
pub struct Progress {
    tty: bool,
    drawn: usize,
    last: Option<Instant>,
}

impl Progress {
    /// A block redrawn in place when `tty`, else printed as lines.
    pub fn new(tty: bool) -> Self {
        Progress {
            tty,
            drawn: 0,
            last: None,
        }
    }

    /// Removes the block drawn last (a terminal), so a message prints above it.
    pub fn clear(&mut self) {
        if self.tty && self.drawn > 0 {
            let _ = write!(std::io::stdout(), "\r\x1b[{}A\x1b[J", self.drawn);
            let _ = std::io::stdout().flush();
        }
        self.drawn = 0;
    }

    /// Draws the running points, the counts and how many are still to do
    /// — at most every half second on a terminal, every 30 s otherwise.
    pub fn show(&mut self, running: &[Running], counts: &Counts, todo: usize) {
        let every = if self.tty {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(30)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let lines: Vec<String> = running.iter().map(line).collect();
        let head = format!(
            "{} running, {} done, {} failed, {} to do",
            lines.len(),
            counts.done,
            counts.failed,
            todo
        );
        self.clear();
        if self.tty {
            say!("{head}");
            for l in &lines {
                say!("{l}");
            }
            self.drawn = lines.len() + 1;
        } else {
            say!(
                "{head}: {}",
                lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("; ")
            );
        }
        let _ = std::io::stdout().flush();
    }
}

/// `  p003 on cuda:1  step 40/100  loss 1.2345e3  12 s`.
fn line(j: &Running) -> String {
    let step = j.dir.and_then(stylelab_core::review::last_row);
    let progress = match &step {
        Some(m) => format!("step {}/{}  loss {:.4e}", m.iter, j.iterations, m.total),
        None => "starting".into(),
    };
    format!(
        "  p{:03}{}  {progress}  {:.0} s",
        j.point,
        j.placement,
        j.started.elapsed().as_secs_f64()
    )
}
