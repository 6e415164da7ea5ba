//! The dashboard's top line: the title, the numbered tabs with the selected
//! one highlighted, and the help hint on the right. The same labels answer
//! which tab a mouse click hit, so drawing and hit-testing cannot disagree.
//!
//! Reading side, dashboard only: `ui::view` draws [`TabBar`] and `ui::state`
//! calls [`tab_at`] on a mouse click in the top row.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

/// Left-most text of the bar. ASCII, so its length in bytes is its width in cells.
const TITLE: &str = " stylelab ";
/// Space after the title and after each label.
const GAP: &str = "  ";
/// Right-aligned key hint, drawn over the same line after the tabs.
const HINT: &str = "? help  q quit ";

/// The top line of the dashboard, one row high.
pub struct TabBar<'a> {
    /// Tab names in order; each is drawn with its 1-based number, the key that selects it.
    pub titles: &'a [&'a str],
    /// Index into `titles` of the tab to highlight.
    pub selected: usize,
    /// Style of the ` stylelab ` title.
    pub title_style: Style,
    /// Style of the selected tab's label; the others use the default style.
    pub selected_style: Style,
    /// Style of the help hint. The hint's `Paragraph` sets it on the whole
    /// row, so its colours also land on the title and the labels.
    pub hint_style: Style,
}

/// The labels as drawn: `" 1 Experiments "`, `" 2 Runs "`, …
fn labels<'a>(titles: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    titles.iter().enumerate().map(|(i, t)| format!(" {} {t} ", i + 1))
}

/// Which tab's label covers `column` of the bar (0-based, counted from the
/// bar's left edge); `None` on the title, a gap or past the last label.
///
/// Counts label widths in `char`s, which matches the drawing for the
/// dashboard's ASCII titles.
pub fn tab_at(titles: &[&str], column: u16) -> Option<usize> {
    let mut x = (TITLE.len() + GAP.len()) as u16;
    for (i, label) in labels(titles).enumerate() {
        let w = label.chars().count() as u16;
        if (x..x + w).contains(&column) {
            return Some(i);
        }
        x += w + GAP.len() as u16;
    }
    None
}

impl Widget for TabBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut spans = vec![Span::styled(TITLE, self.title_style), Span::raw(GAP)];
        for (i, label) in labels(self.titles).enumerate() {
            let style = if i == self.selected {
                self.selected_style
            } else {
                Style::default()
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw(GAP));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
        // Only the hint's own cells take its style, not the whole row.
        let w = (HINT.chars().count() as u16).min(area.width);
        let hint = Rect::new(area.x + area.width - w, area.y, w, area.height.min(1));
        Paragraph::new(Line::styled(HINT, self.hint_style))
            .alignment(Alignment::Right)
            .render(hint, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_on_a_drawn_label_finds_its_tab() {
        let titles = ["One", "Two"];
        let area = Rect::new(0, 0, 60, 1);
        let mut buf = Buffer::empty(area);
        TabBar {
            titles: &titles,
            selected: 0,
            title_style: Style::default(),
            selected_style: Style::default(),
            hint_style: Style::default(),
        }
        .render(area, &mut buf);
        let line: String = (0..60).map(|x| buf[(x, 0)].symbol().to_string()).collect();
        let start = line.find("2 Two").expect("drawn") as u16;
        assert_eq!(tab_at(&titles, start), Some(1));
        assert_eq!(tab_at(&titles, start + 4), Some(1));
        assert_eq!(tab_at(&titles, 0), None);
    }
}
