//! The handful of libc calls std does not expose: signals by pid, rlimits, the clock tick, CPU
//! affinity of one thread, and the `ceiling` binary's fork → dup2 → exec → waitpid path.
//!
//! Declared by hand instead of depending on `libc`, so the bench package has no dependencies
//! and builds offline. The constants are Linux's (x86_64 and aarch64 share them); the bench
//! reads /proc and is Linux-only anyway. Every `unsafe` block in the package is in this file.

#![allow(unsafe_code)]

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
compile_error!("superd-bench declares Linux 64-bit libc types and constants by hand");

use std::ffi::{c_char, c_int, c_long, c_short, c_ulong, CString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const SIGHUP: c_int = 1;
pub const SIGKILL: c_int = 9;
pub const SIGTERM: c_int = 15;
const SIGPIPE: c_int = 13;
const SIG_DFL: usize = 0;
const RLIMIT_NOFILE: c_int = 7;
const SC_CLK_TCK: c_int = 2;
const WNOHANG: c_int = 1;
const SOL_SOCKET: c_int = 1;
const SO_RCVBUF: c_int = 8;
const SO_RCVBUFFORCE: c_int = 33;
pub const POLLIN: c_short = 1;

/// `struct rlimit`; rlim_t is 64 bits on the 64-bit Linux targets the bench runs on.
#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

/// glibc's `cpu_set_t`: a bit mask of 1,024 CPUs (bit N of word N / 64 is CPU N).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSet([u64; 16]);

impl CpuSet {
    /// How many CPUs the mask can name.
    pub const CAPACITY: usize = 1024;

    /// The set holding `cpu` alone; `None` when `cpu` is beyond [`CpuSet::CAPACITY`].
    pub fn single(cpu: usize) -> Option<CpuSet> {
        let mut words = [0u64; 16];
        *words.get_mut(cpu / 64)? = 1 << (cpu % 64);
        Some(CpuSet(words))
    }

    /// The CPUs in the set, in ascending order.
    pub fn cpus(&self) -> Vec<usize> {
        (0..Self::CAPACITY)
            .filter(|&c| self.0[c / 64] & (1 << (c % 64)) != 0)
            .collect()
    }
}

/// `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PollFd {
    pub fd: c_int,
    pub events: c_short,
    pub revents: c_short,
}

extern "C" {
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn getrlimit(resource: c_int, rlim: *mut RLimit) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const RLimit) -> c_int;
    fn sysconf(name: c_int) -> c_long;
    fn geteuid() -> u32;
    fn fork() -> c_int;
    fn dup2(oldfd: c_int, newfd: c_int) -> c_int;
    fn execv(path: *const c_char, argv: *const *const c_char) -> c_int;
    fn _exit(status: c_int) -> !;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    fn signal(signum: c_int, handler: usize) -> usize;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_int, len: u32) -> c_int;
    fn sched_getaffinity(pid: c_int, size: usize, mask: *mut CpuSet) -> c_int;
    fn sched_setaffinity(pid: c_int, size: usize, mask: *const CpuSet) -> c_int;
}

/// A thread id for the affinity calls: 0 (the calling thread) or a tid that fits a pid_t.
fn affinity_target(tid: u32) -> io::Result<c_int> {
    c_int::try_from(tid).map_err(|_| io::Error::other("tid out of range"))
}

/// The CPUs thread `tid` may run on (0: the calling thread). Affinity belongs to one thread,
/// not to its process: a tid names exactly one thread of any process.
pub fn affinity(tid: u32) -> io::Result<CpuSet> {
    let tid = affinity_target(tid)?;
    let mut set = CpuSet([0; 16]);
    // SAFETY: set is a valid, writable cpu_set_t of the size passed.
    if unsafe { sched_getaffinity(tid, std::mem::size_of::<CpuSet>(), &mut set) } == 0 {
        Ok(set)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Restricts thread `tid` (0: the calling thread) to the CPUs in `set`; threads it creates
/// later inherit the mask.
pub fn set_affinity(tid: u32, set: &CpuSet) -> io::Result<()> {
    let tid = affinity_target(tid)?;
    // SAFETY: set is a valid cpu_set_t of the size passed; the call only reads it.
    if unsafe { sched_setaffinity(tid, std::mem::size_of::<CpuSet>(), set) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for a receive buffer of `bytes` on socket `fd`: SO_RCVBUFFORCE (root may exceed
/// net.core.rmem_max), else SO_RCVBUF (capped by rmem_max).
pub fn set_rcvbuf(fd: RawFd, bytes: i32) -> io::Result<()> {
    for opt in [SO_RCVBUFFORCE, SO_RCVBUF] {
        // SAFETY: value points to one c_int and len is its size; fd is a socket we own.
        let r = unsafe { setsockopt(fd, SOL_SOCKET, opt, &bytes, 4) };
        if r == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

/// Sends `sig` to exactly one process, named by the pid we spawned it with.
pub fn send_signal(pid: u32, sig: c_int) -> io::Result<()> {
    let pid = c_int::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    if pid <= 0 {
        // 0 and negatives address process groups; never do that.
        return Err(io::Error::other("refusing to signal a process group"));
    }
    // SAFETY: kill(2) takes plain integers; pid > 0 addresses a single process.
    if unsafe { kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the RLIMIT_NOFILE soft limit to the hard limit; returns (old soft, new soft).
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    let mut rl = RLimit { cur: 0, max: 0 };
    // SAFETY: rl is a valid, writable struct rlimit.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut rl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let old = rl.cur;
    rl.cur = rl.max;
    // SAFETY: rl is a valid struct rlimit.
    if unsafe { setrlimit(RLIMIT_NOFILE, &rl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((old, rl.cur))
}

/// Clock ticks per second, the unit of utime/stime in /proc/PID/stat.
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { sysconf(SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// The effective uid of the bench.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and has no arguments.
    unsafe { geteuid() }
}

/// Reaps one exited child without blocking; `None` when none is ready.
pub fn reap_any_nohang() -> Option<i32> {
    let mut status: c_int = 0;
    // SAFETY: status is a valid, writable int.
    let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
    (pid > 0).then_some(pid)
}

/// poll(2) over `fds`; returns how many have events, or the error (EINTR included).
pub fn poll_fds(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: fds points to fds.len() initialised pollfd structs that poll may write.
    let n = unsafe { poll(fds.as_mut_ptr(), fds.len() as c_ulong, timeout_ms) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Everything the child needs for exec, built in the parent so the child only makes syscalls.
pub struct ExecPlan {
    path: CString,
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
}

impl ExecPlan {
    /// A plan to exec `path` with argv = [path].
    pub fn new(path: &Path) -> io::Result<ExecPlan> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("NUL byte in server path"))?;
        let args = vec![path.clone()];
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(ExecPlan {
            path,
            _args: args,
            argv,
        })
    }
}

/// Forks; the child makes `fd` its stdin, stdout and stderr and execs the plan.
///
/// The caller must be single-threaded (the `ceiling` binary is) and `fd` must be above 2 so that
/// dup2 clears its close-on-exec flag on the copies. Returns the child's pid.
pub fn spawn_on_socket(fd: RawFd, plan: &ExecPlan) -> io::Result<i32> {
    if fd <= 2 {
        return Err(io::Error::other("connection fd must be above 2"));
    }
    // SAFETY: the process is single-threaded, so the child is a full copy. Between fork and
    // exec the child only calls async-signal-safe functions on memory prepared by the parent.
    let pid = unsafe { fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; `_exit` avoids running the parent's atexit handlers or destructors.
        unsafe {
            // std ignores SIGPIPE and that disposition would survive exec.
            signal(SIGPIPE, SIG_DFL);
            if dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 {
                _exit(126);
            }
            execv(plan.path.as_ptr(), plan.argv.as_ptr());
            _exit(127);
        }
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_sets_name_the_cpus_they_hold() {
        assert_eq!(CpuSet::single(0).map(|s| s.cpus()), Some(vec![0]));
        assert_eq!(CpuSet::single(65).map(|s| s.cpus()), Some(vec![65]));
        assert_eq!(CpuSet::single(1023).map(|s| s.cpus()), Some(vec![1023]));
        assert_eq!(CpuSet::single(1024), None);
    }

    #[test]
    fn the_calling_thread_may_run_somewhere() {
        assert!(!affinity(0).unwrap().cpus().is_empty());
    }
}
