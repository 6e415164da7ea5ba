//! `stylelab doctor`: what libtorch, CUDA and the weights look like here.
//!
//! A command on top of the pipeline, not a step in it: it asks the same
//! questions `preflight` does (device, weights) of the machine as a whole,
//! without an experiment, and prints the answers.

use std::path::Path;
use stylelab_engine::device;
use stylelab_engine::weights::WeightsInfo;

/// The report, as lines: versions, CUDA devices with their memory in MiB,
/// cuDNN, thread counts, and every `*.safetensors` in `weights_dir` with its
/// convention, layers and size (MB) or why it is unusable.
///
/// Never fails: what cannot be found is reported as such. GPU names and
/// memory come from `nvidia-smi`, matched to CUDA devices by position.
pub fn report(weights_dir: &Path) -> Vec<String> {
    let mut out = vec![format!("stylelab     {}", env!("CARGO_PKG_VERSION"))];
    out.push(format!("libtorch     {}", stylelab_engine::LIBTORCH_VERSION));
    let cuda = tch::Cuda::is_available();
    if cuda {
        let n = tch::Cuda::device_count();
        out.push(format!("CUDA         available, {n} device(s)"));
        let gpus = device::nvidia_gpus();
        for i in 0..n as usize {
            match gpus.get(i) {
                Some((name, total, used)) => {
                    out.push(format!("  cuda:{i}     {name}, {total} MiB ({used} MiB in use)"))
                }
                None => out.push(format!(
                    "  cuda:{i}     (name and memory unknown: nvidia-smi not found)"
                )),
            }
        }
        let cudnn = if tch::Cuda::cudnn_is_available() {
            let v = std::panic::catch_unwind(tch::utils::version_cudnn).ok();
            format!("available{}", v.map(|v| format!(", version {v}")).unwrap_or_default())
        } else {
            "not available".into()
        };
        out.push(format!("cuDNN        {cudnn}"));
    } else {
        out.push(format!(
            "CUDA         not available (no CUDA device is visible to libtorch {})",
            stylelab_engine::LIBTORCH_VERSION
        ));
        out.push("cuDNN        not available".into());
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    out.push(format!(
        "threads      {} (libtorch intra-op), {cores} cores",
        tch::get_num_threads()
    ));
    out.push(format!("weights      in {}:", weights_dir.display()));
    let files = stylelab_core::files::with_extension(weights_dir, "safetensors");
    if files.is_empty() {
        out.push("  none; run `stylelab weights fetch` (see the README)".into());
    }
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        match WeightsInfo::read(&f) {
            Ok(info) => out.push(format!(
                "  {name}: {}, {}, {:.1} MB",
                info.preprocess,
                info.layer_range(),
                info.file_size as f64 / 1e6
            )),
            Err(e) => out.push(format!("  {name}: unusable: {e}")),
        }
    }
    out
}
