//! The geometry of exact tiled evaluation: how an image too large for one
//! pass through VGG19 is cut into tiles whose features, taken together,
//! are exactly the whole image's.
//!
//! A feature at a position depends only on the pixels around it. A tile is
//! evaluated on a *crop*: the tile's own pixels and a *halo* around them
//! (cut at the image's edges). A crop's zero padding differs from the
//! image's real neighbours at the crop's edge, and every 3×3 convolution
//! carries that difference one position further in; a 2×2 pooling halves
//! it (rounding up). [`halo_px`] follows it through the network to the
//! deepest layer, so that no difference reaches a tile's own positions.
//! Crops and tiles start on multiples of [`align_px`] (2^poolings) so that
//! every pooling window of a crop is one of the whole image's, and the
//! floor at the image's right and bottom edges falls as it does for the
//! whole image. Each tile's own positions at a layer are then
//! `[start >> pools, end >> pools)`: the tiles partition every feature map.
//!
//! The engine (`stylelab_engine::loss`) evaluates tile by tile; the memory
//! model counts one crop's activations; `check` prints the plan.

use crate::layer::{Layer, LayerKind};
use serde::{Deserialize, Serialize};

/// Pixels of halo a crop needs around its tile so that the features at
/// `deepest` (and every layer before it) over the tile equal the whole
/// image's: the reach of a crop edge's zero padding, in pixels, rounded up
/// to [`align_px`].
pub fn halo_px(deepest: Layer) -> u32 {
    // Positions from a crop's edge whose values differ from the image's,
    // at the current layer's resolution.
    let mut reach: u32 = 0;
    for layer in Layer::all().into_iter().take_while(|l| *l <= deepest) {
        match layer.kind {
            LayerKind::Conv => reach += 1,
            LayerKind::Relu => {}
            LayerKind::Pool => reach = reach.div_ceil(2),
        }
    }
    reach << deepest.pools_before()
}

/// What crops and tiles start on: 2^(poolings before `deepest`) pixels.
pub fn align_px(deepest: Layer) -> u32 {
    1 << deepest.pools_before()
}

/// A half-open rectangle of pixels (or of a feature map's positions):
/// rows `y0..y1`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// First row.
    pub y0: u32,
    /// One past the last row.
    pub y1: u32,
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
}

impl Rect {
    /// Rows.
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    /// Columns.
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    /// Cells.
    pub fn area(&self) -> u64 {
        self.height() as u64 * self.width() as u64
    }

    /// The same rectangle `pools` poolings deep: each side's start and end
    /// shifted down (exact for starts on [`align_px`]; an end at the
    /// image's edge floors as the network's pooling does).
    pub fn at_pools(&self, pools: u32) -> Rect {
        Rect {
            y0: self.y0 >> pools,
            y1: self.y1 >> pools,
            x0: self.x0 >> pools,
            x1: self.x1 >> pools,
        }
    }
}

/// One tile: its own pixels, and the crop evaluated for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The pixels (and, shifted, the positions of each layer) this tile
    /// accounts for.
    pub own: Rect,
    /// `own` and its halo, within the image.
    pub crop: Rect,
}

/// How one image is cut into tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilePlan {
    /// The image, px.
    pub width: u32,
    pub height: u32,
    /// The tiles' side, px (a multiple of `align`; the last row and column
    /// of tiles may be smaller, the others share the image evenly).
    pub tile: u32,
    /// Pixels of halo around each tile.
    pub halo: u32,
    /// What tiles and crops start on.
    pub align: u32,
}

impl TilePlan {
    /// Tiles of at most `tile` px (rounded down to a multiple of the
    /// alignment, and at least one alignment) over a `width × height`
    /// image, for features up to `deepest`.
    pub fn new(width: u32, height: u32, tile: u32, deepest: Layer) -> TilePlan {
        let align = align_px(deepest);
        TilePlan {
            width,
            height,
            tile: (tile / align * align).max(align),
            halo: halo_px(deepest),
            align,
        }
    }

    /// The starts of the tiles along a side of `len` px, and `len`: as
    /// few tiles as keep each within `tile` (but for a remainder below the
    /// alignment, which joins the last), their borders spread evenly
    /// on multiples of the alignment.
    fn cuts(&self, len: u32) -> Vec<u32> {
        let a = self.align as u64;
        let mut n = len.div_ceil(self.tile).max(1) as u64;
        loop {
            let mut cuts: Vec<u32> = (0..n).map(|i| ((i * len as u64 / n) / a * a) as u32).collect();
            cuts.push(len);
            cuts.dedup();
            // A last tile holding a remainder below the alignment may be
            // larger: no cut can fall inside it.
            if cuts.windows(2).all(|c| c[1] - c[0] <= self.tile) || n > len as u64 / a {
                return cuts;
            }
            n += 1;
        }
    }

    /// The tiles, row by row.
    pub fn tiles(&self) -> Vec<Tile> {
        let (ys, xs) = (self.cuts(self.height), self.cuts(self.width));
        let mut tiles = Vec::with_capacity((ys.len() - 1) * (xs.len() - 1));
        for y in ys.windows(2) {
            for x in xs.windows(2) {
                let own = Rect {
                    y0: y[0],
                    y1: y[1],
                    x0: x[0],
                    x1: x[1],
                };
                let crop = Rect {
                    y0: own.y0.saturating_sub(self.halo),
                    y1: (own.y1 + self.halo).min(self.height),
                    x0: own.x0.saturating_sub(self.halo),
                    x1: (own.x1 + self.halo).min(self.width),
                };
                tiles.push(Tile { own, crop });
            }
        }
        tiles
    }

    /// How many tiles.
    pub fn count(&self) -> usize {
        (self.cuts(self.height).len() - 1) * (self.cuts(self.width).len() - 1)
    }

    /// The largest crop's (width, height), px: what one pass holds.
    pub fn largest_crop(&self) -> (u32, u32) {
        let tiles = self.tiles();
        let w = tiles.iter().map(|t| t.crop.width()).max().unwrap_or(0);
        let h = tiles.iter().map(|t| t.crop.height()).max().unwrap_or(0);
        (w, h)
    }

    /// The pixels all crops cover over the image's: what the halos cost
    /// (1 for one tile).
    pub fn overlap(&self) -> f64 {
        let crops: u64 = self.tiles().iter().map(|t| t.crop.area()).sum();
        crops as f64 / (self.width as f64 * self.height as f64).max(1.0)
    }

    /// Whether the image is one tile (tiling changes nothing).
    pub fn is_whole(&self) -> bool {
        self.count() == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str) -> Layer {
        name.parse().unwrap()
    }

    #[test]
    fn the_halo_follows_the_padding_through_convolutions_and_poolings() {
        // Two convs: 2 px; the pooling halves it to 1 cell = 2 px.
        assert_eq!(halo_px(layer("relu1_1")), 1);
        assert_eq!(halo_px(layer("relu1_2")), 2);
        assert_eq!(halo_px(layer("pool1")), 2);
        // Block 2: 1 + 2 = 3 cells of 2 px.
        assert_eq!(halo_px(layer("relu2_1")), 4);
        assert_eq!(halo_px(layer("relu2_2")), 6);
        // Block 3: 2 + 4 = 6 cells of 4 px; block 4: 3 + 2 = 5 cells of 8 px.
        assert_eq!(halo_px(layer("relu3_4")), 24);
        assert_eq!(halo_px(layer("relu4_2")), 40);
        // Block 5: 4 + 1 = 5 cells of 16 px.
        assert_eq!(halo_px(layer("relu5_1")), 80);
        assert_eq!(align_px(layer("relu5_1")), 16);
        assert_eq!(align_px(layer("relu3_1")), 4);
    }

    #[test]
    fn tiles_partition_the_image_and_every_feature_map() {
        for (w, h) in [(211u32, 149u32), (200, 136), (1536, 1024), (17, 16)] {
            let plan = TilePlan::new(w, h, 64, layer("relu5_1"));
            let tiles = plan.tiles();
            assert_eq!(tiles.len(), plan.count());
            for pools in 0..=4 {
                // Every position of the map at `pools` is in exactly one tile.
                let (lw, lh) = (w >> pools, h >> pools);
                let mut seen = vec![0u8; (lw * lh) as usize];
                for t in &tiles {
                    let r = t.own.at_pools(pools);
                    for y in r.y0..r.y1 {
                        for x in r.x0..r.x1 {
                            seen[(y * lw + x) as usize] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{w}×{h} at {pools} poolings");
            }
            for t in &tiles {
                assert_eq!(t.own.y0 % 16, 0);
                assert_eq!(t.crop.x0 % 16, 0);
                assert!(t.crop.y1 == h || t.crop.y1 % 16 == 0);
                assert!(t.own.height() <= 64 && t.own.width() <= 64);
            }
        }
        let one = TilePlan::new(100, 80, 256, layer("relu4_2"));
        assert!(one.is_whole());
        assert_eq!(one.overlap(), 1.0);
        assert_eq!(one.tiles()[0].crop, one.tiles()[0].own);
    }

    #[test]
    fn tiles_share_a_side_evenly_on_the_alignment() {
        // 1025 px in tiles of at most 512: three, not 512 + 512 + 1.
        let plan = TilePlan::new(1025, 16, 512, layer("relu5_1"));
        let widths: Vec<u32> = plan.tiles().iter().map(|t| t.own.width()).collect();
        assert_eq!(widths, [336, 336, 353]);
        // Rounding to the alignment never makes a tile larger than asked.
        let odd = TilePlan::new(211, 149, 64, layer("relu5_1"));
        assert!(odd.tiles().iter().all(|t| t.own.width() <= 64 && t.own.height() <= 64));
        assert_eq!(TilePlan::new(64, 64, 100, layer("relu5_1")).tile, 96);
        assert_eq!(TilePlan::new(64, 64, 3, layer("relu5_1")).tile, 16);
    }
}
