//! Where log lines go: an append-only file ([`FileLog`]) or the local syslog socket
//! ([`Syslog`]).
//!
//! Input: one finished line of text. Output: one `write(2)` to a file opened
//! `O_APPEND|O_CREAT|O_CLOEXEC` (mode 0644), or one non-blocking `send(2)` of an RFC 3164
//! datagram. Invariants: a line never contains a newline except its last byte (control
//! characters become spaces), so concurrent writers and rotation never split or merge lines; a
//! file with a hard limit never grows past it because of us; the syslog sink never blocks
//! the daemon and never fails loudly (a missing `/dev/log` or a full socket buffer just drops the
//! line and counts it).
//!
//! Written by hand (rust-ecosystem.md §2.8): the `syslog` crate never reconnects and stamps in
//! UTC, and libc's `syslog(3)` uses global state and a fixed path that tests cannot redirect.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::clock::LocalTime;

use super::time::{file_stamp, syslog_stamp};
use super::Error;
use crate::config::model::{Facility, Level};

/// Replace every control character (newlines included) with a space, so `s` stays one line.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c.is_control()) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// What happened to a line given to [`FileLog`].
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The line is in the file.
    Written,
    /// The line is in the file, and the file has just grown past its soft limit. Reported once
    /// per opened file, so the caller can warn once (xinetd never warns).
    SoftLimit,
    /// The line would have taken the file past its hard limit: it was not written and the log
    /// is now closed until [`FileLog::reopen`]. Reported once; the caller should log `"Size of
    /// <id> log exceeded hard limit"`.
    HardLimit,
    /// The log is closed (hard limit reached earlier, or the last reopen failed): dropped.
    Closed,
}

enum FileState {
    Open {
        file: File,
        size: u64,
        soft_reported: bool,
    },
    /// The hard limit was reached; nothing is written until reopen.
    Full,
    /// Reopening failed; nothing is written until the next successful reopen.
    Failed,
}

/// An append-only log file with optional soft and hard size limits (bytes).
pub struct FileLog {
    path: PathBuf,
    soft: Option<u64>,
    hard: Option<u64>,
    state: FileState,
}

impl std::fmt::Debug for FileLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            FileState::Open { size, .. } => format!("open, {size} bytes"),
            FileState::Full => "full".to_owned(),
            FileState::Failed => "failed".to_owned(),
        };
        f.debug_struct("FileLog")
            .field("path", &self.path)
            .field("soft", &self.soft)
            .field("hard", &self.hard)
            .field("state", &state)
            .finish()
    }
}

impl FileLog {
    /// Open (creating if needed) `path` for appending. A `hard` limit without `soft` is allowed;
    /// `soft` alone only warns.
    pub fn open(path: &Path, soft: Option<u64>, hard: Option<u64>) -> Result<FileLog, Error> {
        let mut log = FileLog {
            path: path.to_owned(),
            soft,
            hard,
            state: FileState::Failed,
        };
        log.reopen()?;
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Close and open the path again (SIGHUP): after `mv log log.1` new lines go to a fresh
    /// `log`. Limits are measured afresh from the new file's size. On error the log stays
    /// closed and drops lines until a later reopen succeeds.
    pub fn reopen(&mut self) -> Result<(), Error> {
        self.state = FileState::Failed;
        let open = || -> io::Result<(File, u64)> {
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o644)
                .open(&self.path)?;
            let size = file.metadata()?.len();
            Ok((file, size))
        };
        let (file, size) = open().map_err(|source| Error::Open {
            path: self.path.clone(),
            source,
        })?;
        self.state = FileState::Open {
            file,
            size,
            soft_reported: false,
        };
        Ok(())
    }

    /// Append a service entry as xinetd does: `<stamp>: <entry>\n`.
    pub fn write_entry(&mut self, now: &LocalTime, entry: &str) -> io::Result<Appended> {
        self.append_line(&format!("{}: {}", file_stamp(now), entry))
    }

    /// Append `line` plus a newline, with a single `write(2)`. Control characters in `line`
    /// become spaces.
    pub fn append_line(&mut self, line: &str) -> io::Result<Appended> {
        let (file, size, soft_reported) = match &mut self.state {
            FileState::Open {
                file,
                size,
                soft_reported,
            } => (file, size, soft_reported),
            FileState::Full | FileState::Failed => return Ok(Appended::Closed),
        };
        let mut buf = one_line(line).into_owned();
        buf.push('\n');
        let len = buf.len() as u64;
        if self.hard.is_some_and(|hard| *size + len > hard) {
            self.state = FileState::Full;
            return Ok(Appended::HardLimit);
        }
        let n = file.write(buf.as_bytes())?;
        *size += n as u64;
        if n < buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to log file",
            ));
        }
        if !*soft_reported && self.soft.is_some_and(|soft| *size > soft) {
            *soft_reported = true;
            return Ok(Appended::SoftLimit);
        }
        Ok(Appended::Written)
    }
}

/// RFC 3164 messages to the local syslog daemon over a Unix datagram socket.
///
/// The socket is connected on first use and again after any error other than a full buffer.
#[derive(Debug)]
pub struct Syslog {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    dropped: u64,
}

impl Default for Syslog {
    fn default() -> Self {
        Syslog::new()
    }
}

impl Syslog {
    pub const DEFAULT_PATH: &'static str = "/dev/log";
    pub const IDENT: &'static str = "superd";

    /// A sink for `/dev/log`; nothing is opened yet.
    pub fn new() -> Syslog {
        Syslog::with_path(Syslog::DEFAULT_PATH)
    }

    /// A sink for another socket path (tests, chroots).
    pub fn with_path(path: impl Into<PathBuf>) -> Syslog {
        Syslog {
            path: path.into(),
            sock: None,
            dropped: 0,
        }
    }

    /// How many messages were dropped (no socket, full buffer, send error) since creation.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The datagram text: `<PRI>Mmm dd hh:mm:ss superd[pid]: msg`, PRI = facility | level.
    /// Control characters in `msg` become spaces.
    pub fn format(
        facility: Facility,
        level: Level,
        now: &LocalTime,
        pid: u32,
        msg: &str,
    ) -> String {
        format!(
            "<{}>{} {}[{}]: {}",
            facility.code() | level.code(),
            syslog_stamp(now),
            Syslog::IDENT,
            pid,
            one_line(msg)
        )
    }

    /// Send one message without blocking. Returns whether it was handed to the socket.
    pub fn send(&mut self, facility: Facility, level: Level, now: &LocalTime, msg: &str) -> bool {
        let line = Syslog::format(facility, level, now, std::process::id(), msg);
        // Two attempts: the cached socket may be stale (syslogd restarted); one reconnect.
        for _ in 0..2 {
            let sock = match &self.sock {
                Some(sock) => sock,
                None => match self.connect() {
                    Ok(sock) => self.sock.insert(sock),
                    Err(_) => break,
                },
            };
            match sock.send(line.as_bytes()) {
                Ok(_) => return true,
                // The receiver's queue is full: drop this line, keep the connection.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.sock = None,
            }
        }
        self.dropped += 1;
        false
    }

    fn connect(&self) -> io::Result<UnixDatagram> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(&self.path)?;
        sock.set_nonblocking(true)?;
        Ok(sock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    fn noon() -> LocalTime {
        LocalTime::new(2026, 11, 7, 12, 0, 5, "UTC")
    }

    #[test]
    fn file_log_appends_stamped_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.log");
        fs::write(&path, "old\n").unwrap();
        let mut log = FileLog::open(&path, None, None).unwrap();
        assert_eq!(
            log.write_entry(&noon(), "START: a pid=1").unwrap(),
            Appended::Written
        );
        assert_eq!(
            log.write_entry(&noon(), "EXIT: a\nforged").unwrap(),
            Appended::Written
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "old\n26/11/7@12:00:05: START: a pid=1\n26/11/7@12:00:05: EXIT: a forged\n"
        );
    }

    #[test]
    fn file_log_is_created_with_mode_0644_and_cloexec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.log");
        let log = FileLog::open(&path, None, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The process umask can only remove bits.
        assert_eq!(mode & !0o644, 0);
        if let FileState::Open { file, .. } = &log.state {
            let flags = nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert_ne!(flags & nix::fcntl::FdFlag::FD_CLOEXEC.bits(), 0);
        } else {
            panic!("not open");
        }
    }

    #[test]
    fn file_log_reports_soft_limit_once_and_stops_at_hard_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lim.log");
        // Each line below is 10 bytes: "123456789\n".
        let mut log = FileLog::open(&path, Some(25), Some(40)).unwrap();
        let line = "123456789";
        assert_eq!(log.append_line(line).unwrap(), Appended::Written); // 10
        assert_eq!(log.append_line(line).unwrap(), Appended::Written); // 20
        assert_eq!(log.append_line(line).unwrap(), Appended::SoftLimit); // 30
        assert_eq!(log.append_line(line).unwrap(), Appended::Written); // 40 = hard, still fits
        assert_eq!(log.append_line(line).unwrap(), Appended::HardLimit); // would be 50
        assert_eq!(log.append_line(line).unwrap(), Appended::Closed);
        assert_eq!(fs::metadata(&path).unwrap().len(), 40);

        // Rotation plus reopen starts afresh.
        fs::rename(&path, dir.path().join("lim.log.1")).unwrap();
        log.reopen().unwrap();
        assert_eq!(log.append_line(line).unwrap(), Appended::Written);
        assert_eq!(fs::read_to_string(&path).unwrap(), "123456789\n");
    }

    #[test]
    fn file_log_reopen_after_rotation_writes_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.log");
        let rotated = dir.path().join("svc.log.1");
        let mut log = FileLog::open(&path, None, None).unwrap();
        assert_eq!(log.append_line("one").unwrap(), Appended::Written);
        fs::rename(&path, &rotated).unwrap();
        assert_eq!(log.append_line("two").unwrap(), Appended::Written); // still the old inode, as before SIGHUP
        log.reopen().unwrap();
        assert_eq!(log.append_line("three").unwrap(), Appended::Written);
        assert_eq!(fs::read_to_string(&rotated).unwrap(), "one\ntwo\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
    }

    #[test]
    fn file_log_failed_reopen_drops_lines_until_it_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let path = sub.join("svc.log");
        let mut log = FileLog::open(&path, None, None).unwrap();
        fs::remove_file(&path).unwrap();
        fs::remove_dir(&sub).unwrap();
        assert!(matches!(log.reopen(), Err(Error::Open { .. })));
        assert_eq!(log.append_line("lost").unwrap(), Appended::Closed);
        fs::create_dir(&sub).unwrap();
        log.reopen().unwrap();
        assert_eq!(log.append_line("kept").unwrap(), Appended::Written);
        assert_eq!(fs::read_to_string(&path).unwrap(), "kept\n");
    }

    #[test]
    fn open_error_names_the_path() {
        let err = FileLog::open(Path::new("/nonexistent-dir/x.log"), None, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot open log file /nonexistent-dir/x.log: "),
            "{err}"
        );
    }

    fn bind(dir: &Path) -> (UnixDatagram, PathBuf) {
        let path = dir.join("log.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        (server, path)
    }

    fn recv(server: &UnixDatagram) -> String {
        let mut buf = [0u8; 2048];
        let n = server.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn syslog_sends_rfc3164_datagrams() {
        let dir = tempfile::tempdir().unwrap();
        let (server, path) = bind(dir.path());
        let mut sys = Syslog::with_path(&path);
        assert!(sys.send(Facility::Daemon, Level::Info, &noon(), "START: echo pid=0"));
        let pid = std::process::id();
        // daemon (3<<3) | info (6) = 30
        assert_eq!(
            recv(&server),
            format!("<30>Nov  7 12:00:05 superd[{pid}]: START: echo pid=0")
        );
        assert!(sys.send(Facility::Local(7), Level::Err, &noon(), "two\nlines"));
        // local7 (23<<3) | err (3) = 187
        assert_eq!(
            recv(&server),
            format!("<187>Nov  7 12:00:05 superd[{pid}]: two lines")
        );
        assert_eq!(sys.dropped(), 0);
    }

    #[test]
    fn syslog_without_a_socket_drops_quietly() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = Syslog::with_path(dir.path().join("missing"));
        assert!(!sys.send(Facility::Daemon, Level::Info, &noon(), "x"));
        assert!(!sys.send(Facility::Daemon, Level::Info, &noon(), "y"));
        assert_eq!(sys.dropped(), 2);
    }

    #[test]
    fn syslog_reconnects_after_the_daemon_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (server, path) = bind(dir.path());
        let mut sys = Syslog::with_path(&path);
        assert!(sys.send(Facility::Daemon, Level::Info, &noon(), "before"));
        assert!(recv(&server).ends_with("before"));
        drop(server);
        fs::remove_file(&path).unwrap();
        let (server, _) = bind(dir.path());
        assert!(sys.send(Facility::Daemon, Level::Info, &noon(), "after"));
        assert!(recv(&server).ends_with("after"));
    }

    #[test]
    fn syslog_never_blocks_on_a_full_socket() {
        let dir = tempfile::tempdir().unwrap();
        let (server, path) = bind(dir.path());
        let mut sys = Syslog::with_path(&path);
        let big = "x".repeat(1000);
        let sent = (0..10_000)
            .filter(|_| sys.send(Facility::Daemon, Level::Info, &noon(), &big))
            .count() as u64;
        assert!(sys.dropped() > 0);
        assert_eq!(sent + sys.dropped(), 10_000);
        // The connection survives a full buffer: once drained, sending works again.
        server.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 2048];
        while server.recv(&mut buf).is_ok() {}
        assert!(sys.send(Facility::Daemon, Level::Info, &noon(), "again"));
    }

    #[test]
    fn one_line_replaces_control_characters() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }
}
