//! The daemon's logging front: its own messages plus each service's event log.
//!
//! Thin glue over `crate::log`: it holds the daemon log, the shared registry of open log files,
//! and one `ServiceLog` per service id, and turns what the event loop knows (service, pid, peer,
//! exit status) into `log::Event`s. Problems with a service's log (size limits, write errors)
//! are reported once to the daemon log here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::model::{Facility, Level};
use crate::log::{DaemonLog, DaemonSink, Event, LogRegistry, ServiceLog, Syslog, Termination};
use crate::spawn::Exit;
use crate::table::Service;

pub use crate::log::FailReason;

/// Where superd's own messages go.
pub enum Own {
    Stderr,
    Syslog(Facility),
    File(PathBuf),
}

pub struct Logs {
    daemon: DaemonLog,
    registry: LogRegistry,
}

impl Logs {
    pub fn new(own: Own, debug: bool, syslog_socket: &Path) -> Result<Logs, crate::log::Error> {
        let daemon = match own {
            Own::Stderr => DaemonLog::open(DaemonSink::Stderr, debug)?,
            Own::File(p) => DaemonLog::open(DaemonSink::File(p), debug)?,
            Own::Syslog(f) => DaemonLog::with_syslog(Syslog::with_path(syslog_socket), f, debug),
        };
        Ok(Logs {
            daemon,
            registry: LogRegistry::with_syslog(Syslog::with_path(syslog_socket)),
        })
    }

    pub fn daemon(&self, level: Level, msg: &str) {
        self.daemon.log(level, msg);
    }

    /// A daemon message at another syslog facility than superd's own, if given.
    pub fn daemon_with_facility(&self, facility: Option<Facility>, level: Level, msg: &str) {
        self.daemon.log_with_facility(facility, level, msg);
    }

    /// Whether debug messages are written (to skip building them).
    pub fn debugging(&self) -> bool {
        self.daemon.debug_enabled()
    }

    pub fn debug(&self, msg: &str) {
        if self.daemon.debug_enabled() {
            self.daemon.debug(msg);
        }
    }

    /// The log destination of a service (shared with others writing to the same file).
    pub fn service_log(&mut self, svc: &Service) -> ServiceLog {
        match self.registry.service_log(
            svc.log_type.as_deref(),
            svc.log_on_success,
            svc.log_on_failure,
        ) {
            Ok(l) => l,
            Err(e) => {
                self.daemon
                    .log(Level::Err, format!("service {}: {e}", svc.id));
                ServiceLog::none()
            }
        }
    }

    /// SIGHUP: reopen every log file (rotation).
    pub fn reopen(&mut self) {
        if let Err(e) = self.daemon.reopen() {
            self.daemon.log(Level::Err, e.to_string());
        }
        for e in self.registry.reopen() {
            self.daemon.log(Level::Err, e.to_string());
        }
    }

    /// Closes log files no service uses any more.
    pub fn forget_unused(&mut self) {
        self.registry.prune();
    }

    fn event(&self, log: &ServiceLog, ev: &Event<'_>) {
        if let Some(report) = log.log(ev) {
            self.daemon.log(report.level(), report.to_string());
        }
    }

    /// START; `pid` 0 for services answered inside superd (no EXIT follows), as xinetd logs
    /// its non-forking internals.
    pub fn start(&self, log: &ServiceLog, svc: &Service, pid: i32, peer: Option<SocketAddr>) {
        self.event(
            log,
            &Event::Start {
                id: &svc.id,
                pid: pid as u32,
                from: peer,
            },
        );
    }

    pub fn exit(&self, log: &ServiceLog, svc: &Service, pid: i32, exit: Exit, lifetime: Duration) {
        let how = match exit {
            Exit::Status(s) => Termination::Status(s),
            Exit::Signal(s) => Termination::Signal(s),
        };
        let ev = Event::Exit {
            id: &svc.id,
            how,
            pid: pid as u32,
            duration: lifetime.as_secs(),
        };
        self.event(log, &ev);
    }

    /// USERID: what the client's identd said (the text after `USERID :`).
    pub fn userid(&self, log: &ServiceLog, svc: &Service, text: &str) {
        self.event(log, &Event::Userid { id: &svc.id, text });
    }

    /// NOID: the ident query gave no user.
    pub fn noid(
        &self,
        log: &ServiceLog,
        svc: &Service,
        peer: SocketAddr,
        reason: crate::log::NoidReason,
    ) {
        self.event(
            log,
            &Event::Noid {
                id: &svc.id,
                addr: Some(peer),
                reason,
            },
        );
    }

    /// TRAFFIC: bytes relayed by a `redirect` service (client → backend, backend → client).
    pub fn traffic(&self, log: &ServiceLog, svc: &Service, bytes_in: u64, bytes_out: u64) {
        self.event(
            log,
            &Event::Traffic {
                id: &svc.id,
                bytes_in,
                bytes_out,
            },
        );
    }

    pub fn fail(
        &self,
        log: &ServiceLog,
        svc: &Service,
        reason: FailReason,
        peer: Option<SocketAddr>,
    ) {
        self.event(
            log,
            &Event::Fail {
                id: &svc.id,
                reason,
                from: peer,
            },
        );
    }
}

/// A wall-clock time as `ctime(3)` prints it, in local time (for the state dump):
/// `Fri Nov 27 17:11:58 2026` (day padded with a space, no newline). `?` for a reading outside
/// the years -9999 to 9999.
pub fn ctime(t: SystemTime) -> String {
    if crate::clock::unix_secs(t).is_none() {
        return "?".into();
    }
    ctime_of(&crate::clock::LocalTime::local(t))
}

/// [`ctime`] of a broken-down time.
fn ctime_of(t: &crate::clock::LocalTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // LocalTime keeps weekday in 0..=6 and month in 1..=12; the clamps only guard the index.
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {:04}",
        DAYS[usize::from(t.weekday.min(6))],
        MONTHS[usize::from(t.month.clamp(1, 12)) - 1],
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
    )
}

/// Refused datagrams are logged at most once a minute per sender (address and port), as xinetd
/// does: every datagram is a client, and a flood of them must not become a flood of log lines.
/// At most `GATE_MAX` senders are remembered; when that many were logged within the minute,
/// further new senders are not logged until entries expire.
pub struct RateGate {
    last: std::collections::HashMap<SocketAddr, std::time::Instant>,
}

pub const GATE_PERIOD: Duration = Duration::from_secs(60);
pub const GATE_MAX: usize = 256;

impl RateGate {
    pub fn new() -> RateGate {
        RateGate {
            last: std::collections::HashMap::new(),
        }
    }

    /// Whether a refusal of `from` at `now` is logged (and, if so, remembers it).
    pub fn pass(&mut self, from: SocketAddr, now: std::time::Instant) -> bool {
        let fresh = |t: &std::time::Instant| now.saturating_duration_since(*t) < GATE_PERIOD;
        if self.last.get(&from).is_some_and(fresh) {
            return false;
        }
        if self.last.len() >= GATE_MAX && !self.last.contains_key(&from) {
            self.last.retain(|_, t| fresh(t));
            if self.last.len() >= GATE_MAX {
                return false;
            }
        }
        self.last.insert(from, now);
        true
    }
}

impl Default for RateGate {
    fn default() -> Self {
        RateGate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::LocalTime;

    #[test]
    fn ctime_matches_ctime3() {
        // 2026-11-27T17:11:58Z, a Friday.
        assert_eq!(
            ctime_of(&LocalTime::utc(1_795_799_518)),
            "Fri Nov 27 17:11:58 2026"
        );
        // The day is padded with a space.
        assert_eq!(
            ctime_of(&LocalTime::new(2026, 1, 5, 3, 4, 9, "CET")),
            "Mon Jan  5 03:04:09 2026"
        );
    }

    #[test]
    fn ctime_of_a_far_reading_is_a_question_mark() {
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 40);
        assert_eq!(ctime(far), "?");
        assert_eq!(ctime(SystemTime::now()).len(), 24);
    }

    #[test]
    fn rate_gate_logs_a_sender_once_a_minute_and_stays_bounded() {
        use std::time::Instant;
        let t0 = Instant::now();
        let mut g = RateGate::new();
        let a: SocketAddr = "127.0.0.5:4000".parse().unwrap();
        let b: SocketAddr = "127.0.0.5:4001".parse().unwrap();
        assert!(g.pass(a, t0));
        assert!(!g.pass(a, t0 + Duration::from_secs(59)));
        assert!(g.pass(b, t0), "another port is another sender");
        assert!(g.pass(a, t0 + GATE_PERIOD));
        let mut g = RateGate::new();
        for n in 0..GATE_MAX as u16 {
            assert!(g.pass(SocketAddr::from(([10, 0, 0, 1], n)), t0));
        }
        let new = SocketAddr::from(([10, 0, 0, 2], 1));
        assert!(
            !g.pass(new, t0 + Duration::from_secs(1)),
            "full within the minute"
        );
        assert!(g.pass(new, t0 + GATE_PERIOD), "expired entries make room");
        assert!(g.last.len() <= GATE_MAX);
    }
}
