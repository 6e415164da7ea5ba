//! events.log: one line per thing that happened to a run, `<RFC 3339 time>
//! <event>`, for people to read and for the dashboard to follow. The
//! run-folder sink (`sinks::RunDirSink`, on the engine's side) writes it
//! through [`LogEvent::line`] and the dashboard's follower reads it back with
//! [`LogEvent::parse_line`]: one schema for both sides.

use super::{Status, Term};

/// What an events.log line says.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent {
    /// `started on cpu (2 threads) (64×43, lbfgs (history 100, lr 1))`
    Started {
        /// The device in words; may itself hold parentheses.
        device: String,
        /// Generated image width, px.
        width: u32,
        /// Generated image height, px.
        height: u32,
        /// The optimizer and its settings, as the engine describes them.
        optimizer: String,
    },
    /// `step 12: style_weight 100 -> 200 (from step 13)`: a loss weight
    /// changed after step `iter`, so it applies from the next step.
    Steered { iter: u64, term: Term, from: f64, to: f64 },
    /// `step 12: paused` / `step 12: resumed`
    Paused { iter: u64, paused: bool },
    /// `step 12: refused: multiply style_weight by 1e6: …`: a command the
    /// run did not carry out, and why.
    Refused { iter: u64, what: String },
    /// `warning: could not score the result: …`: something the run could
    /// not do that does not fail it.
    Warning(String),
    /// `step 100: scale 2/3 at 512×341`: a multi-scale run moved to its
    /// next size after step `iter`.
    Scale {
        /// The last step at the previous scale.
        iter: u64,
        /// The new scale, 1-based.
        index: usize,
        /// Scales in the run.
        count: usize,
        /// The image's size at the new scale, px.
        width: u32,
        height: u32,
    },
    /// `completed after 150 steps` / `failed after 3 steps: <why>` /
    /// `converged after 40 steps: <why>`
    Ended {
        /// How the run ended.
        status: Status,
        /// Optimizer steps taken.
        steps: u64,
        /// The failure's message, or why it converged. Its line breaks are
        /// written as spaces, so the event stays on one line and reads back
        /// whole (less them).
        error: Option<String>,
    },
}

impl LogEvent {
    /// The event's text, without the time.
    pub fn text(&self) -> String {
        match self {
            LogEvent::Started {
                device,
                width,
                height,
                optimizer,
            } => format!("started on {device} ({width}×{height}, {optimizer})"),
            LogEvent::Steered { iter, term, from, to } => {
                format!(
                    "step {iter}: {} {} -> {} (from step {})",
                    term.weight_key(),
                    compact(*from),
                    compact(*to),
                    iter + 1
                )
            }
            LogEvent::Paused { iter, paused } => {
                format!("step {iter}: {}", if *paused { "paused" } else { "resumed" })
            }
            LogEvent::Refused { iter, what } => format!("step {iter}: refused: {}", what.replace('\n', " ")),
            LogEvent::Warning(what) => format!("warning: {}", what.replace('\n', " ")),
            LogEvent::Scale {
                iter,
                index,
                count,
                width,
                height,
            } => format!("step {iter}: scale {index}/{count} at {width}×{height}"),
            LogEvent::Ended { status, steps, error } => match error {
                // One event, one line: a message's own line breaks would split it.
                Some(e) => format!(
                    "{status} after {}: {}",
                    crate::text::count(*steps, "step"),
                    e.replace(['\r', '\n'], " ")
                ),
                None => format!("{status} after {}", crate::text::count(*steps, "step")),
            },
        }
    }

    /// A whole line: `time` (RFC 3339), a space, the text.
    pub fn line(&self, time: &str) -> String {
        format!("{time} {}", self.text())
    }

    /// Reads a line written by [`LogEvent::line`]; None for anything else.
    /// The time (everything before the first space) is not checked.
    pub fn parse_line(line: &str) -> Option<LogEvent> {
        let (_time, text) = line.split_once(' ')?;
        LogEvent::parse(text)
    }

    /// Reads an event's text (no time); `None` when it is not one of the
    /// shapes [`LogEvent::text`] writes.
    pub fn parse(text: &str) -> Option<LogEvent> {
        if let Some(rest) = text.strip_prefix("started on ") {
            return parse_started(rest);
        }
        if let Some(what) = text.strip_prefix("warning: ") {
            return Some(LogEvent::Warning(what.to_string()));
        }
        if let Some(rest) = text.strip_prefix("step ") {
            let (iter, what) = rest.split_once(": ")?;
            let iter: u64 = iter.parse().ok()?;
            return match what.trim() {
                "paused" => Some(LogEvent::Paused { iter, paused: true }),
                "resumed" => Some(LogEvent::Paused { iter, paused: false }),
                w if w.starts_with("refused: ") => Some(LogEvent::Refused {
                    iter,
                    what: w["refused: ".len()..].to_string(),
                }),
                w if w.starts_with("scale ") => parse_scale(iter, w),
                _ => {
                    let words: Vec<&str> = what.split_whitespace().collect();
                    let [name, from, "->", to, ..] = words.as_slice() else {
                        return None;
                    };
                    Some(LogEvent::Steered {
                        iter,
                        term: Term::from_name(name)?,
                        from: from.parse().ok()?,
                        to: to.parse().ok()?,
                    })
                }
            };
        }
        let (status, rest) = text.split_once(" after ")?;
        let status = [
            Status::Running,
            Status::Completed,
            Status::Converged,
            Status::Stopped,
            Status::Failed,
            Status::Stalled,
        ]
        .into_iter()
        .find(|s| s.to_string() == status)?;
        // `1 step`, `2 steps` (and `1 steps`, as older logs wrote it), then
        // `: why` or nothing.
        let (steps, noun) = rest.split_once(' ')?;
        let tail = noun.strip_prefix("steps").or_else(|| noun.strip_prefix("step"))?;
        let error = match tail {
            "" => None,
            e => Some(e.strip_prefix(": ")?.to_string()),
        };
        Some(LogEvent::Ended {
            status,
            steps: steps.parse().ok()?,
            error,
        })
    }
}

/// A number as short as it reads back exactly: `100`, `0.5`, `1e-30`
/// (never a 320-digit expansion).
pub fn compact(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 12 { plain } else { format!("{v:e}") }
}

/// `scale 2/3 at 512×341`.
fn parse_scale(iter: u64, what: &str) -> Option<LogEvent> {
    let (which, size) = what.strip_prefix("scale ")?.split_once(" at ")?;
    let (index, count) = which.split_once('/')?;
    let (width, height) = size.split_once('×')?;
    Some(LogEvent::Scale {
        iter,
        index: index.parse().ok()?,
        count: count.parse().ok()?,
        width: width.parse().ok()?,
        height: height.parse().ok()?,
    })
}

/// `cpu (2 threads) (64×43, lbfgs (history 100, lr 1))`: the device may
/// hold parentheses, so the size is found as `(<digits>×<digits>, `.
fn parse_started(rest: &str) -> Option<LogEvent> {
    let body = rest.strip_suffix(')')?;
    let open = body.match_indices(" (").map(|(i, _)| i).find(|&i| {
        let after = &body[i + 2..];
        after.split_once(", ").is_some_and(|(size, _)| {
            size.split_once('×')
                .is_some_and(|(w, h)| w.parse::<u32>().is_ok() && h.parse::<u32>().is_ok())
        })
    })?;
    let (size, optimizer) = body[open + 2..].split_once(", ")?;
    let (w, h) = size.split_once('×')?;
    Some(LogEvent::Started {
        device: body[..open].to_string(),
        width: w.parse().ok()?,
        height: h.parse().ok()?,
        optimizer: optimizer.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_from_its_line() {
        let events = [
            LogEvent::Started {
                device: "cpu (2 threads)".into(),
                width: 64,
                height: 43,
                optimizer: "lbfgs (history 100, lr 1)".into(),
            },
            LogEvent::Steered {
                iter: 12,
                term: Term::Style,
                from: 100.0,
                to: 200.0,
            },
            LogEvent::Paused { iter: 3, paused: true },
            LogEvent::Paused { iter: 3, paused: false },
            LogEvent::Scale {
                iter: 100,
                index: 2,
                count: 3,
                width: 512,
                height: 341,
            },
            LogEvent::Ended {
                status: Status::Completed,
                steps: 150,
                error: None,
            },
            LogEvent::Ended {
                status: Status::Converged,
                steps: 40,
                error: Some("the total loss changed by 0.008 % over the last 20 steps (optim.stop)".into()),
            },
            LogEvent::Ended {
                status: Status::Failed,
                steps: 0,
                error: Some("the total loss became inf at step 0: try smaller weights".into()),
            },
            LogEvent::Ended {
                status: Status::Stalled,
                steps: 1,
                error: Some("at step 1: no step along it lowered the loss after 3 steps: of 8".into()),
            },
            LogEvent::Ended {
                status: Status::Completed,
                steps: 1,
                error: None,
            },
        ];
        for e in events {
            let line = e.line("2026-11-21T10:00:00+00:00");
            assert_eq!(LogEvent::parse_line(&line), Some(e.clone()), "{line}");
        }
    }

    #[test]
    fn the_documented_lines_parse() {
        assert_eq!(
            LogEvent::parse_line("2026-11-21T10:00:00+00:00 step 12: style_weight 100 -> 200 (from step 13)"),
            Some(LogEvent::Steered {
                iter: 12,
                term: Term::Style,
                from: 100.0,
                to: 200.0
            })
        );
        assert_eq!(LogEvent::parse_line("2026-11-21T10:00:00+00:00 something else"), None);
        // One step is "1 step"; logs written before said "1 steps".
        let one = |line: &str| LogEvent::parse_line(&format!("2026-11-21T10:00:00+00:00 {line}"));
        let ended = |error: Option<&str>| {
            Some(LogEvent::Ended {
                status: Status::Completed,
                steps: 1,
                error: error.map(str::to_string),
            })
        };
        assert_eq!(one("completed after 1 step"), ended(None));
        assert_eq!(one("completed after 1 steps"), ended(None));
        assert_eq!(one("completed after 1 steps: why"), ended(Some("why")));
        assert_eq!(one("completed after 1 stepping"), None);
        assert_eq!(
            LogEvent::Ended {
                status: Status::Completed,
                steps: 1,
                error: None
            }
            .line("t"),
            "t completed after 1 step"
        );
    }
}
