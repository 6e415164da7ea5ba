//! VGG19 layer names (conv1_1 … relu5_4, pool1 … pool5): the vocabulary the
//! config speaks and the engine runs, so no code deals in magic indices.
//!
//! A leaf of the pipeline: `config` parses `style.layers`/`content.layers` into
//! [`Layer`]s, `engine::vgg` walks [`Layer::all`] to run the forward pass, and
//! `weights` uses [`Layer::convs`] and [`Layer::conv_channels`] to check a
//! weights file's tensor shapes. Nothing here touches libtorch.

use std::fmt;
use std::str::FromStr;

/// Convolutions per block in VGG19.
const CONVS_PER_BLOCK: [u8; 5] = [2, 2, 4, 4, 4];
/// Output channels per block in VGG19.
const CHANNELS: [i64; 5] = [64, 128, 256, 512, 512];

/// What a layer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerKind {
    /// A 3×3 convolution (named `convB_I`).
    Conv,
    /// The ReLU applied to the conv of the same block and index (`reluB_I`).
    Relu,
    /// The max-pool that ends a block (`poolB`).
    Pool,
}

/// One named layer of VGG19's feature extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layer {
    /// Convolution, ReLU or pooling.
    pub kind: LayerKind,
    /// Block 1..=5.
    pub block: u8,
    /// Conv/ReLU index within the block, 1-based; 0 for pooling layers.
    pub index: u8,
}

impl Layer {
    /// `conv{block}_{index}`. Does not check that the pair exists in VGG19;
    /// [`Layer::position`] panics on one that does not.
    pub const fn conv(block: u8, index: u8) -> Self {
        Layer {
            kind: LayerKind::Conv,
            block,
            index,
        }
    }
    /// `relu{block}_{index}`; unchecked, like [`Layer::conv`].
    pub const fn relu(block: u8, index: u8) -> Self {
        Layer {
            kind: LayerKind::Relu,
            block,
            index,
        }
    }
    /// `pool{block}`, the pooling layer at the end of a block (index 0); unchecked.
    pub const fn pool(block: u8) -> Self {
        Layer {
            kind: LayerKind::Pool,
            block,
            index: 0,
        }
    }

    /// Every layer in forward order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, …
    /// (37 layers: 16 convs, 16 ReLUs, 5 pools). Built afresh on each call.
    pub fn all() -> Vec<Layer> {
        let mut out = Vec::with_capacity(37);
        for (b, &n) in CONVS_PER_BLOCK.iter().enumerate() {
            let block = b as u8 + 1;
            for index in 1..=n {
                out.push(Layer::conv(block, index));
                out.push(Layer::relu(block, index));
            }
            out.push(Layer::pool(block));
        }
        out
    }

    /// The 16 convolutions in forward order.
    pub fn convs() -> Vec<Layer> {
        Layer::all().into_iter().filter(|l| l.kind == LayerKind::Conv).collect()
    }

    /// Position in forward order (0 = conv1_1, 36 = pool5); this is what [`Ord`] compares.
    ///
    /// # Panics
    ///
    /// If the layer is not one of VGG19's, which only a hand-built
    /// [`Layer::conv`]/[`Layer::relu`]/[`Layer::pool`] with out-of-range numbers can be.
    pub fn position(self) -> usize {
        // Each earlier block holds a conv and a relu per conv, and a pool.
        let b = self.block as usize - 1;
        let before: usize = CONVS_PER_BLOCK[..b].iter().map(|&n| 2 * n as usize + 1).sum();
        match self.kind {
            LayerKind::Conv => before + 2 * (self.index as usize - 1),
            LayerKind::Relu => before + 2 * (self.index as usize - 1) + 1,
            LayerKind::Pool => before + 2 * CONVS_PER_BLOCK[b] as usize,
        }
    }

    /// The convolution that produces this layer's input or output:
    /// relu3_2 → conv3_2; pool2 → conv2_2 (the last conv of its block).
    ///
    /// Used to decide how deep the forward pass must go and which conv
    /// weights a layer needs.
    pub fn conv_at_or_before(self) -> Layer {
        match self.kind {
            LayerKind::Pool => Layer::conv(self.block, CONVS_PER_BLOCK[self.block as usize - 1]),
            _ => Layer::conv(self.block, self.index),
        }
    }

    /// `(out_channels, in_channels)` of a conv layer's weight in VGG19; the
    /// first conv of a block takes the previous block's channels (3 for conv1_1).
    /// Meant for conv layers: it reads only `block` and `index`.
    pub fn conv_channels(self) -> (i64, i64) {
        let b = self.block as usize - 1;
        let out = CHANNELS[b];
        let inp = match (b, self.index) {
            (0, 1) => 3,
            (_, 1) => CHANNELS[b - 1],
            _ => out,
        };
        (out, inp)
    }

    /// Poolings applied up to and including this layer: its feature map is
    /// the input halved (rounding down) this many times.
    pub fn pools_before(self) -> u32 {
        match self.kind {
            LayerKind::Pool => self.block as u32,
            _ => self.block as u32 - 1,
        }
    }

    /// Channels of this layer's output feature map (64, 128, 256, 512 or 512 by block).
    pub fn channels(self) -> i64 {
        CHANNELS[self.block as usize - 1]
    }

    /// Names of all layers in forward order, for messages.
    pub fn all_names() -> Vec<String> {
        Layer::all().iter().map(|l| l.to_string()).collect()
    }

    /// The layer name closest to `name` (edit distance), for "did you mean".
    ///
    /// Compares case-insensitively; only candidates within 3 edits count, so
    /// `None` means nothing is close. Ties go to the smaller `digit_gap`, then to
    /// the earlier layer.
    pub fn closest(name: &str) -> Option<Layer> {
        let name = name.to_ascii_lowercase();
        Layer::all()
            .into_iter()
            .map(|l| (edit_distance(&name, &l.to_string()), l))
            .filter(|(d, _)| *d <= 3)
            .min_by_key(|(d, l)| (*d, digit_gap(&name, &l.to_string()), l.position()))
            .map(|(_, l)| l)
    }
}

/// Layers in forward order, each once: the set of feature maps the engine
/// must extract when content and style layers overlap.
pub fn in_forward_order(layers: impl IntoIterator<Item = Layer>) -> Vec<Layer> {
    let mut all: Vec<Layer> = layers.into_iter().collect();
    all.sort();
    all.dedup();
    all
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LayerKind::Conv => write!(f, "conv{}_{}", self.block, self.index),
            LayerKind::Relu => write!(f, "relu{}_{}", self.block, self.index),
            LayerKind::Pool => write!(f, "pool{}", self.block),
        }
    }
}

/// A name that is not one of VGG19's layers; holds the name as written.
///
/// Its `Display` quotes the name and suggests the closest layer, or lists the
/// range of valid names when none is close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLayer(pub String);

impl fmt::Display for UnknownLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a VGG19 layer", self.0)?;
        match Layer::closest(&self.0) {
            Some(l) => write!(f, " (did you mean '{l}'?)"),
            None => write!(f, " (layers are conv1_1 … relu5_4 and pool1 … pool5)"),
        }
    }
}

impl std::error::Error for UnknownLayer {}

/// Parses an exact, lower-case name such as `relu4_2`.
impl FromStr for Layer {
    type Err = UnknownLayer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::all()
            .into_iter()
            .find(|l| l.to_string() == s)
            .ok_or_else(|| UnknownLayer(s.to_string()))
    }
}

impl PartialOrd for Layer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Layers order by their position in the forward pass.
impl Ord for Layer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
}

/// Sum of differences between digits at the same positions: breaks ties so
/// that 'relu9_1' suggests 'relu5_1' rather than 'relu1_1'.
fn digit_gap(a: &str, b: &str) -> u32 {
    let digits = |s: &str| s.chars().filter_map(|c| c.to_digit(10)).collect::<Vec<_>>();
    digits(a).iter().zip(digits(b)).map(|(x, y)| x.abs_diff(y)).sum()
}

/// Levenshtein distance in `char`s, for suggestions (names are short).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg19_has_16_convs_and_5_pools() {
        let all = Layer::all();
        assert_eq!(all.len(), 16 * 2 + 5);
        assert!(all.iter().enumerate().all(|(i, l)| l.position() == i));
        assert_eq!(Layer::convs().len(), 16);
        assert_eq!(all[0].to_string(), "conv1_1");
        assert_eq!(all[4].to_string(), "pool1");
        assert_eq!(all.last().unwrap().to_string(), "pool5");
    }

    #[test]
    fn names_round_trip_and_order() {
        for l in Layer::all() {
            assert_eq!(l.to_string().parse::<Layer>().unwrap(), l);
        }
        let a: Layer = "relu1_1".parse().unwrap();
        let b: Layer = "relu4_2".parse().unwrap();
        assert!(a < b);
    }

    #[test]
    fn conv_shapes_follow_vgg19() {
        assert_eq!(Layer::conv(1, 1).conv_channels(), (64, 3));
        assert_eq!(Layer::conv(2, 1).conv_channels(), (128, 64));
        assert_eq!(Layer::conv(3, 4).conv_channels(), (256, 256));
        assert_eq!(Layer::conv(4, 1).conv_channels(), (512, 256));
        assert_eq!(Layer::conv(5, 1).conv_channels(), (512, 512));
        assert_eq!(Layer::pool(3).conv_at_or_before(), Layer::conv(3, 4));
    }

    #[test]
    fn unknown_layer_suggests_the_closest() {
        let err = "relu9_1".parse::<Layer>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'relu9_1' is not a VGG19 layer (did you mean 'relu5_1'?)"
        );
        let err = "rleu4_2".parse::<Layer>().unwrap_err();
        assert!(err.to_string().contains("did you mean 'relu4_2'"), "{err}");
        assert!("banana".parse::<Layer>().unwrap_err().to_string().contains("pool5"));
    }
}
