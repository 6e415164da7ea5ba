//! Images as files: decode any supported format to RGB, fit a longest
//! side, resize. The engine turns them into tensors (`stylelab_engine::imaging`).

use image::{RgbImage, imageops::FilterType};
use std::path::Path;

/// Decodes any supported image file to RGB; refuses anything that is not a
/// regular file before opening it ([`crate::files::regular_file`]).
pub fn decode(path: &Path) -> Result<RgbImage, String> {
    crate::files::regular_file(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = image::ImageReader::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = reader
        .with_guessed_format()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let img = reader
        .decode()
        .map_err(|e| format!("cannot decode {} as an image: {e}", path.display()))?;
    Ok(img.to_rgb8())
}

/// Width and height with the longest side equal to `longest`.
pub fn fit_longest(width: u32, height: u32, longest: u32) -> (u32, u32) {
    let ratio = longest as f64 / width.max(height) as f64;
    let w = ((width as f64 * ratio).round() as u32).max(1);
    let h = ((height as f64 * ratio).round() as u32).max(1);
    (w, h)
}

/// Resizes to exactly `width × height` (Lanczos; a no-op when equal).
pub fn resize(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    image::imageops::resize(img, width, height, FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_longest_side() {
        assert_eq!(fit_longest(451, 300, 64), (64, 43));
        assert_eq!(fit_longest(300, 451, 64), (43, 64));
        assert_eq!(fit_longest(10, 1000, 16), (1, 16));
    }
}
