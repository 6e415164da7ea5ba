//! Region masks: colours by name, and a mask image read as one region per
//! pixel. A pixel belongs to the region whose colour is nearest (so the
//! soft edges of a drawn or resized mask go to one side or the other); a
//! mask whose pixels are far from every region's colour in more than
//! [`STRAY_SHARE`] of the image names a colour no region does, and is
//! refused, as is a region that covers no pixel.

use image::RgbImage;

/// Colour names a mask may use besides `#rrggbb`.
const NAMED: [(&str, [u8; 3]); 9] = [
    ("white", [255, 255, 255]),
    ("black", [0, 0, 0]),
    ("red", [255, 0, 0]),
    ("green", [0, 255, 0]),
    ("blue", [0, 0, 255]),
    ("yellow", [255, 255, 0]),
    ("cyan", [0, 255, 255]),
    ("magenta", [255, 0, 255]),
    ("gray", [128, 128, 128]),
];

/// A pixel further than this from every region's colour (Euclidean, in
/// 0..255 RGB) is a stray: not of any region's colour.
pub const STRAY_DISTANCE: f64 = 64.0;
/// The share of stray pixels a mask may hold (its soft edges); more, and
/// the mask uses a colour no region names.
pub const STRAY_SHARE: f64 = 0.01;
/// How far a mask's aspect ratio may differ from the content's (it is
/// resized to the content's size).
pub const ASPECT_TOLERANCE: f64 = 0.02;

/// `"white"`, `"black"`, … or `"#rrggbb"` / `"#rgb"`.
pub fn parse_color(s: &str) -> Option<[u8; 3]> {
    let s = s.trim();
    if let Some((_, c)) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(*c);
    }
    let hex = s.strip_prefix('#')?;
    let digit = |i: usize, n: usize| u8::from_str_radix(hex.get(i..i + n)?, 16).ok();
    match hex.len() {
        6 => Some([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?]),
        3 => Some([digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17]),
        _ => None,
    }
}

/// The colour's name when it has one, else `#rrggbb`.
pub fn color_name(c: [u8; 3]) -> String {
    NAMED
        .iter()
        .find(|(_, v)| *v == c)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
}

/// One region index per pixel, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// `width × height` region indices.
    pub labels: Vec<u8>,
}

/// Why a mask cannot be read as regions.
#[derive(Debug, Clone, PartialEq)]
pub enum MaskError {
    /// More than [`STRAY_SHARE`] of the pixels are far from every region's
    /// colour; the commonest such colour, its share, and where it first is.
    Unnamed { color: [u8; 3], share: f64, at: (u32, u32) },
    /// The region with this index covers no pixel.
    Empty(usize),
}

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskError::Unnamed { color, share, at } => write!(
                f,
                "{:.1} % of its pixels are of colours no region names, most often {} (first at x {}, y {}); \
                 give that colour a [regions.NAME] or repaint it",
                share * 100.0,
                color_name(*color),
                at.0,
                at.1
            ),
            MaskError::Empty(_) => f.write_str("no pixel of the mask is of this colour"),
        }
    }
}

/// Reads `img` as regions of `colors`: each pixel the index of the
/// nearest. Every colour must cover a pixel.
pub fn label(img: &RgbImage, colors: &[[u8; 3]]) -> Result<Labels, MaskError> {
    let labels = label_some(img, colors)?;
    match labels.shares(colors.len()).iter().position(|&s| s == 0.0) {
        Some(empty) => Err(MaskError::Empty(empty)),
        None => Ok(labels),
    }
}

/// As [`label`], but a colour may cover no pixel (a style mask shows the
/// regions its image has a style for).
pub fn label_some(img: &RgbImage, colors: &[[u8; 3]]) -> Result<Labels, MaskError> {
    let distance = |p: [u8; 3], c: [u8; 3]| -> f64 {
        p.iter()
            .zip(c)
            .map(|(&a, b)| (a as f64 - b as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut labels = Vec::with_capacity(img.width() as usize * img.height() as usize);
    // Coarse colour → (count, first place, that place's exact colour).
    type Stray = (usize, (u32, u32), [u8; 3]);
    let mut strays: std::collections::BTreeMap<[u8; 3], Stray> = Default::default();
    for (x, y, p) in img.enumerate_pixels() {
        let (i, d) = colors
            .iter()
            .enumerate()
            .map(|(i, &c)| (i, distance(p.0, c)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f64::INFINITY));
        if d > STRAY_DISTANCE {
            // Counted by a coarse colour (4 bits a channel, so that shades
            // of one colour count together), reported exactly as first seen.
            let key = p.0.map(|v| v & 0xf0);
            strays.entry(key).or_insert((0, (x, y), p.0)).0 += 1;
        }
        labels.push(i as u8);
    }
    let total = labels.len().max(1);
    let stray: usize = strays.values().map(|s| s.0).sum();
    if stray as f64 > STRAY_SHARE * total as f64 {
        let (at, color) = strays
            .values()
            .max_by_key(|(n, _, _)| *n)
            .map(|&(_, at, exact)| (at, exact))
            .unwrap_or(((0, 0), [0; 3]));
        return Err(MaskError::Unnamed {
            color,
            share: stray as f64 / total as f64,
            at,
        });
    }
    Ok(Labels {
        width: img.width(),
        height: img.height(),
        labels,
    })
}

impl Labels {
    /// The labels at another size, nearest neighbour (a label is not a
    /// colour to average).
    pub fn resized(&self, width: u32, height: u32) -> Labels {
        let mut labels = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            let sy = ((y as u64 * 2 + 1) * self.height as u64 / (2 * height as u64)).min(self.height as u64 - 1);
            for x in 0..width {
                let sx = ((x as u64 * 2 + 1) * self.width as u64 / (2 * width as u64)).min(self.width as u64 - 1);
                labels.push(self.labels[(sy * self.width as u64 + sx) as usize]);
            }
        }
        Labels { width, height, labels }
    }

    /// The share of pixels of each of `n` regions.
    pub fn shares(&self, n: usize) -> Vec<f64> {
        let mut counts = vec![0usize; n];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        let total = self.labels.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / total).collect()
    }
}

/// Whether a `mask` of this size can stand for a content of that size:
/// aspect ratios within [`ASPECT_TOLERANCE`].
pub fn aspect_matches(mask: (u32, u32), content: (u32, u32)) -> bool {
    let ratio = |(w, h): (u32, u32)| w as f64 / h.max(1) as f64;
    (ratio(mask) / ratio(content) - 1.0).abs() <= ASPECT_TOLERANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_by_name_and_hex() {
        assert_eq!(parse_color("white"), Some([255, 255, 255]));
        assert_eq!(parse_color("Black"), Some([0, 0, 0]));
        assert_eq!(parse_color("#ff8000"), Some([255, 128, 0]));
        assert_eq!(parse_color("#f80"), Some([255, 136, 0]));
        assert_eq!(parse_color("#ggg"), None);
        assert_eq!(parse_color("sky"), None);
        assert_eq!(color_name([255, 255, 255]), "white");
        assert_eq!(color_name([1, 2, 3]), "#010203");
    }

    #[test]
    fn soft_edges_go_to_the_nearest_region_and_strays_are_refused() {
        // 10×10: left half white, right half black, one grey edge column.
        let mut img = RgbImage::from_fn(10, 10, |x, _| {
            if x < 5 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        img.put_pixel(5, 0, image::Rgb([220, 220, 220]));
        let l = label(&img, &[[255; 3], [0; 3]]).unwrap();
        assert_eq!(l.labels[0], 0);
        assert_eq!(l.labels[5], 0, "light grey goes to white");
        assert_eq!(l.labels[9], 1);
        assert_eq!(l.shares(2), vec![0.51, 0.49]);
        // A red blob of 10 % that no region names.
        for x in 0..10 {
            img.put_pixel(x, 9, image::Rgb([250, 0, 0]));
        }
        match label(&img, &[[255; 3], [0; 3]]) {
            Err(MaskError::Unnamed { share, at, color }) => {
                assert!((share - 0.1).abs() < 1e-9);
                assert_eq!(at, (0, 9));
                assert_eq!(color, [250, 0, 0], "the colour as painted, not its bin");
            }
            other => panic!("{other:?}"),
        }
        // A region nothing in the mask is coloured as.
        assert_eq!(
            label(&img, &[[255; 3], [0; 3], [250, 0, 0], [0, 0, 255]]),
            Err(MaskError::Empty(3))
        );
    }

    #[test]
    fn labels_resize_by_nearest_neighbour() {
        let l = Labels {
            width: 2,
            height: 1,
            labels: vec![0, 1],
        };
        assert_eq!(l.resized(4, 2).labels, vec![0, 0, 1, 1, 0, 0, 1, 1]);
        assert!(aspect_matches((200, 100), (512, 256)));
        assert!(!aspect_matches((200, 200), (512, 256)));
    }
}
