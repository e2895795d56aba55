//! Connections served inside the daemon: internal stream services, the tcpmux name exchange
//! and `redirect` relays, each a non-blocking state machine with bounded buffers.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::SystemTime;

use mio::unix::SourceFd;
use mio::Interest;
use socket2::Socket;

use super::{
    backend_token, session_token, Daemon, Parked, Session, Timer, Work, MUX_LINE_MAX, MUX_TIMEOUT,
    TRIM_DELAY,
};
use crate::config::model::Level;
use crate::internal::relay::Relay;
use crate::internal::{self, Builtin, StreamSession};
use crate::listen;
use crate::table::Service;

impl Daemon {
    /// Records a connection served (or held) inside the daemon; returns its session key.
    pub(super) fn add_session(
        &mut self,
        socket: Socket,
        work: Work,
        key: usize,
        serial: u64,
        peer: std::net::IpAddr,
    ) -> usize {
        self.sessions.insert(Session {
            socket,
            work,
            key,
            serial,
            peer,
        })
    }

    pub(super) fn start_session(
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
        let k = self.add_session(conn, Work::Builtin(session), key, serial, peer.ip());
        self.apply_step(k, interest, true);
    }

    /// The `tcpmux` service: wait (bounded) for the client's service name.
    pub(super) fn start_mux(
        &mut self,
        key: usize,
        def: &Rc<Service>,
        conn: Socket,
        peer: SocketAddr,
    ) {
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
        let k = self.add_session(conn, work, key, serial, peer.ip());
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
    pub(super) fn on_mux(&mut self, k: usize) {
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
        // Blocking again, as accepted connections are: the named service's server may get it
        // (an in-daemon session makes it non-blocking itself).
        let _ = conn.set_nonblocking(false);
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
    pub(super) fn start_relay(
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
        let k = self.add_session(conn, work, key, serial, peer.ip());
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

    pub(super) fn on_session(&mut self, key: usize) {
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

    pub(super) fn apply_step(&mut self, key: usize, step: internal::Step, first: bool) {
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

    pub(super) fn end_session(&mut self, key: usize) {
        let Some(s) = self.sessions.try_remove(key) else {
            return;
        };
        if self.sessions.is_empty() && !self.trim_pending {
            self.trim_pending = true;
            self.later(TRIM_DELAY, Timer::Trim);
        }
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
            Work::Ident {
                query,
                after_refusal,
                ..
            } => {
                let fd = query.socket.as_raw_fd();
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
                if *after_refusal {
                    self.failure_idents -= 1;
                }
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
}
