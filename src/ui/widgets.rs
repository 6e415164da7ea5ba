//! Small widgets, one file each.

mod halfblock;
mod loss_chart;

pub use halfblock::HalfBlockImage;
pub use loss_chart::{LossChart, Series, log_ticks};
