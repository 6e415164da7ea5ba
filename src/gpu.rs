//! GPU memory as NVML (the NVIDIA driver's management library) reports it
//! per process: the CUDA context plus everything the caching allocator
//! holds, the figure `nvidia-smi` shows. The library is opened at run time
//! (`libnvidia-ml.so.1`, installed with the driver), so a CPU-only build
//! or a machine without an NVIDIA driver simply has no figure: every
//! answer is then None.

use std::ffi::c_void;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// NVML's opaque `nvmlDevice_t` handle.
type Device = *mut c_void;

/// NVML's `nvmlProcessInfo_t` (the `_v3` query's element).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProcessInfo {
    pid: u32,
    used_gpu_memory: u64,
    gpu_instance_id: u32,
    compute_instance_id: u32,
}

/// `NVML_SUCCESS`: the call worked.
const NVML_SUCCESS: i32 = 0;
/// The process list outgrew the buffer: ask again with the count it returned.
const NVML_ERROR_INSUFFICIENT_SIZE: i32 = 7;
/// `usedGpuMemory` when the driver will not say (some containers).
const NOT_AVAILABLE: u64 = u64::MAX;

/// NVML's `nvmlMemory_t`: a device's memory, bytes.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MemoryInfo {
    total: u64,
    free: u64,
    used: u64,
}

/// The NVML functions stylelab uses.
struct Nvml {
    /// Kept open: the function pointers below point into it.
    _lib: libloading::Library,
    device_count: unsafe extern "C" fn(*mut u32) -> i32,
    handle_by_index: unsafe extern "C" fn(u32, *mut Device) -> i32,
    handle_by_uuid: unsafe extern "C" fn(*const std::ffi::c_char, *mut Device) -> i32,
    memory_info: unsafe extern "C" fn(Device, *mut MemoryInfo) -> i32,
    compute_processes: unsafe extern "C" fn(Device, *mut u32, *mut ProcessInfo) -> i32,
}

impl Nvml {
    /// Loads and initialises NVML; None without a driver.
    fn open() -> Option<Nvml> {
        // SAFETY: loading the driver's own library, whose initialiser has
        // no preconditions; each symbol is read with its documented C type.
        unsafe {
            let lib = libloading::Library::new("libnvidia-ml.so.1").ok()?;
            let init: libloading::Symbol<unsafe extern "C" fn() -> i32> = lib.get(b"nvmlInit_v2\0").ok()?;
            if init() != NVML_SUCCESS {
                return None;
            }
            let device_count = *lib.get(b"nvmlDeviceGetCount_v2\0").ok()?;
            let handle_by_index = *lib.get(b"nvmlDeviceGetHandleByIndex_v2\0").ok()?;
            let handle_by_uuid = *lib.get(b"nvmlDeviceGetHandleByUUID\0").ok()?;
            let memory_info = *lib.get(b"nvmlDeviceGetMemoryInfo\0").ok()?;
            let compute_processes = *lib.get(b"nvmlDeviceGetComputeRunningProcesses_v3\0").ok()?;
            Some(Nvml {
                _lib: lib,
                device_count,
                handle_by_index,
                handle_by_uuid,
                memory_info,
                compute_processes,
            })
        }
    }

    /// Device memory held by `pid` on every GPU, in bytes.
    fn process_bytes(&self, pid: u32) -> Option<u64> {
        let mut count = 0u32;
        // SAFETY: NVML was initialised; every pointer is to a live local
        // or a buffer whose length is passed alongside.
        unsafe {
            if (self.device_count)(&mut count) != NVML_SUCCESS {
                return None;
            }
            let mut total = None;
            for i in 0..count {
                let mut device: Device = std::ptr::null_mut();
                if (self.handle_by_index)(i, &mut device) != NVML_SUCCESS {
                    continue;
                }
                let mut infos = vec![ProcessInfo::default(); 64];
                loop {
                    let mut n = infos.len() as u32;
                    match (self.compute_processes)(device, &mut n, infos.as_mut_ptr()) {
                        NVML_SUCCESS => {
                            for p in &infos[..n as usize] {
                                if p.pid == pid && p.used_gpu_memory != NOT_AVAILABLE {
                                    *total.get_or_insert(0) += p.used_gpu_memory;
                                }
                            }
                            break;
                        }
                        NVML_ERROR_INSUFFICIENT_SIZE => infos.resize(n as usize + 16, ProcessInfo::default()),
                        _ => break,
                    }
                }
            }
            total
        }
    }
}

impl Nvml {
    /// The NVML device behind CUDA device `cuda` (its index among the
    /// devices `CUDA_VISIBLE_DEVICES` leaves visible).
    fn cuda_device(&self, cuda: usize) -> Option<Device> {
        let mut device: Device = std::ptr::null_mut();
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let entry = visible.as_deref().map(|v| v.split(',').nth(cuda).map(str::trim));
        // SAFETY: as in `process_bytes`; the UUID is a NUL-terminated copy.
        let status = unsafe {
            match entry {
                None => (self.handle_by_index)(cuda as u32, &mut device),
                Some(Some(e)) if e.parse::<u32>().is_ok() => (self.handle_by_index)(e.parse().ok()?, &mut device),
                Some(Some(uuid)) => {
                    let c = std::ffi::CString::new(uuid).ok()?;
                    (self.handle_by_uuid)(c.as_ptr(), &mut device)
                }
                Some(None) => return None,
            }
        };
        (status == NVML_SUCCESS).then_some(device)
    }

    /// Free memory on CUDA device `cuda` (libtorch's numbering), bytes.
    fn free_bytes(&self, cuda: usize) -> Option<u64> {
        let device = self.cuda_device(cuda)?;
        let mut info = MemoryInfo::default();
        // SAFETY: a valid handle and a live struct of NVML's layout.
        let status = unsafe { (self.memory_info)(device, &mut info) };
        (status == NVML_SUCCESS).then_some(info.free)
    }
}

/// Free memory on CUDA device `cuda` (as libtorch numbers it), MiB; None
/// without NVML.
pub fn free_mib(cuda: usize) -> Option<f64> {
    nvml()?.free_bytes(cuda).map(|b| b as f64 / (1024.0 * 1024.0))
}

/// NVML, opened on first use and kept for the process; None without a driver.
fn nvml() -> Option<&'static Nvml> {
    static NVML: OnceLock<Option<Nvml>> = OnceLock::new();
    NVML.get_or_init(Nvml::open).as_ref()
}

/// GPU memory held by process `pid`, MiB; None without NVML or when the
/// process holds none.
pub fn process_mib(pid: u32) -> Option<f64> {
    nvml()?.process_bytes(pid).map(|b| b as f64 / (1024.0 * 1024.0))
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
    }
}
