//! The Runs table's columns: what each shows, its width, which sort key
//! orders it and its rank (the narrower the terminal, the more of the
//! lowest ranks are left out, whole, by `stylelab_core::review::fit`), and
//! the sort keys `o` cycles through.

use crate::ui::times::{duration, short_time};
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::path::PathBuf;
use stylelab_core::review::RunEntry;
use stylelab_core::text::short;

/// Which column the Runs table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Start time, the default (newest first).
    Started,
    Name,
    Status,
    /// Steps done.
    Steps,
    /// Wall-clock time, sorted by the `wall_s` column.
    Duration,
    /// Latest total loss (runs without rows sort last).
    Total,
    /// Latest style loss (runs without rows sort last).
    Style,
    /// Content distance from scoring (unscored runs sort last).
    ContentDist,
    /// Style distance from scoring (unscored runs sort last).
    StyleDist,
}

impl SortKey {
    /// Every key, in the order `o` cycles through them.
    pub const ALL: [SortKey; 9] = [
        SortKey::Started,
        SortKey::Name,
        SortKey::Status,
        SortKey::Steps,
        SortKey::Duration,
        SortKey::Total,
        SortKey::Style,
        SortKey::ContentDist,
        SortKey::StyleDist,
    ];

    /// The `review::sort` column this key sorts by.
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Duration => "wall_s",
            other => other.title(),
        }
    }

    /// The name shown in the Runs header; also the sort column, except for `Duration`.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Started => "started",
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::Steps => "steps",
            SortKey::Duration => "duration",
            SortKey::Total => "total",
            SortKey::Style => "style",
            SortKey::ContentDist => "content_dist",
            SortKey::StyleDist => "style_dist",
        }
    }

    /// The key after this one, round the list.
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// What a cell may read besides its run: the clock and the sweep values.
pub struct Sources<'a> {
    /// The time the screen is drawn for.
    pub now: &'a DateTime<FixedOffset>,
    /// Sweep points' values of their sweep's keys, by run folder.
    pub sweep_values: &'a HashMap<PathBuf, String>,
}

/// A column of the Runs table.
#[derive(Debug, Clone, Copy)]
pub struct RunColumn {
    /// Its header, before any sort arrow.
    pub title: &'static str,
    /// The sort key that orders by it, whose arrow its header carries.
    pub sort: Option<SortKey>,
    /// The lower, the sooner it is left out of a narrow table.
    pub rank: u8,
    /// Its width in cells (the values column's is measured).
    pub width: u16,
    /// Its text for a run.
    pub cell: fn(&Sources, &RunEntry) -> String,
}

impl RunColumn {
    /// The header, with ▼/▲ when the table sorts by this column.
    pub fn head(&self, sort: SortKey, desc: bool) -> String {
        head(self.title, self.sort == Some(sort), desc)
    }
}

/// `label`, with ▼ (descending) or ▲ after it when the table sorts by it.
pub fn head(label: &str, sorted: bool, desc: bool) -> String {
    if sorted {
        format!("{label}{}", if desc { "▼" } else { "▲" })
    } else {
        label.to_string()
    }
}

/// A score of the run, to three places; empty when unscored.
fn score(r: &RunEntry, name: &str) -> String {
    r.scores()
        .and_then(|s| s.get(name))
        .map(|v| format!("{v:.3}"))
        .unwrap_or_default()
}

/// The columns after the name, in the order they show.
const COLUMNS: [RunColumn; 11] = [
    RunColumn {
        title: "status",
        sort: Some(SortKey::Status),
        rank: 9,
        width: 9,
        cell: |_, r| r.state.to_string(),
    },
    RunColumn {
        title: "started",
        sort: Some(SortKey::Started),
        rank: 3,
        width: 11,
        cell: |s, r| short_time(r.started(), s.now),
    },
    RunColumn {
        title: "steps",
        sort: Some(SortKey::Steps),
        rank: 6,
        width: 9,
        cell: |_, r| {
            format!(
                "{}/{}",
                r.steps(),
                r.summary.as_ref().map(|s| s.iterations).unwrap_or(0)
            )
        },
    },
    RunColumn {
        title: "size",
        sort: None,
        rank: 4,
        width: 9,
        cell: |_, r| r.size_text(),
    },
    RunColumn {
        title: "time",
        sort: Some(SortKey::Duration),
        rank: 3,
        width: 6,
        cell: |_, r| duration(r.wall_s()),
    },
    RunColumn {
        title: "total",
        sort: Some(SortKey::Total),
        rank: 8,
        width: 8,
        cell: |_, r| r.losses().map(|l| short(l.total)).unwrap_or_default(),
    },
    RunColumn {
        title: "content",
        sort: None,
        rank: 5,
        width: 8,
        cell: |_, r| r.losses().map(|l| short(l.content)).unwrap_or_default(),
    },
    RunColumn {
        title: "style",
        sort: Some(SortKey::Style),
        rank: 8,
        width: 8,
        cell: |_, r| r.losses().map(|l| short(l.style)).unwrap_or_default(),
    },
    RunColumn {
        title: "tv",
        sort: None,
        rank: 2,
        width: 8,
        cell: |_, r| r.losses().map(|l| short(l.tv)).unwrap_or_default(),
    },
    RunColumn {
        title: "c.dist",
        sort: Some(SortKey::ContentDist),
        rank: 6,
        width: 6,
        cell: |_, r| score(r, "content_dist"),
    },
    RunColumn {
        title: "s.dist",
        sort: Some(SortKey::StyleDist),
        rank: 7,
        width: 6,
        cell: |_, r| score(r, "style_dist"),
    },
];

/// The columns for these runs: `COLUMNS`, with a `values` column (as
/// wide as the longest value, within 6–200; the view narrows it to fit)
/// second when any run is a sweep point: its points' swept values, and
/// on a sweep's own row its progress.
pub fn run_columns(runs: &[RunEntry], sweep_values: &HashMap<PathBuf, String>) -> Vec<RunColumn> {
    let mut cols = COLUMNS.to_vec();
    if !sweep_values.is_empty() || runs.iter().any(|r| r.sweep().is_some()) {
        let width = runs
            .iter()
            .filter_map(|r| sweep_values.get(&r.dir))
            .map(|v| v.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(6, 200) as u16;
        let values = RunColumn {
            title: "values",
            sort: None,
            rank: 8,
            width,
            cell: |s, r| s.sweep_values.get(&r.dir).cloned().unwrap_or_default(),
        };
        cols.insert(1, values);
    }
    cols
}
