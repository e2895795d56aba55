//! hosts.allow / hosts.deny text → `Rules`: one `Rule` per logical line, with its line number.
//!
//! Lines are read as libwrap reads them: a backslash before the newline joins the next line
//! (nothing is inserted), a line whose first character is `#` or that holds only blanks is
//! skipped, and the rule is `daemons : clients [: options]` split at the first two colons that
//! are not inside `[...]`. A line without a colon is skipped with a warning; a line without its
//! newline (the last one) or longer than libwrap's buffer ends the file with a fault (see
//! `Rules::fault`); bad options make the rule deny when it matches (libwrap finds them only
//! then). Line numbers are libwrap's: a continued rule carries the
//! number of its last physical line.

use std::fmt;
use std::path::{Path, PathBuf};

use super::options::{self, OptionError, RuleOption};
use super::pattern::{self, HostPattern, List, StrPattern};

/// libwrap reads rules into a buffer of BUFSIZ (8192) bytes; longer rules are not rules.
const MAX_RULE: usize = 8191;

/// The rules of one file, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The file they came from (used in diagnostics and logs).
    pub path: PathBuf,
    pub rules: Vec<Rule>,
    /// Problems found while reading, to log once per (re)load.
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the file could not be read to its end: it exists but cannot be opened, or a
    /// line lacks its newline (the last one, usually) or is too long. Reading stops there, and
    /// a client that no earlier rule matched meets an error, as in libwrap: hosts.deny then
    /// denies everyone, hosts.allow grants nobody (the deny file decides).
    pub fault: Option<Diagnostic>,
    pub(super) needs: super::Needs,
}

/// `daemon_list : client_list [: option ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// libwrap's line number (the last physical line of a continued rule).
    pub line: u32,
    pub daemons: List<DaemonPattern>,
    pub clients: List<ClientPattern>,
    /// The options, or why they are unusable (the rule then denies when it matches).
    pub options: Result<Vec<RuleOption>, OptionError>,
}

/// `daemon` or `daemon@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonPattern {
    pub daemon: StrPattern,
    /// The server endpoint (the local address the client connected to).
    pub host: Option<HostPattern>,
}

/// `host` or `user@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPattern {
    /// The ident user name pattern.
    pub user: Option<StrPattern>,
    pub host: HostPattern,
}

/// A problem at a line of a rules file, printed `path:line: warning: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: u32,
    pub error: bool,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.error { "error" } else { "warning" };
        write!(
            f,
            "{}:{}: {kind}: {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

impl Rules {
    /// What checking against these rules may need to know about a connection.
    pub fn needs(&self) -> super::Needs {
        self.needs
    }

    /// Whether a rule may need the client's verified reverse name.
    pub fn needs_name(&self) -> bool {
        self.needs.client_name
    }

    /// Whether a rule may need the client's ident user name.
    pub fn needs_user(&self) -> bool {
        self.needs.client_user
    }

    /// Whether a rule may need the name of the local address the client connected to.
    pub fn needs_server_name(&self) -> bool {
        self.needs.server_name
    }

    pub(crate) fn diagnostic(&self, line: u32, error: bool, message: String) -> Diagnostic {
        Diagnostic {
            path: self.path.clone(),
            line,
            error,
            message,
        }
    }
}

/// Parses the text of a rules file that was read from `path`.
pub fn parse(path: &Path, text: &str) -> Rules {
    let mut out = Rules {
        path: path.to_path_buf(),
        ..Rules::default()
    };
    for (line, text) in logical_lines(text) {
        if !text.ends_with('\n') || text.len() > MAX_RULE {
            let d = out.diagnostic(line, true, "missing newline or line too long".into());
            out.diagnostics.push(d.clone());
            out.fault = Some(d);
            break;
        }
        if text.starts_with('#') || text.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            continue;
        }
        let Some((daemons, rest)) = pattern::split_at(&text, ':') else {
            let d = out.diagnostic(line, false, "missing \":\" separator".into());
            out.diagnostics.push(d);
            continue;
        };
        let (clients, tail) = match pattern::split_at(rest, ':') {
            Some((c, t)) => (c, Some(t)),
            None => (rest, None),
        };
        let rule = Rule {
            line,
            daemons: List::parse(pattern::tokens(daemons), &DaemonPattern::parse),
            clients: List::parse(pattern::tokens(clients), &ClientPattern::parse),
            options: tail.map_or(Ok(Vec::new()), options::parse),
        };
        out.note(&rule);
        out.rules.push(rule);
    }
    out
}

impl Rules {
    /// Accumulates what the rule needs and reports what libwrap would report when it is used.
    fn note(&mut self, rule: &Rule) {
        for d in rule.daemons.iter() {
            if let Some(h) = &d.host {
                self.needs.server_name |= h.needs_name();
                self.host_warnings(rule.line, h);
            }
        }
        for c in rule.clients.iter() {
            self.needs.client_name |= c.host.needs_name();
            self.needs.client_user |= c.user.as_ref().is_some_and(|u| *u != StrPattern::All);
            self.host_warnings(rule.line, &c.host);
        }
        match &rule.options {
            Err(e) => {
                let d = self.diagnostic(rule.line, true, e.to_string());
                self.diagnostics.push(d);
            }
            // What the options will need when the rule matches: libwrap looks the client's
            // user up for `rfc931` and for `%u`/`%c` in a command, and its name for `%h`, `%n`
            // and `%c`. superd asks before checking (it cannot pause in the middle of a rule).
            Ok(options) => {
                for o in options {
                    let templates: Vec<&str> = match o {
                        RuleOption::Rfc931(_) => {
                            self.needs.client_user = true;
                            continue;
                        }
                        RuleOption::Spawn(t) | RuleOption::Twist(t) | RuleOption::Aclexec(t) => {
                            vec![t]
                        }
                        RuleOption::Setenv { name, value } => vec![name, value],
                        // Not `banners`: its file is read when it is sent, and `%u`/`%h` there
                        // give what is already known (README).
                        _ => continue,
                    };
                    for t in templates {
                        let uses = |c: char| t.contains(&format!("%{c}"));
                        self.needs.client_user |= uses('u') || uses('c');
                        self.needs.client_name |= uses('h') || uses('n') || uses('c');
                    }
                }
            }
        }
    }

    fn host_warnings(&mut self, line: u32, host: &HostPattern) {
        let message = match host {
            HostPattern::Mask(m) if m.is_bad() => format!("bad net/mask expression: {}", m.text),
            _ => return,
        };
        let d = self.diagnostic(line, false, message);
        self.diagnostics.push(d);
    }
}

impl DaemonPattern {
    fn parse(tok: &str) -> DaemonPattern {
        match split_user_host(tok) {
            Some((daemon, host)) => DaemonPattern {
                daemon: StrPattern::parse(daemon),
                host: Some(HostPattern::parse(host)),
            },
            None => DaemonPattern {
                daemon: StrPattern::parse(tok),
                host: None,
            },
        }
    }
}

impl ClientPattern {
    fn parse(tok: &str) -> ClientPattern {
        match split_user_host(tok) {
            Some((user, host)) => ClientPattern {
                user: Some(StrPattern::parse(user)),
                host: HostPattern::parse(host),
            },
            None => ClientPattern {
                user: None,
                host: HostPattern::parse(tok),
            },
        }
    }
}

/// `x@y` split at the first `@` after the first character (so `@netgroup` stays whole).
fn split_user_host(tok: &str) -> Option<(&str, &str)> {
    let first = tok.chars().next()?.len_utf8();
    let (left, host) = pattern::split_at(&tok[first..], '@')?;
    Some((&tok[..first + left.len()], host))
}

/// Joins continued lines; yields (libwrap line number, logical line with its newline if any).
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut line = 0u32;
    let mut cur = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (piece, next) = match rest.find('\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, ""),
        };
        rest = next;
        if !piece.ends_with('\n') {
            cur.push_str(piece);
            break;
        }
        line += 1;
        if let Some(joined) = piece.strip_suffix("\\\n") {
            cur.push_str(joined);
            continue;
        }
        cur.push_str(piece);
        out.push((line, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        out.push((line, cur));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        parse(Path::new("hosts.allow"), text)
    }

    #[test]
    fn lines_comments_and_continuations() {
        let r = rules(
            "# comment \\\nALL: ALL\n\n  \t\nin.tftpd,\\\necho : 127.0.0.1\n #x: ALL\nsshd: ALL",
        );
        assert_eq!(r.rules.len(), 2);
        assert_eq!(r.rules[0].line, 6);
        assert_eq!(r.rules[0].daemons.items.len(), 2);
        assert_eq!(r.rules[1].line, 7); // " #x" is a daemon pattern, not a comment
        assert_eq!(r.diagnostics.len(), 1); // the last line has no newline
        assert_eq!(
            r.diagnostics[0].to_string(),
            "hosts.allow:7: error: missing newline or line too long"
        );
    }

    #[test]
    fn missing_colon_is_skipped_with_a_warning() {
        let r = rules("ALL ALL\nALL@[::1]: [::1]: allow\n");
        assert_eq!(r.rules.len(), 1);
        assert_eq!(r.rules[0].line, 2);
        assert_eq!(r.rules[0].options, Ok(vec![RuleOption::Allow]));
        assert_eq!(r.diagnostics[0].message, "missing \":\" separator");
        assert!(r.rules[0].daemons.items[0].host.is_some());
    }

    #[test]
    fn bad_options_are_kept_as_errors() {
        let r = rules("in.tftpd: ALL: (/usr/sbin/safe_finger -l @%h) &\nALL: ALL:\n");
        assert!(r.rules[0].options.is_err());
        assert_eq!(r.rules[1].options, Err(OptionError::MissingName));
        assert_eq!(r.diagnostics.len(), 2);
        assert!(r.diagnostics[0].error);
    }

    #[test]
    fn user_and_daemon_host_split() {
        let r = rules("sshd@127.0.0.1: KNOWN@ALL, @staff, ALL@ALL\n");
        let rule = &r.rules[0];
        assert_eq!(rule.clients.items[0].user, Some(StrPattern::Known));
        assert_eq!(
            rule.clients.items[1].host,
            HostPattern::Netgroup("staff".into())
        );
        assert!(r.needs_user());
        assert!(r.needs_name()); // the netgroup
        assert!(!r.needs_server_name());
        let r = rules("ALL: ALL@127.0.0.1 10.0.0.0/8 [::1] 127.0.0.\n");
        assert!(!r.needs_user() && !r.needs_name());
        let r = rules("ALL@LOCAL: ALL EXCEPT .example.org\n");
        assert!(r.needs_server_name() && r.needs_name());
    }
}
