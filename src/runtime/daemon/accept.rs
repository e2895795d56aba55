//! Connections, from the listening socket to a started server or session.
//!
//! The order of the checks is xinetd's: cps, max_load, access_times, instances, per_source and
//! -limit (`admit`), then the address rules (with the client's name when a rule needs it, asked
//! off the loop), then the ident query when one is wanted, then hosts.allow/hosts.deny; a
//! refusal costs no fork. `wait = yes` servers and internal datagram services are handled here
//! too.

use std::cmp::Reverse;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use mio::unix::SourceFd;
use mio::Interest;
use nix::unistd::Pid;
use socket2::Socket;

use super::wrappers::Wrapped;
use super::{
    backend_token, listener_token, readable_now, Child, Daemon, Parked, Session, Svc, Timer, Who,
    Work, ACCEPT_BATCH, IDENT_TIMEOUT, LOOKUP_TIMEOUT, REAP_BATCH,
};
use crate::access::address::AddressVerdict;
use crate::clock::LocalTime;
use crate::config::model::{DenyTime, Level, SocketType};
use crate::internal::{self, Builtin};
use crate::limits::{self, Checks, ProcessLimit, Refusal, SensorAdd, LOADAVG_PATH};
use crate::listen;
use crate::log::NoidReason;
use crate::runtime::ident::{Outcome, Query};
use crate::runtime::logging::FailReason;
use crate::runtime::lookup::Request;
use crate::spawn;
use crate::table::{Action, Service};

impl Daemon {
    pub(super) fn on_listener(&mut self, key: usize) {
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
        if def.libwrap_daemon().is_some() && self.hosts_watch.take_changed() {
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
                        self.reap_unannounced();
                    }
                    if def.defer && self.at_instances_limit(key) {
                        // on_limit = defer: leave clients in the listen queue until a slot frees,
                        // which only a child's exit or a session's end can do: have exits
                        // announced at once.
                        self.disarm(key);
                        self.services[key].deferred = true;
                        self.close_reap_window();
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

    pub(super) fn on_accept_error(&mut self, key: usize, e: io::Error) {
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
    pub(super) fn admit(&mut self, key: usize, peer: Option<SocketAddr>, forks: bool) -> bool {
        let Some(svc) = self.services.get(key) else {
            return false;
        };
        if self.reap_window && limits::at_a_count_limit(&self.counted(svc, peer, forks)) {
            self.reap(); // servers that exited unannounced must not count
        }
        let svc = &self.services[key];
        let load = svc
            .def
            .max_load
            .and_then(|_| limits::read_loadavg(Path::new(LOADAVG_PATH)));
        let in_access_times = svc.def.access().access_times.as_ref().is_none_or(|t| {
            let now = LocalTime::local(SystemTime::now());
            t.allows(u16::from(now.hour) * 60 + u16::from(now.minute))
        });
        let checks = Checks {
            max_load: svc.def.max_load,
            load,
            in_access_times,
            ..self.counted(svc, peer, forks)
        };
        let mut cps = svc.cps;
        let verdict = limits::admit(&checks, &mut cps);
        self.services[key].cps = cps;
        let refusal = match verdict {
            Ok(()) => return true,
            Err(r) => r,
        };
        let svc = &self.services[key];
        self.logs.fail(&svc.log, &svc.def, refusal.reason(), peer);
        match refusal {
            Refusal::CpsTripped { resume_at } => {
                let wait = resume_at
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .round();
                self.logs.daemon(
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
                self.logs.daemon(
                    Level::Err,
                    &format!("refused connect from {from} due to excessive load"),
                );
            }
            _ => {}
        }
        false
    }

    /// The checks of a connection to `svc` from `peer` with the counts of running servers
    /// filled in (instances, per_source, -limit) and the other checks passing; `admit` fills
    /// those in.
    fn counted<'a>(&self, svc: &'a Svc, peer: Option<SocketAddr>, forks: bool) -> Checks<'a> {
        Checks {
            now: Instant::now(),
            max_load: None,
            load: None,
            in_access_times: true,
            instances: svc.def.instances,
            running: svc.running,
            per_source: svc.def.per_source,
            peer: peer.map(|p| p.ip()),
            sources: &svc.sources,
            process_limit: ProcessLimit(self.settings.limit),
            processes: self.forked,
            forks,
        }
    }

    /// cps tripped: close the socket, as xinetd does (new clients are refused rather than
    /// queued), and open it again when the pause is over.
    pub(super) fn pause_for_cps(&mut self, key: usize, resume_at: Instant) {
        self.disarm(key);
        let svc = &mut self.services[key];
        svc.socket = None;
        let serial = svc.serial;
        self.timers
            .push(Reverse((resume_at, Timer::CpsResume(key, serial))));
    }

    pub(super) fn on_connection(
        &mut self,
        key: usize,
        def: &Rc<Service>,
        conn: Socket,
        peer: SocketAddr,
    ) {
        let forks = matches!(def.action, Action::Exec(_));
        // `banner` goes out before any check, as xinetd sends it.
        if let Some(b) = &def.banners().always {
            listen::send_banner(&conn, b);
        }
        let serial = self.services[key].serial;
        let parked = Parked {
            plus: false,
            key,
            serial,
            conn,
            peer,
        };
        if !self.admit(key, Some(peer), forks) {
            self.refused(parked, false);
            return;
        }
        if self.needs_name(def) {
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

    pub(super) fn on_lookups(&mut self) {
        for answer in self.lookups.answers() {
            if let Some(p) = self.parked.remove(&answer.id) {
                self.decide_and_start(p, answer.name.as_deref(), answer.verified);
            } else {
                self.dgram_name_known(answer.id, answer.name, answer.verified);
            }
        }
    }

    /// For a datagram from `peer` to a service whose rules need the client's name: the name
    /// (from the cache of recent answers), or `None` after starting a lookup, in which case
    /// the service stops reading its socket until the answer (or the timeout) comes: the
    /// datagram waits in the socket, not in superd.
    fn dgram_name(&mut self, key: usize, peer: SocketAddr) -> Option<(Option<String>, bool)> {
        let ip = listen::unmap(peer).ip();
        if let Some(c) = self.names.get(ip, Instant::now()) {
            return Some((c.name.clone(), c.verified));
        }
        self.disarm(key);
        self.next_lookup += 1;
        let id = self.next_lookup;
        self.lookups.ask(Request { id, addr: ip });
        let serial = self.services[key].serial;
        self.waiting_names.insert(id, (key, serial, ip));
        self.later(LOOKUP_TIMEOUT, Timer::LookupTimeout(id));
        None
    }

    /// A datagram client's name came (or its lookup timed out, `name` = `None`): remember it
    /// and read the service's socket again.
    pub(super) fn dgram_name_known(&mut self, id: u64, name: Option<String>, verified: bool) {
        let Some((key, serial, ip)) = self.waiting_names.remove(&id) else {
            return;
        };
        self.names.insert(ip, name, verified, Instant::now());
        if self.live(key, serial) {
            self.arm(key);
        }
    }

    /// Whether the rules of a service need its clients' names.
    fn needs_name(&self, def: &Service) -> bool {
        def.access().needs_name()
            || (def.libwrap_daemon().is_some() && self.hosts_needs().client_name)
    }

    /// Whether the address rules let `peer` in; a refusal is logged as xinetd logs it (for a
    /// datagram, at most once a minute per sender).
    pub(super) fn address_allows(
        &mut self,
        key: usize,
        peer: SocketAddr,
        name: Option<&str>,
        dgram: bool,
    ) -> bool {
        let ip = listen::unmap(peer).ip();
        let now = Instant::now();
        let quiet = |d: &mut Daemon| dgram && !d.dgram_gate.pass(peer, now);
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
            if !quiet(self) {
                let svc = &self.services[key];
                self.logs
                    .fail(&svc.log, &svc.def, FailReason::Address, Some(peer));
            }
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
            _ if quiet(self) => false,
            verdict => {
                let svc = &self.services[key];
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
    pub(super) fn decide_and_start(&mut self, p: Parked, name: Option<&str>, verified: bool) {
        if !self.live(p.key, p.serial) {
            return; // the service was removed or re-addressed meanwhile
        }
        if !self.address_allows(p.key, p.peer, name, false) {
            self.refused(p, false);
            return;
        }
        let def = self.services[p.key].def.clone();
        let wants_ident = def.idonly
            || def.log_on_success.userid
            || (def.libwrap_daemon().is_some() && self.hosts_needs().client_user);
        if wants_ident {
            self.start_ident(p, name.map(str::to_owned), verified, false);
        } else {
            self.finish_admission(p, name, verified, None);
        }
    }

    /// Sends `banner_fail` and drops the connection (closing it, as xinetd does), unless
    /// `log_on_failure` has USERID and no ident query was made for it yet: then the client's
    /// identd is asked first (at most `-logprocs` such queries at a time; past that the
    /// connection is dropped unasked, as xinetd does).
    pub(super) fn refused(&mut self, p: Parked, ident_done: bool) {
        let Some(svc) = self.services.get(p.key) else {
            return;
        };
        if let Some(b) = &svc.def.banners().fail {
            listen::send_banner(&p.conn, b);
        }
        let wanted = svc.def.log_on_failure.userid && !ident_done;
        if wanted && self.failure_idents < self.settings.logprocs {
            self.failure_idents += 1;
            self.start_ident(p, None, false, true);
        }
    }

    /// Parks the connection while its client's identd is asked who it is; `after_refusal`:
    /// only to log the answer (USERID in `log_on_failure`) before the connection is dropped.
    pub(super) fn start_ident(
        &mut self,
        p: Parked,
        name: Option<String>,
        verified: bool,
        after_refusal: bool,
    ) {
        let local = p.conn.local_addr().ok().and_then(|a| a.as_socket());
        let query = local.map(|l| Query::start(l, p.peer));
        let Some(Ok(query)) = query else {
            if after_refusal {
                self.failure_idents -= 1;
                let svc = &self.services[p.key];
                self.logs
                    .noid(&svc.log, &svc.def, p.peer, NoidReason::SystemError);
                return;
            }
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
            after_refusal,
        };
        // The session's socket is the waiting client's connection, not watched meanwhile; the
        // query's socket is registered under the session's second token.
        let k = self.add_session(conn, work, key, serial, peer.ip());
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
    pub(super) fn finish_ident(&mut self, k: usize, outcome: Outcome) {
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
            after_refusal,
            ..
        } = work
        else {
            return; // not an ident session (cannot happen)
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&query.socket.as_raw_fd()));
        if after_refusal {
            self.failure_idents -= 1;
            if self.live(key, serial) {
                let svc = &self.services[key];
                match outcome {
                    Outcome::User { text, .. } => self.logs.userid(&svc.log, &svc.def, &text),
                    Outcome::NoId(reason) => self.logs.noid(&svc.log, &svc.def, peer, reason),
                }
            }
            return; // `socket`, the refused connection, is closed now
        }
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
    pub(super) fn finish_admission(
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
            self.refused(p, true);
            return;
        }
        let who = Who {
            name,
            verified,
            user: user.as_deref(),
        };
        let adjust = match self.libwrap_allows(key, p.peer, &p.conn, who, Some(&p.conn)) {
            Wrapped::Allowed(adjust) => adjust,
            Wrapped::Refused => {
                let asked = ident.is_some();
                self.refused(p, asked);
                return;
            }
        };
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
                let adjusted = adjust.map(|a| std::sync::Arc::new(a.apply(plan)));
                let plan = adjusted.as_ref().unwrap_or(plan);
                let conn = std::os::fd::OwnedFd::from(conn);
                let held = self.services.len();
                match spawn::spawn_owned(plan, conn, Some(peer.ip()), held, &self.failures) {
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

    pub(super) fn started(
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
        if wait_yes {
            self.wait_servers += 1;
        }
        if self.reap_window {
            self.window_spawns += 1;
            if wait_yes || self.failures.holds_connections() {
                // This server's exit must be seen at once (see `exits_are_urgent`; a deferred
                // service closes the window itself).
                self.close_reap_window();
            } else if self.window_spawns >= REAP_BATCH {
                // Reap now and then, so that no more than this many zombies wait for the window
                // to close (they count against RLIMIT_NPROC).
                self.window_spawns = 0;
                self.reap();
            }
        }
    }

    /// `wait = yes`: the server gets the socket itself; superd stops watching it until the
    /// server exits.
    pub(super) fn start_wait_server(&mut self, key: usize, def: &Rc<Service>, sock: &Rc<Socket>) {
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
        // The sender's name first, when the rules need it: the service stops reading until
        // it is known, and the checks below run again then.
        let mut name = None;
        if let Some(p) = peer.filter(|_| self.needs_name(def)) {
            match self.dgram_name(key, p) {
                Some(known) => name = Some(known),
                None => return,
            }
        }
        if !self.admit(key, peer, true) {
            // The input stays queued; look again in a second (after a cps trip the socket is
            // closed and this does nothing).
            self.pause(key, Duration::from_secs(1));
            return;
        }
        // Address rules, for the sender of the first datagram. A `wait = yes` stream service
        // has no client yet: allowed, as in current xinetd (2.3.15.3 refused everyone).
        let mut adjust = None;
        if let Some(p) = peer {
            let who = Who::of_datagram(&name);
            let verdict = if self.address_allows(key, p, who.name, true) {
                self.libwrap_allows(key, p, sock, who, None)
            } else {
                Wrapped::Refused
            };
            match verdict {
                Wrapped::Allowed(a) => adjust = a,
                Wrapped::Refused => {
                    // Drop the datagram that was refused, or the server would never be started
                    // for the ones behind it.
                    let mut b = [0u8; 1];
                    let _ = listen::recv_dgram(sock, &mut b);
                    self.again.push(listener_token(key));
                    return;
                }
            }
        }
        self.disarm(key);
        self.services[key].connections += 1;
        let host = peer.map(|p| p.ip());
        let adjusted = adjust.map(|a| std::sync::Arc::new(a.apply(plan)));
        let plan = adjusted.as_ref().unwrap_or(plan);
        match spawn::spawn(plan, sock.as_raw_fd(), host, &self.failures) {
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
    pub(super) fn serve_dgram_internal(&mut self, key: usize, sock: &Socket, b: Builtin) -> bool {
        let now = SystemTime::now();
        if self.dgram_buf.is_empty() {
            // Allocated on the first datagram: a daemon without UDP internals never pays for it.
            self.dgram_buf = vec![0; 65536];
        }
        let def = self.services[key].def.clone();
        let needs_name = self.needs_name(&def);
        for _ in 0..ACCEPT_BATCH {
            // The sender's name first, when the rules need it (the datagram stays queued
            // until it is known).
            let mut name = None;
            if needs_name {
                if let Ok(Some(p)) = listen::peek_peer(sock) {
                    match self.dgram_name(key, p) {
                        Some(known) => name = Some(known),
                        None => return false,
                    }
                }
            }
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
                let who = Who::of_datagram(&name);
                if !self.address_allows(key, p, who.name, true)
                    || !self.libwrap_allows(key, p, sock, who, None).allowed()
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
}
