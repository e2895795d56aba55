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
//! and its expiry; counts of in-daemon sessions and forked servers; `END OF DUMP`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use crate::runtime::logging::ctime;
use crate::table::Service;

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

pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
