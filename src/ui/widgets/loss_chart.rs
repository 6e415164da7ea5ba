//! Loss curves on a logarithmic y axis. ratatui's Chart has no log axis, so
//! the series are log10 values and the tick labels read `1e3`, `1e4`, ….
//! Vertical markers show where a loss weight was changed while running.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Widget};

/// Markers that tell curves apart without colour, in order, and how each
/// looks.
pub const MARKERS: [Marker; 4] = [Marker::Braille, Marker::Dot, Marker::Block, Marker::Bar];
pub const MARKER_GLYPHS: [&str; 4] = ["⣿", "•", "█", "▄"];

/// One curve, already in (step, log10 value) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: Color,
    /// Drawn faint, without a legend entry (the raw curve under a smoothed one).
    pub faint: bool,
}

pub struct LossChart<'a> {
    pub title: &'a str,
    pub series: &'a [Series],
    /// Steps with a vertical marker.
    pub marks: &'a [u64],
    pub color: bool,
    /// The values are log10: label the axis in powers of ten.
    pub log: bool,
}

/// Tick labels for a log10 range: powers of ten, at most `max` of them.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<String> {
    let lo = lo.floor() as i32;
    let hi = (hi.ceil() as i32).max(lo + 1);
    let n = (hi - lo).max(1) as usize;
    let step = n.div_ceil(max.max(2) - 1).max(1);
    (lo..=hi).step_by(step).map(|e| format!("1e{e}")).collect()
}

/// Short step label: 950, 12k, 1.2M.
fn step_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let all = || self.series.iter().flat_map(|s| s.points.iter());
        let (mut ylo, mut yhi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
        let xmax = all().map(|p| p.0).fold(1.0, f64::max);
        if ylo > yhi {
            (ylo, yhi) = (0.0, 1.0);
        }
        let (ylo, yhi) = if self.log {
            (ylo.floor(), yhi.ceil().max(ylo.floor() + 1.0))
        } else {
            let pad = ((yhi - ylo) * 0.05).max(1e-12);
            (ylo - pad, yhi + pad)
        };
        let mark_lines: Vec<Vec<(f64, f64)>> = self
            .marks
            .iter()
            .map(|&m| vec![(m as f64, ylo), (m as f64, yhi)])
            .collect();
        let style = |c: Color| {
            if self.color {
                Style::default().fg(c)
            } else {
                Style::default()
            }
        };
        let mut datasets: Vec<Dataset> = Vec::new();
        for line in &mark_lines {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Dot)
                    .graph_type(GraphType::Line)
                    .style(style(Color::Yellow))
                    .data(line),
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = if s.faint { Color::DarkGray } else { s.color };
            // Without colour, curves differ by marker instead.
            let marker = if self.color || s.faint {
                Marker::Braille
            } else {
                MARKERS[i % MARKERS.len()]
            };
            let mut d = Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(style(color))
                .data(&s.points);
            if !s.faint {
                d = d.name(s.name.clone());
            }
            datasets.push(d);
        }
        let ylabels: Vec<Span> = log_ticks(ylo, yhi, (area.height as usize / 3).max(2))
            .into_iter()
            .map(Span::raw)
            .collect();
        let xlabels = vec![
            Span::raw("0"),
            Span::raw(step_label(xmax / 2.0)),
            Span::raw(step_label(xmax)),
        ];
        Chart::new(datasets)
            .block(Block::bordered().title(self.title))
            .legend_position(Some(LegendPosition::TopRight))
            .hidden_legend_constraints((
                ratatui::layout::Constraint::Ratio(1, 2),
                ratatui::layout::Constraint::Ratio(1, 2),
            ))
            .x_axis(
                Axis::default()
                    .bounds([0.0, xmax])
                    .labels(xlabels)
                    .style(style(Color::Gray)),
            )
            .y_axis(
                Axis::default()
                    .bounds([ylo, yhi])
                    .labels(ylabels)
                    .style(style(Color::Gray)),
            )
            .render(area, buf);
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
    }
}
