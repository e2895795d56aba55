//! The event loop and the daemon's only mutable state.
//!
//! One thread, one `mio::Poll` (epoll) over: the signal wake-up pipe, the child-failure pipe,
//! every armed service socket and every in-daemon stream session. Each wake-up is handled to
//! completion without blocking: accepts are bounded per wake-up, spawns do not wait for exec,
//! in-daemon sessions are non-blocking state machines with bounded buffers. Timers (re-arming a
//! throttled `wait = yes` service, retrying a failed bind) live in a heap and bound the poll
//! timeout.
//!
//! This file holds the state, the loop, signals, timers and the services' sockets; the
//! submodules add the rest of `Daemon`'s methods by concern: `accept` (from a ready socket to a
//! started server: limits, address rules, ident), `wrappers` (hosts.allow/hosts.deny and their
//! commands), `sessions` (internal services, tcpmux, redirect relays), `children` (reaping,
//! respawn loops, stopping servers) and `control` (reload and dump).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use slab::Slab;
use socket2::Socket;

use crate::access::hosts::watch::Watch;
use crate::access::hosts::HostsFile;
use crate::config::model::Level;
use crate::internal::relay::Relay;
use crate::internal::StreamSession;
use crate::limits::{Cps, SensorList, SourceCounts};
use crate::listen;
use crate::log::NoidReason;
use crate::log::ServiceLog;
use crate::runtime::ident::{Outcome, Query};
use crate::runtime::logging::{Logs, RateGate};
use crate::runtime::lookup::{Lookups, NameCache};
use crate::runtime::portmap;
use crate::runtime::Settings;
use crate::spawn::{self, FailurePipe};
use crate::table::{Action, Service, ServiceTable};

mod accept;
mod children;
mod control;
mod sessions;
mod wrappers;

const SIGNALS: Token = Token(0);
const FAILURES: Token = Token(1);
/// Name lookups answered (see `runtime::lookup`).
const LOOKUPS: Token = Token(usize::MAX);
/// hosts.allow/hosts.deny may have changed (see `access::hosts::watch`).
const HOSTS: Token = Token(usize::MAX - 1);
/// A child exited (SIGCHLD, on a signalfd of its own, see `Daemon::on_child_exit`).
const CHILDREN: Token = Token(usize::MAX - 2);
/// How long a connection waits for its client's name before it is decided without one.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a tcpmux client has to send its service name, and the longest name line.
const MUX_TIMEOUT: Duration = Duration::from_secs(10);
const MUX_LINE_MAX: usize = 512;
/// How long an ident query may take (xinetd: 30 s); past it, `NOID … timeout`.
const IDENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the daemon waits, once no session is left, before returning freed heap memory to
/// the system (after a burst of sessions, RSS goes back to its idle value).
const TRIM_DELAY: Duration = Duration::from_secs(2);
/// While superd holds connections for starting children, the loop looks at least this often
/// whether they have exec'd. Usually another wake-up (the server's exit, a new client) comes
/// first; this bounds the wait for a server that closes its connection and keeps running.
const SWEEP_INTERVAL: Duration = Duration::from_millis(50);
/// After a child exit, how long further exits may go unannounced (see
/// `Daemon::on_child_exit`): the most a server's exit is seen late when no client comes.
const REAP_DELAY: Duration = Duration::from_millis(10);
/// Spawns after which an open reap window reaps anyway (see `Daemon::on_child_exit`).
const REAP_BATCH: usize = 32;
/// Accepts per service per wake-up, so one busy service cannot starve the others.
const ACCEPT_BATCH: usize = 64;
/// A `wait = yes` server that ends this soon while its input is still pending counts as a
/// respawn-loop strike.
const QUICK_EXIT: Duration = Duration::from_secs(2);
const LOOP_STRIKES: u32 = 3;
const BIND_RETRY: Duration = Duration::from_secs(10);

fn listener_token(key: usize) -> Token {
    Token(2 + 2 * key)
}
/// A session's client socket; a relay's backend socket is the next odd token.
fn session_token(key: usize) -> Token {
    Token(3 + 4 * key)
}
fn backend_token(key: usize) -> Token {
    Token(5 + 4 * key)
}

/// The signals superd acts on, read from signalfds. They are blocked (before any helper thread
/// exists, so every thread inherits the mask) and have no handlers: nothing runs
/// asynchronously, a child exit costs no handler, pipe write and drain, and a starting child
/// cannot be interrupted by a handler of superd's while it shares superd's memory. SIGCHLD has
/// a signalfd of its own (`children`), so that superd can leave it pending while it reaps on
/// its own schedule (see `Daemon::on_child_exit`).
pub struct Signals {
    fd: nix::sys::signalfd::SignalFd,
    children: nix::sys::signalfd::SignalFd,
    hup: bool,
    term: bool,
    int: bool,
    quit: bool,
    usr1: bool,
}

/// SIGUSR2 also reconfigures, as in xinetd.
const HANDLED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGCHLD,
];

impl Signals {
    pub fn install() -> io::Result<Signals> {
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let mut set = SigSet::empty();
        for sig in HANDLED {
            set.add(sig);
        }
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        // Inherited "ignore" dispositions would drop these signals (and an ignored SIGCHLD
        // would make the kernel reap children before superd sees their exit status).
        spawn::default_dispositions(&HANDLED)?;
        let flags = SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC;
        set.remove(Signal::SIGCHLD);
        let fd = SignalFd::with_flags(&set, flags)?;
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        let children = SignalFd::with_flags(&chld, flags)?;
        Ok(Signals {
            fd,
            children,
            hup: false,
            term: false,
            int: false,
            quit: false,
            usr1: false,
        })
    }

    /// Takes a pending SIGCHLD off the queue, so that the next child exit is announced again
    /// (a standard signal already pending is not queued twice, and then wakes no one).
    fn take_child_exit(&self) {
        let mut buf = [0u8; 128];
        while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(&self.children, &mut buf) {}
    }

    /// Reads what is pending. One read returns every pending signal (standard signals are
    /// queued at most once each), so a short read means the queue is empty and the
    /// edge-triggered poll reports the next one.
    fn read(&mut self) {
        /// `struct signalfd_siginfo` is 128 bytes; `ssi_signo` is its first field.
        const INFO: usize = 128;
        let mut buf = [0u8; INFO * HANDLED.len()];
        loop {
            let n = match nix::unistd::read(&self.fd, &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return, // EAGAIN: nothing (more) pending
            };
            for info in buf[..n].chunks_exact(INFO) {
                let signo = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
                match Signal::try_from(signo as i32) {
                    Ok(Signal::SIGHUP | Signal::SIGUSR2) => self.hup = true,
                    Ok(Signal::SIGTERM) => self.term = true,
                    Ok(Signal::SIGINT) => self.int = true,
                    Ok(Signal::SIGQUIT) => self.quit = true,
                    Ok(Signal::SIGUSR1) => self.usr1 = true,
                    _ => {}
                }
            }
            if n < buf.len() {
                return;
            }
        }
    }
}

/// A configured service at run time.
struct Svc {
    def: Rc<Service>,
    log: ServiceLog,
    socket: Option<Rc<Socket>>,
    /// The socket is registered with the poll.
    armed: bool,
    /// Running forked servers and in-daemon sessions.
    running: usize,
    /// Consecutive quick exits of a `wait = yes` server with input still pending.
    strikes: u32,
    pause: Duration,
    /// Unique per socket: children, sessions and timers of a replaced socket (or of a removed
    /// service whose slot was reused) carry an older serial and are ignored.
    serial: u64,
    /// Connections handled (for the dump).
    connections: u64,
    /// Not accepting because `instances` is reached and `on_limit = defer`.
    deferred: bool,
    /// `cps` state: the rate window, and whether the service is paused.
    cps: Cps,
    /// Running servers and sessions per client address (`per_source`).
    sources: SourceCounts,
}

/// A running forked server.
struct Child {
    key: usize,
    serial: u64,
    def: Rc<Service>,
    log: ServiceLog,
    started: Instant,
    started_wall: SystemTime,
    peer: Option<SocketAddr>,
    wait_yes: bool,
}

/// A connection served inside the daemon.
struct Session {
    socket: Socket,
    work: Work,
    key: usize,
    serial: u64,
    peer: IpAddr,
}

/// What a session does.
enum Work {
    Builtin(StreamSession),
    /// The tcpmux service waiting for its client's service name.
    Mux {
        peer: SocketAddr,
        id: u64,
    },
    /// An ident query about a waiting client (the session's socket, not watched meanwhile).
    Ident {
        query: Query,
        peer: SocketAddr,
        name: Option<String>,
        verified: bool,
        id: u64,
        /// Asked only for the log after a refusal (USERID in `log_on_failure`).
        after_refusal: bool,
    },
    /// `redirect`: relaying to `backend`, whose non-blocking connect may still be going on.
    Relay {
        relay: Relay,
        backend: Socket,
        to: SocketAddr,
        connected: bool,
        def: Rc<Service>,
        log: ServiceLog,
    },
}

/// Hashes the pids that key `Daemon::children`: the kernel hands them out, so no client can
/// choose keys that collide, and SipHash (std's default, there against such inputs) would be
/// two hashes per connection for nothing.
#[derive(Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, pid: i32) {
        // Fibonacci hashing: spreads consecutive pids over the table's high bits.
        self.0 = u64::from(pid as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Rearm(usize, u64),
    RetryBind(usize, u64),
    /// The `cps` pause of a service is over.
    CpsResume(usize, u64),
    /// A parked connection's name lookup took too long.
    LookupTimeout(u64),
    /// An ident query (session key, query id) took too long.
    IdentTimeout(usize, u64),
    /// A tcpmux client (session key, id) did not send its service name in time.
    MuxTimeout(usize, u64),
    /// A while after the last in-daemon session ended: give freed memory back.
    Trim,
    /// The end of a reap window (see `Daemon::on_child_exit`).
    Reap,
}

/// What is known about a client beyond its address: its reverse name (and whether that name
/// leads back to the address) and its ident user.
#[derive(Clone, Copy, Default)]
struct Who<'a> {
    name: Option<&'a str>,
    verified: bool,
    user: Option<&'a str>,
}

impl<'a> Who<'a> {
    /// A datagram sender: its name when the rules needed one (no ident for datagrams).
    fn of_datagram(name: &'a Option<(Option<String>, bool)>) -> Who<'a> {
        match name {
            Some((host, verified)) => Who {
                name: host.as_deref(),
                verified: *verified,
                user: None,
            },
            None => Who::default(),
        }
    }
}

/// A connection waiting for its client's name (address rules with `.domain` entries).
struct Parked {
    key: usize,
    serial: u64,
    conn: Socket,
    peer: SocketAddr,
    /// Reached through tcpmux as a TCPMUXPLUS service: send `+Go` before starting it.
    plus: bool,
}

pub struct Daemon {
    settings: Settings,
    poll: Poll,
    signals: Signals,
    failures: FailurePipe,
    logs: Logs,
    /// Services; a service's key is also its socket's poll token (see `listener_token`).
    services: Slab<Svc>,
    next_serial: u64,
    sessions: Slab<Session>,
    children: HashMap<i32, Child, BuildHasherDefault<PidHasher>>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    forked: usize,
    started_wall: SystemTime,
    dgram_buf: Vec<u8>,
    reply_buf: Vec<u8>,
    /// Sources still ready after their turn (epoll is edge-triggered): handled again before
    /// the next wait, which then does not block.
    again: Vec<Token>,
    /// The sources of the current wake-up (kept to reuse its allocation).
    ready: Vec<Token>,
    lookups: Lookups,
    /// Addresses SENSOR services have seen: denied everywhere until they expire.
    sensors: SensorList,
    /// tcp_wrappers' files, re-read when they change.
    hosts_allow: HostsFile,
    hosts_deny: HostsFile,
    /// Tells when they may have changed, so that they are not stat'ed per connection.
    hosts_watch: Watch,
    /// Connections waiting for a name lookup, by lookup id.
    parked: HashMap<u64, Parked>,
    next_lookup: u64,
    /// Datagram services waiting for a sender's name, by lookup id: (key, serial, address).
    waiting_names: HashMap<u64, (usize, u64, IpAddr)>,
    /// Recent answers for datagram senders.
    names: NameCache,
    /// Refused datagrams: logged once a minute per sender.
    dgram_gate: RateGate,
    /// Ident queries running for refused connections (bounded by `-logprocs`).
    failure_idents: u32,
    /// A `Timer::Trim` is scheduled.
    trim_pending: bool,
    /// SIGCHLD is left pending until `Timer::Reap`: exits meanwhile wake no one; they are
    /// reaped when a server count would refuse a client, every `REAP_BATCH` spawns, and by the
    /// timer (see `on_child_exit`).
    reap_window: bool,
    /// Running `wait = yes` servers: their exits are acted on at once.
    wait_servers: usize,
    /// Servers started since the reap window opened or last reaped.
    window_spawns: usize,
}

/// Why the loop stopped.
pub enum Stop {
    /// SIGTERM (or SIGINT in the foreground): servers were stopped.
    Terminated,
    /// SIGQUIT: exit at once.
    Quit,
    /// No services left and not told to stay alive.
    NoServices,
}

impl Daemon {
    pub fn new(
        settings: Settings,
        table: ServiceTable,
        logs: Logs,
        signals: Signals,
    ) -> io::Result<Daemon> {
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&signals.fd.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        poll.registry().register(
            &mut SourceFd(&signals.children.as_raw_fd()),
            CHILDREN,
            Interest::READABLE,
        )?;
        let failures = FailurePipe::new()?;
        poll.registry().register(
            &mut SourceFd(&failures.read_fd()),
            FAILURES,
            Interest::READABLE,
        )?;
        let lookups = Lookups::new(mio::Waker::new(poll.registry(), LOOKUPS)?);
        let hosts_watch = Watch::new(&[&settings.hosts_allow, &settings.hosts_deny]);
        if let Some(fd) = hosts_watch.fd() {
            let fd = fd.as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), HOSTS, Interest::READABLE)?;
        }
        let mut d = Daemon {
            sensors: SensorList::new(),
            hosts_allow: HostsFile::new(settings.hosts_allow.clone()),
            hosts_deny: HostsFile::new(settings.hosts_deny.clone()),
            hosts_watch,
            lookups,
            parked: HashMap::new(),
            next_lookup: 0,
            waiting_names: HashMap::new(),
            names: NameCache::new(),
            dgram_gate: RateGate::new(),
            failure_idents: 0,
            trim_pending: false,
            reap_window: false,
            wait_servers: 0,
            window_spawns: 0,
            settings,
            poll,
            signals,
            failures,
            logs,
            services: Slab::with_capacity(table.services.len()),
            next_serial: 0,
            sessions: Slab::new(),
            children: HashMap::default(),
            timers: BinaryHeap::new(),
            forked: 0,
            started_wall: SystemTime::now(),
            dgram_buf: Vec::new(),
            reply_buf: Vec::with_capacity(2048),
            again: Vec::new(),
            ready: Vec::new(),
        };
        for svc in table.services {
            d.add_service(svc);
        }
        Ok(d)
    }

    pub fn available(&self) -> usize {
        self.services
            .iter()
            .filter(|(_, s)| s.socket.is_some())
            .count()
    }

    pub fn logs(&mut self) -> &mut Logs {
        &mut self.logs
    }

    fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    fn live(&self, key: usize, serial: u64) -> bool {
        self.services.get(key).is_some_and(|s| s.serial == serial)
    }

    fn later(&mut self, delay: Duration, timer: Timer) {
        self.timers.push(Reverse((Instant::now() + delay, timer)));
    }

    // ----- services and sockets -------------------------------------------------------------

    fn add_service(&mut self, def: Service) {
        let log = self.logs.service_log(&def);
        let serial = self.serial();
        let cps = Cps::for_service(def.cps, matches!(def.action, Action::Internal(_)));
        let key = self.services.insert(Svc {
            cps,
            sources: SourceCounts::new(),
            def: Rc::new(def),
            log,
            socket: None,
            armed: false,
            running: 0,
            strikes: 0,
            pause: Duration::ZERO,
            serial,
            connections: 0,
            deferred: false,
        });
        self.open_socket(key);
    }

    fn open_socket(&mut self, key: usize) {
        let Some(svc) = self.services.get(key) else {
            return;
        };
        if svc.def.mux.is_some() {
            return; // reached through tcpmux, never listening itself
        }
        let spec = svc.def.listen.clone();
        let result = listen::open(&spec).or_else(|e| {
            // No IPv6 on this host: the dual-stack default falls back to IPv4.
            let wildcard6 = spec.addr.ip().is_unspecified() && spec.addr.is_ipv6();
            if e.raw_os_error() == Some(libc::EAFNOSUPPORT) && wildcard6 {
                let mut v4 = spec.clone();
                v4.addr = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), spec.addr.port());
                listen::open(&v4)
            } else {
                Err(e)
            }
        });
        // The definition, not a copy of its id: no per-service temporaries between the
        // long-lived allocations made at start-up (see `runtime::load_table`).
        let def = svc.def.clone();
        let id = &def.id;
        let proto = def.protocol();
        match result {
            Ok(sock) => {
                if let Some((program, versions)) = self.services[key].def.rpc {
                    let port = sock
                        .local_addr()
                        .ok()
                        .and_then(|a| a.as_socket())
                        .map_or(0, |a| a.port());
                    if let Err(e) = register_rpc(program, versions, proto, port) {
                        self.logs.daemon(
                            Level::Err,
                            &format!(
                                "service {id}: cannot register RPC program {program} with rpcbind (127.0.0.1:111): {e}; the service is unavailable, retrying every {} s",
                                BIND_RETRY.as_secs()
                            ),
                        );
                        let serial = self.services[key].serial;
                        self.later(BIND_RETRY, Timer::RetryBind(key, serial));
                        return;
                    }
                }
                if let Some(svc) = self.services.get_mut(key) {
                    svc.socket = Some(Rc::new(sock));
                }
                self.arm(key);
                if self.logs.debugging() {
                    self.logs
                        .debug(&format!("service {id}: listening on {} {proto}", spec.addr));
                }
            }
            Err(e) => {
                self.logs.daemon(
                    Level::Err,
                    &format!(
                        "service {id}: cannot bind {} {proto}: {e}; retrying every {} s",
                        spec.addr,
                        BIND_RETRY.as_secs()
                    ),
                );
                let serial = self.services[key].serial;
                self.later(BIND_RETRY, Timer::RetryBind(key, serial));
            }
        }
    }

    /// Starts watching a service's socket.
    fn arm(&mut self, key: usize) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        let Some(sock) = &svc.socket else { return };
        if svc.armed {
            return;
        }
        let fd = sock.as_raw_fd();
        match self.poll.registry().register(
            &mut SourceFd(&fd),
            listener_token(key),
            Interest::READABLE,
        ) {
            Ok(()) => svc.armed = true,
            Err(e) => {
                let msg = format!("service {}: cannot watch its socket: {e}", svc.def.id);
                self.logs.daemon(Level::Err, &msg);
            }
        }
    }

    /// Stops watching a service's socket (it stays open).
    fn disarm(&mut self, key: usize) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        if let (true, Some(sock)) = (svc.armed, &svc.socket) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&sock.as_raw_fd()));
        }
        svc.armed = false;
    }

    fn at_instances_limit(&self, key: usize) -> bool {
        let svc = &self.services[key];
        matches!(svc.def.instances, crate::config::model::Limit::Max(n) if svc.running >= n as usize)
    }

    /// A server or session of a deferred service ended: accept again.
    fn slot_freed(&mut self, key: usize) {
        if self.services.get(key).is_some_and(|s| s.deferred) && !self.at_instances_limit(key) {
            self.services[key].deferred = false;
            self.arm(key);
        }
    }

    /// Stops watching a service for `delay` (a limit was hit, or a respawn loop).
    fn pause(&mut self, key: usize, delay: Duration) {
        self.disarm(key);
        let serial = self.services[key].serial;
        self.later(delay, Timer::Rearm(key, serial));
    }

    /// Closes a service's socket and, with `kill`, stops its servers and sessions.
    fn close_service(&mut self, key: usize, kill: bool) {
        self.disarm(key);
        let new_serial = self.serial();
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        let old = svc.serial;
        if let (Some(_), Some((program, (low, high)))) = (svc.socket.take(), svc.def.rpc) {
            for v in low..=high {
                let _ = portmap::unset(program, v);
            }
        }
        svc.serial = new_serial;
        svc.running = 0;
        svc.sources = SourceCounts::new();
        svc.strikes = 0;
        if kill {
            let id = svc.def.id.clone();
            let pids: Vec<i32> = self
                .children
                .iter()
                .filter(|(_, c)| c.key == key && c.serial == old)
                .map(|(p, _)| *p)
                .collect();
            for pid in pids {
                let msg = format!("service {id}: sending signal 9 to drop server {pid}");
                self.logs.daemon(Level::Warning, &msg);
                spawn::signal(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let sessions: Vec<usize> = self
                .sessions
                .iter()
                .filter(|(_, s)| s.key == key && s.serial == old)
                .map(|(k, _)| k)
                .collect();
            for k in sessions {
                self.end_session(k);
            }
        }
    }

    // ----- the loop ------------------------------------------------------------------------

    pub fn run(&mut self) -> Stop {
        // Start-up is over (configuration, table, sockets, first log lines): give back what it
        // left behind.
        crate::spawn::release_free_memory();
        let mut events = Events::with_capacity(256);
        loop {
            let mut timeout = if self.again.is_empty() {
                self.timers
                    .peek()
                    .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            // superd still holds a connection a starting child shares its descriptors with:
            // close it as soon as the child has exec'd, so the client sees the server's EOF
            // when the server closes (see `spawn::spawn_owned`).
            if self.failures.sweep() {
                timeout = Some(timeout.map_or(SWEEP_INTERVAL, |t| t.min(SWEEP_INTERVAL)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.logs.daemon(Level::Err, &format!("poll failed: {e}"));
                    std::thread::sleep(Duration::from_millis(100)); // never spin
                }
            }
            // Failure reports first, so they are matched to children before those are reaped.
            if events.iter().any(|e| e.token() == FAILURES) {
                self.read_failures();
            }
            // Changes to hosts.allow/hosts.deny before the connections of this wake-up.
            if events.iter().any(|e| e.token() == HOSTS) {
                self.hosts_watch.on_ready();
            }
            // Exits before the connections of this wake-up, so that their slots are free.
            if events.iter().any(|e| e.token() == CHILDREN) {
                self.on_child_exit();
            }
            let mut signalled = false;
            // One buffer for the whole run: no allocation per wake-up.
            let mut ready = std::mem::take(&mut self.ready);
            ready.clear();
            ready.append(&mut self.again);
            ready.extend(events.iter().map(|e| e.token()));
            ready.dedup();
            for &token in &ready {
                match token {
                    SIGNALS => signalled = true,
                    FAILURES | HOSTS | CHILDREN => {}
                    LOOKUPS => self.on_lookups(),
                    Token(t) if t % 2 == 0 => self.on_listener((t - 2) / 2),
                    Token(t) => self.on_session((t - 3) / 4),
                }
            }
            self.ready = ready;
            if signalled {
                self.signals.read();
                if let Some(stop) = self.on_signals() {
                    return stop;
                }
            }
            self.run_timers();
        }
    }

    fn on_signals(&mut self) -> Option<Stop> {
        if std::mem::take(&mut self.signals.quit) {
            self.logs.daemon(
                Level::Notice,
                "received SIGQUIT: exiting now, servers keep running",
            );
            self.unregister_rpc();
            return Some(Stop::Quit);
        }
        let int = std::mem::take(&mut self.signals.int);
        if int && !self.settings.foreground {
            self.logs.debug("SIGINT ignored (not in the foreground)");
        }
        let term = std::mem::take(&mut self.signals.term);
        if term || (int && self.settings.foreground) {
            self.terminate(if term { "SIGTERM" } else { "SIGINT" });
            return Some(Stop::Terminated);
        }
        if std::mem::take(&mut self.signals.hup) {
            self.reload();
            if self.services.is_empty() && !self.settings.stayalive {
                self.logs.daemon(
                    Level::Err,
                    "no services left after reconfiguration; exiting (use -stayalive to keep running)",
                );
                return Some(Stop::NoServices);
            }
        }
        if std::mem::take(&mut self.signals.usr1) {
            self.write_dump();
        }
        None
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                // `arm` does nothing if the socket is closed or already watched.
                Timer::Rearm(key, serial) if self.live(key, serial) => self.arm(key),
                Timer::RetryBind(key, serial)
                    if self.live(key, serial) && self.services[key].socket.is_none() =>
                {
                    self.open_socket(key)
                }
                Timer::IdentTimeout(k, id) => {
                    if matches!(self.sessions.get(k).map(|s| &s.work), Some(Work::Ident { id: i, .. }) if *i == id)
                    {
                        self.finish_ident(k, Outcome::NoId(NoidReason::Timeout));
                    }
                }
                Timer::Reap => self.close_reap_window(),
                Timer::Trim => {
                    self.trim_pending = false;
                    if self.sessions.is_empty() {
                        crate::spawn::release_free_memory();
                    }
                }
                Timer::MuxTimeout(k, id) => {
                    if matches!(self.sessions.get(k).map(|s| &s.work), Some(Work::Mux { id: i, .. }) if *i == id)
                    {
                        self.end_session(k);
                    }
                }
                Timer::LookupTimeout(id) => {
                    if let Some(p) = self.parked.remove(&id) {
                        self.decide_and_start(p, None, false);
                    } else {
                        self.dgram_name_known(id, None, false);
                    }
                }
                // `resume` is true once per pause, when it is over.
                Timer::CpsResume(key, serial)
                    if self.live(key, serial) && self.services[key].cps.resume(now) =>
                {
                    let id = self.services[key].def.id.clone();
                    self.logs
                        .daemon(Level::Notice, &format!("Activating service {id}"));
                    self.open_socket(key);
                }
                _ => {} // for a socket that was replaced or a service that was removed
            }
        }
    }
}

/// Registers every version of an RPC program; on failure, undoes what was registered.
fn register_rpc(program: u32, (low, high): (u32, u32), proto: &str, port: u16) -> io::Result<()> {
    let prot = if proto == "udp" {
        portmap::IPPROTO_UDP
    } else {
        portmap::IPPROTO_TCP
    };
    for v in low..=high {
        // A registration left by an earlier run would make SET fail: clear it first.
        let _ = portmap::unset(program, v);
        if let Err(e) = portmap::set(program, v, prot, port) {
            for done in low..v {
                let _ = portmap::unset(program, done);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Whether a listening socket has a connection waiting (non-blocking check).
fn readable_now(sock: &Socket) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(sock),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}
