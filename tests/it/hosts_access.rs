//! Differential test of the hosts.allow / hosts.deny language: generated rule files and clients,
//! decided by superd's `access::hosts::check` and by `tcpdmatch -d` (Debian package tcpd, which
//! links the real libwrap and reads hosts.allow / hosts.deny from its current directory). The two
//! must agree on every case.
//!
//! Only what tcpdmatch decides without DNS is generated: clients are given by address (tcpdmatch
//! then knows no client name, as superd does when it looked none up), server endpoint patterns are
//! numeric, and `user` options (which tcpdmatch carries out) are left out. The generator is a
//! fixed-seed PRNG, so a failure reproduces; it prints the files of every disagreeing case.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use superd::access::hosts::{self, Client, Server};

fn tcpdmatch() -> Option<PathBuf> {
    [
        "/usr/sbin/tcpdmatch",
        "/usr/bin/tcpdmatch",
        "/sbin/tcpdmatch",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// splitmix64: small, fixed, good enough to pick from lists.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const DAEMONS: &[&str] = &["in.tftpd", "echo", "sshd"];

const DAEMON_PATTERNS: &[&str] = &[
    "ALL",
    "in.tftpd",
    "echo",
    "sshd",
    "in.",
    ".tftpd",
    "ECHO",
    "ss*",
    "?cho",
    "IN.T*",
    "all",
    "echo@127.0.0.1",
    "ALL@127.0.0.",
    "sshd@[::1]",
    "ALL@127.0.0.0/255.0.0.0",
    "in.tftpd@127.0.0.2",
    "ALL@[::1]/128",
    "echo@127.0.0.*",
];

const CLIENTS: &[&str] = &["127.0.0.1", "127.0.0.5", "127.0.1.9", "127.1.2.3", "::1"];

const CLIENT_PATTERNS: &[&str] = &[
    "ALL",
    "127.0.0.1",
    "127.0.0.5",
    "127.",
    "127.0.0.",
    "127.0.1.",
    "127.0.0.1.",
    "127.0.0.0/255.255.255.0",
    "127.0.0.0/24",
    "127.0.0.4/255.255.255.252",
    "127.0.0.1/255.0.0.0",
    "127.0.0.0/8",
    "0.0.0.0/0",
    "0.0.0.0/0.0.0.0",
    "127.0.0.1/255.255.255.255",
    "127.0.0.1/32",
    "127.0.0.0/8x",
    "0177.0.0.0/255.0.0.0",
    "[::1]",
    "[::1]/128",
    "[::]/0",
    "[0:0::1]",
    "[::2]/126",
    "{f1}",
    "{f2}",
    "/nonexistent/hosts",
    "LOCAL",
    "KNOWN",
    "UNKNOWN",
    "PARANOID",
    "unknown",
    "127.0.0.*",
    "127.0.?.?",
    "*",
    "KNOWN@ALL",
    "UNKNOWN@127.0.0.",
    "bob@ALL",
    "B*@127.0.0.0/8",
    "ALL@ALL",
    "@staff",
    "127.0.0.1@ALL",
];

const OPTIONS: &[&str] = &[
    "",
    "",
    "",
    "",
    ": allow",
    ": deny",
    ": ALLOW",
    ": spawn /bin/echo %a %d",
    ": severity auth.info",
    ": twist /bin/echo hi",
    ": bogus",
    ": umask 022",
    ": nice 5",
    ": keepalive",
    ": linger 5",
    ": rfc931 5",
    ": setenv A b",
    ": banners /tmp",
    ": allow : spawn x",
    ":",
    ": umask 9",
    ": severity info : deny",
    ": spawn a\\: b : allow",
    ": nice=-3 : allow",
    ": keepalive 1",
    ": severity syslog.info",
];

const SEPARATORS: &[&str] = &[" ", ", ", ",", "\t", " , "];

/// A list of 1..=max patterns, sometimes with (nested) EXCEPT lists.
fn list(rng: &mut Rng, pool: &[&str], max: usize, depth: u32) -> String {
    let mut out = String::new();
    for i in 0..=rng.below(max) {
        if i > 0 {
            out.push_str(rng.pick(SEPARATORS));
        }
        out.push_str(rng.pick(pool));
    }
    if depth < 2 && rng.chance(30) {
        let except = rng.pick(&["EXCEPT", "except", "Except"]);
        write!(out, " {except} {}", list(rng, pool, 2, depth + 1)).unwrap();
    }
    out
}

fn rules_file(rng: &mut Rng, files: &[(&str, String)]) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(4) {
        match rng.below(12) {
            0 => text.push_str("# a comment\n"),
            1 => text.push('\n'),
            2 => text.push_str("ALL ALL\n"), // no colon: skipped with a warning
            _ => {
                let daemons = list(rng, DAEMON_PATTERNS, 2, 0);
                let mut clients = list(rng, CLIENT_PATTERNS, 3, 0);
                for (name, path) in files {
                    clients = clients.replace(name, path);
                }
                let options = rng.pick(OPTIONS);
                let colon = rng.pick(&[":", " : ", ": "]);
                let rule = format!("{daemons}{colon}{clients}{options}");
                if rng.chance(15) {
                    // Break the rule over two lines somewhere blank.
                    let at = rule.find(' ').unwrap_or(rule.len());
                    write!(text, "{}\\\n{}\n", &rule[..at], &rule[at..]).unwrap();
                } else {
                    writeln!(text, "{rule}").unwrap();
                }
            }
        }
    }
    if rng.chance(5) && text.ends_with('\n') {
        text.pop(); // the last rule then lacks its newline: libwrap ignores it
    }
    text
}

/// (allowed, twisted) as tcpdmatch predicts it.
fn oracle(bin: &Path, dir: &Path, daemon_arg: &str, client_arg: &str) -> (bool, bool) {
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["-d", "-i", "/dev/null", daemon_arg, client_arg])
        .output()
        .expect("run tcpdmatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = stdout
        .lines()
        .find_map(|l| l.strip_prefix("access:"))
        .unwrap_or_else(|| panic!("no verdict from tcpdmatch {daemon_arg} {client_arg}: {stdout}"))
        .trim();
    match verdict {
        "granted" => (true, false),
        "denied" => (false, false),
        "delegated" => (true, true),
        other => panic!("unexpected tcpdmatch verdict {other:?}"),
    }
}

#[test]
fn hosts_access_decides_as_tcpdmatch() {
    let bin = crate::require_program!(tcpdmatch(), "tcpdmatch (package tcpd)");
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("pattern-file-1");
    let f2 = dir.path().join("pattern-file-2");
    std::fs::write(&f1, "127.0.0.5 [::1]\n\t127.0.1.\n").unwrap();
    std::fs::write(
        &f2,
        format!("127.0.0.0/255.255.255.0 {}\nEXCEPT\n", f1.display()),
    )
    .unwrap();
    let files = [
        ("{f1}", f1.display().to_string()),
        ("{f2}", f2.display().to_string()),
    ];

    let mut rng = Rng(0x5eed_0003);
    let (mut cases, mut failures) = (0, Vec::new());
    for _ in 0..200 {
        let allow = rules_file(&mut rng, &files);
        let deny = rules_file(&mut rng, &files);
        let allow_path = dir.path().join("hosts.allow");
        let deny_path = dir.path().join("hosts.deny");
        std::fs::write(&allow_path, &allow).unwrap();
        std::fs::write(&deny_path, &deny).unwrap();
        let allow_rules = hosts::load(&allow_path);
        let deny_rules = hosts::load(&deny_path);

        for _ in 0..3 {
            let daemon = rng.pick(DAEMONS);
            let addr = rng.pick(CLIENTS);
            let user = if rng.chance(30) {
                Some(rng.pick(&["bob", "alice"]))
            } else {
                None
            };
            let server_addr = if rng.chance(50) {
                Some(rng.pick(&["127.0.0.1", "127.0.0.2", "::1"]))
            } else {
                None
            };

            let daemon_arg = server_addr.map_or(daemon.to_string(), |s| format!("{daemon}@{s}"));
            let client_arg = user.map_or(addr.to_string(), |u| format!("{u}@{addr}"));
            let expected = oracle(&bin, dir.path(), &daemon_arg, &client_arg);

            let client = Client {
                addr: addr.parse().unwrap(),
                name: None,
                name_paranoid_mismatch: false,
                user: user.map(String::from),
            };
            let server = Server {
                daemon: daemon.to_string(),
                addr: server_addr.map(|s| s.parse::<IpAddr>().unwrap()),
                name: None,
            };
            let verdict = hosts::check(&allow_rules, &deny_rules, &client, &server);
            let got = (
                verdict.allowed(),
                verdict.matched().and_then(|m| m.twist()).is_some(),
            );
            cases += 1;
            if got != expected {
                failures.push(format!(
                    "tcpdmatch {daemon_arg} {client_arg}: tcpdmatch says {expected:?}, superd {got:?}\n\
                     --- hosts.allow\n{allow}\n--- hosts.deny\n{deny}\n---"
                ));
            }
        }
    }
    assert!(cases >= 500, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
