//! The Live view's panels, drawn from the followed run as it is: the loss
//! chart, the image, the progress (gauge, rate, ETA, memory, latest
//! losses) and the parameters (layers, statistics, regions, weights).

use super::run::Live;
use crate::ui::theme::Theme;
use crate::ui::times::duration;
use crate::ui::widgets::HalfBlockImage;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};
use std::collections::BTreeMap;
use stylelab_core::chart::LossChart;
use stylelab_core::record::Term;
use stylelab_core::text::short;

/// The loss chart, titled with the run's name and the toggles in force;
/// before the first row, what the run is doing instead of axes of zeros.
pub fn chart(live: &Live, smooth: bool, per_layer: bool, theme: &Theme, frame: &mut Frame, area: Rect) {
    let title = format!(
        " {} — log10 losses{}{} ",
        live.name(),
        if smooth { ", smoothed" } else { "" },
        if per_layer { ", per layer" } else { "" }
    );
    if live.series.is_empty() {
        frame.render_widget(
            Paragraph::new(starting_text(live))
                .style(theme.dim())
                .block(Block::bordered().title(title.as_str())),
            area,
        );
    } else {
        frame.render_widget(
            LossChart {
                title: &title,
                series: &live.series,
                marks: &live.chart_marks,
                color: theme.color,
                log: true,
            },
            area,
        );
    }
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

/// The image shown, titled with its step (and whether it is browsed to).
pub fn image(live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let image_title = match (&live.image, live.browsing) {
        (Some((iter, _)), Some(_)) => format!(" snapshot at step {iter} (browsing; End: newest) "),
        (Some((iter, _)), None) => format!(" step {iter} "),
        (None, _) => " image ".to_string(),
    };
    let block = Block::bordered().title(image_title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match &live.image {
        Some((_, img)) => frame.render_widget(
            HalfBlockImage {
                image: img,
                color: theme.color,
            },
            inner,
        ),
        None => frame.render_widget(Paragraph::new("no snapshot yet").style(theme.dim()), inner),
    }
}

/// The progress panel: a gauge of steps done, rate and ETA, device,
/// memory (live while running, recorded peak after) and the latest losses.
pub fn progress(live: &Live, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" progress ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge_area, text_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let steps = live.last.as_ref().map(|r| r.iter).unwrap_or(0);
    let total = live.iterations().max(1);
    let status = status(live);
    let ratio = (steps as f64 / total as f64).clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(gauge_label(
                live,
                &status,
                format!("{steps}/{total} {status}"),
                gauge_area.width,
            ))
            .gauge_style(theme.fg(if status == "running" {
                Color::Green
            } else {
                Color::Yellow
            })),
        gauge_area,
    );
    frame.render_widget(Paragraph::new(progress_lines(live, &status)), text_area);
}

/// The gauge's label, and while a tiled evaluation runs (the run's
/// `status` is running or starting) how far it has got: `, evaluating
/// tile 5 of 12, pass 2 of 2`, or `, tile 5/12, pass 2/2` where that does
/// not fit `width`.
fn gauge_label(live: &Live, status: &str, label: String, width: u16) -> String {
    let going = status == "running" || status == "starting…";
    let Some(p) = live.evaluating.filter(|_| going) else {
        return label;
    };
    let long = format!("{label}, evaluating {}", p.words());
    if long.chars().count() <= width as usize {
        return long;
    }
    format!(
        "{label}, tile {}/{}, pass {}/{}",
        p.done,
        p.tiles,
        p.pass,
        stylelab_core::events::EvalProgress::PASSES
    )
}

/// The gauge's word for the run: its final status, died, stopping, paused,
/// starting or running.
fn status(live: &Live) -> String {
    match &live.summary {
        Some(s) if s.status != stylelab_core::record::Status::Running => s.status.to_string(),
        _ if live.died() => "died".into(),
        _ if live.stopping => "stopping after the current step…".into(),
        _ if live.paused => "paused".into(),
        _ if live.last.is_none() => "starting…".into(),
        _ => "running".into(),
    }
}

/// The progress panel's text under the gauge: rate, ETA, elapsed and
/// scale; evaluations, device and memory; the latest losses.
fn progress_lines(live: &Live, status: &str) -> Vec<Line<'static>> {
    let steps = live.last.as_ref().map(|r| r.iter).unwrap_or(0);
    let total = live.iterations().max(1);
    let rate = live.steps_per_s();
    let elapsed = live.last.as_ref().map(|r| r.elapsed_s).unwrap_or(0.0);
    // No ETA from the first steps: they carry the start-up.
    let eta = if rate > 0.0 && status == "running" {
        duration((total - steps.min(total)) as f64 / rate)
    } else {
        "-".into()
    };
    let device = live.summary.as_ref().map(|s| s.device.clone()).unwrap_or_default();
    let last = live.last.as_ref();
    let value = |label: &str, v: Option<f64>| format!("{label} {:<10}", v.map(short).unwrap_or_else(|| "-".into()));
    vec![
        Line::from(format!(
            "{rate:.2} steps/s   ETA {eta}   elapsed {}{}",
            duration(elapsed),
            scale(live)
        )),
        Line::from(format!(
            "evals {}  {device}{}  {}",
            last.map(|r| r.evals).unwrap_or(0),
            tiles(live),
            memory(live)
        )),
        Line::from(value("total  ", last.map(|r| r.total)) + &value("content", last.map(|r| r.content))),
        Line::from(value("style  ", last.map(|r| r.style)) + &value("tv     ", last.map(|r| r.tv))),
    ]
}

/// `  12 tiles of 512 px` when the current scale is evaluated tile by tile.
fn tiles(live: &Live) -> String {
    let k = live.scale.map_or(0, |(i, _)| i.saturating_sub(1));
    live.summary
        .as_ref()
        .and_then(|s| s.scales.get(k))
        .and_then(|s| s.tiling)
        .map(|t| format!("  {} tiles of {} px", t.tiles, t.tile))
        .unwrap_or_default()
}

/// Resident memory (live, else the recorded peak) and GPU memory (the live
/// figure while running, the recorded peak after).
fn memory(live: &Live) -> String {
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
    let gpu = live
        .gpu_mib
        .map(|m| format!("  GPU {m:.0} MiB"))
        .or_else(|| {
            let peak = live.summary.as_ref()?.peak_gpu_mib?;
            Some(format!("  GPU peak {peak:.0} MiB"))
        })
        .unwrap_or_default();
    mem + &gpu
}

/// The scale a multi-scale run is at, from its last row's size; empty for one scale.
fn scale(live: &Live) -> String {
    match (live.scale, live.last.as_ref()) {
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
    }
}

/// The parameters panel: content and style layers (with their weights
/// when not 1.0), the style statistic (a layer with its own in brackets),
/// the regions, each term's weight with ▶ on the one being steered, and
/// the last weight change. Every weight shows whatever the height: the
/// layers give way first (their last line kept ends in …), after the last
/// weight change.
pub fn params(live: &Live, steer: Term, theme: &Theme, frame: &mut Frame, area: Rect) {
    let (mut lines, weights, steered) = params_lines(live, steer, theme, usize::from(area.width.saturating_sub(2)));
    let rows = usize::from(area.height.saturating_sub(2));
    let room = rows.saturating_sub(weights.len());
    let steered = steered.filter(|_| lines.len() < room);
    if lines.len() > room {
        lines.truncate(room);
        if let Some(last) = lines.last_mut() {
            last.spans.push(Span::raw(" …"));
        }
    }
    lines.extend(weights);
    lines.extend(steered);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" parameters ")),
        area,
    );
}

/// The parameters panel's height with every line shown, its border
/// included, at `width` cells wide.
pub fn params_height(live: &Live, steer: Term, theme: &Theme, width: u16) -> u16 {
    let (lines, weights, steered) = params_lines(live, steer, theme, usize::from(width.saturating_sub(2)));
    (lines.len() + weights.len() + usize::from(steered.is_some()) + 2) as u16
}

/// The panel's lines at `width`: the layers and regions, the weights, the
/// last weight change.
fn params_lines(
    live: &Live,
    steer: Term,
    theme: &Theme,
    width: usize,
) -> (Vec<Line<'static>>, Vec<Line<'static>>, Option<Line<'static>>) {
    let content: Vec<String> = live
        .config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("loss.content_layers.").map(|l| weighted(l, v)))
        .collect();
    let common = live
        .config
        .get("loss.style_loss")
        .map_or("gram", |v| v.trim_matches('"'));
    let regions: Vec<String> = live
        .config
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("regions.")?.strip_suffix(".color")?;
            Some(format!("{name}({})", v.trim_matches('"')))
        })
        .collect();
    let mut lines = wrapped("content ", content, 0, width, theme);
    let style = std::iter::once(common.to_string())
        .chain(style_layers(&live.config, common))
        .collect();
    lines.extend(wrapped("style   ", style, 1, width, theme));
    if !regions.is_empty() {
        lines.extend(wrapped("regions ", regions, 0, width, theme));
    }
    let (weights, steered) = weights(live, steer, theme);
    (lines, weights, steered)
}

/// `layer`, or `layer×weight` when the weight is not 1.0.
fn weighted(layer: &str, weight: &str) -> String {
    if weight == "1.0" {
        layer.to_string()
    } else {
        format!("{layer}×{weight}")
    }
}

/// The style layers as `relu1_1×2.0[histogram]`: weighted, with their own
/// statistic in brackets when it is not the `common` one. A layer is
/// `relu1_1 = 1.0` in the config, or `relu1_1.weight` and `relu1_1.loss`.
fn style_layers(config: &BTreeMap<String, String>, common: &str) -> Vec<String> {
    let mut style: Vec<(String, String, Option<String>)> = Vec::new();
    for (k, v) in config {
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
    style
        .iter()
        .map(|(l, w, own)| {
            let l = weighted(l, w);
            match own {
                Some(loss) => format!("{l}[{loss}]"),
                None => l,
            }
        })
        .collect()
}

/// Each term's weight (a pending one after it), ▶ and bold on the one
/// `+`/`-` steer; and the last weight change, dim, when there was one.
fn weights(live: &Live, steer: Term, theme: &Theme) -> (Vec<Line<'static>>, Option<Line<'static>>) {
    let mut lines = Vec::new();
    for term in Term::ALL {
        let mut w = live.weight(term).map(short).unwrap_or_else(|| "-".into());
        if let Some(p) = live.pending.get(&term) {
            // Asked for, not yet in a row: shown at once.
            w = format!("{w} → {} (next step)", short(*p));
        }
        let steered = term == steer;
        let style = if steered {
            theme.bold().patch(theme.fg(Color::Yellow))
        } else {
            Style::default()
        };
        let marker = if steered { "▶ " } else { "  " };
        lines.push(Line::from(Span::styled(
            format!("{marker}{:<15}{w}", term.weight_key()),
            style,
        )));
    }
    let steered = live.marks.last().map(|m| {
        Line::from(Span::styled(
            format!(
                "step {}: {} {} → {}",
                m.iter,
                m.term.weight_key(),
                short(m.from),
                short(m.to)
            ),
            theme.dim(),
        ))
    });
    (lines, steered)
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
