//! The command line: `argv` → [`Command`] (syntax only; nothing here touches the system).
//!
//! superd accepts every xinetd(8) option with xinetd's single-dash spelling (`-dontfork`,
//! `-syslog daemon`) and a GNU spelling (`--foreground`, `--syslog=daemon`) for each. The options
//! are data ([`SECTIONS`]): one table drives both [`parse`] and [`usage`], so the help text cannot
//! drift from what is accepted. A spelling is matched exactly as the table writes it: `-dontfork`
//! and `--foreground` work, `--dontfork` does not (it gets a "did you mean '-dontfork'?").
//!
//! Written by hand, std only: clap cannot parse single-dash long options such as `-dontfork`
//! (clap-rs/clap#1210), and lexopt lists them as unsupported. The parser is one loop over the table.
//!
//! Deliberate differences from xinetd, each because a silent mistake would be worse:
//! * an unknown option is an error with a "did you mean" suggestion (xinetd ignores it, so a typo
//!   such as `-dontfrok` would make it fork);
//! * a bad `-syslog` facility is an error listing the valid ones (xinetd falls back to `daemon`);
//! * numbers must be whole decimal numbers in range (xinetd uses `atoi`).
//!
//! Options whose feature arrives later are accepted and leave a line in [`Opts::notices`], which
//! the daemon logs at start; they are never ignored silently.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::config::inetd::Dialect;
use crate::config::model::Facility;
use crate::suggest::edit_distance;
use Action as A;
use Arity::{Flag, Value};

/// The version of this build, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default configuration file (`-f`), as xinetd's.
pub const DEFAULT_CONFIG: &str = "/etc/xinetd.conf";
/// Default state dump file, written on SIGUSR1 (`--dump-file`).
pub const DEFAULT_DUMP_FILE: &str = "/run/superd.dump";
/// What `-inetd_compat` reads, after the xinetd configuration.
pub const INETD_CONF: &str = "/etc/inetd.conf";
/// Default services database (`--services-file`).
pub const DEFAULT_SERVICES_FILE: &str = "/etc/services";
/// Default syslog socket (`--syslog-socket`).
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";
/// tcp_wrappers' files, as libwrap reads them.
pub const DEFAULT_HOSTS_ALLOW: &str = "/etc/hosts.allow";
pub const DEFAULT_HOSTS_DENY: &str = "/etc/hosts.deny";

/// The facility names `-syslog` accepts, in the order error messages list them.
const FACILITY_NAMES: &str =
    "daemon, auth, authpriv, user, mail, lpr, news, uucp, ftp, local0 to local7";

/// What the command line asks superd to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon.
    Run(Opts),
    /// `--check`: load and validate the configuration, report, and exit.
    Check(Opts),
    /// `--help` / `-h`: print [`usage`] and exit successfully.
    Help,
    /// `-version`, `--version` / `-V`: print [`version_text`] and exit successfully.
    Version,
    /// `superd convert [--from inetd] [--inetd-dialect D] FILE`: print FILE as xinetd.conf.
    Convert {
        from: ConvertFrom,
        file: PathBuf,
        dialect: Dialect,
    },
}

/// The formats `superd convert --from` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvertFrom {
    /// inetd.conf, in the dialect given by `--inetd-dialect`.
    #[default]
    Inetd,
}

/// Where superd's own messages (not the services' log records) go.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum OwnLog {
    /// No option given: syslog with facility `daemon`, as xinetd.
    #[default]
    Default,
    /// `-syslog FACILITY`.
    Syslog(Facility),
    /// `-filelog FILE`: append to FILE, creating it if needed.
    File(PathBuf),
}

/// The options of a [`Command::Run`] or [`Command::Check`], as written (defaults filled in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opts {
    /// `-f FILE`, `--file`, `--config`: the configuration file. Default `/etc/xinetd.conf`.
    pub config: PathBuf,
    /// `-dontfork`, `--foreground`, or implied by `-d`: do not detach from the terminal.
    pub foreground: bool,
    /// `-d`, `--debug`: debug output. Also sets `foreground` (but not `stayalive`, as xinetd).
    pub debug: bool,
    /// `-stayalive`, `--stayalive`, or implied by `-dontfork`: keep running with no services.
    pub stayalive: bool,
    /// `-pidfile FILE`, `--pidfile`: write the daemon's process id to FILE.
    pub pidfile: Option<PathBuf>,
    /// `-syslog FACILITY` or `-filelog FILE` (mutually exclusive): where superd's own messages go.
    pub own_log: OwnLog,
    /// `-limit N`, `--limit`: global cap on concurrently running servers (N ≥ 1). None: no cap.
    pub limit: Option<u32>,
    /// `-logprocs N`, `--logprocs`: cap on concurrent ident (USERID) lookups on failure.
    pub logprocs: Option<u32>,
    /// `-cc N`, `--cc`: xinetd's consistency-check interval in seconds; accepted, no effect.
    pub cc: Option<u32>,
    /// `-inetd_compat`, `--inetd-compat`: also read /etc/inetd.conf after the xinetd files
    /// (it is added to `inetd_conf`).
    pub inetd_compat: bool,
    /// `--inetd-conf FILE` (repeatable) and `-inetd_compat`: inetd.conf files to read after the
    /// xinetd configuration, in command-line order, each once.
    pub inetd_conf: Vec<PathBuf>,
    /// `--inetd-dialect NAME`: how `inetd_conf` files are read. Default: openbsd.
    pub inetd_dialect: Dialect,
    /// `--dump-file FILE`: where SIGUSR1 writes the state dump. Default `/run/superd.dump`.
    pub dump_file: PathBuf,
    /// `--services-file FILE`: where service names are looked up. Default `/etc/services`.
    pub services_file: PathBuf,
    /// `--syslog-socket PATH`: the syslog daemon's socket. Default `/dev/log`.
    pub syslog_socket: PathBuf,
    /// `--hosts-allow FILE`: tcp_wrappers' allow file. Default `/etc/hosts.allow`.
    pub hosts_allow: PathBuf,
    /// `--hosts-deny FILE`: tcp_wrappers' deny file. Default `/etc/hosts.deny`.
    pub hosts_deny: PathBuf,
    /// Messages the daemon must log at start, in command-line order (e.g. for options accepted
    /// whose feature arrives later). Each appears once.
    pub notices: Vec<String>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            config: PathBuf::from(DEFAULT_CONFIG),
            foreground: false,
            debug: false,
            stayalive: false,
            pidfile: None,
            own_log: OwnLog::Default,
            limit: None,
            logprocs: None,
            cc: None,
            inetd_compat: false,
            inetd_conf: Vec::new(),
            inetd_dialect: Dialect::OpenBsd,
            dump_file: PathBuf::from(DEFAULT_DUMP_FILE),
            services_file: PathBuf::from(DEFAULT_SERVICES_FILE),
            syslog_socket: PathBuf::from(DEFAULT_SYSLOG_SOCKET),
            hosts_allow: PathBuf::from(DEFAULT_HOSTS_ALLOW),
            hosts_deny: PathBuf::from(DEFAULT_HOSTS_DENY),
            notices: Vec::new(),
        }
    }
}

/// A command line superd refuses. `option` fields hold the spelling the user typed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// An option that is not in the table.
    #[error("unknown option '{option}'{}", did_you_mean(suggestion))]
    UnknownOption {
        option: String,
        suggestion: Option<String>,
    },
    /// A word that is not an option: superd takes no operands.
    #[error("unexpected argument '{0}': superd takes no operands (the configuration file is given with -f FILE)")]
    UnexpectedArgument(String),
    /// An option that takes a value came last.
    #[error("option '{option}' requires a value ({metavar})")]
    MissingValue {
        option: String,
        metavar: &'static str,
    },
    /// An empty value where a path is needed (`-f ''`, `--pidfile=`).
    #[error("option '{option}' requires a non-empty {metavar}")]
    EmptyValue {
        option: String,
        metavar: &'static str,
    },
    /// `--debug=yes` and the like.
    #[error("option '{option}' does not take a value")]
    UnexpectedValue { option: String },
    /// `-syslog` and `-filelog` together.
    #[error("options '{first}' and '{second}' cannot be used together: superd's own messages go either to syslog or to a file")]
    Conflict { first: String, second: String },
    /// A facility name `Facility::from_name` does not know.
    #[error("invalid syslog facility '{value}' for '{option}': expected one of {FACILITY_NAMES}")]
    BadFacility { option: String, value: String },
    /// `--inetd-dialect` with a name [`Dialect::from_name`] does not know.
    #[error(
        "invalid inetd dialect '{value}' for '{option}': expected one of {}",
        Dialect::NAMES
    )]
    BadDialect { option: String, value: String },
    /// `convert --from` with a format superd cannot convert.
    #[error("invalid value '{value}' for '{option}': superd converts only from inetd")]
    BadConvertFrom { option: String, value: String },
    /// `convert` without exactly one FILE.
    #[error("{0}: usage is superd convert [--from inetd] [--inetd-dialect DIALECT] FILE")]
    ConvertFile(String),
    /// A number that does not parse or is out of range.
    #[error(
        "invalid value '{value}' for '{option}': expected a whole number from {min} to {}",
        u32::MAX
    )]
    BadNumber {
        option: String,
        value: String,
        min: u32,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// Whether an option stands alone or takes a value (named by its metavariable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arity {
    Flag,
    Value(&'static str),
}

/// What an option does; [`parse`] has one match arm per action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Config,
    Debug,
    Foreground,
    Stayalive,
    Pidfile,
    Syslog,
    Filelog,
    Limit,
    Logprocs,
    Cc,
    InetdCompat,
    InetdConf,
    InetdDialect,
    InetdIpv6,
    Check,
    DumpFile,
    ServicesFile,
    SyslogSocket,
    HostsAllow,
    HostsDeny,
    Reuse,
    Shutdownprocs,
    Help,
    Version,
}

/// One option: every accepted spelling (dashes included, xinetd's first), arity, help text.
struct Spec {
    names: &'static [&'static str],
    arity: Arity,
    action: Action,
    /// Shown after the help text as "Default: ...".
    default: Option<&'static str>,
    help: &'static str,
}

/// A titled group of options in the help text.
struct Section {
    title: &'static str,
    specs: &'static [Spec],
}

/// The option table: the single source of [`parse`] and [`usage`].
const SECTIONS: &[Section] = &[
    Section {
        title: "Configuration and mode",
        specs: &[
            Spec {
                names: &["-f", "--file", "--config"],
                arity: Value("FILE"),
                action: A::Config,
                default: Some(DEFAULT_CONFIG),
                help: "Read the configuration from FILE. Prefer an absolute path.",
            },
            Spec {
                names: &["--check"],
                arity: Flag,
                action: A::Check,
                default: None,
                help: "Load and check the configuration, report any problem, and exit without \
                 starting services. The exit status tells whether the configuration is valid.",
            },
            Spec {
                names: &["-d", "--debug"],
                arity: Flag,
                action: A::Debug,
                default: None,
                help: "Debug mode: stay in the foreground (as -dontfork, but without implying \
                 -stayalive) and print debugging output.",
            },
            Spec {
                names: &["-dontfork", "--foreground"],
                arity: Flag,
                action: A::Foreground,
                default: None,
                help: "Stay in the foreground instead of detaching, for init systems and \
                 supervisors. Implies -stayalive.",
            },
            Spec {
                names: &["-stayalive", "--stayalive"],
                arity: Flag,
                action: A::Stayalive,
                default: None,
                help: "Keep running even when the configuration enables no service, at start or \
                 after a reload.",
            },
            Spec {
                names: &["-pidfile", "--pidfile"],
                arity: Value("FILE"),
                action: A::Pidfile,
                default: None,
                help: "Write the daemon's process id to FILE; it is removed on exit.",
            },
            Spec {
                names: &["-inetd_compat", "--inetd-compat"],
                arity: Flag,
                action: A::InetdCompat,
                default: None,
                help: "Also read /etc/inetd.conf, after the xinetd configuration (as \
                 --inetd-conf /etc/inetd.conf; a missing file is only a warning).",
            },
            Spec {
                names: &["--inetd-conf"],
                arity: Value("FILE"),
                action: A::InetdConf,
                default: None,
                help: "Also read FILE, in inetd.conf format, after the xinetd configuration. May \
                 be repeated. 'superd convert FILE' shows what it serves, as xinetd.conf.",
            },
            Spec {
                names: &["--inetd-dialect"],
                arity: Value("DIALECT"),
                action: A::InetdDialect,
                default: Some("openbsd"),
                help: "How inetd.conf files are read: openbsd (Debian's openbsd-inetd: plain \
                 tcp is IPv4 and IPv6, nowait.N), freebsd (tcp is IPv4, nowait/N/N/N) or netbsd \
                 (tcp is IPv4, nowait:N).",
            },
            Spec {
                names: &["-inetd_ipv6", "--inetd-ipv6"],
                arity: Flag,
                action: A::InetdIpv6,
                default: None,
                help:
                    "Debian's xinetd: bind inetd.conf services to IPv6 too. Debian's init script \
                 passes it by default. Accepted, with a notice, until inetd.conf is read (issue 4).",
            },
        ],
    },
    Section {
        title: "superd's own messages",
        specs: &[
            Spec {
                names: &["-syslog", "--syslog"],
                arity: Value("FACILITY"),
                action: A::Syslog,
                default: None,
                help:
                    "Send superd's own messages to syslog with FACILITY: daemon, auth, authpriv, \
                 user, mail, lpr, news, uucp, ftp or local0 to local7. Without -syslog or \
                 -filelog they go to syslog with facility daemon. Service log records are set \
                 by log_type in the configuration, not here.",
            },
            Spec {
                names: &["-filelog", "--filelog"],
                arity: Value("FILE"),
                action: A::Filelog,
                default: None,
                help: "Append superd's own messages to FILE, creating it if needed. Cannot be \
                 combined with -syslog.",
            },
            Spec {
                names: &["--syslog-socket"],
                arity: Value("PATH"),
                action: A::SyslogSocket,
                default: Some(DEFAULT_SYSLOG_SOCKET),
                help: "The Unix socket of the local syslog daemon.",
            },
        ],
    },
    Section {
        title: "Access control",
        specs: &[
            Spec {
                names: &["--hosts-allow"],
                arity: Value("FILE"),
                action: A::HostsAllow,
                default: Some(DEFAULT_HOSTS_ALLOW),
                help: "The tcp_wrappers allow file (hosts_access(5)). Read again whenever it \
                 changes; no reload needed.",
            },
            Spec {
                names: &["--hosts-deny"],
                arity: Value("FILE"),
                action: A::HostsDeny,
                default: Some(DEFAULT_HOSTS_DENY),
                help: "The tcp_wrappers deny file, consulted after the allow file.",
            },
        ],
    },
    Section {
        title: "Limits",
        specs: &[
            Spec {
                names: &["-limit", "--limit"],
                arity: Value("N"),
                action: A::Limit,
                default: None,
                help: "Run at most N servers at a time, over all services (N at least 1); a \
                 connection beyond the limit is refused and logged as a FAIL. Default: no \
                 limit.",
            },
            Spec {
                names: &["-logprocs", "--logprocs"],
                arity: Value("N"),
                action: A::Logprocs,
                default: None,
                help: "Run at most N ident (USERID) lookups on failure at a time. Not implemented \
                 yet (issue 3): accepted, and a notice is logged.",
            },
        ],
    },
    Section {
        title: "Paths (mainly for tests and unusual systems)",
        specs: &[
            Spec {
                names: &["--dump-file"],
                arity: Value("FILE"),
                action: A::DumpFile,
                default: Some(DEFAULT_DUMP_FILE),
                help: "Where SIGUSR1 writes the dump of superd's state.",
            },
            Spec {
                names: &["--services-file"],
                arity: Value("FILE"),
                action: A::ServicesFile,
                default: Some(DEFAULT_SERVICES_FILE),
                help: "Where service names are looked up, in services(5) format.",
            },
        ],
    },
    Section {
        title: "Accepted for compatibility with xinetd",
        specs: &[
            Spec {
                names: &["-cc", "--cc"],
                arity: Value("N"),
                action: A::Cc,
                default: None,
                help:
                    "xinetd's periodic consistency check every N seconds (N at least 1). superd's \
                 state is consistent by construction, so this has no effect; a notice is \
                 logged.",
            },
            Spec {
                names: &["-reuse"],
                arity: Flag,
                action: A::Reuse,
                default: None,
                help: "No effect, as in xinetd.",
            },
            Spec {
                names: &["-shutdownprocs"],
                arity: Value("N"),
                action: A::Shutdownprocs,
                default: None,
                help: "Deprecated in xinetd; no effect. A notice is logged.",
            },
        ],
    },
    Section {
        title: "Information",
        specs: &[
            Spec {
                names: &["-h", "--help"],
                arity: Flag,
                action: A::Help,
                default: None,
                help: "Print this help and exit.",
            },
            Spec {
                names: &["-version", "--version", "-V"],
                arity: Flag,
                action: A::Version,
                default: None,
                help: "Print the version and exit.",
            },
        ],
    },
];

fn specs() -> impl Iterator<Item = &'static Spec> {
    SECTIONS.iter().flat_map(|section| section.specs.iter())
}

fn lookup(name: &str) -> Option<&'static Spec> {
    specs().find(|spec| spec.names.contains(&name))
}

/// Parses the arguments after the program name.
///
/// Arguments are read in order; `--help` and `--version` take effect where they stand, so an
/// error before them wins and anything after them is not examined. When an option is repeated,
/// the last value counts. A value may start with `-` (`-f -weird.conf` reads `-weird.conf`).
pub fn parse(args: &[OsString]) -> Result<Command, CliError> {
    if args.first().is_some_and(|a| a == "convert") {
        return parse_convert(&args[1..]);
    }
    let mut opts = Opts::default();
    let mut check = false;
    // The spelling that chose syslog or a file for superd's own messages, for the conflict error.
    let mut syslog_option: Option<String> = None;
    let mut filelog_option: Option<String> = None;

    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            // End of options: anything after it would be an operand, and superd takes none.
            match rest.next() {
                Some(operand) => return Err(CliError::UnexpectedArgument(lossy(operand))),
                None => break,
            }
        }
        if bytes.len() < 2 || bytes[0] != b'-' {
            return Err(CliError::UnexpectedArgument(lossy(arg)));
        }
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(at) => (&bytes[..at], Some(OsStr::from_bytes(&bytes[at + 1..]))),
            None => (bytes, None),
        };
        let Some((option, spec)) = std::str::from_utf8(name)
            .ok()
            .and_then(|name| Some((name, lookup(name)?)))
        else {
            let name = String::from_utf8_lossy(name);
            return Err(CliError::UnknownOption {
                option: name.to_string(),
                suggestion: suggest(&name),
            });
        };

        let value = match spec.arity {
            Flag => {
                if inline.is_some() {
                    return Err(CliError::UnexpectedValue {
                        option: option.to_string(),
                    });
                }
                OsStr::new("")
            }
            Value(metavar) => match inline.or_else(|| rest.next().map(OsString::as_os_str)) {
                Some(value) => value,
                None => {
                    return Err(CliError::MissingValue {
                        option: option.to_string(),
                        metavar,
                    })
                }
            },
        };

        match spec.action {
            A::Config => opts.config = path(option, spec, value)?,
            A::Check => check = true,
            A::Debug => {
                opts.debug = true;
                opts.foreground = true;
            }
            A::Foreground => {
                opts.foreground = true;
                opts.stayalive = true;
            }
            A::Stayalive => opts.stayalive = true,
            A::Pidfile => opts.pidfile = Some(path(option, spec, value)?),
            A::InetdCompat => {
                opts.inetd_compat = true;
                let path = PathBuf::from(INETD_CONF);
                if !opts.inetd_conf.contains(&path) {
                    opts.inetd_conf.push(path);
                }
            }
            A::InetdConf => {
                let path = path(option, spec, value)?;
                if !opts.inetd_conf.contains(&path) {
                    opts.inetd_conf.push(path);
                }
            }
            A::InetdDialect => opts.inetd_dialect = dialect(option, value)?,
            // Debian's xinetd binds inetd.conf services to IPv6 with it; superd's inetd.conf
            // services are dual-stack already (openbsd dialect), so it changes nothing.
            A::InetdIpv6 => {}
            A::Syslog => {
                if let Some(first) = &filelog_option {
                    return Err(conflict(first, option));
                }
                let facility =
                    Facility::from_name(&lossy(value)).ok_or_else(|| CliError::BadFacility {
                        option: option.to_string(),
                        value: lossy(value),
                    })?;
                opts.own_log = OwnLog::Syslog(facility);
                syslog_option = Some(option.to_string());
            }
            A::Filelog => {
                if let Some(first) = &syslog_option {
                    return Err(conflict(first, option));
                }
                opts.own_log = OwnLog::File(path(option, spec, value)?);
                filelog_option = Some(option.to_string());
            }
            A::SyslogSocket => opts.syslog_socket = path(option, spec, value)?,
            A::HostsAllow => opts.hosts_allow = path(option, spec, value)?,
            A::HostsDeny => opts.hosts_deny = path(option, spec, value)?,
            A::Limit => opts.limit = Some(number(option, value, 1)?),
            A::Logprocs => opts.logprocs = Some(number(option, value, 0)?),
            A::DumpFile => opts.dump_file = path(option, spec, value)?,
            A::ServicesFile => opts.services_file = path(option, spec, value)?,
            A::Cc => {
                opts.cc = Some(number(option, value, 1)?);
                notice(
                    &mut opts,
                    format!(
                        "option '{option}' has no effect: superd's state is consistent by \
                         construction, so there is no periodic consistency check to run"
                    ),
                );
            }
            A::Reuse => {}
            A::Shutdownprocs => {
                number(option, value, 0)?;
                notice(
                    &mut opts,
                    format!("option '{option}' is deprecated and has no effect"),
                );
            }
            A::Help => return Ok(Command::Help),
            A::Version => return Ok(Command::Version),
        }
    }

    Ok(if check {
        Command::Check(opts)
    } else {
        Command::Run(opts)
    })
}

/// `superd convert [--from inetd] [--inetd-dialect DIALECT] FILE` (options in any order, a
/// value after a space or `=`, `--` before a FILE that starts with a dash).
fn parse_convert(args: &[OsString]) -> Result<Command, CliError> {
    let mut from = ConvertFrom::Inetd;
    let mut dialect_choice = Dialect::OpenBsd;
    let mut file: Option<PathBuf> = None;
    let mut rest = args.iter();
    let mut options_done = false;
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        if !options_done && text == "--" {
            options_done = true;
            continue;
        }
        if options_done || !text.starts_with('-') || text == "-" {
            if file.is_some() {
                return Err(CliError::ConvertFile(format!(
                    "unexpected second FILE '{text}'"
                )));
            }
            if arg.is_empty() {
                return Err(CliError::ConvertFile("empty FILE".to_string()));
            }
            file = Some(PathBuf::from(arg));
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(OsString::from(v))),
            None => (text.to_string(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(Command::Help);
        }
        let metavar = match name.as_str() {
            "--from" => "FORMAT",
            "--inetd-dialect" => "DIALECT",
            _ => {
                return Err(CliError::UnknownOption {
                    option: name,
                    suggestion: None,
                })
            }
        };
        let value = match inline.or_else(|| rest.next().cloned()) {
            Some(v) => v,
            None => {
                return Err(CliError::MissingValue {
                    option: name,
                    metavar,
                })
            }
        };
        if name == "--from" {
            if value != "inetd" {
                return Err(CliError::BadConvertFrom {
                    option: name,
                    value: lossy(&value),
                });
            }
            from = ConvertFrom::Inetd;
        } else {
            dialect_choice = dialect(&name, &value)?;
        }
    }
    match file {
        Some(file) => Ok(Command::Convert {
            from,
            file,
            dialect: dialect_choice,
        }),
        None => Err(CliError::ConvertFile("missing FILE".to_string())),
    }
}

fn dialect(option: &str, value: &OsStr) -> Result<Dialect, CliError> {
    Dialect::from_name(&lossy(value)).ok_or_else(|| CliError::BadDialect {
        option: option.to_string(),
        value: lossy(value),
    })
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

fn notice(opts: &mut Opts, text: String) {
    if !opts.notices.contains(&text) {
        opts.notices.push(text);
    }
}

fn conflict(first: &str, second: &str) -> CliError {
    CliError::Conflict {
        first: first.to_string(),
        second: second.to_string(),
    }
}

fn path(option: &str, spec: &Spec, value: &OsStr) -> Result<PathBuf, CliError> {
    if value.is_empty() {
        let metavar = match spec.arity {
            Value(metavar) => metavar,
            Flag => "value",
        };
        return Err(CliError::EmptyValue {
            option: option.to_string(),
            metavar,
        });
    }
    Ok(PathBuf::from(value))
}

/// A decimal number from `min` to `u32::MAX`; digits only (no sign, no spaces).
fn number(option: &str, value: &OsStr, min: u32) -> Result<u32, CliError> {
    let text = value.to_str().unwrap_or("");
    let parsed = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok().filter(|&n| n >= min)
    } else {
        None
    };
    parsed.ok_or_else(|| CliError::BadNumber {
        option: option.to_string(),
        value: lossy(value),
        min,
    })
}

/// The "did you mean" for an unknown option: the nearest spelling by edit distance if it is
/// close; otherwise, for `-fFILE` or `-dV`, the split form.
fn suggest(unknown: &str) -> Option<String> {
    let long = unknown.starts_with("--");
    let nearest = specs()
        .flat_map(|spec| spec.names.iter().copied())
        .map(|name| (edit_distance(unknown, name), name))
        .filter(|&(distance, name)| distance <= 2 && 3 * distance <= name.chars().count())
        // On a tie, prefer the spelling with the same number of leading dashes.
        .min_by_key(|&(distance, name)| (distance, name.starts_with("--") != long));
    if let Some((_, name)) = nearest {
        return Some(name.to_string());
    }

    // Clustered single-letter options, which superd (like xinetd) does not accept.
    let body = unknown.strip_prefix('-').filter(|b| !b.starts_with('-'))?;
    let mut chars = body.chars();
    let first = format!("-{}", chars.next()?);
    let rest = chars.as_str();
    match lookup(&first)?.arity {
        Value(_) => Some(format!("{first} {rest}")),
        Flag => {
            let split: Vec<String> = body.chars().map(|c| format!("-{c}")).collect();
            split
                .iter()
                .all(|short| lookup(short).is_some_and(|spec| spec.arity == Flag))
                .then(|| split.join(" "))
        }
    }
}

/// `superd 0.1.0 (xinetd-compatible)`.
pub fn version_text() -> String {
    format!("superd {VERSION} (xinetd-compatible)")
}

const WIDTH: usize = 80;
const HELP_INDENT: &str = "        ";

/// The `--help` text, generated from the option table.
pub fn usage() -> String {
    let mut out = format!(
        "{}\n\
         The extended Internet services daemon: a drop-in replacement for xinetd.\n\
         \n\
         Usage: superd [OPTION]...\n\
         \x20      superd convert [--from inetd] [--inetd-dialect=DIALECT] FILE\n\
         \n",
        version_text()
    );
    wrap_into(
        &mut out,
        "  ",
        "superd listens on the ports of the services its configuration enables and starts \
         the matching server for each request (or answers it itself, for the internal \
         services). It reads xinetd's configuration format and accepts xinetd's options. \
         'superd convert FILE' prints the inetd.conf FILE as xinetd.conf text, with a note \
         wherever the meaning changes.",
    );

    for section in SECTIONS {
        out.push('\n');
        out.push_str(section.title);
        out.push_str(":\n");
        for spec in section.specs {
            let spellings: Vec<String> = spec
                .names
                .iter()
                .map(|name| match spec.arity {
                    Flag => (*name).to_string(),
                    Value(metavar) if name.starts_with("--") => format!("{name}={metavar}"),
                    Value(metavar) => format!("{name} {metavar}"),
                })
                .collect();
            out.push_str("    ");
            out.push_str(&spellings.join(", "));
            out.push('\n');
            let help = match spec.default {
                Some(default) => format!("{} Default: {default}.", spec.help),
                None => spec.help.to_string(),
            };
            wrap_into(&mut out, HELP_INDENT, &help);
        }
    }

    out.push_str("\nSyntax:\n");
    wrap_into(
        &mut out,
        "  ",
        "Each option is written in full, with xinetd's single dash (-dontfork) or with its \
         GNU spelling (--foreground). A value follows as the next argument (-f FILE, --file \
         FILE) or after '=' (-f=FILE, --file=FILE). Single-letter options cannot be \
         combined (-dV is an error). If an option is repeated, the last value counts.",
    );
    out.push_str("\nDifferences from xinetd:\n");
    wrap_into(
        &mut out,
        "  ",
        "An unknown option is an error, not silently ignored, so a typo such as -dontfrok \
         cannot make superd fork. An unknown -syslog facility is an error, not a fallback to \
         daemon. Numbers must be whole decimal numbers. The state dump goes to \
         /run/superd.dump (xinetd: /var/run/xinetd.dump).",
    );
    out.push_str("\nSee also:\n  xinetd.conf(5), xinetd.log(5), xinetd(8), services(5)\n");
    out
}

/// Appends `text`, word-wrapped to [`WIDTH`] columns, each line starting with `indent`.
fn wrap_into(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn run(words: &[&str]) -> Opts {
        match parse(&args(words)) {
            Ok(Command::Run(opts)) => opts,
            other => panic!("{words:?}: expected Run, got {other:?}"),
        }
    }

    fn err(words: &[&str]) -> String {
        match parse(&args(words)) {
            Err(e) => e.to_string(),
            Ok(other) => panic!("{words:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let opts = run(&[]);
        assert_eq!(opts, Opts::default());
        assert_eq!(opts.config, PathBuf::from("/etc/xinetd.conf"));
        assert!(!opts.foreground && !opts.debug && !opts.stayalive && !opts.inetd_compat);
        assert_eq!(opts.pidfile, None);
        assert_eq!(opts.own_log, OwnLog::Default);
        assert_eq!((opts.limit, opts.logprocs, opts.cc), (None, None, None));
        assert_eq!(opts.dump_file, PathBuf::from("/run/superd.dump"));
        assert_eq!(opts.services_file, PathBuf::from("/etc/services"));
        assert_eq!(opts.syslog_socket, PathBuf::from("/dev/log"));
        assert!(opts.notices.is_empty());
    }

    #[test]
    fn config_file_in_every_spelling() {
        for words in [
            &["-f", "/x.conf"][..],
            &["-f=/x.conf"],
            &["--file", "/x.conf"],
            &["--file=/x.conf"],
            &["--config", "/x.conf"],
            &["--config=/x.conf"],
        ] {
            assert_eq!(run(words).config, PathBuf::from("/x.conf"), "{words:?}");
        }
    }

    #[test]
    fn debug_means_foreground_and_debug_but_not_stayalive() {
        for words in [&["-d"][..], &["--debug"]] {
            let opts = run(words);
            assert!(opts.debug && opts.foreground, "{words:?}");
            assert!(!opts.stayalive, "{words:?}");
        }
    }

    #[test]
    fn dontfork_implies_stayalive() {
        for words in [&["-dontfork"][..], &["--foreground"]] {
            let opts = run(words);
            assert!(opts.foreground && opts.stayalive, "{words:?}");
            assert!(!opts.debug, "{words:?}");
        }
    }

    #[test]
    fn stayalive_alone_stays_in_background() {
        for words in [&["-stayalive"][..], &["--stayalive"]] {
            let opts = run(words);
            assert!(opts.stayalive && !opts.foreground, "{words:?}");
        }
    }

    #[test]
    fn pidfile_in_every_spelling() {
        for words in [
            &["-pidfile", "/run/x.pid"][..],
            &["-pidfile=/run/x.pid"],
            &["--pidfile", "/run/x.pid"],
            &["--pidfile=/run/x.pid"],
        ] {
            assert_eq!(
                run(words).pidfile,
                Some(PathBuf::from("/run/x.pid")),
                "{words:?}"
            );
        }
    }

    #[test]
    fn syslog_in_every_spelling() {
        for words in [
            &["-syslog", "local3"][..],
            &["-syslog=local3"],
            &["--syslog", "local3"],
            &["--syslog=LOCAL3"],
        ] {
            assert_eq!(
                run(words).own_log,
                OwnLog::Syslog(Facility::Local(3)),
                "{words:?}"
            );
        }
        assert_eq!(
            run(&["-syslog", "authpriv"]).own_log,
            OwnLog::Syslog(Facility::Authpriv)
        );
    }

    #[test]
    fn filelog_in_every_spelling() {
        for words in [
            &["-filelog", "/var/log/superd"][..],
            &["-filelog=/var/log/superd"],
            &["--filelog", "/var/log/superd"],
            &["--filelog=/var/log/superd"],
        ] {
            assert_eq!(
                run(words).own_log,
                OwnLog::File(PathBuf::from("/var/log/superd")),
                "{words:?}"
            );
        }
    }

    #[test]
    fn syslog_and_filelog_conflict_in_either_order() {
        assert_eq!(
            err(&["-syslog", "daemon", "-filelog", "/l"]),
            "options '-syslog' and '-filelog' cannot be used together: superd's own messages \
             go either to syslog or to a file"
        );
        assert_eq!(
            err(&["--filelog=/l", "--syslog", "daemon"]),
            "options '--filelog' and '--syslog' cannot be used together: superd's own messages \
             go either to syslog or to a file"
        );
    }

    #[test]
    fn repeated_syslog_is_not_a_conflict_and_the_last_counts() {
        assert_eq!(
            run(&["-syslog", "daemon", "--syslog", "auth"]).own_log,
            OwnLog::Syslog(Facility::Auth)
        );
    }

    #[test]
    fn bad_facility_names_the_valid_ones() {
        assert_eq!(
            err(&["-syslog", "local8"]),
            "invalid syslog facility 'local8' for '-syslog': expected one of daemon, auth, \
             authpriv, user, mail, lpr, news, uucp, ftp, local0 to local7"
        );
        assert_eq!(
            err(&["--syslog=kern"]),
            "invalid syslog facility 'kern' for '--syslog': expected one of daemon, auth, \
             authpriv, user, mail, lpr, news, uucp, ftp, local0 to local7"
        );
    }

    #[test]
    fn limit_in_every_spelling_without_notice() {
        for words in [
            &["-limit", "40"][..],
            &["-limit=40"],
            &["--limit", "40"],
            &["--limit=40"],
        ] {
            let opts = run(words);
            assert_eq!(opts.limit, Some(40), "{words:?}");
            assert!(opts.notices.is_empty(), "{words:?}");
        }
    }

    #[test]
    fn limit_must_be_positive() {
        assert_eq!(
            err(&["-limit", "0"]),
            "invalid value '0' for '-limit': expected a whole number from 1 to 4294967295"
        );
        assert_eq!(
            err(&["--limit=-3"]),
            "invalid value '-3' for '--limit': expected a whole number from 1 to 4294967295"
        );
    }

    #[test]
    fn numbers_must_be_plain_decimal_in_range() {
        for bad in ["", "abc", "+5", " 5", "5s", "4294967296", "1e3"] {
            assert_eq!(
                err(&["-logprocs", bad]),
                format!(
                    "invalid value '{bad}' for '-logprocs': expected a whole number from 0 \
                     to 4294967295"
                )
            );
        }
        assert_eq!(run(&["-limit", "4294967295"]).limit, Some(u32::MAX));
    }

    #[test]
    fn logprocs_in_every_spelling() {
        for (words, spelling) in [
            (&["-logprocs", "7"][..], "-logprocs"),
            (&["-logprocs=7"], "-logprocs"),
            (&["--logprocs", "7"], "--logprocs"),
            (&["--logprocs=7"], "--logprocs"),
        ] {
            let opts = run(words);
            assert_eq!(opts.logprocs, Some(7), "{words:?} ({spelling})");
            assert!(opts.notices.is_empty(), "{:?}", opts.notices);
        }
        assert_eq!(run(&["-logprocs", "0"]).logprocs, Some(0));
    }

    #[test]
    fn inetd_compat_in_both_spellings() {
        for word in ["-inetd_compat", "--inetd-compat"] {
            let opts = run(&[word]);
            assert!(opts.inetd_compat);
            assert!(opts.notices.is_empty());
            assert_eq!(opts.inetd_conf, [PathBuf::from("/etc/inetd.conf")]);
        }
    }

    #[test]
    fn inetd_compat_adds_etc_inetd_conf_once() {
        let opts = run(&["-inetd_compat", "--inetd-conf", "/a.conf", "--inetd-compat"]);
        assert_eq!(
            opts.inetd_conf,
            [PathBuf::from("/etc/inetd.conf"), PathBuf::from("/a.conf")]
        );
    }

    #[test]
    fn inetd_conf_is_repeatable_in_order() {
        let opts = run(&[
            "--inetd-conf",
            "/b.conf",
            "--inetd-conf=/a.conf",
            "--inetd-conf=/b.conf",
        ]);
        assert_eq!(
            opts.inetd_conf,
            [PathBuf::from("/b.conf"), PathBuf::from("/a.conf")]
        );
        assert!(opts.notices.is_empty());
        assert_eq!(
            err(&["--inetd-conf="]),
            "option '--inetd-conf' requires a non-empty FILE"
        );
    }

    #[test]
    fn inetd_dialect_names_and_errors() {
        assert_eq!(run(&[]).inetd_dialect, Dialect::OpenBsd);
        assert_eq!(
            run(&["--inetd-dialect", "freebsd"]).inetd_dialect,
            Dialect::FreeBsd
        );
        assert_eq!(
            run(&["--inetd-dialect=NetBSD"]).inetd_dialect,
            Dialect::NetBsd
        );
        assert!(run(&["--inetd-dialect=netbsd"]).notices.is_empty());
        assert_eq!(
            err(&["--inetd-dialect", "debian"]),
            "invalid inetd dialect 'debian' for '--inetd-dialect': expected one of openbsd, \
             freebsd, netbsd"
        );
    }

    #[test]
    fn convert_takes_one_file_and_optional_format_and_dialect() {
        let convert = |words: &[&str]| parse(&args(words));
        assert_eq!(
            convert(&["convert", "/etc/inetd.conf"]),
            Ok(Command::Convert {
                from: ConvertFrom::Inetd,
                file: PathBuf::from("/etc/inetd.conf"),
                dialect: Dialect::OpenBsd,
            })
        );
        assert_eq!(
            convert(&[
                "convert",
                "--inetd-dialect=freebsd",
                "x.conf",
                "--from",
                "inetd"
            ]),
            Ok(Command::Convert {
                from: ConvertFrom::Inetd,
                file: PathBuf::from("x.conf"),
                dialect: Dialect::FreeBsd,
            })
        );
        assert_eq!(
            convert(&["convert", "--", "-odd.conf"]),
            Ok(Command::Convert {
                from: ConvertFrom::Inetd,
                file: PathBuf::from("-odd.conf"),
                dialect: Dialect::OpenBsd,
            })
        );
        assert_eq!(convert(&["convert", "--help"]), Ok(Command::Help));
        let usage = "usage is superd convert [--from inetd] [--inetd-dialect DIALECT] FILE";
        assert_eq!(err(&["convert"]), format!("missing FILE: {usage}"));
        assert_eq!(
            err(&["convert", "a", "b"]),
            format!("unexpected second FILE 'b': {usage}")
        );
        assert_eq!(
            err(&["convert", "--from=xinetd", "a"]),
            "invalid value 'xinetd' for '--from': superd converts only from inetd"
        );
        assert_eq!(err(&["convert", "-d", "a"]), "unknown option '-d'");
        assert_eq!(
            err(&["convert", "a", "--inetd-dialect"]),
            "option '--inetd-dialect' requires a value (DIALECT)"
        );
        // Only as the first word: elsewhere it is an operand, which superd refuses.
        assert!(err(&["-d", "convert"]).starts_with("unexpected argument 'convert'"));
    }

    #[test]
    fn cc_in_every_spelling_with_notice() {
        for (words, spelling) in [
            (&["-cc", "30"][..], "-cc"),
            (&["-cc=30"], "-cc"),
            (&["--cc", "30"], "--cc"),
            (&["--cc=30"], "--cc"),
        ] {
            let opts = run(words);
            assert_eq!(opts.cc, Some(30), "{words:?}");
            assert_eq!(
                opts.notices,
                [format!(
                    "option '{spelling}' has no effect: superd's state is consistent by \
                     construction, so there is no periodic consistency check to run"
                )]
            );
        }
        assert_eq!(
            err(&["-cc", "0"]),
            "invalid value '0' for '-cc': expected a whole number from 1 to 4294967295"
        );
    }

    #[test]
    fn reuse_is_a_silent_no_op() {
        assert_eq!(run(&["-reuse"]), Opts::default());
    }

    #[test]
    fn shutdownprocs_is_accepted_with_a_deprecation_notice() {
        let opts = run(&["-shutdownprocs", "5"]);
        assert_eq!(
            opts.notices,
            ["option '-shutdownprocs' is deprecated and has no effect"]
        );
        assert_eq!(
            err(&["-shutdownprocs", "many"]),
            "invalid value 'many' for '-shutdownprocs': expected a whole number from 0 to \
             4294967295"
        );
    }

    #[test]
    fn notices_appear_once_and_in_order() {
        let opts = run(&[
            "-cc",
            "5",
            "-shutdownprocs",
            "3",
            "-cc",
            "9",
            "-shutdownprocs",
            "3",
        ]);
        assert_eq!(opts.notices.len(), 2);
        assert!(opts.notices[0].starts_with("option '-cc'"));
        assert!(opts.notices[1].starts_with("option '-shutdownprocs'"));
        assert_eq!(opts.cc, Some(9));
    }

    #[test]
    fn superd_paths_in_both_forms() {
        let opts = run(&[
            "--dump-file",
            "/tmp/d",
            "--services-file=/tmp/services",
            "--syslog-socket",
            "/tmp/log.sock",
        ]);
        assert_eq!(opts.dump_file, PathBuf::from("/tmp/d"));
        assert_eq!(opts.services_file, PathBuf::from("/tmp/services"));
        assert_eq!(opts.syslog_socket, PathBuf::from("/tmp/log.sock"));
        let opts = run(&[
            "--dump-file=/tmp/d",
            "--services-file",
            "/tmp/services",
            "--syslog-socket=/tmp/log.sock",
        ]);
        assert_eq!(opts.dump_file, PathBuf::from("/tmp/d"));
        assert_eq!(opts.services_file, PathBuf::from("/tmp/services"));
        assert_eq!(opts.syslog_socket, PathBuf::from("/tmp/log.sock"));
    }

    #[test]
    fn check_returns_check_with_the_options() {
        let Ok(Command::Check(opts)) = parse(&args(&["--check", "-f", "/x.conf"])) else {
            panic!("expected Check");
        };
        assert_eq!(opts.config, PathBuf::from("/x.conf"));
    }

    #[test]
    fn help_and_version_in_every_spelling() {
        for word in ["-h", "--help"] {
            assert_eq!(parse(&args(&[word])), Ok(Command::Help));
        }
        for word in ["-version", "--version", "-V"] {
            assert_eq!(parse(&args(&[word])), Ok(Command::Version));
        }
    }

    #[test]
    fn help_stops_parsing_but_earlier_errors_win() {
        assert_eq!(parse(&args(&["-d", "--help", "-bogus"])), Ok(Command::Help));
        assert_eq!(err(&["-bogus", "--help"]), "unknown option '-bogus'");
    }

    #[test]
    fn unknown_option_suggests_the_nearest_spelling() {
        assert_eq!(
            err(&["-dontfrok"]),
            "unknown option '-dontfrok' (did you mean '-dontfork'?)"
        );
        assert_eq!(
            err(&["--dontfork"]),
            "unknown option '--dontfork' (did you mean '-dontfork'?)"
        );
        assert_eq!(
            err(&["--inetd_compat"]),
            "unknown option '--inetd_compat' (did you mean '--inetd-compat'?)"
        );
        assert_eq!(
            err(&["--pidfil=/x"]),
            "unknown option '--pidfil' (did you mean '--pidfile'?)"
        );
        assert_eq!(err(&["--frobnicate"]), "unknown option '--frobnicate'");
        assert_eq!(err(&["-x"]), "unknown option '-x'");
    }

    #[test]
    fn clustered_short_options_are_refused_with_the_split_form() {
        assert_eq!(
            err(&["-f/etc/x.conf"]),
            "unknown option '-f/etc/x.conf' (did you mean '-f /etc/x.conf'?)"
        );
        assert_eq!(
            err(&["-dV"]),
            "unknown option '-dV' (did you mean '-d -V'?)"
        );
    }

    #[test]
    fn non_option_argument_is_an_error() {
        let message = "unexpected argument '/etc/xinetd.conf': superd takes no operands (the \
                       configuration file is given with -f FILE)";
        assert_eq!(err(&["/etc/xinetd.conf"]), message);
        assert_eq!(err(&["-d", "--", "/etc/xinetd.conf"]), message);
        assert_eq!(
            err(&["-"]),
            "unexpected argument '-': superd takes no operands (the configuration file is \
             given with -f FILE)"
        );
    }

    #[test]
    fn double_dash_alone_ends_options() {
        assert!(run(&["-d", "--"]).debug);
    }

    #[test]
    fn missing_value_names_the_option() {
        assert_eq!(err(&["-f"]), "option '-f' requires a value (FILE)");
        assert_eq!(
            err(&["-d", "--syslog"]),
            "option '--syslog' requires a value (FACILITY)"
        );
        assert_eq!(err(&["-limit"]), "option '-limit' requires a value (N)");
    }

    #[test]
    fn empty_path_is_refused() {
        assert_eq!(
            err(&["--pidfile="]),
            "option '--pidfile' requires a non-empty FILE"
        );
        assert_eq!(err(&["-f", ""]), "option '-f' requires a non-empty FILE");
    }

    #[test]
    fn flag_with_inline_value_is_refused() {
        assert_eq!(
            err(&["--debug=yes"]),
            "option '--debug' does not take a value"
        );
        assert_eq!(
            err(&["-dontfork="]),
            "option '-dontfork' does not take a value"
        );
    }

    #[test]
    fn value_may_start_with_a_dash_and_may_contain_equals() {
        assert_eq!(run(&["-f", "-odd.conf"]).config, PathBuf::from("-odd.conf"));
        assert_eq!(run(&["--file=/a=b"]).config, PathBuf::from("/a=b"));
    }

    #[test]
    fn non_utf8_paths_are_kept_verbatim() {
        let raw = OsStr::from_bytes(b"/tmp/\xff.conf").to_os_string();
        let Ok(Command::Run(opts)) = parse(&[OsString::from("-f"), raw.clone()]) else {
            panic!("expected Run");
        };
        assert_eq!(opts.config, PathBuf::from(raw));
    }

    #[test]
    fn a_full_xinetd_command_line() {
        let opts = run(&[
            "-f",
            "/etc/xinetd.conf",
            "-dontfork",
            "-pidfile",
            "/run/xinetd.pid",
            "-syslog",
            "daemon",
            "-limit",
            "100",
            "-reuse",
        ]);
        assert!(opts.foreground && opts.stayalive && !opts.debug);
        assert_eq!(opts.pidfile, Some(PathBuf::from("/run/xinetd.pid")));
        assert_eq!(opts.own_log, OwnLog::Syslog(Facility::Daemon));
        assert_eq!(opts.limit, Some(100));
        assert!(opts.notices.is_empty());
    }

    #[test]
    fn every_spelling_in_the_table_is_unique_and_dashed() {
        let names: Vec<&str> = specs().flat_map(|s| s.names.iter().copied()).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(name.starts_with('-') && !name.contains('='), "{name}");
            assert!(!names[i + 1..].contains(name), "duplicate {name}");
        }
    }

    #[test]
    fn usage_lists_every_spelling_and_fits_80_columns() {
        let text = usage();
        for name in specs().flat_map(|s| s.names.iter()) {
            assert!(text.contains(name), "usage lacks {name}");
        }
        assert!(text.contains("-f FILE, --file=FILE, --config=FILE"));
        assert!(text.contains("-dontfork, --foreground"));
        let words: Vec<&str> = text.split_whitespace().collect();
        assert!(words.join(" ").contains("Default: /etc/xinetd.conf."));
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too long: {line}");
        }
    }

    #[test]
    fn version_text_names_superd_and_xinetd() {
        assert_eq!(
            version_text(),
            format!("superd {VERSION} (xinetd-compatible)")
        );
        assert!(version_text().starts_with("superd 0."));
    }
}
