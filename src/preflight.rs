//! The step between a valid experiment and a run: everything that touches
//! the world. Every image must decode, the weights file must be VGG19 in
//! our format, whole, and hold every selected layer, the device must exist
//! and the results folder must be writable. `stylelab check` stops here;
//! `stylelab run` and every sweep point go on to the engine. A problem is a
//! [`ConfigError`] on the key that named the file, like any bad value.

use crate::config::{ConfigError, Experiment, Init, Precision};
use crate::weights::{WeightsError, WeightsInfo};
use std::path::Path;

/// What the preflight found: the device to run on and the weights' header.
#[derive(Debug)]
pub struct Preflight {
    pub device: tch::Device,
    pub weights: WeightsInfo,
}

/// Checks an experiment against the files, the weights and the device.
pub fn check(exp: &Experiment) -> Result<Preflight, ConfigError> {
    // Errors are placed on the line that names the bad file.
    let src = std::fs::read_to_string(&exp.source).unwrap_or_default();
    let error = |key: &str, message: String| exp.error_at(&src, key, message);
    for (key, path) in images(exp) {
        let img = crate::engine::imaging::decode(path).map_err(|e| error(key, e))?;
        if img.width() == 0 || img.height() == 0 {
            return Err(error(key, format!("{} is an empty image", path.display())));
        }
    }
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
        ("loss.style_layers", &exp.style_layers),
    ] {
        let selected: Vec<_> = layers.iter().map(|(l, _)| *l).collect();
        if let Err(missing) = weights.check_layers(&selected) {
            return Err(error(&format!("{table}.{}", missing.layer), missing.to_string()));
        }
    }
    let device = crate::engine::device::resolve(exp.device).map_err(|e| error("optim.device", e))?;
    if exp.precision == Precision::Fp16 && !device.is_cuda() {
        return Err(error(
            "optim.precision",
            "fp16 needs a CUDA device (CPUs have no fast half-precision convolutions); use \"bf16\" on a CPU".into(),
        ));
    }
    writable_folder(&exp.results).map_err(|e| error("output.results", e))?;
    Ok(Preflight { device, weights })
}

/// Every image the experiment reads, with the key that names it.
fn images(exp: &Experiment) -> Vec<(&'static str, &Path)> {
    let mut images = vec![("images.content", exp.content.as_path())];
    images.extend(exp.styles.iter().map(|s| ("images.style", s.path.as_path())));
    if let Init::Image(p) = &exp.init {
        images.push(("images.init", p.as_path()));
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
