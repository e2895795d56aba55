//! What every fuzz target checks, beyond "the parser does not panic".
//!
//! Shared with `tests/parsers_never_panic.rs`, which includes this file with `#[path]`, so it
//! uses nothing but `superd` and std. Each function parses its input and panics with a message
//! when an invariant fails; a panic inside a parser propagates as it is.
//!
//! Nothing here reads the filesystem: `include`/`includedir` lines that name a path with a `/`
//! are defused, relative ones resolve below [`NOWHERE`], and `/file` patterns of hosts_access
//! rules are pointed at [`NOWHERE`] before matching.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use superd::access::address::{self, AddrList, Entry, Form, Names};
use superd::access::hosts::{
    self, rules, Client, ClientPattern, DaemonPattern, ExpansionContext, HostPattern, List,
    RuleOption, Rules, Server, Verdict,
};
use superd::cli::{self, Command};
use superd::config::inetd::{self, Dialect};
use superd::config::model::{Config, Severity, Span, Spanned};
use superd::table::services::Services;

/// A path that cannot exist (below a character device): reading it fails with ENOTDIR.
pub const NOWHERE: &str = "/dev/null/superd-fuzz";

/// Character count of each line (split at `\n`, a `\r` kept), for span checks.
fn line_lengths(text: &str) -> Vec<usize> {
    text.split('\n').map(|l| l.chars().count()).collect()
}

fn check_span(span: &Span, file: &str, lines: &[usize], what: &dyn Debug) {
    assert_eq!(&*span.file, file, "span in another file: {what:?}");
    let line = span.line as usize;
    assert!(
        (1..=lines.len()).contains(&line),
        "line {} outside 1..={}: {what:?}",
        span.line,
        lines.len()
    );
    let max_col = lines[line - 1] + 1;
    assert!(
        (1..=max_col).contains(&(span.col as usize)),
        "column {} outside 1..={max_col}: {what:?}",
        span.col
    );
}

/// Invariants of a [`Config`] parsed from `text` alone (no include was readable).
fn check_config(config: &Config, text: &str, file: &str) {
    let lines = line_lengths(text);
    assert!(
        config.files.is_empty(),
        "files were read: {:?}",
        config.files
    );
    for d in &config.diagnostics {
        if let Some(span) = &d.span {
            check_span(span, file, &lines, d);
        }
        let _ = d.to_string();
    }
    for r in &config.rejected {
        check_span(&r.span, file, &lines, r);
    }
    if !config.rejected.is_empty() {
        assert!(
            config
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error),
            "services rejected without an error: {:?}",
            config.rejected
        );
    }
    for s in &config.services {
        assert!(s.span.is_some(), "service {} has no span", s.name);
        for span in s.span.iter() {
            check_span(span, file, &lines, &s.name);
        }
        for list in [&s.only_from, &s.no_access].into_iter().flatten() {
            for entry in list {
                check_span(&entry.span, file, &lines, entry);
            }
        }
    }
}

/// `include` and `includedir` lines that name a path with a `/` lose their keyword (it is
/// misspelt), so the parser reads nothing outside [`NOWHERE`].
pub fn defuse_includes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let blanks = line.len() - line.trim_start_matches([' ', '\t']).len();
        let head = line.as_bytes().get(blanks..blanks + 7);
        if head.is_some_and(|h| h.eq_ignore_ascii_case(b"include")) && line.contains('/') {
            out.push_str(&line[..blanks]);
            out.push('X');
            out.push_str(&line[blanks + 1..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// xinetd.conf text: spans inside the text, deterministic, CRLF reads like LF.
pub fn xinetd_conf(text: &str) {
    let text = defuse_includes(text);
    let base = Path::new(NOWHERE);
    let config = superd::config::parse_str(&text, "fuzz.conf", base);
    check_config(&config, &text, "fuzz.conf");
    let again = superd::config::parse_str(&text, "fuzz.conf", base);
    assert_eq!(
        format!("{config:?}"),
        format!("{again:?}"),
        "xinetd.conf parse is not deterministic"
    );
    if !text.contains('\r') {
        let crlf = superd::config::parse_str(&text.replace('\n', "\r\n"), "fuzz.conf", base);
        assert_eq!(
            format!("{config:?}"),
            format!("{crlf:?}"),
            "CRLF line ends change the xinetd.conf result"
        );
    }
}

/// inetd.conf text in every dialect: spans inside the text, deterministic, CRLF reads like LF,
/// and `superd convert` of the result does not panic and its output parses.
pub fn inetd_conf(text: &str) {
    for dialect in [Dialect::OpenBsd, Dialect::FreeBsd, Dialect::NetBsd] {
        let config = inetd::parse_inetd(text, "inetd.conf", dialect);
        check_config(&config, text, "inetd.conf");
        let again = inetd::parse_inetd(text, "inetd.conf", dialect);
        assert_eq!(
            format!("{config:?}"),
            format!("{again:?}"),
            "inetd.conf parse is not deterministic ({dialect:?})"
        );
        if !text.contains('\r') {
            let crlf = inetd::parse_inetd(&text.replace('\n', "\r\n"), "inetd.conf", dialect);
            assert_eq!(
                format!("{config:?}"),
                format!("{crlf:?}"),
                "CRLF line ends change the inetd.conf result ({dialect:?})"
            );
        }
        let out = superd::convert::to_xinetd(&config, text);
        let back =
            superd::config::parse_str(&defuse_includes(&out), "out.conf", Path::new(NOWHERE));
        check_config(&back, &defuse_includes(&out), "out.conf");
        let mut merged = Config::default();
        inetd::merge_into(&mut merged, config);
    }
}

/// Clients every hosts_access input is also checked against.
pub fn sample_clients() -> Vec<Client> {
    let client = |addr: IpAddr, name: Option<&str>, paranoid: bool, user: Option<&str>| Client {
        addr,
        name: name.map(String::from),
        name_paranoid_mismatch: paranoid,
        user: user.map(String::from),
    };
    vec![
        client(Ipv4Addr::LOCALHOST.into(), Some("localhost"), false, None),
        client(
            Ipv4Addr::new(192, 168, 1, 20).into(),
            Some("ws1.example.org"),
            false,
            Some("alice"),
        ),
        client(Ipv4Addr::new(10, 0, 0, 7).into(), None, true, Some("root")),
        client(Ipv6Addr::LOCALHOST.into(), None, false, None),
        client(
            "::ffff:10.1.2.3".parse().unwrap(),
            Some("mapped.example.com"),
            false,
            None,
        ),
        client(
            "2001:db8::1".parse().unwrap(),
            Some("v6.example.net."),
            false,
            None,
        ),
    ]
}

/// The server side every hosts_access input is also checked against.
pub fn sample_server() -> Server {
    Server {
        daemon: "in.tftpd".into(),
        addr: Some(Ipv4Addr::new(192, 168, 1, 1).into()),
        name: Some("gw.example.org".into()),
    }
}

fn defuse_list<P>(list: &mut List<P>, fix: &impl Fn(&mut P)) {
    list.items.iter_mut().for_each(fix);
    if let Some(except) = &mut list.except {
        defuse_list(except, fix);
    }
}

/// Points every `/file` pattern at [`NOWHERE`], so matching reads nothing.
fn defuse_files(rules: &mut Rules) {
    let fix = |h: &mut HostPattern| {
        if let HostPattern::File(path) = h {
            *path = PathBuf::from(NOWHERE);
        }
    };
    for rule in &mut rules.rules {
        defuse_list(&mut rule.daemons, &|d: &mut DaemonPattern| {
            d.host.iter_mut().for_each(fix)
        });
        defuse_list(&mut rule.clients, &|c: &mut ClientPattern| fix(&mut c.host));
    }
}

fn check_rules(rules: &Rules, text: &str) {
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    let mut last = 0;
    for rule in &rules.rules {
        assert!(
            rule.line > last && rule.line <= lines,
            "rule line {} after {last}, of {lines}",
            rule.line
        );
        last = rule.line;
    }
    for d in &rules.diagnostics {
        // A last line without its newline is not counted, as in libwrap: its fault may say
        // line 0.
        let first = if rules.fault.as_ref() == Some(d) {
            0
        } else {
            1
        };
        assert!(
            (first..=lines).contains(&d.line),
            "diagnostic line {} of {lines}: {d}",
            d.line
        );
        let _ = d.to_string();
    }
    if let Some(fault) = &rules.fault {
        assert_eq!(
            rules.diagnostics.last(),
            Some(fault),
            "fault is not the last diagnostic"
        );
        assert!(fault.error);
    }
}

fn check_verdict(v: &Verdict<'_>, allow: &Rules, deny: &Rules, client: &Client, server: &Server) {
    let Some(m) = v.matched() else {
        assert!(v.allowed(), "denied without a rule: {v:?}");
        return;
    };
    assert!(m.path == allow.path || m.path == deny.path);
    if let Some(rule) = m.rule {
        let file = if m.path == allow.path { allow } else { deny };
        assert!(
            file.rules.iter().any(|r| std::ptr::eq(r, rule)),
            "matched rule is not in its file"
        );
        if rule.options.is_err() {
            assert!(!v.allowed(), "a rule with bad options allowed");
            assert!(m.error().is_some());
        }
    } else {
        assert!(m.fault.is_some() && !v.allowed());
    }
    let _ = m.twist();
    let cx = ExpansionContext {
        client,
        server,
        pid: 4242,
        client_port: Some(40000),
        server_port: None,
    };
    for option in m.options() {
        let templates: Vec<&str> = match option {
            RuleOption::Spawn(t) | RuleOption::Twist(t) | RuleOption::Aclexec(t) => vec![t],
            RuleOption::Setenv { name, value } => vec![name, value],
            _ => vec![],
        };
        for t in templates {
            let out = hosts::expand(t, &cx);
            if !t.contains('%') {
                assert_eq!(out, t, "expansion changed a template without '%'");
            }
        }
    }
}

/// hosts.allow/hosts.deny text: line numbers in order and inside the text, the fault last;
/// then `check` against `client` and the sample clients with the rules as allow file, deny file
/// and both: deterministic, the matched rule is in the file it names, bad options deny, and
/// `%` expansion of the matched options does not panic.
pub fn hosts_access(text: &str, client: &Client, server: &Server) {
    let mut allow = rules::parse(Path::new("hosts.allow"), text);
    let mut deny = rules::parse(Path::new("hosts.deny"), text);
    check_rules(&allow, text);
    assert_eq!(allow.rules, deny.rules, "parse is not deterministic");
    defuse_files(&mut allow);
    defuse_files(&mut deny);
    let empty = Rules::default();
    let _ = hosts::Needs::of(&allow, &deny);
    let mut clients = sample_clients();
    clients.push(client.clone());
    let servers = [sample_server(), server.clone()];
    for c in &clients {
        for s in &servers {
            let v = hosts::check(&empty, &empty, c, s);
            assert_eq!(v, Verdict::Allow(None));
            for (a, d) in [(&allow, &empty), (&empty, &deny), (&allow, &deny)] {
                let v = hosts::check(a, d, c, s);
                assert_eq!(v, hosts::check(a, d, c, s), "check is not deterministic");
                check_verdict(&v, a, d, c, s);
            }
        }
    }
}

/// `only_from`/`no_access` entries (resolver stub: no name resolves; the networks file cannot
/// be read), then again with a resolver that returns `resolved` and with `networks` text.
/// Checks: warnings point at an entry, items come from entries, literal addresses match
/// themselves, numeric entries survive Display -> parse, `needs_name` is right.
pub fn only_from(
    entries: &[String],
    networks: &str,
    resolved: &[IpAddr],
    peer: IpAddr,
    peer_name: Option<&str>,
) {
    let spanned: Vec<Spanned<String>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let span = Span {
                file: "fuzz.conf".into(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: 1,
            };
            Spanned::new(e.clone(), span)
        })
        .collect();
    let nothing = |_: &str| Vec::new();
    let names = Names {
        networks_file: Path::new(NOWHERE),
        resolve: &nothing,
    };
    for attr in ["only_from", "no_access"] {
        let (list, warnings) = AddrList::parse(attr, &spanned, &names);
        for w in &warnings {
            assert!(
                spanned.iter().any(|e| e.span == w.span),
                "warning without an entry's span: {w:?}"
            );
        }
        check_addr_list(&list, entries, peer, peer_name);
        for text in entries {
            if let Ok(ip) = text.parse::<IpAddr>() {
                assert!(
                    list.matches(ip, None),
                    "{text} does not match itself in {list}"
                );
            }
        }
    }
    let resolve = |_: &str| resolved.to_vec();
    let names = Names {
        networks_file: Path::new(NOWHERE),
        resolve: &resolve,
    };
    let (list, _) = AddrList::parse("only_from", &spanned, &names);
    check_addr_list(&list, entries, peer, peer_name);
    if list.items().iter().any(|i| i.form == Form::Host) {
        for ip in resolved {
            assert!(
                list.matches(*ip, None),
                "resolved {ip} does not match {list}"
            );
        }
    }
    for text in entries {
        if let Some(entry) = address::network(networks, text) {
            assert!(
                matches!(entry, Entry::V4 { .. }),
                "network {text}: {entry:?}"
            );
            check_entry(&entry);
        }
    }
}

fn check_entry(entry: &Entry) {
    let own = match entry {
        Entry::V4 { net, .. } => IpAddr::V4(*net),
        Entry::V6 { net, .. } => IpAddr::V6(*net),
        Entry::Domain(_) => return,
    };
    assert!(
        entry.matches(own, None),
        "{entry} does not match its own network"
    );
    assert!(entry.covers(entry), "{entry} does not cover itself");
}

fn check_addr_list(list: &AddrList, entries: &[String], peer: IpAddr, peer_name: Option<&str>) {
    let _ = list.to_string();
    assert_eq!(
        list.needs_name(),
        list.items()
            .iter()
            .any(|i| matches!(i.entry, Entry::Domain(_)))
    );
    let nothing = |_: &str| Vec::new();
    let names = Names {
        networks_file: Path::new(NOWHERE),
        resolve: &nothing,
    };
    for item in list.items() {
        assert!(
            entries.contains(&item.written),
            "item from nowhere: {item:?}"
        );
        check_entry(&item.entry);
        if item.form == Form::Numeric {
            let text = item.entry.to_string();
            let span = Span {
                file: "fuzz.conf".into(),
                line: 1,
                col: 1,
            };
            let (back, _) =
                AddrList::parse("only_from", &[Spanned::new(text.clone(), span)], &names);
            let back: Vec<&Entry> = back.items().iter().map(|i| &i.entry).collect();
            assert_eq!(back, vec![&item.entry], "{text} reads back differently");
        }
    }
    let hit = list.matches(peer, peer_name);
    let verdict = address::decide(Some(list), Some(list), peer, peer_name);
    assert_eq!(hit, verdict == address::AddressVerdict::DenyBothMatch);
    let _ = address::shadowing(Some(list), Some(list));
}

/// A command line: deterministic, errors have a message, and options hold what the parser
/// promises (debug implies foreground, limits are >= 1, paths are not empty, inetd files and
/// notices appear once).
pub fn cli(args: &[OsString]) {
    let result = cli::parse(args);
    assert_eq!(result, cli::parse(args), "cli::parse is not deterministic");
    match &result {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(Command::Run(o) | Command::Check(o)) => {
            assert!(!o.debug || o.foreground, "-d without foreground: {o:?}");
            assert!(o.limit != Some(0), "limit 0: {o:?}");
            assert!(!o.config.as_os_str().is_empty(), "empty config path");
            assert!(o.pidfile.as_ref().is_none_or(|p| !p.as_os_str().is_empty()));
            let unique: HashSet<_> = o.inetd_conf.iter().collect();
            assert_eq!(
                unique.len(),
                o.inetd_conf.len(),
                "inetd files repeated: {o:?}"
            );
            if o.inetd_compat {
                assert!(o
                    .inetd_conf
                    .iter()
                    .any(|p| p == Path::new("/etc/inetd.conf")));
            }
            let unique: HashSet<_> = o.notices.iter().collect();
            assert_eq!(unique.len(), o.notices.len(), "notices repeated: {o:?}");
        }
        Ok(Command::Convert { file, .. }) => {
            assert!(!file.as_os_str().is_empty(), "convert without a file");
        }
        Ok(Command::Help | Command::Version) => {}
    }
}

/// An argv from text: one argument per line (a single final newline ends the last one).
pub fn argv_of(bytes: &[u8]) -> Vec<OsString> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == b'\n')
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// /etc/services text: every name and alias of a valid line resolves for its protocol.
pub fn services(text: &str) {
    let services = Services::parse(text);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, pp, ..] = words[..] {
            let valid = pp
                .split_once('/')
                .filter(|(port, _)| port.parse::<u16>().is_ok());
            if let Some((_, proto)) = valid {
                for name in words.iter().filter(|w| **w != pp) {
                    assert!(
                        services.port(name, proto).is_some(),
                        "{name}/{proto} not found"
                    );
                }
            }
        }
        for w in &words {
            let _ = services.port(w, "tcp");
        }
    }
}
