//! Logging: service events in xinetd.log(5) form, and the daemon's own messages.
//!
//! ```text
//! Event (typed, pure)  --event::Event::entry(flags)-->  "START: echo pid=0 from=127.0.0.1"
//! entry text           --ServiceLog (per log_type)-->   FILE:   "26/11/27@17:09:50: START: ..."
//!                                                       SYSLOG: "<30>Nov 27 17:09:50 superd[42]: START: ..."
//!                                                       none:   nothing (as xinetd without log_type)
//! level + message      --DaemonLog-->                   syslog | -filelog file | stderr
//! ```
//!
//! Invariants: every record is exactly one line written with one system call; nothing here
//! blocks the event loop or panics on a missing `/dev/log`; a problem with a service's log
//! (size limit, I/O error) comes back to the caller as a [`LogReport`] to be written once to
//! the daemon log, never silently lost and never logged twice.
//!
//! Written by hand instead of using the `log`/`syslog` crates (rust-ecosystem.md §2.8, §2.9):
//! service events are typed data routed per service, not global `info!` strings; the `syslog`
//! crate neither reconnects nor stamps local time; and a daemon log of three sinks is a few
//! dozen lines, as in ripgrep's hand-written logger.
//!
//! Differences from xinetd, on purpose:
//! * IPv4-mapped IPv6 peers print as plain IPv4 (`from=127.0.0.1`, not `from=::ffff:127.0.0.1`).
//! * File size limits are checked on every line, not only when a forked server exits; a line
//!   that would pass the hard limit is not written, so the file never exceeds it.
//! * Passing the soft limit is reported once ([`LogReport::SoftLimit`]); xinetd never says so.
//! * After the hard limit, later lines are dropped quietly instead of logging "Error in X log"
//!   each time; SIGHUP (reopen) resumes logging into a fresh file.
//! * Services whose FILE logs name the same path (and limits) share one open file.
//! * Control characters in a line become spaces (`?` in ident replies), so no line can be forged.

pub mod daemon;
pub mod event;
pub mod sink;
pub mod time;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use crate::clock::LocalTime;

use crate::config::model::{Facility, FailureFlags, Level, LogType, SuccessFlags};

pub use daemon::{DaemonLog, DaemonSink};
pub use event::{Addr, Event, FailReason, NoidReason, Termination};
pub use sink::{Appended, FileLog, Syslog};

/// Errors of this module: only opening a log file can fail loudly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open log file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Something about a service's log that the daemon log should say, once.
#[derive(Debug)]
pub enum LogReport {
    /// The service's log file has just grown past its soft limit (WARNING).
    SoftLimit { id: String },
    /// The service's log file reached its hard limit and is closed until SIGHUP (ERROR).
    HardLimit { id: String },
    /// Writing the service's log file failed (ERROR).
    WriteError { id: String, error: io::Error },
}

impl LogReport {
    /// The level to log this report at.
    pub fn level(&self) -> Level {
        match self {
            LogReport::SoftLimit { .. } => Level::Warning,
            LogReport::HardLimit { .. } | LogReport::WriteError { .. } => Level::Err,
        }
    }
}

impl fmt::Display for LogReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogReport::SoftLimit { id } => write!(f, "Size of {id} log exceeded soft limit"),
            LogReport::HardLimit { id } => write!(f, "Size of {id} log exceeded hard limit"),
            LogReport::WriteError { id, error } => write!(f, "Error in {id} log: {error}"),
        }
    }
}

#[derive(Clone, Debug)]
enum Route {
    None,
    File(Rc<RefCell<FileLog>>),
    Syslog {
        syslog: Rc<RefCell<Syslog>>,
        facility: Facility,
        level: Level,
    },
}

/// One service's log: its `log_type` destination and its `log_on_success`/`log_on_failure`
/// flags. Cheap to clone; clones share the destination.
#[derive(Clone, Debug)]
pub struct ServiceLog {
    route: Route,
    on_success: SuccessFlags,
    on_failure: FailureFlags,
}

impl ServiceLog {
    /// A log that records nothing (no `log_type`).
    pub fn none() -> ServiceLog {
        ServiceLog {
            route: Route::None,
            on_success: SuccessFlags::default(),
            on_failure: FailureFlags::default(),
        }
    }

    /// Whether any event at all can be written (a `log_type` is set).
    pub fn is_logging(&self) -> bool {
        !matches!(self.route, Route::None)
    }

    /// Whether `event` would produce a line (log_type set and the flags ask for it). Lets the
    /// caller skip work such as an ident query.
    pub fn wants(&self, event: &Event<'_>) -> bool {
        self.is_logging() && event.is_logged(&self.on_success, &self.on_failure)
    }

    /// Record `event` now. Returns what the daemon log should say about this log, if anything.
    #[must_use = "a LogReport must be written to the daemon log"]
    pub fn log(&self, event: &Event<'_>) -> Option<LogReport> {
        if !self.wants(event) {
            return None;
        }
        self.log_at(&time::now(), event)
    }

    /// Record `event` with the given local time.
    #[must_use = "a LogReport must be written to the daemon log"]
    pub fn log_at(&self, now: &LocalTime, event: &Event<'_>) -> Option<LogReport> {
        if !self.is_logging() {
            return None;
        }
        let entry = event.entry(&self.on_success, &self.on_failure)?;
        match &self.route {
            Route::None => None,
            Route::File(file) => {
                // Single-threaded and never re-entered: the borrow cannot be contended.
                let Ok(mut file) = file.try_borrow_mut() else {
                    return None;
                };
                let id = || event.id().to_owned();
                match file.write_entry(now, &entry) {
                    Ok(Appended::Written | Appended::Closed) => None,
                    Ok(Appended::SoftLimit) => Some(LogReport::SoftLimit { id: id() }),
                    Ok(Appended::HardLimit) => Some(LogReport::HardLimit { id: id() }),
                    Err(error) => Some(LogReport::WriteError { id: id(), error }),
                }
            }
            Route::Syslog {
                syslog,
                facility,
                level,
            } => {
                if let Ok(mut syslog) = syslog.try_borrow_mut() {
                    syslog.send(*facility, *level, now, &entry);
                }
                None
            }
        }
    }
}

type FileKey = (PathBuf, Option<u64>, Option<u64>);

/// The open log destinations shared by all services: one file handle per (path, limits) and
/// one syslog socket.
#[derive(Debug)]
pub struct LogRegistry {
    files: HashMap<FileKey, Rc<RefCell<FileLog>>>,
    syslog: Rc<RefCell<Syslog>>,
}

impl Default for LogRegistry {
    fn default() -> Self {
        LogRegistry::new()
    }
}

impl LogRegistry {
    /// A registry whose syslog destination is `/dev/log`.
    pub fn new() -> LogRegistry {
        LogRegistry::with_syslog(Syslog::new())
    }

    pub fn with_syslog(syslog: Syslog) -> LogRegistry {
        LogRegistry {
            files: HashMap::new(),
            syslog: Rc::new(RefCell::new(syslog)),
        }
    }

    /// The log for a service with this `log_type` and flags. A FILE log reuses the handle
    /// already open for the same path and limits; otherwise the file is opened now.
    pub fn service_log(
        &mut self,
        log_type: Option<&LogType>,
        on_success: SuccessFlags,
        on_failure: FailureFlags,
    ) -> Result<ServiceLog, Error> {
        let route = match log_type {
            None => Route::None,
            Some(LogType::Syslog { facility, level }) => Route::Syslog {
                syslog: Rc::clone(&self.syslog),
                facility: *facility,
                level: *level,
            },
            Some(LogType::File { path, soft, hard }) => {
                let key = (path.clone(), *soft, *hard);
                let file = match self.files.get(&key) {
                    Some(file) => Rc::clone(file),
                    None => {
                        let file = Rc::new(RefCell::new(FileLog::open(path, *soft, *hard)?));
                        self.files.insert(key, Rc::clone(&file));
                        file
                    }
                };
                Route::File(file)
            }
        };
        Ok(ServiceLog {
            route,
            on_success,
            on_failure,
        })
    }

    /// Forget files that no service uses any more (after a reload dropped the old table).
    pub fn prune(&mut self) {
        self.files.retain(|_, file| Rc::strong_count(file) > 1);
    }

    /// SIGHUP: prune, then close and reopen every file still in use, so rotated logs start
    /// afresh. Returns the files that could not be reopened (they drop lines until the next
    /// successful reopen).
    pub fn reopen(&mut self) -> Vec<Error> {
        self.prune();
        self.files
            .values()
            .filter_map(|file| match file.try_borrow_mut() {
                Ok(mut file) => file.reopen().err(),
                Err(_) => None,
            })
            .collect()
    }

    /// Number of distinct open log files.
    pub fn open_files(&self) -> usize {
        self.files.len()
    }

    /// Syslog messages dropped so far (no socket or a full buffer).
    pub fn syslog_dropped(&self) -> u64 {
        self.syslog.try_borrow().map(|s| s.dropped()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::os::unix::net::UnixDatagram;

    fn now() -> LocalTime {
        LocalTime::new(2026, 11, 27, 17, 9, 50, "UTC")
    }

    // The flags of the xinetd.md §1.12 capture, shared with the event tests.
    use super::event::tests::full as flags;

    fn lo() -> Option<SocketAddr> {
        Some("127.0.0.1:40000".parse().unwrap())
    }

    fn file_type(path: PathBuf, soft: Option<u64>, hard: Option<u64>) -> LogType {
        LogType::File { path, soft, hard }
    }

    #[test]
    fn file_service_log_writes_xinetd_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.log");
        let mut reg = LogRegistry::with_syslog(Syslog::with_path(dir.path().join("none")));
        let (s, f) = flags();
        let log = reg
            .service_log(Some(&file_type(path.clone(), None, None)), s, f)
            .unwrap();
        assert!(log
            .log_at(
                &now(),
                &Event::Start {
                    id: "echo-stream",
                    pid: 13862,
                    from: lo()
                }
            )
            .is_none());
        let exit = Event::Exit {
            id: "echo-stream",
            how: Termination::Status(0),
            pid: 13862,
            duration: 1,
        };
        assert!(log.log_at(&now(), &exit).is_none());
        // Not asked for by the flags: nothing written.
        assert!(log
            .log_at(
                &now(),
                &Event::Traffic {
                    id: "echo-stream",
                    bytes_in: 1,
                    bytes_out: 1
                }
            )
            .is_none());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "26/11/27@17:09:50: START: echo-stream pid=13862 from=127.0.0.1\n\
             26/11/27@17:09:50: EXIT: echo-stream status=0 pid=13862 duration=1(sec)\n"
        );
    }

    #[test]
    fn services_on_the_same_path_share_one_file_and_reopen_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("common.log");
        let mut reg = LogRegistry::with_syslog(Syslog::with_path(dir.path().join("none")));
        let (s, f) = flags();
        let lt = file_type(path.clone(), None, None);
        let a = reg.service_log(Some(&lt), s, f).unwrap();
        let b = reg.service_log(Some(&lt), s, f).unwrap();
        assert_eq!(reg.open_files(), 1);
        let fail_a = Event::Fail {
            id: "a",
            reason: FailReason::Address,
            from: lo(),
        };
        assert!(a.log_at(&now(), &fail_a).is_none());
        std::fs::rename(&path, dir.path().join("common.log.1")).unwrap();
        assert!(reg.reopen().is_empty());
        let fail_b = Event::Fail {
            id: "b",
            reason: FailReason::Time,
            from: None,
        };
        assert!(b.log_at(&now(), &fail_b).is_none());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("common.log.1")).unwrap(),
            "26/11/27@17:09:50: FAIL: a address from=127.0.0.1\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "26/11/27@17:09:50: FAIL: b time from=<no address>\n"
        );
        drop(a);
        drop(b);
        reg.prune();
        assert_eq!(reg.open_files(), 0);
    }

    #[test]
    fn limits_come_back_as_reports_for_the_daemon_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lim.log");
        let mut reg = LogRegistry::with_syslog(Syslog::with_path(dir.path().join("none")));
        let (s, f) = flags();
        // "26/11/27@17:09:50: START: lim pid=1 from=127.0.0.1\n" is 51 bytes.
        let log = reg
            .service_log(Some(&file_type(path, Some(60), Some(110))), s, f)
            .unwrap();
        let start = Event::Start {
            id: "lim",
            pid: 1,
            from: lo(),
        };
        assert!(log.log_at(&now(), &start).is_none());
        let soft = log.log_at(&now(), &start).unwrap();
        assert_eq!(soft.level(), Level::Warning);
        assert_eq!(soft.to_string(), "Size of lim log exceeded soft limit");
        let hard = log.log_at(&now(), &start).unwrap();
        assert_eq!(hard.level(), Level::Err);
        assert_eq!(hard.to_string(), "Size of lim log exceeded hard limit");
        assert!(log.log_at(&now(), &start).is_none());
    }

    #[test]
    fn syslog_service_log_uses_the_service_facility_and_level() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&sock).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut reg = LogRegistry::with_syslog(Syslog::with_path(&sock));
        let (s, f) = flags();
        let lt = LogType::Syslog {
            facility: Facility::Authpriv,
            level: Level::Warning,
        };
        let log = reg.service_log(Some(&lt), s, f).unwrap();
        assert!(log
            .log_at(
                &now(),
                &Event::Start {
                    id: "ssh",
                    pid: 9,
                    from: lo()
                }
            )
            .is_none());
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        // authpriv (10<<3 = 80) | warning (4) = 84
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!(
                "<84>Nov 27 17:09:50 superd[{}]: START: ssh pid=9 from=127.0.0.1",
                std::process::id()
            )
        );
        assert_eq!(reg.syslog_dropped(), 0);
    }

    #[test]
    fn no_log_type_logs_nothing_even_with_flags() {
        let mut reg = LogRegistry::with_syslog(Syslog::with_path("/nonexistent/log.sock"));
        let (s, f) = flags();
        let log = reg.service_log(None, s, f).unwrap();
        let start = Event::Start {
            id: "x",
            pid: 1,
            from: None,
        };
        assert!(!log.is_logging());
        assert!(!log.wants(&start));
        assert!(log.log(&start).is_none());
        assert!(ServiceLog::none().log_at(&now(), &start).is_none());
        assert_eq!(reg.syslog_dropped(), 0);
    }

    #[test]
    fn unopenable_file_is_an_error_naming_the_path() {
        let mut reg = LogRegistry::with_syslog(Syslog::with_path("/nonexistent/log.sock"));
        let lt = file_type(PathBuf::from("/nonexistent/dir/svc.log"), None, None);
        let err = reg.service_log(Some(&lt), SuccessFlags::default(), FailureFlags::default());
        assert!(matches!(err, Err(Error::Open { .. })));
    }
}
