//! Differential tests for inetd.conf (issue 4): Debian's openbsd-inetd (the package unpacked by
//! `.ci/run` under `target/debs/openbsd-inetd`, never installed) and `superd --inetd-conf` run
//! side by side on the same inetd.conf, and what clients see is compared: bytes returned, which
//! addresses and families answer, the argv, environment and credentials a server gets. Where
//! the README ("inetd.conf", "Where superd differs from openbsd-inetd") documents a difference,
//! each side's behaviour is asserted instead of equality, so the record stays honest both ways.
//!
//! The internal services only exist under their /etc/services names (openbsd-inetd finds them
//! by name), so their ports are the real ones (7, 9, 13, 19, 37). Each daemon therefore gets a
//! loopback address of its own (127.X.Y.N, X and Y from the test process's pid), written in a
//! `host:` line, and every other entry uses a port from `free_port`. Both daemons run as root in
//! the foreground with a fixed environment, and are stopped by PID.
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::require_root;

/// The environment both daemons start with (nothing inherited from the test runner).
const ENV: [&str; 6] = [
    "LANG=C",
    "FOO=bar",
    "PATH=/usr/bin:/bin",
    "HOME=/root",
    "TZ=UTC",
    "LD_LIBRARY_PATH=/nonexistent",
];

/// The unpacked openbsd-inetd binary.
fn inetd_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debs/openbsd-inetd/usr/sbin/inetd");
    p.is_file().then_some(p)
}

macro_rules! require_inetd {
    () => {
        $crate::require_program!(
            inetd_bin(),
            "openbsd-inetd (target/debs/openbsd-inetd/usr/sbin/inetd, unpacked by .ci/run)"
        )
    };
}

/// A loopback address no other daemon of this run (nor, very likely, of a concurrent run) uses.
fn private_loopback() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    format!("127.{}.{}.{n}", 100 + pid % 100, (pid / 100) % 256)
}

/// Whether the internal services' well-known ports are free on `host` (a wildcard listener
/// elsewhere on the machine would take them).
fn well_known_ports_free(host: &str) -> bool {
    [7u16, 9, 13, 19, 37].iter().all(|&p| {
        std::net::TcpListener::bind((host, p)).is_ok() && UdpSocket::bind((host, p)).is_ok()
    })
}

/// Whether `port` has a listening TCP socket or a bound UDP socket (any address, either family).
fn bound(port: u16, udp: bool) -> bool {
    sockets(port, udp) > 0
}

/// The number of listening TCP (bound UDP) sockets on `port`, over IPv4 and IPv6.
fn sockets(port: u16, udp: bool) -> usize {
    let files: [&str; 2] = if udp {
        ["/proc/net/udp", "/proc/net/udp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    };
    let suffix = format!(":{port:04X}");
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.len() > 3 && w[1].ends_with(&suffix) && (udp || w[3] == "0A")
                })
                .count()
        })
        .sum()
}

/// An inetd.conf for one side: `{host}` is its loopback address, `{dir}` its temp dir,
/// `{p0}`, `{p1}`, … its ports.
fn render(template: &str, host: &str, dir: &Path, ports: &[u16]) -> String {
    let mut s = template
        .replace("{host}", host)
        .replace("{dir}", dir.to_str().unwrap());
    for (i, p) in ports.iter().enumerate().rev() {
        s = s.replace(&format!("{{p{i}}}"), &p.to_string());
    }
    s
}

/// openbsd-inetd in the foreground (`-d`), from `/` (`-d` skips daemon(3)'s chdir, which a
/// server would otherwise see), stopped by PID on drop.
struct Inetd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Inetd {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for Inetd {
    fn drop(&mut self) {
        stop_child(self.child.take());
    }
}

/// Both daemons on one inetd.conf template.
struct Pair {
    o: Inetd,
    s: Daemon,
    /// openbsd-inetd's and superd's addresses and ports.
    oh: String,
    sh: String,
    op: Vec<u16>,
    sp: Vec<u16>,
}

/// Waits (bounded) until every port in `tcp` listens and every port in `udp` is bound.
fn wait_bound(tcp: &[u16], udp: &[u16], who: &str, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(tcp.iter().all(|&p| bound(p, false)) && udp.iter().all(|&p| bound(p, true))) {
        assert!(
            Instant::now() < deadline,
            "{who}: not all of tcp {tcp:?} / udp {udp:?} bound:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Pair {
    /// `n` ports per side; `tcp`/`udp` are indexes of ports that must be bound before the
    /// test starts (the internal services' well-known ports are waited for by address).
    /// `files` are written (rendered) into each side's directory first, mode 0755.
    fn start(
        bin: &Path,
        template: &str,
        n: usize,
        ready: (&[usize], &[usize]),
        files: &[(&str, &str)],
    ) -> Option<Pair> {
        let (oh, sh) = (private_loopback(), private_loopback());
        if !well_known_ports_free(&oh) || !well_known_ports_free(&sh) {
            eprintln!(
                "SKIPPED: ports 7, 9, 13, 19, 37 are taken on {oh} or {sh} (a wildcard listener)"
            );
            return None;
        }
        let op: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let sp: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let odir = tempfile::tempdir().unwrap();
        let s = Daemon::prepare("defaults\n{\n}\n");
        for (dir, host, ports) in [(odir.path(), &oh, &op), (s.dir.path(), &sh, &sp)] {
            // Servers running as nobody or daemon execute scripts from here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            for (name, text) in files {
                let path = script(dir, name, "");
                std::fs::write(&path, render(text, host, dir, ports)).unwrap();
            }
            std::fs::write(dir.join("inetd.conf"), render(template, host, dir, ports)).unwrap();
        }

        let conf = odir.path().join("inetd.conf");
        let child = Command::new(bin)
            .arg("-d")
            .arg(&conf)
            .env_clear()
            .envs(ENV.iter().map(|kv| kv.split_once('=').unwrap()))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(odir.path().join("stderr")).unwrap())
            .spawn()
            .expect("start openbsd-inetd");
        let o = Inetd {
            dir: odir,
            child: Some(child),
        };
        let inetd_conf = s.path("inetd.conf");
        let mut wrapper = vec!["env", "-i"];
        wrapper.extend(ENV);
        let s = s.launch_wrapped(&wrapper, &["--inetd-conf", inetd_conf.to_str().unwrap()]);

        let pick =
            |ports: &[u16], idx: &[usize]| -> Vec<u16> { idx.iter().map(|&i| ports[i]).collect() };
        wait_bound(
            &pick(&op, ready.0),
            &pick(&op, ready.1),
            "openbsd-inetd",
            || o.read("stderr"),
        );
        wait_bound(&pick(&sp, ready.0), &pick(&sp, ready.1), "superd", || {
            s.daemon_log()
        });
        Some(Pair {
            o,
            s,
            oh,
            sh,
            op,
            sp,
        })
    }
}

fn sockaddr(host: &str, port: u16) -> SocketAddr {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
    .parse()
    .unwrap()
}

/// What a TCP client meets.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// Connection refused: nothing listens.
    Refused,
    /// Accepted, then these bytes and EOF (empty: accepted and closed).
    Bytes(Vec<u8>),
}

/// Connects to host:port, sends `input` and half-closes (if `input` is not empty), reads to
/// EOF (bounded).
fn ask(host: &str, port: u16, input: &[u8]) -> Answer {
    let mut s = match TcpStream::connect_timeout(&sockaddr(host, port), Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Answer::Refused,
        Err(e) => panic!("connect {host}:{port}: {e}"),
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if !input.is_empty() {
        use std::io::Write;
        s.write_all(input).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Answer::Bytes(out)
}

fn text(a: &Answer) -> String {
    match a {
        Answer::Refused => "<refused>".into(),
        Answer::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// The first `n` bytes a stream service sends (chargen never stops).
fn first_bytes(host: &str, port: u16, n: usize) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&sockaddr(host, port), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {host}:{port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// One datagram to host:port; the reply, if one comes within `wait`.
fn udp_ask(host: &str, port: u16, input: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let local = if host.contains(':') {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let s = UdpSocket::bind(local).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(input, sockaddr(host, port)).unwrap();
    let mut buf = vec![0u8; 65536];
    s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// chargen's 72-character line starting at `first` in the ring of the 95 printable characters.
fn chargen_line(first: u8) -> Vec<u8> {
    let mut line: Vec<u8> = (0..72).map(|i| b' ' + (first - b' ' + i) % 95).collect();
    line.extend_from_slice(b"\r\n");
    line
}

fn time_value(b: &[u8]) -> i64 {
    assert_eq!(b.len(), 4, "{b:?}");
    i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

// ---------------------------------------------------------------------------------------------

const INTERNALS: &str = "{host}:\n\
    echo\tstream\ttcp\tnowait\troot\tinternal\n\
    echo\tdgram\tudp\twait\troot\tinternal\n\
    discard\tstream\ttcp\tnowait\troot\tinternal\n\
    discard\tdgram\tudp\twait\troot\tinternal\n\
    chargen\tstream\ttcp\tnowait\troot\tinternal\n\
    chargen\tdgram\tudp\twait\troot\tinternal\n\
    daytime\tstream\ttcp\tnowait\troot\tinternal\n\
    daytime\tdgram\tudp\twait\troot\tinternal\n\
    time\tstream\ttcp\tnowait\troot\tinternal\n\
    time\tdgram\tudp\twait\troot\tinternal\n";

/// The internal services over TCP: echo, discard and time agree byte for byte; chargen and
/// daytime are xinetd's in superd (README, "Where superd differs from openbsd-inetd"). Over UDP,
/// openbsd-inetd drops every datagram from 127.0.0.0/8 (its anti-loop check), superd answers.
#[test]
fn internal_services_answer_like_openbsd_inetd_where_documented() {
    require_root!();
    let bin = require_inetd!();
    let Some(p) = Pair::start(&bin, INTERNALS, 0, (&[], &[]), &[]) else {
        return;
    };
    // The well-known ports are bound by address: wait until each side answers daytime.
    for host in [&p.oh, &p.sh] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while ask(host, 13, b"") == Answer::Refused {
            assert!(Instant::now() < deadline, "{host}:13 never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (o, s) = (p.oh.as_str(), p.sh.as_str());

    // echo and discard: the same bytes.
    let msg = b"hello, echo\r\nsecond line\n";
    assert_eq!(ask(o, 7, msg), Answer::Bytes(msg.to_vec()));
    assert_eq!(ask(s, 7, msg), ask(o, 7, msg));
    assert_eq!(ask(o, 9, msg), Answer::Bytes(vec![]));
    assert_eq!(ask(s, 9, msg), Answer::Bytes(vec![]));

    // chargen: the same ring and line length; openbsd-inetd's first line starts at ' ', superd's
    // (and xinetd's, and RFC 864's example) at '!', so superd's first line is its second.
    let ob = first_bytes(o, 19, 3 * 74);
    let sb = first_bytes(s, 19, 2 * 74);
    assert_eq!(
        &ob[..74],
        &chargen_line(b' ')[..],
        "{}",
        String::from_utf8_lossy(&ob)
    );
    assert_eq!(
        &sb[..74],
        &chargen_line(b'!')[..],
        "{}",
        String::from_utf8_lossy(&sb)
    );
    assert_eq!(&ob[74..], &sb[..], "the rings agree one line apart");

    // daytime: ctime(3)'s "Sun Dec  6 10:30:43 2026\r\n" vs xinetd's "06 DEC 2026 10:30:43 UTC\r\n".
    let od = text(&ask(o, 13, b""));
    let sd = text(&ask(s, 13, b""));
    let shape = |t: &str| -> String {
        t.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    '9'
                } else if c.is_ascii_alphabetic() {
                    'A'
                } else {
                    c
                }
            })
            .collect()
    };
    assert!(
        [
            "AAA AAA 99 99:99:99 9999\r\n",
            "AAA AAA  9 99:99:99 9999\r\n"
        ]
        .contains(&shape(&od).as_str()),
        "openbsd-inetd daytime {od:?}"
    );
    assert_eq!(
        shape(&sd),
        "99 AAA 9999 99:99:99 AAA\r\n",
        "superd daytime {sd:?}"
    );
    // Both give the same clock time (TZ=UTC on both sides), to within 2 s.
    let secs = |hms: &str| -> i64 {
        let v: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        v[0] * 3600 + v[1] * 60 + v[2]
    };
    let ot = secs(od.split_whitespace().nth(3).unwrap());
    let st = secs(sd.split_whitespace().nth(3).unwrap());
    assert!((st - ot).rem_euclid(86_400) <= 2, "{od:?} vs {sd:?}");
    assert_eq!(sd.split_whitespace().nth(4), Some("UTC"), "{sd:?}");

    // time: 4 bytes, within 2 s of each other.
    let (Answer::Bytes(ob), Answer::Bytes(sb)) = (ask(o, 37, b""), ask(s, 37, b"")) else {
        panic!("time refused");
    };
    assert!((time_value(&sb) - time_value(&ob)).abs() <= 2);

    // UDP: openbsd-inetd ignores loopback senders (dg_badinput), superd answers each datagram.
    let quiet = Duration::from_millis(300);
    for port in [7u16, 19, 13, 37] {
        assert_eq!(
            udp_ask(o, port, b"dgram", quiet),
            None,
            "openbsd-inetd udp/{port}"
        );
    }
    let answer = |port: u16| udp_ask(s, port, b"dgram", Duration::from_secs(3));
    assert_eq!(answer(7).as_deref(), Some(&b"dgram"[..]));
    assert!(answer(19).is_some_and(|d| d.starts_with(&chargen_line(b'!'))));
    assert!(answer(13).is_some_and(|d| d.ends_with(b" UTC\r\n")));
    assert_eq!(answer(37).map(|d| d.len()), Some(4));
    // discard answers nothing on either.
    assert_eq!(udp_ask(o, 9, b"dgram", quiet), None);
    assert_eq!(udp_ask(s, 9, b"dgram", quiet), None);
}

// ---------------------------------------------------------------------------------------------

/// Prints its arguments, its credentials (`id`) and its environment, sorted.
const SHOW: &str =
    "#!/bin/sh\necho \"args=$*\"\necho \"id=$(id)\"\nenv | LC_ALL=C sort | sed 's/^/env=/'\n";

/// `wait` dgram server: reads one datagram from the socket it was given (fd 0), answers the
/// sender with the data, its uid and its arguments, and exits.
const UDP_SERVER: &str = "#!/usr/bin/python3\nimport os, socket, sys\ns = socket.socket(fileno=0)\ndata, peer = s.recvfrom(65536)\ns.sendto(b'%s uid=%d args=%s' % (data, os.getuid(), ' '.join(sys.argv[1:]).encode()), peer)\n";

/// The first user on this machine that has a supplementary group (a member in /etc/group) and a
/// passwd entry, with that group's name.
fn user_with_supplementary_group() -> Option<(String, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let users: Vec<&str> = passwd.lines().filter_map(|l| l.split(':').next()).collect();
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let member = f.get(3)?.split(',').find(|m| users.contains(m))?;
        Some((member.to_string(), f[0].to_string()))
    })
}

/// A shell script server, nowait, with arguments, under every `user[.:]group` form: the same
/// arguments and the same uid on both, with the documented differences in groups and
/// environment.
#[test]
fn external_servers_get_the_same_argv_and_user() {
    require_root!();
    let bin = require_inetd!();
    let supp = user_with_supplementary_group();
    let supp_line = supp.as_ref().map_or(String::new(), |(u, _)| {
        format!("{{p6}}\tstream\ttcp\tnowait\t{u}\t/usr/bin/id\tid\n")
    });
    let template = format!(
        "{{host}}:\n\
         {{p0}}\tstream\ttcp\tnowait\tnobody.nogroup\t{{dir}}/show\tshow one  two\tthree\n\
         {{p1}}\tstream\ttcp\tnowait\tdaemon:daemon\t/usr/bin/id\tid\n\
         {{p2}}\tstream\ttcp\tnowait\tnobody:daemon\t/usr/bin/id\tid\n\
         {{p3}}\tstream\ttcp\tnowait\troot:daemon\t/usr/bin/id\tid\n\
         {{p4}}\tstream\ttcp\tnowait\troot\t/usr/bin/id\tid\n\
         {{p5}}\tstream\ttcp\tnowait\troot\t{probe}\tmy-argv0 x\n\
         {supp_line}",
        probe = probe().display()
    );
    let p = Pair::start(
        &bin,
        &template,
        7,
        (&[0, 1, 2, 3, 4, 5], &[]),
        &[("show", SHOW)],
    )
    .expect("free ports only");
    let (o, s) = (p.oh.as_str(), p.sh.as_str());
    let show = |host: &str, port: u16| -> (String, String, Vec<String>) {
        let t = text(&ask(host, port, b""));
        let get = |k: &str| {
            t.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in {t:?}"))
                .to_string()
        };
        let env = t
            .lines()
            .filter_map(|l| l.strip_prefix("env="))
            .map(str::to_string)
            .collect();
        (get("args="), get("id="), env)
    };
    let (oa, oi, oe) = show(o, p.op[0]);
    let (sa, si, se) = show(s, p.sp[0]);
    // Arguments: argv[0] is the first word after the program; runs of blanks separate words.
    assert_eq!(oa, "one two three");
    assert_eq!(sa, oa);
    assert_eq!(
        oi,
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    );
    assert_eq!(si, oi);
    // Environment. openbsd-inetd (without -E) removes PATH, HOME, LD_* and others, and adds
    // its setproctitle filler; superd passes its own environment and REMOTE_HOST, as for xinetd
    // services (README, "What a server receives").
    let filler = oe.iter().find(|e| e.starts_with("inetd_dummy=")).cloned();
    assert!(filler.is_some(), "{oe:?}");
    assert_eq!(
        oe.iter()
            .filter(|e| !e.starts_with("inetd_dummy="))
            .collect::<Vec<_>>(),
        ["FOO=bar", "LANG=C", "PWD=/", "TZ=UTC"],
        "openbsd-inetd's server environment"
    );
    assert_eq!(
        se,
        [
            "FOO=bar",
            "HOME=/root",
            "LANG=C",
            "LD_LIBRARY_PATH=/nonexistent",
            "PATH=/usr/bin:/bin",
            "PWD=/",
            "REMOTE_HOST=127.0.0.1",
            "TZ=UTC"
        ],
        "superd's server environment"
    );

    // argv[0] is the word after the program path, on both.
    let ov = probe_values(&tcp_exchange_from(o, p.op[5], b""));
    let sv = probe_values(&tcp_exchange_from(s, p.sp[5], b""));
    for v in [&ov, &sv] {
        assert_eq!(
            probe_get(v, "argv[0]").as_deref(),
            Some("my-argv0"),
            "{v:?}"
        );
        assert_eq!(probe_get(v, "argv[1]").as_deref(), Some("x"), "{v:?}");
        assert_eq!(probe_get(v, "argv[2]"), None, "{v:?}");
        assert_eq!(probe_get(v, "cwd").as_deref(), Some("/"), "{v:?}");
        assert_eq!(probe_get(v, "sid_is_pid").as_deref(), Some("1"), "{v:?}");
    }

    let id = |host: &str, port: u16| text(&ask(host, port, b"")).trim_end().to_string();
    // user:group and a user alone: the same on both.
    assert_eq!(
        id(o, p.op[1]),
        "uid=1(daemon) gid=1(daemon) groups=1(daemon)"
    );
    assert_eq!(id(s, p.sp[1]), id(o, p.op[1]));
    assert_eq!(id(o, p.op[4]), "uid=0(root) gid=0(root) groups=0(root)");
    assert_eq!(id(s, p.sp[4]), id(o, p.op[4]));
    if let Some((user, group)) = &supp {
        let oi = id(o, p.op[6]);
        assert!(oi.contains(&format!("({group})")), "{oi}");
        assert_eq!(id(s, p.sp[6]), oi, "{user}: supplementary groups");
    } else {
        eprintln!("NOTE: no user with a supplementary group here; that case was not compared");
    }
    // A group other than the user's own: both give initgroups(user, group), so the passwd
    // group is not in the list. For root, openbsd-inetd ignores the group; superd applies it
    // (README).
    assert_eq!(
        id(o, p.op[2]),
        "uid=65534(nobody) gid=1(daemon) groups=1(daemon)"
    );
    assert_eq!(id(s, p.sp[2]), id(o, p.op[2]), "nobody:daemon");
    assert_eq!(id(o, p.op[3]), "uid=0(root) gid=0(root) groups=0(root)");
    assert_eq!(id(s, p.sp[3]), "uid=0(root) gid=1(daemon) groups=1(daemon)");
}

/// `host:` lines bind the entries that follow; `tcp6`/`udp6` on `[::1]:` answer over IPv6
/// only; plain `tcp` under `*:` answers on both families (two sockets in openbsd-inetd, one
/// dual-stack socket in superd: README); `wait` dgram servers get the socket and are re-armed
/// when they exit.
#[test]
fn addresses_families_and_wait_dgram_servers_match() {
    require_root!();
    let bin = require_inetd!();
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: ::1 is not available here");
        return;
    }
    let template = "{host}:\n\
        {p0}\tstream\ttcp\tnowait\troot\t/bin/echo\techo v4-host\n\
        {p1}\tdgram\tudp\twait\tnobody\t{dir}/udpd\tudpd a b\n\
        [::1]:\n\
        {p2}\tstream\ttcp6\tnowait\troot\t/bin/echo\techo v6\n\
        {p3}\tdgram\tudp6\twait\tdaemon\t{dir}/udpd\tudpd six\n\
        *:\n\
        {p4}\tstream\ttcp\tnowait\troot\t/bin/echo\techo anywhere\n\
        {p5}\tstream\ttcp4\tnowait\troot\t/bin/echo\techo only-v4\n";
    let p = Pair::start(
        &bin,
        template,
        6,
        (&[0, 2, 4, 5], &[1, 3]),
        &[("udpd", UDP_SERVER)],
    )
    .expect("free ports only");
    for (host, ports, who) in [(&p.oh, &p.op, "openbsd-inetd"), (&p.sh, &p.sp, "superd")] {
        let got = |h: &str, i: usize| text(&ask(h, ports[i], b""));
        assert_eq!(got(host, 0), "v4-host\n", "{who}");
        assert_eq!(
            got("127.0.0.1", 0),
            "<refused>",
            "{who}: bound to {host} only"
        );
        assert_eq!(got("::1", 2), "v6\n", "{who}");
        assert_eq!(got("127.0.0.1", 2), "<refused>", "{who}: tcp6 on ::1");
        assert_eq!(got("127.0.0.1", 4), "anywhere\n", "{who}");
        assert_eq!(got("::1", 4), "anywhere\n", "{who}");
        assert_eq!(got(host, 4), "anywhere\n", "{who}");
        assert_eq!(got("127.0.0.1", 5), "only-v4\n", "{who}");
        assert_eq!(got("::1", 5), "<refused>", "{who}: tcp4");
        // wait dgram: the server reads from the daemon's socket and answers; after it exits the
        // daemon listens again, so a second datagram gets a second server.
        for round in ["first", "second"] {
            let r = udp_ask(host, ports[1], round.as_bytes(), Duration::from_secs(5));
            assert_eq!(
                r.as_deref().map(String::from_utf8_lossy).as_deref(),
                Some(format!("{round} uid=65534 args=a b").as_str()),
                "{who}"
            );
            let r = udp_ask("::1", ports[3], round.as_bytes(), Duration::from_secs(5));
            assert_eq!(
                r.as_deref().map(String::from_utf8_lossy).as_deref(),
                Some(format!("{round} uid=1 args=six").as_str()),
                "{who}"
            );
        }
        assert_eq!(
            udp_ask("127.0.0.1", ports[3], b"v4?", Duration::from_millis(300)),
            None,
            "{who}: udp6 on ::1"
        );
    }
    // Plain tcp under `*:`: openbsd-inetd listens twice (0.0.0.0 and ::), superd once (::,
    // dual stack).
    assert_eq!(sockets(p.op[4], false), 2);
    assert_eq!(sockets(p.sp[4], false), 1);
}

/// `nowait.N`: openbsd-inetd counts invocations per minute and, at the N-th, stops the service
/// for ten minutes, accepting and closing every connection meanwhile; superd reads it as
/// `cps = N 600`: more than N connections a second close the listening socket for 600 s
/// (README, "Where superd differs from openbsd-inetd").
#[test]
fn nowait_max_stops_a_fast_service_as_documented() {
    require_root!();
    let bin = require_inetd!();
    let template = "{host}:\n{p0}\tstream\ttcp\tnowait.3\troot\t/bin/echo\techo served\n";
    let p = Pair::start(&bin, template, 1, (&[0], &[]), &[]).expect("free ports only");
    let served = Answer::Bytes(b"served\n".to_vec());
    let closed = Answer::Bytes(vec![]);
    let burst =
        |host: &str, port: u16| -> Vec<Answer> { (0..5).map(|_| ask(host, port, b"")).collect() };
    // openbsd-inetd: invocations 1 and 2 run; the 3rd reaches the limit (count >= max).
    assert_eq!(
        burst(&p.oh, p.op[0]),
        [
            served.clone(),
            served.clone(),
            closed.clone(),
            closed.clone(),
            closed.clone()
        ],
        "openbsd-inetd's debug output:\n{}",
        p.o.read("stderr")
    );
    // superd: 3 in the first second pass, the 4th trips cps (accepted and closed), then
    // nothing listens.
    let s = burst(&p.sh, p.sp[0]);
    assert_eq!(
        &s[..4],
        [served.clone(), served.clone(), served, closed.clone()],
        "{s:?}"
    );
    // A connection that arrives while superd is closing the socket is accepted and closed too.
    assert_ne!(s[4], Answer::Bytes(b"served\n".to_vec()));
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match ask(&p.sh, p.sp[0], b"") {
            Answer::Refused => break,
            a => assert_eq!(a, closed, "superd after the trip"),
        }
        assert!(
            Instant::now() < deadline,
            "superd still listens after the trip"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Later (well inside the ten minutes), openbsd-inetd still accepts and closes.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(ask(&p.oh, p.op[0], b""), closed);
    assert_eq!(ask(&p.sh, p.sp[0], b""), Answer::Refused);
    assert!(
        p.s.daemon_log().contains("Deactivating service"),
        "{}",
        p.s.daemon_log()
    );
}
