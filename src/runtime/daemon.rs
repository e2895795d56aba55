//! The event loop and the daemon's only mutable state.
//!
//! One thread, one `mio::Poll` (epoll) over: the signal wake-up pipe, the child-failure pipe,
//! every armed service socket and every in-daemon stream session. Each wake-up is handled to
//! completion without blocking: accepts are bounded per wake-up, spawns do not wait for exec,
//! in-daemon sessions are non-blocking state machines with bounded buffers. Timers (re-arming a
//! throttled `wait = yes` service, retrying a failed bind) live in a heap and bound the poll
//! timeout.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use slab::Slab;
use socket2::Socket;

use crate::access::address::AddressVerdict;
use crate::access::hosts::{self, HostsFile};
use crate::clock::LocalTime;
use crate::config::model::{DenyTime, Level, SocketType};
use crate::internal::relay::Relay;
use crate::internal::{self, Builtin, StreamSession};
use crate::limits::{
    self, Checks, Cps, ProcessLimit, Refusal, SensorAdd, SensorList, SourceCounts, LOADAVG_PATH,
};
use crate::listen;
use crate::log::NoidReason;
use crate::log::ServiceLog;
use crate::runtime::ident::{Outcome, Query};
use crate::runtime::logging::{FailReason, Logs};
use crate::runtime::lookup::{Lookups, Request};
use crate::runtime::portmap;
use crate::runtime::reload;
use crate::runtime::Settings;
use crate::spawn::{self, Exit, FailurePipe};
use crate::table::{Action, Service, ServiceTable};

const SIGNALS: Token = Token(0);
const FAILURES: Token = Token(1);
/// Name lookups answered (see `runtime::lookup`).
const LOOKUPS: Token = Token(usize::MAX);
/// How long a connection waits for its client's name before it is decided without one.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a tcpmux client has to send its service name, and the longest name line.
const MUX_TIMEOUT: Duration = Duration::from_secs(10);
const MUX_LINE_MAX: usize = 512;
/// How long an ident query may take (xinetd: 30 s); past it, `NOID … timeout`.
const IDENT_TIMEOUT: Duration = Duration::from_secs(10);
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

/// Signals, as flags set by the handlers; one pipe wakes the loop.
pub struct SignalFlags {
    pub hup: Arc<AtomicBool>,
    pub term: Arc<AtomicBool>,
    pub int: Arc<AtomicBool>,
    pub quit: Arc<AtomicBool>,
    pub usr1: Arc<AtomicBool>,
    pub chld: Arc<AtomicBool>,
    wake_read: std::os::unix::net::UnixStream,
}

impl SignalFlags {
    pub fn install() -> io::Result<SignalFlags> {
        use signal_hook::consts::*;
        let (wake_read, wake_write) = std::os::unix::net::UnixStream::pair()?;
        wake_read.set_nonblocking(true)?;
        wake_write.set_nonblocking(true)?;
        let flags = SignalFlags {
            hup: Arc::default(),
            term: Arc::default(),
            int: Arc::default(),
            quit: Arc::default(),
            usr1: Arc::default(),
            chld: Arc::default(),
            wake_read,
        };
        for (sig, flag) in [
            (SIGHUP, &flags.hup),
            (SIGUSR2, &flags.hup), // xinetd: SIGUSR2 also reconfigures
            (SIGTERM, &flags.term),
            (SIGINT, &flags.int),
            (SIGQUIT, &flags.quit),
            (SIGUSR1, &flags.usr1),
            (SIGCHLD, &flags.chld),
        ] {
            signal_hook::flag::register(sig, flag.clone())?;
            signal_hook::low_level::pipe::register(sig, wake_write.try_clone()?)?;
        }
        Ok(flags)
    }

    fn drain(&mut self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while matches!((&self.wake_read).read(&mut buf), Ok(n) if n > 0) {}
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
}

/// What is known about a client beyond its address: its reverse name (and whether that name
/// leads back to the address) and its ident user.
#[derive(Clone, Copy, Default)]
struct Who<'a> {
    name: Option<&'a str>,
    verified: bool,
    user: Option<&'a str>,
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
    signals: SignalFlags,
    failures: FailurePipe,
    logs: Logs,
    /// Services; a service's key is also its socket's poll token (see `listener_token`).
    services: Slab<Svc>,
    next_serial: u64,
    sessions: Slab<Session>,
    children: HashMap<i32, Child>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    forked: usize,
    started_wall: SystemTime,
    dgram_buf: Vec<u8>,
    reply_buf: Vec<u8>,
    /// Sources still ready after their turn (epoll is edge-triggered): handled again before
    /// the next wait, which then does not block.
    again: Vec<Token>,
    lookups: Lookups,
    /// Addresses SENSOR services have seen: denied everywhere until they expire.
    sensors: SensorList,
    /// tcp_wrappers' files, re-read when they change.
    hosts_allow: HostsFile,
    hosts_deny: HostsFile,
    /// Connections waiting for a name lookup, by lookup id.
    parked: HashMap<u64, Parked>,
    next_lookup: u64,
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
        signals: SignalFlags,
    ) -> io::Result<Daemon> {
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&signals.wake_read.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        let failures = FailurePipe::new()?;
        poll.registry().register(
            &mut SourceFd(&failures.read_fd()),
            FAILURES,
            Interest::READABLE,
        )?;
        let lookups = Lookups::new(mio::Waker::new(poll.registry(), LOOKUPS)?);
        let mut d = Daemon {
            sensors: SensorList::new(),
            hosts_allow: HostsFile::new(settings.hosts_allow.clone()),
            hosts_deny: HostsFile::new(settings.hosts_deny.clone()),
            lookups,
            parked: HashMap::new(),
            next_lookup: 0,
            settings,
            poll,
            signals,
            failures,
            logs,
            services: Slab::with_capacity(table.services.len()),
            next_serial: 0,
            sessions: Slab::new(),
            children: HashMap::new(),
            timers: BinaryHeap::new(),
            forked: 0,
            started_wall: SystemTime::now(),
            dgram_buf: Vec::new(),
            reply_buf: Vec::with_capacity(2048),
            again: Vec::new(),
        };
        for svc in table.services {
            d.add_service(svc);
        }
        crate::spawn::release_free_memory();
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
        let id = svc.def.id.clone();
        let proto = svc.def.protocol();
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
                self.logs
                    .debug(&format!("service {id}: listening on {} {proto}", spec.addr));
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
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = if self.again.is_empty() {
                self.timers
                    .peek()
                    .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
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
            let mut signalled = false;
            let mut ready: Vec<Token> = std::mem::take(&mut self.again);
            ready.extend(events.iter().map(|e| e.token()));
            ready.dedup();
            for token in ready {
                match token {
                    SIGNALS => signalled = true,
                    FAILURES => {}
                    LOOKUPS => self.on_lookups(),
                    Token(t) if t % 2 == 0 => self.on_listener((t - 2) / 2),
                    Token(t) => self.on_session((t - 3) / 4),
                }
            }
            if signalled {
                self.signals.drain();
                if let Some(stop) = self.on_signals() {
                    return stop;
                }
            }
            self.run_timers();
        }
    }

    fn on_signals(&mut self) -> Option<Stop> {
        if self.signals.chld.swap(false, Ordering::SeqCst) {
            self.read_failures();
            self.reap();
        }
        if self.signals.quit.swap(false, Ordering::SeqCst) {
            self.logs.daemon(
                Level::Notice,
                "received SIGQUIT: exiting now, servers keep running",
            );
            self.unregister_rpc();
            return Some(Stop::Quit);
        }
        let int = self.signals.int.swap(false, Ordering::SeqCst);
        if int && !self.settings.foreground {
            self.logs.debug("SIGINT ignored (not in the foreground)");
        }
        if self.signals.term.swap(false, Ordering::SeqCst) || (int && self.settings.foreground) {
            self.terminate();
            return Some(Stop::Terminated);
        }
        if self.signals.hup.swap(false, Ordering::SeqCst) {
            self.reload();
            if self.services.is_empty() && !self.settings.stayalive {
                self.logs.daemon(
                    Level::Err,
                    "no services left after reconfiguration; exiting (use -stayalive to keep running)",
                );
                return Some(Stop::NoServices);
            }
        }
        if self.signals.usr1.swap(false, Ordering::SeqCst) {
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
                Timer::MuxTimeout(k, id) => {
                    if matches!(self.sessions.get(k).map(|s| &s.work), Some(Work::Mux { id: i, .. }) if *i == id)
                    {
                        self.end_session(k);
                    }
                }
                Timer::LookupTimeout(id) => {
                    if let Some(p) = self.parked.remove(&id) {
                        self.decide_and_start(p, None, false);
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

    // ----- connections ---------------------------------------------------------------------

    fn on_listener(&mut self, key: usize) {
        let Some(svc) = self.services.get(key) else {
            return;
        };
        if !svc.armed {
            return; // a stale event for a socket no longer watched
        }
        let def = svc.def.clone();
        let Some(sock) = svc.socket.clone() else {
            return;
        };
        if def.libwrap_daemon().is_some() {
            self.refresh_hosts();
        }
        match (def.listen.socket_type, def.wait, &def.action) {
            (SocketType::Dgram, _, Action::Internal(b)) => {
                if self.serve_dgram_internal(key, &sock, *b) {
                    self.again.push(listener_token(key));
                }
            }
            (_, true, Action::Exec(_)) => self.start_wait_server(key, &def, &sock),
            _ => {
                for n in 0.. {
                    if def.defer && self.at_instances_limit(key) {
                        // on_limit = defer: leave clients in the listen queue until a slot frees.
                        self.disarm(key);
                        self.services[key].deferred = true;
                        break;
                    }
                    if n == ACCEPT_BATCH {
                        self.again.push(listener_token(key));
                        break;
                    }
                    match listen::accept(&sock) {
                        Ok(Some((conn, peer))) => self.on_connection(key, &def, conn, peer),
                        Ok(None) => break,
                        Err(e) => {
                            self.on_accept_error(key, e);
                            break;
                        }
                    }
                }
            }
        }
    }

    fn on_accept_error(&mut self, key: usize, e: io::Error) {
        let id = &self.services[key].def.id;
        self.logs
            .daemon(Level::Err, &format!("service {id}: accept failed: {e}"));
        let resources = matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        );
        // Out of descriptors or memory: stop watching for a second instead of spinning. Any
        // other error: look again shortly; re-arming also re-reports connections still queued,
        // which the edge-triggered poll would not.
        let delay = if resources {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(100)
        };
        self.pause(key, delay);
    }

    /// xinetd's checks before anything starts, in its order: cps, max_load, access_times,
    /// instances, per_source, -limit (`limits::admit`). A refusal is logged here (its FAIL
    /// line, plus the daemon lines xinetd writes for cps and load); the caller then just drops
    /// the connection, as xinetd closes it.
    fn admit(&mut self, key: usize, peer: Option<SocketAddr>, forks: bool) -> bool {
        let Daemon {
            services,
            logs,
            settings,
            forked,
            ..
        } = self;
        let Some(svc) = services.get_mut(key) else {
            return false;
        };
        let load = svc
            .def
            .max_load
            .and_then(|_| limits::read_loadavg(Path::new(LOADAVG_PATH)));
        let in_access_times = svc.def.access().access_times.as_ref().is_none_or(|t| {
            let now = LocalTime::local(SystemTime::now());
            t.allows(u16::from(now.hour) * 60 + u16::from(now.minute))
        });
        let checks = Checks {
            now: Instant::now(),
            max_load: svc.def.max_load,
            load,
            in_access_times,
            instances: svc.def.instances,
            running: svc.running,
            per_source: svc.def.per_source,
            peer: peer.map(|p| p.ip()),
            sources: &svc.sources,
            process_limit: ProcessLimit(settings.limit),
            processes: *forked,
            forks,
        };
        let refusal = match limits::admit(&checks, &mut svc.cps) {
            Ok(()) => return true,
            Err(r) => r,
        };
        logs.fail(&svc.log, &svc.def, refusal.reason(), peer);
        match refusal {
            Refusal::CpsTripped { resume_at } => {
                let wait = resume_at
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .round();
                logs.daemon(
                    Level::Err,
                    &format!(
                        "Deactivating service {} due to excessive incoming connections.  Restarting in {wait} seconds.",
                        svc.def.id
                    ),
                );
                self.pause_for_cps(key, resume_at);
            }
            Refusal::Load { .. } => {
                let from = peer
                    .map(|p| p.ip().to_string())
                    .unwrap_or_else(|| "<no address>".into());
                logs.daemon(
                    Level::Err,
                    &format!("refused connect from {from} due to excessive load"),
                );
            }
            _ => {}
        }
        false
    }

    /// cps tripped: close the socket, as xinetd does (new clients are refused rather than
    /// queued), and open it again when the pause is over.
    fn pause_for_cps(&mut self, key: usize, resume_at: Instant) {
        self.disarm(key);
        let svc = &mut self.services[key];
        svc.socket = None;
        let serial = svc.serial;
        self.timers
            .push(Reverse((resume_at, Timer::CpsResume(key, serial))));
    }

    fn on_connection(&mut self, key: usize, def: &Rc<Service>, conn: Socket, peer: SocketAddr) {
        let forks = matches!(def.action, Action::Exec(_));
        // `banner` goes out before any check, as xinetd sends it.
        if let Some(b) = &def.banners().always {
            listen::send_banner(&conn, b);
        }
        if !self.admit(key, Some(peer), forks) {
            if let Some(b) = &def.banners().fail {
                listen::send_banner(&conn, b);
            }
            return; // dropping `conn` closes it, as xinetd does
        }
        let serial = self.services[key].serial;
        let parked = Parked {
            plus: false,
            key,
            serial,
            conn,
            peer,
        };
        if def.access().needs_name()
            || (def.libwrap_daemon().is_some() && self.hosts_needs().client_name)
        {
            // The rules need the client's name: ask off the loop and decide when it comes.
            self.next_lookup += 1;
            let id = self.next_lookup;
            self.lookups.ask(Request {
                id,
                addr: peer.ip(),
            });
            self.parked.insert(id, parked);
            self.later(LOOKUP_TIMEOUT, Timer::LookupTimeout(id));
        } else {
            self.decide_and_start(parked, None, false);
        }
    }

    /// Re-reads hosts.allow/hosts.deny if they changed (logging their problems once per
    /// change). Called once per wake-up of a service that consults them, so edits apply to the
    /// next connections without a reload and without a `stat` per check.
    fn refresh_hosts(&mut self) {
        for file in [&mut self.hosts_allow, &mut self.hosts_deny] {
            if file.refresh() {
                for d in &file.rules().diagnostics {
                    self.logs.daemon(Level::Warning, &d.to_string());
                }
            }
        }
    }

    /// What the current hosts.allow/hosts.deny rules need to know about clients.
    fn hosts_needs(&self) -> hosts::Needs {
        hosts::Needs::of(self.hosts_allow.rules(), self.hosts_deny.rules())
    }

    /// hosts.allow / hosts.deny for a service that has a libwrap daemon name. `name` is the
    /// client's reverse name and `verified` whether it leads back to the address. A refusal is
    /// logged as xinetd logs it.
    fn libwrap_allows(
        &mut self,
        key: usize,
        peer: SocketAddr,
        local_of: &Socket,
        who: Who<'_>,
        conn: Option<&Socket>,
    ) -> bool {
        let Who {
            name,
            verified,
            user,
        } = who;
        if self.services[key].def.libwrap_daemon().is_none() {
            return true;
        }
        // Empty (or absent) files, the usual case, let everyone in: decided without building
        // anything on the accept path.
        let empty = |r: &hosts::Rules| r.rules.is_empty() && r.fault.is_none();
        if empty(self.hosts_allow.rules()) && empty(self.hosts_deny.rules()) {
            return true;
        }
        let Some(daemon) = self.services[key].def.libwrap_daemon().map(str::to_owned) else {
            return true;
        };
        let local = local_of.local_addr().ok().and_then(|a| a.as_socket());
        let client = hosts::Client {
            addr: listen::unmap(peer).ip(),
            name: name.filter(|_| verified).map(str::to_owned),
            name_paranoid_mismatch: name.is_some() && !verified,
            user: user.map(str::to_owned),
        };
        let server = hosts::Server {
            daemon: daemon.clone(),
            addr: local.map(|a| listen::unmap(a).ip()),
            name: None,
        };
        let verdict = hosts::check(
            self.hosts_allow.rules(),
            self.hosts_deny.rules(),
            &client,
            &server,
        );
        let matched = verdict.matched();
        let error = matched.and_then(|m| m.error());
        let allowed = verdict.allowed();
        // hosts_options(5) commands: `spawn` runs beside the decision, `twist` replaces the
        // server (stdio on the client), whatever the verdict, as libwrap does.
        let cx = hosts::ExpansionContext {
            client: &client,
            server: &server,
            pid: std::process::id(),
            client_port: Some(peer.port()),
            server_port: local.map(|l| l.port()),
        };
        let mut spawns = Vec::new();
        let mut twist = None;
        for option in matched.map(|m| m.options()).unwrap_or_default() {
            match option {
                hosts::RuleOption::Spawn(cmd) => spawns.push(hosts::expand(cmd, &cx)),
                hosts::RuleOption::Twist(cmd) => twist = Some(hosts::expand(cmd, &cx)),
                _ => {}
            }
        }
        if let Some(err) = error {
            self.logs.daemon(Level::Err, &err);
        }
        for cmd in spawns {
            self.run_shell(key, &cmd, None);
        }
        if let Some(cmd) = twist {
            match conn {
                Some(conn) => self.run_shell(key, &cmd, Some(conn)),
                None => {
                    let msg = format!(
                        "service {}: 'twist' needs a connection; refusing the datagram",
                        self.services[key].def.id
                    );
                    self.logs.daemon(Level::Err, &msg);
                }
            }
            return false;
        }
        if allowed {
            return true;
        }
        let svc = &self.services[key];
        let msg = format!(
            "libwrap refused connection to {} (libwrap={daemon}) from {}",
            svc.def.id, client.addr
        );
        self.logs.daemon(Level::Info, &msg);
        self.logs
            .fail(&svc.log, &svc.def, FailReason::Libwrap, Some(peer));
        false
    }

    /// Runs `/bin/sh -c cmd` for a hosts_options `spawn` (stdio on /dev/null) or `twist`
    /// (stdio on the client's connection), as superd's own user, with a minimal PATH.
    fn run_shell(&mut self, key: usize, cmd: &str, conn: Option<&Socket>) {
        let id = self.services[key].def.id.clone();
        let Ok(cmd_c) = std::ffi::CString::new(cmd) else {
            return;
        };
        let plan = spawn::ExecPlan {
            path: c"/bin/sh".into(),
            argv: vec![c"sh".into(), c"-c".into(), cmd_c],
            env: std::sync::Arc::from(vec![
                c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ]),
            creds: None,
            nice: None,
            umask: None,
            rlimits: Vec::new(),
        };
        let devnull;
        let fd = match conn {
            Some(c) => {
                let _ = c.set_nonblocking(false);
                c.as_raw_fd()
            }
            None => match std::fs::File::open("/dev/null") {
                Ok(f) => {
                    devnull = f;
                    devnull.as_raw_fd()
                }
                Err(_) => return,
            },
        };
        match spawn::spawn(&plan, fd, None, &self.failures) {
            Ok(pid) => self.logs.debug(&format!(
                "service {id}: hosts_options command started as {pid}: {cmd}"
            )),
            Err(e) => self.logs.daemon(
                Level::Err,
                &format!("service {id}: cannot run hosts_options command: {e}"),
            ),
        }
    }

    fn on_lookups(&mut self) {
        for answer in self.lookups.answers() {
            if let Some(p) = self.parked.remove(&answer.id) {
                self.decide_and_start(p, answer.name.as_deref(), answer.verified);
            }
        }
    }

    /// Whether the address rules let `peer` in; a refusal is logged as xinetd logs it.
    fn address_allows(&mut self, key: usize, peer: SocketAddr, name: Option<&str>) -> bool {
        let ip = listen::unmap(peer).ip();
        let now = Instant::now();
        let svc = &self.services[key];
        // SENSOR services and the global deny list they feed come first, as in xinetd.
        if let Some(deny_time) = svc.def.sensor {
            if let SensorAdd::Added { evicted } = self.sensors.add(ip, deny_time, now) {
                let minutes = match deny_time {
                    DenyTime::Minutes(n) => i64::from(n),
                    _ => -1,
                };
                let msg = format!("Adding {ip} to the global_no_access list for {minutes} minutes");
                self.logs.daemon(Level::Crit, &msg);
                if let Some(old) = evicted {
                    let msg = format!("global_no_access list full: {old} dropped from it");
                    self.logs.daemon(Level::Warning, &msg);
                }
            }
            self.logs
                .fail(&svc.log, &svc.def, FailReason::Address, Some(peer));
            return false;
        }
        let listed = !self.sensors.is_empty() && self.sensors.contains(ip, now);
        let verdict = if listed {
            AddressVerdict::Deny
        } else if svc.def.access().has_address_rules() {
            svc.def.access().decide_address(peer.ip(), name)
        } else {
            AddressVerdict::Allow
        };
        match verdict {
            AddressVerdict::Allow => true,
            verdict => {
                if verdict == AddressVerdict::DenyBothMatch {
                    let msg = format!(
                        "Service={}: only_from list and no_access list match equally the address {ip}",
                        svc.def.id
                    );
                    self.logs.daemon(Level::Err, &msg);
                }
                self.logs
                    .fail(&svc.log, &svc.def, FailReason::Address, Some(peer));
                false
            }
        }
    }

    /// The checks after the limits: address rules, then (when needed) an ident query, then
    /// hosts.allow/hosts.deny, as xinetd orders them; then the server or session.
    fn decide_and_start(&mut self, p: Parked, name: Option<&str>, verified: bool) {
        if !self.live(p.key, p.serial) {
            return; // the service was removed or re-addressed meanwhile
        }
        if !self.address_allows(p.key, p.peer, name) {
            self.refused(p);
            return;
        }
        let def = self.services[p.key].def.clone();
        let wants_ident = def.idonly
            || def.log_on_success.userid
            || (def.libwrap_daemon().is_some() && self.hosts_needs().client_user);
        if wants_ident {
            self.start_ident(p, name.map(str::to_owned), verified);
        } else {
            self.finish_admission(p, name, verified, None);
        }
    }

    /// Sends `banner_fail` and drops the connection.
    fn refused(&self, p: Parked) {
        if let Some(b) = &self.services[p.key].def.banners().fail {
            listen::send_banner(&p.conn, b);
        }
    }

    /// Parks the connection while its client's identd is asked who it is.
    fn start_ident(&mut self, p: Parked, name: Option<String>, verified: bool) {
        let local = p.conn.local_addr().ok().and_then(|a| a.as_socket());
        let query = local.map(|l| Query::start(l, p.peer));
        let Some(Ok(query)) = query else {
            self.finish_admission(
                p,
                name.as_deref(),
                verified,
                Some(Outcome::NoId(NoidReason::SystemError)),
            );
            return;
        };
        let fd = query.socket.as_raw_fd();
        self.next_lookup += 1;
        let id = self.next_lookup;
        let Parked {
            key,
            serial,
            conn,
            peer,
            ..
        } = p;
        let work = Work::Ident {
            query,
            peer,
            name,
            verified,
            id,
        };
        // The session's socket is the waiting client's connection, not watched meanwhile; the
        // query's socket is registered under the session's second token.
        let k = self.sessions.insert(Session {
            socket: conn,
            work,
            key,
            serial,
            peer: peer.ip(),
        });
        let both = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut SourceFd(&fd), backend_token(k), both)
            .is_err()
        {
            self.finish_ident(k, Outcome::NoId(NoidReason::SystemError));
            return;
        }
        self.later(IDENT_TIMEOUT, Timer::IdentTimeout(k, id));
    }

    /// An ident query is over: log it, then go on with the parked connection.
    fn finish_ident(&mut self, k: usize, outcome: Outcome) {
        let Some(s) = self.sessions.try_remove(k) else {
            return;
        };
        let Session {
            socket,
            work,
            key,
            serial,
            ..
        } = s;
        let Work::Ident {
            query,
            peer,
            name,
            verified,
            ..
        } = work
        else {
            return; // not an ident session (cannot happen)
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&query.socket.as_raw_fd()));
        let parked = Parked {
            plus: false,
            key,
            serial,
            conn: socket,
            peer,
        };
        self.finish_admission(parked, name.as_deref(), verified, Some(outcome));
    }

    /// hosts.allow/hosts.deny (with the ident user, if asked), IDONLY, banners, then start.
    fn finish_admission(
        &mut self,
        p: Parked,
        name: Option<&str>,
        verified: bool,
        ident: Option<Outcome>,
    ) {
        if !self.live(p.key, p.serial) {
            return;
        }
        let key = p.key;
        let def = self.services[key].def.clone();
        let log = self.services[key].log.clone();
        let user = match &ident {
            Some(Outcome::User { text, user }) => {
                self.logs.userid(&log, &def, text);
                Some(user.clone())
            }
            Some(Outcome::NoId(reason)) => {
                self.logs.noid(&log, &def, p.peer, *reason);
                None
            }
            None => None,
        };
        if def.idonly && user.is_none() {
            self.refused(p);
            return;
        }
        let who = Who {
            name,
            verified,
            user: user.as_deref(),
        };
        if !self.libwrap_allows(key, p.peer, &p.conn, who, Some(&p.conn)) {
            self.refused(p);
            return;
        }
        let Parked {
            conn, peer, plus, ..
        } = p;
        if let Some(b) = &def.banners().success {
            listen::send_banner(&conn, b);
        }
        if plus {
            listen::send_banner(&conn, b"+Go\r\n");
        }
        self.services[key].connections += 1;
        match &def.action {
            Action::Internal(b) => self.start_session(key, &def, conn, peer, *b),
            Action::Redirect(to) => self.start_relay(key, &def, conn, peer, *to),
            Action::Tcpmux => self.start_mux(key, &def, conn, peer),
            Action::Exec(plan) => {
                let host = peer.ip().to_string();
                // A connection that went through tcpmux was made non-blocking meanwhile.
                let _ = conn.set_nonblocking(false);
                match spawn::spawn(plan, conn.as_raw_fd(), Some(&host), &self.failures) {
                    Ok(pid) => self.started(key, &def, pid, Some(peer), false),
                    Err(e) => {
                        let msg = format!("service {}: fork failed: {e}", def.id);
                        self.logs.daemon(Level::Err, &msg);
                        self.logs.fail(&log, &def, FailReason::Fork, Some(peer));
                    }
                }
            }
        }
    }

    fn started(
        &mut self,
        key: usize,
        def: &Rc<Service>,
        pid: Pid,
        peer: Option<SocketAddr>,
        wait_yes: bool,
    ) {
        let svc = &mut self.services[key];
        self.logs.start(&svc.log, def, pid.as_raw(), peer);
        svc.running += 1;
        if let Some(p) = peer {
            svc.sources.increment(p.ip());
        }
        self.forked += 1;
        let child = Child {
            key,
            serial: svc.serial,
            def: def.clone(),
            log: svc.log.clone(),
            started: Instant::now(),
            started_wall: SystemTime::now(),
            peer,
            wait_yes,
        };
        self.children.insert(pid.as_raw(), child);
    }

    /// `wait = yes`: the server gets the socket itself; superd stops watching it until the
    /// server exits.
    fn start_wait_server(&mut self, key: usize, def: &Rc<Service>, sock: &Rc<Socket>) {
        let Action::Exec(plan) = &def.action else {
            return;
        };
        let peer = if def.listen.socket_type == SocketType::Dgram {
            match listen::peek_peer(sock) {
                Ok(Some(p)) => Some(p),
                Ok(None) => return, // spurious wake-up
                Err(_) => None,
            }
        } else {
            if !readable_now(sock) {
                return; // spurious wake-up: no connection is waiting
            }
            None
        };
        if !self.admit(key, peer, true) {
            // The input stays queued; look again in a second (after a cps trip the socket is
            // closed and this does nothing).
            self.pause(key, Duration::from_secs(1));
            return;
        }
        // Address rules, for the sender of the first datagram. A `wait = yes` stream service
        // has no client yet: allowed, as in current xinetd (2.3.15.3 refused everyone).
        // Names are not looked up here: `.domain` entries match no one (documented).
        if let Some(p) = peer {
            if !self.address_allows(key, p, None)
                || !self.libwrap_allows(key, p, sock, Who::default(), None)
            {
                // Drop the datagram that was refused, or the server would never be started
                // for the ones behind it.
                let mut b = [0u8; 1];
                let _ = listen::recv_dgram(sock, &mut b);
                self.again.push(listener_token(key));
                return;
            }
        }
        self.disarm(key);
        self.services[key].connections += 1;
        let host = peer.map(|p| p.ip().to_string());
        match spawn::spawn(plan, sock.as_raw_fd(), host.as_deref(), &self.failures) {
            Ok(pid) => self.started(key, def, pid, peer, true),
            Err(e) => {
                self.logs
                    .daemon(Level::Err, &format!("service {}: fork failed: {e}", def.id));
                self.logs
                    .fail(&self.services[key].log, def, FailReason::Fork, peer);
                self.pause(key, Duration::from_secs(1));
            }
        }
    }

    /// Answers queued datagrams; true when the batch ran out with more possibly queued.
    fn serve_dgram_internal(&mut self, key: usize, sock: &Socket, b: Builtin) -> bool {
        let now = SystemTime::now();
        if self.dgram_buf.is_empty() {
            // Allocated on the first datagram: a daemon without UDP internals never pays for it.
            self.dgram_buf = vec![0; 65536];
        }
        for _ in 0..ACCEPT_BATCH {
            let (n, from) = match listen::recv_dgram(sock, &mut self.dgram_buf) {
                Ok(Some(x)) => x,
                Ok(None) => return false,
                Err(e) => {
                    // ICMP errors from earlier replies surface here; the socket is still fine.
                    let id = &self.services[key].def.id;
                    self.logs.debug(&format!("service {id}: recvfrom: {e}"));
                    continue;
                }
            };
            let peer = from.as_socket().map(listen::unmap);
            // Each datagram is a client, as in xinetd: the checks apply to it.
            if !self.admit(key, peer, false) {
                if self.services[key].socket.is_none() {
                    return false; // cps closed the socket
                }
                continue;
            }
            if let Some(p) = peer {
                // No name lookup per datagram: `.domain` entries match no one here.
                if !self.address_allows(key, p, None)
                    || !self.libwrap_allows(key, p, sock, Who::default(), None)
                {
                    continue;
                }
            }
            let svc = &self.services[key];
            self.logs.start(&svc.log, &svc.def, 0, peer);
            if internal::dgram_reply(b, &self.dgram_buf[..n], now, &mut self.reply_buf) {
                let _ = listen::send_dgram(sock, &self.reply_buf, &from);
            }
        }
        true
    }

    fn start_session(
        &mut self,
        key: usize,
        def: &Rc<Service>,
        conn: Socket,
        peer: SocketAddr,
        b: Builtin,
    ) {
        if conn.set_nonblocking(true).is_err() {
            return;
        }
        let session = StreamSession::new(b, SystemTime::now());
        if session.shutdown_read_at_start() {
            let _ = conn.shutdown(std::net::Shutdown::Read);
        }
        let interest = session.initial_interest();
        let svc = &mut self.services[key];
        // In-daemon services log START with pid 0 and no EXIT, as xinetd's non-forking ones.
        self.logs.start(&svc.log, def, 0, Some(peer));
        svc.running += 1;
        svc.sources.increment(peer.ip());
        let serial = svc.serial;
        let k = self.sessions.insert(Session {
            socket: conn,
            work: Work::Builtin(session),
            key,
            serial,
            peer: peer.ip(),
        });
        self.apply_step(k, interest, true);
    }

    /// The `tcpmux` service: wait (bounded) for the client's service name.
    fn start_mux(&mut self, key: usize, def: &Rc<Service>, conn: Socket, peer: SocketAddr) {
        if conn.set_nonblocking(true).is_err() {
            return;
        }
        let svc = &mut self.services[key];
        self.logs.start(&svc.log, def, 0, Some(peer));
        let serial = svc.serial;
        self.next_lookup += 1;
        let id = self.next_lookup;
        let fd = conn.as_raw_fd();
        let work = Work::Mux { peer, id };
        let k = self.sessions.insert(Session {
            socket: conn,
            work,
            key,
            serial,
            peer: peer.ip(),
        });
        let r =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), session_token(k), Interest::READABLE);
        if r.is_err() {
            self.end_session(k);
            return;
        }
        self.later(MUX_TIMEOUT, Timer::MuxTimeout(k, id));
    }

    /// tcpmux: the name line, when complete. Bytes after it stay in the socket for the server.
    fn on_mux(&mut self, k: usize) {
        let Some(s) = self.sessions.get(k) else {
            return;
        };
        let mut bytes = [0u8; MUX_LINE_MAX];
        let n = match listen::peek_stream(&s.socket, &mut bytes) {
            Ok(0) => return self.end_session(k),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => return self.end_session(k),
        };
        let Some(end) = bytes[..n].windows(2).position(|w| w == b"\r\n") else {
            if n >= MUX_LINE_MAX {
                self.end_session(k); // no line in 512 bytes: not a tcpmux client
            }
            return;
        };
        let mut line = vec![0u8; end + 2];
        let _ = std::io::Read::read_exact(&mut &s.socket, &mut line);
        let name = String::from_utf8_lossy(&line[..end]).trim().to_string();
        let Some(s) = self.sessions.try_remove(k) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&s.socket.as_raw_fd()));
        let Work::Mux { peer, .. } = s.work else {
            return;
        };
        let conn = s.socket;
        let muxed = || self.services.iter().filter(|(_, v)| v.def.mux.is_some());
        if name.eq_ignore_ascii_case("help") {
            let mut list = String::new();
            for (_, v) in muxed() {
                list.push_str(&v.def.name);
                list.push_str("\r\n");
            }
            listen::send_banner(&conn, list.as_bytes());
            return;
        }
        let found = muxed()
            .find(|(_, v)| v.def.name.eq_ignore_ascii_case(&name))
            .map(|(sk, v)| (sk, v.serial, v.def.mux == Some(true)));
        let Some((sub, serial, plus)) = found else {
            listen::send_banner(&conn, b"-Service name not found\r\n");
            return;
        };
        // The named service's own limits and access rules apply (xinetd's CVE-2013-4342 fix).
        if !self.admit(sub, Some(peer), true) {
            return;
        }
        let parked = Parked {
            key: sub,
            serial,
            conn,
            peer,
            plus,
        };
        self.refresh_hosts();
        self.decide_and_start(parked, None, false);
    }

    /// `redirect`: connect to the backend without blocking and relay both ways in the daemon.
    fn start_relay(
        &mut self,
        key: usize,
        def: &Rc<Service>,
        conn: Socket,
        peer: SocketAddr,
        to: SocketAddr,
    ) {
        let backend = match listen::connect_nonblocking(to) {
            Ok(b) => b,
            Err(e) => {
                let msg = format!("service {}: can't connect to remote host {to}: {e}", def.id);
                self.logs.daemon(Level::Err, &msg);
                return;
            }
        };
        if conn.set_nonblocking(true).is_err() {
            return;
        }
        let svc = &mut self.services[key];
        self.logs.start(&svc.log, def, 0, Some(peer));
        svc.running += 1;
        svc.sources.increment(peer.ip());
        let (serial, log) = (svc.serial, svc.log.clone());
        let (cfd, bfd) = (conn.as_raw_fd(), backend.as_raw_fd());
        let work = Work::Relay {
            relay: Relay::new(),
            backend,
            to,
            connected: false,
            def: def.clone(),
            log,
        };
        let k = self.sessions.insert(Session {
            socket: conn,
            work,
            key,
            serial,
            peer: peer.ip(),
        });
        // Both sockets stay registered for both directions for the relay's whole life (edge
        // triggered: each event drives the relay until nothing moves).
        let both = Interest::READABLE | Interest::WRITABLE;
        let registry = self.poll.registry();
        if registry
            .register(&mut SourceFd(&cfd), session_token(k), both)
            .is_err()
            || registry
                .register(&mut SourceFd(&bfd), backend_token(k), both)
                .is_err()
        {
            self.end_session(k);
        }
    }

    fn on_session(&mut self, key: usize) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        match &mut s.work {
            Work::Builtin(session) => {
                let step = session.drive(&mut &s.socket);
                self.apply_step(key, step, false);
            }
            Work::Mux { .. } => self.on_mux(key),
            Work::Ident { query, .. } => {
                if let Some(outcome) = query.drive() {
                    self.finish_ident(key, outcome);
                }
            }
            Work::Relay {
                relay,
                backend,
                to,
                connected,
                def,
                ..
            } => {
                if !*connected {
                    match backend.take_error() {
                        Ok(None) if backend.peer_addr().is_ok() => *connected = true,
                        Ok(None) => return, // still connecting
                        Ok(Some(e)) | Err(e) => {
                            let msg = format!(
                                "service {}: can't connect to remote host {to}: {e}",
                                def.id
                            );
                            self.logs.daemon(Level::Err, &msg);
                            self.end_session(key);
                            return;
                        }
                    }
                }
                match relay.drive(&s.socket, backend) {
                    Ok(false) => {}
                    Ok(true) | Err(_) => self.end_session(key),
                }
            }
        }
    }

    fn apply_step(&mut self, key: usize, step: internal::Step, first: bool) {
        let interest = match step {
            internal::Step::Wait {
                read: true,
                write: true,
            } => Interest::READABLE | Interest::WRITABLE,
            internal::Step::Wait {
                read: true,
                write: false,
            } => Interest::READABLE,
            internal::Step::Wait {
                read: false,
                write: true,
            } => Interest::WRITABLE,
            _ => {
                self.end_session(key);
                return;
            }
        };
        let Some(s) = self.sessions.get(key) else {
            return;
        };
        let fd = s.socket.as_raw_fd();
        let registry = self.poll.registry();
        let r = if first {
            registry.register(&mut SourceFd(&fd), session_token(key), interest)
        } else {
            registry.reregister(&mut SourceFd(&fd), session_token(key), interest)
        };
        if r.is_err() {
            self.end_session(key);
        }
    }

    fn end_session(&mut self, key: usize) {
        let Some(s) = self.sessions.try_remove(key) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&s.socket.as_raw_fd()));
        match &s.work {
            Work::Builtin(session) => {
                if session.half_close_before_close() {
                    let _ = s.socket.shutdown(std::net::Shutdown::Write);
                }
            }
            Work::Mux { .. } => return, // never counted as running
            Work::Ident { query, .. } => {
                let fd = query.socket.as_raw_fd();
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
                return; // the parked connection is dropped; it was never counted as running
            }
            Work::Relay {
                relay,
                backend,
                def,
                log,
                ..
            } => {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&backend.as_raw_fd()));
                let (bytes_in, bytes_out) = relay.traffic();
                self.logs.traffic(log, def, bytes_in, bytes_out);
            }
        }
        if let Some(svc) = self
            .services
            .get_mut(s.key)
            .filter(|svc| svc.serial == s.serial)
        {
            svc.running = svc.running.saturating_sub(1);
            svc.sources.decrement(s.peer);
            self.slot_freed(s.key);
        }
    }

    // ----- children ------------------------------------------------------------------------

    fn read_failures(&mut self) {
        for f in self.failures.drain() {
            let msg = match self.children.get(&f.pid) {
                Some(c) => {
                    let path = match &c.def.action {
                        Action::Exec(p) => p.path.clone(),
                        _ => Default::default(),
                    };
                    let why = spawn::describe(f.step, &path, f.errno);
                    format!(
                        "service {}: server {} could not start: {why}",
                        c.def.id, f.pid
                    )
                }
                None => format!(
                    "server {} could not start: {} failed: {}",
                    f.pid,
                    f.step.name(),
                    f.error()
                ),
            };
            self.logs.daemon(Level::Err, &msg);
        }
    }

    fn reap(&mut self) {
        for (pid, exit) in spawn::reap() {
            let Some(child) = self.children.remove(&pid.as_raw()) else {
                self.logs
                    .debug(&format!("unknown child process {pid} exited"));
                continue;
            };
            self.forked = self.forked.saturating_sub(1);
            let lifetime = child.started.elapsed();
            self.logs
                .exit(&child.log, &child.def, pid.as_raw(), exit, lifetime);
            if !self.live(child.key, child.serial) {
                continue; // its socket was replaced or its service removed
            }
            let svc = &mut self.services[child.key];
            svc.running = svc.running.saturating_sub(1);
            if let Some(p) = child.peer {
                svc.sources.decrement(p.ip());
            }
            if child.wait_yes {
                self.after_wait_server(child.key, lifetime);
            } else {
                self.slot_freed(child.key);
            }
        }
    }

    /// Re-arms a `wait = yes` service, unless its server keeps exiting without consuming its
    /// input, in which case superd pauses the service with a growing delay instead of
    /// respawning in a tight loop.
    fn after_wait_server(&mut self, key: usize, lifetime: Duration) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        let Some(sock) = svc.socket.clone() else {
            return;
        };
        let dgram = svc.def.listen.socket_type == SocketType::Dgram;
        let pending = if dgram {
            matches!(listen::peek_peer(&sock), Ok(Some(_)))
        } else {
            readable_now(&sock)
        };
        if lifetime < QUICK_EXIT && pending {
            svc.strikes += 1;
        } else {
            svc.strikes = 0;
            svc.pause = Duration::ZERO;
        }
        if svc.strikes < LOOP_STRIKES {
            self.arm(key);
            return;
        }
        svc.pause = (svc.pause * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let (pause, strikes) = (svc.pause, svc.strikes);
        svc.strikes = 0;
        let mut dropped = "";
        if dgram {
            // Drop the datagram the server keeps failing on.
            let mut b = [0u8; 1];
            if matches!(listen::recv_dgram(&sock, &mut b), Ok(Some(_))) {
                dropped = "; the datagram it did not read was discarded";
            }
        }
        let msg = format!(
            "service {}: server exited {strikes} times in a row without reading its input; \
             respawn loop, pausing the service for {} s{dropped}",
            svc.def.id,
            pause.as_secs()
        );
        self.logs.daemon(Level::Err, &msg);
        self.pause(key, pause);
    }

    // ----- reload, termination, dump ---------------------------------------------------------

    fn reload(&mut self) {
        self.logs.daemon(Level::Notice, "reconfiguring (SIGHUP)");
        // Pick up a changed /etc/localtime or TZ for log stamps, daytime and the dump.
        crate::clock::reset_zone();
        let table = match crate::runtime::load_table(&self.settings) {
            Ok((table, _system)) => table,
            Err(msg) => {
                self.logs.daemon(
                    Level::Err,
                    &format!("reconfiguration failed: {msg}; keeping the current configuration"),
                );
                return;
            }
        };
        for d in &table.diagnostics {
            let level = if d.severity == crate::config::model::Severity::Error {
                Level::Err
            } else {
                Level::Warning
            };
            self.logs.daemon(level, &d.to_string());
        }
        let plan = reload::plan(self.services.iter().map(|(_, s)| &*s.def), &table);
        let mut new_defs: HashMap<String, Service> = table
            .services
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        self.logs.reopen();
        // id -> key, for this reload only (ids are unique in a table).
        let keys: HashMap<String, usize> = self
            .services
            .iter()
            .map(|(k, s)| (s.def.id.clone(), k))
            .collect();
        let key_of = |ids: &HashMap<String, usize>, id: &str| ids.get(id).copied();
        for id in plan.removed.iter().chain(&plan.reopened) {
            if let Some(key) = key_of(&keys, id) {
                self.close_service(key, true);
            }
        }
        for id in &plan.removed {
            if let Some(key) = key_of(&keys, id) {
                self.services.remove(key);
                self.logs
                    .daemon(Level::Notice, &format!("service {id} deactivated"));
            }
        }
        for id in &plan.kept_invalid {
            self.logs.daemon(
                Level::Warning,
                &format!("service {id}: new definition is invalid; keeping the previous one"),
            );
        }
        for id in plan
            .updated
            .iter()
            .chain(&plan.unchanged)
            .chain(&plan.reopened)
        {
            if let (Some(def), Some(key)) = (new_defs.remove(id), key_of(&keys, id)) {
                let log = self.logs.service_log(&def);
                let svc = &mut self.services[key];
                if svc.def.cps != def.cps {
                    svc.cps = Cps::for_service(def.cps, matches!(def.action, Action::Internal(_)));
                }
                svc.def = Rc::new(def);
                svc.log = log;
            }
        }
        for id in &plan.reopened {
            if let Some(key) = key_of(&keys, id) {
                self.open_socket(key);
            }
        }
        for id in &plan.added {
            if let Some(def) = new_defs.remove(id) {
                self.add_service(def);
            }
        }
        self.logs.forget_unused();
        crate::spawn::release_free_memory();
        let kept = plan.unchanged.len()
            + plan.updated.len()
            + plan.reopened.len()
            + plan.kept_invalid.len();
        self.logs.daemon(
            Level::Notice,
            &format!(
                "Reconfigured: new={} old={kept} dropped={} (services)",
                plan.added.len(),
                plan.removed.len()
            ),
        );
    }

    /// Removes every RPC registration (SIGQUIT; SIGTERM does it by closing the sockets).
    fn unregister_rpc(&mut self) {
        for (_, svc) in self.services.iter() {
            if let (Some(_), Some((program, (low, high)))) = (&svc.socket, svc.def.rpc) {
                for v in low..=high {
                    let _ = portmap::unset(program, v);
                }
            }
        }
    }

    /// SIGTERM: close every socket, ask every server to stop, wait a little, then insist.
    fn terminate(&mut self) {
        let keys: Vec<usize> = self.services.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close_service(key, false);
        }
        let sessions: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for k in sessions {
            self.end_session(k);
        }
        let mut pids: Vec<Pid> = self.children.keys().map(|p| Pid::from_raw(*p)).collect();
        self.logs.daemon(
            Level::Notice,
            &format!(
                "exiting on SIGTERM; stopping {} running servers",
                pids.len()
            ),
        );
        for pid in &pids {
            spawn::signal(*pid, Signal::SIGTERM);
        }
        let reaped = spawn::wait_all(&mut pids, Duration::from_secs(3));
        self.log_reaped(reaped);
        for pid in &pids {
            self.logs.daemon(
                Level::Warning,
                &format!("server {pid} ignored SIGTERM; sending SIGKILL"),
            );
            spawn::signal(*pid, Signal::SIGKILL);
        }
        let reaped = spawn::wait_all(&mut pids, Duration::from_secs(2));
        self.log_reaped(reaped);
    }

    fn log_reaped(&mut self, reaped: Vec<(Pid, Exit)>) {
        for (pid, exit) in reaped {
            if let Some(c) = self.children.remove(&pid.as_raw()) {
                self.logs
                    .exit(&c.log, &c.def, pid.as_raw(), exit, c.started.elapsed());
            }
        }
    }

    fn write_dump(&mut self) {
        let text = crate::runtime::dump::render(self.dump_view());
        let path = self.settings.dump_file.clone();
        match crate::runtime::dump::write(&path, &text) {
            Ok(()) => self.logs.daemon(
                Level::Notice,
                &format!("generated state dump in file {}", path.display()),
            ),
            Err(e) => self.logs.daemon(
                Level::Err,
                &format!("cannot write state dump {}: {e}", path.display()),
            ),
        }
    }

    fn dump_view(&self) -> crate::runtime::dump::View<'_> {
        use crate::runtime::dump::{ChildView, ServiceView, View};
        View {
            started: self.started_wall,
            config_file: &self.settings.config_file,
            services: self
                .services
                .iter()
                .map(|(_, s)| ServiceView {
                    def: &s.def,
                    local: s
                        .socket
                        .as_ref()
                        .and_then(|x| x.local_addr().ok())
                        .and_then(|a| a.as_socket()),
                    active: s.socket.is_some(),
                    armed: s.armed,
                    running: s.running,
                    connections: s.connections,
                    cps_paused: s
                        .cps
                        .resume_at()
                        .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                })
                .collect(),
            children: self
                .children
                .iter()
                .map(|(pid, c)| ChildView {
                    pid: *pid,
                    service: &c.def.id,
                    peer: c.peer,
                    started: c.started_wall,
                })
                .collect(),
            sessions: self.sessions.len(),
            forked: self.forked,
            denied: self
                .sensors
                .entries()
                .map(|(ip, t)| {
                    (
                        ip,
                        t.map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
                    )
                })
                .collect(),
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
