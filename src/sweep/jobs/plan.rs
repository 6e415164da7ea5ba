//! How a sweep runs its points ([`Plan`]): which points, how many at once,
//! on which devices and with how many libtorch threads each — checked
//! against this machine before anything runs.

use crate::error::bad_input;
use crate::sweep::Sweep;
use crate::sweep::jobs::message::Messenger;
use anyhow::Result;
use stylelab_core::config::{DeviceChoice, Experiment};

/// How a sweep runs its points.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Only this point (a cluster task); else every point not done.
    pub point: Option<usize>,
    /// Points at once (1: in this process).
    pub jobs: usize,
    /// The device of each job slot in turn; `None`: each point keeps its
    /// experiment's device.
    pub devices: Option<Vec<DeviceChoice>>,
    /// libtorch threads per point; `None`: libtorch's default (all cores) for
    /// one job, the cores shared out for several.
    pub threads: Option<usize>,
    /// Run points whose memory estimate exceeds what is free.
    pub force: bool,
    /// This process is a `--jobs` child: its line to the parent.
    pub parent: Option<Messenger>,
}

impl Plan {
    /// The experiment of point `index` on the device its job slot gives it.
    pub fn experiment(&self, sweep: &Sweep, index: usize) -> Result<Experiment> {
        let mut exp = sweep.experiment(&sweep.spec.points[index])?;
        if let Some(devices) = &self.devices {
            exp.device = devices[0];
        }
        Ok(exp)
    }
}

/// Checks `--devices` against this machine, before anything runs: each
/// entry must parse and exist. Bad-input error naming the entry otherwise.
pub fn parse_devices(list: &[String]) -> Result<Vec<DeviceChoice>> {
    if list.is_empty() {
        return Err(bad_input("--devices: the list is empty; e.g. --devices cuda:0,cuda:1"));
    }
    list.iter()
        .map(|s| {
            let choice = DeviceChoice::parse(s.trim())
                .ok_or_else(|| bad_input(format!("--devices: \"{s}\" is not a device; use cpu, cuda or cuda:N")))?;
            stylelab_engine::device::resolve(choice).map_err(|e| bad_input(format!("--devices: {e}")))?;
            Ok(choice)
        })
        .collect()
}

/// The devices job slots use when `--devices` is not given: with several
/// jobs, an experiment on `auto` uses every CUDA device; otherwise every
/// point keeps its experiment's device (`None`).
pub fn default_devices(sweep: &Sweep, jobs: usize) -> Option<Vec<DeviceChoice>> {
    let gpus = if tch::Cuda::is_available() {
        tch::Cuda::device_count().max(0) as usize
    } else {
        0
    };
    (jobs > 1 && sweep.device == DeviceChoice::Auto && gpus > 1).then(|| (0..gpus).map(DeviceChoice::Cuda).collect())
}

/// The cores this process may use (its CPU affinity and quota).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Refuses `--threads` above the cores this process may use, and `--jobs`
/// above the cores or the devices given (each point needs a core or a
/// device): more only queues threads behind each other, and tens of
/// thousands of them take minutes to start.
pub fn check_bounds(jobs: usize, threads: Option<usize>, devices: Option<&[DeviceChoice]>) -> Result<()> {
    let cores = cores();
    if let Some(t) = threads
        && t > cores
    {
        return Err(bad_input(format!(
            "--threads {t}: this machine gives this process {cores} core(s); use 1..={cores}"
        )));
    }
    // A point on the CPU takes cores whichever flag put it there.
    let on_cpu = devices.map_or(0, |d| d.iter().filter(|d| **d == DeviceChoice::Cpu).count());
    if on_cpu > cores {
        return Err(bad_input(format!(
            "--devices names cpu {on_cpu} times: this machine gives this process {cores} core(s), \
             so at most {cores} points can run on the CPU at once"
        )));
    }
    let most = cores.max(devices.map_or(0, <[_]>::len));
    if jobs > most {
        return Err(bad_input(format!(
            "--jobs {jobs}: this machine gives this process {cores} core(s){}; use 1..={most}",
            devices
                .map(|d| format!(" and --devices names {}", d.len()))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// libtorch threads for each of `jobs` points at once: `threads` when given,
/// else a Slurm task's `SLURM_CPUS_PER_TASK` shared out, else the cores
/// shared out (`None`: one job and nothing said, libtorch's default).
pub fn threads_per_job(threads: Option<usize>, jobs: usize) -> Option<usize> {
    if threads.is_some() {
        return threads;
    }
    if let Some(n) = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return Some((n / jobs).max(1));
    }
    (jobs > 1).then(|| (cores() / jobs).max(1))
}

/// `1 thread`, `4 threads`.
pub fn threads_text(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_shared_out_unless_said() {
        assert_eq!(threads_per_job(Some(3), 4), Some(3));
        if std::env::var_os("SLURM_CPUS_PER_TASK").is_none() {
            let cores = std::thread::available_parallelism().unwrap().get();
            assert_eq!(threads_per_job(None, 1), None);
            assert_eq!(threads_per_job(None, 2), Some((cores / 2).max(1)));
            assert_eq!(threads_per_job(None, 1000), Some(1));
        }
    }

    #[test]
    fn bad_devices_are_refused_by_name() {
        let err = parse_devices(&["gpu0".into()]).unwrap_err().to_string();
        assert!(err.contains("\"gpu0\" is not a device"), "{err}");
        assert!(parse_devices(&[]).is_err());
        assert_eq!(parse_devices(&["cpu".into()]).unwrap(), vec![DeviceChoice::Cpu]);
        if !tch::Cuda::is_available() {
            let err = parse_devices(&["cpu".into(), "cuda:1".into()]).unwrap_err().to_string();
            assert!(err.contains("cuda:1 was asked for"), "{err}");
        }
    }
}
