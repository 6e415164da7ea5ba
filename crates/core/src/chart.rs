//! Loss curves, shared by the dashboard and the review commands: the
//! [`LossChart`] widget (ratatui's Chart with a log axis and steering
//! markers), its [`Series`], the axis bounds and ticks, TensorBoard-style
//! smoothing, and the colours and markers that tell runs apart. The
//! dashboard draws it on screen; `stylelab compare` renders it off-screen
//! to text and uses the same bounds for its plotters figures.
//!
//! ratatui's Chart has no log axis, so log series hold log10 values and the
//! tick labels read `1e3`, `1e4`, …
//!
//! A leaf of the reading side (`ui::view` and `review::plot` call it); it reads
//! no files and knows nothing of runs, only points.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Widget};

/// Markers that tell curves apart without colour, in order, and how each
/// looks; after them, curves draw with [`MARKER_CHARS`].
pub const MARKERS: [Marker; 4] = [Marker::Braille, Marker::Dot, Marker::Block, Marker::Bar];
/// The glyph each of [`MARKERS`] draws, for legends printed as text.
pub const MARKER_GLYPHS: [&str; 4] = ["⣿", "•", "█", "▄"];
/// The characters that draw the curves after the first [`MARKERS`]: every
/// curve of a chart without colour has a marker of its own.
pub const MARKER_CHARS: &str = "+x*o#%@=~abcdefghijklmnopqrstuvwyz0123456789";
/// The character of the vertical lines at steering steps without colour,
/// which no curve draws with.
const MARK_CHAR: char = '┆';

/// The `i`-th curve's marker without colour, and the glyph its legend shows.
/// Distinct for every `i` below `MARKERS.len() + MARKER_CHARS`' length; past
/// that the characters repeat.
pub fn marker(i: usize) -> (Marker, String) {
    match MARKERS.get(i) {
        Some(&m) => (m, MARKER_GLYPHS[i].to_string()),
        None => {
            let chars: Vec<char> = MARKER_CHARS.chars().collect();
            let c = chars[(i - MARKERS.len()) % chars.len()];
            (Marker::Custom(c), c.to_string())
        }
    }
}

/// One curve, already in (step, value) points, the value log10 when the
/// chart's `log` is set.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text (a run name or a loss term).
    pub name: String,
    /// (step, value) pairs, drawn as a line in the given order.
    pub points: Vec<(f64, f64)>,
    /// Used only when the chart's `color` is set.
    pub color: Color,
    /// Drawn faint, without a legend entry (the raw curve under a smoothed one).
    pub faint: bool,
}

/// Loss curves in a bordered block: x from step 0 to the last step, y over
/// every point of every series. The legend sits on the block's bottom
/// border, outside the plot, so it never covers a curve; without colour
/// each name carries its curve's marker.
pub struct LossChart<'a> {
    /// The block's title.
    pub title: &'a str,
    /// Curves in drawing order; the first is drawn first, under the rest.
    pub series: &'a [Series],
    /// Steps with a vertical marker.
    pub marks: &'a [u64],
    /// Draw in colour. Without it, curves differ by marker ([`MARKERS`], picked
    /// by position among the curves that are not faint) and faint curves are
    /// not drawn.
    pub color: bool,
    /// The values are log10: label the axis in powers of ten.
    pub log: bool,
}

/// A log10 axis: whole decades from below `lo` to above `hi`, labelled
/// `1e3`, `1e4`, … with at most `max` labels. When the labels must skip
/// decades, the top is raised to the next label, so that the labels, which
/// ratatui spaces evenly, sit on their decades. Returns (bottom, top, labels).
pub fn log_axis(lo: f64, hi: f64, max: usize) -> (f64, f64, Vec<String>) {
    let lo = lo.floor() as i32;
    let hi = (hi.ceil() as i32).max(lo + 1);
    let n = (hi - lo).max(1) as usize;
    let step = n.div_ceil(max.max(2) - 1).max(1);
    let top = lo + (n.div_ceil(step) * step) as i32;
    let labels = (lo..=top).step_by(step).map(|e| format!("1e{e}")).collect();
    (lo as f64, top as f64, labels)
}

/// The labels of [`log_axis`].
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<String> {
    log_axis(lo, hi, max).2
}

/// `n` evenly spaced labels from `lo` to `hi` of a linear axis, each
/// different from its neighbours ([`distinct_labels`]).
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<String> {
    let n = n.max(2);
    let values: Vec<f64> = (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect();
    distinct_labels(&values)
}

/// Labels for tick values that read differently from each other: as few
/// significant digits as tell every neighbour apart (from 2, up to 10),
/// plain decimals between 0.001 and 10 000, else powers of ten. `0` reads
/// `0`.
pub fn distinct_labels(values: &[f64]) -> Vec<String> {
    let biggest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let plain = (1e-3..1e4).contains(&biggest);
    let text = |v: f64, digits: usize| {
        if v == 0.0 {
            "0".to_string()
        } else if plain {
            // Decimals that show `digits` significant digits of the largest value.
            let decimals = (digits as i32 - 1 - biggest.log10().floor() as i32).max(0) as usize;
            format!("{v:.decimals$}")
        } else {
            format!("{v:.prec$e}", prec = digits - 1)
        }
    };
    for digits in 2..=10 {
        let labels: Vec<String> = values.iter().map(|&v| text(v, digits)).collect();
        if labels.windows(2).all(|w| w[0] != w[1]) {
            return labels;
        }
    }
    values.iter().map(|&v| text(v, 10)).collect()
}

/// The bottom of a linear axis for values of one sign: a positive quantity
/// gets no negative tick (padding below 0 stops at 0).
pub fn floor_at_zero(lo: f64, data_lo: f64) -> f64 {
    if data_lo >= 0.0 { lo.max(0.0) } else { lo }
}

/// Short step label: 950, 12k, 1.2M (thousands from 10 000 on).
fn step_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

impl LossChart<'_> {
    /// A style for colour `c`, or the plain style without colour.
    fn style(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// The y axis: whole decades on a log axis (so the ticks fall on the
    /// edges), padded bounds from 0 up for a positive linear one.
    fn y_axis(&self, b: &Bounds, max_labels: usize) -> (f64, f64, Vec<String>) {
        if self.log {
            log_axis(b.ylo, b.yhi, max_labels)
        } else {
            let (lo, hi) = b.padded(false);
            let lo = floor_at_zero(lo, b.ylo);
            (lo, hi, linear_ticks(lo, hi, max_labels.min(5)))
        }
    }

    /// The curves as datasets, each with its legend entry.
    ///
    /// Markers go by position among the curves that have a legend entry:
    /// faint raw curves (drawn under their smoothed ones) take none.
    /// Without colour nothing can look faint: the raw curves are left
    /// out, and the rest differ by marker.
    fn curves(&self) -> (Vec<Dataset<'_>>, Vec<Span<'static>>) {
        let mut datasets = Vec::new();
        let mut legend = Vec::new();
        let mut shown = 0;
        for s in self.series.iter().filter(|s| self.color || !s.faint) {
            let i = shown;
            if !s.faint {
                shown += 1;
            }
            let color = if s.faint { Color::DarkGray } else { s.color };
            let (marker, glyph) = if self.color {
                (Marker::Braille, "━".to_string())
            } else {
                marker(i)
            };
            datasets.push(
                Dataset::default()
                    .marker(marker)
                    .graph_type(GraphType::Line)
                    .style(self.style(color))
                    .data(&s.points),
            );
            if !s.faint {
                legend.push(Span::styled(format!(" {glyph} {} ", s.name), self.style(color)));
            }
        }
        (datasets, legend)
    }
}

impl Widget for LossChart<'_> {
    /// The block, then the chart inside it; the legend on the bottom border
    /// when it fits there, else in lines of its own under the plot (so no
    /// curve's name is cut).
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (curves, legend) = self.curves();
        let block = Block::bordered().title(self.title);
        let inner = block.inner(area);
        let border_room = usize::from(area.width.saturating_sub(2));
        let lines = legend_lines(legend, border_room);
        let plot = if lines.len() <= 1 {
            let block = match lines.into_iter().next() {
                Some(line) => block.title_bottom(line),
                None => block,
            };
            block.render(area, buf);
            inner
        } else {
            block.render(area, buf);
            // The legend takes at most half the inside; the plot keeps the rest.
            let rows = (lines.len() as u16).min(inner.height / 2);
            let plot = Rect {
                height: inner.height - rows,
                ..inner
            };
            let key = Rect {
                y: inner.y + plot.height,
                height: rows,
                ..inner
            };
            ratatui::widgets::Paragraph::new(lines).render(key, buf);
            plot
        };
        self.plot(curves, plot, buf);
    }
}

/// The legend's entries in lines at most `width` cells wide, an entry never
/// split over two lines (one wider than a line is cut at its end).
fn legend_lines(entries: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut used = 0;
    for e in entries {
        let w = e.width();
        if lines.is_empty() || (used + w > width && used > 0) {
            lines.push(Vec::new());
            used = 0;
        }
        used += w;
        if let Some(line) = lines.last_mut() {
            line.push(e);
        }
    }
    lines.into_iter().map(Line::from).collect()
}

impl LossChart<'_> {
    /// The axes, the steering marks and the curves, in `area` (no block).
    fn plot(&self, curves: Vec<Dataset<'_>>, area: Rect, buf: &mut Buffer) {
        let b = bounds(self.series.iter().flat_map(|s| s.points.iter().copied()));
        let xmax = b.xmax;
        let (ylo, yhi, ylabels) = self.y_axis(&b, (area.height as usize / 3).max(2));
        // A change at step 0 would sit on the y axis, where it says nothing.
        let mark_lines: Vec<Vec<(f64, f64)>> = self
            .marks
            .iter()
            .filter(|&&m| m > 0)
            .map(|&m| vec![(m as f64, ylo), (m as f64, yhi)])
            .collect();
        let mark = if self.color {
            Marker::Dot
        } else {
            Marker::Custom(MARK_CHAR)
        };
        let mut datasets: Vec<Dataset> = mark_lines
            .iter()
            .map(|line| {
                Dataset::default()
                    .marker(mark)
                    .graph_type(GraphType::Line)
                    .style(self.style(Color::Yellow))
                    .data(line)
            })
            .collect();
        datasets.extend(curves);
        let ylabels: Vec<Span> = ylabels.into_iter().map(Span::raw).collect();
        let xlabels = vec![
            Span::raw("0"),
            Span::raw(step_label(xmax / 2.0)),
            Span::raw(step_label(xmax)),
        ];
        Chart::new(datasets)
            .legend_position(None)
            .x_axis(
                Axis::default()
                    .bounds([0.0, xmax])
                    .labels(xlabels)
                    .style(self.style(Color::Gray)),
            )
            .y_axis(
                Axis::default()
                    .bounds([ylo, yhi])
                    .labels(ylabels)
                    .style(self.style(Color::Gray)),
            )
            .render(area, buf);
    }
}

/// Colours of runs drawn together (compare views), in order; the `i`-th run
/// takes `RUN_COLORS[i % 6]`.
pub const RUN_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Red,
];

/// TensorBoard-style smoothing: a debiased exponential moving average.
/// `weight` 0 leaves the curve as it is; 0.99 smooths heavily.
///
/// The x values are kept; the first point is never changed. Callers keep
/// `weight` in [0, 1): at 1 the debiasing term stays 1 and the raw values
/// come back.
pub fn ema(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let mut acc = 0.0;
    let mut debias = 1.0;
    points
        .iter()
        .map(|&(x, y)| {
            acc = acc * weight + (1.0 - weight) * y;
            debias *= weight;
            (x, if debias < 1.0 { acc / (1.0 - debias) } else { y })
        })
        .collect()
}

/// The extent of a set of (step, value) points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// The x axis runs from 0 to here (at least 1).
    pub xmax: f64,
    /// Smallest value; 0 when there are no points.
    pub ylo: f64,
    /// Largest value; 1 when there are no points.
    pub yhi: f64,
}

impl Bounds {
    /// The y range with 5 % of its span added on each side (at least 0.1
    /// on a log axis, whose values are log10), so no curve runs along an edge.
    pub fn padded(&self, log: bool) -> (f64, f64) {
        let pad = ((self.yhi - self.ylo) * 0.05).max(if log { 0.1 } else { 1e-12 });
        (self.ylo - pad, self.yhi + pad)
    }
}

/// The bounds of every point of every curve. NaN values are ignored
/// (`f64::min`/`max` skip them); infinities are not.
pub fn bounds(points: impl Iterator<Item = (f64, f64)>) -> Bounds {
    let (mut xmax, mut ylo, mut yhi) = (1.0f64, f64::MAX, f64::MIN);
    for (x, y) in points {
        xmax = xmax.max(x);
        ylo = ylo.min(y);
        yhi = yhi.max(y);
    }
    if ylo > yhi {
        (ylo, yhi) = (0.0, 1.0);
    }
    Bounds { xmax, ylo, yhi }
}

/// Indices of the points no other point beats on both coordinates (lower
/// is better on each): the Pareto front, by increasing x.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
    });
    let mut front = Vec::new();
    let mut best_y = f64::INFINITY;
    for i in order {
        // A point equal to the last on the front (a run repeated with the
        // same settings and the same result) is on it too.
        if points[i].1 < best_y || front.last().is_some_and(|&j| points[j] == points[i]) {
            best_y = points[i].1;
            front.push(i);
        }
    }
    front
}

/// Runs as points in a plane (content distance across, style distance up):
/// each point numbered as its run is in the key (1-based, in `points`
/// order) and, in colour, drawn in its run's colour ([`RUN_COLORS`]); the
/// Pareto front joined; the axes fitted to the points.
pub struct Scatter<'a> {
    /// The block's title.
    pub title: &'a str,
    /// Axis labels; empty for none.
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// (x, y), one per run; non-finite ones do not count toward the axes' bounds.
    pub points: &'a [(f64, f64)],
    /// Whether to draw in colour.
    pub color: bool,
}

/// The range of `values`' finite ones, padded 8 % each side (a single
/// value: ±8 % of itself, or ±1 for 0); 0..1 when there are none.
fn fitted_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1e-12) };
    let pad = span * 0.08;
    (lo - pad, hi + pad)
}

impl Scatter<'_> {
    fn style(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
}

impl Widget for Scatter<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (x0, x1) = fitted_range(self.points.iter().map(|p| p.0));
        let (y0, y1) = fitted_range(self.points.iter().map(|p| p.1));
        let front: Vec<(f64, f64)> = pareto_front(self.points).iter().map(|&i| self.points[i]).collect();
        // A front of one point draws no line: no legend entry for it then.
        let mut front_line = Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(self.style(Color::Yellow))
            .data(&front);
        if front.len() >= 2 {
            front_line = front_line.name("Pareto front");
        }
        let mut datasets = vec![front_line];
        for (i, p) in self.points.iter().enumerate() {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Block)
                    .graph_type(GraphType::Scatter)
                    .style(self.style(RUN_COLORS[i % RUN_COLORS.len()]))
                    .data(std::slice::from_ref(p)),
            );
        }
        let labels = |lo: f64, hi: f64| -> Vec<Span> {
            distinct_labels(&[lo, (lo + hi) / 2.0, hi])
                .into_iter()
                .map(Span::raw)
                .collect()
        };
        let inner = Block::bordered().title(self.title);
        let chart_area = inner.inner(area);
        Chart::new(datasets)
            .block(inner)
            .legend_position(Some(LegendPosition::TopRight))
            .x_axis(
                Axis::default()
                    .title(self.x_label)
                    .bounds([x0, x1])
                    .labels(labels(x0, x1))
                    .style(self.style(Color::Gray)),
            )
            .y_axis(
                Axis::default()
                    .title(self.y_label)
                    .bounds([y0, y1])
                    .labels(labels(y0, y1))
                    .style(self.style(Color::Gray)),
            )
            .render(area, buf);
        self.number_points(area, chart_area, (x0, x1), (y0, y1), buf);
    }
}

impl Scatter<'_> {
    /// Numbers the points (1-based, as in the key) beside their marks, on
    /// the right where those cells are free, else on the left; never over
    /// an axis label, a tick or another number.
    fn number_points(
        &self,
        area: Rect,
        chart_area: Rect,
        (x0, x1): (f64, f64),
        (y0, y1): (f64, f64),
        buf: &mut Buffer,
    ) {
        let (w, h) = (
            chart_area.width.saturating_sub(8) as f64,
            chart_area.height.saturating_sub(2) as f64,
        );
        // Plot cells: blank or a curve's braille dot.
        let free = |buf: &Buffer, x: u16, y: u16| {
            x > chart_area.x + 7
                && x < area.right().saturating_sub(1)
                && y < area.bottom().saturating_sub(2)
                && buf[(x, y)]
                    .symbol()
                    .chars()
                    .all(|c| c == ' ' || ('\u{2800}'..='\u{28ff}').contains(&c))
        };
        for (i, p) in self.points.iter().enumerate() {
            if !(p.0.is_finite() && p.1.is_finite()) {
                continue;
            }
            let cx = chart_area.x + 8 + ((p.0 - x0) / (x1 - x0) * w) as u16;
            let cy = chart_area.y + ((y1 - p.1) / (y1 - y0) * h) as u16;
            let text = format!("{}", i + 1);
            let n = text.chars().count() as u16;
            let right = cx + 1;
            let left = cx.saturating_sub(n);
            let start = [right, left]
                .into_iter()
                .find(|&x0| (x0..x0 + n).all(|x| free(buf, x, cy)));
            let Some(start) = start else { continue };
            for (k, ch) in text.chars().enumerate() {
                let cell = &mut buf[(start + k as u16, cy)];
                cell.set_char(ch);
                cell.set_style(self.style(RUN_COLORS[i % RUN_COLORS.len()]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_powers_of_ten() {
        assert_eq!(log_ticks(2.0, 6.0, 10), vec!["1e2", "1e3", "1e4", "1e5", "1e6"]);
        assert_eq!(log_ticks(-3.0, 9.0, 4), vec!["1e-3", "1e1", "1e5", "1e9"]);
        assert_eq!(log_ticks(3.0, 3.0, 5), vec!["1e3", "1e4"]);
        // Five decades, three labels: the top moves up to the last label.
        assert_eq!(
            log_axis(0.0, 5.0, 3),
            (0.0, 6.0, vec!["1e0".into(), "1e3".into(), "1e6".into()])
        );
        assert_eq!(linear_ticks(0.0, 2.0, 3), vec!["0", "1.0", "2.0"]);
    }

    #[test]
    fn tick_labels_never_repeat() {
        // A trade-off picture's style axis at 96 px: 0.0172 … 0.0181.
        let values: Vec<f64> = (0..9).map(|i| 0.0172 + 0.0001125 * i as f64).collect();
        let labels = distinct_labels(&values);
        assert!(labels.windows(2).all(|w| w[0] != w[1]), "{labels:?}");
        assert_eq!(labels[0], "0.0172");
        assert_eq!(distinct_labels(&[0.0, 5e6, 1e7]), vec!["0", "5.0e6", "1.0e7"]);
        assert_eq!(distinct_labels(&[1.0, 2.0, 3.0]), vec!["1.0", "2.0", "3.0"]);
        // A positive quantity's axis stops at 0.
        assert_eq!(floor_at_zero(-3.13e7, 10.0), 0.0);
        assert_eq!(floor_at_zero(-2.0, -1.0), -2.0);
    }
    #[test]
    fn without_colour_each_named_curve_has_its_own_marker_under_smoothing() {
        // (and the raw curves, which cannot look faint, are not drawn)
        use ratatui::{buffer::Buffer, layout::Rect, widgets::Widget};
        // Smoothing draws each term twice: its raw curve faint, then smoothed.
        let series: Vec<Series> = ["total", "content", "style", "tv"]
            .iter()
            .flat_map(|name| {
                [true, false].map(|faint| Series {
                    name: name.to_string(),
                    points: vec![(0.0, 1.0), (10.0, 2.0)],
                    color: Color::Cyan,
                    faint,
                })
            })
            .collect();
        let area = Rect::new(0, 0, 60, 12);
        let mut buf = Buffer::empty(area);
        LossChart {
            title: "t",
            series: &series,
            marks: &[],
            color: false,
            log: false,
        }
        .render(area, &mut buf);
        let bottom: String = (0..area.width).map(|x| buf[(x, area.height - 1)].symbol()).collect();
        for (glyph, name) in MARKER_GLYPHS.iter().zip(["total", "content", "style", "tv"]) {
            assert!(bottom.contains(&format!("{glyph} {name}")), "{bottom}");
        }
    }

    #[test]
    fn ema_is_debiased_and_smooths() {
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, if i % 2 == 0 { 1.0 } else { 3.0 }))
            .collect();
        let s = ema(&pts, 0.6);
        assert_eq!(s[0].1, 1.0);
        let spread = |v: &[(f64, f64)]| {
            v[5..].iter().map(|p| p.1).fold(f64::MIN, f64::max) - v[5..].iter().map(|p| p.1).fold(f64::MAX, f64::min)
        };
        assert!(spread(&s) < spread(&pts) / 2.0);
        assert_eq!(ema(&pts, 0.0), pts);
    }

    #[test]
    fn the_pareto_front_keeps_the_points_nothing_beats() {
        let pts = [(0.1, 0.9), (0.2, 0.5), (0.3, 0.6), (0.5, 0.1), (0.4, 0.4)];
        assert_eq!(pareto_front(&pts), vec![0, 1, 4, 3]);
        assert!(pareto_front(&[(f64::NAN, 1.0)]).is_empty());
    }

    #[test]
    fn bounds_pad_the_values_and_start_x_at_zero() {
        let b = bounds([(0.0, 1.0), (10.0, 3.0)].into_iter());
        assert_eq!((b.xmax, b.ylo, b.yhi), (10.0, 1.0, 3.0));
        let (lo, hi) = b.padded(false);
        assert!((lo - 0.9).abs() < 1e-12 && (hi - 3.1).abs() < 1e-12, "{lo} {hi}");
        let (lo, hi) = bounds([(5.0, 2.0)].into_iter()).padded(true);
        assert!((lo - 1.9).abs() < 1e-12 && (hi - 2.1).abs() < 1e-12);
        assert_eq!(
            bounds(std::iter::empty()),
            Bounds {
                xmax: 1.0,
                ylo: 0.0,
                yhi: 1.0
            }
        );
    }
}
