//! Explicit CPU placement for the UDP round-trip figures. On a VM, waking a thread on another
//! CPU costs tens of microseconds, more than a whole UDP echo round trip on one CPU, so where
//! the scheduler happens to put the daemon decides the figure. The bench therefore pins its
//! calling thread and every thread of the daemon's processes to CPUs it chooses, and puts back
//! the masks they had before, so every later figure runs where the scheduler puts it.
//!
//! A mask is saved the first time a thread is pinned and restored by [`Pinning::restore`]
//! (or, without a report, when the `Pinning` is dropped, e.g. on a panic).

use crate::procfs;
use crate::sys::{self, CpuSet};

/// How often [`Pinning::pin_threads`] lists the daemon's threads again, in case a thread was
/// created from one that was not yet pinned (threads created later inherit the pinned mask).
const PASSES: usize = 5;

/// Threads pinned so far, each with the mask it had before; tid 0 is the calling thread.
#[derive(Debug, Default)]
pub struct Pinning {
    saved: Vec<(u32, CpuSet)>,
}

/// The CPUs the calling thread may run on, in ascending order.
pub fn allowed() -> Result<Vec<usize>, String> {
    sys::affinity(0)
        .map(|s| s.cpus())
        .map_err(|e| format!("sched_getaffinity of the bench: {e}"))
}

impl Pinning {
    pub fn new() -> Pinning {
        Pinning::default()
    }

    /// Pins the calling thread to `cpu`.
    pub fn pin_self(&mut self, cpu: usize) -> Result<(), String> {
        self.pin(0, cpu)
            .map_err(|e| format!("pinning the bench's thread to CPU {cpu}: {e}"))
    }

    /// Pins every thread of every process in `pids` to `cpu`. The threads are listed again
    /// until a pass finds none it has not pinned, so none created meanwhile stays unpinned.
    pub fn pin_threads(&mut self, pids: &[u32], cpu: usize) -> Result<(), String> {
        let mut done: Vec<u32> = Vec::new();
        for _ in 0..PASSES {
            let mut fresh = 0;
            for &pid in pids {
                let tids = procfs::threads(pid)
                    .map_err(|e| format!("listing the threads of pid {pid}: {e}"))?;
                for tid in tids {
                    if done.contains(&tid) {
                        continue;
                    }
                    self.pin(tid, cpu).map_err(|e| {
                        format!("pinning thread {tid} of pid {pid} to CPU {cpu}: {e}")
                    })?;
                    done.push(tid);
                    fresh += 1;
                }
            }
            if fresh == 0 {
                return Ok(());
            }
        }
        Err(format!(
            "the threads of pids {pids:?} kept changing over {PASSES} passes"
        ))
    }

    /// Puts back the mask every pinned thread had before, newest first; one message per
    /// thread whose mask could not be restored (e.g. it has exited).
    pub fn restore(mut self) -> Vec<String> {
        self.put_back()
    }

    /// Saves `tid`'s mask the first time, then restricts it to `cpu`.
    fn pin(&mut self, tid: u32, cpu: usize) -> Result<(), String> {
        let set = CpuSet::single(cpu).ok_or_else(|| format!("CPU {cpu} beyond the mask"))?;
        if !self.saved.iter().any(|&(t, _)| t == tid) {
            let before = sys::affinity(tid).map_err(|e| format!("sched_getaffinity: {e}"))?;
            self.saved.push((tid, before));
        }
        sys::set_affinity(tid, &set).map_err(|e| format!("sched_setaffinity: {e}"))
    }

    fn put_back(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some((tid, before)) = self.saved.pop() {
            if let Err(e) = sys::set_affinity(tid, &before) {
                let who = if tid == 0 {
                    "the bench's thread".to_string()
                } else {
                    format!("thread {tid}")
                };
                errors.push(format!(
                    "restoring the CPU mask {:?} of {who}: {e}",
                    before.cpus()
                ));
            }
        }
        errors
    }
}

impl Drop for Pinning {
    fn drop(&mut self) {
        self.put_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_calling_thread_is_pinned_then_restored() {
        let before = sys::affinity(0).unwrap();
        let cpu = *allowed().unwrap().last().unwrap();
        let mut p = Pinning::new();
        p.pin_self(cpu).unwrap();
        assert_eq!(sys::affinity(0).unwrap().cpus(), vec![cpu]);
        assert!(p.restore().is_empty());
        assert_eq!(sys::affinity(0).unwrap(), before);
    }

    #[test]
    fn another_process_is_pinned_then_restored() {
        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        let pid = child.id();
        let before = sys::affinity(pid).unwrap();
        let cpu = allowed().unwrap()[0];
        let mut p = Pinning::new();
        p.pin_threads(&[pid], cpu).unwrap();
        assert_eq!(sys::affinity(pid).unwrap().cpus(), vec![cpu]);
        let errors = p.restore();
        assert_eq!(sys::affinity(pid).unwrap(), before);
        let _ = child.kill();
        let _ = child.wait();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_vanished_process_is_an_error_not_a_pin() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let mut p = Pinning::new();
        assert!(p.pin_threads(&[pid], 0).is_err());
        assert!(p.restore().is_empty());
    }
}
