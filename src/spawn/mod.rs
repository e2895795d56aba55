//! Starting external servers: exec plan (built in the parent) → clone → child checklist → exec.
//!
//! Everything the child needs (argv, envp, uid, gid, group list, rlimits) is prepared in the parent
//! as C strings and plain integers, so the code between `clone` and `execve` only makes raw system
//! calls and touches no allocator or lock: it is async-signal-safe. The child path reads as a
//! checklist, in this order: make the connection fds 0, 1 and 2; new session; rlimits, nice and
//! umask while still privileged; supplementary groups, gid, uid; default signal dispositions and
//! an empty signal mask; `chdir("/")`; exec.
//!
//! The parent never waits for the child and never reads a result: a child that fails a step
//! writes one small [`ChildFailure`] record into a close-on-exec pipe shared by all children and
//! exits; the event loop reads the pipe and logs the reason, so a missing binary costs the daemon
//! no extra round trip.
//! The child is started with `clone(CLONE_VM | CLONE_CHILD_CLEARTID)` on a stack of its own: it
//! shares the daemon's memory, so nothing is copied or made copy-on-write (what vfork and glibc's
//! posix_spawn save too), but unlike vfork the daemon is not suspended until the exec, so a child
//! that waits for a CPU does not hold up every other client. What the child reads is kept alive
//! until the kernel clears a word at its exec or exit (see [`spawn`]). The only thing the child
//! writes in shared memory is `errno`, and only on a failing step, just before it reports and
//! exits.
//! This and the socket module are the only places with `unsafe`: `clone` and the calls after it
//! cannot be expressed with std's `Command` without giving up the non-blocking parent (std waits
//! for the exec through its own pipe) and the exact step order above.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Who the server runs as. Only used when the daemon is root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups (`groups = yes`: the user's groups; otherwise empty).
    pub groups: Vec<libc::gid_t>,
}

/// One resource limit to set in the child (soft and hard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlimitResource {
    As,
    Cpu,
    Data,
    Files,
    Rss,
    Stack,
}

impl RlimitResource {
    fn raw(self) -> libc::__rlimit_resource_t {
        match self {
            RlimitResource::As => libc::RLIMIT_AS,
            RlimitResource::Cpu => libc::RLIMIT_CPU,
            RlimitResource::Data => libc::RLIMIT_DATA,
            RlimitResource::Files => libc::RLIMIT_NOFILE,
            RlimitResource::Rss => libc::RLIMIT_RSS,
            RlimitResource::Stack => libc::RLIMIT_STACK,
        }
    }
}

/// Everything needed to start one service's server, resolved once per configuration load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecPlan {
    pub path: CString,
    pub argv: Vec<CString>,
    /// The environment, without `REMOTE_HOST` (added per connection).
    pub env: std::sync::Arc<[CString]>,
    pub creds: Option<Credentials>,
    pub nice: Option<i32>,
    pub umask: Option<u32>,
    pub rlimits: Vec<Rlimit>,
}

/// The step of the child checklist that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    Dup = 1,
    Setsid,
    Rlimit,
    Nice,
    Setgroups,
    Setgid,
    Setuid,
    Chdir,
    Exec,
    Unshare,
}

impl Step {
    fn from_u8(v: u8) -> Option<Step> {
        Some(match v {
            1 => Step::Dup,
            2 => Step::Setsid,
            3 => Step::Rlimit,
            4 => Step::Nice,
            5 => Step::Setgroups,
            6 => Step::Setgid,
            7 => Step::Setuid,
            8 => Step::Chdir,
            9 => Step::Exec,
            10 => Step::Unshare,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Dup => "dup2",
            Step::Setsid => "setsid",
            Step::Rlimit => "setrlimit",
            Step::Nice => "setpriority",
            Step::Setgroups => "setgroups",
            Step::Setgid => "setgid",
            Step::Setuid => "setuid",
            Step::Chdir => "chdir",
            Step::Exec => "execve",
            Step::Unshare => "close_range",
        }
    }
}

/// A child's report that it could not start its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildFailure {
    pub pid: i32,
    pub step: Step,
    pub errno: i32,
}

impl ChildFailure {
    pub fn error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

const REPORT_LEN: usize = 9;

/// What every spawn shares: the pipe through which children report failures before exec, and
/// what children that may still run in superd's memory use (see `spawn`).
pub struct FailurePipe {
    read: File,
    write: OwnedFd,
    /// Children that may still be running in superd's memory. Boxed on purpose: the child
    /// holds pointers into its `Launch`, which must not move when the list grows.
    #[allow(clippy::vec_box)]
    launches: RefCell<Vec<Box<Launch>>>,
    /// Stacks of finished children, for the next ones.
    spare: RefCell<Vec<Stack>>,
}

impl FailurePipe {
    pub fn new() -> io::Result<FailurePipe> {
        // A socketpair gives close-on-exec, non-blocking ends in one call and keeps each
        // 9-byte record atomic (SOCK_SEQPACKET would too; a stream of fixed records suffices).
        let (r, w) = UnixStream::pair()?;
        r.set_nonblocking(true)?;
        w.set_nonblocking(true)?;
        let read = File::from(OwnedFd::from(r));
        Ok(FailurePipe {
            read,
            write: OwnedFd::from(w),
            launches: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
        })
    }

    /// Frees what children that have exec'd or exited no longer use, and closes superd's copy
    /// of each connection whose child has a descriptor table of its own. Called before every
    /// spawn and once per pass of the event loop, so at most the children still between clone
    /// and exec hold a launch. Returns whether superd still holds a connection for a child.
    pub fn sweep(&self) -> bool {
        let mut launches = self.launches.borrow_mut();
        let mut i = 0;
        while i < launches.len() {
            if launches[i].in_use.load(Ordering::Acquire) == 0 {
                let done = launches.swap_remove(i);
                self.recycle(done.stack);
            } else {
                if launches[i].unshared.load(Ordering::Acquire) != 0 {
                    launches[i].owned = None; // the child has its own copy of the connection
                }
                i += 1;
            }
        }
        launches.iter().any(|l| l.owned.is_some())
    }

    /// Whether superd still holds a connection for a child that shares its descriptor table
    /// (that connection ends only when superd closes it, see [`spawn_owned`]).
    pub fn holds_connections(&self) -> bool {
        self.launches.borrow().iter().any(|l| l.owned.is_some())
    }

    /// A stack for a new child: a spare one, or a new mapping.
    fn stack(&self) -> io::Result<Stack> {
        match self.spare.borrow_mut().pop() {
            Some(s) => Ok(s),
            None => Stack::new(),
        }
    }

    /// Keeps the stack of a launch no child uses any more if few are spare, else unmaps it.
    fn recycle(&self, stack: Stack) {
        let mut spare = self.spare.borrow_mut();
        if spare.len() < SPARE_STACKS {
            spare.push(stack);
        }
    }

    /// Children not yet known to have left superd's memory (tests).
    pub fn launches(&self) -> usize {
        self.launches.borrow().len()
    }

    pub fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Reads every pending report (non-blocking).
    pub fn drain(&mut self) -> Vec<ChildFailure> {
        let mut out = Vec::new();
        let mut buf = [0u8; REPORT_LEN * 32];
        loop {
            match self.read.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for rec in buf[..n].chunks_exact(REPORT_LEN) {
                        let pid = i32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
                        let errno = i32::from_ne_bytes([rec[5], rec[6], rec[7], rec[8]]);
                        if let Some(step) = Step::from_u8(rec[4]) {
                            out.push(ChildFailure { pid, step, errno });
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// Starts `plan` with `conn` on fds 0, 1 and 2. `remote_host` becomes `REMOTE_HOST` in the
/// environment (as xinetd sets it), in `IpAddr`'s text form. Returns the child's pid; failures
/// after the clone are reported through `failures`.
///
/// The child shares superd's memory (`CLONE_VM`: nothing is copied, as with vfork) but superd
/// does not wait for it (no `CLONE_VFORK`): the loop goes on accepting while the child runs its
/// checklist, which matters when the machine is busy and the child waits for a CPU. Everything
/// the child reads lives in a [`Launch`] kept by `failures` until the kernel reports that the
/// child has left superd's memory (`CLONE_CHILD_CLEARTID` clears a word when the child execs or
/// exits); `sweep` frees those.
pub fn spawn(
    plan: &Arc<ExecPlan>,
    conn: RawFd,
    remote_host: Option<std::net::IpAddr>,
    failures: &FailurePipe,
) -> io::Result<Pid> {
    launch(plan, conn, None, false, remote_host, failures)
}

/// [`spawn`] for a connection superd has no further use for: superd closes its copy once the
/// child no longer needs it. `held` is about how many descriptors superd holds (one per
/// service). With few, the child gets a copy of superd's descriptor table and superd closes
/// its copy of the connection at once, so the server's exit is what closes the connection.
/// With many (from [`SHARE_FROM`]), and when the connection's descriptor is low (below
/// [`SHARED_TABLE_LIMIT`], where the listening sockets never are, see
/// `listen::LISTEN_FD_MIN`), the child shares superd's descriptor table at first
/// (`CLONE_FILES`) and unshares just the low part of it (`close_range` with
/// `CLOSE_RANGE_UNSHARE`): with 1,000 services, neither the clone copies 1,000 descriptors nor
/// the exec closes them; superd then closes its copy of the connection once the child has
/// unshared, or after the server has exited, when that close is the one that ends the TCP
/// connection.
pub fn spawn_owned(
    plan: &Arc<ExecPlan>,
    conn: OwnedFd,
    remote_host: Option<std::net::IpAddr>,
    held: usize,
    failures: &FailurePipe,
) -> io::Result<Pid> {
    let fd = conn.as_raw_fd();
    launch(
        plan,
        fd,
        Some(conn),
        held >= SHARE_FROM,
        remote_host,
        failures,
    )
}

/// From this many descriptors held, children of [`spawn_owned`] share superd's table at
/// first. Measured with `superd-bench` (spawn c=1): up to 300 services a copy of the table
/// costs no latency and saves superd the close that ends each connection (about 15 µs of its
/// CPU per connection); at 1,000 services the copy and the closes at exec add 8 % to p50.
pub const SHARE_FROM: usize = 256;

/// Descriptors below this may be shared with a child until it unshares them (see
/// [`spawn_owned`]).
pub const SHARED_TABLE_LIMIT: RawFd = 64;

fn launch(
    plan: &Arc<ExecPlan>,
    conn: RawFd,
    owned: Option<OwnedFd>,
    share: bool,
    remote_host: Option<std::net::IpAddr>,
    failures: &FailurePipe,
) -> io::Result<Pid> {
    failures.sweep();
    let report_fd = failures.write.as_raw_fd();
    // Only `spawn_owned` asks to share: superd must be able to close its copy later.
    let share =
        share && conn < SHARED_TABLE_LIMIT && report_fd < SHARED_TABLE_LIMIT && unshare_works();
    // Built here, before the clone: the child must not allocate.
    let mut launch = Box::new(Launch {
        in_use: AtomicI32::new(1),
        plan: plan.clone(),
        remote: [0u8; 64],
        argv: Vec::with_capacity(plan.argv.len() + 1),
        envp: Vec::with_capacity(plan.env.len() + 2),
        conn,
        owned,
        shared_table: share,
        unshared: AtomicI32::new(0),
        report_fd,
        reset: non_default_signals(),
        stack: failures.stack()?,
    });
    // `REMOTE_HOST=` and the longest IPv6 text (45 bytes) and a NUL fit in 64 bytes, written
    // in place, in the launch (its address is stable: boxed).
    let remote_ok = remote_host.is_some_and(|ip| {
        use std::io::Write;
        let mut w = &mut launch.remote[..63]; // the last byte stays NUL
        write!(w, "REMOTE_HOST={ip}").is_ok()
    });
    let remote_ptr: *const libc::c_char = launch.remote.as_ptr().cast();
    launch.envp.extend(plan.env.iter().map(|s| s.as_ptr()));
    if remote_ok {
        launch.envp.push(remote_ptr);
    }
    launch.envp.push(std::ptr::null());
    launch.argv.extend(plan.argv.iter().map(|s| s.as_ptr()));
    launch.argv.push(std::ptr::null());
    let top = launch.stack.top();
    let arg: *const Launch = &*launch;
    let tid = launch.in_use.as_ptr();
    // No signal is blocked across the clone: superd has no handlers that could run in the
    // child (its signals are blocked and read from a signalfd, see `runtime::daemon::Signals`),
    // and the child resets every non-default disposition before it unblocks anything. A
    // program that installs handlers of its own must block signals around `spawn`.
    // SAFETY: `child_entry` only makes system calls and reads the `Launch`, which is neither
    // moved (boxed) nor changed nor freed until the kernel clears `in_use` (the child has
    // exec'd or exited; see `FailurePipe::sweep`).
    let files = if share { libc::CLONE_FILES } else { 0 };
    let pid = unsafe {
        libc::clone(
            child_entry,
            top,
            libc::CLONE_VM | files | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD,
            arg.cast_mut().cast(),
            std::ptr::null_mut::<libc::pid_t>(),
            std::ptr::null_mut::<libc::c_void>(),
            tid,
        )
    };
    if pid < 0 {
        let err = io::Error::last_os_error();
        failures.recycle(launch.stack);
        return Err(err);
    }
    let mut launch = launch;
    if !share {
        // The child has a copy of the table: superd's own copy can go now.
        launch.owned = None;
    }
    failures.launches.borrow_mut().push(launch);
    Ok(Pid::from_raw(pid))
}

/// Whether `close_range(.., CLOSE_RANGE_UNSHARE)` works here (Linux 5.9 and later, and not
/// refused by a seccomp filter): asked once, of a forked child that tries it and exits.
fn unshare_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        // SAFETY: the child only makes two system calls and `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: the forked child unshares and closes its own table, then exits.
            unsafe {
                let r = libc::syscall(
                    libc::SYS_close_range,
                    SHARED_TABLE_LIMIT as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_UNSHARE,
                );
                libc::_exit(if r == 0 { 0 } else { 1 });
            }
        }
        if pid < 0 {
            return false;
        }
        matches!(
            waitpid(Pid::from_raw(pid), None),
            Ok(WaitStatus::Exited(_, 0))
        )
    })
}

/// glibc's posix_spawn gives its child 32 KiB (musl 5 KiB); the checklist needs far less, and
/// untouched pages cost nothing.
const CHILD_STACK: usize = 64 * 1024;
/// Stacks kept for reuse: enough for the children of a busy moment; more are unmapped when
/// freed, so a flood leaves no memory behind.
const SPARE_STACKS: usize = 4;

/// A child's stack: its own mapping (not heap memory), so that the pages a child touched go
/// back to the system when it is unmapped, with an inaccessible guard page below it.
struct Stack {
    base: *mut libc::c_void,
}

const GUARD: usize = 4096;

impl Stack {
    fn new() -> io::Result<Stack> {
        // SAFETY: a fresh anonymous private mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                GUARD + CHILD_STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error()); // `stack` unmaps it
        }
        Ok(stack)
    }

    /// The initial stack pointer: the end of the mapping (stacks grow down), 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        (self.base as usize + GUARD + CHILD_STACK) as *mut libc::c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used by any child.
        unsafe {
            libc::munmap(self.base, GUARD + CHILD_STACK);
        }
    }
}

/// What one child reads until it execs: its stack, argv and envp, and the plan they point
/// into. Boxed, so its address is stable; freed once `in_use` is 0.
struct Launch {
    /// Non-zero while the child may still use superd's memory; the kernel stores 0 here
    /// (`CLONE_CHILD_CLEARTID`) when the child execs or exits.
    in_use: AtomicI32,
    plan: Arc<ExecPlan>,
    /// `REMOTE_HOST=...`, NUL-terminated, which `envp` may point to.
    remote: [u8; 64],
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    conn: RawFd,
    /// superd's copy of the connection, when it is superd's to close: kept while the child
    /// shares the descriptor table (`shared_table`), until the child is known to be done.
    owned: Option<OwnedFd>,
    /// The child starts on superd's descriptor table and unshares its low part first.
    shared_table: bool,
    /// Set by the child once it has a table of its own: superd's copy of the connection may go.
    unshared: AtomicI32,
    report_fd: RawFd,
    /// Signals to give their default disposition (see `non_default_signals`).
    reset: u64,
    stack: Stack,
}

/// Signals whose disposition is not the default (handlers, and what is ignored, also when
/// inherited from whoever started superd), as a bit mask (bit `sig - 1`): the only ones the
/// child must reset, instead of 62 system calls per server. Read once, at the first spawn:
/// superd changes no disposition after start-up (see `default_dispositions`).
fn non_default_signals() -> u64 {
    static MASK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MASK.get_or_init(|| {
        let mut mask = 0u64;
        for sig in 1..=64 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old = KernelSigaction {
                handler: libc::SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            // SAFETY: the raw call only reads the disposition into `old` (glibc's wrapper
            // refuses signals 32 and 33).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    std::ptr::null::<KernelSigaction>(),
                    &mut old as *mut KernelSigaction,
                    8usize,
                )
            };
            // A disposition that cannot be read is reset anyway.
            if r != 0 || old.handler != libc::SIG_DFL {
                mask |= 1 << (sig - 1);
            }
        }
        mask
    })
}

/// Gives `signals` their default disposition (undoing an inherited "ignore"). For signals the
/// daemon blocks and reads from a signalfd: an ignored signal would be discarded even so, and an
/// ignored SIGCHLD would have the kernel reap children before superd sees how they ended.
pub fn default_dispositions(signals: &[Signal]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: SIG_DFL installs no handler; no code of superd's depends on the old one.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) }?;
    }
    Ok(())
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Launch` that superd keeps alive until this child leaves its memory.
    unsafe {
        let a = &*(arg as *const Launch);
        let groups: &[libc::gid_t] = a.plan.creds.as_ref().map(|c| &c.groups[..]).unwrap_or(&[]);
        if a.shared_table {
            // First of all: a table of the child's own, holding only the low descriptors
            // (the connection and the report pipe among them). Until this succeeds the child
            // must not touch a descriptor, or it would change superd's.
            let r = libc::syscall(
                libc::SYS_close_range,
                SHARED_TABLE_LIMIT as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_UNSHARE,
            );
            if r != 0 {
                report_and_exit(a.report_fd, Step::Unshare, 1);
            }
            // Let go at once of the other low descriptors copied with it (other clients'
            // connections among them, whose clients would otherwise wait for this child's
            // exec to see their EOF), then tell superd it may close its copy of ours.
            let (lo, hi) = (a.conn.min(a.report_fd), a.conn.max(a.report_fd));
            for (first, last) in [
                (3, lo - 1),
                (lo + 1, hi - 1),
                (hi + 1, SHARED_TABLE_LIMIT - 1),
            ] {
                if first >= 3 && first <= last {
                    libc::syscall(
                        libc::SYS_close_range,
                        first as libc::c_uint,
                        last as libc::c_uint,
                        0,
                    );
                }
            }
            a.unshared.store(1, Ordering::Release);
        }
        child(
            &a.plan,
            a.conn,
            &a.argv,
            &a.envp,
            groups,
            a.report_fd,
            a.reset,
        )
    }
}

/// A failed child step: one record into the report pipe (a write, which changes no
/// descriptor), then `_exit`.
///
/// # Safety
/// Only in a cloned child.
unsafe fn report_and_exit(report_fd: RawFd, step: Step, status: i32) -> ! {
    let errno = *libc::__errno_location();
    let pid = libc::getpid();
    let mut rec = [0u8; REPORT_LEN];
    rec[..4].copy_from_slice(&pid.to_ne_bytes());
    rec[4] = step as u8;
    rec[5..].copy_from_slice(&errno.to_ne_bytes());
    libc::write(report_fd, rec.as_ptr().cast(), REPORT_LEN);
    libc::_exit(status)
}

/// The child checklist. Never returns: it execs or `_exit`s.
///
/// # Safety
/// Must only be called in a freshly cloned child (sharing superd's memory, which it must not
/// modify: it only makes system calls; `errno` is written on a failing step only); pointers in
/// `argv`/`envp` must be valid NUL-terminated arrays of C strings, kept alive by the caller
/// until the child has exec'd or exited.
unsafe fn child(
    plan: &ExecPlan,
    conn: RawFd,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    groups: &[libc::gid_t],
    report_fd: RawFd,
    reset: u64,
) -> ! {
    let fail = |step: Step, status: i32| -> ! { report_and_exit(report_fd, step, status) };

    // 1. The connection becomes fds 0, 1 and 2 (moved out of the way first if it is one of them,
    //    so dup2 always clears close-on-exec on all three).
    let mut fd = conn;
    if fd <= 2 {
        fd = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            fail(Step::Dup, 1);
        }
    }
    for target in 0..=2 {
        if libc::dup2(fd, target) < 0 {
            fail(Step::Dup, 1);
        }
    }
    // 2. A session of its own, so signals to superd's group do not reach it.
    if libc::setsid() < 0 {
        fail(Step::Setsid, 1);
    }
    // 3. Limits, priority and umask while still privileged.
    for r in &plan.rlimits {
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        if libc::setrlimit(r.resource.raw(), &lim) < 0 {
            fail(Step::Rlimit, 1);
        }
    }
    if let Some(n) = plan.nice {
        if libc::setpriority(libc::PRIO_PROCESS, 0, n) < 0 {
            fail(Step::Nice, 1);
        }
    }
    if let Some(m) = plan.umask {
        libc::umask(m as libc::mode_t);
    }
    // 4. Credentials: groups, then gid, then uid (after uid nothing else can change).
    // Raw system calls: glibc's wrappers would also try to change the credentials of
    // superd's other threads (its setxid broadcast), which are not this process's threads.
    if let Some(c) = &plan.creds {
        if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) < 0 {
            fail(Step::Setgroups, 1);
        }
        if libc::syscall(libc::SYS_setgid, c.gid) < 0 {
            fail(Step::Setgid, 1);
        }
        if libc::syscall(libc::SYS_setuid, c.uid) < 0 {
            fail(Step::Setuid, 1);
        }
    }
    // 5. Default signal dispositions and an empty mask: the server starts as if from a shell.
    // Only the dispositions that are not the default already (`reset`); the raw system call:
    // glibc's wrappers refuse signals 32 and 33, which may have been ignored by whoever started
    // superd.
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if reset & (1 << (sig - 1)) != 0 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                0usize,
                8usize,
            );
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    // 6. A working directory that is always there.
    if libc::chdir(c"/".as_ptr()) < 0 {
        fail(Step::Chdir, 1);
    }
    // 7. Exec.
    libc::execve(plan.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
    fail(Step::Exec, 127)
}

/// The kernel's `struct sigaction` (x86_64 and arm64 layout: handler, flags, restorer, mask).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// How a reaped child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Status(i32),
    Signal(i32),
}

/// Reaps every child that has exited (non-blocking). Zombies never accumulate as long as this
/// runs on each SIGCHLD.
pub fn reap() -> Vec<(Pid, Exit)> {
    let mut out = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid, Exit::Status(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => out.push((pid, Exit::Signal(sig as i32))),
            Ok(WaitStatus::StillAlive) => break,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no children left
        }
    }
    out
}

/// Sends `sig` to a server and to its process group, so that what a server script started
/// (a shell's `sleep`, a pipeline) stops with it and no longer holds the client's connection.
/// The child's `setsid` makes its pid its group id; before that, the group does not exist yet
/// (the kernel never hands out a pid still in use as a group id) and only the pid is signalled.
/// Errors (already gone) are ignored.
pub fn signal(pid: Pid, sig: Signal) {
    if nix::sys::signal::killpg(pid, sig).is_err() {
        let _ = nix::sys::signal::kill(pid, sig);
    }
}

/// Marks every descriptor from 3 up close-on-exec. Called once at start-up so that descriptors
/// superd inherited from whoever started it never reach a server (superd's own are created
/// close-on-exec). One `close_range` call, not a loop up to the fd limit as xinetd does.
pub fn cloexec_inherited() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        // Kernels before 5.11: fall back to the descriptors that are actually open.
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<RawFd> = dir
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect();
            for fd in fds.into_iter().filter(|&fd| fd > 2) {
                // SAFETY: F_SETFD on a possibly closed fd only fails with EBADF.
                unsafe {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
        }
    }
}

/// Gives memory freed after a configuration load back to the system (`malloc_trim`). Parsing a
/// large configuration leaves freed chunks between live ones that glibc would otherwise keep;
/// a smaller daemon also makes every `fork` cheaper, which is why this lives here.
///
/// It also unmaps superd's own code and read-only data (see `unmap_own_code`), last, so that
/// the code run after it is little more than what the caller goes on with.
pub fn release_free_memory() {
    let ranges = own_code_ranges();
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    unmap_own_code(&ranges);
}

/// Drops this process's page-table entries for the read-only mappings of its own executable
/// that hold no private copy (`MADV_DONTNEED`): code and constants, which loading, parsing and
/// checking a configuration touched from end to end (all of `.text` was resident). The pages
/// stay in the page cache; what the event loop runs is mapped back by minor faults (the
/// kernel maps the cached pages of the 64 KiB around each), so at rest superd holds less of
/// its code. A mapping is released only if `/proc/self/smaps` shows it not writable and
/// without anonymous (copy-on-write) pages, so the RELRO part (relocated pointers) and data
/// are never touched. Any failure leaves everything mapped.
fn unmap_own_code(ranges: &[(usize, usize)]) {
    for &(start, end) in ranges {
        // SAFETY: the range is a whole read-only, file-backed private mapping of superd's
        // executable without private pages (see `own_code_ranges`): dropping its page-table
        // entries loses nothing (the next access maps the same file page again).
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The mappings `unmap_own_code` may release, from `/proc/self/smaps`; none on any error.
fn own_code_ranges() -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return out;
    };
    let Some(exe) = exe.to_str() else {
        return out;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return out;
    };
    // The mapping being read, while it is a candidate.
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_of(line, exe) {
            current = range;
            continue;
        }
        if let (Some(range), Some(anon)) = (current, line.strip_prefix("Anonymous:")) {
            current = None;
            if anon.trim() == "0 kB" {
                out.push(range);
            }
        }
    }
    out
}

/// For a mapping's header line in smaps (`start-end perms offset dev inode path`):
/// `Some(Some(range))` when it maps `exe` without write permission, `Some(None)` for another
/// mapping, `None` for the other lines.
fn mapping_of(line: &str, exe: &str) -> Option<Option<(usize, usize)>> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let path = fields.nth(3).map(str::trim_start).unwrap_or("");
    let read_only = perms.len() == 4 && !perms.contains('w');
    Some((read_only && path == exe && end > start).then_some((start, end)))
}

/// The text xinetd-style messages use for an errno.
pub fn describe(step: Step, path: &CStr, errno: i32) -> String {
    let err = io::Error::from_raw_os_error(errno);
    match step {
        Step::Exec => format!("execve({}) failed: {err}", path.to_string_lossy()),
        other => format!("{} failed: {err}", other.name()),
    }
}

/// Waits (bounded) until every pid in `pids` has been reaped; returns those still running.
pub fn wait_all(pids: &mut Vec<Pid>, limit: Duration) -> Vec<(Pid, Exit)> {
    let deadline = std::time::Instant::now() + limit;
    let mut reaped = Vec::new();
    while !pids.is_empty() && std::time::Instant::now() < deadline {
        for (pid, exit) in reap() {
            pids.retain(|p| *p != pid);
            reaped.push((pid, exit));
        }
        if !pids.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_headers_select_read_only_mappings_of_the_executable() {
        let exe = "/usr/sbin/superd";
        let line = |s: &str| mapping_of(s, exe);
        assert_eq!(
            line("55ad83551000-55ad835f8000 r-xp 00030000 fe:00 10023010                   /usr/sbin/superd"),
            Some(Some((0x55ad83551000, 0x55ad835f8000)))
        );
        assert_eq!(
            line("55ad83600000-55ad83601000 rw-p 000dd000 fe:00 10023010                   /usr/sbin/superd"),
            Some(None),
            "writable"
        );
        assert_eq!(
            line("7fb5cffd7000-7fb5d012d000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6"),
            Some(None),
            "another file"
        );
        assert_eq!(
            line("7fb5d0186000-7fb5d0193000 rw-p 00000000 00:00 0 "),
            Some(None)
        );
        assert_eq!(line("Anonymous:             0 kB"), None);
        assert_eq!(line("VmFlags: rd ex mr mw me sd"), None);
    }

    #[test]
    fn releasing_memory_keeps_code_and_data_working() {
        static TABLE: [u32; 4] = [1, 2, 3, 4];
        let before: u32 = TABLE.iter().sum();
        release_free_memory();
        release_free_memory();
        assert_eq!(TABLE.iter().sum::<u32>(), before);
        assert_eq!(format!("{}", 42), "42");
    }

    fn plan(path: &CStr, args: &[&CStr]) -> Arc<ExecPlan> {
        Arc::new(ExecPlan {
            path: path.into(),
            argv: args.iter().map(|a| (*a).into()).collect(),
            env: std::sync::Arc::from(vec![c"PATH=/usr/bin:/bin".to_owned()]),
            creds: None,
            nice: None,
            umask: None,
            rlimits: Vec::new(),
        })
    }

    /// Launch data outlives the spawn call and is freed once the children have exec'd; a
    /// child that cannot exec reports why through the pipe.
    #[test]
    fn launches_are_kept_until_exec_and_failures_are_reported() {
        let mut failures = FailurePipe::new().unwrap();
        let devnull = File::open("/dev/null").unwrap();
        let ok = plan(c"/bin/true", &[c"true"]);
        let pids: Vec<Pid> = (0..20)
            .map(|_| {
                spawn(
                    &ok,
                    devnull.as_raw_fd(),
                    Some([127, 0, 0, 1].into()),
                    &failures,
                )
                .unwrap()
            })
            .collect();
        assert!(failures.launches() <= 20);
        for pid in &pids {
            assert_eq!(waitpid(*pid, None).unwrap(), WaitStatus::Exited(*pid, 0));
        }
        failures.sweep();
        assert_eq!(failures.launches(), 0, "every child has exec'd and exited");

        let missing = plan(c"/nonexistent/superd-test", &[c"x"]);
        let pid = spawn(&missing, devnull.as_raw_fd(), None, &failures).unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 127));
        let mut reports = Vec::new();
        for _ in 0..100 {
            reports = failures.drain();
            if !reports.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].pid, pid.as_raw());
        assert_eq!(reports[0].step, Step::Exec);
        assert_eq!(reports[0].errno, libc::ENOENT);
        failures.sweep();
        assert_eq!(failures.launches(), 0);
    }

    /// A connection handed over with `spawn_owned` reaches the server on fds 0-2, and once the
    /// child has exec'd and superd has swept, superd's copy is closed: the peer sees EOF when
    /// the server exits.
    #[test]
    fn owned_connections_reach_the_server_and_superd_lets_go_of_them() {
        use std::io::Read as _;
        let failures = FailurePipe::new().unwrap();
        let echo = plan(c"/bin/echo", &[c"echo", c"hello"]);
        for held in [0, 5, SHARE_FROM, SHARE_FROM + 1, 5000] {
            let (ours, theirs) = UnixStream::pair().unwrap();
            let pid = spawn_owned(&echo, OwnedFd::from(theirs), None, held, &failures).unwrap();
            assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
            assert!(!failures.sweep(), "superd holds no connection any more");
            let mut got = String::new();
            (&ours)
                .take(64)
                .read_to_string(&mut got)
                .expect("EOF once the server and superd have closed");
            assert_eq!(got, "hello\n");
        }
        assert_eq!(failures.launches(), 0);
    }
}
