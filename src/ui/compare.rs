//! The Compare view: two or more marked runs side by side — the chosen
//! metric's curves overlaid, the config keys that differ (with a trade-off
//! scatter when the runs are scored) and each run's final image. Its state,
//! its keys and its drawing.

use super::effect::Reply;
use super::history::History;
use super::keys::{Binding, Key, Keymap};
use super::tab::Tab;
use super::theme::{Theme, empty};
use super::widgets::{DisplayImage, HalfBlockImage};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use std::sync::Arc;
use stylelab_core::chart::{LossChart, RUN_COLORS, Series};
use stylelab_core::review::fit::{ellipsize_distinct, without_common_start, wrap_at_parts};

/// Runs being compared: data loaded once when the view opens.
#[derive(Debug, Clone)]
pub struct CompareData {
    /// The runs, in order of their folders' paths (marked runs are kept sorted).
    pub runs: Vec<CompareRun>,
    /// Config keys that differ, with each run's value (paths cut to the
    /// part that tells them apart).
    pub diff: Vec<(String, Vec<String>)>,
    /// Index into [`COMPARE_METRICS`].
    pub metric: usize,
    /// Each run's curve of the metric, derived when it changes.
    pub series: Vec<Series>,
    /// Each run's (content_dist, style_dist) when scored, NaN when not:
    /// the trade-off picture.
    pub tradeoff: Vec<(f64, f64)>,
}

impl CompareData {
    /// Runs and their config differences, showing the total loss.
    /// Path values keep only the part that tells them apart; numbers read
    /// in the one number format.
    pub fn new(runs: Vec<CompareRun>, diff: Vec<(String, Vec<String>)>) -> Self {
        let diff = diff
            .into_iter()
            .map(|(k, vals)| {
                let vals = stylelab_core::review::distinguishing_tails(&vals)
                    .iter()
                    .map(|v| stylelab_core::text::compact_number(v))
                    .collect();
                (k, vals)
            })
            .collect();
        let mut data = CompareData {
            runs,
            diff,
            metric: 0,
            series: Vec::new(),
            tradeoff: Vec::new(),
        };
        data.show_metric(0);
        data
    }

    /// Shows metric `i` of [`COMPARE_METRICS`].
    pub fn show_metric(&mut self, i: usize) {
        self.metric = i % COMPARE_METRICS.len();
        self.series = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| Series {
                // Numbered as the trade-off picture numbers its points.
                name: format!("{} {}", i + 1, r.name),
                points: r.history.log_points(self.metric),
                color: RUN_COLORS[i % RUN_COLORS.len()],
                faint: false,
            })
            .collect();
    }
}

/// One run in the Compare view.
#[derive(Debug, Clone)]
pub struct CompareRun {
    /// Its name for the legend; its folder's id where two runs share a name.
    pub name: String,
    /// Its metrics rows, thinned for charting.
    pub history: History,
    /// Its final image, or None when it has none or it would not decode.
    pub image: Option<Arc<DisplayImage>>,
}

/// Metrics the Compare chart can show, cycled with `m`; also the
/// [`History`] column each is read from.
pub const COMPARE_METRICS: [&str; 4] = ["total", "content", "style", "tv"];

/// The Compare view's state: the runs loaded, if any.
#[derive(Debug, Default)]
pub struct CompareView {
    /// The runs compared, once loaded.
    pub data: Option<CompareData>,
}

/// What a key does in the Compare view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show the next metric.
    Metric,
    /// Back to Runs.
    Back,
}

impl Keymap for CompareView {
    type Action = Action;
    type When = ();
    const KEYS: &'static [Binding<Action, ()>] = &[
        Binding {
            keys: &[(Key::char('m'), Action::Metric)],
            when: (),
            footer: Some(("m", "metric")),
            help: Some("next metric: total, content, style, tv"),
        },
        Binding {
            keys: &[(Key::code(KeyCode::Esc), Action::Back)],
            when: (),
            footer: Some(("Esc", "back")),
            help: Some("back to Runs"),
        },
    ];

    fn holds(&self, (): ()) -> bool {
        true
    }
}

impl CompareView {
    /// Answers a key: `m` cycles the metric, `Esc` goes back to Runs.
    pub fn key(&mut self, key: &KeyEvent) -> Reply {
        match self.action(key) {
            Some(Action::Metric) => {
                if let Some(c) = self.data.as_mut() {
                    c.show_metric(c.metric + 1);
                }
                Reply::default()
            }
            Some(Action::Back) => Reply {
                tab: Some(Tab::Runs),
                ..Reply::default()
            },
            None => Reply::default(),
        }
    }

    /// The metric chart, the config differences (with a trade-off scatter
    /// when two or more runs are scored), and each run's final image.
    pub fn draw(&self, theme: &Theme, frame: &mut Frame, area: Rect) {
        let Some(data) = &self.data else {
            return empty(frame, area, "Mark two or more runs in Runs (space), then press c.");
        };
        let [top, images_area] = Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
        let [chart_area, side] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
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
                    color: theme.color,
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
                color: theme.color,
                log: true,
            },
            chart_area,
        );
        diff_table(data, theme, frame, diff_area);
        images(data, theme, frame, images_area);
    }
}

/// The config keys that differ, a column per run headed by its number in
/// the chart's legend and its name without the start all names share
/// (what tells them apart); keys and values wrap after their parts rather
/// than being cut.
fn diff_table(data: &CompareData, theme: &Theme, frame: &mut Frame, area: Rect) {
    let inner_w = area.width.saturating_sub(2) as usize;
    let n_runs = data.runs.len().max(1);
    let names: Vec<String> = data.runs.iter().map(|r| r.name.clone()).collect();
    let heads: Vec<String> = without_common_start(&names)
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{} {n}", i + 1))
        .collect();
    let longest = |it: &mut dyn Iterator<Item = usize>| it.max().unwrap_or(0);
    let longest_key = longest(&mut data.diff.iter().map(|(k, _)| k.chars().count())).max(3);
    let longest_value = longest(&mut data.diff.iter().flat_map(|(_, v)| v.iter().map(|v| v.chars().count())))
        .max(longest(&mut heads.iter().map(|h| h.chars().count())))
        .max(4);
    // The keys as long as they are when the values still fit beside them.
    let key_w = longest_key
        .min(inner_w.saturating_sub(n_runs * (longest_value + 1)))
        .max(inner_w / 3)
        .min(longest_key)
        .max(3);
    let val_w = (inner_w.saturating_sub(key_w + n_runs) / n_runs).max(4);
    let header = Row::new(
        std::iter::once(Cell::from("key")).chain(ellipsize_distinct(&heads, val_w).into_iter().map(Cell::from)),
    )
    .style(theme.bold());
    let rows: Vec<Row> = data
        .diff
        .iter()
        .map(|(k, vals)| {
            let key = wrap_at_parts(k, key_w);
            let cells: Vec<Vec<String>> = vals.iter().map(|v| wrap_at_parts(v, val_w)).collect();
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
        area,
    );
}

/// Each run's final image, side by side, titled in its curve's colour.
fn images(data: &CompareData, theme: &Theme, frame: &mut Frame, area: Rect) {
    let n = data.runs.len().max(1) as u32;
    let cols = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(area);
    let names: Vec<String> = data.runs.iter().map(|r| r.name.clone()).collect();
    let short = without_common_start(&names);
    for (i, r) in data.runs.iter().enumerate() {
        // Numbered as in the legend; the name whole when the border holds it.
        let room = usize::from(cols[i].width.saturating_sub(4));
        let name = if r.name.chars().count() + 2 + i.to_string().len() <= room {
            &r.name
        } else {
            &short[i]
        };
        let block = Block::bordered().title(Span::styled(
            format!(" {} {name} ", i + 1),
            theme.fg(RUN_COLORS[i % RUN_COLORS.len()]),
        ));
        let inner = block.inner(cols[i]);
        frame.render_widget(block, cols[i]);
        match &r.image {
            Some(img) => frame.render_widget(
                HalfBlockImage {
                    image: img,
                    color: theme.color,
                },
                inner,
            ),
            None => frame.render_widget(Paragraph::new("no final image").style(theme.dim()), inner),
        }
    }
}
