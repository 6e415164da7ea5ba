//! `view(&App, &mut Frame)`: draws the state, changes nothing. It reads no
//! file and no clock (the time comes in `App::now`), and computes nothing
//! that `update` could have computed when the data arrived: the curves are
//! in the state already, and images resample only when their panel's size
//! changes.

use super::state::{App, COMPARE_METRICS, Live, Prompt, RunRow, SortKey, Tab};
use super::widgets::{HalfBlockImage, TabBar};
use chrono::{DateTime, FixedOffset};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Gauge, List, ListItem, ListState, Paragraph, Row, Table, TableState, Wrap};
use stylelab_core::chart::{LossChart, RUN_COLORS};
use stylelab_core::record::Term;
use stylelab_core::review::RunState;
use stylelab_core::text::short;

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
    // Only the keys that do something now.
    let running = app.live.as_ref().is_some_and(Live::is_running);
    let keys = match app.tab {
        Tab::Experiments => "j/k select  Enter launch (a sweep: all its points)  e edit  r re-check",
        Tab::Runs if app.on_header.is_some() => {
            "j/k select  Enter fold/unfold  space mark its points  c compare  o sort"
        }
        Tab::Runs => "j/k select  Enter open  space mark  c compare  o/O sort/reverse  r refresh",
        Tab::Live if running => {
            "space pause  s stop  n snapshot  t term  +/- ×2/÷2  l layers  m smooth  [ ] snapshots  v view"
        }
        Tab::Live => "t term  l layers  m smooth  [ ] snapshots  v view (the run has ended)",
        Tab::Compare => "m metric  Esc back",
    };
    let text = match &app.message {
        Some(m) => Line::from(vec![Span::styled(m.clone(), theme.fg(Color::Yellow))]),
        None => Line::from(Span::styled(whole_keys(keys, usize::from(area.width)), theme.dim())),
    };
    frame.render_widget(Paragraph::new(text), area);
}

/// As many of the `keys` (groups separated by two spaces) as fit in
/// `width` columns, whole: a key is never cut mid-word (`?` lists them all).
fn whole_keys(keys: &str, width: usize) -> String {
    let mut out = String::new();
    for group in keys.split("  ") {
        let sep = if out.is_empty() { 0 } else { 2 };
        if out.chars().count() + sep + group.chars().count() > width {
            break;
        }
        if sep > 0 {
            out.push_str("  ");
        }
        out.push_str(group);
    }
    out
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
    let selected = app.experiments.get(app.exp_sel);
    let detail = match (
        selected.and_then(|e| e.check.as_ref()),
        selected.and_then(|e| e.sweep_points),
    ) {
        (None, _) => Paragraph::new("checking…"),
        (Some(Ok(desc)), Some(points)) => Paragraph::new(format!(
            "{desc}\nsweep: {points} points (its base experiment above)\n\nEnter: run the sweep's {points} points   e: edit it"
        )),
        (Some(Ok(desc)), None) => Paragraph::new(format!("{desc}\n\nEnter: launch it   e: edit it")),
        (Some(Err(e)), _) => Paragraph::new(e.clone()).style(theme.fg(Color::Red)),
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

/// A column of the Runs table: its title, width, and how it reads a run.
struct RunColumn {
    title: String,
    width: u16,
    cell: fn(&App, &stylelab_core::review::RunEntry) -> String,
}

/// The Runs table's columns in the order they show, each with its rank:
/// the narrower the terminal, the more of the lowest ranks are left out,
/// whole (a number is never cut).
fn run_columns(app: &App) -> Vec<(u8, RunColumn)> {
    let head = |k: SortKey, label: &str| {
        if app.sort == k {
            format!("{label}{}", if app.sort_desc { "▼" } else { "▲" })
        } else {
            label.to_string()
        }
    };
    fn total(_: &App, r: &stylelab_core::review::RunEntry) -> String {
        r.losses().map(|l| short(l.total)).unwrap_or_default()
    }
    fn content(_: &App, r: &stylelab_core::review::RunEntry) -> String {
        r.losses().map(|l| short(l.content)).unwrap_or_default()
    }
    fn style(_: &App, r: &stylelab_core::review::RunEntry) -> String {
        r.losses().map(|l| short(l.style)).unwrap_or_default()
    }
    fn tv(_: &App, r: &stylelab_core::review::RunEntry) -> String {
        r.losses().map(|l| short(l.tv)).unwrap_or_default()
    }
    fn score(r: &stylelab_core::review::RunEntry, name: &str) -> String {
        r.scores()
            .and_then(|s| s.get(name))
            .map(|v| format!("{v:.3}"))
            .unwrap_or_default()
    }
    let values_width = app
        .runs
        .iter()
        .filter_map(|r| app.sweep_values.get(&r.dir))
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 28) as u16;
    let mut cols = vec![
        (
            9,
            RunColumn {
                title: head(SortKey::Status, "status"),
                width: 9,
                cell: |_, r| r.state.to_string(),
            },
        ),
        (
            3,
            RunColumn {
                title: head(SortKey::Started, "started"),
                width: 11,
                cell: |app, r| short_time(r.started(), &app.now),
            },
        ),
        (
            6,
            RunColumn {
                title: head(SortKey::Steps, "steps"),
                width: 9,
                cell: |_, r| {
                    format!(
                        "{}/{}",
                        r.steps(),
                        r.summary.as_ref().map(|s| s.iterations).unwrap_or(0)
                    )
                },
            },
        ),
        (
            4,
            RunColumn {
                title: "size".into(),
                width: 9,
                cell: |_, r| r.size_text(),
            },
        ),
        (
            3,
            RunColumn {
                title: head(SortKey::Duration, "time"),
                width: 6,
                cell: |_, r| duration(r.wall_s()),
            },
        ),
        (
            8,
            RunColumn {
                title: head(SortKey::Total, "total"),
                width: 8,
                cell: total,
            },
        ),
        (
            5,
            RunColumn {
                title: "content".into(),
                width: 8,
                cell: content,
            },
        ),
        (
            8,
            RunColumn {
                title: head(SortKey::Style, "style"),
                width: 8,
                cell: style,
            },
        ),
        (
            2,
            RunColumn {
                title: "tv".into(),
                width: 8,
                cell: tv,
            },
        ),
        (
            6,
            RunColumn {
                title: head(SortKey::ContentDist, "c.dist"),
                width: 6,
                cell: |_, r| score(r, "content_dist"),
            },
        ),
        (
            7,
            RunColumn {
                title: head(SortKey::StyleDist, "s.dist"),
                width: 6,
                cell: |_, r| score(r, "style_dist"),
            },
        ),
    ];
    if !app.sweep_values.is_empty() {
        cols.insert(
            1,
            (
                8,
                RunColumn {
                    title: "values".into(),
                    width: values_width,
                    cell: |app, r| app.sweep_values.get(&r.dir).cloned().unwrap_or_default(),
                },
            ),
        );
    }
    cols
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn ellipsize(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// Runs tab: the table of run folders, with ▼/▲ on the sort column. A
/// sweep's points sit together (`group_sweeps`) under a row with its
/// progress, which can be selected (space marks its points, Enter folds
/// them away). Columns that do not fit are left out whole, and names end
/// in `…` rather than run into the next column.
fn runs(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.runs.is_empty() {
        return empty(frame, area, "No runs under results/ yet.");
    }
    // Inside the border: the mark, the name (at least 12), the columns, a space between each.
    let room = area.width.saturating_sub(2) as usize;
    let mut cols = run_columns(app);
    let needed = |cols: &[(u8, RunColumn)]| 1 + 1 + 12 + cols.iter().map(|(_, c)| c.width as usize + 1).sum::<usize>();
    while needed(&cols) > room {
        let Some(lowest) = cols
            .iter()
            .enumerate()
            .min_by_key(|(_, (rank, _))| *rank)
            .map(|(i, _)| i)
        else {
            break;
        };
        cols.remove(lowest);
    }
    let name_width = room.saturating_sub(needed(&cols) - 12).max(12);
    let header = Row::new(
        [Cell::from(" "), Cell::from(head_name(app))]
            .into_iter()
            .chain(cols.iter().map(|(_, c)| Cell::from(c.title.clone()))),
    )
    .style(theme.bold());
    let rows: Vec<Row> = app
        .rows
        .iter()
        .map(|row| match row {
            RunRow::Sweep(name) => {
                let p = app.sweeps.get(name).copied().unwrap_or_default();
                let folded = app.collapsed.contains(name);
                let dirs: Vec<&std::path::PathBuf> = app
                    .runs
                    .iter()
                    .filter(|r| r.sweep().is_some_and(|m| &m.name == name))
                    .map(|r| &r.dir)
                    .collect();
                let all_marked = !dirs.is_empty() && dirs.iter().all(|d| app.marked.contains(*d));
                let title = format!("{} {name} ({} points)", if folded { "▸" } else { "▾" }, p.points);
                let progress = [
                    format!("{} done", p.done),
                    format!("{} running", p.running),
                    format!("{} failed", p.failed),
                    format!("{} to do", p.to_do()),
                ];
                Row::new(
                    [
                        Cell::from(if all_marked { "●" } else { " " }),
                        Cell::from(ellipsize(&title, name_width)),
                    ]
                    .into_iter()
                    .chain(progress.into_iter().map(Cell::from)),
                )
                .style(theme.bold())
            }
            RunRow::Run(i) => {
                let r = &app.runs[*i];
                let name = if r.sweep().is_some() {
                    format!("  {}", r.name())
                } else {
                    r.name().to_string()
                };
                Row::new(
                    [
                        Cell::from(if app.marked.contains(&r.dir) { "●" } else { " " }),
                        Cell::from(ellipsize(&name, name_width)),
                    ]
                    .into_iter()
                    .chain(cols.iter().map(|(rank, c)| {
                        let text = (c.cell)(app, r);
                        if *rank == 9 {
                            Cell::from(Span::styled(text, theme.state(&r.state)))
                        } else {
                            Cell::from(text)
                        }
                    })),
                )
            }
        })
        .collect();
    let widths: Vec<Constraint> = [Constraint::Length(1), Constraint::Length(name_width as u16)]
        .into_iter()
        .chain(cols.iter().map(|(_, c)| Constraint::Length(c.width)))
        .collect();
    let title = format!("results/ — {} runs, {} marked", app.runs.len(), app.marked.len());
    let mut state = TableState::default().with_selected(Some(app.selected_row()));
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title))
            .row_highlight_style(theme.selected()),
        area,
        &mut state,
    );
}

/// The name column's title, with the sort arrow when it sorts.
fn head_name(app: &App) -> String {
    if app.sort == SortKey::Name {
        format!("name{}", if app.sort_desc { "▼" } else { "▲" })
    } else {
        "name".to_string()
    }
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
    if live.series.is_empty() {
        // Before the first row there is nothing to draw: no axes of zeros.
        frame.render_widget(
            Paragraph::new(starting_text(live))
                .style(theme.dim())
                .block(Block::bordered().title(title.as_str())),
            chart_area,
        );
    } else {
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
    }

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

/// What a run without its first metrics row is doing.
fn starting_text(live: &Live) -> &'static str {
    if !live.is_running() {
        "the run ended before its first step"
    } else if live.summary.is_some() {
        "starting… (computing the targets and the first evaluation)"
    } else {
        "starting… (loading libtorch, the images and the weights)"
    }
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
        Some(s) if s.status != stylelab_core::record::Status::Running => s.status.to_string(),
        _ if live.died() => "died".into(),
        _ if live.stopping => "stopping after the current step…".into(),
        _ if live.paused => "paused".into(),
        _ if live.last.is_none() => "starting…".into(),
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
    // No ETA from the first steps: they carry the start-up.
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
/// when not 1.0), the style statistic (a layer with its own in brackets),
/// the regions, each term's weight with ▶ on the one being steered, and
/// the last weight change.
fn params(app: &App, live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let weighted = |l: &str, v: &str| if v == "1.0" { l.to_string() } else { format!("{l}×{v}") };
    let content: Vec<String> = live
        .config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("loss.content_layers.").map(|l| weighted(l, v)))
        .collect();
    let common = live
        .config
        .get("loss.style_loss")
        .map_or("gram", |v| v.trim_matches('"'));
    // `relu1_1 = 1.0`, or `relu1_1.weight` and `relu1_1.loss`.
    let mut style: Vec<(String, String, Option<String>)> = Vec::new();
    for (k, v) in &live.config {
        let Some(rest) = k.strip_prefix("loss.style_layers.") else {
            continue;
        };
        let (layer, field) = rest.split_once('.').unwrap_or((rest, ""));
        if style.last().is_none_or(|s| s.0 != layer) {
            style.push((layer.to_string(), "1.0".into(), None));
        }
        if let Some(entry) = style.last_mut() {
            match field {
                "" | "weight" => entry.1 = v.clone(),
                "loss" => entry.2 = Some(v.trim_matches('"').to_string()).filter(|l| l != common),
                _ => {}
            }
        }
    }
    let style: Vec<String> = style
        .iter()
        .map(|(l, w, own)| {
            let l = weighted(l, w);
            match own {
                Some(loss) => format!("{l}[{loss}]"),
                None => l,
            }
        })
        .collect();
    let regions: Vec<String> = live
        .config
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("regions.")?.strip_suffix(".color")?;
            Some(format!("{name}({})", v.trim_matches('"')))
        })
        .collect();
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = wrapped("content ", content, 0, width, theme);
    let style = std::iter::once(common.to_string()).chain(style).collect();
    lines.extend(wrapped("style   ", style, 1, width, theme));
    if !regions.is_empty() {
        lines.extend(wrapped("regions ", regions, 0, width, theme));
    }
    for term in Term::ALL {
        let mut w = live.weight(term).map(short).unwrap_or_else(|| "-".into());
        if let Some(p) = live.pending.get(&term) {
            // Asked for, not yet in a row: shown at once.
            w = format!("{w} → {} (next step)", short(*p));
        }
        let steer = term == app.steer;
        let style = if steer {
            theme.bold().patch(theme.fg(Color::Yellow))
        } else {
            Style::default()
        };
        let marker = if steer { "▶ " } else { "  " };
        lines.push(Line::from(Span::styled(
            format!("{marker}{:<15}{w}", term.weight_key()),
            style,
        )));
    }
    if let Some(m) = live.marks.last() {
        lines.push(Line::from(Span::styled(
            format!(
                "step {}: {} {} → {}",
                m.iter,
                m.term.weight_key(),
                short(m.from),
                short(m.to)
            ),
            theme.dim(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" parameters ")),
        area,
    );
}

/// `label` and then `words`, broken into lines no wider than `width` (a
/// word longer than a line gets a line of its own), continuation lines
/// indented under the first word; the first `dim` words dim.
fn wrapped(label: &str, words: Vec<String>, dim: usize, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let indent = label.chars().count();
    let mut lines = Vec::new();
    let mut spans = vec![Span::styled(label.to_string(), theme.dim())];
    let mut used = indent;
    for (i, word) in words.into_iter().enumerate() {
        let n = word.chars().count();
        if used > indent && used + 1 + n > width {
            lines.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::raw(" ".repeat(indent)));
            used = indent;
        }
        let text = if used > indent { format!(" {word}") } else { word };
        used += text.chars().count();
        spans.push(if i < dim {
            Span::styled(text, theme.dim())
        } else {
            Span::raw(text)
        });
    }
    lines.push(Line::from(spans));
    lines
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
            stylelab_core::chart::Scatter {
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

    // Values wrap in their column rather than being cut.
    let inner_w = diff_area.width.saturating_sub(2) as usize;
    let n_runs = data.runs.len().max(1);
    let longest = |it: &mut dyn Iterator<Item = usize>| it.max().unwrap_or(0);
    let longest_key = longest(&mut data.diff.iter().map(|(k, _)| k.chars().count())).max(3);
    let longest_value = longest(&mut data.diff.iter().flat_map(|(_, v)| v.iter().map(|v| v.chars().count())))
        .max(longest(&mut data.runs.iter().map(|r| r.name.chars().count())))
        .max(4);
    // The keys as long as they are when the values still fit beside them.
    let key_w = longest_key
        .min(inner_w.saturating_sub(n_runs * (longest_value + 1)))
        .max(inner_w / 3)
        .min(longest_key)
        .max(3);
    let val_w = (inner_w.saturating_sub(key_w + n_runs) / n_runs).max(4);
    let wrap = |text: &str, w: usize| -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return vec![String::new()];
        }
        chars.chunks(w.max(1)).map(|c| c.iter().collect()).collect()
    };
    let header = Row::new(
        std::iter::once(Cell::from("key")).chain(data.runs.iter().map(|r| Cell::from(ellipsize(&r.name, val_w)))),
    )
    .style(theme.bold());
    let rows: Vec<Row> = data
        .diff
        .iter()
        .map(|(k, vals)| {
            let key = wrap(k, key_w);
            let cells: Vec<Vec<String>> = vals.iter().map(|v| wrap(v, val_w)).collect();
            let height = cells.iter().map(Vec::len).chain([key.len()]).max().unwrap_or(1);
            Row::new(
                std::iter::once(Cell::from(key.join("\n"))).chain(cells.into_iter().map(|c| Cell::from(c.join("\n")))),
            )
            .height(height as u16)
        })
        .collect();
    let mut widths = vec![Constraint::Length(key_w as u16)];
    widths.extend(data.runs.iter().map(|_| Constraint::Length(val_w as u16)));
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
    ("space", "pause/resume (Live); mark a run, move on"),
    ("space, Enter on sweep", "mark all its points; fold/unfold it"),
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
