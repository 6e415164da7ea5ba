//! `stylelab sheet`: final images in a grid, each labelled with its run's
//! name and the parameters that differ between the runs shown.
//!
//! Review side: reads each run's final.png from a [`Comparison`]; `cli`
//! (`stylelab sheet`) and `sweep` (a sheet of every sweep) call [`write_sheet`].

use super::Comparison;
use crate::error::bad_input;
use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use std::path::Path;

/// Pixels of the image area of one cell (square).
pub const CELL: u32 = 320;
/// Height of one label line, px.
const LINE_H: u32 = 20;
/// Margin around each cell's image, px.
const PAD: u32 = 12;

/// `loss.style_layers.relu2_1` → `style_layers.relu2_1`: enough to read.
fn short_key(key: &str) -> &str {
    key.split_once('.').map(|(_, rest)| rest).unwrap_or(key)
}

/// Paths are long: their file names say enough on a sheet.
fn short_value(v: &str) -> String {
    let v = v.trim_matches(['[', ']', '"']);
    if v.contains('/') {
        v.split(", ")
            .map(|p| p.trim_matches('"').rsplit('/').next().unwrap_or(p))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        // 800000000.0 reads as 8e8, 10000.0 as 1e4.
        crate::text::compact_number(v)
    }
}

/// One line per run for the trade-off picture: its name and the values of
/// the keys that differ, short.
pub fn short_labels(cmp: &Comparison) -> Vec<String> {
    cmp.runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let params: Vec<String> = cmp
                .diff
                .iter()
                .map(|(k, vals)| format!("{}={}", short_key(k), short_value(&vals[i])))
                .collect();
            if params.is_empty() {
                r.name.clone()
            } else {
                format!("{} {}", r.name, params.join(" "))
            }
        })
        .collect()
}

/// Label lines for each run: its name, then `key=value` for every key
/// that differs.
///
/// The first line is `name (state)`; keys lose their first dotted segment
/// (`loss.`) and path values keep only their file names. One `Vec` per run, in `cmp.runs` order.
pub fn labels(cmp: &Comparison) -> Vec<Vec<String>> {
    cmp.runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut lines = vec![format!("{} ({})", r.name, r.entry.state)];
            lines.extend(
                cmp.diff
                    .iter()
                    .map(|(k, vals)| format!("{}={}", short_key(k), short_value(&vals[i]))),
            );
            lines
        })
        .collect()
}

/// What [`write_sheet`] made.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// Its size, px.
    pub width: u32,
    pub height: u32,
    /// The runs shown without an image (none yet, or unreadable), each as
    /// `name (state)`: marked on the sheet, and worth a word to the user.
    pub without_image: Vec<String>,
}

/// Lays out and writes the sheet as PNG.
///
/// Runs fill a grid of ⌈√n⌉ columns, left to right; each row is as tall as
/// its tallest image. A run whose final.png cannot be opened gets a grey
/// box saying so; label lines are cut to 40 characters. The extension picks
/// PNG or JPEG. Bad-input errors: no runs, or `out` not named `*.png`, `*.jpg` or `*.jpeg`.
pub fn write_sheet(cmp: &Comparison, out: &Path) -> Result<Sheet> {
    if cmp.runs.is_empty() {
        return Err(bad_input("no runs to put on a sheet"));
    }
    let ext = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
        return Err(bad_input(format!(
            "{}: the sheet is written as PNG or JPEG; name it *.png or *.jpg",
            out.display()
        )));
    }
    let labels = labels(cmp);
    let lines = labels.iter().map(Vec::len).max().unwrap_or(1) as u32;
    // Thumbnails first: each row is as tall as its tallest image, so a row
    // of landscape images has no blank band above it.
    let thumbs: Vec<Option<RgbImage>> = cmp
        .runs
        .iter()
        .map(|run| {
            image::open(crate::record::RunPaths::new(&run.dir).final_image())
                .ok()
                .map(|img| img.thumbnail(CELL, CELL).to_rgb8())
        })
        .collect();
    let grid = Grid::new(&thumbs, lines * LINE_H);
    let (w, h) = (grid.width(), grid.height);
    let mut canvas = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let mut without_image = Vec::new();
    for (i, run) in cmp.runs.iter().enumerate() {
        let (cx, cy, rh) = grid.cell(i);
        match &thumbs[i] {
            Some(thumb) => {
                // Bottom-aligned in its row: each image sits right above its label.
                let (ox, oy) = (cx + (CELL - thumb.width()) / 2, cy + rh - thumb.height());
                image::imageops::overlay(&mut canvas, thumb, ox as i64, oy as i64);
            }
            None => {
                // A grey square says "no image" better than a gap.
                let grey = RgbImage::from_pixel(CELL, rh, Rgb([220, 220, 220]));
                image::imageops::overlay(&mut canvas, &grey, cx as i64, cy as i64);
                without_image.push((i, format!("{} ({})", run.name, run.entry.state)));
            }
        }
    }
    let missing: Vec<usize> = without_image.iter().map(|(i, _)| *i).collect();
    draw_text(&mut canvas, &grid, &missing, &labels)?;
    canvas
        .save(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Sheet {
        width: w,
        height: h,
        without_image: without_image.into_iter().map(|(_, name)| name).collect(),
    })
}

/// The sheet's layout: ⌈√n⌉ columns, each row as tall as its tallest
/// image plus the label lines.
struct Grid {
    cols: u32,
    /// Top of each row's cell, px.
    tops: Vec<u32>,
    row_heights: Vec<u32>,
    height: u32,
}

impl Grid {
    /// The cell's width, px.
    const CELL_W: u32 = CELL + 2 * PAD;

    fn new(thumbs: &[Option<RgbImage>], label_h: u32) -> Grid {
        let n = thumbs.len() as u32;
        let cols = (n as f64).sqrt().ceil() as u32;
        let rows = n.div_ceil(cols);
        let row_heights: Vec<u32> = (0..rows)
            .map(|r| {
                (r * cols..((r + 1) * cols).min(n))
                    .map(|i| thumbs[i as usize].as_ref().map_or(CELL, RgbImage::height))
                    .max()
                    .unwrap_or(CELL)
            })
            .collect();
        let mut tops = Vec::with_capacity(rows as usize);
        let mut height = 0;
        for rh in &row_heights {
            tops.push(height);
            height += rh + 2 * PAD + label_h;
        }
        Grid {
            cols,
            tops,
            row_heights,
            height,
        }
    }

    fn width(&self) -> u32 {
        self.cols * Self::CELL_W
    }

    /// Run `i`'s image box: left, top and its row's image height, px.
    fn cell(&self, i: usize) -> (u32, u32, u32) {
        let (col, row) = (i as u32 % self.cols, (i as u32 / self.cols) as usize);
        (col * Self::CELL_W + PAD, self.tops[row] + PAD, self.row_heights[row])
    }
}

/// "no final image" in the grey boxes of `missing`, and each run's label
/// lines under its image (the name bold, every line cut to 40 characters).
fn draw_text(canvas: &mut RgbImage, grid: &Grid, missing: &[usize], labels: &[Vec<String>]) -> Result<()> {
    super::plot::register_font_once();
    let (w, h) = (canvas.width(), canvas.height());
    let root = BitMapBackend::with_buffer(canvas.as_mut(), (w, h)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow::anyhow!("{e:?}");
    for &i in missing {
        let (cx, cy, rh) = grid.cell(i);
        let style = ("sans-serif", 20).into_font().color(&RGBColor(90, 90, 90));
        let middle = cy + rh / 2;
        root.draw_text("no final image", &style, (cx as i32 + 90, middle as i32 - 10))
            .map_err(err)?;
    }
    for (i, lines) in labels.iter().enumerate() {
        let (cx, cy, rh) = grid.cell(i);
        let top = cy + rh + 4;
        for (j, line) in lines.iter().enumerate() {
            let style = if j == 0 {
                ("sans-serif", 17).into_font().style(FontStyle::Bold)
            } else {
                ("sans-serif", 15).into_font()
            };
            let clipped: String = line.chars().take(40).collect();
            root.draw_text(
                &clipped,
                &style.color(&BLACK),
                (cx as i32, (top + j as u32 * LINE_H) as i32),
            )
            .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::short_value;

    #[test]
    fn values_read_short() {
        assert_eq!(short_value("800000000.0"), "8e8");
        assert_eq!(short_value("10000.0"), "1e4");
        assert_eq!(short_value("2500.0"), "2500");
        assert_eq!(short_value("0.0001"), "1e-4");
        assert_eq!(short_value("100.0"), "100");
        assert_eq!(short_value("\"/a/b/starry.jpg\""), "starry.jpg");
        assert_eq!(short_value("\"gram\""), "gram");
    }
}
