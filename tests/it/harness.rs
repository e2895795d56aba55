//! Test harness: start the real daemon on a configuration written to a temporary directory,
//! find free loopback ports, read its logs, signal it, and always stop it by PID on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_superd");

/// Ports below the kernel's ephemeral range, each checked free for TCP and UDP. Candidates are
/// drawn at random (seeded by pid and clock) and never handed out twice in one process: other
/// test runs and benchmarks share loopback, and two processes walking the same sequence would
/// race for the same port between this check and the daemon's bind.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    // (xorshift64 state, ports handed out so far)
    static STATE: Mutex<(u64, Vec<u16>)> = Mutex::new((0, Vec::new()));
    let mut st = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if st.0 == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        st.0 = ((u64::from(std::process::id()) << 32) ^ nanos) | 1;
    }
    loop {
        let mut x = st.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        st.0 = x;
        let port = 20000 + (x % 12000) as u16;
        if !st.1.contains(&port)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            st.1.push(port);
            return port;
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY-free: read the effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Skips a test that needs root, saying why.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::harness::is_root() {
            eprintln!("SKIPPED: this test needs root (it changes user, group or limits)");
            return;
        }
    };
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub conf: PathBuf,
}

impl Daemon {
    /// Writes `conf` (with `{dir}` replaced by the temp dir) and starts superd in the
    /// foreground on it; waits until it says it is working.
    pub fn start(conf: &str) -> Daemon {
        Daemon::start_with(conf, &[])
    }

    pub fn start_with(conf: &str, extra: &[&str]) -> Daemon {
        let d = Daemon::prepare(conf);
        d.launch(extra)
    }

    /// Writes the configuration without starting the daemon.
    pub fn prepare(conf: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf_path = dir.path().join("superd.conf");
        std::fs::write(
            &conf_path,
            conf.replace("{dir}", dir.path().to_str().unwrap()),
        )
        .unwrap();
        Daemon {
            dir,
            child: None,
            conf: conf_path,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text.replace("{dir}", self.dir.path().to_str().unwrap())).unwrap();
        p
    }

    pub fn launch(self, extra: &[&str]) -> Daemon {
        self.launch_wrapped(&[], extra)
    }

    /// Starts superd through `wrapper` (a program that ends by exec'ing its arguments, such as
    /// `setpriv ... --` or `sh -c 'umask 0; exec "$0" "$@"'`), so the PID is still superd's.
    pub fn launch_wrapped(mut self, wrapper: &[&str], extra: &[&str]) -> Daemon {
        let mut cmd = match wrapper.split_first() {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.arg("-dontfork")
            .arg("-f")
            .arg(&self.conf)
            .arg("-filelog")
            .arg(self.path("daemon.log"))
            .arg("--dump-file")
            .arg(self.path("dump"))
            .arg("--pidfile")
            .arg(self.path("pid"))
            // The machine's tcp_wrappers files must not decide the tests: each daemon gets its
            // own (absent unless a test writes them, which means "no rules").
            .arg("--hosts-allow")
            .arg(self.path("hosts.allow"))
            .arg("--hosts-deny")
            .arg(self.path("hosts.deny"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("stderr")).unwrap());
        self.child = Some(cmd.spawn().expect("start superd"));
        self.wait_log("Started working", Duration::from_secs(10));
        self
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(-1)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY-free: `kill` via the shell tool would be by name-free PID too; use libc.
        unsafe_kill(self.pid(), sig);
    }

    /// The daemon's own log (`-filelog`).
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Waits until the daemon log contains `needle` (bounded).
    pub fn wait_log(&self, needle: &str, limit: Duration) -> String {
        self.wait_file("daemon.log", needle, limit)
    }

    /// Waits until file `name` in the temp dir contains `needle` `count` times (bounded).
    pub fn wait_file_count(
        &self,
        name: &str,
        needle: &str,
        count: usize,
        limit: Duration,
    ) -> String {
        wait_in_file(&self.dir.path().join(name), needle, count, limit, "superd")
    }

    pub fn wait_file(&self, name: &str, needle: &str, limit: Duration) -> String {
        self.wait_file_count(name, needle, 1, limit)
    }

    /// Sends SIGHUP and waits for the reload to finish.
    pub fn reload(&self) {
        let before = self.daemon_log().matches("Reconfigured:").count();
        self.signal(libc_sig::SIGHUP);
        self.wait_file_count(
            "daemon.log",
            "Reconfigured:",
            before + 1,
            Duration::from_secs(10),
        );
    }

    /// Stops the daemon with SIGTERM and returns its exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe_kill(child.id() as i32, libc_sig::SIGTERM);
        wait_bounded(&mut child, Duration::from_secs(10))
    }

    /// Descriptors the daemon holds open, as (fd, target).
    pub fn fds(&self) -> Vec<(i32, String)> {
        fds_of(self.pid())
    }

    /// Live child processes of the daemon (pids), zombies included.
    pub fn children(&self) -> Vec<(i32, char)> {
        children_of(self.pid())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop_child(self.child.take());
    }
}

/// Stops a daemon a test started, by its pid: SIGTERM, then SIGKILL after 5 s.
pub fn stop_child(child: Option<Child>) {
    if let Some(mut child) = child {
        unsafe_kill(child.id() as i32, libc_sig::SIGTERM);
        if wait_bounded(&mut child, Duration::from_secs(5)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until the file at `path` contains `needle` `count` times (bounded); on time-out, panics
/// showing it, and the `daemon.log` and `stderr` beside it. `who` names the daemon in the message.
pub fn wait_in_file(path: &Path, needle: &str, count: usize, limit: Duration, who: &str) -> String {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let deadline = Instant::now() + limit;
    loop {
        let text = read(path);
        if text.matches(needle).count() >= count {
            return text;
        }
        if Instant::now() > deadline {
            panic!(
                "{who}: timed out waiting for {count}x {needle:?} in {}:\n{text}\n--- daemon log:\n{}\n--- stderr:\n{}",
                path.display(),
                read(&dir.join("daemon.log")),
                read(&dir.join("stderr"))
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().or(Some(-1));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub mod libc_sig {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGKILL: i32 = 9;
    pub const SIGUSR1: i32 = 10;
    pub const SIGTERM: i32 = 15;
}

/// `kill(pid, sig)` through the `kill` program, so the tests need no unsafe code. Only ever
/// called with a PID the test started.
pub fn unsafe_kill(pid: i32, sig: i32) {
    if pid <= 1 {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

pub fn fds_of(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() {
                let target = std::fs::read_link(e.path())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                out.push((fd, target));
            }
        }
    }
    out.sort();
    out
}

/// Children of `pid`: (pid, state letter from /proc/PID/stat).
pub fn children_of(pid: i32) -> Vec<(i32, char)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((p, state));
        }
    }
    out
}

/// Connects, sends `input` (then half-closes), reads everything until EOF (bounded).
pub fn tcp_exchange(port: u16, input: &[u8]) -> Vec<u8> {
    tcp_exchange_from("127.0.0.1", port, input)
}

pub fn tcp_exchange_from(host: &str, port: u16, input: &[u8]) -> Vec<u8> {
    let mut s = connect(host, port);
    if !input.is_empty() {
        s.write_all(input).unwrap();
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Connects from source address `src` (any of 127.0.0.0/8 works on Linux) to 127.0.0.1:`port`
/// and reads to EOF (bounded).
pub fn exchange_from(src: &str, port: u16) -> Vec<u8> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{src}:0").parse().unwrap();
    sock.bind(&from.into()).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

pub fn connect(host: &str, port: u16) -> TcpStream {
    let addr: SocketAddr = format!(
        "{}:{port}",
        if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        }
    )
    .parse()
    .unwrap();
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends one datagram and waits (bounded) for one reply.
pub fn udp_exchange(port: u16, input: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(input, ("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 65536];
    match s.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Writes an executable shell script.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Runs `superd` with arguments to completion (bounded), returning (code, stdout, stderr).
pub fn run_superd(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = wait_bounded(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = child.kill();
        -999
    });
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, out, err)
}

/// The probe server (tests/it/probe/probe.c), compiled once per test run with the system's C
/// compiler.
pub fn probe() -> PathBuf {
    static PROBE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("superd-probe");
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/probe/probe.c");
            let tmp = out.with_extension(format!("tmp{}", std::process::id()));
            let st = Command::new("cc")
                .arg("-O1")
                .arg("-o")
                .arg(&tmp)
                .arg(&src)
                .status()
                .expect("run cc");
            assert!(st.success(), "compiling the probe failed");
            std::fs::rename(&tmp, &out).unwrap();
            // Readable and executable by unprivileged users too (user = nobody tests).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
            out
        })
        .clone()
}

/// Parses the probe's `key=value` lines.
pub fn probe_values(out: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

pub fn probe_get(vals: &[(String, String)], key: &str) -> Option<String> {
    vals.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The probe's `fd` lines when it holds exactly descriptors 0, 1 and 2, blocking and not
/// close-on-exec: what every spawned server should see.
pub const PROBE_STDIO_ONLY: [&str; 3] = [
    "0 nonblock=0 cloexec=0",
    "1 nonblock=0 cloexec=0",
    "2 nonblock=0 cloexec=0",
];

pub fn probe_all(vals: &[(String, String)], key: &str) -> Vec<String> {
    vals.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A service block running `server` as a nowait stream service on `port`.
pub fn ext_service(id: &str, port: u16, server: &Path, extra: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n{extra}}}\n",
        server.display()
    )
}

pub const LOG_DEFAULTS: &str = "defaults\n{\n\tlog_type = FILE {dir}/svc.log\n\tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST ATTEMPT\n}\n";

/// Runs a command to completion (bounded: killed by PID after `limit`), returning (code,
/// stdout, stderr). Output is read by threads so a chatty program cannot block on a full pipe.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let code = wait_bounded(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        -999
    });
    (code, out_t.join().unwrap(), err_t.join().unwrap())
}

/// Whether the suite runs in CI (where every package the tests use must be installed).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Skips a test whose program is missing outside CI; fails it in CI, where `.ci/run` installs
/// everything.
#[macro_export]
macro_rules! require_program {
    ($found:expr, $what:expr) => {
        match $found {
            Some(p) => p,
            None => {
                if $crate::harness::in_ci() {
                    panic!(
                        "{} is missing: .ci/run should have installed it (CI is set)",
                        $what
                    );
                }
                eprintln!("SKIPPED: {} is not installed", $what);
                return;
            }
        }
    };
}

/// Whether process `pid` exists and has not exited (a zombie counts as gone).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

/// Waits (bounded) until process `pid` is gone; true if it went.
pub fn wait_pid_gone(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while pid_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A process the test caused to exist but did not spawn itself (a daemon that went into the
/// background, a server left running): on drop, if still alive, its process group (it leads
/// one: servers and the background daemon call `setsid`) and then the PID get SIGKILL.
pub struct PidGuard(pub i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if pid_alive(self.0) {
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{}", self.0)])
                .stderr(Stdio::null())
                .status();
            unsafe_kill(self.0, libc_sig::SIGKILL);
            wait_pid_gone(self.0, Duration::from_secs(5));
        }
    }
}

/// The inode of the socket listening on 127.0.0.1:`port` over TCP, from /proc/net/tcp.
pub fn tcp_listen_inode(port: u16) -> Option<u64> {
    let want = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 9 && f[1] == want && f[3] == "0A")
            .then(|| f[9].parse().ok())
            .flatten()
    })
}

/// Reads one line from a stream (bounded by its read timeout).
pub fn read_line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while let Ok(1) = s.read(&mut b) {
        out.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a TCP connection to 127.0.0.1:`port` is refused.
pub fn refused(port: u16) -> bool {
    match TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    ) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}
