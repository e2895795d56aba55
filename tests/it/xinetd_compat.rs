//! Differential tests: the real xinetd 2.3.15.3 (Debian package, unpacked by `.ci/run` under
//! `target/debs/xinetd`) and superd run side by side on the same configuration, each on its own
//! loopback ports, and must behave the same wherever superd promises compatibility. Where the
//! README ("Differences from xinetd") documents a deliberate difference, the test asserts each
//! side's documented behaviour instead of equality.
//!
//! Configurations are templates: `{dir}` is each daemon's temporary directory, `{p0}`, `{p1}`, …
//! its ports, `{probe}` the probe server, and `{nolibwrap}` expands to `flags = NOLIBWRAP` in
//! xinetd's copy only when this machine's hosts.allow or hosts.deny hold rules (superd does not
//! read them; see the README). Both daemons are stopped by PID on drop.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// The xinetd binary: the package unpacked by `.ci/run`, else one on PATH.
fn xinetd_bin() -> Option<PathBuf> {
    let unpacked = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debs/xinetd/usr/sbin/xinetd");
    if unpacked.is_file() {
        return Some(unpacked);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("xinetd"))
        .find(|p| p.is_file())
}

macro_rules! require_xinetd {
    () => {
        $crate::require_program!(
            xinetd_bin(),
            "xinetd (target/debs/xinetd/usr/sbin/xinetd, unpacked by .ci/run, or on PATH)"
        )
    };
}

/// Whether /etc/hosts.allow or /etc/hosts.deny hold any rule (a non-comment, non-blank line).
fn libwrap_rules_present() -> bool {
    ["/etc/hosts.allow", "/etc/hosts.deny"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
    })
}

/// Fills a template for one side.
fn render(template: &str, dir: &Path, ports: &[u16], xinetd: bool) -> String {
    let mut s = template.replace("{dir}", dir.to_str().unwrap());
    // Highest index first, so {p1} does not eat the start of {p10}.
    for (i, p) in ports.iter().enumerate().rev() {
        s = s.replace(&format!("{{p{i}}}"), &p.to_string());
    }
    let nolibwrap = if xinetd && libwrap_rules_present() {
        "\tflags = NOLIBWRAP\n"
    } else {
        ""
    };
    s.replace("{probe}", probe().to_str().unwrap())
        .replace("{nolibwrap}", nolibwrap)
        .replace("{user}", &current_user())
}

/// The name of the user running the tests: services run as that user, so xinetd's unconditional
/// `setuid` succeeds when the tests are not run as root (superd would only warn, a documented
/// difference that is not what these tests compare).
fn current_user() -> String {
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        let (code, out, err) = run_bounded(Command::new("id").arg("-un"), Duration::from_secs(10));
        assert_eq!(code, 0, "id -un: {err}");
        out.trim().to_string()
    })
    .clone()
}

/// The real xinetd, in the foreground, on a configuration in its own temporary directory.
struct Xinetd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Xinetd {
    fn prepare() -> Xinetd {
        Xinetd {
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Starts `bin -dontfork -f CONF -filelog LOG` under umask 022 (xinetd itself ORs 022 in).
    fn launch(mut self, bin: &Path, conf: &str) -> Xinetd {
        let conf_path = self.path("xinetd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(bin)
            .arg("-dontfork")
            .arg("-f")
            .arg(&conf_path)
            .arg("-filelog")
            .arg(self.path("daemon.log"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("stderr")).unwrap())
            .spawn()
            .expect("start xinetd");
        self.child = Some(child);
        self.wait_file("daemon.log", "Started working", Duration::from_secs(10));
        self
    }

    fn wait_file(&self, name: &str, needle: &str, limit: Duration) -> String {
        self.wait_file_count(name, needle, 1, limit)
    }

    fn wait_file_count(&self, name: &str, needle: &str, count: usize, limit: Duration) -> String {
        wait_in_file(&self.path(name), needle, count, limit, "xinetd")
    }
}

impl Drop for Xinetd {
    fn drop(&mut self) {
        stop_child(self.child.take());
    }
}

/// Both daemons on one configuration template, each with its own `n` free ports.
struct Pair {
    x: Xinetd,
    s: Daemon,
    xp: Vec<u16>,
    sp: Vec<u16>,
}

impl Pair {
    fn start(bin: &Path, template: &str, n: usize) -> Pair {
        Pair::start_with_files(bin, template, n, &[])
    }

    /// Also writes `files` (relative name, template) into each daemon's directory first.
    fn start_with_files(bin: &Path, template: &str, n: usize, files: &[(&str, &str)]) -> Pair {
        let xp: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let sp: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let x = Xinetd::prepare();
        let s = Daemon::prepare("");
        for (name, text) in files {
            for (dir, ports, is_x) in [(x.dir.path(), &xp, true), (s.dir.path(), &sp, false)] {
                let p = dir.join(name);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, render(text, dir, ports, is_x)).unwrap();
            }
        }
        std::fs::write(&s.conf, render(template, s.dir.path(), &sp, false)).unwrap();
        let x_conf = render(template, x.dir.path(), &xp, true);
        let x = x.launch(bin, &x_conf);
        let s = s.launch_wrapped(&["sh", "-c", "umask 022; exec \"$0\" \"$@\""], &[]);
        Pair { x, s, xp, sp }
    }
}

/// A service log with the timestamps, pids and durations replaced, after checking that every
/// line starts with xinetd's `YY/M/D@HH:MM:SS: ` (month and day not zero-padded).
fn normalise_log(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| {
            let (ts, rest) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("no timestamp: {l:?}"));
            check_timestamp(ts, l);
            let mut out = String::from("TS: ");
            for (i, word) in rest.split(' ').enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&normalise_word(word));
            }
            out
        })
        .collect()
}

fn check_timestamp(ts: &str, line: &str) {
    let ok = (|| {
        let (date, time) = ts.split_once('@')?;
        let d: Vec<&str> = date.split('/').collect();
        let t: Vec<&str> = time.split(':').collect();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let unpadded = |s: &str| digits(s) && s.len() <= 2 && !s.starts_with('0');
        Some(
            d.len() == 3
                && d[0].len() == 2
                && digits(d[0])
                && unpadded(d[1])
                && unpadded(d[2])
                && t.len() == 3
                && t.iter().all(|x| x.len() == 2 && digits(x)),
        )
    })()
    .unwrap_or(false);
    assert!(ok, "timestamp {ts:?} is not YY/M/D@HH:MM:SS in {line:?}");
}

/// `pid=1234` → `pid=N` (but `pid=0`, the mark of an in-daemon session, stays);
/// `duration=1(sec)` → `duration=N(sec)`.
fn normalise_word(word: &str) -> String {
    if let Some(v) = word.strip_prefix("pid=") {
        if v != "0" && v.bytes().all(|b| b.is_ascii_digit()) {
            return "pid=N".into();
        }
    }
    if let Some(v) = word
        .strip_prefix("duration=")
        .and_then(|v| v.strip_suffix("(sec)"))
    {
        if v.bytes().all(|b| b.is_ascii_digit()) {
            return "duration=N(sec)".into();
        }
    }
    word.to_string()
}

/// Connects and reads to EOF without half-closing first (a dual-stack IPv4 client must still be
/// connected when the daemon converts the socket with `IPV6_ADDRFORM`).
fn read_all_from(host: &str, port: u16) -> Vec<u8> {
    let mut s = connect(host, port);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

const LOGS: &str = "defaults\n{\n\tlog_type = FILE {dir}/svc.log\n\tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST ATTEMPT\n}\n";

fn ext(id: &str, port: &str, server: &str, extra: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = {{user}}\n\tserver = {server}\n\tport = {port}\n\tbind = 127.0.0.1\n{{nolibwrap}}{extra}}}\n"
    )
}

fn internal(name: &str, socket_type: &str, port: &str) -> String {
    format!(
        "service {name}\n{{\n\tid = {name}-{socket_type}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {socket_type}\n\twait = {}\n\tport = {port}\n\tbind = 127.0.0.1\n{{nolibwrap}}}}\n",
        if socket_type == "dgram" { "yes" } else { "no" }
    )
}

// ---------------------------------------------------------------------------------------------
// 1. Log lines

#[test]
fn log_lines_start_exit_fail_are_byte_compatible() {
    let bin = require_xinetd!();
    let conf = format!(
        "{LOGS}{}{}{}",
        ext("echoer", "{p0}", "/bin/echo", "\tserver_args = hello\n"),
        internal("daytime", "stream", "{p1}"),
        ext("zero", "{p2}", "/bin/echo", "\tinstances = 0\n"),
    );
    let p = Pair::start(&bin, &conf, 3);
    for (ports, side) in [(&p.xp, "xinetd"), (&p.sp, "superd")] {
        assert_eq!(tcp_exchange(ports[0], b""), b"hello\n", "{side}");
        // Wait for the EXIT line, so the order of the lines is fixed.
        let wait = |needle: &str, n: usize| {
            if side == "xinetd" {
                p.x.wait_file_count("svc.log", needle, n, Duration::from_secs(5));
            } else {
                p.s.wait_file_count("svc.log", needle, n, Duration::from_secs(5));
            }
        };
        wait("EXIT: echoer", 1);
        assert!(
            read_all_from("127.0.0.1", ports[1]).ends_with(b"\r\n"),
            "{side}"
        );
        wait("START: daytime-stream", 1);
        assert!(read_all_from("127.0.0.1", ports[2]).is_empty(), "{side}");
        wait("FAIL: zero", 1);
    }
    let xlog = p.x.read("svc.log");
    let slog = p.s.read("svc.log");
    let want = [
        "TS: START: echoer pid=N from=127.0.0.1",
        "TS: EXIT: echoer status=0 pid=N duration=N(sec)",
        "TS: START: daytime-stream pid=0 from=127.0.0.1",
        "TS: FAIL: zero service_limit from=127.0.0.1",
    ];
    assert_eq!(normalise_log(&xlog), want, "xinetd's log:\n{xlog}");
    assert_eq!(normalise_log(&slog), want, "superd's log:\n{slog}");
}

#[test]
fn exit_status_and_signal_lines_match() {
    let bin = require_xinetd!();
    let dir = tempfile::tempdir().unwrap();
    let three = script(dir.path(), "three", "exit 3");
    let killed = script(dir.path(), "killed", "kill -TERM $$");
    let conf = format!(
        "{LOGS}{}{}",
        ext("three", "{p0}", three.to_str().unwrap(), ""),
        ext("sig", "{p1}", killed.to_str().unwrap(), ""),
    );
    let p = Pair::start(&bin, &conf, 2);
    for ports in [&p.xp, &p.sp] {
        tcp_exchange(ports[0], b"");
        tcp_exchange(ports[1], b"");
    }
    let x =
        p.x.wait_file_count("svc.log", "EXIT: ", 2, Duration::from_secs(5));
    let s =
        p.s.wait_file_count("svc.log", "EXIT: ", 2, Duration::from_secs(5));
    let exits = |log: &str| {
        let mut v: Vec<String> = normalise_log(log)
            .into_iter()
            .filter(|l| l.contains("EXIT: "))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        exits(&x),
        [
            "TS: EXIT: sig signal=15 pid=N duration=N(sec)",
            "TS: EXIT: three status=3 pid=N duration=N(sec)"
        ],
        "{x}"
    );
    assert_eq!(exits(&s), exits(&x), "superd:\n{s}\nxinetd:\n{x}");
}

// ---------------------------------------------------------------------------------------------
// 2. Dual stack

#[test]
fn dual_stack_default_serves_ipv4_and_ipv6_with_the_documented_ipv4_spelling() {
    let bin = require_xinetd!();
    // No bind, no flags: an IPv6 wildcard socket that also takes IPv4 clients, on both.
    let conf = format!(
        "{LOGS}service dual\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = {{user}}\n\tserver = {{probe}}\n\tport = {{p0}}\n{{nolibwrap}}}}\n"
    );
    let p = Pair::start(&bin, &conf, 1);
    // Whether this machine has ::1 (checked without connecting to either daemon).
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    for (port, side, v4_spelling) in [
        (p.xp[0], "xinetd", "::ffff:127.0.0.1"),
        // README: IPv4 clients on the dual-stack socket are shown as a.b.c.d.
        (p.sp[0], "superd", "127.0.0.1"),
    ] {
        let v = probe_values(&read_all_from("127.0.0.1", port));
        assert_eq!(
            probe_all(&v, "env")
                .iter()
                .find(|e| e.starts_with("REMOTE_HOST="))
                .map(String::as_str),
            Some(format!("REMOTE_HOST={v4_spelling}").as_str()),
            "{side}: {v:?}"
        );
        // Both convert the accepted socket with IPV6_ADDRFORM, where the kernel has it.
        let family = if superd::listen::ipv4_form_supported() {
            "inet"
        } else {
            "inet6"
        };
        assert_eq!(
            probe_get(&v, "peer_family").as_deref(),
            Some(family),
            "{side}"
        );
        if ipv6 {
            let v = probe_values(&read_all_from("::1", port));
            assert!(
                probe_all(&v, "env").contains(&"REMOTE_HOST=::1".to_string()),
                "{side}: {v:?}"
            );
            assert_eq!(
                probe_get(&v, "peer_family").as_deref(),
                Some("inet6"),
                "{side}"
            );
        }
    }
    if !ipv6 {
        eprintln!("NOTE: ::1 is not available here; only the IPv4 half was compared");
    }
    let n = if ipv6 { 2 } else { 1 };
    let x =
        p.x.wait_file_count("svc.log", "EXIT: dual", n, Duration::from_secs(5));
    let s =
        p.s.wait_file_count("svc.log", "EXIT: dual", n, Duration::from_secs(5));
    assert!(
        x.contains("START: dual pid=") && x.contains(" from=::ffff:127.0.0.1\n"),
        "{x}"
    );
    assert!(
        s.contains("START: dual pid=") && s.contains(" from=127.0.0.1\n"),
        "{s}"
    );
    if ipv6 {
        assert!(x.contains(" from=::1\n"), "{x}");
        assert!(s.contains(" from=::1\n"), "{s}");
    }
    // Apart from that spelling, the lines are the same.
    let starts = |log: &str| -> Vec<String> {
        let mut v = normalise_log(&log.replace("from=::ffff:127.0.0.1", "from=127.0.0.1"));
        // An EXIT can be logged after the next START: compare the sets of lines.
        v.sort();
        v
    };
    assert_eq!(starts(&s), starts(&x), "superd:\n{s}\nxinetd:\n{x}");
}

// ---------------------------------------------------------------------------------------------
// 3. What an external nowait server receives

/// The probe's report as a map, keeping only what must match between the daemons.
fn comparable_probe(out: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(out).lines() {
        let (k, v) = match line.split_once('=') {
            Some(kv) => kv,
            // SigIgn:\t… and SigBlk:\t…
            None => line.split_once(":\t").unwrap_or((line, "")),
        };
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    if let Some(env) = m.get_mut("env") {
        env.sort();
    }
    m
}

#[test]
fn nowait_server_receives_the_same_process_state() {
    let bin = require_xinetd!();
    let conf = format!(
        "{LOGS}{}",
        ext(
            "probe",
            "{p0}",
            "{probe}",
            "\tserver_args = one two #x\n\tpassenv = PATH\n\tenv = ONLY=this\n"
        )
    );
    let p = Pair::start(&bin, &conf, 1);
    let xo = tcp_exchange(p.xp[0], b"");
    let so = tcp_exchange(p.sp[0], b"");
    let x = comparable_probe(&xo);
    let s = comparable_probe(&so);
    let text = format!(
        "xinetd's server saw:\n{}\nsuperd's server saw:\n{}",
        String::from_utf8_lossy(&xo),
        String::from_utf8_lossy(&so)
    );
    // The expectations from xinetd.md §1.10 hold for xinetd itself …
    let one = |m: &BTreeMap<String, Vec<String>>, k: &str| m.get(k).map(|v| v.join("|"));
    assert_eq!(
        one(&x, "argv[0]").as_deref(),
        Some("superd-probe"),
        "{text}"
    );
    assert_eq!(
        x.get("fd")
            .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()),
        Some(PROBE_STDIO_ONLY.to_vec()),
        "{text}"
    );
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(
        x.get("env").cloned().unwrap_or_default(),
        [
            "ONLY=this".to_string(),
            format!("PATH={path}"),
            "REMOTE_HOST=127.0.0.1".into()
        ],
        "{text}"
    );
    assert_eq!(one(&x, "sid_is_pid").as_deref(), Some("1"), "{text}");
    // xinetd's servers start with signals 32 and 33 (glibc's internal real-time signals)
    // ignored, so only the classic signals 1-31 are compared; superd ignores none at all.
    let classic = |m: &BTreeMap<String, Vec<String>>, k: &str| {
        one(m, k).map(|v| u64::from_str_radix(&v, 16).unwrap() & 0x7fff_ffff)
    };
    assert_eq!(classic(&x, "SigIgn"), Some(0), "{text}");
    assert_eq!(classic(&x, "SigBlk"), Some(0), "{text}");
    assert_eq!(
        one(&s, "SigIgn").as_deref(),
        Some("0000000000000000"),
        "{text}"
    );
    assert_eq!(
        one(&s, "SigBlk").as_deref(),
        Some("0000000000000000"),
        "{text}"
    );
    assert_eq!(one(&x, "umask").as_deref(), Some("022"), "{text}");
    assert_eq!(one(&x, "cwd").as_deref(), Some("/"), "{text}");
    // … and superd's server sees the same, key by key.
    assert_same_state(&xo, &so);
}

/// The probe reports of both daemons' servers agree key by key (argv, environment, envcount,
/// fds, credentials, groups, umask, nice, limits, session, cwd, peer family). The signal masks
/// are checked separately (see above).
fn assert_same_state(xo: &[u8], so: &[u8]) {
    let x = comparable_probe(xo);
    let s = comparable_probe(so);
    let text = format!(
        "xinetd's server saw:\n{}\nsuperd's server saw:\n{}",
        String::from_utf8_lossy(xo),
        String::from_utf8_lossy(so)
    );
    assert!(x.contains_key("end") && s.contains_key("end"), "{text}");
    let keys: Vec<&String> = x.keys().chain(s.keys()).collect();
    for k in keys.into_iter().filter(|k| !k.starts_with("Sig")) {
        assert_eq!(x.get(k), s.get(k), "{k} differs\n{text}");
    }
}

#[test]
fn umask_nice_limits_and_environment_attributes_apply_the_same() {
    let bin = require_xinetd!();
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tpassenv = PATH\n\tpassenv = HOME\n\tumask = 077\n}}\n{}{}",
        ext(
            "attrs",
            "{p0}",
            "{probe}",
            "\tnice = 5\n\trlimit_files = 100\n\trlimit_cpu = 60\n\trlimit_as = 2000M\n\trlimit_stack = 4096K\n\tenv = A=1 B=two=2\n\tserver_args = x\n"
        ),
        ext("own", "{p1}", "{probe}", "\tumask = 027\n\tpassenv = HOME\n"),
    );
    let p = Pair::start(&bin, &conf, 2);
    let xo = tcp_exchange(p.xp[0], b"");
    let v = probe_values(&xo);
    assert_eq!(probe_get(&v, "umask").as_deref(), Some("077"));
    assert_eq!(probe_get(&v, "nice").as_deref(), Some("5"));
    assert_eq!(probe_get(&v, "rlimit_files").as_deref(), Some("100/100"));
    assert_eq!(probe_get(&v, "rlimit_cpu").as_deref(), Some("60/60"));
    assert_same_state(&xo, &tcp_exchange(p.sp[0], b""));
    let xo = tcp_exchange(p.xp[1], b"");
    let v = probe_values(&xo);
    assert_eq!(probe_get(&v, "umask").as_deref(), Some("027"));
    assert_same_state(&xo, &tcp_exchange(p.sp[1], b""));
}

#[test]
fn wait_yes_stream_server_gets_the_documented_remote_host() {
    let bin = require_xinetd!();
    let dir = tempfile::tempdir().unwrap();
    // Accepts one connection on the listening socket it was given, reports REMOTE_HOST, exits.
    let py = script(
        dir.path(),
        "accept1",
        "exec python3 -c 'import socket,os\ns=socket.socket(fileno=0)\nc,_=s.accept()\nc.sendall(os.environ.get(\"REMOTE_HOST\",\"<unset>\").encode())\nc.close()'",
    );
    let conf = format!(
        "{LOGS}{}",
        ext("ws", "{p0}", py.to_str().unwrap(), "").replace("wait = no", "wait = yes")
    );
    let p = Pair::start(&bin, &conf, 1);
    assert_eq!(tcp_exchange(p.xp[0], b""), b"<no address>");
    // README: REMOTE_HOST is not set for wait = yes stream servers.
    assert_eq!(tcp_exchange(p.sp[0], b""), b"<unset>");
    let x = p.x.wait_file("svc.log", "EXIT: ws", Duration::from_secs(5));
    let s = p.s.wait_file("svc.log", "EXIT: ws", Duration::from_secs(5));
    let want = [
        "TS: START: ws pid=N from=<no address>",
        "TS: EXIT: ws status=0 pid=N duration=N(sec)",
    ];
    assert_eq!(normalise_log(&x), want, "{x}");
    assert_eq!(normalise_log(&s), want, "{s}");
}

#[test]
fn nowait_server_rlimit_nofile_is_raised_like_xinetd() {
    let bin = require_xinetd!();
    let conf = format!("{LOGS}{}", ext("probe", "{p0}", "{probe}", ""));
    let p = Pair::start(&bin, &conf, 1);
    let x = probe_values(&tcp_exchange(p.xp[0], b""));
    let s = probe_values(&tcp_exchange(p.sp[0], b""));
    assert_eq!(
        probe_get(&s, "rlimit_files"),
        probe_get(&x, "rlimit_files"),
        "superd vs xinetd"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Internal services

fn daytime_shape(b: &[u8]) -> (String, String) {
    let s = String::from_utf8_lossy(b).into_owned();
    assert!(s.ends_with("\r\n"), "{s:?}");
    let parts: Vec<&str> = s.trim_end().split(' ').collect();
    assert_eq!(parts.len(), 5, "DD MON YYYY HH:MM:SS TZ: {s:?}");
    // Shape: digits become 9, so "27 NOV 2026 17:10:05 UTC" → "99 NOV 9999 99:99:99 UTC".
    let shape: String = s
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    (shape, s)
}

/// Seconds since midnight from a daytime string (for comparing two of them).
fn daytime_secs(s: &str) -> i64 {
    let t: Vec<i64> = s
        .split(' ')
        .nth(3)
        .unwrap()
        .split(':')
        .map(|x| x.parse().unwrap())
        .collect();
    t[0] * 3600 + t[1] * 60 + t[2]
}

fn time_value(b: &[u8]) -> i64 {
    assert_eq!(b.len(), 4, "{b:?}");
    i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn udp_ask(port: u16, input: &[u8]) -> Vec<u8> {
    udp_exchange(port, input).unwrap_or_else(|| panic!("no UDP reply from port {port}"))
}

#[test]
fn internal_services_answer_the_same_over_tcp_and_udp() {
    let bin = require_xinetd!();
    let mut conf = String::from(LOGS);
    for (i, name) in ["echo", "chargen", "daytime", "time"].iter().enumerate() {
        conf.push_str(&internal(name, "stream", &format!("{{p{i}}}")));
        conf.push_str(&internal(name, "dgram", &format!("{{p{i}}}")));
    }
    let p = Pair::start(&bin, &conf, 4);
    let (x, s) = (&p.xp, &p.sp);

    // echo
    let msg = b"hello, echo\r\nsecond line\n";
    assert_eq!(tcp_exchange(x[0], msg), msg);
    assert_eq!(tcp_exchange(s[0], msg), tcp_exchange(x[0], msg));
    assert_eq!(udp_ask(x[0], b"dgram echo"), b"dgram echo");
    assert_eq!(udp_ask(s[0], b"dgram echo"), b"dgram echo");

    // chargen: the first three lines over TCP, the whole datagram over UDP.
    let first_lines = |port: u16| {
        let mut c = connect("127.0.0.1", port);
        let mut buf = vec![0u8; 3 * 74];
        c.read_exact(&mut buf).unwrap();
        buf
    };
    let xc = first_lines(x[1]);
    assert_eq!(
        &xc[..74],
        &[
            &b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh"[..],
            b"\r\n"
        ]
        .concat()[..]
    );
    assert_eq!(first_lines(s[1]), xc);
    let xd = udp_ask(x[1], b"x");
    assert_eq!(xd.len(), 1024);
    assert_eq!(udp_ask(s[1], b"x"), xd, "chargen datagram");

    // daytime: same shape, within a second or two.
    for (xb, sb) in [
        (
            read_all_from("127.0.0.1", x[2]),
            read_all_from("127.0.0.1", s[2]),
        ),
        (udp_ask(x[2], b"?"), udp_ask(s[2], b"?")),
    ] {
        let (xs, xt) = daytime_shape(&xb);
        let (ss, st) = daytime_shape(&sb);
        assert_eq!(ss, xs, "superd {st:?} vs xinetd {xt:?}");
        // The date and zone are the same (unless midnight passed in between).
        let (xsec, ssec) = (daytime_secs(&xt), daytime_secs(&st));
        if ssec >= xsec {
            assert!(ssec - xsec <= 2, "superd {st:?} vs xinetd {xt:?}");
            assert_eq!(
                st.split(' ').take(3).collect::<Vec<_>>(),
                xt.split(' ').take(3).collect::<Vec<_>>()
            );
            assert_eq!(st.split(' ').nth(4), xt.split(' ').nth(4));
        }
    }

    // time: within 2 s of each other.
    for (xb, sb) in [
        (
            read_all_from("127.0.0.1", x[3]),
            read_all_from("127.0.0.1", s[3]),
        ),
        (udp_ask(x[3], b"?"), udp_ask(s[3], b"?")),
    ] {
        let (xv, sv) = (time_value(&xb), time_value(&sb));
        assert!((sv - xv).abs() <= 2, "superd {sv} vs xinetd {xv}");
    }
}

#[test]
fn internal_services_log_the_same_lines() {
    let bin = require_xinetd!();
    // Non-forking internals only (daytime, time, and the dgram ones): echo, discard and chargen
    // over TCP run in superd's process but fork in xinetd, a documented difference.
    let mut conf = String::from(LOGS);
    for (i, name) in ["daytime", "time"].iter().enumerate() {
        conf.push_str(&internal(name, "stream", &format!("{{p{i}}}")));
        conf.push_str(&internal(name, "dgram", &format!("{{p{i}}}")));
    }
    conf.push_str(&internal("echo", "dgram", "{p2}"));
    let p = Pair::start(&bin, &conf, 3);
    for ports in [&p.xp, &p.sp] {
        read_all_from("127.0.0.1", ports[0]);
        udp_ask(ports[0], b"?");
        read_all_from("127.0.0.1", ports[1]);
        udp_ask(ports[1], b"?");
        udp_ask(ports[2], b"e");
    }
    let x =
        p.x.wait_file_count("svc.log", "START: ", 5, Duration::from_secs(5));
    let s =
        p.s.wait_file_count("svc.log", "START: ", 5, Duration::from_secs(5));
    let want = [
        "TS: START: daytime-stream pid=0 from=127.0.0.1",
        "TS: START: daytime-dgram pid=0 from=127.0.0.1",
        "TS: START: time-stream pid=0 from=127.0.0.1",
        "TS: START: time-dgram pid=0 from=127.0.0.1",
        "TS: START: echo-dgram pid=0 from=127.0.0.1",
    ];
    assert_eq!(normalise_log(&x), want, "{x}");
    assert_eq!(normalise_log(&s), want, "{s}");
}

#[test]
fn tcp_echo_logs_the_documented_difference() {
    let bin = require_xinetd!();
    let conf = format!("{LOGS}{}", internal("echo", "stream", "{p0}"));
    let p = Pair::start(&bin, &conf, 1);
    assert_eq!(tcp_exchange(p.xp[0], b"a"), b"a");
    assert_eq!(tcp_exchange(p.sp[0], b"a"), b"a");
    // xinetd forks: START with a real pid, then EXIT.
    let x =
        p.x.wait_file("svc.log", "EXIT: echo-stream", Duration::from_secs(5));
    assert_eq!(
        normalise_log(&x),
        [
            "TS: START: echo-stream pid=N from=127.0.0.1",
            "TS: EXIT: echo-stream status=0 pid=N duration=N(sec)"
        ]
    );
    // README: superd answers in the daemon, START shows pid=0 and there is no EXIT line.
    p.s.wait_file("svc.log", "START: echo-stream", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    let s = p.s.read("svc.log");
    assert_eq!(
        normalise_log(&s),
        ["TS: START: echo-stream pid=0 from=127.0.0.1"]
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Configuration acceptance

/// Asks every port of both daemons; the answers (or refusals) must be the same.
fn same_answers(p: &Pair) -> Vec<Option<Vec<u8>>> {
    let ask = |port: u16| {
        if refused(port) {
            None
        } else {
            Some(tcp_exchange(port, b""))
        }
    };
    let x: Vec<_> = p.xp.iter().map(|&port| ask(port)).collect();
    let s: Vec<_> = p.sp.iter().map(|&port| ask(port)).collect();
    let show = |v: &[Option<Vec<u8>>]| -> Vec<Option<String>> {
        v.iter()
            .map(|o| o.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
            .collect()
    };
    assert_eq!(
        show(&s),
        show(&x),
        "superd vs xinetd (None = refused)\n--- superd log:\n{}\n--- xinetd log:\n{}",
        p.s.daemon_log(),
        p.x.read("daemon.log")
    );
    x
}

fn answers(v: &[Option<Vec<u8>>]) -> Vec<Option<&str>> {
    v.iter()
        .map(|o| o.as_deref().map(|b| std::str::from_utf8(b).unwrap()))
        .collect()
}

#[test]
fn keywords_are_case_insensitive_on_both() {
    let bin = require_xinetd!();
    let conf = "SERVICE upper\n{\n\tTYPE = unlisted\n\tSocket_Type = STREAM\n\tProtocol = TCP\n\tWAIT = NO\n\tUser = {user}\n\tServer = /bin/echo\n\tServer_Args = upper\n\tPort = {p0}\n\tBind = 127.0.0.1\n{nolibwrap}}\n\
        Defaults\n{\n\tLog_Type = FILE {dir}/svc.log\n\tLog_On_Success = pid host\n}\n";
    let p = Pair::start(&bin, conf, 1);
    assert_eq!(answers(&same_answers(&p)), [Some("upper\n")]);
}

#[test]
fn includedir_reads_plain_names_only_on_both() {
    let bin = require_xinetd!();
    let svc = |id: &str, port: &str| ext(id, port, "/bin/echo", &format!("\tserver_args = {id}\n"));
    let conf = format!("{LOGS}includedir {{dir}}/d\ninclude {{dir}}/other\n");
    let files = [
        ("d/a.conf", svc("dotted", "{p0}")),
        ("d/b", svc("plain", "{p1}")),
        ("d/c~", svc("backup", "{p2}")),
        ("d/a", svc("first", "{p3}")),
        ("other", svc("included", "{p4}")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let p = Pair::start_with_files(&bin, &conf, 5, &files);
    // Names containing '.' or ending in '~' are skipped.
    assert_eq!(
        answers(&same_answers(&p)),
        [
            None,
            Some("plain\n"),
            None,
            Some("first\n"),
            Some("included\n")
        ]
    );
}

#[test]
fn defaults_lists_accumulate_and_services_add_or_remove_on_both() {
    let bin = require_xinetd!();
    // In defaults, a second log_on_success adds to the first.
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tlog_on_success = PID\n\tlog_on_success = HOST\n}}\n{}{}{}{}",
        ext("inherit", "{p0}", "/bin/true", ""),
        ext("plus", "{p1}", "/bin/true", "\tlog_on_success += EXIT\n"),
        ext("minus", "{p2}", "/bin/true", "\tlog_on_success -= HOST\n"),
        ext("replace", "{p3}", "/bin/true", "\tlog_on_success = DURATION\n"),
    );
    let p = Pair::start(&bin, &conf, 4);
    for (ports, side) in [(&p.xp, "x"), (&p.sp, "s")] {
        for (i, &port) in ports.iter().enumerate() {
            tcp_exchange(port, b"");
            // One connection at a time, each logged before the next, so the order is fixed.
            let needle = [
                "START: inherit",
                "EXIT: plus",
                "START: minus",
                "EXIT: replace",
            ][i];
            if side == "x" {
                p.x.wait_file("svc.log", needle, Duration::from_secs(5));
            } else {
                p.s.wait_file("svc.log", needle, Duration::from_secs(5));
            }
        }
    }
    let x = p.x.read("svc.log");
    let s = p.s.read("svc.log");
    assert_eq!(
        normalise_log(&x),
        [
            "TS: START: inherit pid=N from=127.0.0.1",
            "TS: START: plus pid=N from=127.0.0.1",
            "TS: EXIT: plus status=0 pid=N",
            "TS: START: minus pid=N",
            // Neither PID nor HOST: a bare START line.
            "TS: START: replace",
            "TS: EXIT: replace duration=N(sec)",
        ],
        "{x}"
    );
    assert_eq!(
        normalise_log(&s),
        normalise_log(&x),
        "superd:\n{s}\nxinetd:\n{x}"
    );
}

#[test]
fn server_args_words_pass_through_literally_on_both() {
    let bin = require_xinetd!();
    // No quoting, no escapes, '#' is a literal word in server_args.
    let conf = format!(
        "{LOGS}{}",
        ext(
            "args",
            "{p0}",
            "/bin/echo",
            "\tserver_args = a1 \"quoted arg\" #hash x\\y #x\n"
        )
    );
    let p = Pair::start(&bin, &conf, 1);
    assert_eq!(
        answers(&same_answers(&p)),
        [Some("a1 \"quoted arg\" #hash x\\y #x\n")]
    );
}

#[test]
fn comments_blank_lines_and_unknown_attributes_on_both() {
    let bin = require_xinetd!();
    let conf = format!(
        "# a comment\n\n   # an indented comment\n{LOGS}\n{}{}{}",
        // An unknown attribute is warned about and ignored: the service runs.
        ext(
            "unknown",
            "{p0}",
            "/bin/echo",
            "\tfrobnicate = yes\n\tserver_args = unknown\n"
        ),
        // `name =value` (no space after the operator) is fine in xinetd.
        ext("nospace", "{p1}", "/bin/echo", "\tserver_args =nospace\n"),
        // disable = yes removes the service.
        ext("off", "{p2}", "/bin/echo", "\tdisable = yes\n"),
    );
    let p = Pair::start(&bin, &conf, 3);
    assert_eq!(
        answers(&same_answers(&p)),
        [Some("unknown\n"), Some("nospace\n"), None]
    );
}

#[test]
fn enabled_and_disabled_in_defaults_select_services_by_id_on_both() {
    let bin = require_xinetd!();
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tdisabled = two\n}}\n{}{}{}",
        ext("one", "{p0}", "/bin/echo", "\tserver_args = one\n"),
        ext("two", "{p1}", "/bin/echo", "\tserver_args = two\n"),
        ext("three", "{p2}", "/bin/echo", "\tserver_args = three\n"),
    );
    let p = Pair::start(&bin, &conf, 3);
    assert_eq!(
        answers(&same_answers(&p)),
        [Some("one\n"), None, Some("three\n")]
    );
    drop(p);
    let conf = conf.replace("disabled = two", "enabled = one three");
    let p = Pair::start(&bin, &conf, 3);
    assert_eq!(
        answers(&same_answers(&p)),
        [Some("one\n"), None, Some("three\n")]
    );
}

#[test]
fn attribute_given_twice_keeps_the_first_value_on_both() {
    let bin = require_xinetd!();
    let conf = format!(
        "{LOGS}{}",
        ext(
            "twice",
            "{p0}",
            "/bin/echo",
            "\tserver_args = first\n\tserver_args = second\n"
        )
    );
    let p = Pair::start(&bin, &conf, 1);
    assert_eq!(answers(&same_answers(&p)), [Some("first\n")]);
}

#[test]
fn extra_words_after_the_service_name_are_ignored_on_both() {
    let bin = require_xinetd!();
    let conf = format!(
        "{LOGS}{}",
        ext("named", "{p0}", "/bin/echo", "\tserver_args = named\n")
    )
    .replace("service named\n", "service named extra words\n");
    let p = Pair::start(&bin, &conf, 1);
    assert_eq!(answers(&same_answers(&p)), [Some("named\n")]);
}

#[test]
fn aliases_and_special_values_are_accepted_on_both() {
    let bin = require_xinetd!();
    // `interface` for bind, UNLIMITED instances, FILE log limits with K suffixes, the type
    // words in either order, an explicit id.
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log 10K 20K\n\tlog_on_success = PID\n\tinstances = UNLIMITED\n}}\n{}{}service echo\n{{\n\tid = ec\n\ttype = UNLISTED INTERNAL\n\tsocket_type = stream\n\twait = no\n\tport = {{p2}}\n\tinterface = 127.0.0.1\n}}\n",
        ext("alias", "{p0}", "/bin/echo", "\tserver_args = alias\n")
            .replace("bind = 127.0.0.1", "interface = 127.0.0.1"),
        ext("unl", "{p1}", "/bin/echo", "\tserver_args = unl\n\tinstances = UNLIMITED\n"),
    );
    let p = Pair::start(&bin, &conf, 3);
    // (An in-daemon echo answers an empty request with nothing, then closes.)
    assert_eq!(
        answers(&same_answers(&p)),
        [Some("alias\n"), Some("unl\n"), Some("")]
    );
    // Only the external services' lines: echo over TCP forks in xinetd, not in superd.
    let starts = |log: &str| -> Vec<String> {
        let mut v: Vec<String> = normalise_log(log)
            .into_iter()
            .filter(|l| !l.contains(" ec "))
            .collect();
        v.sort();
        v
    };
    // same_answers connects twice per port (the refusal check, then the request).
    let x =
        p.x.wait_file_count("svc.log", "START: ", 6, Duration::from_secs(5));
    let s =
        p.s.wait_file_count("svc.log", "START: ", 6, Duration::from_secs(5));
    let want = ["TS: START: alias pid=N", "TS: START: unl pid=N"].map(|l| [l, l]);
    assert_eq!(starts(&x), want.concat(), "{x}");
    assert_eq!(starts(&s), starts(&x), "superd:\n{s}\nxinetd:\n{x}");
}
