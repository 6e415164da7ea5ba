//! `view(&App, &mut Frame)`: draws the state, changes nothing. It reads no
//! file and no clock (the time comes in `App::now`), and computes nothing
//! that `update` could have computed when the data arrived: the curves are
//! in the state already, and images resample only when their panel's size
//! changes.

use super::state::{App, COMPARE_METRICS, Live, Prompt, SortKey, Tab};
use super::widgets::{HalfBlockImage, TabBar};
use crate::chart::{LossChart, RUN_COLORS};
use crate::console::short;
use crate::record::Term;
use crate::review::RunState;
use chrono::{DateTime, FixedOffset};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Gauge, List, ListItem, ListState, Paragraph, Row, Table, TableState, Wrap};

/// Below this the dashboard asks for a bigger window.
pub const MIN_WIDTH: u16 = 60;
/// Rows below which the dashboard asks for a taller window; see [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 18;

/// Styles for the screen, each falling back to plain (or reversed) text
/// when colour is off, so nothing depends on colour to be readable.
struct Theme {
    color: bool,
}

impl Theme {
    /// Foreground `c`, or the default style without colour.
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    /// The highlighted row of a list or table: bold on grey, or reversed.
    fn selected(&self) -> Style {
        if self.color {
            Style::default().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
    fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    /// Hints and secondary text: dark grey, or plain without colour.
    fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    /// A run state's colour: green running, cyan completed, yellow stopped, red otherwise.
    fn state(&self, s: &RunState) -> Style {
        self.fg(match s {
            RunState::Running => Color::Green,
            RunState::Completed => Color::Cyan,
            RunState::Stopped => Color::Yellow,
            RunState::Failed | RunState::Died | RunState::Broken(_) => Color::Red,
            RunState::Stalled => Color::Yellow,
        })
    }
}

/// Draws the whole screen: tab bar, the current tab, the status bar, then
/// the help overlay and any prompt on top. A window smaller than
/// [`MIN_WIDTH`]×[`MIN_HEIGHT`] gets only a message asking for more room.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = Theme { color: app.color };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "make the window bigger ({}×{} at least; now {}×{})",
            MIN_WIDTH, MIN_HEIGHT, area.width, area.height
        );
        let y = area.height / 2;
        frame.render_widget(
            Paragraph::new(msg)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            Rect::new(area.x, area.y + y.saturating_sub(1), area.width, 3.min(area.height)),
        );
        return;
    }
    let [top, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    tabs(app, &theme, frame, top);
    match app.tab {
        Tab::Experiments => experiments(app, &theme, frame, body),
        Tab::Runs => runs(app, &theme, frame, body),
        Tab::Live => match &app.live {
            Some(live) => live_view(app, live, &theme, frame, body),
            None => empty(
                frame,
                body,
                "No run yet: launch one from Experiments (Enter) or open one from Runs.",
            ),
        },
        Tab::Compare => compare(app, &theme, frame, body),
    }
    status_bar(app, &theme, frame, bottom);
    if app.help {
        help(&theme, frame, area);
    }
    if let Some(p) = &app.prompt {
        prompt(p, &theme, frame, area);
    }
}

/// The one-row tab bar, current tab highlighted.
fn tabs(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(
        TabBar {
            titles: &Tab::TITLES,
            selected: app.tab.index(),
            title_style: theme.bold(),
            selected_style: theme.selected(),
            hint_style: theme.dim(),
        },
        area,
    );
}

/// The bottom row: the last message if there is one, else the current tab's keys.
fn status_bar(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let keys = match app.tab {
        Tab::Experiments => "j/k select  Enter launch  e edit  r re-check",
        Tab::Runs => "j/k select  Enter open  space mark  c compare  o sort  O reverse  r refresh",
        Tab::Live => "space pause  s stop  n snapshot  t term  +/- ×2/÷2  l layers  m smooth  [ ] snapshots  v view",
        Tab::Compare => "m metric  Esc back",
    };
    let text = match &app.message {
        Some(m) => Line::from(vec![Span::styled(m.clone(), theme.fg(Color::Yellow))]),
        None => Line::from(Span::styled(keys, theme.dim())),
    };
    frame.render_widget(Paragraph::new(text), area);
}

/// A bordered box with `text`, for a tab that has nothing to show yet.
fn empty(frame: &mut Frame, area: Rect, text: &str) {
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered()).wrap(Wrap { trim: true }),
        area,
    );
}

/// Experiments tab: the files with ✓/✗/… marks on the left, the selected
/// one's description or validation error on the right.
fn experiments(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.experiments.is_empty() {
        return empty(
            frame,
            area,
            "No experiments/*.toml here. Write one (see the README) and press r.",
        );
    }
    let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area);
    let items: Vec<ListItem> = app
        .experiments
        .iter()
        .map(|e| {
            let (mark, style) = match &e.check {
                None => ("…", theme.dim()),
                Some(Ok(_)) => ("✓", theme.fg(Color::Green)),
                Some(Err(_)) => ("✗", theme.fg(Color::Red)),
            };
            ListItem::new(Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::raw(e.file_name()),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.exp_sel));
    frame.render_stateful_widget(
        List::new(items)
            .block(Block::bordered().title("experiments/"))
            .highlight_style(theme.selected()),
        left,
        &mut state,
    );
    let detail = match app.experiments.get(app.exp_sel).and_then(|e| e.check.as_ref()) {
        None => Paragraph::new("checking…"),
        Some(Ok(desc)) => Paragraph::new(format!("{desc}\n\nEnter: launch it   e: edit it")),
        Some(Err(e)) => Paragraph::new(e.clone()).style(theme.fg(Color::Red)),
    };
    frame.render_widget(
        detail
            .block(Block::bordered().title("check"))
            .wrap(Wrap { trim: false }),
        right,
    );
}

/// `12:34:56` from an RFC 3339 time, or the date when not the day of
/// `now` (in `now`'s time zone).
fn short_time(rfc3339: &str, now: &DateTime<FixedOffset>) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let t = t.with_timezone(&now.timezone());
            if t.date_naive() == now.date_naive() {
                t.format("%H:%M:%S").to_string()
            } else {
                t.format("%m-%d %H:%M").to_string()
            }
        }
        Err(_) => String::new(),
    }
}

/// Seconds as `12m05s`, or `1h02m` from an hour on; negative counts as 0.
fn duration(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Runs tab: the table of run folders, with ▼/▲ on the sort column.
fn runs(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.runs.is_empty() {
        return empty(frame, area, "No runs under results/ yet.");
    }
    let head = |k: SortKey, label: &str| {
        if app.sort == k {
            format!("{label}{}", if app.sort_desc { "▼" } else { "▲" })
        } else {
            label.to_string()
        }
    };
    let header = Row::new(vec![
        Cell::from(" "),
        Cell::from(head(SortKey::Name, "name")),
        Cell::from(head(SortKey::Status, "status")),
        Cell::from(head(SortKey::Started, "started")),
        Cell::from(head(SortKey::Steps, "steps")),
        Cell::from(head(SortKey::Duration, "time")),
        Cell::from(head(SortKey::Total, "total")),
        Cell::from("content"),
        Cell::from(head(SortKey::Style, "style")),
        Cell::from(head(SortKey::ContentDist, "c.dist")),
        Cell::from(head(SortKey::StyleDist, "s.dist")),
    ])
    .style(theme.bold());
    // A sweep's points sit together (`group_sweeps`), under a row with its progress.
    let mut rows: Vec<Row> = Vec::with_capacity(app.runs.len());
    let mut selected = app.run_sel;
    let mut group: Option<&str> = None;
    for (i, r) in app.runs.iter().enumerate() {
        let sweep = r.sweep().map(|m| m.name.as_str());
        if sweep.is_some() && sweep != group {
            let name = sweep.unwrap_or_default();
            let p = app.sweeps.get(name).copied().unwrap_or_default();
            rows.push(
                Row::new(vec![
                    Cell::from(" "),
                    Cell::from(format!("▾ {name} ({} points)", p.points)),
                    Cell::from(format!("{} done", p.done)),
                    Cell::from(format!("{} running", p.running)),
                    Cell::from(format!("{} failed", p.failed)),
                    Cell::from(""),
                    Cell::from(format!("{} to do", p.to_do())),
                ])
                .style(theme.bold()),
            );
            if i <= app.run_sel {
                selected += 1;
            }
        }
        group = sweep;
        rows.push(run_row(app, theme, r));
    }

    let widths = [
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    let title = format!("results/ — {} runs, {} marked", app.runs.len(), app.marked.len());
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title))
            .row_highlight_style(theme.selected()),
        area,
        &mut state,
    );
}

/// One run's row in the Runs table; a sweep's points are indented under
/// their sweep's row.
fn run_row<'a>(app: &App, theme: &Theme, r: &'a crate::review::RunEntry) -> Row<'a> {
    let losses = r.losses();
    let loss = |f: fn(&crate::record::Losses) -> f64| losses.as_ref().map(|l| short(f(l))).unwrap_or_default();
    let score = |r: &crate::review::RunEntry, name: &str| {
        r.scores()
            .and_then(|s| s.get(name))
            .map(|v| format!("{v:.3}"))
            .unwrap_or_default()
    };
    Row::new(vec![
        Cell::from(if app.marked.contains(&r.dir) { "●" } else { " " }),
        Cell::from(if r.sweep().is_some() {
            format!("  {}", r.name())
        } else {
            r.name().to_string()
        }),
        Cell::from(Span::styled(r.state.to_string(), theme.state(&r.state))),
        Cell::from(short_time(r.started(), &app.now)),
        Cell::from(format!(
            "{}/{}",
            r.steps(),
            r.summary.as_ref().map(|s| s.iterations).unwrap_or(0)
        )),
        Cell::from(duration(r.wall_s())),
        Cell::from(loss(|l| l.total)),
        Cell::from(loss(|l| l.content)),
        Cell::from(loss(|l| l.style)),
        Cell::from(score(r, "content_dist")),
        Cell::from(score(r, "style_dist")),
    ])
}

/// Live tab: loss chart and progress on the left, image and parameters on the right.
fn live_view(app: &App, live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [left, right] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let [chart_area, progress_area] = Layout::vertical([Constraint::Min(6), Constraint::Length(7)]).areas(left);
    let [image_area, params_area] = Layout::vertical([Constraint::Min(4), Constraint::Length(8)]).areas(right);

    let title = format!(
        " {} — log10 losses{}{} ",
        live.name(),
        if app.smooth { ", smoothed" } else { "" },
        if app.per_layer { ", per layer" } else { "" }
    );
    frame.render_widget(
        LossChart {
            title: &title,
            series: &live.series,
            marks: &live.chart_marks,
            color: app.color,
            log: true,
        },
        chart_area,
    );

    progress(live, theme, frame, progress_area);

    let image_title = match (&live.image, live.browsing) {
        (Some((iter, _)), Some(_)) => format!(" snapshot at step {iter} (browsing; End: newest) "),
        (Some((iter, _)), None) => format!(" step {iter} "),
        (None, _) => " image ".to_string(),
    };
    let block = Block::bordered().title(image_title);
    let inner = block.inner(image_area);
    frame.render_widget(block, image_area);
    match &live.image {
        Some((_, img)) => frame.render_widget(
            HalfBlockImage {
                image: img,
                color: app.color,
            },
            inner,
        ),
        None => frame.render_widget(Paragraph::new("no snapshot yet").style(theme.dim()), inner),
    }
    params(app, live, theme, frame, params_area);
}

/// The progress panel: a gauge of steps done, rate and ETA, device,
/// memory (live while running, recorded peak after) and the latest losses.
fn progress(live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" progress ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge_area, text_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let steps = live.last.as_ref().map(|r| r.iter).unwrap_or(0);
    let total = live.iterations().max(1);
    let status = match &live.summary {
        Some(s) if s.status != crate::record::Status::Running => s.status.to_string(),
        _ if live.paused => "paused".into(),
        _ if live.died() => "died".into(),
        _ => "running".into(),
    };
    let ratio = (steps as f64 / total as f64).clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(format!("{steps}/{total} {status}"))
            .gauge_style(theme.fg(if status == "running" {
                Color::Green
            } else {
                Color::Yellow
            })),
        gauge_area,
    );
    let rate = live.steps_per_s();
    let elapsed = live.last.as_ref().map(|r| r.elapsed_s).unwrap_or(0.0);
    let eta = if rate > 0.0 && status == "running" {
        duration((total - steps.min(total)) as f64 / rate)
    } else {
        "-".into()
    };
    let device = live.summary.as_ref().map(|s| s.device.clone()).unwrap_or_default();
    let mem = live
        .rss_mib
        .map(|m| format!("RSS {m:.0} MiB"))
        .or_else(|| {
            live.summary
                .as_ref()
                .filter(|s| s.peak_rss_mib > 0.0)
                .map(|s| format!("peak {:.0} MiB", s.peak_rss_mib))
        })
        .unwrap_or_else(|| "-".into());
    // GPU memory: the live figure while running, the recorded peak after.
    let gpu = live
        .gpu_mib
        .map(|m| format!("  GPU {m:.0} MiB"))
        .or_else(|| {
            let peak = live.summary.as_ref()?.peak_gpu_mib?;
            Some(format!("  GPU peak {peak:.0} MiB"))
        })
        .unwrap_or_default();
    let last = live.last.as_ref();
    let value = |label: &str, v: Option<f64>| format!("{label} {:<10}", v.map(short).unwrap_or_else(|| "-".into()));
    // The scale a multi-scale run is at: from its last row's size.
    let scale = match (live.scale, last) {
        (Some((i, n)), Some(r)) => format!("   scale {i}/{n} {}×{}", r.width, r.height),
        (None, Some(r)) if live.summary.as_ref().is_some_and(|s| s.scales.len() > 1) => {
            format!(
                "   scale 1/{} {}×{}",
                live.summary.as_ref().map_or(1, |s| s.scales.len()),
                r.width,
                r.height
            )
        }
        _ => String::new(),
    };
    let lines = vec![
        Line::from(format!(
            "{rate:.2} steps/s   ETA {eta}   elapsed {}{scale}",
            duration(elapsed)
        )),
        Line::from(format!(
            "evals {}  {device}  {mem}{gpu}",
            last.map(|r| r.evals).unwrap_or(0)
        )),
        Line::from(value("total  ", last.map(|r| r.total)) + &value("content", last.map(|r| r.content))),
        Line::from(value("style  ", last.map(|r| r.style)) + &value("tv     ", last.map(|r| r.tv))),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
}

/// The parameters panel: content and style layers (with their weights
/// when not 1.0), each term's weight with ▶ on the one being steered, and
/// the last weight change.
fn params(app: &App, live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let layers = |prefix: &str| -> String {
        live.config
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|l| if v == "1.0" { l.to_string() } else { format!("{l}×{v}") })
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("content ", theme.dim()),
            Span::raw(layers("loss.content_layers.")),
        ]),
        Line::from(vec![
            Span::styled("style   ", theme.dim()),
            Span::raw(layers("loss.style_layers.")),
        ]),
    ];
    for term in Term::ALL {
        let w = live.weight(term).map(short).unwrap_or_else(|| "-".into());
        let steer = term == app.steer;
        let style = if steer {
            theme.bold().patch(theme.fg(Color::Yellow))
        } else {
            Style::default()
        };
        let marker = if steer { "▶ " } else { "  " };
        lines.push(Line::from(Span::styled(
            format!("{marker}{:<15}{w}", term.name()),
            style,
        )));
    }
    if let Some(m) = live.marks.last() {
        lines.push(Line::from(Span::styled(
            format!("step {}: {} {} → {}", m.iter, m.term.name(), short(m.from), short(m.to)),
            theme.dim(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" parameters ")),
        area,
    );
}

/// Compare tab: the metric chart, the config differences (with a trade-off
/// scatter when two or more runs are scored), and each run's final image.
fn compare(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(data) = &app.compare else {
        return empty(frame, area, "Mark two or more runs in Runs (space), then press c.");
    };
    let [top, images_area] = Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let [chart_area, side] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
    let scored = data.tradeoff.iter().filter(|p| p.0.is_finite()).count();
    let diff_area = if scored >= 2 {
        let [diff_area, scatter_area] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(side);
        frame.render_widget(
            crate::chart::Scatter {
                title: " content_dist → style_dist ↑ ",
                x_label: "",
                y_label: "",
                points: &data.tradeoff,
                color: app.color,
            },
            scatter_area,
        );
        diff_area
    } else {
        side
    };
    let title = format!(" {} (log10) — m: metric ", COMPARE_METRICS[data.metric]);
    frame.render_widget(
        LossChart {
            title: &title,
            series: &data.series,
            marks: &[],
            color: app.color,
            log: true,
        },
        chart_area,
    );

    let header =
        Row::new(std::iter::once(Cell::from("key")).chain(data.runs.iter().map(|r| Cell::from(r.name.clone()))))
            .style(theme.bold());
    let rows: Vec<Row> = data
        .diff
        .iter()
        .map(|(k, vals)| {
            Row::new(std::iter::once(Cell::from(k.clone())).chain(vals.iter().map(|v| Cell::from(v.clone()))))
        })
        .collect();
    let mut widths = vec![Constraint::Min(12)];
    widths.extend(data.runs.iter().map(|_| Constraint::Min(8)));
    let title = if data.diff.is_empty() {
        " config: no differences "
    } else {
        " config differences "
    };
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title)),
        diff_area,
    );

    let n = data.runs.len().max(1) as u32;
    let cols = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(images_area);
    for (i, r) in data.runs.iter().enumerate() {
        let block = Block::bordered().title(Span::styled(
            format!(" {} ", r.name),
            theme.fg(RUN_COLORS[i % RUN_COLORS.len()]),
        ));
        let inner = block.inner(cols[i]);
        frame.render_widget(block, cols[i]);
        match &r.image {
            Some(img) => frame.render_widget(
                HalfBlockImage {
                    image: img,
                    color: app.color,
                },
                inner,
            ),
            None => frame.render_widget(Paragraph::new("no final image").style(theme.dim()), inner),
        }
    }
}

/// A `w`×`h` rectangle centred in `area`, shrunk to fit it.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// The help overlay's lines: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab, 1-4", "switch view"),
    ("j k ↑ ↓, mouse wheel", "move"),
    ("Enter", "launch experiment / open run"),
    ("e", "edit experiment in $EDITOR"),
    ("r", "re-check experiments / refresh runs"),
    ("space", "pause/resume (Live); mark run (Runs)"),
    ("s", "stop the run (files kept)"),
    ("n", "snapshot now"),
    ("t, + / -", "choose content/style/tv weight, ×2 / ÷2"),
    ("l / m", "per-layer curves / smoothing"),
    ("[ ] ← →, End", "earlier/later snapshot, newest"),
    ("v", "show the image large (any key returns)"),
    ("c, o / O", "compare marked runs; sort, reverse"),
    ("?  Esc", "this help; close, back"),
    ("q, Ctrl-C", "quit"),
];

/// The help overlay, centred over everything.
fn help(theme: &Theme, frame: &mut Frame, area: Rect) {
    let rect = centered(area, 64, HELP.len() as u16 + 4);
    frame.render_widget(Clear, rect);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| Line::from(vec![Span::styled(format!("{k:<22}"), theme.bold()), Span::raw(*v)]))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys (any key closes) ")),
        rect,
    );
}

/// The quit prompt: stop the runs launched here, leave them running, or cancel.
fn prompt(p: &Prompt, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Prompt::Quit { running } = p;
    let rect = centered(area, 62, 8);
    frame.render_widget(Clear, rect);
    let lines = vec![
        Line::from(Span::styled(
            format!("{running} run(s) started here are still going."),
            theme.bold(),
        )),
        Line::from(""),
        Line::from("  s  stop them (status stopped, files kept), then quit"),
        Line::from("  d  leave them running detached (re-attach from Runs)"),
        Line::from("  Esc  cancel"),
    ];
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" quit? ")), rect);
}
