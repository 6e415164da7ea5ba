//! An image drawn into ratatui's own buffer with Unicode half blocks: each
//! cell shows two pixels (upper half `▀` in the foreground colour, lower half
//! in the background), in truecolor. It works in any terminal and in tmux,
//! and shows up in buffer snapshots. Without colour (`NO_COLOR`) it falls
//! back to characters of increasing density.
//!
//! Reading side: `ui::follow` loads snapshots and final images from the run
//! folder into [`DisplayImage`]s; `ui::view` draws them with [`HalfBlockImage`].

use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;
use std::sync::Mutex;

/// An image kept for display: decoded (and downscaled) once when it
/// arrives, with its last resampling to a panel's cells remembered, so a
/// redraw at the same size resamples nothing.
#[derive(Debug)]
pub struct DisplayImage {
    /// The image as loaded (`ui::follow` caps its longer side at 512 px).
    pub image: RgbImage,
    /// (cells wide, cells high) and the image resampled to them.
    fitted: Mutex<Option<((u16, u16), RgbImage)>>,
}

impl DisplayImage {
    /// Wraps a decoded image; nothing is resampled until the first draw.
    pub fn new(image: RgbImage) -> Self {
        DisplayImage {
            image,
            fitted: Mutex::new(None),
        }
    }

    /// The image at `w × 2h` pixels (two per cell), resampled on the first
    /// call for that size only.
    ///
    /// Only the latest size is kept, and the result is cloned out each call.
    /// A poisoned lock is taken over: the memo is only a cache.
    fn fitted(&self, w: u16, h: u16) -> RgbImage {
        let mut memo = self.fitted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match memo.as_ref() {
            Some((size, img)) if *size == (w, h) => img.clone(),
            _ => {
                let img = image::imageops::thumbnail(&self.image, w as u32, h as u32 * 2);
                *memo = Some(((w, h), img.clone()));
                img
            }
        }
    }
}

/// Draws a [`DisplayImage`] centred in its area, as large as fits with its
/// aspect kept; draws nothing in an empty area.
pub struct HalfBlockImage<'a> {
    /// The image, with its resampling memo.
    pub image: &'a DisplayImage,
    /// Truecolour half blocks when set; otherwise one density character per
    /// cell from the average luma of its two pixels, colours left as they are.
    pub color: bool,
}

/// Cells (w, h) that fit an image of `iw × ih` pixels into `area`, keeping
/// its aspect (a cell is two pixels tall).
///
/// Scales up as well as down. `(0, 0)` when the image or the area is empty;
/// otherwise each side is at least 1 and at most the area's.
pub fn fit(iw: u32, ih: u32, area: Rect) -> (u16, u16) {
    if iw == 0 || ih == 0 || area.width == 0 || area.height == 0 {
        return (0, 0);
    }
    let (aw, ah) = (area.width as f64, area.height as f64 * 2.0);
    let scale = (aw / iw as f64).min(ah / ih as f64);
    let w = ((iw as f64 * scale).round() as u16).clamp(1, area.width);
    let h = (((ih as f64 * scale) / 2.0).round() as u16).clamp(1, area.height);
    (w, h)
}

/// Density characters from dark (space) to light (`@`), for the no-colour fallback.
const RAMP: &[char] = &[' ', '.', ':', '-', '=', '+', '*', '#', '%', '@'];

impl Widget for HalfBlockImage<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (w, h) = fit(self.image.image.width(), self.image.image.height(), area);
        if w == 0 {
            return;
        }
        let small = self.image.fitted(w, h);
        let x0 = area.x + (area.width - w) / 2;
        let y0 = area.y + (area.height - h) / 2;
        for cy in 0..h {
            for cx in 0..w {
                let top = small.get_pixel(cx as u32, cy as u32 * 2).0;
                let bottom = small
                    .get_pixel(cx as u32, (cy as u32 * 2 + 1).min(small.height() - 1))
                    .0;
                let cell = &mut buf[(x0 + cx, y0 + cy)];
                if self.color {
                    cell.set_char('▀')
                        .set_fg(Color::Rgb(top[0], top[1], top[2]))
                        .set_bg(Color::Rgb(bottom[0], bottom[1], bottom[2]));
                } else {
                    let luma = |p: [u8; 3]| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
                    let l = (luma(top) + luma(bottom)) / 2.0 / 255.0;
                    cell.set_char(RAMP[((l * (RAMP.len() - 1) as f64).round() as usize).min(RAMP.len() - 1)]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pixels_per_cell_in_truecolor() {
        let img = RgbImage::from_fn(2, 4, |_, y| {
            if y % 2 == 0 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let area = Rect::new(0, 0, 2, 2);
        let mut buf = Buffer::empty(area);
        HalfBlockImage {
            image: &DisplayImage::new(img),
            color: true,
        }
        .render(area, &mut buf);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!((c.fg, c.bg), (Color::Rgb(255, 0, 0), Color::Rgb(0, 0, 255)));
    }

    #[test]
    fn keeps_the_aspect_and_centres() {
        // A wide image in a tall panel: full width, few rows.
        assert_eq!(fit(400, 100, Rect::new(0, 0, 40, 30)), (40, 5));
        assert_eq!(fit(100, 100, Rect::new(0, 0, 40, 10)), (20, 10));
    }

    #[test]
    fn no_color_uses_density_characters() {
        let img = RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
        let area = Rect::new(0, 0, 4, 2);
        let mut buf = Buffer::empty(area);
        HalfBlockImage {
            image: &DisplayImage::new(img),
            color: false,
        }
        .render(area, &mut buf);
        assert_eq!(buf[(1, 1)].symbol(), "@");
        assert_eq!(buf[(1, 1)].fg, Color::Reset);
    }
}
