//! A run's scales — the resolution levels of a coarse-to-fine run, one for
//! a single-scale run — planned from the experiment and the content
//! image's size, before anything runs: the engine, the memory estimate and
//! the preflight all plan them the same way.

use crate::config::Experiment;
use crate::imaging;

/// One scale of a run, planned before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePlan {
    /// The longest side asked for, px.
    pub size: u32,
    /// The output's size at this scale (the content's aspect), px.
    pub width: u32,
    pub height: u32,
    /// The style images' longest side: `size × style_scale`.
    pub style_side: u32,
    /// Steps at this scale.
    pub iterations: u64,
}

/// The scales of a run for a content image of `w × h`.
pub fn plan(exp: &Experiment, w: u32, h: u32) -> Vec<ScalePlan> {
    exp.sizes
        .iter()
        .zip(&exp.iterations)
        .map(|(&size, &iterations)| {
            let (width, height) = imaging::fit_longest(w, h, size);
            ScalePlan {
                size,
                width,
                height,
                style_side: ((size as f64) * exp.style_scale).round() as u32,
                iterations,
            }
        })
        .collect()
}
