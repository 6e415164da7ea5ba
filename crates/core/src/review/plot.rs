//! Loss curves of several runs: in the terminal (the dashboard's braille
//! chart, rendered off-screen) and as a PNG or SVG figure (plotters: axes,
//! legend, log scale, title) for sharing.
//!
//! Review side: `stylelab compare` loads a [`Comparison`] from run folders,
//! turns one metric into [`Curve`]s here, prints [`terminal_chart`] and, with
//! `--out`, writes [`write_figure`]. `sheet` shares [`register_font_once`].

use super::{Comparison, column};
use crate::chart::{LossChart, RUN_COLORS, Series, bounds, ema, floor_at_zero};
use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use std::path::Path;

/// What to draw: one metric of each run, optionally smoothed and on a log
/// axis (values ≤ 0 are dropped there).
pub struct CurveSpec<'a> {
    /// A metrics.csv column: `total`, `style`, `style:relu1_1`, …
    pub metric: &'a str,
    /// EMA weight for [`ema`], in [0, 1) (the caller checks the range); `None`
    /// draws the raw values.
    pub smooth: Option<f64>,
    /// Plot log10 of the values.
    pub log: bool,
}

/// A named curve: (step, value) points, value already log10 on a log
/// axis, and the steps after which steering changed a weight (drawn as
/// markers).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub marks: Vec<u64>,
}

/// (run name, points) for each run that has the metric; the values are
/// log10 when `log`.
///
/// Non-finite values are dropped (and values ≤ 0 on a log axis) before
/// smoothing. Runs without the column are skipped; when none has it the
/// error is a bad-input error listing the first run's columns.
pub fn curves(cmp: &Comparison, spec: &CurveSpec) -> Result<Vec<Curve>> {
    let mut out = Vec::new();
    let score = spec.metric.strip_prefix("score.");
    for run in &cmp.runs {
        let pts = match score {
            Some(name) => crate::record::read_step_scores(&run.dir, name),
            None => column(run, spec.metric),
        };
        let Some(mut pts) = pts else {
            continue;
        };
        if spec.log {
            pts = pts
                .into_iter()
                .filter(|p| p.1 > 0.0 && p.1.is_finite())
                .map(|(x, y)| (x, y.log10()))
                .collect();
        } else {
            pts.retain(|p| p.1.is_finite());
        }
        if let Some(w) = spec.smooth {
            pts = ema(&pts, w);
        }
        out.push(Curve {
            name: run.name.clone(),
            points: pts,
            marks: run.steering.iter().map(|st| st.iter).collect(),
        });
    }
    if out.is_empty()
        && let Some(name) = score
    {
        return Err(crate::error::bad_input(format!(
            "no run has scored snapshots for 'score.{name}' (one of score.{}); score them with `stylelab score RUN… --steps`",
            crate::record::Scores::NAMES.join(", score.")
        )));
    }
    if out.is_empty() {
        let known: Vec<String> = cmp.runs.first().map(|r| r.header.columns()).unwrap_or_default();
        return Err(crate::error::bad_input(format!(
            "no run has a '{}' column (columns: {})",
            spec.metric,
            known.join(", ")
        )));
    }
    Ok(out)
}

/// The curves as a braille chart of `width × height` characters, as plain
/// text (curves told apart by their markers and the legend).
///
/// Trailing spaces are trimmed from each line; the bottom border is the
/// legend, mapping each marker to its run, since there is no colour to do it.
pub fn terminal_chart(curves: &[Curve], title: &str, log: bool, width: u16, height: u16) -> String {
    let series: Vec<Series> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: c.name.clone(),
            points: c.points.clone(),
            color: RUN_COLORS[i % RUN_COLORS.len()],
            faint: false,
        })
        .collect();
    let mut marks: Vec<u64> = curves.iter().flat_map(|c| c.marks.iter().copied()).collect();
    marks.sort_unstable();
    marks.dedup();
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    LossChart {
        title,
        series: &series,
        marks: &marks,
        color: false,
        log,
    }
    .render(area, &mut buf);
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out += line.trim_end();
        out.push('\n');
    }
    out
}

/// Makes DejaVu Sans (embedded) the "sans-serif" of every figure. Safe to
/// call before each figure: only the first call registers anything.
pub fn register_font_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
        ] {
            // The embedded font always parses; a failure would only lose text.
            let _ = plotters::style::register_font("sans-serif", style, bytes);
        }
    });
}

/// Line colours of the figures, in run order (matplotlib's first six).
const PLOT_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes the curves as a figure; the file name's extension (.png or .svg)
/// picks the format.
///
/// `size` is in px (`compare --out` uses 1200×750). Any other extension is a
/// bad-input error; a drawing or writing failure carries the path.
pub fn write_figure(path: &Path, curves: &[Curve], metric: &str, log: bool, size: (u32, u32)) -> Result<()> {
    register_font_once();
    render(
        path,
        Format::of(path, "figure")?,
        size,
        |area| draw(area, curves, metric, log),
        |area| draw(area, curves, metric, log),
    )
}

/// Draws a figure in memory, then writes it whole ([`crate::files::write_atomic`]):
/// a folder that is missing or a path that is a folder gets the system's
/// reason, never a drawing library's debug dump, and no half-written file.
fn render(
    path: &Path,
    format: Format,
    size: (u32, u32),
    png: impl FnOnce(DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<()>,
    svg: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let bytes = match format {
        Format::Png => {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            png(BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area())
                .with_context(|| format!("cannot draw {}", path.display()))?;
            let image = image::RgbImage::from_raw(size.0, size.1, rgb).context("a figure of no size")?;
            let mut out = std::io::Cursor::new(Vec::new());
            image
                .write_to(&mut out, image::ImageFormat::Png)
                .with_context(|| format!("cannot encode {}", path.display()))?;
            out.into_inner()
        }
        Format::Svg => {
            let mut text = String::new();
            svg(SVGBackend::with_string(&mut text, size).into_drawing_area())
                .with_context(|| format!("cannot draw {}", path.display()))?;
            text.into_bytes()
        }
    };
    crate::files::write_atomic(path, &bytes)
}

/// The file formats figures are written in.
enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format a file name's extension asks for; a bad-input error that
    /// calls the file `what` for any extension but .png and .svg.
    fn of(path: &Path, what: &str) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(crate::error::bad_input(format!(
                "{}: the {what}'s name must end in .png or .svg",
                path.display()
            ))),
        }
    }
}

/// White background, title, axes labelled by step and `metric` (powers of ten
/// on a log axis), one line per curve and a legend at the upper right.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    curves: &[Curve],
    metric: &str,
    log: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let b = bounds(curves.iter().flat_map(|c| c.points.iter().copied()));
    let (ylo, yhi) = b.padded(log);
    let ylo = if log { ylo } else { floor_at_zero(ylo, b.ylo) };
    let title = format!("{metric} loss{}", if log { " (log scale)" } else { "" });
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 30).into_font().style(FontStyle::Bold))
        .margin(24)
        .x_label_area_size(56)
        .y_label_area_size(96)
        .build_cartesian_2d(0f64..b.xmax, ylo..yhi)
        .map_err(err)?;
    let digits = label_decimals(ylo, yhi, Y_LABELS);
    let ylabel = |v: &f64| {
        if log {
            format!("{:.0e}", 10f64.powf(*v))
        } else {
            format!("{v:.digits$e}")
        }
    };
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc(if log {
            format!("{metric} (log10 axis)")
        } else {
            metric.to_string()
        })
        .y_labels(Y_LABELS)
        .y_label_formatter(&ylabel)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let color = PLOT_COLORS[i % PLOT_COLORS.len()];
        chart
            .draw_series(LineSeries::new(c.points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(c.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    draw_marks(&mut chart, curves, (ylo, yhi)).map_err(err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Each run's weight changes: a dashed line in its colour at the step
/// after which the new weight applied (the dashboard's markers), with one
/// legend entry for them all.
fn draw_marks<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    curves: &[Curve],
    (ylo, yhi): (f64, f64),
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut marked = false;
    for (i, c) in curves.iter().enumerate() {
        let color = PLOT_COLORS[i % PLOT_COLORS.len()];
        for &m in c.marks.iter().filter(|&&m| m > 0) {
            let x = m as f64;
            let dashes = DashedLineSeries::new(vec![(x, ylo), (x, yhi)], 8, 6, color.stroke_width(2));
            let drawn = chart.draw_series(dashes)?;
            if !marked {
                marked = true;
                drawn
                    .label("weight changed (steering)")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6).stroke_width(2)));
            }
        }
    }
    Ok(())
}

/// Labels on a figure's y axis (plotters picks round values, at most this many).
const Y_LABELS: usize = 8;

/// Digits after the point that tell apart ticks a span of `hi − lo` shared
/// out in `n` (a tick step needs one significant digit more than its size).
fn label_decimals(lo: f64, hi: f64, n: usize) -> usize {
    let step = ((hi - lo) / n.max(1) as f64).abs();
    if !(step.is_finite() && step > 0.0) {
        return 3;
    }
    let biggest = lo.abs().max(hi.abs());
    // In scientific notation the decimals count from the largest value's
    // leading digit.
    (biggest.log10().floor() - step.log10().floor() + 1.0).clamp(1.0, 10.0) as usize
}

/// Digits after the point for plain decimal labels of ticks spaced by
/// `(hi − lo) / n`.
fn plain_decimals(lo: f64, hi: f64, n: usize) -> usize {
    let step = ((hi - lo) / n.max(1) as f64).abs();
    if !(step.is_finite() && step > 0.0) {
        return 3;
    }
    (-step.log10().floor() + 1.0).clamp(0.0, 10.0) as usize
}

/// A run on the trade-off picture: its label and (content_dist, style_dist).
pub type TradeoffPoint = (String, f64, f64);

/// Writes the trade-off picture: content distance across, style distance
/// up, one labelled point per run, the Pareto front drawn. The extension
/// (.png or .svg) picks the format.
///
/// Points are numbered (1-based, in `points` order) and each number's
/// label is in the key under the plot, one line per run in the point's
/// colour, so labels of nearby points never overprint; points that fall on
/// the same spot share one label (`1,2`). `size` is the plot's; the key
/// adds to its height.
pub fn write_scatter(path: &Path, points: &[TradeoffPoint], title: &str, size: (u32, u32)) -> Result<()> {
    register_font_once();
    let key_h = KEY_TOP + KEY_LINE * points.len() as u32;
    let whole = (size.0, size.1 + key_h);
    render(
        path,
        Format::of(path, "picture")?,
        whole,
        |area| draw_scatter(area, points, title, size.1),
        |area| draw_scatter(area, points, title, size.1),
    )
}

/// The key under the trade-off picture: space above its first line, and
/// each line's height, px.
const KEY_TOP: u32 = 12;
const KEY_LINE: u32 = 24;

/// Labels on each axis of the trade-off picture (plotters picks round values).
const SCATTER_LABELS: usize = 7;

/// Draws the trade-off figure on any plotters backend: one labelled dot per
/// scored run, the Pareto front in grey, axes padded 12% around the finite
/// points (0..1 when there are none). Non-finite points are left out.
fn draw_scatter<DB: DrawingBackend>(
    whole: DrawingArea<DB, plotters::coord::Shift>,
    points: &[TradeoffPoint],
    title: &str,
    plot_h: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    whole.fill(&WHITE).map_err(err)?;
    let (root, key) = whole.split_vertically(plot_h);
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.1, p.2)).collect();
    let finite = || xy.iter().filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1) = finite().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (mut y0, mut y1) = finite().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let (px, py) = (((x1 - x0) * 0.12).max(1e-6), ((y1 - y0) * 0.12).max(1e-6));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 28).into_font().style(FontStyle::Bold))
        .margin(24)
        .x_label_area_size(56)
        .y_label_area_size(90)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(err)?;
    let (xd, yd) = (
        plain_decimals(x0 - px, x1 + px, SCATTER_LABELS),
        plain_decimals(y0 - py, y1 + py, SCATTER_LABELS),
    );
    chart
        .configure_mesh()
        .x_desc("content_dist (lower keeps more of the content)")
        .y_desc("style_dist (lower takes more of the style)")
        .x_labels(SCATTER_LABELS)
        .y_labels(SCATTER_LABELS)
        .x_label_formatter(&|v| format!("{v:.xd$}"))
        .y_label_formatter(&|v| format!("{v:.yd$}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let front: Vec<(f64, f64)> = crate::chart::pareto_front(&xy).iter().map(|&i| xy[i]).collect();
    // One point is no line: the legend names the front only when it is drawn.
    let drawn_front = front.len() >= 2;
    if drawn_front {
        chart
            .draw_series(LineSeries::new(front, RGBColor(110, 110, 110).stroke_width(2)))
            .map_err(err)?
            .label("Pareto front")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], RGBColor(110, 110, 110).stroke_width(3)));
    }
    draw_points(&mut chart, points)?;
    draw_key(&key, points)?;
    if drawn_front {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    whole.present().map_err(err)?;
    Ok(())
}

/// One dot per finite point in its run's colour, numbered beside it;
/// points on the same spot (within a dot's size) share one number label,
/// `1,2`. Labels of points on the right half read leftwards, so none runs
/// off the picture's right edge.
fn draw_points<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    points: &[TradeoffPoint],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    let finite: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].1.is_finite() && points[i].2.is_finite())
        .collect();
    // Each point's pixel, computed once (the chart is drawn on below).
    let px: Vec<(i32, i32)> = (0..points.len())
        .map(|i| chart.backend_coord(&(points[i].1, points[i].2)))
        .collect();
    let at = |i: usize| px[i];
    // Groups of points within 12 px of the group's first.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &finite {
        let (px, py) = at(i);
        match groups.iter_mut().find(|g| {
            let (gx, gy) = at(g[0]);
            (gx - px).abs() <= 12 && (gy - py).abs() <= 12
        }) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let (x_mid, _) = chart.backend_coord(&(
        (chart.x_range().start + chart.x_range().end) / 2.0,
        chart.y_range().start,
    ));
    for &i in &finite {
        let color = PLOT_COLORS[i % PLOT_COLORS.len()];
        chart
            .draw_series(std::iter::once(Circle::new(
                (points[i].1, points[i].2),
                7,
                color.filled(),
            )))
            .map_err(err)?;
    }
    for g in &groups {
        let text: Vec<String> = g.iter().map(|i| (i + 1).to_string()).collect();
        let first = g[0];
        let pos = if at(first).0 > x_mid {
            Pos::new(HPos::Right, VPos::Bottom)
        } else {
            Pos::new(HPos::Left, VPos::Bottom)
        };
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {} ", text.join(",")),
                (points[first].1, points[first].2),
                ("sans-serif", 20)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&BLACK)
                    .pos(pos),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// The key: `N  label (content …, style …)` per run, in its point's colour.
fn draw_key<DB: DrawingBackend>(key: &DrawingArea<DB, plotters::coord::Shift>, points: &[TradeoffPoint]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    for (i, (label, x, y)) in points.iter().enumerate() {
        let color = PLOT_COLORS[i % PLOT_COLORS.len()];
        let line = format!("{:>2}  {label}  (content_dist {x:.4}, style_dist {y:.4})", i + 1);
        key.draw_text(
            &line,
            &("sans-serif", 17).into_font().color(&color),
            (40, (KEY_TOP + KEY_LINE * i as u32) as i32),
        )
        .map_err(err)?;
    }
    Ok(())
}

/// The trade-off picture in the terminal: a braille scatter with the runs
/// numbered, then the key.
pub fn terminal_scatter(points: &[TradeoffPoint], width: u16, height: u16) -> String {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.1, p.2)).collect();
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    crate::chart::Scatter {
        title: " content_dist → / style_dist ↑ (lower is closer) ",
        x_label: "content",
        y_label: "style",
        points: &xy,
        color: false,
    }
    .render(area, &mut buf);
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out += line.trim_end();
        out.push('\n');
    }
    let front = crate::chart::pareto_front(&xy);
    for (i, (label, x, y)) in points.iter().enumerate() {
        let mark = if front.contains(&i) { "*" } else { " " };
        out += &format!("{:>3}{mark} {label}  (content {x:.4}, style {y:.4})\n", i + 1);
    }
    out += "  * on the Pareto front: no other run is closer to both the content and the style\n";
    out
}
