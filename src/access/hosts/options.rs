//! hosts_options(5): the `: option : option ...` tail of a rule → a typed list, and the
//! `%` expansions those options use.
//!
//! Parsing checks everything libwrap checks before acting (names, values, "must be at end"), so
//! that a rule with a bad option is known to deny before it ever matches. What needs the system
//! (does user `nobody` exist, is the banners directory there) is left to the runtime, which
//! executes the options; nothing here runs or looks anything up.

use std::path::PathBuf;

/// One option of a matched rule, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOption {
    /// `severity [facility.]level`: log this event at that level (and facility).
    Severity {
        facility: Option<&'static str>,
        level: &'static str,
    },
    /// `allow`: grant, whichever file the rule is in. Always last.
    Allow,
    /// `deny`: refuse, whichever file the rule is in. Always last.
    Deny,
    /// `spawn command`: run `/bin/sh -c` on the expanded command, stdio on /dev/null.
    Spawn(String),
    /// `twist command`: run the expanded command instead of the server, stdio on the client.
    /// Always last.
    Twist(String),
    /// `aclexec command` (Debian): run the expanded command; grant only if it exits 0.
    Aclexec(String),
    /// `setenv name value`: both parts are `%` templates.
    Setenv { name: String, value: String },
    /// `umask 022`.
    Umask(u32),
    /// `user name[.group]`: names to resolve at run time (an unknown one denies).
    User { user: String, group: Option<String> },
    /// `group name` (Debian).
    Group(String),
    /// `nice [n]`, 10 when no value is given.
    Nice(i32),
    /// `keepalive`: SO_KEEPALIVE on the client socket.
    Keepalive,
    /// `linger seconds`: SO_LINGER on the client socket.
    Linger(i32),
    /// `rfc931 [timeout]`: look up the client's user with ident; `None` = default timeout.
    Rfc931(Option<u32>),
    /// `banners /dir`: send `/dir/<daemon>`, `%`-expanded, LF → CRLF.
    Banners(PathBuf),
}

/// Why a rule's options are unusable; the rule then denies when it matches. The messages are
/// libwrap's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("missing option name")]
    MissingName,
    #[error("bad option name: \"{0}\"")]
    BadName(String),
    #[error("option \"{0}\" requires value")]
    NeedsValue(String),
    #[error("option \"{0}\" requires no value")]
    NoValue(String),
    #[error("option \"{0}\" must be at end")]
    NotLast(String),
    #[error("bad {what} value: \"{value}\"")]
    BadValue { what: &'static str, value: String },
    #[error("bad syslog facility or severity: \"{0}\"")]
    BadSeverity(String),
}

/// What an option accepts, as libwrap's option table says.
#[derive(Clone, Copy, PartialEq)]
enum Arg {
    None,
    Optional,
    Required,
}

/// name, argument, must be last.
const TABLE: &[(&str, Arg, bool)] = &[
    ("user", Arg::Required, false),
    ("group", Arg::Required, false),
    ("umask", Arg::Required, false),
    ("linger", Arg::Required, false),
    ("keepalive", Arg::None, false),
    ("spawn", Arg::Required, false),
    ("twist", Arg::Required, true),
    ("rfc931", Arg::Optional, false),
    ("setenv", Arg::Required, false),
    ("nice", Arg::Optional, false),
    ("severity", Arg::Required, false),
    ("allow", Arg::None, true),
    ("deny", Arg::None, true),
    ("banners", Arg::Required, false),
    ("aclexec", Arg::Required, false),
];

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "lpr", "news", "uucp", "cron", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7",
];
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

const BLANKS: &[char] = &[' ', '\t', '\r', '\n'];

/// Parses the text after the second `:` of a rule (with its trailing newline, as libwrap sees
/// it). Fields are split at `:` unless written `\:`; each is `keyword`, `keyword value` or
/// `keyword = value`.
pub fn parse(tail: &str) -> Result<Vec<RuleOption>, OptionError> {
    let fields = fields(tail);
    let mut out = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let field = field.trim_matches(BLANKS);
        let (key, value) = match field.find([' ', '\t', '\r', '\n', '=']) {
            None => (field, None),
            Some(at) => {
                let rest = field[at..].trim_start_matches(BLANKS);
                let rest = rest
                    .strip_prefix('=')
                    .map_or(rest, |r| r.trim_start_matches(BLANKS));
                (&field[..at], Some(rest).filter(|v| !v.is_empty()))
            }
        };
        if key.is_empty() {
            return Err(OptionError::MissingName);
        }
        let Some(&(name, arg, last)) = TABLE.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(key))
        else {
            return Err(OptionError::BadName(key.to_string()));
        };
        if value.is_none() && arg == Arg::Required {
            return Err(OptionError::NeedsValue(key.to_string()));
        }
        if value.is_some() && arg == Arg::None {
            return Err(OptionError::NoValue(key.to_string()));
        }
        if last && i + 1 < fields.len() {
            return Err(OptionError::NotLast(key.to_string()));
        }
        out.push(option(name, value.unwrap_or(""))?);
    }
    Ok(out)
}

/// libwrap's `get_field`, all at once: `:` separates, `\:` is a literal colon; a tail that is
/// empty has no fields, but one that is only blanks has one (empty) field.
fn fields(tail: &str) -> Vec<String> {
    let mut out = Vec::new();
    if tail.is_empty() {
        return out;
    }
    let mut cur = String::new();
    let mut chars = tail.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&':') => {
                cur.push(':');
                chars.next();
            }
            ':' => {
                out.push(std::mem::take(&mut cur));
                if chars.peek().is_none() {
                    // "rule ends in ':'": libwrap warns and stops.
                    return out;
                }
            }
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn option(name: &str, value: &str) -> Result<RuleOption, OptionError> {
    let bad = |what| OptionError::BadValue {
        what,
        value: value.to_string(),
    };
    Ok(match name {
        "allow" => RuleOption::Allow,
        "deny" => RuleOption::Deny,
        "keepalive" => RuleOption::Keepalive,
        "spawn" => RuleOption::Spawn(value.to_string()),
        "twist" => RuleOption::Twist(value.to_string()),
        "aclexec" => RuleOption::Aclexec(value.to_string()),
        "banners" => RuleOption::Banners(PathBuf::from(value)),
        "group" => RuleOption::Group(value.to_string()),
        "user" => match value.split_once('.') {
            Some((user, group)) => RuleOption::User {
                user: user.to_string(),
                group: Some(group.to_string()),
            },
            None => RuleOption::User {
                user: value.to_string(),
                group: None,
            },
        },
        "setenv" => {
            let (name, rest) = value.split_once(BLANKS).unwrap_or((value, ""));
            RuleOption::Setenv {
                name: name.to_string(),
                value: rest.trim_matches(BLANKS).to_string(),
            }
        }
        "umask" => match scan_int(value, 8) {
            Some(m) if (0..=0o777).contains(&m) => RuleOption::Umask(m as u32),
            _ => return Err(bad("umask")),
        },
        "nice" if value.is_empty() => RuleOption::Nice(10),
        "nice" => RuleOption::Nice(scan_int(value, 10).ok_or_else(|| bad("nice"))?),
        "linger" => match scan_int(value, 10) {
            Some(l) if l >= 0 => RuleOption::Linger(l),
            _ => return Err(bad("linger")),
        },
        "rfc931" if value.is_empty() => RuleOption::Rfc931(None),
        "rfc931" => match scan_int(value, 10) {
            Some(t) if t > 0 => RuleOption::Rfc931(Some(t as u32)),
            _ => return Err(bad("timeout")),
        },
        "severity" => {
            let lookup = |set: &[&'static str], s: &str| {
                set.iter().copied().find(|n| n.eq_ignore_ascii_case(s))
            };
            let sev = match value.split_once('.') {
                Some((fac, lev)) => lookup(FACILITIES, fac)
                    .zip(lookup(LEVELS, lev))
                    .map(|(f, l)| (Some(f), l)),
                None => lookup(LEVELS, value).map(|l| (None, l)),
            };
            let (facility, level) =
                sev.ok_or_else(|| OptionError::BadSeverity(value.to_string()))?;
            RuleOption::Severity { facility, level }
        }
        _ => return Err(OptionError::BadName(name.to_string())),
    })
}

/// `sscanf(value, "%d%c")` (or `%o`) that must consume everything: a sign and digits.
fn scan_int(s: &str, radix: u32) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    let v = if s.starts_with('-') { -v } else { v };
    i32::try_from(v).ok()
}

/// What `%` expansions are taken from: everything known about the connection.
#[derive(Debug, Clone)]
pub struct ExpansionContext<'a> {
    pub client: &'a super::Client,
    pub server: &'a super::Server,
    /// `%p`: the process id of the server (or of superd for in-daemon services).
    pub pid: u32,
    /// `%r` / `%R`: the client's and server's ports, `0` when unknown.
    pub client_port: Option<u16>,
    pub server_port: Option<u16>,
}

/// Expands `%a %A %c %d %h %H %n %N %p %r %R %s %u %%` in `template`. Characters of an expansion
/// that a shell could misread (anything but letters, digits and `!@%-_=+:,./`) become `_`; an
/// unknown `%x` expands to nothing; a `%` at the very end stays.
pub fn expand(template: &str, cx: &ExpansionContext) -> String {
    let client = super::client_view(cx.client);
    let server = super::server_view(cx.server);
    let hostinfo = |h: &super::pattern::HostView, name_looked_up: bool| {
        if name_looked_up && super::pattern::name_known(&h.name) {
            h.name.clone()
        } else {
            h.addr.clone()
        }
    };
    let client_info = hostinfo(
        &client,
        cx.client.name.is_some() || cx.client.name_paranoid_mismatch,
    );
    let server_info = hostinfo(&server, cx.server.name.is_some());
    let user = cx.client.user.as_deref().unwrap_or(super::pattern::UNKNOWN);

    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        let text = match k {
            'a' => client.addr.clone(),
            'A' => server.addr.clone(),
            'c' if !user.eq_ignore_ascii_case(super::pattern::UNKNOWN) => {
                format!("{user}@{client_info}")
            }
            'c' => client_info.clone(),
            'd' => cx.server.daemon.clone(),
            'h' => client_info.clone(),
            'H' => server_info.clone(),
            'n' => client.name.clone(),
            'N' => server.name.clone(),
            'p' => cx.pid.to_string(),
            'r' => cx.client_port.unwrap_or(0).to_string(),
            'R' => cx.server_port.unwrap_or(0).to_string(),
            's' if server_info != super::pattern::UNKNOWN => {
                format!("{}@{server_info}", cx.server.daemon)
            }
            's' => cx.server.daemon.clone(),
            'u' => user.to_string(),
            '%' => "%".to_string(),
            _ => String::new(),
        };
        out.extend(text.chars().map(|c| {
            if c.is_ascii_alphanumeric() || "!@%-_=+:,./".contains(c) {
                c
            } else {
                '_'
            }
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::hosts::{Client, Server};

    fn p(s: &str) -> Result<Vec<RuleOption>, OptionError> {
        parse(&format!("{s}\n"))
    }

    #[test]
    fn options_parse_in_order() {
        assert_eq!(
            p(" severity auth.info : spawn echo %a\\: hi : allow "),
            Ok(vec![
                RuleOption::Severity {
                    facility: Some("auth"),
                    level: "info"
                },
                RuleOption::Spawn("echo %a: hi".into()),
                RuleOption::Allow,
            ])
        );
        assert_eq!(p("umask=022"), Ok(vec![RuleOption::Umask(0o22)]));
        assert_eq!(p("nice"), Ok(vec![RuleOption::Nice(10)]));
        assert_eq!(p("nice -5"), Ok(vec![RuleOption::Nice(-5)]));
        assert_eq!(p("rfc931"), Ok(vec![RuleOption::Rfc931(None)]));
        assert_eq!(
            p("user nobody.nogroup"),
            Ok(vec![RuleOption::User {
                user: "nobody".into(),
                group: Some("nogroup".into())
            }])
        );
        assert_eq!(
            p("setenv FOO  a b "),
            Ok(vec![RuleOption::Setenv {
                name: "FOO".into(),
                value: "a b".into()
            }])
        );
        assert_eq!(
            p("setenv FOO"),
            Ok(vec![RuleOption::Setenv {
                name: "FOO".into(),
                value: "".into()
            }])
        );
        assert_eq!(p("ALLOW"), Ok(vec![RuleOption::Allow]));
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn option_errors_are_libwrap_errors() {
        assert_eq!(p(""), Err(OptionError::MissingName)); // "daemon : client :" then newline
        assert_eq!(p("allow :"), Err(OptionError::NotLast("allow".into())));
        assert_eq!(
            p("allow: spawn x"),
            Err(OptionError::NotLast("allow".into()))
        );
        assert_eq!(p("allow = x"), Err(OptionError::NoValue("allow".into())));
        assert_eq!(
            p("keepalive 1"),
            Err(OptionError::NoValue("keepalive".into()))
        );
        assert_eq!(p("spawn"), Err(OptionError::NeedsValue("spawn".into())));
        assert!(matches!(
            p("(/usr/sbin/safe_finger -l @%h) &"),
            Err(OptionError::BadName(_))
        ));
        assert!(p("umask 9").is_err());
        assert!(p("umask 1000").is_err());
        assert!(p("nice x").is_err());
        assert!(p("linger -1").is_err());
        assert!(p("rfc931 0").is_err());
        assert!(p("severity syslog.info").is_err());
        assert!(p("severity info.").is_err());
        assert!(p("severity Mail.Info").is_ok());
    }

    #[test]
    fn expansions() {
        let client = Client {
            addr: "::ffff:192.0.2.7".parse().unwrap(),
            name: Some("pc.example.org".into()),
            name_paranoid_mismatch: false,
            user: Some("bob".into()),
        };
        let server = Server {
            daemon: "in.tftpd".into(),
            addr: Some("192.0.2.1".parse().unwrap()),
            name: None,
        };
        let cx = ExpansionContext {
            client: &client,
            server: &server,
            pid: 42,
            client_port: Some(1234),
            server_port: None,
        };
        assert_eq!(
            expand("%a %A %c %d %h %H %n %N %p %r %R %s %u %% %x %", &cx),
            "192.0.2.7 192.0.2.1 bob@pc.example.org in.tftpd pc.example.org 192.0.2.1 pc.example.org unknown 42 1234 0 in.tftpd@192.0.2.1 bob %  %"
        );
        let odd = Client {
            user: Some("a b;`x`".into()),
            name: None,
            ..client
        };
        let cx = ExpansionContext { client: &odd, ..cx };
        assert_eq!(expand("%u %c %n", &cx), "a_b__x_ a_b__x_@192.0.2.7 unknown");
    }
}
