//! The daemon's logging front: its own messages plus each service's event log.
//!
//! Thin glue over `crate::log`: it holds the daemon log, the shared registry of open log files,
//! and one `ServiceLog` per service id, and turns what the event loop knows (service, pid, peer,
//! exit status) into `log::Event`s. Problems with a service's log (size limits, write errors)
//! are reported once to the daemon log here.

use std::collections::HashMap;
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
    services: HashMap<String, ServiceLog>,
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
            services: HashMap::new(),
        })
    }

    pub fn daemon(&self, level: Level, msg: &str) {
        self.daemon.log(level, msg);
    }

    pub fn debug(&self, msg: &str) {
        if self.daemon.debug_enabled() {
            self.daemon.debug(msg);
        }
    }

    /// Opens (or re-uses) the log destination of a service.
    pub fn open_service(&mut self, svc: &Service) {
        match self.registry.service_log(
            svc.log_type.as_ref(),
            svc.log_on_success,
            svc.log_on_failure,
        ) {
            Ok(l) => {
                self.services.insert(svc.id.clone(), l);
            }
            Err(e) => {
                self.daemon
                    .log(Level::Err, format!("service {}: {e}", svc.id));
                self.services.insert(svc.id.clone(), ServiceLog::none());
            }
        }
    }

    /// SIGHUP: reopen every log file (rotation) and forget unused ones.
    pub fn reopen(&mut self) {
        if let Err(e) = self.daemon.reopen() {
            self.daemon.log(Level::Err, e.to_string());
        }
        for e in self.registry.reopen() {
            self.daemon.log(Level::Err, e.to_string());
        }
    }

    fn event(&self, id: &str, ev: &Event<'_>) {
        if let Some(l) = self.services.get(id) {
            if let Some(report) = l.log(ev) {
                self.daemon.log(report.level(), report.to_string());
            }
        }
    }

    pub fn start(&self, svc: &Service, pid: i32, peer: Option<SocketAddr>) {
        self.event(
            &svc.id,
            &Event::Start {
                id: &svc.id,
                pid: pid as u32,
                from: peer,
            },
        );
    }

    /// START of an in-daemon service (pid=0, no EXIT follows), as xinetd logs its non-forking
    /// internals.
    pub fn start_internal(&self, svc: &Service, peer: Option<SocketAddr>) {
        self.event(
            &svc.id,
            &Event::Start {
                id: &svc.id,
                pid: 0,
                from: peer,
            },
        );
    }

    pub fn exit(&self, svc: &Service, pid: i32, exit: Exit, lifetime: Duration) {
        let how = match exit {
            Exit::Status(s) => Termination::Status(s),
            Exit::Signal(s) => Termination::Signal(s),
        };
        self.event(
            &svc.id,
            &Event::Exit {
                id: &svc.id,
                how,
                pid: pid as u32,
                duration: lifetime.as_secs(),
            },
        );
    }

    pub fn fail(&self, svc: &Service, reason: FailReason, peer: Option<SocketAddr>) {
        self.event(
            &svc.id,
            &Event::Fail {
                id: &svc.id,
                reason,
                from: peer,
            },
        );
    }
}

/// A wall-clock time as `ctime(3)` prints it, in local time (for the state dump).
pub fn ctime(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => jiff::tz::TimeZone::system()
            .to_datetime(ts)
            .strftime("%a %b %e %H:%M:%S %Y")
            .to_string(),
        Err(_) => "?".into(),
    }
}
