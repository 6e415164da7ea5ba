//! Claims: which process is running which point of a sweep.
//!
//! Several `sweep` processes may work on one sweep at once — two terminals,
//! `--jobs`, the tasks of a Slurm array, a task the scheduler re-queued — with
//! nothing shared but the results folder. Before a point runs, its process
//! writes `<sweep dir>/claims/pNNN` (host, PID, since when) while holding an
//! exclusive lock on `claims/.lock`, so two processes never both see a point
//! free and both take it. The lock is held only for the check-and-write,
//! never while the point runs.
//!
//! A claim does not outlive its holder: on the holder's host a claim whose
//! process is gone is free; from another host (which cannot see that
//! process) a claim is free once its heartbeat — the file's modification
//! time, renewed every [`HEARTBEAT`] while the point runs — is older than
//! [`STALE_AFTER`]. So a crashed or killed process, or a lost node, blocks
//! nothing for long.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How often a running point renews its claim.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// A claim from another host not renewed for this long is taken as free.
pub const STALE_AFTER: Duration = Duration::from_secs(600);
/// How long a sweep waits for the claims lock before it gives up, unless
/// `STYLELAB_LOCK_TIMEOUT` (seconds) says otherwise. The lock is held for
/// a check and a write, milliseconds; a long wait means a holder that
/// hangs (or a shared file system that lost a lock).
pub const LOCK_PATIENCE: Duration = Duration::from_secs(60);
/// After this long waiting for the lock, the sweep says what it waits for.
const LOCK_NOTICE: Duration = Duration::from_secs(1);

/// Who holds a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The holder's host name.
    pub host: String,
    /// The holder's process.
    pub pid: u32,
    /// When the claim was taken, RFC 3339.
    pub since: String,
    /// The holder's start time ([`stylelab_core::procfs::start_ticks`]), so that a
    /// PID reused by another process after the holder died does not keep
    /// the claim. Absent in claims written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

impl Claim {
    /// A claim for this process, now.
    pub fn mine() -> Claim {
        Claim {
            host: stylelab_core::procfs::hostname(),
            pid: std::process::id(),
            since: stylelab_core::record::now_rfc3339(),
            start: stylelab_core::procfs::start_ticks(std::process::id()),
        }
    }

    /// `gpu-node-3 (pid 4121) since 2026-11-21T10:00:00+00:00`.
    pub fn describe(&self) -> String {
        format!("{} (pid {}) since {}", self.host, self.pid, self.since)
    }
}

/// The claims of one sweep: `<sweep dir>/claims/`.
#[derive(Debug, Clone)]
pub struct Claims {
    dir: PathBuf,
}

/// What [`Claims::try_claim`] found.
#[derive(Debug)]
pub enum Taken {
    /// This process now holds the point until the guard drops.
    Mine(ClaimGuard),
    /// A live process holds it.
    Held(Claim),
}

impl Claims {
    /// The claims folder of the sweep whose folder is `sweep_dir`.
    pub fn new(sweep_dir: &Path) -> Claims {
        Claims {
            dir: sweep_dir.join("claims"),
        }
    }

    fn path(&self, point: usize) -> PathBuf {
        self.dir.join(format!("p{point:03}"))
    }

    /// The exclusive lock on the claims folder, held while the guard lives.
    fn lock(&self) -> Result<File> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let patience = std::env::var("STYLELAB_LOCK_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(LOCK_PATIENCE, Duration::from_secs_f64);
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
            let waited = started.elapsed();
            if waited >= patience {
                anyhow::bail!(
                    "gave up after {:.0} s waiting for the lock on {}: another process holds it and does not let go \
                     (`fuser {}` names it); stop that process, or wait longer with STYLELAB_LOCK_TIMEOUT=SECONDS",
                    waited.as_secs_f64(),
                    path.display(),
                    path.display()
                );
            }
            if !said && waited >= LOCK_NOTICE {
                said = true;
                safe_eprintln!(
                    "waiting for the lock on {} (another sweep process holds it; giving up after {:.0} s)",
                    path.display(),
                    patience.as_secs_f64()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The live holder of `point`, if any (a dead holder's claim is none).
    pub fn holder(&self, point: usize) -> Option<Claim> {
        let path = self.path(point);
        let claim = read(&path)?;
        is_live(&claim, &path).then_some(claim)
    }

    /// Takes `point` unless a live process holds it. Atomic among every
    /// process that claims through the same folder.
    pub fn try_claim(&self, point: usize) -> Result<Taken> {
        let _lock = self.lock()?;
        let path = self.path(point);
        if let Some(claim) = read(&path)
            && is_live(&claim, &path)
        {
            return Ok(Taken::Held(claim));
        }
        let mine = Claim::mine();
        stylelab_core::files::write_atomic(&path, &serde_json::to_vec(&mine)?)?;
        Ok(Taken::Mine(ClaimGuard::new(self.clone(), point, mine)))
    }

    /// Removes `point`'s claim if `mine` still holds it.
    fn release(&self, point: usize, mine: &Claim) {
        let Ok(_lock) = self.lock() else { return };
        let path = self.path(point);
        if read(&path).as_ref() == Some(mine) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn read(path: &Path) -> Option<Claim> {
    // A claim is a few hundred bytes; a FIFO or a huge file planted there is no claim.
    serde_json::from_slice(&stylelab_core::files::read_bounded(path, 64 << 10).ok()?).ok()
}

/// Whether the process behind a claim still runs: checked directly on its
/// own host, by the claim's heartbeat from any other.
fn is_live(claim: &Claim, path: &Path) -> bool {
    if claim.host == stylelab_core::procfs::hostname() {
        return match claim.start {
            Some(start) => stylelab_core::procfs::start_ticks(claim.pid) == Some(start),
            None => stylelab_core::procfs::is_stylelab(claim.pid),
        };
    }
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|a| a < STALE_AFTER)
}

/// Holds a point for this process: renews the claim's heartbeat while it
/// lives and removes the claim when dropped (a point that ended, failed or
/// was stopped). A process that dies without dropping it leaves a claim
/// that [`Claims`] treats as free.
#[derive(Debug)]
pub struct ClaimGuard {
    claims: Claims,
    point: usize,
    mine: Claim,
    stop: Option<mpsc::Sender<()>>,
    beat: Option<std::thread::JoinHandle<()>>,
}

impl ClaimGuard {
    fn new(claims: Claims, point: usize, mine: Claim) -> ClaimGuard {
        let (stop, rx) = mpsc::channel::<()>();
        let path = claims.path(point);
        let beat = std::thread::Builder::new()
            .name("claim-heartbeat".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT) {
                    if let Ok(f) = File::options().write(true).open(&path) {
                        let _ = f.set_modified(SystemTime::now());
                    }
                }
            })
            .ok();
        ClaimGuard {
            claims,
            point,
            mine,
            stop: Some(stop),
            beat,
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(beat) = self.beat.take() {
            let _ = beat.join();
        }
        self.claims.release(self.point, &self.mine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_claimed_once_and_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let claims = Claims::new(tmp.path());
        let Taken::Mine(guard) = claims.try_claim(3).unwrap() else {
            panic!("a free point must be ours")
        };
        assert_eq!(claims.holder(3).map(|c| c.pid), Some(std::process::id()));
        assert!(matches!(claims.try_claim(3).unwrap(), Taken::Held(_)));
        assert!(claims.holder(4).is_none());
        drop(guard);
        assert!(claims.holder(3).is_none());
        assert!(!tmp.path().join("claims/p003").exists());
    }

    #[test]
    fn a_dead_holders_claim_is_free() {
        let tmp = tempfile::tempdir().unwrap();
        let claims = Claims::new(tmp.path());
        std::fs::create_dir_all(tmp.path().join("claims")).unwrap();
        // A process of this host that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = Claim {
            host: stylelab_core::procfs::hostname(),
            pid,
            since: "2026-01-01T00:00:00+00:00".into(),
            start: None,
        };
        std::fs::write(claims.path(0), serde_json::to_vec(&dead).unwrap()).unwrap();
        assert!(claims.holder(0).is_none());
        assert!(matches!(claims.try_claim(0).unwrap(), Taken::Mine(_)));
    }

    #[test]
    fn a_reused_pid_does_not_keep_a_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let claims = Claims::new(tmp.path());
        std::fs::create_dir_all(tmp.path().join("claims")).unwrap();
        // This process's PID, but a start time that is not its own: the
        // holder died and the kernel gave its PID to us.
        let mine = Claim::mine();
        let earlier = Claim {
            start: mine.start.map(|t| t.saturating_sub(1)),
            ..mine.clone()
        };
        std::fs::write(claims.path(2), serde_json::to_vec(&earlier).unwrap()).unwrap();
        assert!(claims.holder(2).is_none());
        std::fs::write(claims.path(2), serde_json::to_vec(&mine).unwrap()).unwrap();
        assert_eq!(claims.holder(2), Some(mine));
    }

    #[test]
    fn another_hosts_claim_holds_until_its_heartbeat_is_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let claims = Claims::new(tmp.path());
        std::fs::create_dir_all(tmp.path().join("claims")).unwrap();
        let other = Claim {
            host: format!("{}-elsewhere", stylelab_core::procfs::hostname()),
            pid: 1,
            since: "2026-01-01T00:00:00+00:00".into(),
            start: None,
        };
        let path = claims.path(1);
        std::fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();
        assert_eq!(claims.holder(1), Some(other.clone()));
        assert!(matches!(claims.try_claim(1).unwrap(), Taken::Held(_)));
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(claims.holder(1).is_none());
        let Taken::Mine(_guard) = claims.try_claim(1).unwrap() else {
            panic!("a stale claim must be free")
        };
    }
}
