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
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
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

use crate::config::model::{Level, Limit, SocketType};
use crate::internal::{self, Builtin, StreamSession};
use crate::listen;
use crate::runtime::logging::{FailReason, Logs};
use crate::runtime::reload;
use crate::runtime::Settings;
use crate::spawn::{self, Exit, FailurePipe};
use crate::table::{self, Action, Service, ServiceTable, System};

const SIGNALS: Token = Token(0);
const FAILURES: Token = Token(1);
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
fn session_token(key: usize) -> Token {
    Token(3 + 2 * key)
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
    socket: Option<Rc<Socket>>,
    /// Key in `Daemon::listeners` while the socket is registered with the poll.
    listener: Option<usize>,
    /// Running forked servers and in-daemon sessions.
    running: usize,
    /// Consecutive quick exits of a `wait = yes` server with input still pending.
    strikes: u32,
    pause: Duration,
    /// Bumped whenever the socket is replaced, so stale timers are ignored.
    generation: u64,
    /// Connections handled (for the dump).
    connections: u64,
}

struct Child {
    service: String,
    def: Rc<Service>,
    started: Instant,
    started_wall: SystemTime,
    peer: Option<SocketAddr>,
    wait_yes: bool,
}

struct Session {
    socket: Socket,
    session: StreamSession,
    service: String,
    peer: SocketAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Rearm(String, u64),
    RetryBind(String, u64),
}

pub struct Daemon {
    settings: Settings,
    poll: Poll,
    signals: SignalFlags,
    failures: FailurePipe,
    logs: Logs,
    services: HashMap<String, Svc>,
    /// Service order as configured (for the dump and start-up messages).
    order: Vec<String>,
    listeners: Slab<String>,
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
        let mut d = Daemon {
            settings,
            poll,
            signals,
            failures,
            logs,
            services: HashMap::new(),
            order: Vec::new(),
            listeners: Slab::new(),
            sessions: Slab::new(),
            children: HashMap::new(),
            timers: BinaryHeap::new(),
            forked: 0,
            started_wall: SystemTime::now(),
            dgram_buf: vec![0; 65536],
            reply_buf: Vec::with_capacity(2048),
            again: Vec::new(),
        };
        for svc in table.services {
            d.add_service(svc);
        }
        Ok(d)
    }

    pub fn available(&self) -> usize {
        self.services
            .values()
            .filter(|s| s.socket.is_some())
            .count()
    }

    pub fn logs(&mut self) -> &mut Logs {
        &mut self.logs
    }

    // ----- services and sockets -------------------------------------------------------------

    fn add_service(&mut self, def: Service) {
        let id = def.id.clone();
        self.order.push(id.clone());
        self.logs.open_service(&def);
        self.services.insert(
            id.clone(),
            Svc {
                def: Rc::new(def),
                socket: None,
                listener: None,
                running: 0,
                strikes: 0,
                pause: Duration::ZERO,
                generation: 0,
                connections: 0,
            },
        );
        self.open_socket(&id);
    }

    fn open_socket(&mut self, id: &str) {
        let Some(svc) = self.services.get(id) else {
            return;
        };
        let spec = svc.def.listen.clone();
        let result = listen::open(&spec).or_else(|e| {
            // No IPv6 on this host: the dual-stack default falls back to IPv4.
            if e.raw_os_error() == Some(libc::EAFNOSUPPORT)
                && spec.addr.ip().is_unspecified()
                && spec.addr.is_ipv6()
            {
                let mut v4 = spec.clone();
                v4.addr = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), spec.addr.port());
                listen::open(&v4)
            } else {
                Err(e)
            }
        });
        match result {
            Ok(sock) => {
                let sock = Rc::new(sock);
                if let Some(svc) = self.services.get_mut(id) {
                    svc.socket = Some(sock);
                }
                self.arm(id);
                self.logs.debug(&format!(
                    "service {id}: listening on {} {}",
                    spec.addr,
                    svc_proto(&spec.socket_type)
                ));
            }
            Err(e) => {
                self.logs.daemon(
                    Level::Err,
                    &format!(
                        "service {id}: cannot bind {} {}: {e}; retrying every {} s",
                        spec.addr,
                        svc_proto(&spec.socket_type),
                        BIND_RETRY.as_secs()
                    ),
                );
                let gen = self.services.get(id).map_or(0, |s| s.generation);
                self.timers.push(Reverse((
                    Instant::now() + BIND_RETRY,
                    Timer::RetryBind(id.to_string(), gen),
                )));
            }
        }
    }

    /// Starts watching a service's socket.
    fn arm(&mut self, id: &str) {
        let Some(svc) = self.services.get_mut(id) else {
            return;
        };
        if svc.listener.is_some() {
            return;
        }
        let Some(sock) = &svc.socket else { return };
        let key = self.listeners.insert(id.to_string());
        let fd = sock.as_raw_fd();
        if let Err(e) = self.poll.registry().register(
            &mut SourceFd(&fd),
            listener_token(key),
            Interest::READABLE,
        ) {
            self.listeners.remove(key);
            self.logs.daemon(
                Level::Err,
                &format!("service {id}: cannot watch its socket: {e}"),
            );
            return;
        }
        svc.listener = Some(key);
    }

    /// Stops watching a service's socket (it stays open).
    fn disarm(&mut self, id: &str) {
        let Some(svc) = self.services.get_mut(id) else {
            return;
        };
        if let Some(key) = svc.listener.take() {
            self.listeners.remove(key);
            if let Some(sock) = &svc.socket {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&sock.as_raw_fd()));
            }
        }
    }

    /// Closes a service's socket and stops its servers and sessions.
    fn close_service(&mut self, id: &str, kill: bool) {
        self.disarm(id);
        if let Some(svc) = self.services.get_mut(id) {
            svc.socket = None;
            svc.generation += 1;
        }
        if kill {
            let pids: Vec<i32> = self
                .children
                .iter()
                .filter(|(_, c)| c.service == id)
                .map(|(p, _)| *p)
                .collect();
            for pid in pids {
                self.logs.daemon(
                    Level::Warning,
                    &format!("service {id}: sending signal 9 to drop server {pid}"),
                );
                spawn::signal(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let keys: Vec<usize> = self
                .sessions
                .iter()
                .filter(|(_, s)| s.service == id)
                .map(|(k, _)| k)
                .collect();
            for k in keys {
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
                    Token(t) if t % 2 == 0 => self.on_listener((t - 2) / 2),
                    Token(t) => self.on_session((t - 3) / 2),
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
                self.logs.daemon(Level::Err, "no services left after reconfiguration; exiting (use -stayalive to keep running)");
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
                Timer::Rearm(id, gen) => {
                    if self
                        .services
                        .get(&id)
                        .is_some_and(|s| s.generation == gen && s.socket.is_some())
                    {
                        self.logs.daemon(
                            Level::Notice,
                            &format!("service {id}: resuming after respawn pause"),
                        );
                        self.arm(&id);
                    }
                }
                Timer::RetryBind(id, gen) => {
                    if self
                        .services
                        .get(&id)
                        .is_some_and(|s| s.generation == gen && s.socket.is_none())
                    {
                        self.open_socket(&id);
                    }
                }
            }
        }
    }

    // ----- connections ---------------------------------------------------------------------

    fn on_listener(&mut self, key: usize) {
        let Some(id) = self.listeners.get(key).cloned() else {
            return;
        };
        let Some(svc) = self.services.get(&id) else {
            return;
        };
        let def = svc.def.clone();
        let Some(sock) = svc.socket.clone() else {
            return;
        };
        match (def.listen.socket_type, def.wait, &def.action) {
            (SocketType::Dgram, _, Action::Internal(b)) => {
                if self.serve_dgram_internal(&def, &sock, *b) {
                    self.again.push(listener_token(key));
                }
            }
            (_, true, Action::Exec(_)) => self.start_wait_server(&def, &sock),
            _ => {
                for n in 0.. {
                    if n == ACCEPT_BATCH {
                        self.again.push(listener_token(key));
                        break;
                    }
                    match listen::accept(&sock) {
                        Ok(Some((conn, peer))) => self.on_connection(&def, conn, peer),
                        Ok(None) => break,
                        Err(e) => {
                            self.on_accept_error(&id, e);
                            break;
                        }
                    }
                }
            }
        }
    }

    fn on_accept_error(&mut self, id: &str, e: io::Error) {
        self.logs
            .daemon(Level::Err, &format!("service {id}: accept failed: {e}"));
        if matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        ) {
            // Out of descriptors or memory: stop watching for a moment instead of spinning.
            self.disarm(id);
            let gen = self.services.get(id).map_or(0, |s| s.generation);
            self.timers.push(Reverse((
                Instant::now() + Duration::from_secs(1),
                Timer::Rearm(id.to_string(), gen),
            )));
        }
    }

    /// Limits that apply before anything is started. xinetd's order: instances, then -limit.
    fn admit(&self, def: &Service, forks: bool) -> Option<FailReason> {
        let svc = self.services.get(&def.id)?;
        if let Limit::Max(n) = def.instances {
            if svc.running >= n as usize {
                return Some(FailReason::ServiceLimit);
            }
        }
        if forks {
            if let Some(limit) = self.settings.limit {
                if self.forked >= limit as usize {
                    return Some(FailReason::ProcessLimit);
                }
            }
        }
        None
    }

    fn on_connection(&mut self, def: &Rc<Service>, conn: Socket, peer: SocketAddr) {
        let forks = matches!(def.action, Action::Exec(_));
        if let Some(reason) = self.admit(def, forks) {
            self.logs.fail(def, reason, Some(peer));
            return; // dropping `conn` closes it, as xinetd does
        }
        if let Some(svc) = self.services.get_mut(&def.id) {
            svc.connections += 1;
        }
        match &def.action {
            Action::Internal(b) => self.start_session(def, conn, peer, *b),
            Action::Exec(plan) => {
                let host = peer.ip().to_string();
                match spawn::spawn(plan, conn.as_raw_fd(), Some(&host), &self.failures) {
                    Ok(pid) => self.started(def, pid, Some(peer), false),
                    Err(e) => {
                        self.logs
                            .daemon(Level::Err, &format!("service {}: fork failed: {e}", def.id));
                        self.logs.fail(def, FailReason::Fork, Some(peer));
                    }
                }
            }
        }
    }

    fn started(&mut self, def: &Rc<Service>, pid: Pid, peer: Option<SocketAddr>, wait_yes: bool) {
        self.logs.start(def, pid.as_raw(), peer);
        self.forked += 1;
        if let Some(svc) = self.services.get_mut(&def.id) {
            svc.running += 1;
        }
        self.children.insert(
            pid.as_raw(),
            Child {
                service: def.id.clone(),
                def: def.clone(),
                started: Instant::now(),
                started_wall: SystemTime::now(),
                peer,
                wait_yes,
            },
        );
    }

    /// `wait = yes`: the server gets the socket itself; superd stops watching it until the
    /// server exits.
    fn start_wait_server(&mut self, def: &Rc<Service>, sock: &Rc<Socket>) {
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
        if let Some(reason) = self.admit(def, true) {
            self.logs.fail(def, reason, peer);
            self.disarm(&def.id);
            let gen = self.services.get(&def.id).map_or(0, |s| s.generation);
            self.timers.push(Reverse((
                Instant::now() + Duration::from_secs(1),
                Timer::Rearm(def.id.clone(), gen),
            )));
            return;
        }
        self.disarm(&def.id);
        if let Some(svc) = self.services.get_mut(&def.id) {
            svc.connections += 1;
        }
        let host = peer.map(|p| p.ip().to_string());
        match spawn::spawn(plan, sock.as_raw_fd(), host.as_deref(), &self.failures) {
            Ok(pid) => self.started(def, pid, peer, true),
            Err(e) => {
                self.logs
                    .daemon(Level::Err, &format!("service {}: fork failed: {e}", def.id));
                self.logs.fail(def, FailReason::Fork, peer);
                let gen = self.services.get(&def.id).map_or(0, |s| s.generation);
                self.timers.push(Reverse((
                    Instant::now() + Duration::from_secs(1),
                    Timer::Rearm(def.id.clone(), gen),
                )));
            }
        }
    }

    /// Answers queued datagrams; true when the batch ran out with more possibly queued.
    fn serve_dgram_internal(&mut self, def: &Rc<Service>, sock: &Socket, b: Builtin) -> bool {
        let now = SystemTime::now();
        for _ in 0..ACCEPT_BATCH {
            let (n, from) = match listen::recv_dgram(sock, &mut self.dgram_buf) {
                Ok(Some(x)) => x,
                Ok(None) => return false,
                Err(e) => {
                    // ICMP errors from earlier replies surface here; the socket is still fine.
                    self.logs
                        .debug(&format!("service {}: recvfrom: {e}", def.id));
                    continue;
                }
            };
            let peer = from.as_socket().map(listen::unmap);
            self.logs.start_internal(def, peer);
            self.reply_buf.clear();
            if internal::dgram_reply(b, &self.dgram_buf[..n], now, &mut self.reply_buf) {
                let _ = listen::send_dgram(sock, &self.reply_buf, &from);
            }
        }
        true
    }

    fn start_session(&mut self, def: &Rc<Service>, conn: Socket, peer: SocketAddr, b: Builtin) {
        if conn.set_nonblocking(true).is_err() {
            return;
        }
        let session = StreamSession::new(b, SystemTime::now());
        if session.shutdown_read_at_start() {
            let _ = conn.shutdown(std::net::Shutdown::Read);
        }
        let interest = session.initial_interest();
        self.logs.start_internal(def, Some(peer));
        let key = self.sessions.insert(Session {
            socket: conn,
            session,
            service: def.id.clone(),
            peer,
        });
        if let Some(svc) = self.services.get_mut(&def.id) {
            svc.running += 1;
        }
        self.apply_step(key, interest, true);
    }

    fn on_session(&mut self, key: usize) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let step = s.session.drive(&mut &s.socket);
        self.apply_step(key, step, false);
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
        let r = if first {
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), session_token(key), interest)
        } else {
            self.poll
                .registry()
                .reregister(&mut SourceFd(&fd), session_token(key), interest)
        };
        if r.is_err() {
            self.end_session(key);
        }
    }

    fn end_session(&mut self, key: usize) {
        if let Some(s) = self.sessions.try_remove(key) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&s.socket.as_raw_fd()));
            if s.session.half_close_before_close() {
                let _ = s.socket.shutdown(std::net::Shutdown::Write);
            }
            if let Some(svc) = self.services.get_mut(&s.service) {
                svc.running = svc.running.saturating_sub(1);
            }
            let _ = s.peer;
        }
    }

    // ----- children ------------------------------------------------------------------------

    fn read_failures(&mut self) {
        for f in self.failures.drain() {
            match self.children.get(&f.pid) {
                Some(c) => {
                    let path = match &c.def.action {
                        Action::Exec(p) => p.path.clone(),
                        Action::Internal(_) => Default::default(),
                    };
                    let msg = spawn::describe(f.step, &path, f.errno);
                    self.logs.daemon(
                        Level::Err,
                        &format!(
                            "service {}: server {} could not start: {msg}",
                            c.service, f.pid
                        ),
                    );
                }
                None => self.logs.daemon(
                    Level::Err,
                    &format!(
                        "server {} could not start: {} failed: {}",
                        f.pid,
                        f.step.name(),
                        f.error()
                    ),
                ),
            }
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
            self.logs.exit(&child.def, pid.as_raw(), exit, lifetime);
            let current = self.services.get_mut(&child.service);
            let Some(svc) = current else { continue };
            if !Rc::ptr_eq(&svc.def, &child.def) && svc.def.listen != child.def.listen {
                continue; // the service was replaced; its new socket is managed separately
            }
            svc.running = svc.running.saturating_sub(1);
            if child.wait_yes {
                self.after_wait_server(&child.service, lifetime);
            }
        }
    }

    /// Re-arms a `wait = yes` service, unless its server keeps exiting without consuming its
    /// input, in which case superd pauses the service with a growing delay instead of
    /// respawning in a tight loop.
    fn after_wait_server(&mut self, id: &str, lifetime: Duration) {
        let Some(svc) = self.services.get_mut(id) else {
            return;
        };
        let Some(sock) = svc.socket.clone() else {
            return;
        };
        let pending = match svc.def.listen.socket_type {
            SocketType::Dgram => matches!(listen::peek_peer(&sock), Ok(Some(_))),
            _ => readable_now(&sock),
        };
        if lifetime < QUICK_EXIT && pending {
            svc.strikes += 1;
        } else {
            svc.strikes = 0;
            svc.pause = Duration::ZERO;
        }
        if svc.strikes >= LOOP_STRIKES {
            svc.pause = (svc.pause * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
            let pause = svc.pause;
            let gen = svc.generation;
            let strikes = svc.strikes;
            svc.strikes = 0;
            let mut dropped = "";
            if svc.def.listen.socket_type == SocketType::Dgram {
                // Drop the datagram the server keeps failing on.
                let mut b = [0u8; 1];
                if matches!(listen::recv_dgram(&sock, &mut b), Ok(Some(_))) {
                    dropped = "; the datagram it did not read was discarded";
                }
            }
            self.logs.daemon(
                Level::Err,
                &format!(
                    "service {id}: server exited {strikes} times in a row without reading its input; respawn loop, pausing the service for {} s{dropped}",
                    pause.as_secs()
                ),
            );
            self.timers.push(Reverse((
                Instant::now() + pause,
                Timer::Rearm(id.to_string(), gen),
            )));
        } else {
            self.arm(id);
        }
    }

    // ----- reload, termination, dump ---------------------------------------------------------

    fn reload(&mut self) {
        self.logs.daemon(Level::Notice, "reconfiguring (SIGHUP)");
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
        let old: Vec<Service> = self
            .order
            .iter()
            .filter_map(|id| self.services.get(id))
            .map(|s| (*s.def).clone())
            .collect();
        let plan = reload::plan(old.iter(), &table);
        let mut new_defs: HashMap<String, Service> = table
            .services
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        self.logs.reopen();
        for id in plan.removed.iter().chain(&plan.reopened) {
            self.close_service(id, true);
        }
        for id in &plan.removed {
            self.services.remove(id);
            self.order.retain(|o| o != id);
            self.logs
                .daemon(Level::Notice, &format!("service {id} deactivated"));
        }
        for id in &plan.kept_invalid {
            self.logs.daemon(
                Level::Warning,
                &format!("service {id}: new definition is invalid; keeping the previous one"),
            );
        }
        for id in plan.updated.iter().chain(&plan.unchanged) {
            if let (Some(def), Some(svc)) = (new_defs.remove(id), self.services.get_mut(id)) {
                self.logs.open_service(&def);
                svc.def = Rc::new(def);
            }
        }
        for id in &plan.reopened {
            if let Some(def) = new_defs.remove(id) {
                self.logs.open_service(&def);
                if let Some(svc) = self.services.get_mut(id) {
                    svc.def = Rc::new(def);
                    svc.running = 0;
                    svc.strikes = 0;
                }
                self.open_socket(id);
            }
        }
        for id in &plan.added {
            if let Some(def) = new_defs.remove(id) {
                self.add_service(def);
            }
        }
        self.logs.daemon(
            Level::Notice,
            &format!(
                "Reconfigured: new={} old={} dropped={} (services)",
                plan.added.len(),
                plan.unchanged.len()
                    + plan.updated.len()
                    + plan.reopened.len()
                    + plan.kept_invalid.len(),
                plan.removed.len()
            ),
        );
    }

    /// SIGTERM: close every socket, ask every server to stop, wait a little, then insist.
    fn terminate(&mut self) {
        let ids: Vec<String> = self.services.keys().cloned().collect();
        for id in &ids {
            self.close_service(id, false);
        }
        let keys: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for k in keys {
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
                    .exit(&c.def, pid.as_raw(), exit, c.started.elapsed());
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
                .order
                .iter()
                .filter_map(|id| self.services.get(id))
                .map(|s| ServiceView {
                    def: &s.def,
                    local: s
                        .socket
                        .as_ref()
                        .and_then(|x| x.local_addr().ok())
                        .and_then(|a| a.as_socket()),
                    active: s.socket.is_some(),
                    armed: s.listener.is_some(),
                    running: s.running,
                    connections: s.connections,
                })
                .collect(),
            children: self
                .children
                .iter()
                .map(|(pid, c)| ChildView {
                    pid: *pid,
                    service: &c.service,
                    peer: c.peer,
                    started: c.started_wall,
                })
                .collect(),
            sessions: self.sessions.len(),
            forked: self.forked,
        }
    }
}

fn svc_proto(t: &SocketType) -> &'static str {
    match t {
        SocketType::Dgram => "udp",
        _ => "tcp",
    }
}

/// Whether a listening socket has a connection waiting (non-blocking check).
fn readable_now(sock: &Socket) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(sock),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}

#[allow(dead_code)]
fn _uses(_: &table::System, _: &System) {}
