//! The service table: what the configuration means on this machine.
//!
//! `build(config, system)` is the only stage that consults the system: /etc/services, the user
//! and group databases, the server executables, host names in `bind`, `only_from` and
//! `no_access` (resolved here, once per load), /etc/networks. It turns each
//! [`ServiceDecl`] into an immutable [`Service`] ready to listen and spawn, or into an error
//! diagnostic pointing at the attribute that is wrong. A service that fails here is skipped; the
//! others are unaffected. Reload diffing lives in `runtime`, keyed by [`Service::id`].

pub mod services;

use std::collections::HashMap;
use std::ffi::CString;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use crate::access::address::{self, Access, AddrList, Names};
use crate::access::times::AccessTimes;
use crate::config::model::{
    Config, DenyTime, Diagnostic, FailureFlags, Limit, LogType, RlimitValue, ServiceDecl,
    SocketType, Span, Spanned, SuccessFlags,
};
use crate::internal::Builtin;
use crate::listen::ListenSpec;
use crate::spawn::{Credentials, ExecPlan, Rlimit, RlimitResource};
pub use services::Services;

/// Facts about the machine that `build` needs, gathered once per load.
#[derive(Clone, Debug)]
pub struct System {
    pub services: Services,
    /// Network names for `only_from`/`no_access` (/etc/networks format).
    pub networks_file: PathBuf,
    /// Host name to addresses for `only_from`/`no_access` (empty: does not resolve).
    /// [`resolve_host`] on a real machine; tests pass a stub.
    pub resolve_host: fn(&str) -> Vec<IpAddr>,
    /// Whether user/group changes are possible (superd runs as root).
    pub is_root: bool,
    /// superd's environment at start-up, for `passenv`.
    pub environment: Vec<(String, String)>,
    /// `/etc/rpc` as text (RPC program numbers by name).
    pub rpc_programs: String,
    /// Environments already built during this load, shared between services.
    pub env_cache: std::cell::RefCell<Vec<EnvEntry>>,
    /// `log_type` values seen during this load, shared between services.
    pub log_types: std::cell::RefCell<Vec<Arc<LogType>>>,
    /// Credentials already resolved during this load.
    pub creds_cache: std::cell::RefCell<Vec<CredsEntry>>,
    /// Server paths already checked during this load (whether each is an executable file):
    /// 1,000 services running the same program cost one check, not 1,000.
    pub executables: std::cell::RefCell<std::collections::HashMap<PathBuf, bool>>,
}

impl System {
    pub fn from_machine(services_file: &std::path::Path) -> (System, Option<Diagnostic>) {
        let (services, diag) = match Services::load(services_file) {
            Ok(s) => (s, None),
            Err(e) => (
                Services::default(),
                Some(Diagnostic::warning(
                    None,
                    format!(
                        "cannot read {}: {e}; only UNLISTED services can run",
                        services_file.display()
                    ),
                )),
            ),
        };
        let environment = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        (
            System {
                services,
                networks_file: PathBuf::from("/etc/networks"),
                resolve_host,
                is_root: nix::unistd::geteuid().is_root(),
                environment,
                env_cache: Default::default(),
                creds_cache: Default::default(),
                executables: Default::default(),
                log_types: Default::default(),
                rpc_programs: std::fs::read_to_string("/etc/rpc").unwrap_or_default(),
            },
            diag,
        )
    }
}

/// The addresses of a host name, through the system resolver (NSS: /etc/hosts, DNS, ...).
/// Blocks until the resolver answers; called only while building the table.
pub fn resolve_host(name: &str) -> Vec<IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

/// Credentials resolved during a load: (user, group, groups) → what the child gets.
pub type CredsEntry = (String, Option<String>, (Option<bool>, bool), Credentials);

/// One environment built during a load: (passenv, env) → the strings servers receive.
pub type EnvEntry = (Option<Vec<String>>, Vec<String>, Arc<[CString]>);

/// What a service does with a client.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start a program with the connection (or, for `wait = yes`, the socket) on fds 0-2.
    Exec(Arc<ExecPlan>),
    /// Answer inside superd.
    Internal(Builtin),
    /// `redirect`: relay the connection to this address inside superd.
    Redirect(SocketAddr),
    /// The internal `tcpmux` service (RFC 1078): read a service name, hand over to it.
    Tcpmux,
}

/// One runnable service.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub listen: ListenSpec,
    pub wait: bool,
    pub action: Action,
    pub instances: Limit,
    /// `on_limit = defer`: at the `instances` limit, stop accepting instead of closing.
    pub defer: bool,
    /// `per_source`: running servers per client address.
    pub per_source: Limit,
    /// `cps = rate wait` as written; `None` takes superd's default (see `limits::Cps::for_service`).
    pub cps: Option<(u32, u32)>,
    /// `max_load`: refuse while the 1-minute load average is at or above it.
    pub max_load: Option<f64>,
    /// `only_from`, `no_access`, `access_times`: see [`Access`] for what the runtime does.
    /// `None` when the service has none of these rules (most do not: kept out of line to
    /// keep a service small); read it through [`Service::access`].
    pub access_rules: Option<Box<Access>>,
    /// The daemon name hosts.allow/hosts.deny rules are matched against (xinetd's rules:
    /// `libwrap`, else the name of an internal service, else argv[0]'s file name); `None` with
    /// `flags = NOLIBWRAP`.
    pub libwrap: Libwrap,
    /// `banner`, `banner_success`, `banner_fail`: file contents, read when the configuration
    /// loads, sent before the checks, after they pass, and after a refusal.
    pub banner_files: Option<Box<Banners>>,
    /// `type = RPC`: the program and inclusive version range registered with rpcbind.
    pub rpc: Option<(u32, (u32, u32))>,
    /// `type = TCPMUX` (`Some(false)`) or `TCPMUXPLUS` (`Some(true)`): reached through the
    /// `tcpmux` service by name, never listening itself.
    pub mux: Option<bool>,
    /// `flags = IDONLY`: refuse clients whose ident (RFC 1413) query gives no user.
    pub idonly: bool,
    /// `flags = SENSOR`: every client is refused and its address added to the global deny
    /// list for `deny_time`.
    pub sensor: Option<DenyTime>,
    /// Shared by every service with the same `log_type` (usually all of them, from `defaults`).
    pub log_type: Option<Arc<LogType>>,
    pub log_on_success: SuccessFlags,
    pub log_on_failure: FailureFlags,
}

impl Service {
    /// The daemon name hosts.allow/hosts.deny rules match, as xinetd chooses it: the `libwrap`
    /// attribute; else the name of an internal, redirect or tcpmux service; else the file name
    /// of argv[0] (the server's, or the first `server_args` word with NAMEINARGS). `None` with
    /// `flags = NOLIBWRAP`. Derived on demand, so it costs a service no memory.
    pub fn libwrap_daemon(&self) -> Option<&str> {
        match (&self.libwrap, &self.action) {
            (Libwrap::Off, _) => None,
            (Libwrap::Named(n), _) => Some(n),
            (Libwrap::Derived, Action::Exec(plan)) => {
                let argv0 = plan
                    .argv
                    .first()
                    .and_then(|a| a.to_str().ok())
                    .unwrap_or(&self.name);
                // After the last '/' (a byte search: this runs several times per connection).
                let start = argv0.bytes().rposition(|b| b == b'/').map_or(0, |i| i + 1);
                Some(&argv0[start..])
            }
            (Libwrap::Derived, _) => Some(&self.name),
        }
    }

    /// `only_from`, `no_access`, `access_times`.
    pub fn access(&self) -> &Access {
        self.access_rules.as_deref().unwrap_or(&Access::NONE)
    }

    /// `banner`, `banner_success`, `banner_fail`.
    pub fn banners(&self) -> &Banners {
        const NONE: Banners = Banners {
            always: None,
            success: None,
            fail: None,
        };
        self.banner_files.as_deref().unwrap_or(&NONE)
    }

    pub fn protocol(&self) -> &'static str {
        match self.listen.socket_type {
            SocketType::Dgram => "udp",
            _ => "tcp",
        }
    }
}

/// The result of one configuration load.
#[derive(Clone, Debug, Default)]
pub struct ServiceTable {
    pub services: Vec<Service>,
    /// Ids of services that were written but are invalid (a reload keeps their old definition).
    pub rejected: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl ServiceTable {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::config::model::Severity::Error)
    }
}

/// Builds the table from a parsed configuration.
pub fn build(config: &Config, system: &System) -> ServiceTable {
    let mut table = ServiceTable {
        services: Vec::new(),
        rejected: config.rejected.iter().map(|r| r.id.clone()).collect(),
        diagnostics: config.diagnostics.clone(),
    };
    // (protocol, port) -> (bind address, declaration) of services already accepted, and the
    // accepted ids: borrowed from the configuration, so checking allocates nothing per service.
    let n = config.services.len();
    let mut ports: HashMap<(&'static str, u16), Vec<(IpAddr, &ServiceDecl)>> =
        HashMap::with_capacity(n);
    let mut ids: HashMap<&str, &ServiceDecl> = HashMap::with_capacity(n);
    table.services.reserve_exact(n);
    for decl in &config.services {
        let mut warnings = Vec::new();
        match build_one(decl, system, &mut warnings) {
            Ok(svc) => {
                let key = (svc.protocol(), svc.listen.addr.port());
                let clash = ports
                    .get(&key)
                    .filter(|_| key.1 != 0)
                    .and_then(|v| v.iter().find(|(ip, _)| overlaps(*ip, svc.listen.addr.ip())));
                let at = |d: &ServiceDecl, what: &str| {
                    d.span
                        .as_ref()
                        .map(|s| format!(" ({what} {s})"))
                        .unwrap_or_default()
                };
                if let Some((_, other)) = clash {
                    table.diagnostics.push(Diagnostic::error(
                        decl.span.clone(),
                        format!(
                            "service {}: port {}/{} is already used by service {}{}",
                            svc.id,
                            key.1,
                            key.0,
                            other.id,
                            at(other, "at")
                        ),
                    ));
                    table.rejected.push(svc.id.clone());
                } else if let Some(first) = ids.get(decl.id.as_str()) {
                    table.diagnostics.push(Diagnostic::error(
                        decl.span.clone(),
                        format!(
                            "duplicate service id {}{}: give one of them another id",
                            svc.id,
                            at(first, "first at")
                        ),
                    ));
                } else {
                    ports
                        .entry(key)
                        .or_default()
                        .push((svc.listen.addr.ip(), decl));
                    ids.insert(decl.id.as_str(), decl);
                    table.diagnostics.append(&mut warnings);
                    table.services.push(svc);
                }
            }
            Err(d) => {
                table.diagnostics.append(&mut warnings);
                table.diagnostics.push(d);
                table.rejected.push(decl.id.clone());
            }
        }
    }
    table
}

fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.is_unspecified() || b.is_unspecified()
}

fn build_one(
    decl: &ServiceDecl,
    sys: &System,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Service, Diagnostic> {
    let id = &decl.id;
    let err = |span: Option<&Span>, msg: String| {
        Diagnostic::error(
            span.or(decl.span.as_ref()).cloned(),
            format!("service {id}: {msg}"),
        )
    };
    let ty = decl.type_flags();
    let flags = decl.flags();

    // socket_type and protocol imply each other.
    let protocol = decl.protocol.as_ref().map(|p| p.value.as_str());
    let socket_type = match (decl.socket_type.as_ref().map(|s| s.value), protocol) {
        (Some(st), _) => st,
        (None, Some("tcp")) => SocketType::Stream,
        (None, Some("udp")) => SocketType::Dgram,
        _ => return Err(err(None, "missing attribute socket_type".into())),
    };
    let proto = match (socket_type, protocol) {
        (SocketType::Stream, None | Some("tcp")) => "tcp",
        (SocketType::Dgram, None | Some("udp")) => "udp",
        (SocketType::Raw | SocketType::Seqpacket, _) => {
            return Err(err(
                decl.socket_type.as_ref().map(|s| &s.span),
                format!(
                    "socket_type {} is not supported (only stream and dgram)",
                    socket_type.as_str()
                ),
            ))
        }
        (st, Some(p)) => {
            return Err(err(
                decl.protocol.as_ref().map(|s| &s.span),
                format!("protocol {p} does not go with socket_type {}", st.as_str()),
            ))
        }
    };
    let wait = match &decl.wait {
        Some(w) => w.value,
        None => return Err(err(None, "missing attribute wait".into())),
    };

    if decl.deny_time.is_some() && !flags.sensor {
        warnings.push(Diagnostic::warning(
            decl.span.clone(),
            format!("service {id}: deny_time only applies with flags = SENSOR; ignored"),
        ));
    }

    let mux = (ty.tcpmux || ty.tcpmuxplus).then_some(ty.tcpmuxplus);
    let rpc = if ty.rpc {
        let program = match (ty.unlisted, decl.rpc_number) {
            (true, Some(n)) => n,
            (true, None) => return Err(err(None, "UNLISTED RPC services need rpc_number".into())),
            (false, _) => crate::runtime::portmap::program_number(&sys.rpc_programs, &decl.name)
                .ok_or_else(|| err(None, format!("RPC program {} is not in /etc/rpc (use type = RPC UNLISTED and rpc_number)", decl.name)))?,
        };
        let versions = decl
            .rpc_version
            .ok_or_else(|| err(None, "RPC services need rpc_version".into()))?;
        Some((program, versions))
    } else {
        None
    };
    if mux.is_some() && (socket_type != SocketType::Stream || wait) {
        return Err(err(
            None,
            "TCPMUX services need socket_type = stream and wait = no".into(),
        ));
    }
    // Port: /etc/services unless UNLISTED; TCPMUX services have none (tcpmux's port serves them).
    // RPC services take a port the kernel chooses and tell rpcbind about it.
    let port = if mux.is_some() || rpc.is_some() {
        0
    } else if ty.unlisted {
        match &decl.port {
            Some(p) => p.value,
            None => return Err(err(None, "UNLISTED services need a port attribute".into())),
        }
    } else {
        match sys.services.port(&decl.name, proto) {
            None => {
                return Err(err(
                    None,
                    format!(
                        "service/protocol combination not in /etc/services: {}/{proto} (use type = UNLISTED and a port)",
                        decl.name
                    ),
                ))
            }
            Some(known) => match &decl.port {
                Some(p) if p.value != known => {
                    return Err(err(
                        Some(&p.span),
                        format!("service {} expects port {known} (from /etc/services), not {}", decl.name, p.value),
                    ))
                }
                _ => known,
            },
        }
    };

    // Address family: IPv6 dual-stack by default, as xinetd on Linux.
    let bind_ip: Option<IpAddr> = match &decl.bind {
        None => None,
        Some(b) => Some(
            resolve_bind(&b.value, flags.ipv4 && !flags.ipv6).map_err(|m| err(Some(&b.span), m))?,
        ),
    };
    let ip = match bind_ip {
        Some(ip) => ip,
        None if flags.ipv4 && !flags.ipv6 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    // `v6only = no` really means dual stack (xinetd sets V6ONLY whenever it is written).
    let v6only = decl.v6only.unwrap_or_default();
    // SENSOR forces an in-daemon service, whatever its name (xinetd: a non-forking discard).
    let internal = ty.internal || flags.sensor;
    let listen = ListenSpec {
        addr: SocketAddr::new(ip, port),
        socket_type,
        v6only,
        nodelay: flags.nodelay,
        keepalive: flags.keepalive,
        nonblocking: !wait || internal,
    };

    let action = if let Some(r) = &decl.redirect {
        if socket_type != SocketType::Stream || wait {
            return Err(err(
                Some(&r.span),
                "redirect needs socket_type = stream and wait = no".into(),
            ));
        }
        Action::Redirect(
            resolve_redirect(&r.value.0, &r.value.1, sys).map_err(|m| err(Some(&r.span), m))?,
        )
    } else if flags.sensor {
        Action::Internal(Builtin::Discard)
    } else if internal && decl.name.eq_ignore_ascii_case("tcpmux") {
        Action::Tcpmux
    } else if internal {
        match Builtin::from_name(&decl.name) {
            Some(b) => Action::Internal(b),
            None => {
                return Err(err(
                    None,
                    format!(
                        "no such internal service: {} (internal services are found by service name, not id)",
                        decl.name
                    ),
                ))
            }
        }
    } else {
        if socket_type == SocketType::Dgram && !wait {
            return Err(err(
                decl.wait.as_ref().map(|w| &w.span),
                "dgram services with an external server need wait = yes".into(),
            ));
        }
        Action::Exec(Arc::new(
            exec_plan(decl, sys, warnings).map_err(|(span, m)| err(span.as_ref(), m))?,
        ))
    };

    let access = access(decl, sys, warnings);

    Ok(Service {
        id: id.clone(),
        name: decl.name.clone(),
        listen,
        wait,
        action,
        instances: decl.instances.unwrap_or(Limit::Unlimited),
        per_source: decl.per_source.unwrap_or(Limit::Unlimited),
        defer: decl.on_limit == Some(crate::config::model::OnLimit::Defer),
        cps: decl.cps,
        max_load: decl.max_load.filter(|l| *l > 0.0),
        access_rules: (access != Access::NONE).then(|| Box::new(access)),
        banner_files: Some(Box::new(Banners {
            always: read_banner(decl.banner.as_ref())
                .map_err(|m| err(decl.banner.as_ref().map(|b| &b.span), m))?,
            success: read_banner(decl.banner_success.as_ref())
                .map_err(|m| err(decl.banner_success.as_ref().map(|b| &b.span), m))?,
            fail: read_banner(decl.banner_fail.as_ref())
                .map_err(|m| err(decl.banner_fail.as_ref().map(|b| &b.span), m))?,
        }))
        .filter(|b| **b != Banners::default()),
        idonly: flags.idonly,
        mux,
        rpc,
        sensor: flags
            .sensor
            .then(|| decl.deny_time.unwrap_or(DenyTime::Never)),
        libwrap: match (flags.nolibwrap, &decl.libwrap) {
            (true, _) => Libwrap::Off,
            (false, Some(name)) => Libwrap::Named(name.as_str().into()),
            (false, None) => Libwrap::Derived,
        },
        log_type: decl.log_type.as_ref().map(|l| {
            let mut cache = sys.log_types.borrow_mut();
            match cache.iter().find(|c| ***c == l.value) {
                Some(shared) => shared.clone(),
                None => {
                    let shared = Arc::new(l.value.clone());
                    cache.push(shared.clone());
                    shared
                }
            }
        }),
        // Asking identd about connections to identd would loop (xinetd clears it too).
        log_on_success: SuccessFlags {
            userid: decl.log_on_success.userid && port != 113,
            ..decl.log_on_success
        },
        log_on_failure: FailureFlags {
            userid: decl.log_on_failure.userid && port != 113,
            ..decl.log_on_failure
        },
    })
}

/// `only_from`, `no_access` (host names resolved now) and `access_times`; name and shadowing
/// warnings go to `warnings`.
fn access(decl: &ServiceDecl, sys: &System, warnings: &mut Vec<Diagnostic>) -> Access {
    let names = Names {
        networks_file: &sys.networks_file,
        resolve: &sys.resolve_host,
    };
    let mut list = |attr: &str, entries: &Option<Vec<Spanned<String>>>| {
        let entries = entries.as_ref()?;
        let (list, found) = AddrList::parse(attr, entries, &names);
        warnings.extend(found.into_iter().map(|w| {
            Diagnostic::warning(Some(w.span), format!("service {}: {}", decl.id, w.value))
        }));
        Some(list)
    };
    let only_from = list("only_from", &decl.only_from);
    let no_access = list("no_access", &decl.no_access);
    for w in address::shadowing(only_from.as_ref(), no_access.as_ref()) {
        warnings.push(Diagnostic::warning(
            decl.span.clone(),
            format!("service {}: {w}", decl.id),
        ));
    }
    Access {
        only_from,
        no_access,
        access_times: decl.access_times.clone().map(AccessTimes::new),
    }
}

/// Whether and as what a service is checked against hosts.allow / hosts.deny.
#[derive(Clone, Debug, PartialEq)]
pub enum Libwrap {
    /// `flags = NOLIBWRAP`.
    Off,
    /// The `libwrap` attribute.
    Named(Box<str>),
    /// xinetd's default, derived when needed (see [`Service::libwrap_daemon`]).
    Derived,
}

/// The three banner files of a service (contents).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Banners {
    pub always: Option<Arc<[u8]>>,
    pub success: Option<Arc<[u8]>>,
    pub fail: Option<Arc<[u8]>>,
}

/// Banners are sent with one non-blocking write; this keeps them within a socket buffer.
const BANNER_MAX: u64 = 64 * 1024;

fn read_banner(
    path: Option<&crate::config::model::Spanned<PathBuf>>,
) -> Result<Option<Arc<[u8]>>, String> {
    let Some(p) = path else { return Ok(None) };
    let len = std::fs::metadata(&p.value)
        .map_err(|e| format!("cannot read banner {}: {e}", p.value.display()))?
        .len();
    if len > BANNER_MAX {
        return Err(format!(
            "banner {} is {len} bytes; the limit is {BANNER_MAX}",
            p.value.display()
        ));
    }
    let data = std::fs::read(&p.value)
        .map_err(|e| format!("cannot read banner {}: {e}", p.value.display()))?;
    Ok(Some(Arc::from(data)))
}

/// `redirect = HOST PORT`, resolved once when the configuration loads, as xinetd does (the
/// first address; PORT may be a service name).
fn resolve_redirect(host: &str, port: &str, sys: &System) -> Result<SocketAddr, String> {
    let port = match port.parse::<u16>() {
        Ok(p) => p,
        Err(_) => sys
            .services
            .port(port, "tcp")
            .ok_or_else(|| format!("redirect port {port} is neither a number nor a tcp service"))?,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve redirect host {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("redirect host {host} has no address"))
}

fn resolve_bind(text: &str, ipv4_only: bool) -> Result<IpAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = (text, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve bind address {text}: {e}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| !ipv4_only || ip.is_ipv4())
        .copied()
        .ok_or_else(|| format!("bind address {text} has no usable address"))
}

type PlanError = (Option<Span>, String);

fn exec_plan(
    decl: &ServiceDecl,
    sys: &System,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ExecPlan, PlanError> {
    let server = decl
        .server
        .as_ref()
        .ok_or((None, "missing attribute server".to_string()))?;
    let user = decl
        .user
        .as_ref()
        .ok_or((None, "missing attribute user".to_string()))?;
    let path = PathBuf::from(&server.value);
    if !path.is_absolute() {
        return Err((
            Some(server.span.clone()),
            format!("server {} must be an absolute path", server.value),
        ));
    }
    let executable = *sys
        .executables
        .borrow_mut()
        .entry(path.clone())
        .or_insert_with(|| {
            nix::unistd::access(&path, nix::unistd::AccessFlags::X_OK).is_ok() && path.is_file()
        });
    if !executable {
        return Err((
            Some(server.span.clone()),
            format!("server {} is not an executable file", server.value),
        ));
    }
    let cstr = |s: &str, span: &Span| {
        CString::new(s).map_err(|_| (Some(span.clone()), format!("{s:?} contains a NUL byte")))
    };

    // argv: basename(server) + server_args, or server_args alone with NAMEINARGS.
    let args: Vec<String> = decl
        .server_args
        .as_ref()
        .map(|a| a.value.clone())
        .unwrap_or_default();
    let mut argv = Vec::new();
    if decl.flags().nameinargs {
        if args.is_empty() {
            return Err((
                None,
                "flags = NAMEINARGS needs server_args (its first word is argv[0])".into(),
            ));
        }
    } else {
        let base = path
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        argv.push(cstr(&base, &server.span)?);
    }
    for a in &args {
        argv.push(cstr(a, &server.span)?);
    }

    // Environment: passenv (or everything), then env entries, which override. Services that
    // ask for the same (passenv, env) share one copy, found before anything is allocated: with
    // the whole environment passed by default, building a copy per service would be most of
    // a service's memory, and its garbage would fragment the heap.
    let env = env_for(decl.passenv.as_deref(), &decl.env, sys);
    // Credentials.
    let creds = if sys.is_root {
        Some(cached_credentials(decl, &user.value, &user.span, sys)?)
    } else {
        // Resolve anyway, so typos are caught even when testing as a normal user.
        cached_credentials(decl, &user.value, &user.span, sys)?;
        warnings.push(Diagnostic::warning(
            Some(user.span.clone()),
            format!(
                "service {}: superd is not running as root; user and group are not applied",
                decl.id
            ),
        ));
        None
    };

    let mut rlimits = Vec::new();
    for (v, r) in [
        (decl.rlimit_as, RlimitResource::As),
        (decl.rlimit_cpu, RlimitResource::Cpu),
        (decl.rlimit_data, RlimitResource::Data),
        (decl.rlimit_files, RlimitResource::Files),
        (decl.rlimit_rss, RlimitResource::Rss),
        (decl.rlimit_stack, RlimitResource::Stack),
    ] {
        match v {
            None => {}
            Some(RlimitValue::Unlimited) => rlimits.push(Rlimit {
                resource: r,
                soft: libc::RLIM_INFINITY,
                hard: libc::RLIM_INFINITY,
            }),
            Some(RlimitValue::Value(n)) => rlimits.push(Rlimit {
                resource: r,
                soft: n,
                hard: n,
            }),
        }
    }

    Ok(ExecPlan {
        path: cstr(&server.value, &server.span)?,
        argv,
        env,
        creds,
        nice: decl.nice.as_ref().map(|n| n.value),
        umask: decl.umask,
        rlimits,
    })
}

fn env_for(passenv: Option<&[String]>, env_attr: &[String], sys: &System) -> Arc<[CString]> {
    let mut cache = sys.env_cache.borrow_mut();
    if let Some((_, _, shared)) = cache
        .iter()
        .find(|(p, e, _)| p.as_deref() == passenv && e.as_slice() == env_attr)
    {
        return shared.clone();
    }
    let mut env: Vec<(&str, &str)> = sys
        .environment
        .iter()
        .filter(|(k, _)| passenv.is_none_or(|names| names.contains(k)))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for e in env_attr {
        if let Some((k, v)) = e.split_once('=') {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        }
    }
    env.retain(|(k, _)| *k != "REMOTE_HOST");
    let shared: Arc<[CString]> = env
        .iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect();
    cache.push((
        passenv.map(<[String]>::to_vec),
        env_attr.to_vec(),
        shared.clone(),
    ));
    shared
}

/// `credentials`, looked up once per (user, group, groups) in a load: the user database is
/// asked once, not once per service.
fn cached_credentials(
    decl: &ServiceDecl,
    user: &str,
    span: &Span,
    sys: &System,
) -> Result<Credentials, PlanError> {
    let group = decl.group.as_ref().map(|g| g.value.as_str());
    let groups = (decl.groups, decl.groups_from_group);
    let key = |(u, g, gs, _): &CredsEntry| u == user && g.as_deref() == group && *gs == groups;
    if let Some((.., c)) = sys.creds_cache.borrow().iter().find(|e| key(e)) {
        return Ok(c.clone());
    }
    let c = credentials(decl, user, span)?;
    sys.creds_cache.borrow_mut().push((
        user.to_string(),
        group.map(str::to_owned),
        groups,
        c.clone(),
    ));
    Ok(c)
}

/// The passwd entry of `user`, a name or a number.
pub(crate) fn find_user(user: &str) -> Option<nix::unistd::User> {
    use nix::unistd::{Uid, User};
    match user.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)).ok().flatten(),
        Err(_) => User::from_name(user).ok().flatten(),
    }
}

fn credentials(decl: &ServiceDecl, user: &str, span: &Span) -> Result<Credentials, PlanError> {
    use nix::unistd::Group;
    let pw = find_user(user);
    // A name must exist; a number without an entry is allowed (see below).
    if pw.is_none() && user.parse::<u32>().is_err() {
        return Err((Some(span.clone()), format!("unknown user {user}")));
    }
    let (uid, mut gid) = match &pw {
        Some(pw) => (pw.uid.as_raw(), pw.gid.as_raw()),
        // A numeric uid without a passwd entry: its gid is the same number (xinetd does this
        // for every numeric user).
        None => {
            let n: u32 = user.parse().unwrap_or(0);
            (n, n)
        }
    };
    if let Some(g) = &decl.group {
        gid = match g.value.parse::<u32>() {
            Ok(n) => n,
            Err(_) => match Group::from_name(&g.value).ok().flatten() {
                Some(gr) => gr.gid.as_raw(),
                None => return Err((Some(g.span.clone()), format!("unknown group {}", g.value))),
            },
        };
    }
    // The user's own groups, as `initgroups(user, primary gid)` gives them: a `group` override
    // changes the gid only, not the supplementary list (xinetd, reference R4).
    let groups = match (decl.groups, &pw) {
        (Some(true), Some(pw)) => {
            let cname = CString::new(pw.name.as_str())
                .map_err(|_| (Some(span.clone()), "bad user name".to_string()))?;
            // xinetd: the user's groups around the passwd group; inetd.conf: around the named
            // group, so `user:group` leaves the passwd group out, as openbsd-inetd does.
            let base = if decl.groups_from_group {
                nix::unistd::Gid::from_raw(gid)
            } else {
                pw.gid
            };
            nix::unistd::getgrouplist(&cname, base)
                .map(|v| v.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok(Credentials { uid, gid, groups })
}

/// The resolved table as `--check` prints it: one block per service.
impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "service {}", self.id)?;
        if self.name != self.id {
            writeln!(f, "\tname        = {}", self.name)?;
        }
        let family = match self.listen.addr {
            SocketAddr::V6(a) if a.ip().is_unspecified() && !self.listen.v6only => {
                " (IPv6 and IPv4)"
            }
            _ => "",
        };
        writeln!(
            f,
            "\tlisten      = {} {}/{}{family}",
            self.listen.socket_type.as_str(),
            self.listen.addr,
            self.protocol()
        )?;
        writeln!(
            f,
            "\twait        = {}",
            if self.wait { "yes" } else { "no" }
        )?;
        match &self.action {
            Action::Internal(b) => writeln!(f, "\tinternal    = {}", b.name())?,
            Action::Redirect(to) => writeln!(f, "\tredirect    = {to}")?,
            Action::Tcpmux => writeln!(f, "\tinternal    = tcpmux")?,
            Action::Exec(p) => {
                writeln!(f, "\tserver      = {}", p.path.to_string_lossy())?;
                let argv: Vec<_> = p.argv.iter().map(|a| a.to_string_lossy()).collect();
                writeln!(f, "\targv        = {}", argv.join(" "))?;
                match &p.creds {
                    Some(c) => {
                        let mut g = String::new();
                        for x in &c.groups {
                            let _ = write!(g, " {x}");
                        }
                        writeln!(
                            f,
                            "\tcredentials = uid {} gid {} groups{}",
                            c.uid,
                            c.gid,
                            if g.is_empty() { " (none)".into() } else { g }
                        )?
                    }
                    None => writeln!(f, "\tcredentials = unchanged (not root)")?,
                }
                if let Some(n) = p.nice {
                    writeln!(f, "\tnice        = {n}")?;
                }
                if let Some(m) = p.umask {
                    writeln!(f, "\tumask       = {m:03o}")?;
                }
                for r in &p.rlimits {
                    writeln!(
                        f,
                        "\trlimit      = {:?} {}",
                        r.resource,
                        if r.soft == libc::RLIM_INFINITY {
                            "UNLIMITED".to_string()
                        } else {
                            r.soft.to_string()
                        }
                    )?;
                }
                writeln!(f, "\tenvironment = {} variables", p.env.len())?;
            }
        }
        if let Limit::Max(n) = self.instances {
            writeln!(f, "\tinstances   = {n}")?;
        }
        if self.defer {
            writeln!(f, "\ton_limit    = defer")?;
        }
        if let Limit::Max(n) = self.per_source {
            writeln!(f, "\tper_source  = {n}")?;
        }
        if let Some((rate, wait)) = self.cps {
            writeln!(f, "\tcps         = {rate} {wait}")?;
        }
        if let Some(load) = self.max_load {
            writeln!(f, "\tmax_load    = {load}")?;
        }
        if let Some(l) = &self.access().only_from {
            writeln!(f, "\tonly_from   = {l}")?;
        }
        if let Some(l) = &self.access().no_access {
            writeln!(f, "\tno_access   = {l}")?;
        }
        if let Some(d) = self.libwrap_daemon() {
            writeln!(f, "\tlibwrap     = {d} (hosts.allow, hosts.deny)")?;
        }
        if let Some(t) = &self.access().access_times {
            writeln!(f, "\taccess_times = {t}")?;
        }
        match self.log_type.as_deref() {
            Some(LogType::File { path, .. }) => {
                writeln!(f, "\tlog         = file {}", path.display())?
            }
            Some(LogType::Syslog { facility, level }) => {
                writeln!(f, "\tlog         = syslog {facility:?}.{level:?}")?
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A stub resolver: `localhost` only.
    fn resolve(name: &str) -> Vec<IpAddr> {
        match name {
            "localhost" => vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            _ => Vec::new(),
        }
    }

    fn sys(root: bool) -> System {
        System {
            services: Services::parse("echo 7/tcp\necho 7/udp\ndaytime 13/tcp\n"),
            networks_file: PathBuf::from("/nonexistent/networks"),
            resolve_host: resolve,
            is_root: root,
            environment: vec![
                ("PATH".into(), "/bin".into()),
                ("HOME".into(), "/root".into()),
            ],
            env_cache: Default::default(),
            creds_cache: Default::default(),
            executables: Default::default(),
            log_types: Default::default(),
            rpc_programs: String::new(),
        }
    }

    fn table(text: &str) -> ServiceTable {
        build(
            &crate::config::parse_str(text, "t.conf", Path::new("/")),
            &sys(true),
        )
    }

    fn errors(t: &ServiceTable) -> Vec<String> {
        t.diagnostics
            .iter()
            .filter(|d| d.severity == crate::config::model::Severity::Error)
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn internal_service_on_its_standard_port() {
        let t =
            table("service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n");
        assert!(errors(&t).is_empty(), "{:?}", errors(&t));
        let s = &t.services[0];
        assert_eq!(s.listen.addr, "[::]:7".parse().unwrap());
        assert!(!s.listen.v6only, "dual stack by default");
        assert_eq!(s.action, Action::Internal(Builtin::Echo));
    }

    #[test]
    fn port_must_match_etc_services_unless_unlisted() {
        let t = table("service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n\tport = 21012\n}\n");
        assert_eq!(errors(&t), ["t.conf:6:9: error: service echo: service echo expects port 7 (from /etc/services), not 21012"]);
        assert_eq!(t.rejected, ["echo"]);
        let t = table("service foo\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/true\n}\n");
        assert_eq!(
            errors(&t),
            ["t.conf:1:1: error: service foo: UNLISTED services need a port attribute"]
        );
        let t = table("service foo\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/true\n}\n");
        assert!(
            errors(&t)[0].contains("not in /etc/services: foo/tcp"),
            "{:?}",
            errors(&t)
        );
    }

    #[test]
    fn internal_services_are_found_by_name_not_id() {
        let t = table("service foo\n{\n\tid = echo\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 1234\n}\n");
        assert!(
            errors(&t)[0].contains("no such internal service: foo"),
            "{:?}",
            errors(&t)
        );
    }

    #[test]
    fn flags_ipv4_and_bind_choose_the_family() {
        let base = "\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n";
        let t = table(&format!(
            "service echo\n{{\n{base}\tport = 1\n\tflags = IPv4\n}}\n"
        ));
        assert_eq!(t.services[0].listen.addr, "0.0.0.0:1".parse().unwrap());
        let t = table(&format!(
            "service echo\n{{\n{base}\tport = 1\n\tbind = 127.0.0.2\n}}\n"
        ));
        assert_eq!(t.services[0].listen.addr, "127.0.0.2:1".parse().unwrap());
        let t = table(&format!(
            "service echo\n{{\n{base}\tport = 1\n\tv6only = yes\n}}\n"
        ));
        assert!(t.services[0].listen.v6only);
    }

    #[test]
    fn external_service_exec_plan() {
        let t = table(
            "service x\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 99\n\tuser = root\n\tserver = /bin/echo\n\tserver_args = a b\n\tpassenv = PATH\n\tenv = A=1 PATH=/x\n}\n",
        );
        assert!(errors(&t).is_empty(), "{:?}", errors(&t));
        let Action::Exec(p) = &t.services[0].action else {
            panic!()
        };
        assert_eq!(
            p.argv,
            [
                CString::new("echo").unwrap(),
                CString::new("a").unwrap(),
                CString::new("b").unwrap()
            ]
        );
        assert_eq!(
            &p.env[..],
            [
                CString::new("A=1").unwrap(),
                CString::new("PATH=/x").unwrap()
            ]
        );
        assert_eq!(
            p.creds,
            Some(Credentials {
                uid: 0,
                gid: 0,
                groups: vec![]
            })
        );
    }

    #[test]
    fn external_dgram_needs_wait_yes_and_missing_things_are_named() {
        let t = table("service x\n{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\twait = no\n\tport = 99\n\tuser = root\n\tserver = /bin/true\n}\n");
        assert_eq!(errors(&t), ["t.conf:5:9: error: service x: dgram services with an external server need wait = yes"]);
        let t = table("service x\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 99\n\tserver = /bin/true\n}\n");
        assert_eq!(
            errors(&t),
            ["t.conf:1:1: error: service x: missing attribute user"]
        );
        let t = table("service x\n{\n\ttype = UNLISTED\n\twait = no\n\tport = 99\n}\n");
        assert_eq!(
            errors(&t),
            ["t.conf:1:1: error: service x: missing attribute socket_type"]
        );
        let t = table("service x\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 99\n\tuser = root\n\tserver = /nonexistent\n}\n");
        assert_eq!(
            errors(&t),
            ["t.conf:8:11: error: service x: server /nonexistent is not an executable file"]
        );
    }

    #[test]
    fn same_port_twice_is_refused_with_both_places() {
        let svc = |id: &str, bind: &str| {
            format!("service echo\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 5\n{bind}}}\n")
        };
        let t = table(&format!(
            "{}{}",
            svc("a", ""),
            svc("b", "\tbind = 127.0.0.1\n")
        ));
        assert_eq!(t.services.len(), 1);
        assert!(
            errors(&t)[0].contains("port 5/tcp is already used by service a (at t.conf:1:1)"),
            "{:?}",
            errors(&t)
        );
        // Different addresses on the same port are fine.
        let t = table(&format!(
            "{}{}",
            svc("a", "\tbind = 127.0.0.2\n"),
            svc("b", "\tbind = 127.0.0.1\n")
        ));
        assert_eq!(t.services.len(), 2, "{:?}", errors(&t));
    }

    fn warnings(t: &ServiceTable) -> Vec<String> {
        t.diagnostics
            .iter()
            .filter(|d| d.severity == crate::config::model::Severity::Warning)
            .map(|d| d.to_string())
            .collect()
    }

    const ECHO: &str = "service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n";

    #[test]
    fn access_restrictions_are_parsed_into_the_service() {
        let t = table(&format!(
            "{ECHO}\tonly_from = 127.0.0.0 10.0.{{1,2}} localhost .example.com\n\tno_access = 127.0.0.2\n\taccess_times = 2:00-9:00 12:00-23:59\n}}\n"
        ));
        assert!(errors(&t).is_empty(), "{:?}", errors(&t));
        let access = t.services[0].access();
        assert_eq!(
            access.only_from.as_ref().unwrap().to_string(),
            "127.0.0.0/8 10.0.1.0/24 10.0.2.0/24 127.0.0.1/32(localhost) ::1/128(localhost) .example.com"
        );
        assert_eq!(
            access.no_access.as_ref().unwrap().to_string(),
            "127.0.0.2/32"
        );
        assert_eq!(
            access.access_times,
            Some(AccessTimes::new(vec![(120, 540), (720, 1439)]))
        );
        assert!(access.needs_name());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        use crate::access::address::AddressVerdict;
        assert_eq!(
            access.decide_address(ip("::ffff:127.0.0.1"), None),
            AddressVerdict::Allow
        );
        assert_eq!(
            access.decide_address(ip("127.0.0.2"), None),
            AddressVerdict::DenyBothMatch
        );
        assert_eq!(
            access.decide_address(ip("192.0.2.1"), Some("h.example.com")),
            AddressVerdict::Allow
        );
        assert_eq!(
            access.decide_address(ip("192.0.2.1"), None),
            AddressVerdict::Deny
        );
        // The carve-out is explained (each refusal logs xinetd's "match equally" error).
        assert_eq!(warnings(&t).len(), 1, "{:?}", warnings(&t));
        assert!(
            warnings(&t)[0]
                .starts_with("t.conf:1:1: warning: service echo: no_access entry 127.0.0.2"),
            "{:?}",
            warnings(&t)
        );
        let shown = t.services[0].to_string();
        assert!(shown.contains("\tno_access   = 127.0.0.2/32\n"), "{shown}");
        assert!(
            shown.contains("\taccess_times = 02:00-09:00 12:00-23:59\n"),
            "{shown}"
        );
        // Without the attributes, nothing is restricted.
        let t = table(&format!("{ECHO}}}\n"));
        assert_eq!(*t.services[0].access(), Access::default());
    }

    #[test]
    fn empty_only_from_is_kept_and_admits_nobody() {
        let t = table(&format!("{ECHO}\tonly_from =\n}}\n"));
        let access = t.services[0].access();
        assert_eq!(access.only_from, Some(AddrList::default()));
        assert_eq!(
            access.decide_address("127.0.0.1".parse().unwrap(), None),
            crate::access::address::AddressVerdict::Deny
        );
    }

    #[test]
    fn unresolvable_names_warn_at_their_place_and_the_service_runs() {
        let t = table(&format!("{ECHO}\tonly_from = nosuch.invalid\n}}\n"));
        assert!(errors(&t).is_empty(), "{:?}", errors(&t));
        assert_eq!(t.services.len(), 1);
        assert!(t.services[0]
            .access()
            .only_from
            .as_ref()
            .unwrap()
            .is_empty());
        let w = warnings(&t);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("t.conf:6:14: warning: service echo: only_from: host name 'nosuch.invalid' does not resolve"),
            "{w:?}"
        );
        assert!(w[1].contains("nobody is allowed"), "{w:?}");
    }

    #[test]
    fn shadowed_only_from_is_warned_about() {
        // xinetd.md §5 #19: nobody gets in, although the man page says otherwise.
        let t = table(&format!(
            "{ECHO}\tonly_from = 127.0.0.2\n\tno_access = 127.0.0.0/8\n}}\n"
        ));
        let w = warnings(&t);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("only_from entry 127.0.0.2 (127.0.0.2/32) lies inside no_access entry 127.0.0.0/8: nobody from it is ever allowed"), "{w:?}");
    }

    #[test]
    fn rpc_services_need_a_program_and_versions() {
        let rpc = "service myrpc\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/true\n";
        let t = table(&format!(
            "{rpc}\ttype = RPC UNLISTED\n\trpc_version = 1\n}}\n"
        ));
        assert!(
            errors(&t)[0].contains("UNLISTED RPC services need rpc_number"),
            "{:?}",
            errors(&t)
        );
        let t = table(&format!(
            "{rpc}\ttype = RPC UNLISTED\n\trpc_number = 400000\n}}\n"
        ));
        assert!(
            errors(&t)[0].contains("RPC services need rpc_version"),
            "{:?}",
            errors(&t)
        );
        let t = table(&format!(
            "{rpc}\ttype = RPC UNLISTED\n\trpc_number = 400000\n\trpc_version = 2-3\n}}\n"
        ));
        assert_eq!(t.services[0].rpc, Some((400_000, (2, 3))));
        assert_eq!(
            t.services[0].listen.addr.port(),
            0,
            "the kernel chooses the port"
        );
    }

    #[test]
    fn libwrap_daemon_names_follow_xinetd() {
        let ext = |extra: &str| {
            format!("service x\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 99\n\tuser = root\n\tserver = /bin/echo\n{extra}}}\n")
        };
        assert_eq!(table(&ext("")).services[0].libwrap_daemon(), Some("echo"));
        let t = table(&ext(
            "\tflags = NAMEINARGS\n\tserver_args = /usr/sbin/tcpd in.x\n",
        ));
        assert_eq!(t.services[0].libwrap_daemon(), Some("tcpd"));
        assert_eq!(
            table(&ext("\tlibwrap = lw\n")).services[0].libwrap_daemon(),
            Some("lw")
        );
        assert_eq!(
            table(&ext("\tflags = NOLIBWRAP\n")).services[0].libwrap_daemon(),
            None
        );
        let t = table(&format!("{ECHO}\tid = myecho\n}}\n"));
        assert_eq!(
            t.services[0].libwrap_daemon(),
            Some("echo"),
            "internal: the service name"
        );
    }

    #[test]
    fn redirect_resolves_its_target_when_loading() {
        let t = table(&format!("{ECHO}\tredirect = 127.0.0.1 echo\n}}\n"));
        assert_eq!(
            t.services[0].action,
            Action::Redirect("127.0.0.1:7".parse().unwrap())
        );
        let t = table(&format!("{ECHO}\tredirect = 127.0.0.1 nosuchservice\n}}\n"));
        assert!(
            errors(&t)[0].contains("neither a number nor a tcp service"),
            "{:?}",
            errors(&t)
        );
    }
}
