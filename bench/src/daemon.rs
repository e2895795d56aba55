//! A program under test: its generated xinetd.conf or inetd.conf and command lines (pure; one
//! process per service for tcpserver and socket-activate), starting it on loopback ports,
//! waiting until every port listens, reloading it, and stopping it by the pids we spawned (or,
//! for inetutils-inetd, which always forks into the background, by the pid its pidfile in our
//! work dir names, checked against its command line). busybox inetd runs as `busybox inetd`:
//! its argv[0] is set to `busybox`, which is how busybox picks the applet from its arguments.
//!
//! Invariants: a start either returns a `Running` whose ports all listen or an error that says
//! why (early exit, ports busy, not up within the timeout) with the tail of its stderr and log;
//! a `Running` is stopped (SIGTERM, then SIGKILL) when dropped, so no path leaks a daemon.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::ops::Range;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{procfs, sys};

/// Which program is being measured. The order is the report's column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Superd,
    Xinetd,
    /// Debian's openbsd-inetd, run with `-i` (foreground) on an inetd.conf.
    OpenbsdInetd,
    /// GNU inetutils' inetd (Debian's inetutils-inetd) on an inetd.conf; it forks into the
    /// background (its only foreground mode, `-d`, also prints debug lines per connection).
    InetutilsInetd,
    /// busybox's inetd applet (built by the bench from Debian's busybox source, whose binaries
    /// leave the applet out), run with `-f` (foreground) on an inetd.conf.
    BusyboxInetd,
    /// ucspi-tcp's tcpserver: one process per service.
    Tcpserver,
    /// systemd's `systemd-socket-activate --accept --inetd`: one process per service.
    SocketActivate,
    /// The bench's own minimal accept → fork/exec loop.
    Ceiling,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Superd,
        Kind::Xinetd,
        Kind::OpenbsdInetd,
        Kind::InetutilsInetd,
        Kind::BusyboxInetd,
        Kind::Tcpserver,
        Kind::SocketActivate,
        Kind::Ceiling,
    ];

    /// The column title, and the word in `--NAME PATH` / `--no-NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Superd => "superd",
            Kind::Xinetd => "xinetd",
            Kind::OpenbsdInetd => "openbsd-inetd",
            Kind::InetutilsInetd => "inetutils-inetd",
            Kind::BusyboxInetd => "busybox-inetd",
            Kind::Tcpserver => "tcpserver",
            Kind::SocketActivate => "socket-activate",
            Kind::Ceiling => "ceiling",
        }
    }

    /// One process per service (memory figures are summed over the processes).
    pub fn one_process_per_service(self) -> bool {
        matches!(self, Kind::Tcpserver | Kind::SocketActivate)
    }

    /// One of the inetd.conf daemons: openbsd-inetd, inetutils-inetd, busybox inetd.
    fn is_inetd(self) -> bool {
        matches!(
            self,
            Kind::OpenbsdInetd | Kind::InetutilsInetd | Kind::BusyboxInetd
        )
    }

    /// Re-reads its configuration on SIGHUP.
    pub fn reloads(self) -> bool {
        matches!(self, Kind::Superd | Kind::Xinetd) || self.is_inetd()
    }

    /// Has an internal TCP echo service.
    pub fn echo_stream(self) -> bool {
        matches!(self, Kind::Superd | Kind::Xinetd) || self.is_inetd()
    }

    /// Answers UDP echo over loopback. openbsd-inetd's `dg_badinput` drops datagrams from
    /// loopback addresses (a reflection guard), so it cannot be measured here.
    pub fn echo_dgram(self) -> bool {
        matches!(
            self,
            Kind::Superd | Kind::Xinetd | Kind::InetutilsInetd | Kind::BusyboxInetd
        )
    }

    /// The port its internal echo services listen on: the inetds find internal services by
    /// their /etc/services name (busybox rejects `internal` on a numeric port), so their echo
    /// is always on port 7 (TCP and UDP). They never run at the same time: a round starts one
    /// program at a time and stops it before the next.
    pub fn echo_port(self, wanted: u16) -> u16 {
        if self.is_inetd() {
            7
        } else {
            wanted
        }
    }

    /// Forks into the background whatever its flags (inetutils-inetd runs in the foreground
    /// only with `-d`, which prints debug lines for every connection): the process we spawn
    /// exits at once and the daemon is found by the pidfile it writes into our work dir.
    pub fn daemonizes(self) -> bool {
        self == Kind::InetutilsInetd
    }

    /// The most services it can hold, if it has a hard limit: inetutils-inetd and busybox inetd
    /// wait in `select()`, and glibc aborts them ("bit out of range 0 - FD_SETSIZE") once a
    /// listening socket lands on descriptor 1024 (busybox as the bench builds it, with Debian's
    /// `_FORTIFY_SOURCE=2`). Descriptors 0–2 and 3 (the config file while it is read) are taken,
    /// so their sockets are 4–1023.
    pub fn max_services(self) -> Option<u32> {
        matches!(self, Kind::InetutilsInetd | Kind::BusyboxInetd).then_some(1020)
    }

    /// The argv[0] to exec it with, if not its path: busybox runs the applet named by its
    /// argv[0]'s file name, or, when that name is `busybox`, by its first argument. The bench's
    /// build and a full busybox both run `busybox inetd ARGS` whatever their file is called.
    pub fn argv0(self) -> Option<&'static str> {
        (self == Kind::BusyboxInetd).then_some("busybox")
    }
}

/// A program found or built, ready to start.
#[derive(Clone, Debug)]
pub struct Daemon {
    pub kind: Kind,
    pub bin: PathBuf,
    /// Version or provenance, for the report.
    pub version: String,
}

/// What answers on one port.
#[derive(Clone, Debug, PartialEq)]
pub enum Program {
    /// An external server, exec'd with argv = [path] and the connection on 0, 1 and 2.
    Exec(PathBuf),
    /// The internal TCP echo (`id = echo-stream`).
    EchoStream,
    /// The internal UDP echo (`id = echo-dgram`).
    EchoDgram,
}

/// One service: a port, what answers there, and its concurrency limit.
#[derive(Clone, Debug)]
pub struct Service {
    pub port: u16,
    pub program: Program,
    /// `instances` (xinetd), `-c` (tcpserver); `None` = unlimited.
    pub instances: Option<u32>,
    /// superd's `on_limit = defer` (else the default, accept-and-close).
    pub defer: bool,
}

/// The services of one daemon instance.
#[derive(Clone, Debug)]
pub struct Services {
    pub user: String,
    pub list: Vec<Service>,
}

impl Services {
    /// One unlimited external service per port, all running `server`.
    pub fn exec(user: &str, server: &Path, ports: Range<u16>) -> Services {
        Services {
            user: user.to_string(),
            list: ports
                .map(|port| Service {
                    port,
                    program: Program::Exec(server.to_path_buf()),
                    instances: None,
                    defer: false,
                })
                .collect(),
        }
    }

    /// The ports `kind` will listen on, with the protocol: (port, udp?).
    pub fn sockets(&self, kind: Kind) -> Vec<(u16, bool)> {
        self.list
            .iter()
            .map(|s| match s.program {
                Program::EchoStream => (kind.echo_port(s.port), false),
                Program::EchoDgram => (kind.echo_port(s.port), true),
                Program::Exec(_) => (s.port, false),
            })
            .collect()
    }
}

/// Paths of the files one daemon instance uses.
#[derive(Clone, Debug)]
pub struct Files {
    pub conf: PathBuf,
    pub stderr: PathBuf,
    pub filelog: PathBuf,
    pub pidfile: PathBuf,
}

impl Files {
    pub fn new(dir: &Path, tag: &str) -> Files {
        Files {
            conf: dir.join(format!("{tag}.conf")),
            stderr: dir.join(format!("{tag}.stderr")),
            filelog: dir.join(format!("{tag}.log")),
            pidfile: dir.join(format!("{tag}.pid")),
        }
    }
}

/// xinetd.conf text (superd and xinetd): one UNLISTED service per entry, one attribute per line.
///
/// `cps = 0 0` turns off xinetd's default limit of 50 connections/s (which would stop the
/// service for 10 s mid-run); `instances = UNLIMITED` is the default, spelled out. No
/// `log_type`, so neither daemon writes a per-connection log line. Internal echo services are
/// `service echo` with `id = echo-stream` / `echo-dgram`, as in xinetd's own examples.
pub fn xinetd_conf(svc: &Services) -> String {
    let mut out = String::from("# generated by superd-bench\n");
    for (i, s) in svc.list.iter().enumerate() {
        let instances = s
            .instances
            .map_or("UNLIMITED".to_string(), |n| n.to_string());
        let (head, body) = match &s.program {
            Program::Exec(server) => (
                format!("bench{i:04}"),
                format!(
                    "\ttype        = UNLISTED\n\
                     \tsocket_type = stream\n\
                     \tprotocol    = tcp\n\
                     \twait        = no\n\
                     \tuser        = {}\n\
                     \tserver      = {}\n",
                    svc.user,
                    server.display()
                ),
            ),
            Program::EchoStream => (
                "echo".to_string(),
                "\tid          = echo-stream\n\
                 \ttype        = INTERNAL UNLISTED\n\
                 \tsocket_type = stream\n\
                 \tprotocol    = tcp\n\
                 \twait        = no\n"
                    .to_string(),
            ),
            Program::EchoDgram => (
                "echo".to_string(),
                "\tid          = echo-dgram\n\
                 \ttype        = INTERNAL UNLISTED\n\
                 \tsocket_type = dgram\n\
                 \tprotocol    = udp\n\
                 \twait        = yes\n"
                    .to_string(),
            ),
        };
        let _ = write!(
            out,
            "\nservice {head}\n{{\n{body}\
             \tport        = {port}\n\
             \tbind        = 127.0.0.1\n\
             \tinstances   = {instances}\n\
             \tcps         = 0 0\n",
            port = s.port,
        );
        if s.defer {
            out.push_str("\ton_limit    = defer\n");
        }
        out.push_str("}\n");
    }
    out
}

/// inetd.conf text for openbsd-inetd. `nowait.2000000000` lifts its default limit of 256
/// spawns a minute per service (which would stop the service for ten minutes mid-run). Its
/// internal echo is found by service name, so it is `127.0.0.1:echo` (port 7); UDP echo is left
/// out (see `Kind::echo_dgram`), and it has no per-service instance limit.
pub fn inetd_conf(svc: &Services) -> String {
    let mut out = String::from("# generated by superd-bench\n");
    for s in &svc.list {
        match &s.program {
            Program::Exec(server) => {
                let argv0 = server
                    .file_name()
                    .map_or("server".into(), |n| n.to_string_lossy());
                let _ = writeln!(
                    out,
                    "127.0.0.1:{} stream tcp4 nowait.2000000000 {} {} {argv0}",
                    s.port,
                    svc.user,
                    server.display()
                );
            }
            Program::EchoStream => {
                out.push_str("127.0.0.1:echo stream tcp4 nowait.2000000000 root internal\n")
            }
            Program::EchoDgram => {}
        }
    }
    out
}

/// inetd.conf text for inetutils-inetd: the same fields as openbsd-inetd's, but plain `nowait`.
/// Its spawn-rate limit (1,000 a minute per service by default; over it the service stops for
/// ten minutes) is lifted by `-R` alone: a `nowait.N` suffix can only lower it further. Its
/// internal services are found by name too (echo on port 7), and its UDP echo answers loopback.
pub fn inetutils_conf(svc: &Services) -> String {
    plain_inetd_conf(svc, "tcp4", "udp4")
}

/// inetd.conf text for busybox inetd: plain `nowait`, as its spawn-rate limit (`-R`, and a
/// `nowait.N` suffix per service) is off unless asked for. It takes `tcp` and `udp` (a
/// protocol ending in `6` means IPv6; `tcp4` is a parse error). Its internal services are found
/// by name (echo on port 7); its UDP echo answers loopback, in its main loop.
pub fn busybox_conf(svc: &Services) -> String {
    plain_inetd_conf(svc, "tcp", "udp")
}

/// One inetd.conf line per service with plain `nowait`/`wait` and the given protocol names;
/// internal echo services by their /etc/services name.
fn plain_inetd_conf(svc: &Services, tcp: &str, udp: &str) -> String {
    let mut out = String::from("# generated by superd-bench\n");
    for s in &svc.list {
        match &s.program {
            Program::Exec(server) => {
                let argv0 = server
                    .file_name()
                    .map_or("server".into(), |n| n.to_string_lossy());
                let _ = writeln!(
                    out,
                    "127.0.0.1:{} stream {tcp} nowait {} {} {argv0}",
                    s.port,
                    svc.user,
                    server.display()
                );
            }
            Program::EchoStream => {
                let _ = writeln!(out, "127.0.0.1:echo stream {tcp} nowait root internal");
            }
            Program::EchoDgram => {
                let _ = writeln!(out, "127.0.0.1:echo dgram {udp} wait root internal");
            }
        }
    }
    out
}

/// The argv (one per process) that starts `d` with `svc`.
///
/// tcpserver: `-R -H -l 0` skip its ident and DNS lookups, `-b 1024` raises its listen backlog
/// from 20 to superd's, `-c` is the service's `instances` (else 100000, i.e. no limit).
/// socket-activate: `--accept --inetd`, one connection per child on fds 0 and 1.
/// inetutils-inetd: no `-d` (it forks away; see `Kind::daemonizes`), `--pidfile=` in our work
/// dir (its default is /run/inetd.pid, openbsd-inetd's too), `-R` lifts its spawn-rate limit.
/// busybox inetd: `inetd` names the applet (with argv[0] `busybox`, see `Kind::argv0`), `-f`
/// keeps it in the foreground, `-e` logs to stderr instead of syslog, `-q 1024` raises its
/// listen backlog from 128 to superd's.
pub fn command_lines(d: &Daemon, svc: &Services, files: &Files) -> Vec<Vec<String>> {
    let bin = d.bin.display().to_string();
    let exec_services = || {
        svc.list.iter().filter_map(|s| match &s.program {
            Program::Exec(server) => Some((s, server.display().to_string())),
            _ => None,
        })
    };
    match d.kind {
        Kind::Superd | Kind::Xinetd => {
            let mut argv = vec![bin, "-dontfork".to_string()];
            for (flag, path) in [
                ("-f", &files.conf),
                ("-filelog", &files.filelog),
                ("-pidfile", &files.pidfile),
            ] {
                argv.push(flag.to_string());
                argv.push(path.display().to_string());
            }
            vec![argv]
        }
        Kind::OpenbsdInetd => vec![vec![
            bin,
            "-i".to_string(),
            "-R".to_string(),
            "2000000000".to_string(),
            files.conf.display().to_string(),
        ]],
        Kind::InetutilsInetd => vec![vec![
            bin,
            format!("--pidfile={}", files.pidfile.display()),
            "-R".to_string(),
            "2000000000".to_string(),
            files.conf.display().to_string(),
        ]],
        Kind::BusyboxInetd => {
            let mut argv = vec![bin];
            argv.extend(["inetd", "-f", "-e", "-q", "1024"].map(String::from));
            argv.push(files.conf.display().to_string());
            vec![argv]
        }
        Kind::Tcpserver => exec_services()
            .map(|(s, server)| {
                let c = s.instances.unwrap_or(100_000).to_string();
                let port = s.port.to_string();
                [
                    bin.as_str(),
                    "-R",
                    "-H",
                    "-l",
                    "0",
                    "-b",
                    "1024",
                    "-c",
                    &c,
                    "127.0.0.1",
                    &port,
                    &server,
                ]
                .iter()
                .map(|a| a.to_string())
                .collect()
            })
            .collect(),
        Kind::SocketActivate => exec_services()
            .map(|(s, server)| {
                vec![
                    bin.clone(),
                    "-l".to_string(),
                    format!("127.0.0.1:{}", s.port),
                    "--accept".to_string(),
                    "--inetd".to_string(),
                    server,
                ]
            })
            .collect(),
        Kind::Ceiling => {
            // One ceiling per run of consecutive ports with the same server.
            let mut out: Vec<Vec<String>> = Vec::new();
            let mut last: Option<(u16, String)> = None;
            for (s, server) in exec_services() {
                match (&last, out.last_mut()) {
                    (Some((p, srv)), Some(argv)) if *p + 1 == s.port && *srv == server => {
                        argv[4] = format!("{}-{}", argv[4].split('-').next().unwrap_or(""), s.port);
                    }
                    _ => out.push(vec![
                        bin.clone(),
                        "--server".to_string(),
                        server.clone(),
                        "--ports".to_string(),
                        format!("{}-{}", s.port, s.port),
                    ]),
                }
                last = Some((s.port, server));
            }
            out
        }
    }
}

/// A started daemon (one or more processes) whose ports all listen.
pub struct Running {
    children: Vec<Child>,
    /// The daemon that forked away from the process we spawned (`Kind::daemonizes`), by the pid
    /// its pidfile gave; its new parent reaps it.
    detached: Option<u32>,
    /// Pids of the daemon's processes: the ones we spawned, in spawn order, or the detached one.
    pub pids: Vec<u32>,
    pub kind: Kind,
    pub files: Files,
    pub argv: Vec<String>,
    /// From the first spawn until every port listened.
    pub startup: Duration,
}

/// Starts `d` serving `svc`, and waits up to `timeout` for every port to listen.
pub fn start(
    d: &Daemon,
    svc: &Services,
    dir: &Path,
    tag: &str,
    timeout: Duration,
) -> Result<Running, String> {
    let name = d.kind.name();
    let wanted = svc.sockets(d.kind);
    let busy_tcp = procfs::listening_ports();
    let busy_udp = procfs::udp_ports();
    let taken: Vec<u16> = wanted
        .iter()
        .filter(|(p, udp)| {
            if *udp {
                busy_udp.contains(p)
            } else {
                busy_tcp.contains(p)
            }
        })
        .map(|(p, _)| *p)
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "{name}: {} port(s) already in use before start (first: {}); pick another --base-port/--large-base",
            taken.len(),
            taken[0]
        ));
    }

    let files = Files::new(dir, tag);
    for stale in [&files.filelog, &files.pidfile] {
        let _ = fs::remove_file(stale);
    }
    write_conf(d.kind, svc, &files.conf)?;
    let argvs = command_lines(d, svc, &files);
    if argvs.is_empty() {
        return Err(format!("{name}: nothing to start for this configuration"));
    }
    let err = File::create(&files.stderr).map_err(|e| format!("{name}: {e}"))?;
    let mut running = Running {
        children: Vec::new(),
        detached: None,
        pids: Vec::new(),
        kind: d.kind,
        argv: argvs[0].clone(),
        files,
        startup: Duration::ZERO,
    };
    let t0 = Instant::now();
    for argv in &argvs {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(err.try_clone().map_err(|e| format!("{name}: {e}"))?)
            .stderr(err.try_clone().map_err(|e| format!("{name}: {e}"))?);
        if let Some(argv0) = d.kind.argv0() {
            cmd.arg0(argv0);
        }
        if d.kind == Kind::SocketActivate {
            // Its per-connection "Spawned ..." lines are info level; the others log nothing
            // per connection either.
            cmd.env("SYSTEMD_LOG_LEVEL", "warning");
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("{name}: cannot start {}: {e}", argv[0]))?;
        running.pids.push(child.id());
        running.children.push(child);
    }

    loop {
        let exited = if d.kind.daemonizes() {
            running.adopt()
        } else {
            running
                .children
                .iter_mut()
                .find_map(|c| c.try_wait().ok().flatten())
                .map(|status| status.to_string())
        };
        if let Some(why) = exited {
            let tails = running.tails();
            let _ = running.stop();
            return Err(format!("{name} exited during startup ({why}){tails}"));
        }
        let (tcp, udp) = (procfs::listening_ports(), procfs::udp_ports());
        let up = wanted
            .iter()
            .filter(|(p, is_udp)| {
                if *is_udp {
                    udp.contains(p)
                } else {
                    tcp.contains(p)
                }
            })
            .count();
        let found = !d.kind.daemonizes() || running.detached.is_some();
        if up == wanted.len() && found {
            running.startup = t0.elapsed();
            return Ok(running);
        }
        if t0.elapsed() > timeout {
            let unfound = if found {
                String::new()
            } else {
                format!(
                    "; its pid was not yet in {} (it logs to syslog only)",
                    running.files.pidfile.display()
                )
            };
            let tails = running.tails();
            let _ = running.stop();
            return Err(format!(
                "{name}: only {up} of {} ports listening after {:.0} s{unfound}; stopped it{tails}",
                wanted.len(),
                timeout.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn write_conf(kind: Kind, svc: &Services, path: &Path) -> Result<(), String> {
    let text = match kind {
        Kind::Superd | Kind::Xinetd => xinetd_conf(svc),
        Kind::OpenbsdInetd => inetd_conf(svc),
        Kind::InetutilsInetd => inetutils_conf(svc),
        Kind::BusyboxInetd => busybox_conf(svc),
        _ => return Ok(()),
    };
    fs::write(path, text).map_err(|e| format!("{}: writing {}: {e}", kind.name(), path.display()))
}

impl Running {
    /// For a daemon that forks away: once the process we spawned has exited successfully, takes
    /// the daemon's pid from its pidfile (if it names a process running our config). Returns
    /// why the daemon is gone, if it is.
    fn adopt(&mut self) -> Option<String> {
        if let Some(pid) = self.detached {
            return (!procfs::running(pid)).then(|| format!("daemon pid {pid} exited"));
        }
        let launcher = self.children.first_mut()?;
        match launcher.try_wait() {
            Ok(Some(status)) if status.success() => {}
            Ok(Some(status)) => return Some(status.to_string()),
            _ => return None,
        }
        // Written after the fork and before the config is read; may be empty for a moment.
        let pid = fs::read_to_string(&self.files.pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())?;
        if !self.runs_our_config(pid) {
            return None;
        }
        self.children.clear();
        self.detached = Some(pid);
        self.pids = vec![pid];
        None
    }

    /// True if PID's command line names our config file (so it is the daemon we started, not a
    /// recycled pid).
    fn runs_our_config(&self, pid: u32) -> bool {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let conf = self.files.conf.display().to_string();
        String::from_utf8_lossy(&cmdline).contains(&conf)
    }

    /// True while every process we spawned (or the detached daemon) is still running.
    pub fn alive(&mut self) -> bool {
        if let Some(pid) = self.detached {
            return procfs::running(pid);
        }
        !self.children.is_empty()
            && self
                .children
                .iter_mut()
                .all(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Rewrites the configuration file for `svc` (the daemon reads it on `hup`).
    pub fn rewrite(&self, svc: &Services) -> Result<(), String> {
        write_conf(self.kind, svc, &self.files.conf)
    }

    /// Sends SIGHUP to the (first) process we spawned.
    pub fn hup(&self) -> Result<(), String> {
        let pid = *self.pids.first().ok_or("not running")?;
        sys::send_signal(pid, sys::SIGHUP).map_err(|e| format!("SIGHUP to {pid}: {e}"))
    }

    /// The last lines of the daemon's stderr and -filelog, formatted for an error message.
    pub fn tails(&self) -> String {
        let mut s = String::new();
        for (what, path) in [("stderr", &self.files.stderr), ("log", &self.files.filelog)] {
            let t = tail(path, 6);
            if !t.is_empty() {
                let _ = write!(
                    s,
                    "\n    {what} ({}):\n      {}",
                    path.display(),
                    t.join("\n      ")
                );
            }
        }
        s
    }

    /// SIGTERM to each pid we spawned, up to 3 s to exit, then SIGKILL. Returns a note if a
    /// process had already died or needed SIGKILL.
    pub fn stop(&mut self) -> Option<String> {
        let name = self.kind.name();
        let mut notes = Vec::new();
        if self.kind.daemonizes() && self.detached.is_none() && !self.children.is_empty() {
            // Stopped before the daemon's pid was known: give the process we spawned a moment
            // to fork and the daemon to write its pidfile, so it is not left running.
            let t0 = Instant::now();
            while self.adopt().is_none()
                && self.detached.is_none()
                && t0.elapsed() < Duration::from_secs(1)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Some(pid) = self.detached.take() {
            notes.extend(stop_detached(name, pid));
        }
        let mut children = std::mem::take(&mut self.children);
        for child in &mut children {
            match child.try_wait() {
                Ok(Some(status)) => notes.push(format!(
                    "{name} (pid {}) had exited by itself: {status}",
                    child.id()
                )),
                _ => {
                    let _ = sys::send_signal(child.id(), sys::SIGTERM);
                }
            }
        }
        let t0 = Instant::now();
        for child in &mut children {
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if t0.elapsed() > Duration::from_secs(3) {
                    // Child::kill sends SIGKILL to this pid only.
                    let _ = child.kill();
                    let _ = child.wait();
                    notes.push(format!(
                        "{name} (pid {}) ignored SIGTERM for 3 s; killed",
                        child.id()
                    ));
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if !children.is_empty() {
            self.kill_stray_from_pidfile();
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// If the daemon forked away despite -dontfork, its pidfile names another process running
    /// our config; stop that one too, by that pid.
    fn kill_stray_from_pidfile(&self) {
        let Some(pid) = fs::read_to_string(&self.files.pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            return;
        };
        if self.pids.contains(&pid) || pid == 0 {
            return;
        }
        if self.runs_our_config(pid) {
            let _ = sys::send_signal(pid, sys::SIGKILL);
        }
    }
}

/// SIGTERM to a daemon that forked away from us, up to 3 s to exit, then SIGKILL (and up to 3 s
/// more). It is not our child, so "exited" is read from /proc: gone, or a zombie, which holds no
/// socket any more. Returns a note if it had already exited or needed SIGKILL.
fn stop_detached(name: &str, pid: u32) -> Option<String> {
    if !procfs::running(pid) {
        return Some(format!("{name} (pid {pid}) had exited by itself"));
    }
    let _ = sys::send_signal(pid, sys::SIGTERM);
    let gone_within = |limit: Duration| {
        let t0 = Instant::now();
        while procfs::running(pid) {
            if t0.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    };
    if gone_within(Duration::from_secs(3)) {
        return None;
    }
    let _ = sys::send_signal(pid, sys::SIGKILL);
    gone_within(Duration::from_secs(3));
    Some(format!(
        "{name} (pid {pid}) ignored SIGTERM for 3 s; killed"
    ))
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The last `n` non-empty lines of a file.
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> Services {
        Services::exec("root", Path::new("/w/tiny"), 21000..21002)
    }

    fn daemon(kind: Kind) -> Daemon {
        Daemon {
            kind,
            bin: "/x".into(),
            version: String::new(),
        }
    }

    #[test]
    fn config_has_one_unlisted_service_per_port_with_cps_off() {
        let conf = xinetd_conf(&svc());
        assert_eq!(conf.matches("service bench").count(), 2);
        assert!(conf.contains("service bench0001\n{\n"));
        assert!(conf.contains("\tport        = 21001\n"));
        assert!(conf.contains("\tcps         = 0 0\n"));
        assert!(conf.contains("\tserver      = /w/tiny\n"));
        assert!(!conf.contains("log_type"));
        assert!(!conf.contains("on_limit"));
    }

    #[test]
    fn internal_echo_and_limits_are_spelled_as_xinetd_reads_them() {
        let mut s = svc();
        s.list[0].instances = Some(50);
        s.list[0].defer = true;
        s.list[1].program = Program::EchoDgram;
        let conf = xinetd_conf(&s);
        assert!(conf.contains("\tinstances   = 50\n\tcps         = 0 0\n\ton_limit    = defer\n}"));
        assert!(conf.contains("service echo\n{\n\tid          = echo-dgram\n\ttype        = INTERNAL UNLISTED\n\tsocket_type = dgram\n"));
        assert_eq!(s.sockets(Kind::Superd), vec![(21000, false), (21001, true)]);
    }

    #[test]
    fn inetd_conf_lifts_the_rate_limit_and_puts_echo_on_its_named_port() {
        let mut s = svc();
        s.list[1].program = Program::EchoStream;
        assert_eq!(
            inetd_conf(&s),
            "# generated by superd-bench\n\
             127.0.0.1:21000 stream tcp4 nowait.2000000000 root /w/tiny tiny\n\
             127.0.0.1:echo stream tcp4 nowait.2000000000 root internal\n"
        );
        assert_eq!(s.sockets(Kind::OpenbsdInetd)[1], (7, false));
    }

    /// `svc()` with its second service the stream echo and a datagram echo added.
    fn svc_with_both_echoes() -> Services {
        let mut s = svc();
        s.list[1].program = Program::EchoStream;
        s.list.push(Service {
            port: 21002,
            program: Program::EchoDgram,
            instances: None,
            defer: false,
        });
        s
    }

    #[test]
    fn inetutils_conf_has_plain_nowait_and_both_echoes_on_port_7() {
        let s = svc_with_both_echoes();
        assert_eq!(
            inetutils_conf(&s),
            "# generated by superd-bench\n\
             127.0.0.1:21000 stream tcp4 nowait root /w/tiny tiny\n\
             127.0.0.1:echo stream tcp4 nowait root internal\n\
             127.0.0.1:echo dgram udp4 wait root internal\n"
        );
        assert_eq!(
            s.sockets(Kind::InetutilsInetd),
            vec![(21000, false), (7, false), (7, true)]
        );
        assert_eq!(s.sockets(Kind::Superd)[2], (21002, true));
    }

    #[test]
    fn busybox_conf_has_plain_protocol_names_and_both_echoes_on_port_7() {
        let s = svc_with_both_echoes();
        assert_eq!(
            busybox_conf(&s),
            "# generated by superd-bench\n\
             127.0.0.1:21000 stream tcp nowait root /w/tiny tiny\n\
             127.0.0.1:echo stream tcp nowait root internal\n\
             127.0.0.1:echo dgram udp wait root internal\n"
        );
        assert_eq!(
            s.sockets(Kind::BusyboxInetd),
            vec![(21000, false), (7, false), (7, true)]
        );
        assert!(Kind::BusyboxInetd.reloads() && Kind::BusyboxInetd.echo_dgram());
        assert_eq!(Kind::BusyboxInetd.max_services(), Some(1020));
        assert_eq!(Kind::BusyboxInetd.argv0(), Some("busybox"));
        assert_eq!(Kind::Superd.argv0(), None);
    }

    #[test]
    fn each_program_gets_its_own_command_lines() {
        let files = Files::new(Path::new("/w"), "t");
        let one = |kind| {
            command_lines(&daemon(kind), &svc(), &files)
                .iter()
                .map(|a| a.join(" "))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            one(Kind::Xinetd),
            ["/x -dontfork -f /w/t.conf -filelog /w/t.log -pidfile /w/t.pid"]
        );
        assert_eq!(one(Kind::OpenbsdInetd), ["/x -i -R 2000000000 /w/t.conf"]);
        assert_eq!(
            one(Kind::InetutilsInetd),
            ["/x --pidfile=/w/t.pid -R 2000000000 /w/t.conf"]
        );
        assert_eq!(
            one(Kind::BusyboxInetd),
            ["/x inetd -f -e -q 1024 /w/t.conf"]
        );
        assert_eq!(
            one(Kind::Ceiling),
            ["/x --server /w/tiny --ports 21000-21001"]
        );
        assert_eq!(
            one(Kind::Tcpserver),
            [
                "/x -R -H -l 0 -b 1024 -c 100000 127.0.0.1 21000 /w/tiny",
                "/x -R -H -l 0 -b 1024 -c 100000 127.0.0.1 21001 /w/tiny"
            ]
        );
        assert_eq!(
            one(Kind::SocketActivate)[1],
            "/x -l 127.0.0.1:21001 --accept --inetd /w/tiny"
        );
    }
}
