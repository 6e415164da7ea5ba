//! What Linux says about processes in `/proc`: memory figures and whether a
//! process is alive. Elsewhere every answer is "unknown" (None or 0).
//!
//! A leaf any box may use: the engine records peak RSS in the summary,
//! review and the dashboard's follower ask whether a `running` run's process
//! is still alive and how much memory it holds.

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in KiB;
/// `pid` None is this process.
///
/// `field` is matched as a line prefix, so include the colon. `None` when
/// the file cannot be read (no such process, not Linux) or lacks the field.
pub fn status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory of a process (None: this one), MiB; `None` when unknown.
pub fn rss_mib(pid: Option<u32>) -> Option<f64> {
    status_kib(pid, "VmRSS:").map(|kib| kib as f64 / 1024.0)
}

/// Peak resident memory of this process so far, MiB (0 when unknown).
pub fn peak_rss_mib() -> f64 {
    status_kib(None, "VmHWM:").map(|kib| kib as f64 / 1024.0).unwrap_or(0.0)
}

/// Memory the kernel could give a new process without swapping
/// (`MemAvailable` in `/proc/meminfo`), MiB; `None` when unknown.
pub fn available_mib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What the memory cgroup this process runs in still allows (its limit
/// less its usage), MiB; None without a limit. Batch schedulers (Slurm) and
/// containers limit jobs this way, below what `MemAvailable` shows.
pub fn cgroup_available_mib() -> Option<f64> {
    let read = |p: &str| std::fs::read_to_string(p).ok()?.trim().parse::<f64>().ok();
    // cgroup v2, then v1.
    let (limit, usage) = match read("/sys/fs/cgroup/memory.max") {
        Some(limit) => (limit, read("/sys/fs/cgroup/memory.current")?),
        None => (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?,
        ),
    };
    // v1 reports "no limit" as a huge number.
    (limit < 1e18).then(|| ((limit - usage) / (1024.0 * 1024.0)).max(0.0))
}

/// Whether `pid` is a live stylelab process (a reused pid running something
/// else does not count).
///
/// The test is that `/proc/<pid>/cmdline` contains `stylelab` anywhere, so a
/// process whose arguments merely mention it also counts; a zombie (empty
/// command line) does not. Always false off Linux.
pub fn is_stylelab(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("stylelab"))
        .unwrap_or(false)
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when there is no such process. A PID the
/// kernel reuses gets a new start time, so (pid, start) names one process.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // fields after its closing parenthesis, where field 3 is the first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Seconds since this process started (the kernel's start time, in clock
/// ticks): loading the binary and its libraries included. None where /proc
/// cannot say.
pub fn process_age_s() -> Option<f64> {
    let start = start_ticks(std::process::id())? as f64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf(3) with a valid name has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| (uptime - start / hz as f64).max(0.0))
}

/// This machine's host name (`?` when it cannot be read).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_a_dead_one_is_not_alive() {
        let rss = rss_mib(None).expect("Linux has /proc");
        assert!(rss > 1.0 && peak_rss_mib() >= rss, "rss {rss}");
        assert_eq!(rss_mib(Some(u32::MAX - 1)), None);
        assert!(!is_stylelab(u32::MAX - 1));
        let me = start_ticks(std::process::id()).expect("this process has a start time");
        assert_eq!(start_ticks(std::process::id()), Some(me), "stable");
        assert_eq!(start_ticks(u32::MAX - 1), None);
        assert!(available_mib().is_some_and(|m| m > 0.0));
    }
}
