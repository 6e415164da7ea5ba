//! The step between a valid experiment and a run: everything that touches
//! the world. Every image must decode, the weights file must be VGG19 in
//! our format, whole, and hold every selected layer, the device must exist
//! and the results folder must be writable; and the run's estimated peak
//! memory is compared with what the device has free ([`Preflight::guard`]).
//! `stylelab check` stops here; `stylelab run` and every sweep point go on
//! to the engine. A problem is a [`ConfigError`] on the key that named the
//! file, like any bad value.

use crate::weights::{WeightsError, WeightsInfo};
use std::path::Path;
use stylelab_core::config::{ConfigError, Experiment, Init, OptimizerKind, Precision};
use stylelab_core::memory::{self, Estimate};

/// What the preflight found: the device to run on, the weights' header and
/// the memory the run will need.
#[derive(Debug)]
pub struct Preflight {
    /// The device the run will use, `auto` resolved.
    pub device: tch::Device,
    /// The weights file's header: its layers and preprocessing.
    pub weights: WeightsInfo,
    /// The content image's size, px.
    pub content_size: (u32, u32),
    /// The memory the run will need at its peak, per scale.
    pub estimate: Estimate,
    /// What the device has free for the run (see [`available_mib`]), MiB.
    pub available_mib: Option<f64>,
    /// Whose memory `estimate` is of: the device's kind (or, planning for
    /// another machine, that one's).
    pub memory_target: memory::Target,
}

/// Checks an experiment against the files, the weights and the device.
pub fn check(exp: &Experiment) -> Result<Preflight, ConfigError> {
    // Errors are placed on the line that names the bad file.
    let src = stylelab_core::files::read_text_bounded(&exp.source, stylelab_core::config::EXPERIMENT_LIMIT)
        .unwrap_or_default();
    let error = |key: &str, message: String| exp.error_at(&src, key, message);
    let mut content_size = (0, 0);
    let mut style_sizes = Vec::new();
    for (key, path) in images(exp) {
        let img = crate::imaging::decode(path).map_err(|e| error(&key, e))?;
        if img.width() == 0 || img.height() == 0 {
            return Err(error(&key, format!("{} is an empty image", path.display())));
        }
        if key == "images.content" {
            content_size = img.dimensions();
        } else if key.ends_with(".style") {
            style_sizes.push((key, path, img.dimensions()));
        }
    }
    check_sides(exp, content_size, &style_sizes).map_err(|(key, e)| error(&key, e))?;
    // The masks: each decodes, fits its image, and names only regions' colours.
    crate::inputs::read_masks(exp, content_size).map_err(|e| match e.split_once(": ") {
        Some((key, message)) => error(key, message.to_string()),
        None => error("images.mask", e),
    })?;
    let weights = WeightsInfo::read(&exp.weights).map_err(|e| {
        let hint = if matches!(e, WeightsError::Io { .. }) {
            "; get it with `stylelab weights fetch` (see the README)"
        } else {
            ""
        };
        error("model.weights", format!("{e}{hint}"))
    })?;
    for (table, layers) in [
        ("loss.content_layers", &exp.content_layers),
        ("loss.style_layers", &exp.style_weights()),
    ] {
        let selected: Vec<_> = layers.iter().map(|(l, _)| *l).collect();
        if let Err(missing) = weights.check_layers(&selected) {
            return Err(error(&format!("{table}.{}", missing.layer), missing.to_string()));
        }
    }
    let device = crate::device::resolve(exp.device).map_err(|e| error("optim.device", e))?;
    // `precision = "auto"` as the run will decide it, for the estimate.
    let resolved = Experiment {
        precision: crate::device::resolve_precision(exp.precision, device).0,
        ..exp.clone()
    };
    let exp = &resolved;
    if exp.precision == Precision::Fp16 && !device.is_cuda() {
        return Err(error(
            "optim.precision",
            "fp16 needs a CUDA device (CPUs have no fast half-precision convolutions); use \"bf16\" on a CPU".into(),
        ));
    }
    writable_folder(&exp.results).map_err(|e| error("output.results", e))?;
    let available = available_mib(device);
    let estimate = memory::estimate_within(exp, content_size.0, content_size.1, target(device), available);
    Ok(Preflight {
        device,
        weights,
        content_size,
        estimate,
        available_mib: available,
        memory_target: target(device),
    })
}

pub use crate::device::{available_mib, target};
pub use stylelab_core::text::mib_text;

impl Preflight {
    /// The estimate for another machine: a `target` device with
    /// `available` MiB free (`check --for cuda:24GiB`), tiles chosen for it.
    pub fn plan_for(&mut self, exp: &Experiment, target: memory::Target, available: f64) {
        self.memory_target = target;
        self.available_mib = Some(available);
        self.estimate = memory::estimate_within(exp, self.content_size.0, self.content_size.1, target, Some(available));
    }

    /// Refuses a run whose estimated peak exceeds what the device has free,
    /// saying what would fit. Passes when the free memory is unknown.
    pub fn guard(&self, exp: &Experiment) -> Result<(), ConfigError> {
        self.guard_for(exp, "run")
    }

    /// [`Preflight::guard`] for a run started by `command` (`run`, `sweep`),
    /// whose `--force` the message offers.
    pub fn guard_for(&self, exp: &Experiment, command: &str) -> Result<(), ConfigError> {
        let Some(available) = self.available_mib else {
            return Ok(());
        };
        let need = self.estimate.estimated_peak_mib;
        if need <= available {
            return Ok(());
        }
        let options = self.what_would_fit(exp, available);
        let src = stylelab_core::files::read_text_bounded(&exp.source, stylelab_core::config::EXPERIMENT_LIMIT)
            .unwrap_or_default();
        let what = if options.is_empty() {
            "nothing smaller of this experiment fits either".to_string()
        } else {
            format!("what would fit: {}", options.join("; "))
        };
        Err(exp.error_at(
            &src,
            "images.size",
            format!(
                "the run needs about {} on {} but {} is free; {what}; or `{command} --force` to try anyway",
                mib_text(need),
                self.estimate.device,
                mib_text(available)
            ),
        ))
    }

    /// The changes to `exp` that would fit in `available` MiB, in words.
    fn what_would_fit(&self, exp: &Experiment, available: f64) -> Vec<String> {
        let fits = |e: &Experiment| {
            memory::estimate_within(
                e,
                self.content_size.0,
                self.content_size.1,
                self.memory_target,
                Some(available),
            )
            .estimated_peak_mib
                <= available
        };
        let mut options = Vec::new();
        // Tiles, when they are off and would fit.
        let tiled = Experiment {
            tile: stylelab_core::config::Tiling::Auto,
            ..exp.clone()
        };
        if exp.tile != stylelab_core::config::Tiling::Auto && fits(&tiled) {
            let est = memory::estimate_within(
                &tiled,
                self.content_size.0,
                self.content_size.1,
                self.memory_target,
                Some(available),
            );
            let tile = est.scales.iter().filter_map(|s| s.tiling).map(|t| t.tile).min();
            options.push(match tile {
                Some(t) => format!("model.tile = \"auto\" (tiles of {t} px: the same result, exactly)"),
                None => "model.tile = \"auto\"".into(),
            });
        }
        if let Some(size) = largest_size(exp, &fits) {
            options.push(format!("images.size = {size} (the largest that fits)"));
        }
        if exp.optimizer == OptimizerKind::Lbfgs {
            if let Some(h) = (1..exp.history).rev().find(|&h| {
                fits(&Experiment {
                    history: h,
                    ..exp.clone()
                })
            }) {
                options.push(format!("optim.history = {h}"));
            }
            if fits(&Experiment {
                optimizer: OptimizerKind::Adam,
                ..exp.clone()
            }) {
                options.push("optim.optimizer = \"adam\" (no curvature history)".into());
            }
            if let Some(schedule) = schedule(exp, &fits) {
                options.push(schedule);
            }
        }
        if exp.precision == Precision::Fp32
            && fits(&Experiment {
                precision: Precision::Bf16,
                ..exp.clone()
            })
        {
            options.push("optim.precision = \"bf16\"".into());
        }
        options
    }
}

/// The largest final size (keeping the scales before it) at which the
/// experiment fits, by bisection; None when not even the smallest does.
fn largest_size(exp: &Experiment, fits: &dyn Fn(&Experiment) -> bool) -> Option<u32> {
    let floor = exp
        .sizes
        .iter()
        .rev()
        .nth(1)
        .map_or(stylelab_core::config::MIN_SIZE as u32, |s| s + 1);
    let at = |size: u32| {
        let mut sizes = exp.sizes.clone();
        if let Some(last) = sizes.last_mut() {
            *last = size;
        }
        Experiment { sizes, ..exp.clone() }
    };
    let (mut lo, mut hi) = (floor, exp.final_size());
    if !fits(&at(lo)) {
        return None;
    }
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if fits(&at(mid)) { lo = mid } else { hi = mid }
    }
    Some(lo)
}

/// A coarse-to-fine schedule that reaches the same size: L-BFGS keeps at
/// most as many pairs as a scale has steps, so few steps at the largest
/// size keep its history small.
fn schedule(exp: &Experiment, fits: &dyn Fn(&Experiment) -> bool) -> Option<String> {
    let size = exp.final_size();
    let sizes: Vec<u32> = [size / 4, size / 2, size]
        .into_iter()
        .filter(|&s| s >= stylelab_core::config::MIN_SIZE as u32)
        .collect();
    let steps = exp.total_iterations().max(3);
    let last = (1..=exp.history as u64).rev().find(|&k| {
        let mut iterations = vec![steps / 2; sizes.len()];
        if let Some(l) = iterations.last_mut() {
            *l = k;
        }
        fits(&Experiment {
            sizes: sizes.clone(),
            iterations,
            ..exp.clone()
        })
    })?;
    let list = |v: Vec<String>| v.join(", ");
    let mut iterations: Vec<String> = vec![(steps / 2).to_string(); sizes.len()];
    if let Some(l) = iterations.last_mut() {
        *l = last.to_string();
    }
    Some(format!(
        "images.size = [{}] with optim.iterations = [{}] (few steps at full size keep the history short)",
        list(sizes.iter().map(u32::to_string).collect()),
        list(iterations)
    ))
}

/// Every image must keep a side of at least one pixel through the poolings
/// before the deepest selected layer, at every scale: the content (and so
/// the generated image) at each size, the style images at size ×
/// `style_scale`. A 2000×1 image at 64 px is 64×1 and has nothing left
/// after one pooling.
fn check_sides(
    exp: &Experiment,
    content: (u32, u32),
    styles: &[(String, &Path, (u32, u32))],
) -> Result<(), (String, String)> {
    let Some(deepest) = exp.layers().last().copied() else {
        return Ok(());
    };
    let pools = deepest.pools_before();
    let need = 1u32 << pools;
    let advice = |what: &str| {
        format!(
            "{deepest} comes after {pools} pooling(s) and needs a side of at least {need} px; use a larger images.size, \
             {what}, or shallower layers"
        )
    };
    for p in crate::inputs::plan(exp, content.0, content.1) {
        let short = p.width.min(p.height);
        if short < need {
            return Err((
                "images.size".to_string(),
                format!(
                    "the content image is {}×{}: at {} px the generated image is {}×{}, {}",
                    content.0,
                    content.1,
                    p.size,
                    p.width,
                    p.height,
                    advice("a less elongated content image")
                ),
            ));
        }
        for (key, path, (w, h)) in styles {
            let (sw, sh) = crate::imaging::fit_longest(*w, *h, p.style_side);
            if sw.min(sh) < need {
                return Err((
                    key.clone(),
                    format!(
                        "the style image {} is {w}×{h}: at {} px it is {sw}×{sh}, {}",
                        path.display(),
                        p.style_side,
                        advice("a larger images.style_scale, a less elongated style image")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every image the experiment reads (masks aside), with the key that names it.
fn images(exp: &Experiment) -> Vec<(String, &Path)> {
    let mut images = vec![("images.content".to_string(), exp.content.as_path())];
    match &exp.regions {
        None => images.extend(
            exp.styles
                .iter()
                .map(|s| ("images.style".to_string(), s.path.as_path())),
        ),
        Some(regions) => {
            for r in &regions.list {
                images.extend(
                    r.styles
                        .iter()
                        .map(|s| (format!("regions.{}.style", r.name), s.path.as_path())),
                );
            }
        }
    }
    if let Init::Image(p) = &exp.init {
        images.push(("images.init".to_string(), p.as_path()));
    }
    images
}

/// Whether `dir` exists as a writable folder or could be created: its
/// nearest existing ancestor must be a writable folder. Creates nothing.
fn writable_folder(dir: &Path) -> Result<(), String> {
    let cannot = |why: &str| format!("the results folder {} cannot be created ({why})", dir.display());
    let mut probe = dir;
    let existing = loop {
        if probe.exists() {
            break probe;
        }
        if let Ok(link) = std::fs::read_link(probe) {
            return Err(cannot(&format!(
                "{} is a symbolic link to {}, which does not exist",
                probe.display(),
                link.display()
            )));
        }
        match probe.parent() {
            Some(parent) => probe = parent,
            None => return Err(cannot("no folder on its path exists")),
        }
    };
    if !existing.is_dir() {
        return Err(cannot(&format!("{} is not a folder", existing.display())));
    }
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        .map_err(|_| cannot("a NUL byte in the path"))?;
    // SAFETY: access(2) reads the NUL-terminated path and nothing else.
    let ok = unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    if !ok {
        return Err(cannot(&format!("{} is not writable", existing.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_results_folder_under_a_file_cannot_be_created() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        assert!(writable_folder(&dir.path().join("a/b/c")).is_ok());
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("written");
        let err = writable_folder(&file.join("results")).expect_err("a file is no folder");
        assert!(err.contains("is not a folder"), "{err}");
        assert!(!dir.path().join("a").exists(), "the check creates nothing");
    }
}
