//! Small widgets of the dashboard's own, one file each (the loss chart,
//! shared with the review commands, lives in [`stylelab_core::chart`]).

mod halfblock;
mod tab_bar;

pub use halfblock::{DisplayImage, HalfBlockImage};
pub use tab_bar::{TabBar, tab_at};
