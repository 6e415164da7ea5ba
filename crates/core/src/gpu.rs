//! GPUs as NVML (the NVIDIA driver's management library) reports them:
//! names, free memory, and memory per process — the CUDA context plus
//! everything the caching allocator holds, the figure `nvidia-smi` shows.
//! The `nvml-wrapper` crate opens the driver's `libnvidia-ml.so.1` at run
//! time, so a machine without an NVIDIA driver simply has no figures: every
//! answer is then None.

use nvml_wrapper::Nvml;
use nvml_wrapper::enums::device::UsedGpuMemory;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The driver installs the versioned name; the bare `libnvidia-ml.so`
/// (nvml-wrapper's default) comes only with development packages.
const NVML_LIBRARY: &str = "libnvidia-ml.so.1";

/// NVML, opened on first use and kept for the process; None without a driver.
fn nvml() -> Option<&'static Nvml> {
    static NVML: OnceLock<Option<Nvml>> = OnceLock::new();
    NVML.get_or_init(|| Nvml::builder().lib_path(std::ffi::OsStr::new(NVML_LIBRARY)).init().ok())
        .as_ref()
}

/// The NVML device behind CUDA device `cuda` as libtorch numbers it: its
/// index among the devices `CUDA_VISIBLE_DEVICES` leaves visible, whose
/// entries are indices or UUIDs.
fn cuda_device(nvml: &Nvml, cuda: usize) -> Option<nvml_wrapper::Device<'_>> {
    match std::env::var("CUDA_VISIBLE_DEVICES").ok() {
        None => nvml.device_by_index(cuda as u32).ok(),
        Some(list) => {
            let entry = list.split(',').nth(cuda)?.trim();
            match entry.parse::<u32>() {
                Ok(index) => nvml.device_by_index(index).ok(),
                Err(_) => nvml.device_by_uuid(entry).ok(),
            }
        }
    }
}

/// Free memory on CUDA device `cuda` (as libtorch numbers it), MiB; None
/// without NVML.
pub fn free_mib(cuda: usize) -> Option<f64> {
    let info = cuda_device(nvml()?, cuda)?.memory_info().ok()?;
    Some(info.free as f64 / (1024.0 * 1024.0))
}

/// The name of CUDA device `cuda` (`NVIDIA H200`); None without NVML.
pub fn name(cuda: usize) -> Option<String> {
    cuda_device(nvml()?, cuda)?.name().ok()
}

/// The compute capability of CUDA device `cuda` (`(9, 0)` for an H100);
/// None without NVML.
pub fn compute_capability(cuda: usize) -> Option<(i32, i32)> {
    let c = cuda_device(nvml()?, cuda)?.cuda_compute_capability().ok()?;
    Some((c.major, c.minor))
}

/// GPU memory held by process `pid` on every GPU, MiB; None without NVML
/// or when the process holds none.
pub fn process_mib(pid: u32) -> Option<f64> {
    let nvml = nvml()?;
    let mut total: Option<u64> = None;
    for i in 0..nvml.device_count().ok()? {
        let Ok(device) = nvml.device_by_index(i) else { continue };
        for p in device.running_compute_processes().unwrap_or_default() {
            if let (true, UsedGpuMemory::Used(bytes)) = (p.pid == pid, p.used_gpu_memory) {
                *total.get_or_insert(0) += bytes;
            }
        }
    }
    total.map(|b| b as f64 / (1024.0 * 1024.0))
}

/// The peak of this process's GPU memory, sampled at most twice a second
/// (an NVML query costs a fraction of a millisecond).
pub struct Sampler {
    enabled: bool,
    last: Option<Instant>,
    peak: Option<f64>,
}

impl Sampler {
    /// Samples only when `enabled` (the run is on CUDA).
    pub fn new(enabled: bool) -> Self {
        Sampler {
            enabled,
            last: None,
            peak: None,
        }
    }

    /// The peak so far, after a new sample when one is due.
    pub fn sample(&mut self) -> Option<f64> {
        if self.enabled && self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            self.last = Some(Instant::now());
            if let Some(now) = process_mib(std::process::id()) {
                self.peak = Some(self.peak.map_or(now, |p| p.max(now)));
            }
        }
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_without_gpu_memory_has_no_figure() {
        // On a machine without NVML, and for a process that holds no GPU
        // memory on one with it, the answer is None, not 0 or a panic.
        assert_eq!(process_mib(u32::MAX - 1), None);
        assert_eq!(Sampler::new(false).sample(), None);
        if nvml().is_none() {
            assert_eq!((free_mib(0), name(0)), (None, None));
        }
    }
}
