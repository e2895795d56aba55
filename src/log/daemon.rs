//! superd's own messages ("started", "Size of X log exceeded hard limit", errors), as opposed to
//! per-service events.
//!
//! Input: a level and a message. Output: one line on the chosen sink:
//!
//! * [`DaemonSink::Syslog`] (the default, facility `daemon`): `<PRI>Mmm dd hh:mm:ss superd[PID]: message`;
//! * [`DaemonSink::File`] (xinetd's `-filelog`): `YY/M/D@HH:MM:SS superd[PID]: LEVEL: message`;
//! * [`DaemonSink::Stderr`] (foreground): `superd: LEVEL: message`. No stamp: whoever collects
//!   a foreground daemon's stderr (journald, a container runtime, a terminal) adds its own.
//!
//! LEVEL is xinetd's word for the level (`NOTICE`, `ERROR`, ...). Debug messages are dropped
//! unless debugging is on. Messages always become one line (control characters turn into
//! spaces). Logging takes `&self` so every part of the single-threaded daemon can hold a shared
//! reference; the sink sits in a `RefCell` that is only borrowed inside this module.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;

use crate::clock::LocalTime;

use super::sink::{one_line, FileLog, Syslog};
use super::time::{self, file_stamp};
use super::Error;
use crate::config::model::{Facility, Level};

/// Where the daemon's own messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonSink {
    Stderr,
    File(PathBuf),
    Syslog(Facility),
}

impl Default for DaemonSink {
    fn default() -> Self {
        DaemonSink::Syslog(Facility::Daemon)
    }
}

enum Target {
    Stderr,
    File(FileLog),
    Syslog(Syslog, Facility),
}

/// The daemon's log. Single-threaded: not `Sync`.
pub struct DaemonLog {
    target: RefCell<Target>,
    debug: Cell<bool>,
}

impl fmt::Debug for DaemonLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match self.target.try_borrow().as_deref() {
            Ok(Target::Stderr) => "stderr".to_owned(),
            Ok(Target::File(log)) => format!("file {}", log.path().display()),
            Ok(Target::Syslog(_, facility)) => format!("syslog {facility:?}"),
            Err(_) => "busy".to_owned(),
        };
        f.debug_struct("DaemonLog")
            .field("target", &target)
            .field("debug", &self.debug)
            .finish()
    }
}

/// `26/11/27@17:09:49 superd[13818]: NOTICE: message` (no newline).
pub fn file_line(now: &LocalTime, pid: u32, level: Level, msg: &str) -> String {
    format!(
        "{} superd[{pid}]: {}: {}",
        file_stamp(now),
        level.xinetd_word(),
        one_line(msg)
    )
}

/// `superd: NOTICE: message` (no newline).
pub fn stderr_line(level: Level, msg: &str) -> String {
    format!("superd: {}: {}", level.xinetd_word(), one_line(msg))
}

impl DaemonLog {
    /// Open the sink (the file is created if needed; syslog connects on first message).
    pub fn open(sink: DaemonSink, debug: bool) -> Result<DaemonLog, Error> {
        let target = match sink {
            DaemonSink::Stderr => Target::Stderr,
            DaemonSink::File(path) => Target::File(FileLog::open(&path, None, None)?),
            DaemonSink::Syslog(facility) => Target::Syslog(Syslog::new(), facility),
        };
        Ok(DaemonLog {
            target: RefCell::new(target),
            debug: Cell::new(debug),
        })
    }

    /// Log to this syslog sink (another socket path than `/dev/log`, e.g. in tests).
    pub fn with_syslog(syslog: Syslog, facility: Facility, debug: bool) -> DaemonLog {
        DaemonLog {
            target: RefCell::new(Target::Syslog(syslog, facility)),
            debug: Cell::new(debug),
        }
    }

    pub fn debug_enabled(&self) -> bool {
        self.debug.get()
    }

    pub fn set_debug(&self, on: bool) {
        self.debug.set(on);
    }

    /// Log `msg` at `level`, stamped with the current local time.
    pub fn log(&self, level: Level, msg: impl fmt::Display) {
        if level == Level::Debug && !self.debug.get() {
            return;
        }
        self.log_at(&time::now(), level, &msg.to_string());
    }

    /// Log `msg` at `level` with the given time (tests). Debug messages obey the debug flag.
    pub fn log_at(&self, now: &LocalTime, level: Level, msg: &str) {
        self.log_to(now, None, level, msg);
    }

    /// Log `msg` at `level`, to syslog with `facility` instead of the daemon's own when given
    /// (a hosts_options `severity facility.level`; files and stderr have no facility).
    pub fn log_with_facility(&self, facility: Option<Facility>, level: Level, msg: &str) {
        self.log_to(&time::now(), facility, level, msg);
    }

    fn log_to(
        &self,
        now: &LocalTime,
        facility_override: Option<Facility>,
        level: Level,
        msg: &str,
    ) {
        if level == Level::Debug && !self.debug.get() {
            return;
        }
        // Nothing in here calls back into the log, so the borrow is never contended; if it
        // ever were, dropping the line beats panicking the daemon.
        let Ok(mut target) = self.target.try_borrow_mut() else {
            return;
        };
        match &mut *target {
            Target::Stderr => to_stderr(&stderr_line(level, msg)),
            Target::File(file) => {
                let line = file_line(now, std::process::id(), level, msg);
                // No limits on this file, so only an I/O error can stop the line; then stderr
                // is the last place it can go.
                if file.append_line(&line).is_err() {
                    to_stderr(&line);
                }
            }
            Target::Syslog(syslog, facility) => {
                syslog.send(facility_override.unwrap_or(*facility), level, now, msg);
            }
        }
    }

    pub fn error(&self, msg: impl fmt::Display) {
        self.log(Level::Err, msg);
    }

    pub fn warning(&self, msg: impl fmt::Display) {
        self.log(Level::Warning, msg);
    }

    pub fn notice(&self, msg: impl fmt::Display) {
        self.log(Level::Notice, msg);
    }

    pub fn info(&self, msg: impl fmt::Display) {
        self.log(Level::Info, msg);
    }

    pub fn debug(&self, msg: impl fmt::Display) {
        self.log(Level::Debug, msg);
    }

    /// Reopen a file sink (SIGHUP, after rotation). Other sinks: nothing to do.
    pub fn reopen(&self) -> Result<(), Error> {
        match self.target.try_borrow_mut().as_deref_mut() {
            Ok(Target::File(file)) => file.reopen(),
            _ => Ok(()),
        }
    }
}

fn to_stderr(line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    // Nowhere left to report a failure to write to stderr.
    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn at() -> LocalTime {
        LocalTime::new(2026, 11, 27, 17, 9, 49, "UTC")
    }

    #[test]
    fn file_lines_have_xinetd_filelog_format() {
        assert_eq!(
            file_line(
                &at(),
                13818,
                Level::Notice,
                "Started working: 4 available services"
            ),
            "26/11/27@17:09:49 superd[13818]: NOTICE: Started working: 4 available services"
        );
        assert_eq!(
            stderr_line(Level::Err, "bad\nthing"),
            "superd: ERROR: bad thing"
        );
    }

    #[test]
    fn file_sink_writes_one_line_per_message_and_drops_debug_unless_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("superd.log");
        let log = DaemonLog::open(DaemonSink::File(path.clone()), false).unwrap();
        log.log_at(&at(), Level::Notice, "started");
        log.log_at(&at(), Level::Debug, "hidden");
        log.set_debug(true);
        log.log_at(&at(), Level::Debug, "shown");
        log.log_at(&at(), Level::Err, "multi\nline");
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!(
                "26/11/27@17:09:49 superd[{pid}]: NOTICE: started\n\
                 26/11/27@17:09:49 superd[{pid}]: DEBUG: shown\n\
                 26/11/27@17:09:49 superd[{pid}]: ERROR: multi line\n"
            )
        );
    }

    #[test]
    fn convenience_methods_use_their_level_and_reopen_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("superd.log");
        let log = DaemonLog::open(DaemonSink::File(path.clone()), false).unwrap();
        log.warning(format_args!("w{}", 1));
        std::fs::rename(&path, dir.path().join("superd.log.1")).unwrap();
        log.reopen().unwrap();
        log.error("e");
        log.debug("d");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(": ERROR: e\n"), "{text}");
        assert_eq!(text.lines().count(), 1);
        let old = std::fs::read_to_string(dir.path().join("superd.log.1")).unwrap();
        assert!(old.ends_with(": WARNING: w1\n"), "{old}");
    }

    #[test]
    fn syslog_sink_uses_the_daemon_facility_and_message_level() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&sock_path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let log = DaemonLog::with_syslog(Syslog::with_path(&sock_path), Facility::Daemon, false);
        log.log_at(&at(), Level::Notice, "started");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        // daemon (24) | notice (5) = 29
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!(
                "<29>Nov 27 17:09:49 superd[{}]: started",
                std::process::id()
            )
        );
    }
}
