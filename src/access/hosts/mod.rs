//! tcp_wrappers, natively: hosts.allow / hosts.deny (hosts_access(5), hosts_options(5)) without
//! libwrap.
//!
//! `file::HostsFile` (re-read on change) → `Rules` (parsed once per version of the file) →
//! `check(allow, deny, client, server)` → `Verdict`, with the matched rule and its typed
//! options for the runtime to act on (`spawn`, `twist`, `setenv`, ... with `options::expand`).
//! The decision is libwrap's: the first matching rule of hosts.allow grants, else the first of
//! hosts.deny denies, else access is granted; an `allow`/`deny` option overrides the file, and a
//! rule with a bad option denies. Semantics follow Debian's libwrap 7.6.q as `tcpdmatch` reports
//! them (tests/it/hosts_access.rs compares the two), including its quirks (see `pattern`).
//!
//! Written by hand because libwrap would mean `unsafe` FFI, a C dependency, and per-connection
//! parsing; no crate implements this language. Differences from libwrap, on purpose:
//! - `@netgroup` is asked through `crate::listen::in_netgroup` (glibc's `innetgr`, the one
//!   system call of this module), on the daemon's thread, as libwrap does in its process.
//! - A rule with a bad option denies without running the options written before the bad one
//!   (libwrap would already have run, say, a `spawn`).
//! - `/file` patterns nested more than 8 deep match nothing (libwrap recurses without bound).

pub mod file;
pub mod options;
pub mod pattern;
pub mod rules;
pub mod watch;

use std::net::IpAddr;
use std::path::Path;

pub use file::{load, HostsFile};
pub use options::{expand, ExpansionContext, OptionError, RuleOption};
pub use pattern::{HostPattern, List, StrPattern};
pub use rules::{ClientPattern, DaemonPattern, Diagnostic, Rule, Rules};

use pattern::{HostView, PARANOID, UNKNOWN};

/// The client as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The peer address; an IPv4-mapped IPv6 address is treated as the IPv4 address.
    pub addr: IpAddr,
    /// The verified (forward-confirmed) reverse name; `None` if unknown or not looked up.
    pub name: Option<String>,
    /// The reverse name did not map back to the address (PARANOID matches; the name is
    /// `paranoid` to every other pattern).
    pub name_paranoid_mismatch: bool,
    /// The ident (RFC 1413) user; `None` = unknown or not looked up.
    pub user: Option<String>,
}

/// The service side: the daemon name that rules match, and the local endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The daemon name (see `table::Service::libwrap_daemon`).
    pub daemon: String,
    /// The local address the client connected to, if known.
    pub addr: Option<IpAddr>,
    /// Its name, if looked up.
    pub name: Option<String>,
}

/// What checking may need to know beyond addresses: the runtime looks these up only if set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// A client host pattern may look at the client's name (`.domain`, names, `LOCAL`,
    /// `KNOWN`, `UNKNOWN`, `PARANOID`, `/file`, `@netgroup`, wildcards).
    pub client_name: bool,
    /// A `user@host` pattern with a user part other than `ALL`: an ident query.
    pub client_user: bool,
    /// A `daemon@host` pattern may look at the server's name.
    pub server_name: bool,
}

impl Needs {
    /// What two sets of rules need together.
    pub fn of(allow: &Rules, deny: &Rules) -> Needs {
        let (a, d) = (allow.needs(), deny.needs());
        Needs {
            client_name: a.client_name || d.client_name,
            client_user: a.client_user || d.client_user,
            server_name: a.server_name || d.server_name,
        }
    }
}

/// The rule that decided, in which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched<'a> {
    pub path: &'a Path,
    /// `None` when the file's fault decided (an unreadable or truncated hosts.deny denies
    /// everyone no earlier rule matched); see `Rules::fault`.
    pub rule: Option<&'a Rule>,
    /// Why the file decided without a rule.
    pub fault: Option<&'a Diagnostic>,
}

impl<'a> Matched<'a> {
    /// The options to carry out, in order (none when the options are bad: the verdict is Deny).
    pub fn options(&self) -> &'a [RuleOption] {
        match self.rule.map(|r| &r.options) {
            Some(Ok(o)) => o,
            _ => &[],
        }
    }

    /// The `twist` command, when the rule hands the connection to it instead of the server
    /// (what tcpdmatch reports as "access: delegated").
    pub fn twist(&self) -> Option<&'a str> {
        self.options().iter().find_map(|o| match o {
            RuleOption::Twist(cmd) => Some(cmd.as_str()),
            _ => None,
        })
    }

    /// The error to log when this match denies because of a problem in the file, libwrap-style
    /// `path:line: error: ...`.
    pub fn error(&self) -> Option<String> {
        match self.rule {
            Some(rule) => rule
                .options
                .as_ref()
                .err()
                .map(|e| format!("{}:{}: error: {e}", self.path.display(), rule.line)),
            None => self.fault.map(Diagnostic::to_string),
        }
    }
}

/// The decision, with the rule that made it (`None`: no rule matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    Allow(Option<Matched<'a>>),
    Deny(Option<Matched<'a>>),
}

impl<'a> Verdict<'a> {
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Allow(_))
    }

    pub fn matched(&self) -> Option<Matched<'a>> {
        match self {
            Verdict::Allow(m) | Verdict::Deny(m) => *m,
        }
    }
}

/// Decides as libwrap's `hosts_access` does. Reads `/file` patterns of rules it tries; nothing
/// else touches the system.
pub fn check<'a>(
    allow: &'a Rules,
    deny: &'a Rules,
    client: &Client,
    server: &Server,
) -> Verdict<'a> {
    let c = client_view(client);
    let s = server_view(server);
    let user = client.user.as_deref().unwrap_or(UNKNOWN);
    let first = |rules: &'a Rules| {
        rules.rules.iter().find(|r| {
            r.daemons.matches(&|d: &DaemonPattern| {
                d.daemon.matches(&server.daemon) && d.host.as_ref().is_none_or(|h| h.matches(&s))
            }) && r.clients.matches(&|p: &ClientPattern| {
                p.host.matches(&c) && p.user.as_ref().is_none_or(|u| u.matches(user))
            })
        })
    };
    // A faulty allow file grants nobody past its fault; a faulty deny file denies everybody.
    let hit = |rules: &'a Rules, rule| Matched {
        path: &rules.path,
        rule: Some(rule),
        fault: None,
    };
    if let Some(rule) = first(allow) {
        return decide(hit(allow, rule), true);
    }
    match first(deny) {
        Some(rule) => decide(hit(deny, rule), false),
        None if deny.fault.is_some() => Verdict::Deny(Some(Matched {
            path: &deny.path,
            rule: None,
            fault: deny.fault.as_ref(),
        })),
        None => Verdict::Allow(None),
    }
}

/// A matched rule grants if it is in hosts.allow, unless its options say otherwise; `twist`
/// hands the connection over in either file.
fn decide(m: Matched<'_>, in_allow: bool) -> Verdict<'_> {
    let grant = match m.rule.map(|r| &r.options) {
        Some(Ok(opts)) => match opts.last() {
            Some(RuleOption::Allow | RuleOption::Twist(_)) => true,
            Some(RuleOption::Deny) => false,
            _ => in_allow,
        },
        _ => false,
    };
    if grant {
        Verdict::Allow(Some(m))
    } else {
        Verdict::Deny(Some(m))
    }
}

/// The client's address and name as text, libwrap's way.
pub(crate) fn client_view(c: &Client) -> HostView {
    let name = if c.name_paranoid_mismatch {
        PARANOID.to_string()
    } else {
        c.name.clone().unwrap_or_else(|| UNKNOWN.to_string())
    };
    HostView {
        addr: addr_text(c.addr),
        name,
    }
}

pub(crate) fn server_view(s: &Server) -> HostView {
    HostView {
        addr: s.addr.map_or_else(|| UNKNOWN.to_string(), addr_text),
        name: s.name.clone().unwrap_or_else(|| UNKNOWN.to_string()),
    }
}

/// An address as `inet_ntop` writes it: IPv4-mapped as plain IPv4, IPv4-compatible
/// (`::a.b.c.d`) with the dotted tail as glibc does, otherwise RFC 5952.
pub fn addr_text(addr: IpAddr) -> String {
    match addr.to_canonical() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => {
            let s = a.segments();
            if s[..6] == [0; 6] && s[6] != 0 {
                let [b0, b1, b2, b3] = (u128::from(a) as u32).to_be_bytes();
                format!("::{b0}.{b1}.{b2}.{b3}")
            } else {
                a.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(addr: &str) -> Client {
        Client {
            addr: addr.parse().unwrap(),
            name: None,
            name_paranoid_mismatch: false,
            user: None,
        }
    }

    fn server(daemon: &str) -> Server {
        Server {
            daemon: daemon.into(),
            addr: Some("127.0.0.1".parse().unwrap()),
            name: None,
        }
    }

    fn verdict(allow: &str, deny: &str, daemon: &str, c: &Client) -> bool {
        let a = rules::parse(Path::new("hosts.allow"), allow);
        let d = rules::parse(Path::new("hosts.deny"), deny);
        check(&a, &d, c, &server(daemon)).allowed()
    }

    #[test]
    fn allow_first_then_deny_then_grant() {
        let c = client("127.0.0.5");
        assert!(verdict("", "", "echo", &c));
        assert!(!verdict("", "ALL: ALL\n", "echo", &c));
        assert!(verdict("echo: 127.0.0.5\n", "ALL: ALL\n", "echo", &c));
        assert!(!verdict("echo: 127.0.0.5\n", "ALL: ALL\n", "sshd", &c));
        assert!(verdict(
            "",
            "ALL EXCEPT in.fingerd: ALL\n",
            "in.fingerd",
            &c
        ));
        assert!(!verdict("", "ALL: ALL\n", "in.fingerd", &c));
    }

    #[test]
    fn options_override_the_file() {
        let c = client("127.0.0.1");
        assert!(!verdict("ALL: 127.0.0.1: deny\n", "", "echo", &c));
        assert!(verdict("", "ALL: ALL: allow\n", "echo", &c));
        assert!(!verdict("ALL: ALL: bogus\n", "", "echo", &c));
        // A bad rule that does not match does not matter.
        assert!(verdict("sshd: ALL: bogus\n", "", "echo", &c));
        let a = rules::parse(Path::new("/etc/hosts.allow"), "ALL: ALL: spawn x : bogus\n");
        let d = Rules::default();
        let v = check(&a, &d, &c, &server("echo"));
        assert!(!v.allowed());
        assert_eq!(
            v.matched().unwrap().error().unwrap(),
            "/etc/hosts.allow:1: error: bad option name: \"bogus\""
        );
        let a = rules::parse(Path::new("hosts.allow"), "ALL: ALL: twist /bin/echo %a\n");
        let v = check(&a, &d, &c, &server("echo"));
        assert!(v.allowed());
        assert_eq!(v.matched().unwrap().twist(), Some("/bin/echo %a"));
    }

    #[test]
    fn mapped_clients_are_ipv4() {
        let c = client("::ffff:127.0.0.1");
        assert!(!verdict("", "ALL: 127.0.0.1\n", "echo", &c));
        assert!(!verdict("", "ALL: 127.0.0.0/255.0.0.0\n", "echo", &c));
        assert!(verdict("", "ALL: [::ffff:127.0.0.1]\n", "echo", &c));
    }

    #[test]
    fn users_and_server_endpoints() {
        let mut c = client("127.0.0.1");
        assert!(!verdict("", "ALL: UNKNOWN@ALL\n", "echo", &c));
        assert!(verdict("", "ALL: KNOWN@ALL\n", "echo", &c));
        c.user = Some("bob".into());
        assert!(!verdict("", "ALL: KNOWN@127.0.0.1\n", "echo", &c));
        assert!(verdict("", "ALL: alice@127.0.0.1\n", "echo", &c));
        assert!(!verdict("", "echo@127.0.0.1: ALL\n", "echo", &c));
        assert!(verdict("", "echo@127.0.0.2: ALL\n", "echo", &c));
        assert!(!verdict("", "ALL@127.0.0.: ALL\n", "echo", &c));
    }

    #[test]
    fn names_and_paranoid() {
        let mut c = client("192.0.2.1");
        c.name = Some("pc.example.org".into());
        assert!(!verdict("", "ALL: .example.org\n", "echo", &c));
        assert!(verdict("", "ALL: LOCAL\n", "echo", &c));
        assert!(verdict("", "ALL: PARANOID\n", "echo", &c));
        c.name_paranoid_mismatch = true;
        assert!(!verdict("", "ALL: PARANOID\n", "echo", &c));
        assert!(verdict("", "ALL: .example.org\n", "echo", &c));
        assert!(!verdict("", "ALL: UNKNOWN\n", "echo", &client("192.0.2.1")));
    }

    #[test]
    fn faulty_files() {
        // A last line without its newline ends the file with a fault.
        let c = client("127.0.0.1");
        let bad = rules::parse(Path::new("/etc/hosts.x"), "sshd: ALL\nALL: 127.0.0.2");
        let none = Rules::default();
        let v = check(&none, &bad, &c, &server("echo"));
        assert_eq!(
            v.matched().unwrap().error().unwrap(),
            "/etc/hosts.x:1: error: missing newline or line too long"
        );
        let v = check(&none, &bad, &c, &server("sshd"));
        assert_eq!(v.matched().unwrap().rule.unwrap().line, 1);
        let grant = rules::parse(Path::new("a"), "ALL: ALL\n");
        assert!(check(&bad, &Rules::default(), &c, &server("echo")).allowed());
        assert!(check(&grant, &bad, &c, &server("echo")).allowed());
        assert!(!check(&Rules::default(), &bad, &c, &server("echo")).allowed());
    }

    #[test]
    fn addresses_as_inet_ntop_writes_them() {
        assert_eq!(addr_text("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(addr_text("::1".parse().unwrap()), "::1");
        assert_eq!(addr_text("::1.2.3.4".parse().unwrap()), "::1.2.3.4");
        assert_eq!(
            addr_text("2001:db8:0:0:1:0:0:1".parse().unwrap()),
            "2001:db8::1:0:0:1"
        );
    }
}
