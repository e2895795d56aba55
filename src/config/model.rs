//! The configuration model: what the user wrote, typed, with spans.
//!
//! `config::load` turns xinetd.conf text into a [`Config`]: one [`ServiceDecl`] per enabled
//! service, already merged with the `defaults` block, plus every diagnostic. Nothing here touches
//! the system (no users, ports or files are resolved); that is `table::build`'s job. Attribute
//! names are xinetd's, verbatim, so xinetd.conf(5) maps one to one onto these fields.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a configuration file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in the configuration, printed as `file:line:col: error: message`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `None` only for problems that have no place in a file (e.g. the main file is missing).
    pub span: Option<Span>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }
    pub fn warning(span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match &self.span {
            Some(span) => write!(f, "{span}: {sev}: {}", self.message),
            None => write!(f, "superd: {sev}: {}", self.message),
        }
    }
}

/// Everything `config::load` read.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Enabled, syntactically valid services in file order, merged with `defaults`.
    pub services: Vec<ServiceDecl>,
    /// Services that were written but could not be parsed; a reload keeps their old definition.
    pub rejected: Vec<Rejected>,
    /// The `defaults` block as written (services above already include it).
    pub defaults: ServiceDecl,
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, in order (main file, includes).
    pub files: Vec<PathBuf>,
}

/// A service entry that was dropped because of an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub name: String,
    /// The id it would have had (its `id` attribute if that parsed, else its name).
    pub id: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketType {
    Stream,
    Dgram,
    Raw,
    Seqpacket,
}

impl SocketType {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Stream => "stream",
            SocketType::Dgram => "dgram",
            SocketType::Raw => "raw",
            SocketType::Seqpacket => "seqpacket",
        }
    }
}

/// `type = ...` (values OR'ed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TypeFlags {
    pub rpc: bool,
    pub internal: bool,
    pub unlisted: bool,
    pub tcpmux: bool,
    pub tcpmuxplus: bool,
}

/// `flags = ...`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    pub reuse: bool,
    pub intercept: bool,
    pub noretry: bool,
    pub idonly: bool,
    pub nameinargs: bool,
    pub nodelay: bool,
    pub keepalive: bool,
    pub nolibwrap: bool,
    pub sensor: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub labeled: bool,
}

/// `instances`, `per_source`: a number or UNLIMITED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    Max(u32),
}

/// `rlimit_*` values: a number (suffixes K and M already applied) or UNLIMITED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlimitValue {
    Unlimited,
    Value(u64),
}

/// `on_limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLimit {
    Close,
    Defer,
}

/// `deny_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyTime {
    Minutes(u32),
    Forever,
    Never,
}

/// syslog facility names accepted by `log_type = SYSLOG` and `-syslog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Facility {
    Daemon,
    Auth,
    Authpriv,
    User,
    Mail,
    Lpr,
    News,
    Uucp,
    Ftp,
    Local(u8),
}

impl Facility {
    /// The facility code (already shifted, as in `<PRI>` = facility | level).
    pub fn code(self) -> u8 {
        match self {
            Facility::User => 1 << 3,
            Facility::Mail => 2 << 3,
            Facility::Daemon => 3 << 3,
            Facility::Auth => 4 << 3,
            Facility::Lpr => 6 << 3,
            Facility::News => 7 << 3,
            Facility::Uucp => 8 << 3,
            Facility::Authpriv => 10 << 3,
            Facility::Ftp => 11 << 3,
            Facility::Local(n) => (16 + n.min(7)) << 3,
        }
    }

    pub fn from_name(name: &str) -> Option<Facility> {
        Some(match name.to_ascii_lowercase().as_str() {
            "daemon" => Facility::Daemon,
            "auth" => Facility::Auth,
            "authpriv" => Facility::Authpriv,
            "user" => Facility::User,
            "mail" => Facility::Mail,
            "lpr" => Facility::Lpr,
            "news" => Facility::News,
            "uucp" => Facility::Uucp,
            "ftp" => Facility::Ftp,
            s => {
                let n: u8 = s.strip_prefix("local")?.parse().ok()?;
                if n > 7 || s.len() != 6 {
                    return None;
                }
                Facility::Local(n)
            }
        })
    }
}

/// syslog levels, most severe first (code = position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Level {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name.to_ascii_lowercase().as_str() {
            "emerg" => Level::Emerg,
            "alert" => Level::Alert,
            "crit" => Level::Crit,
            "err" => Level::Err,
            "warning" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    /// The word xinetd puts in its own log lines (`NOTICE`, `ERROR`, ...).
    pub fn xinetd_word(self) -> &'static str {
        match self {
            Level::Emerg => "EMERG",
            Level::Alert => "ALERT",
            Level::Crit => "CRIT",
            Level::Err => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

/// `log_type`.
#[derive(Clone, Debug, PartialEq)]
pub enum LogType {
    Syslog {
        facility: Facility,
        level: Level,
    },
    /// Limits in bytes; `hard` is already defaulted from `soft` as xinetd does when only `soft`
    /// is given (soft + clamp(1% of soft, 5 KiB, 20 KiB)).
    File {
        path: PathBuf,
        soft: Option<u64>,
        hard: Option<u64>,
    },
}

/// `log_on_success` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SuccessFlags {
    pub pid: bool,
    pub host: bool,
    pub userid: bool,
    pub exit: bool,
    pub duration: bool,
    pub traffic: bool,
}

/// `log_on_failure` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FailureFlags {
    pub host: bool,
    pub userid: bool,
    pub attempt: bool,
}

/// One `service NAME { ... }` entry (or the `defaults` block), merged with `defaults`.
///
/// `None` means "not written here nor inherited"; list attributes hold the merged list. Every
/// value that `table::build` may reject keeps its span so the error can point at it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDecl {
    /// The name after `service` (used for /etc/services and internal-service lookups).
    pub name: String,
    /// Where `service NAME` was written.
    pub span: Option<Span>,
    /// `id`, defaulting to the name.
    pub id: String,
    pub r#type: Option<Spanned<TypeFlags>>,
    pub flags: Option<Spanned<Flags>>,
    pub socket_type: Option<Spanned<SocketType>>,
    /// Protocol name as written (`tcp`, `udp`, ...), lower-cased.
    pub protocol: Option<Spanned<String>>,
    pub wait: Option<Spanned<bool>>,
    pub user: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub groups: Option<bool>,
    /// From inetd.conf: the supplementary groups are the user's with the named group as base
    /// (`initgroups(user, group)`, as openbsd-inetd), not with the passwd group (xinetd).
    pub groups_from_group: bool,
    pub server: Option<Spanned<String>>,
    /// `server_args` tokens (at least one when set).
    pub server_args: Option<Spanned<Vec<String>>>,
    pub instances: Option<Limit>,
    pub per_source: Option<Limit>,
    /// `cps = rate wait`.
    pub cps: Option<(u32, u32)>,
    pub max_load: Option<f64>,
    pub nice: Option<Spanned<i32>>,
    pub umask: Option<u32>,
    pub rlimit_as: Option<RlimitValue>,
    pub rlimit_cpu: Option<RlimitValue>,
    pub rlimit_data: Option<RlimitValue>,
    pub rlimit_files: Option<RlimitValue>,
    pub rlimit_rss: Option<RlimitValue>,
    pub rlimit_stack: Option<RlimitValue>,
    pub port: Option<Spanned<u16>>,
    /// `bind` / `interface`: an address or host name as written.
    pub bind: Option<Spanned<String>>,
    pub v6only: Option<bool>,
    /// `redirect = host port` (port may be a service name).
    pub redirect: Option<Spanned<(String, String)>>,
    pub banner: Option<Spanned<PathBuf>>,
    pub banner_success: Option<Spanned<PathBuf>>,
    pub banner_fail: Option<Spanned<PathBuf>>,
    /// `only_from` entries as written; `Some(vec![])` is an explicitly empty list (nobody).
    pub only_from: Option<Vec<Spanned<String>>>,
    pub no_access: Option<Vec<Spanned<String>>>,
    /// `access_times` windows, minutes since midnight, bounds inclusive.
    pub access_times: Option<Vec<(u16, u16)>>,
    pub log_type: Option<Spanned<LogType>>,
    pub log_on_success: SuccessFlags,
    pub log_on_failure: FailureFlags,
    /// `env` entries, each `NAME=value`.
    pub env: Vec<String>,
    /// `passenv` variable names; `None` = pass the whole environment.
    pub passenv: Option<Vec<String>>,
    /// `rpc_version` as an inclusive range.
    pub rpc_version: Option<(u32, u32)>,
    pub rpc_number: Option<u32>,
    pub deny_time: Option<DenyTime>,
    pub libwrap: Option<String>,
    /// superd's own `on_limit = close | defer`: what a client meets at the `instances` limit.
    /// `close` (xinetd's behaviour): accepted and closed at once. `defer`: superd stops
    /// accepting until a server exits, so clients wait in the listen queue.
    pub on_limit: Option<OnLimit>,
}

impl ServiceDecl {
    pub fn type_flags(&self) -> TypeFlags {
        self.r#type.as_ref().map(|t| t.value).unwrap_or_default()
    }
    pub fn flags(&self) -> Flags {
        self.flags.as_ref().map(|t| t.value).unwrap_or_default()
    }
}
