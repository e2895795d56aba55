//! Parsers never panic, on any input: a small property test that runs in CI.
//!
//! Every parser (xinetd.conf, inetd.conf, hosts.allow with `check`, only_from lists, the command
//! line, /etc/services) gets up to `CASES` rounds, each 1.5 s at most, of inputs from an inline
//! xorshift generator: random
//! bytes, random sentences of its grammar's words, and mutations of the seed corpus in
//! fuzz/corpus/. Each input also goes through the invariants the fuzz targets check
//! (fuzz/src/lib.rs, included below). Every corpus file is replayed as well, so what the fuzzers
//! found stays fixed. A failure names the input that caused it.
//!
//! The runs are deterministic (seed `SEED`); set `SUPERD_PROPTEST_SEED` to explore other
//! inputs, and `SUPERD_PROPTEST_CASES` to change the number of cases per generator.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use superd::access::hosts::Client;

/// What runs one input through a parser and its invariants.
type Check = dyn Fn(&[u8]);

const SEED: u64 = 0x5eed_5eed_d0d0_cafe;
/// Cases per generator (random bytes, grammar words, corpus mutations) and parser.
const CASES: usize = 700;
/// Each parser stops early past this, so the whole file stays within a few seconds.
const BUDGET: Duration = Duration::from_millis(1500);

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let seed = std::env::var("SUPERD_PROPTEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(SEED);
        Rng((seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        // Mostly printable ASCII and line structure, some anything.
        (0..len)
            .map(|_| match self.below(8) {
                0 => self.next() as u8,
                1 => *self.pick(b"\n\t \r#{}=:,@/\\.%\"'[]"),
                _ => 0x20 + self.below(0x5f) as u8,
            })
            .collect()
    }
}

/// A sentence of `vocabulary` words with random separators.
fn sentence(rng: &mut Rng, vocabulary: &[&str], max_words: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(max_words + 1) {
        out.extend_from_slice(rng.pick(vocabulary).as_bytes());
        let sep: &[u8] = match rng.below(10) {
            0..=4 => b" ",
            5 | 6 => b"\n",
            7 => b"\t",
            8 => b"",
            _ => b"\r\n",
        };
        out.extend_from_slice(sep);
    }
    out
}

/// A few random edits of `seed`: byte flips, insertions, deletions, duplications, words of the
/// grammar, splices of another corpus file.
fn mutate(rng: &mut Rng, seed: &[u8], vocabulary: &[&str], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(64)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            4 => {
                let word = rng.pick(vocabulary).as_bytes().to_vec();
                out.splice(at..at, word);
            }
            5 if !others.is_empty() => {
                let other = rng.pick(others);
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(128)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("corpus file");
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` on `input`; a panic is reported with the input that caused it.
fn run(target: &str, what: &str, input: &[u8], check: &Check) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
        panic!(
            "{target}: panic (message above) on {what}: {:?}\nas bytes: {input:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// Random bytes, grammar sentences and corpus mutations, `cases` of each, within `BUDGET`.
fn property(target: &str, vocabulary: &[&str], check: &Check) {
    let cases = std::env::var("SUPERD_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
    let salt = target
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
    let mut rng = Rng::new(salt);
    let start = Instant::now();
    for i in 0..cases {
        if start.elapsed() > BUDGET {
            eprintln!("{target}: stopped after {i} rounds ({BUDGET:?} budget)");
            break;
        }
        run(target, "random bytes", &rng.bytes(300), check);
        run(
            target,
            "grammar words",
            &sentence(&mut rng, vocabulary, 60),
            check,
        );
        if !seeds.is_empty() {
            let seed = rng.pick(&seeds);
            run(
                target,
                "corpus mutation",
                &mutate(&mut rng, seed, vocabulary, &seeds),
                check,
            );
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The text before the first NUL, and the bytes after it (as the fuzz targets split input).
fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// An address from the bytes after the NUL (the fuzz targets use `arbitrary` for this).
fn addr_of(bytes: &[u8]) -> IpAddr {
    let mut b = [0u8; 16];
    for (slot, x) in b.iter_mut().zip(bytes) {
        *slot = *x;
    }
    if bytes.first().is_some_and(|x| x & 1 == 1) {
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4]))
    }
}

fn xinetd_conf(data: &[u8]) {
    checks::xinetd_conf(&lossy(data));
}

fn inetd_conf(data: &[u8]) {
    checks::inetd_conf(&lossy(data));
}

fn hosts_access(data: &[u8]) {
    let (text, rest) = split_nul(data);
    let user = rest.get(5..).map(lossy);
    let client = Client {
        addr: addr_of(rest),
        name: user.clone(),
        name_paranoid_mismatch: rest.len() % 3 == 1,
        user,
    };
    let mut server = checks::sample_server();
    server.daemon = rest.get(..4).map_or_else(|| "sshd".into(), lossy);
    checks::hosts_access(&lossy(text), &client, &server);
}

fn only_from(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let entries = lossy(parts.next().unwrap_or_default());
    let networks = lossy(parts.next().unwrap_or_default());
    let rest = parts.next().unwrap_or_default();
    let entries: Vec<String> = entries.split_whitespace().map(String::from).collect();
    let resolved: Vec<IpAddr> = rest.chunks(17).map(addr_of).collect();
    checks::only_from(
        &entries,
        &networks,
        &resolved,
        addr_of(rest),
        entries.first().map(String::as_str),
    );
}

fn cli(data: &[u8]) {
    checks::cli(&checks::argv_of(data));
}

fn services(data: &[u8]) {
    checks::services(&lossy(data));
}

const XINETD_WORDS: &[&str] = &[
    "service",
    "defaults",
    "include",
    "includedir",
    "{",
    "}",
    "=",
    "+=",
    "-=",
    "#",
    "\n",
    "\t",
    "echo",
    "tftp",
    "type",
    "id",
    "socket_type",
    "protocol",
    "wait",
    "user",
    "group",
    "groups",
    "server",
    "server_args",
    "instances",
    "per_source",
    "cps",
    "max_load",
    "nice",
    "umask",
    "rlimit_as",
    "rlimit_cpu",
    "rlimit_files",
    "port",
    "bind",
    "interface",
    "v6only",
    "redirect",
    "banner",
    "banner_fail",
    "only_from",
    "no_access",
    "access_times",
    "log_type",
    "log_on_success",
    "log_on_failure",
    "env",
    "passenv",
    "rpc_version",
    "rpc_number",
    "deny_time",
    "libwrap",
    "flags",
    "disable",
    "disabled",
    "enabled",
    "yes",
    "no",
    "stream",
    "dgram",
    "raw",
    "seqpacket",
    "tcp",
    "udp",
    "INTERNAL",
    "UNLISTED",
    "RPC",
    "TCPMUX",
    "root",
    "nobody",
    "/bin/cat",
    "10.0.{1,2}",
    "::1",
    "0.0.0.0/0",
    "UNLIMITED",
    "SYSLOG",
    "FILE",
    "daemon",
    "info",
    "PID",
    "HOST",
    "USERID",
    "DURATION",
    "EXIT",
    "ATTEMPT",
    "RECORD",
    "REUSE",
    "IPv6",
    "NAMEINARGS",
    "07:00-19:30",
    "25",
    "30",
    "64M",
    "2.5",
    "FOREVER",
    "NEVER",
    "-1",
    "99999999999999999999",
    "2-4",
    "LANG=C",
    "\u{e9}",
    "\u{feff}",
    "\r",
];

const INETD_WORDS: &[&str] = &[
    "ftp",
    "echo",
    "discard",
    "chargen",
    "daytime",
    "time",
    "tcpmux",
    "auth",
    "tftp",
    "stream",
    "dgram",
    "raw",
    "rdm",
    "seqpacket",
    "tcp",
    "udp",
    "tcp4",
    "tcp6",
    "tcp46",
    "udp6",
    "rpc/tcp",
    "rpc/udp",
    "wait",
    "nowait",
    "nowait.400",
    "wait.0",
    "nowait/10/5/3",
    "wait:600",
    "root",
    "nobody:nogroup",
    "root.tty",
    "tty:tty/daemon",
    "internal",
    "/usr/sbin/tcpd",
    "/usr/sbin/in.ftpd",
    "-l",
    "tcpmux/+git",
    "rstatd/1-3",
    "127.0.0.1:",
    "[::1]:",
    "*:",
    "host:echo",
    "\"",
    "'",
    "sndbuf=64k",
    ",",
    ":",
    ".",
    "/",
    "#",
    "\n",
    "\t",
    " \t",
    "\r",
    "\u{e9}",
    "4294967296",
];

const HOSTS_WORDS: &[&str] = &[
    "ALL",
    "LOCAL",
    "KNOWN",
    "UNKNOWN",
    "PARANOID",
    "EXCEPT",
    ":",
    ",",
    "@",
    "\\\n",
    "\n",
    "#",
    "[::1]",
    "127.0.0.1",
    "10.0.0.0/8",
    "192.168.",
    "192.168.1.0/255.255.255.0",
    "[2001:db8::]/32",
    ".example.org",
    "bad.example.org",
    "*",
    "?",
    "*.example.com",
    "/etc/hosts.trusted",
    "@staff",
    "spawn",
    "twist",
    "allow",
    "deny",
    "severity",
    "auth.notice",
    "local0.debug",
    "setenv",
    "umask",
    "022",
    "user",
    "nobody.nogroup",
    "group",
    "nice",
    "keepalive",
    "linger",
    "rfc931",
    "banners",
    "aclexec",
    "%a",
    "%A",
    "%h",
    "%c",
    "%d",
    "%u",
    "%p",
    "%%",
    "%",
    "(",
    ")",
    "&",
    "\"",
    "in.tftpd",
    "sshd",
    "[",
    "]",
    "=",
    "\r",
];

const ONLY_FROM_WORDS: &[&str] = &[
    "127.0.0.1",
    "10.0.0.0",
    "0.0.0.0",
    "192.168.{1,2,3}",
    "10.{",
    "}",
    ".example.org",
    "localhost",
    "::1",
    "2001:db8::/32",
    "::ffff:10.0.0.1",
    "::ffff:0:0/96",
    "1.2.3.4/33",
    "::1/129",
    "/",
    "{",
    ",",
    ".",
    ":",
    "255",
    "256",
    " ",
    "\0",
    "loopback 127\n",
];

const CLI_WORDS: &[&str] = &[
    "-f",
    "--file",
    "--config",
    "--check",
    "-d",
    "--debug",
    "-dontfork",
    "--foreground",
    "-stayalive",
    "-pidfile",
    "--pidfile=",
    "-inetd_compat",
    "--inetd-conf",
    "--inetd-dialect",
    "freebsd",
    "-inetd_ipv6",
    "-syslog",
    "local3",
    "kern",
    "-filelog",
    "--syslog-socket",
    "--hosts-allow",
    "--hosts-deny",
    "-limit",
    "--limit=0",
    "-logprocs",
    "--dump-file",
    "--services-file",
    "-cc",
    "-reuse",
    "-shutdownprocs",
    "-h",
    "--help",
    "-version",
    "-V",
    "convert",
    "--from",
    "inetd",
    "--",
    "-",
    "=",
    "/etc/x.conf",
    "40",
    "-3",
    "\n",
];

const SERVICES_WORDS: &[&str] = &[
    "echo",
    "7/tcp",
    "7/udp",
    "discard",
    "sink",
    "null",
    "9/tcp",
    "65535/udp",
    "65536/tcp",
    "/tcp",
    "12",
    "#",
    "\n",
    "\t",
    "\r\n",
];

#[test]
fn xinetd_conf_never_panics() {
    property("xinetd_conf", XINETD_WORDS, &xinetd_conf);
}

#[test]
fn inetd_conf_never_panics() {
    property("inetd_conf", INETD_WORDS, &inetd_conf);
}

#[test]
fn hosts_access_never_panics() {
    property("hosts_access", HOSTS_WORDS, &hosts_access);
}

#[test]
fn only_from_never_panics() {
    property("only_from", ONLY_FROM_WORDS, &only_from);
}

#[test]
fn cli_never_panics() {
    property("cli", CLI_WORDS, &cli);
}

#[test]
fn services_never_panics() {
    property("services", SERVICES_WORDS, &services);
}

/// Every file of fuzz/corpus/TARGET goes through TARGET's checks: the seeds, and every crash
/// the fuzzers found (saved there as regression inputs).
#[test]
fn fuzz_corpus_replays() {
    let targets: [(&str, &Check); 6] = [
        ("xinetd_conf", &xinetd_conf),
        ("inetd_conf", &inetd_conf),
        ("hosts_access", &hosts_access),
        ("only_from", &only_from),
        ("cli", &cli),
        ("services", &services),
    ];
    let dirs: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"))
            .expect("fuzz/corpus")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    for dir in &dirs {
        assert!(
            targets.iter().any(|(t, _)| t == dir),
            "fuzz/corpus/{dir} has no parser here"
        );
    }
    for (target, check) in targets {
        let files = corpus(target);
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        for (path, bytes) in files {
            run(target, &path.display().to_string(), &bytes, check);
        }
    }
}
