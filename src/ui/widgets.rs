//! Small widgets, one file each.

mod halfblock;
mod loss_chart;

pub use halfblock::HalfBlockImage;
pub use loss_chart::{LossChart, MARKER_GLYPHS, MARKERS, Series, log_ticks};
