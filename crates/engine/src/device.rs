//! Choosing the device, configuring it for a run, and describing it.

use std::sync::atomic::{AtomicI32, Ordering};
use stylelab_core::config::{DeviceChoice, Precision};
use tch::Device;

/// The tch device for a choice; an error when CUDA is asked for but absent.
pub fn resolve(choice: DeviceChoice) -> Result<Device, String> {
    match choice {
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(n) => {
            if !tch::Cuda::is_available() {
                return Err(format!(
                    "cuda:{n} was asked for but libtorch sees no CUDA device; use device \"cpu\" or \"auto\" (`stylelab doctor` shows what libtorch sees)"
                ));
            }
            let count = tch::Cuda::device_count() as usize;
            if n >= count {
                return Err(format!(
                    "cuda:{n} was asked for but only {count} CUDA device(s) exist (cuda:0..cuda:{})",
                    count - 1
                ));
            }
            Ok(Device::Cuda(n))
        }
    }
}

/// The CUDA caching allocator's setting stylelab runs with unless the user
/// set one: expandable segments, which let freed blocks of one size serve
/// another (a multi-scale run's sizes change) instead of holding both.
/// Issue 16 measured a 4096 px bf16 step's first evaluation at 1.23 s
/// instead of 4.27 s with it, and its peak at 25.4 instead of 27.7 GiB.
pub const CUDA_ALLOC_CONF: &str = "expandable_segments:True";

/// Sets `PYTORCH_CUDA_ALLOC_CONF` to [`CUDA_ALLOC_CONF`] when the
/// environment does not set it; libtorch reads it when CUDA starts.
///
/// # Safety
/// Changes the process environment: call it before any other thread runs
/// (first thing in `main`).
pub unsafe fn set_allocator_defaults() {
    if std::env::var_os("PYTORCH_CUDA_ALLOC_CONF").is_none() {
        // SAFETY: the caller promises no other thread runs yet.
        unsafe { std::env::set_var("PYTORCH_CUDA_ALLOC_CONF", CUDA_ALLOC_CONF) };
    }
    // SAFETY: as above, before any thread allocates.
    unsafe { keep_freed_host_memory() };
}

/// Host blocks up to this size come from the allocator's heap, and this
/// much freed memory may stay with the process (glibc's largest setting).
const HOST_KEEP_BYTES: i32 = i32::MAX;
/// The largest mmap threshold glibc accepts on 64-bit before its 2.35
/// rework (`HEAP_MAX_SIZE / 2`): blocks larger than it are still mapped.
const HOST_KEEP_BYTES_OLD_GLIBC: i32 = 32 << 20;

/// The mmap threshold glibc accepted when this process keeps its freed
/// host memory; 0 when it does not.
static KEPT_THRESHOLD: AtomicI32 = AtomicI32::new(0);

/// Whether the environment tunes glibc's allocator itself, in which case
/// stylelab leaves it as set.
pub fn host_allocator_left_to_environment() -> bool {
    ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."))
}

/// `GLIBC_TUNABLES` for another process (the bench's PyTorch reference)
/// that gives it the host-memory setting this process runs with: the
/// environment's own tunables, then stylelab's. None when this process
/// does not keep its freed memory: the environment tunes the allocator
/// (the other process inherits that), glibc refused, or not glibc.
pub fn host_allocator_tunables() -> Option<String> {
    let threshold = KEPT_THRESHOLD.load(Ordering::Relaxed);
    if threshold == 0 {
        return None;
    }
    let ours = format!("glibc.malloc.mmap_threshold={threshold}:glibc.malloc.trim_threshold={HOST_KEEP_BYTES}");
    Some(match std::env::var("GLIBC_TUNABLES") {
        Ok(theirs) if !theirs.is_empty() => format!("{theirs}:{ours}"),
        _ => ours,
    })
}

/// Keeps libtorch's freed host memory in the process for the next
/// evaluation (glibc): by default each block over a few MiB is mapped
/// when allocated and unmapped when freed, so every evaluation faults
/// its activations in again, page by page. Issue 27 measured 0.8–1.0
/// million page faults in 100 steps of a 256 px bf16 run and 0.11 million
/// with this, and steps 7–29 % shorter from 256 to 1024 px, for fp32
/// peaks 8–46 % higher (docs/reference.md, "Host memory"; the memory
/// model counts them). The memory goes back to the system when the
/// process ends: a run is a process of its own (the dashboard's too), and
/// a sweep's next point reuses it. Leaves the allocator alone when the
/// environment tunes it, and does nothing off glibc. Returns whether the
/// memory is kept.
///
/// # Safety
/// Call it before any other thread runs (first thing in `main`).
unsafe fn keep_freed_host_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !host_allocator_left_to_environment() {
        for threshold in [HOST_KEEP_BYTES, HOST_KEEP_BYTES_OLD_GLIBC] {
            // SAFETY: mallopt only sets the allocator's parameters (1: set,
            // 0: refused, leaving the default); no other thread allocates yet.
            if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) } != 1 {
                continue;
            }
            // The trim threshold only once the mmap threshold is set: alone it
            // freezes glibc's rising threshold at 128 KiB, every block over it
            // mapped afresh (measured: 60 % slower steps).
            // SAFETY: as above.
            let kept = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, HOST_KEEP_BYTES) } == 1;
            if kept {
                KEPT_THRESHOLD.store(threshold, Ordering::Relaxed);
                stylelab_core::memory::set_host_memory_kept(true);
            }
            return kept;
        }
    }
    false
}

/// Hands the freed host memory back to the system when this process keeps
/// it (glibc's `malloc_trim`). Between a run's scales: the coarser
/// scale's freed blocks are too small for the finer scale's, and kept they
/// would sit beside them (measured: `print.toml`'s peak, docs/reference.md
/// "Host memory").
pub fn release_host_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if KEPT_THRESHOLD.load(Ordering::Relaxed) > 0 {
        // SAFETY: malloc_trim only returns free memory to the system; it
        // takes the allocator's locks like any allocation.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Per-run settings for a device: a style transfer run has fixed shapes, so
/// cuDNN may time its algorithms once and keep the fastest.
pub fn configure(device: Device) {
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
}

/// `cpu (2 threads)` or `cuda:0`.
pub fn describe(device: Device) -> String {
    match device {
        Device::Cuda(n) => format!("cuda:{n}"),
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// GPUs as `nvidia-smi` reports them: (name, total MiB, used MiB).
pub fn nvidia_gpus() -> Vec<(String, u64, u64)> {
    let Ok(out) = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,memory.used",
            "--format=csv,noheader,nounits",
        ])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(',').map(str::trim);
            Some((
                parts.next()?.to_string(),
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            ))
        })
        .collect()
}

/// `optim.precision = "auto"` for `device`: bf16 where the device computes
/// it fast — a CPU whose flags list AVX-512 bf16 or AMX bf16 (oneDNN's
/// bf16 kernels), a CUDA device of compute capability 8.0 or more — else
/// fp32; with the reason, for the summary. Other precisions stay as asked.
pub fn resolve_precision(precision: Precision, device: Device) -> (Precision, Option<String>) {
    if precision != Precision::Auto {
        return (precision, None);
    }
    let (fast, why) = match device {
        Device::Cuda(n) => match stylelab_core::gpu::compute_capability(n) {
            Some((major, minor)) => (
                major >= 8,
                format!("cuda:{n} has compute capability {major}.{minor} (bf16 is fast from 8.0)"),
            ),
            None => (
                false,
                format!("the compute capability of cuda:{n} is unknown (no NVML)"),
            ),
        },
        _ => match cpu_bf16_flags() {
            Some(flag) => (true, format!("the CPU has {flag}")),
            None => (false, "the CPU has neither avx512_bf16 nor amx_bf16".to_string()),
        },
    };
    let chosen = if fast { Precision::Bf16 } else { Precision::Fp32 };
    (chosen, Some(format!("auto: {chosen}, as {why}")))
}

/// The first of the CPU flags that give oneDNN fast bf16 convolutions,
/// from /proc/cpuinfo; None when neither is there (or it cannot be read).
fn cpu_bf16_flags() -> Option<&'static str> {
    // The kernel's file (its size reads 0, so not the bounded reader's).
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags: std::collections::BTreeSet<&str> = info
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    ["amx_bf16", "avx512_bf16"].into_iter().find(|f| flags.contains(f))
}

/// Whose memory a run on `device` uses, for the memory model.
pub fn target(device: tch::Device) -> stylelab_core::memory::Target {
    if device.is_cuda() {
        stylelab_core::memory::Target::Cuda
    } else {
        stylelab_core::memory::Target::Cpu
    }
}

/// Memory a new run on `device` can have, MiB: on CPU the kernel's
/// `MemAvailable` (or the cgroup's remainder, when smaller) plus what this
/// process already holds (the run happens here, or in a process much like
/// it); on CUDA the device's free memory (NVML). None when unknown.
pub fn available_mib(device: tch::Device) -> Option<f64> {
    match device {
        tch::Device::Cuda(n) => stylelab_core::gpu::free_mib(n),
        _ => {
            let free = match (
                stylelab_core::procfs::available_mib(),
                stylelab_core::procfs::cgroup_available_mib(),
            ) {
                (Some(a), Some(c)) => a.min(c),
                (a, c) => a.or(c)?,
            };
            Some(free + stylelab_core::procfs::rss_mib(None).unwrap_or(0.0))
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage writes the struct it is given.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
            usage.ru_minflt
        }
    }

    /// A 48 MiB block written through, then freed: glibc's default maps a
    /// block over 32 MiB afresh each time (12 288 pages faulted in); kept,
    /// the second comes from the freed first.
    #[test]
    fn freed_host_memory_serves_the_next_block_without_faulting_it_in() {
        if host_allocator_left_to_environment() {
            return;
        }
        // SAFETY: mallopt is safe to call with threads running; this test
        // sets only what the binary sets first thing.
        assert!(unsafe { keep_freed_host_memory() }, "glibc refused both thresholds");
        assert!(host_allocator_tunables().is_some_and(|t| t.contains("glibc.malloc.mmap_threshold=")));
        assert!(stylelab_core::memory::host_memory_kept());
        let block = || {
            let v = std::hint::black_box(vec![1u8; 48 << 20]);
            assert_eq!(v[v.len() - 1], 1);
        };
        block();
        let before = faults();
        block();
        let faulted = faults() - before;
        assert!(faulted < 1_000, "{faulted} pages faulted in for a block just freed");
    }
}
