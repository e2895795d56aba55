//! The SIGUSR1 state dump: a read-only view of the daemon → text → file.
//!
//! The text is rendered by a pure function from a [`View`] the event loop fills in, and written
//! by replacing the file (write to a temporary name, then rename), so a reader never sees half a
//! dump. xinetd appends every dump to the same file; superd keeps only the latest.
//!
//! Format (documented in the README): a header; `Services: N`, then per service its run-time
//! state (`state`, `socket`, `running`, `connections`, `cps`) followed by its resolved
//! definition exactly as `--check` prints it; `Running servers: N` with one line per server
//! (pid, service, peer, start time); `Global deny list (SENSOR): N` with one line per address
//! and its expiry; counts of in-daemon sessions and forked servers; `END OF DUMP`. After the
//! definition come what xinetd's dump also shows and `--check` leaves out: the FILE log's
//! limits, `log_on_success`, `log_on_failure`, and a server's environment, one variable a line.
//! Because of the environment, the file is created readable by its owner only.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use crate::config::model::{FailureFlags, LogType, SuccessFlags};
use crate::runtime::logging::ctime;
use crate::table::{Action, Service};

pub struct View<'a> {
    pub started: SystemTime,
    pub config_file: &'a Path,
    pub services: Vec<ServiceView<'a>>,
    pub children: Vec<ChildView<'a>>,
    pub sessions: usize,
    pub forked: usize,
    /// SENSOR's global deny list: address and seconds left (`None`: FOREVER).
    pub denied: Vec<(std::net::IpAddr, Option<u64>)>,
}

pub struct ServiceView<'a> {
    pub def: &'a Service,
    pub local: Option<SocketAddr>,
    pub active: bool,
    pub armed: bool,
    pub running: usize,
    pub connections: u64,
    /// Seconds left in a `cps` pause, if the service is paused.
    pub cps_paused: Option<u64>,
}

pub struct ChildView<'a> {
    pub pid: i32,
    pub service: &'a str,
    pub peer: Option<SocketAddr>,
    pub started: SystemTime,
}

pub fn render(v: View<'_>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "superd {} state dump", crate::cli::VERSION);
    let _ = writeln!(o, "Current time: {}", ctime(SystemTime::now()));
    let _ = writeln!(o, "Started: {}", ctime(v.started));
    let _ = writeln!(o, "Config file: {}", v.config_file.display());
    let _ = writeln!(o, "Process id: {}", std::process::id());
    let _ = writeln!(o);
    let _ = writeln!(o, "Services: {}", v.services.len());
    for s in &v.services {
        let d = s.def;
        let state = match (s.active, s.armed) {
            (false, _) => "inactive (socket not open)",
            (true, true) => "active",
            (true, false) => "active, not accepting (server running or paused)",
        };
        let _ = writeln!(o, "service {}", d.id);
        let _ = writeln!(o, "\tstate = {state}");
        let addr = s
            .local
            .map(|a| a.to_string())
            .unwrap_or_else(|| d.listen.addr.to_string());
        let _ = writeln!(
            o,
            "\tsocket = {} {}/{}",
            d.listen.socket_type.as_str(),
            addr,
            d.protocol()
        );
        let _ = writeln!(o, "\trunning = {}", s.running);
        let _ = writeln!(o, "\tconnections = {}", s.connections);
        if let Some(left) = s.cps_paused {
            let _ = writeln!(o, "\tcps = paused, {left} s left");
        }
        // The resolved definition, as `--check` prints it (its first line names the service).
        for line in d.to_string().lines().skip(1) {
            let _ = writeln!(o, "{line}");
        }
        log_settings(&mut o, d);
        if let Action::Exec(plan) = &d.action {
            for var in plan.env.iter() {
                let _ = writeln!(o, "\tenv         = {}", var.to_string_lossy());
            }
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Running servers: {}", v.children.len());
    let mut children = v.children;
    children.sort_by_key(|c| c.pid);
    for c in &children {
        let peer = c
            .peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "<no address>".into());
        let _ = writeln!(
            o,
            "\tpid = {} service = {} peer = {} started = {}",
            c.pid,
            c.service,
            peer,
            ctime(c.started)
        );
    }
    let _ = writeln!(o, "Global deny list (SENSOR): {}", v.denied.len());
    for (ip, left) in &v.denied {
        match left {
            Some(secs) => {
                let _ = writeln!(o, "\t{ip} for {secs} s more");
            }
            None => {
                let _ = writeln!(o, "\t{ip} forever");
            }
        }
    }
    let _ = writeln!(o, "In-daemon sessions: {}", v.sessions);
    let _ = writeln!(o, "Forked servers counted against -limit: {}", v.forked);
    let _ = writeln!(o, "END OF DUMP");
    o
}

/// A service's log settings, as xinetd's dump shows them: the FILE log's limits (its path is in
/// the definition), then both flag lists in xinetd's order, `(none)` for an empty list.
fn log_settings(o: &mut String, d: &Service) {
    if let Some(LogType::File { soft, hard, .. }) = d.log_type.as_deref() {
        let limit = |v: &Option<u64>| v.map_or_else(|| "none".to_string(), |b| b.to_string());
        if soft.is_some() || hard.is_some() {
            let _ = writeln!(
                o,
                "\tlog_limits  = soft {} hard {} (bytes)",
                limit(soft),
                limit(hard)
            );
        }
    }
    let _ = writeln!(o, "\tlog_on_success = {}", success_words(d.log_on_success));
    let _ = writeln!(o, "\tlog_on_failure = {}", failure_words(d.log_on_failure));
}

fn words(flags: &[(bool, &str)]) -> String {
    let set: Vec<&str> = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
    if set.is_empty() {
        "(none)".to_string()
    } else {
        set.join(" ")
    }
}

fn success_words(f: SuccessFlags) -> String {
    words(&[
        (f.pid, "PID"),
        (f.host, "HOST"),
        (f.userid, "USERID"),
        (f.exit, "EXIT"),
        (f.duration, "DURATION"),
        (f.traffic, "TRAFFIC"),
    ])
}

fn failure_words(f: FailureFlags) -> String {
    words(&[
        (f.host, "HOST"),
        (f.userid, "USERID"),
        (f.attempt, "ATTEMPT"),
    ])
}

/// Replaces the dump file: written under a temporary name (mode 0600: it lists servers'
/// environments), then renamed over `path`.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    // A left-over temporary file would keep its old mode: start afresh.
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_lists_use_xinetd_words_in_xinetd_order() {
        let s = SuccessFlags {
            pid: true,
            host: true,
            exit: true,
            duration: true,
            ..SuccessFlags::default()
        };
        assert_eq!(success_words(s), "PID HOST EXIT DURATION");
        assert_eq!(success_words(SuccessFlags::default()), "(none)");
        let f = FailureFlags {
            host: true,
            attempt: true,
            ..FailureFlags::default()
        };
        assert_eq!(failure_words(f), "HOST ATTEMPT");
    }

    #[test]
    fn the_file_is_replaced_and_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump");
        write(&path, "first\n").unwrap();
        write(&path, "second\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
