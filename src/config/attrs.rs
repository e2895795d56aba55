//! The attribute table: xinetd.conf(5) as data.
//!
//! One row per attribute: its name, where it may appear (service, `defaults`, or both), the
//! operators it accepts, how many values it takes and the function that turns those values into
//! typed fields. Scalar parsers write straight into a [`Draft`] (one entry's own values); list
//! parsers return a [`ListValue`] that is applied later, once the `defaults` lists are known,
//! by [`apply_list`]. The parser (`parser.rs`) does the generic checks (operator, value count,
//! duplicates, `#` words) from the row before calling the function, so each function only has to
//! check its own syntax.

use std::path::PathBuf;
use std::sync::Arc;

use super::lexer::{Op, Token};
use super::model::{
    DenyTime, Diagnostic, Facility, FailureFlags, Flags, Level, Limit, LogType, OnLimit,
    RlimitValue, ServiceDecl, SocketType, Span, Spanned, SuccessFlags, TypeFlags,
};
use super::values;
use crate::suggest::edit_distance;

/// Where an attribute may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Service,
    /// In a service and in `defaults`.
    Both,
    DefaultsOnly,
}

pub(crate) type ScalarFn = fn(&mut Draft, &mut Args) -> Result<(), Diagnostic>;
pub(crate) type ListFn = fn(&mut Args) -> Result<ListValue, Diagnostic>;

/// How the values are turned into fields; the variant also says scalar or list.
#[derive(Clone, Copy)]
pub(crate) enum Parser {
    /// Set once per entry (a second assignment is ignored, first wins); only `=`.
    Scalar(ScalarFn),
    /// Edited by `=`, `+=`, `-=`; the service's list starts from the `defaults` list.
    List(ListFn),
}

pub(crate) struct AttrDef {
    pub name: &'static str,
    pub scope: Scope,
    pub ops: &'static [Op],
    pub min: usize,
    pub max: usize,
    pub parser: Parser,
}

/// No upper bound on the value count.
pub(crate) const MANY: usize = usize::MAX;
const SET: &[Op] = &[Op::Set];
const ALL: &[Op] = &[Op::Set, Op::Add, Op::Remove];
const NO_REMOVE: &[Op] = &[Op::Set, Op::Add];

const fn scalar(name: &'static str, scope: Scope, min: usize, max: usize, f: ScalarFn) -> AttrDef {
    AttrDef {
        name,
        scope,
        ops: SET,
        min,
        max,
        parser: Parser::Scalar(f),
    }
}

const fn list(name: &'static str, scope: Scope, ops: &'static [Op], f: ListFn) -> AttrDef {
    AttrDef {
        name,
        scope,
        ops,
        min: 0,
        max: MANY,
        parser: Parser::List(f),
    }
}

use Scope::{Both, DefaultsOnly, Service};

/// Every attribute of xinetd.conf(5) that superd implements.
pub(crate) static ATTRS: &[AttrDef] = &[
    scalar("id", Service, 1, 1, id),
    scalar("type", Service, 1, MANY, service_type),
    scalar("flags", Service, 1, MANY, flags),
    scalar("disable", Service, 1, 1, disable),
    scalar("socket_type", Service, 1, 1, socket_type),
    scalar("protocol", Service, 1, 1, protocol),
    scalar("wait", Service, 1, 1, wait),
    scalar("user", Service, 1, 1, user),
    scalar("group", Service, 1, 1, group),
    scalar("groups", Both, 1, 1, groups),
    scalar("server", Service, 1, 1, server),
    scalar("server_args", Service, 1, MANY, server_args),
    scalar("instances", Both, 1, 1, instances),
    scalar("per_source", Both, 1, 1, per_source),
    scalar("cps", Both, 2, 2, cps),
    scalar("max_load", Both, 1, 1, max_load),
    scalar("nice", Service, 1, 1, nice),
    scalar("umask", Both, 1, 1, umask),
    scalar("rlimit_as", Service, 1, 1, rlimit_as),
    scalar("rlimit_cpu", Service, 1, 1, rlimit_cpu),
    scalar("rlimit_data", Service, 1, 1, rlimit_data),
    scalar("rlimit_files", Service, 1, 1, rlimit_files),
    scalar("rlimit_rss", Service, 1, 1, rlimit_rss),
    scalar("rlimit_stack", Service, 1, 1, rlimit_stack),
    scalar("port", Service, 1, 1, port),
    scalar("bind", Both, 1, 1, bind),
    scalar("v6only", Both, 1, 1, v6only),
    scalar("redirect", Service, 2, 2, redirect),
    scalar("banner", Both, 1, 1, banner),
    scalar("banner_success", Both, 1, 1, banner_success),
    scalar("banner_fail", Both, 1, 1, banner_fail),
    list("only_from", Both, ALL, only_from),
    list("no_access", Both, ALL, no_access),
    scalar("access_times", Service, 1, MANY, access_times),
    scalar("log_type", Both, 2, 4, log_type),
    list("log_on_success", Both, ALL, log_on_success),
    list("log_on_failure", Both, ALL, log_on_failure),
    list("env", Service, NO_REMOVE, env),
    list("passenv", Both, ALL, passenv),
    scalar("rpc_version", Service, 1, 1, rpc_version),
    scalar("rpc_number", Service, 1, 1, rpc_number),
    scalar("deny_time", Service, 1, 1, deny_time),
    scalar("libwrap", Service, 1, 1, libwrap),
    // superd's own (not in xinetd.conf(5)).
    scalar("on_limit", Both, 1, 1, on_limit),
    list("disabled", DefaultsOnly, ALL, disabled),
    list("enabled", DefaultsOnly, ALL, enabled),
];

/// Other names for a row.
const ALIASES: &[(&str, &str)] = &[("interface", "bind")];

/// Attributes xinetd.conf(5) lists that are recognised but not implemented, and why.
pub(crate) const UNSUPPORTED: &[(&str, &str)] =
    &[("mdns", "xinetd 2.3.15.1 removed mDNS registration")];

/// The row index and row for `name` (case-insensitive, aliases included).
pub(crate) fn lookup(name: &str) -> Option<(usize, &'static AttrDef)> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, target)| target);
    ATTRS
        .iter()
        .enumerate()
        .find(|(_, a)| a.name.eq_ignore_ascii_case(name))
}

/// The attribute name closest to a misspelt `name`, if one is close enough to be a typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let limit = if name.len() <= 4 { 1 } else { 2 };
    ATTRS
        .iter()
        .map(|a| a.name)
        .chain(ALIASES.iter().map(|(alias, _)| *alias))
        .map(|candidate| (edit_distance(&name, candidate), candidate))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// One entry's own values, before `defaults` are merged in.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    pub decl: ServiceDecl,
    /// `disable = yes|no` (not part of the model: a disabled service never reaches it).
    pub disable: Option<bool>,
}

/// The values of one assignment, and where they are.
pub(crate) struct Args<'a, 't> {
    /// The attribute name, lower-cased as written (`interface` stays `interface`).
    pub attr: &'a str,
    pub file: &'a Arc<str>,
    pub line: u32,
    pub name_col: u32,
    pub values: &'a [Token<'t>],
    /// Warnings a parser wants to report while still accepting the value.
    pub warnings: &'a mut Vec<Diagnostic>,
}

impl<'t> Args<'_, 't> {
    pub(crate) fn span_at(&self, col: u32) -> Span {
        Span {
            file: self.file.clone(),
            line: self.line,
            col,
        }
    }
    pub(crate) fn span(&self, i: usize) -> Span {
        self.span_at(self.values[i].col)
    }
    pub(crate) fn name_span(&self) -> Span {
        self.span_at(self.name_col)
    }
    /// The span of the first value, or of the name when there is none.
    fn first_span(&self) -> Span {
        self.values
            .first()
            .map_or_else(|| self.name_span(), |v| self.span_at(v.col))
    }
    pub(crate) fn text(&self, i: usize) -> &'t str {
        self.values[i].text
    }
    fn texts(&self) -> impl Iterator<Item = &'t str> + '_ {
        self.values.iter().map(|v| v.text)
    }
    /// `invalid value 'X' for ATTR: EXPECTED`, pointing at value `i`.
    pub(crate) fn invalid(&self, i: usize, expected: &str) -> Diagnostic {
        Diagnostic::error(
            Some(self.span(i)),
            format!(
                "invalid value '{}' for {}: {expected}",
                self.text(i),
                self.attr
            ),
        )
    }
    fn string(&self) -> Spanned<String> {
        Spanned::new(self.text(0).to_owned(), self.span(0))
    }
    fn path(&self) -> Spanned<PathBuf> {
        Spanned::new(PathBuf::from(self.text(0)), self.span(0))
    }
    fn yes_no(&self, i: usize) -> Result<bool, Diagnostic> {
        values::yes_no(self.text(i)).ok_or_else(|| self.invalid(i, "expected yes or no"))
    }
    fn number<T: std::str::FromStr>(&self, i: usize, expected: &str) -> Result<T, Diagnostic> {
        values::number(self.text(i)).ok_or_else(|| self.invalid(i, expected))
    }
    /// Value `i` looked up case-insensitively in `table`.
    fn keyword<T: Copy>(&self, i: usize, table: &[(&str, T)]) -> Result<T, Diagnostic> {
        let word = self.text(i);
        match table
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
        {
            Some((_, value)) => Ok(*value),
            None => Err(self.invalid(i, &format!("expected {}", one_of(table)))),
        }
    }
}

/// "a, b or c" from a keyword table.
fn one_of<T>(table: &[(&str, T)]) -> String {
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Keyword -> setter of one flag in a flag set.
type FlagTable<T> = &'static [(&'static str, fn(&mut T))];

/// Every value of `a` looked up in `table`, each entry a setter on `T`.
fn flag_set<T: Default>(a: &Args, table: FlagTable<T>) -> Result<T, Diagnostic> {
    let mut set = T::default();
    for i in 0..a.values.len() {
        a.keyword(i, table)?(&mut set);
    }
    Ok(set)
}

type R = Result<(), Diagnostic>;

fn id(d: &mut Draft, a: &mut Args) -> R {
    d.decl.id = a.text(0).to_owned();
    Ok(())
}

const TYPES: FlagTable<TypeFlags> = &[
    ("RPC", |t| t.rpc = true),
    ("INTERNAL", |t| t.internal = true),
    ("UNLISTED", |t| t.unlisted = true),
    ("TCPMUX", |t| t.tcpmux = true),
    ("TCPMUXPLUS", |t| t.tcpmuxplus = true),
];

fn service_type(d: &mut Draft, a: &mut Args) -> R {
    d.decl.r#type = Some(Spanned::new(flag_set(a, TYPES)?, a.first_span()));
    Ok(())
}

const FLAGS: FlagTable<Flags> = &[
    ("REUSE", |f| f.reuse = true),
    ("INTERCEPT", |f| f.intercept = true),
    ("NORETRY", |f| f.noretry = true),
    ("IDONLY", |f| f.idonly = true),
    ("NAMEINARGS", |f| f.nameinargs = true),
    ("NODELAY", |f| f.nodelay = true),
    ("KEEPALIVE", |f| f.keepalive = true),
    ("NOLIBWRAP", |f| f.nolibwrap = true),
    ("SENSOR", |f| f.sensor = true),
    ("IPv4", |f| f.ipv4 = true),
    ("IPv6", |f| f.ipv6 = true),
    ("LABELED", |f| f.labeled = true),
];

fn flags(d: &mut Draft, a: &mut Args) -> R {
    d.decl.flags = Some(Spanned::new(flag_set(a, FLAGS)?, a.first_span()));
    Ok(())
}

fn disable(d: &mut Draft, a: &mut Args) -> R {
    d.disable = Some(a.yes_no(0)?);
    Ok(())
}

const SOCKET_TYPES: &[(&str, SocketType)] = &[
    ("stream", SocketType::Stream),
    ("dgram", SocketType::Dgram),
    ("raw", SocketType::Raw),
    ("seqpacket", SocketType::Seqpacket),
];

fn socket_type(d: &mut Draft, a: &mut Args) -> R {
    d.decl.socket_type = Some(Spanned::new(a.keyword(0, SOCKET_TYPES)?, a.span(0)));
    Ok(())
}

fn protocol(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    if !word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
    {
        return Err(a.invalid(
            0,
            "expected a protocol name from /etc/protocols, such as tcp",
        ));
    }
    d.decl.protocol = Some(Spanned::new(word.to_ascii_lowercase(), a.span(0)));
    Ok(())
}

fn wait(d: &mut Draft, a: &mut Args) -> R {
    d.decl.wait = Some(Spanned::new(a.yes_no(0)?, a.span(0)));
    Ok(())
}

fn user(d: &mut Draft, a: &mut Args) -> R {
    d.decl.user = Some(a.string());
    Ok(())
}

fn group(d: &mut Draft, a: &mut Args) -> R {
    d.decl.group = Some(a.string());
    Ok(())
}

fn groups(d: &mut Draft, a: &mut Args) -> R {
    d.decl.groups = Some(a.yes_no(0)?);
    Ok(())
}

fn server(d: &mut Draft, a: &mut Args) -> R {
    d.decl.server = Some(a.string());
    Ok(())
}

fn server_args(d: &mut Draft, a: &mut Args) -> R {
    let args = a.texts().map(str::to_owned).collect();
    d.decl.server_args = Some(Spanned::new(args, a.span(0)));
    Ok(())
}

fn limit(a: &Args) -> Result<Limit, Diagnostic> {
    if a.text(0).eq_ignore_ascii_case("UNLIMITED") {
        return Ok(Limit::Unlimited);
    }
    a.number(0, "expected a non-negative whole number or UNLIMITED")
        .map(Limit::Max)
}

fn instances(d: &mut Draft, a: &mut Args) -> R {
    d.decl.instances = Some(limit(a)?);
    Ok(())
}

fn per_source(d: &mut Draft, a: &mut Args) -> R {
    d.decl.per_source = Some(limit(a)?);
    Ok(())
}

fn cps(d: &mut Draft, a: &mut Args) -> R {
    let rate = a.number(
        0,
        "expected the number of connections per second (a whole number)",
    )?;
    let pause = a.number(
        1,
        "expected the seconds to wait before re-enabling (a whole number)",
    )?;
    d.decl.cps = Some((rate, pause));
    Ok(())
}

fn max_load(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match word.parse::<f64>() {
        Ok(load) if plain && load.is_finite() && load > 0.0 => {
            d.decl.max_load = Some(load);
            Ok(())
        }
        _ => Err(a.invalid(
            0,
            "expected a load average greater than 0, such as 2 or 2.5",
        )),
    }
}

fn nice(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    let value = values::number::<i32>(digits)
        .map(|n| if negative { -n } else { n })
        .filter(|n| (-20..=19).contains(n))
        .ok_or_else(|| a.invalid(0, "expected a whole number from -20 to 19"))?;
    d.decl.nice = Some(Spanned::new(value, a.span(0)));
    Ok(())
}

fn umask(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    let octal = !word.is_empty() && word.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(word, 8) {
        Ok(mask) if octal && mask <= 0o777 => {
            d.decl.umask = Some(mask);
            Ok(())
        }
        _ => Err(a.invalid(0, "expected an octal number from 0 to 0777, such as 022")),
    }
}

fn rlimit(a: &Args, suffixes: bool) -> Result<RlimitValue, Diagnostic> {
    let word = a.text(0);
    if word.eq_ignore_ascii_case("UNLIMITED") {
        return Ok(RlimitValue::Unlimited);
    }
    let (value, expected) = if suffixes {
        (
            values::size(word),
            "expected a number (K and M suffixes allowed) or UNLIMITED",
        )
    } else {
        (
            values::number(word),
            "expected a number of seconds or UNLIMITED",
        )
    };
    value
        .map(RlimitValue::Value)
        .ok_or_else(|| a.invalid(0, expected))
}

fn rlimit_as(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_as = Some(rlimit(a, true)?);
    Ok(())
}

fn rlimit_cpu(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_cpu = Some(rlimit(a, false)?);
    Ok(())
}

fn rlimit_data(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_data = Some(rlimit(a, true)?);
    Ok(())
}

fn rlimit_files(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_files = Some(rlimit(a, true)?);
    Ok(())
}

fn rlimit_rss(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_rss = Some(rlimit(a, true)?);
    Ok(())
}

fn rlimit_stack(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rlimit_stack = Some(rlimit(a, true)?);
    Ok(())
}

fn port(d: &mut Draft, a: &mut Args) -> R {
    let port = a.number(0, "expected a port number from 0 to 65535")?;
    d.decl.port = Some(Spanned::new(port, a.span(0)));
    Ok(())
}

fn bind(d: &mut Draft, a: &mut Args) -> R {
    values::host(a.text(0)).map_err(|e| a.invalid(0, e))?;
    d.decl.bind = Some(a.string());
    Ok(())
}

fn v6only(d: &mut Draft, a: &mut Args) -> R {
    d.decl.v6only = Some(a.yes_no(0)?);
    Ok(())
}

fn redirect(d: &mut Draft, a: &mut Args) -> R {
    values::host(a.text(0)).map_err(|e| a.invalid(0, e))?;
    values::port_or_service(a.text(1)).map_err(|e| a.invalid(1, e))?;
    let target = (a.text(0).to_owned(), a.text(1).to_owned());
    d.decl.redirect = Some(Spanned::new(target, a.span(0)));
    Ok(())
}

fn banner(d: &mut Draft, a: &mut Args) -> R {
    d.decl.banner = Some(a.path());
    Ok(())
}

fn banner_success(d: &mut Draft, a: &mut Args) -> R {
    d.decl.banner_success = Some(a.path());
    Ok(())
}

fn banner_fail(d: &mut Draft, a: &mut Args) -> R {
    d.decl.banner_fail = Some(a.path());
    Ok(())
}

fn access_times(d: &mut Draft, a: &mut Args) -> R {
    let mut windows = Vec::with_capacity(a.values.len());
    for i in 0..a.values.len() {
        windows.push(values::time_window(a.text(i)).map_err(|e| a.invalid(i, e))?);
    }
    d.decl.access_times = Some(windows);
    Ok(())
}

fn log_type(d: &mut Draft, a: &mut Args) -> R {
    let kind = a.text(0);
    let log = if kind.eq_ignore_ascii_case("SYSLOG") {
        if a.values.len() > 3 {
            return Err(Diagnostic::error(
                Some(a.span(3)),
                "too many values for log_type SYSLOG: expected a facility and an optional level",
            ));
        }
        let facility = Facility::from_name(a.text(1)).ok_or_else(|| {
            let expected = "expected a syslog facility: daemon, auth, authpriv, user, mail, \
                            lpr, news, uucp, ftp or local0 to local7";
            a.invalid(1, expected)
        })?;
        let level = match a.values.get(2) {
            None => Level::Info,
            Some(_) => Level::from_name(a.text(2)).ok_or_else(|| {
                let expected = "expected a syslog level: emerg, alert, crit, err, warning, \
                                notice, info or debug";
                a.invalid(2, expected)
            })?,
        };
        LogType::Syslog { facility, level }
    } else if kind.eq_ignore_ascii_case("FILE") {
        let size = |i: usize| -> Result<Option<u64>, Diagnostic> {
            match a.values.get(i) {
                None => Ok(None),
                Some(v) => values::size(v.text).map(Some).ok_or_else(|| {
                    a.invalid(i, "expected a size in bytes (K and M suffixes allowed)")
                }),
            }
        };
        let soft = size(2)?;
        let hard = size(3)?.or(soft.map(values::default_hard_limit));
        LogType::File {
            path: PathBuf::from(a.text(1)),
            soft,
            hard,
        }
    } else {
        return Err(a.invalid(0, "expected SYSLOG or FILE"));
    };
    d.decl.log_type = Some(Spanned::new(log, a.span(0)));
    Ok(())
}

fn rpc_version(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    let (low, high) = word.split_once('-').unwrap_or((word, word));
    match (values::number::<u32>(low), values::number::<u32>(high)) {
        (Some(low), Some(high)) if low <= high => {
            d.decl.rpc_version = Some((low, high));
            Ok(())
        }
        _ => Err(a.invalid(0, "expected a version number or a range such as 2-4")),
    }
}

fn rpc_number(d: &mut Draft, a: &mut Args) -> R {
    d.decl.rpc_number = Some(a.number(0, "expected an RPC program number")?);
    Ok(())
}

fn deny_time(d: &mut Draft, a: &mut Args) -> R {
    let word = a.text(0);
    let deny = if word.eq_ignore_ascii_case("FOREVER") {
        DenyTime::Forever
    } else if word.eq_ignore_ascii_case("NEVER") {
        DenyTime::Never
    } else {
        DenyTime::Minutes(a.number(0, "expected a number of minutes, FOREVER or NEVER")?)
    };
    d.decl.deny_time = Some(deny);
    Ok(())
}

fn on_limit(d: &mut Draft, a: &mut Args) -> R {
    d.decl.on_limit = Some(match a.text(0).to_ascii_lowercase().as_str() {
        "close" => OnLimit::Close,
        "defer" => OnLimit::Defer,
        _ => return Err(a.invalid(0, "expected close or defer")),
    });
    Ok(())
}

fn libwrap(d: &mut Draft, a: &mut Args) -> R {
    d.decl.libwrap = Some(a.text(0).to_owned());
    Ok(())
}

/// The parsed values of one list assignment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ListValue {
    OnlyFrom(Vec<Spanned<String>>),
    NoAccess(Vec<Spanned<String>>),
    LogOnSuccess(SuccessFlags),
    LogOnFailure(FailureFlags),
    Env(Vec<String>),
    Passenv(Vec<String>),
    Disabled(Vec<String>),
    Enabled(Vec<String>),
}

fn addresses(a: &Args) -> Result<Vec<Spanned<String>>, Diagnostic> {
    let mut list = Vec::with_capacity(a.values.len());
    for i in 0..a.values.len() {
        values::address_entry(a.text(i)).map_err(|e| a.invalid(i, e))?;
        list.push(Spanned::new(a.text(i).to_owned(), a.span(i)));
    }
    Ok(list)
}

fn only_from(a: &mut Args) -> Result<ListValue, Diagnostic> {
    addresses(a).map(ListValue::OnlyFrom)
}

fn no_access(a: &mut Args) -> Result<ListValue, Diagnostic> {
    addresses(a).map(ListValue::NoAccess)
}

const SUCCESS: FlagTable<SuccessFlags> = &[
    ("PID", |f| f.pid = true),
    ("HOST", |f| f.host = true),
    ("USERID", |f| f.userid = true),
    ("EXIT", |f| f.exit = true),
    ("DURATION", |f| f.duration = true),
    ("TRAFFIC", |f| f.traffic = true),
];

fn log_on_success(a: &mut Args) -> Result<ListValue, Diagnostic> {
    flag_set(a, SUCCESS).map(ListValue::LogOnSuccess)
}

const FAILURE: FlagTable<FailureFlags> = &[
    ("HOST", |f| f.host = true),
    ("USERID", |f| f.userid = true),
    ("ATTEMPT", |f| f.attempt = true),
];

fn log_on_failure(a: &mut Args) -> Result<ListValue, Diagnostic> {
    let mut set = FailureFlags::default();
    for i in 0..a.values.len() {
        if a.text(i).eq_ignore_ascii_case("RECORD") {
            let message = "RECORD is obsolete (xinetd 2.3.11 removed it) and is ignored";
            a.warnings
                .push(Diagnostic::warning(Some(a.span(i)), message));
            continue;
        }
        a.keyword(i, FAILURE)?(&mut set);
    }
    Ok(ListValue::LogOnFailure(set))
}

fn env(a: &mut Args) -> Result<ListValue, Diagnostic> {
    for i in 0..a.values.len() {
        if !matches!(a.text(i).split_once('='), Some((name, _)) if !name.is_empty()) {
            return Err(a.invalid(i, "expected NAME=value"));
        }
    }
    Ok(ListValue::Env(a.texts().map(str::to_owned).collect()))
}

fn passenv(a: &mut Args) -> Result<ListValue, Diagnostic> {
    for i in 0..a.values.len() {
        if a.text(i).contains('=') {
            return Err(a.invalid(i, "expected a variable name (without '=')"));
        }
    }
    Ok(ListValue::Passenv(a.texts().map(str::to_owned).collect()))
}

fn disabled(a: &mut Args) -> Result<ListValue, Diagnostic> {
    Ok(ListValue::Disabled(a.texts().map(str::to_owned).collect()))
}

fn enabled(a: &mut Args) -> Result<ListValue, Diagnostic> {
    Ok(ListValue::Enabled(a.texts().map(str::to_owned).collect()))
}

/// The `defaults`-only lists of service ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct IdLists {
    pub disabled: Vec<String>,
    /// `None` when `enabled` was never written (everything is enabled).
    pub enabled: Option<Vec<String>>,
}

/// Apply one list assignment: `=` replaces, `+=` extends, `-=` removes.
pub(crate) fn apply_list(decl: &mut ServiceDecl, ids: &mut IdLists, op: Op, value: &ListValue) {
    let same_host =
        |a: &Spanned<String>, b: &Spanned<String>| a.value.eq_ignore_ascii_case(&b.value);
    let same = |a: &String, b: &String| a == b;
    match value {
        ListValue::OnlyFrom(items) => edit(&mut decl.only_from, op, items, same_host),
        ListValue::NoAccess(items) => edit(&mut decl.no_access, op, items, same_host),
        ListValue::LogOnSuccess(v) => {
            let f = &mut decl.log_on_success;
            for (cur, new) in [
                (&mut f.pid, v.pid),
                (&mut f.host, v.host),
                (&mut f.userid, v.userid),
                (&mut f.exit, v.exit),
                (&mut f.duration, v.duration),
                (&mut f.traffic, v.traffic),
            ] {
                edit_flag(cur, op, new);
            }
        }
        ListValue::LogOnFailure(v) => {
            let f = &mut decl.log_on_failure;
            for (cur, new) in [
                (&mut f.host, v.host),
                (&mut f.userid, v.userid),
                (&mut f.attempt, v.attempt),
            ] {
                edit_flag(cur, op, new);
            }
        }
        ListValue::Env(items) => {
            let mut env = Some(std::mem::take(&mut decl.env));
            edit(&mut env, op, items, same);
            decl.env = env.unwrap_or_default();
        }
        ListValue::Passenv(items) => edit(&mut decl.passenv, op, items, same),
        ListValue::Disabled(items) => {
            let mut list = Some(std::mem::take(&mut ids.disabled));
            edit(&mut list, op, items, same);
            ids.disabled = list.unwrap_or_default();
        }
        ListValue::Enabled(items) => edit(&mut ids.enabled, op, items, same),
    }
}

fn edit<T: Clone>(list: &mut Option<Vec<T>>, op: Op, items: &[T], same: impl Fn(&T, &T) -> bool) {
    match op {
        Op::Set => *list = Some(items.to_vec()),
        Op::Add => list.get_or_insert_with(Vec::new).extend_from_slice(items),
        Op::Remove => {
            if let Some(list) = list {
                list.retain(|x| !items.iter().any(|y| same(x, y)));
            }
        }
    }
}

fn edit_flag(cur: &mut bool, op: Op, value: bool) {
    match op {
        Op::Set => *cur = value,
        Op::Add => *cur |= value,
        Op::Remove => *cur &= !value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique_lower_case_and_sane() {
        for (i, a) in ATTRS.iter().enumerate() {
            assert_eq!(a.name, a.name.to_ascii_lowercase());
            assert!(a.min <= a.max, "{}", a.name);
            assert!(
                ATTRS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            assert_eq!(lookup(a.name).map(|(j, _)| j), Some(i));
            // Only list attributes take += and -=.
            assert_eq!(
                matches!(a.parser, Parser::Scalar(_)),
                a.ops == SET,
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn table_covers_the_man_page() {
        let man = "id type flags disable socket_type protocol wait user group groups server \
                   server_args instances per_source cps max_load nice umask rlimit_as rlimit_cpu \
                   rlimit_data rlimit_files rlimit_rss rlimit_stack port bind interface v6only \
                   redirect banner banner_success banner_fail only_from no_access access_times \
                   log_type log_on_success log_on_failure env passenv rpc_version rpc_number \
                   deny_time libwrap disabled enabled";
        for name in man.split_whitespace() {
            assert!(lookup(name).is_some(), "{name}");
        }
        // `interface` is an alias; `on_limit` is superd's own.
        assert_eq!(ATTRS.len(), man.split_whitespace().count() - 1 + 1);
    }

    #[test]
    fn defaults_scope_matches_xinetd() {
        let in_defaults: Vec<&str> = ATTRS
            .iter()
            .filter(|a| a.scope != Scope::Service)
            .map(|a| a.name)
            .collect();
        assert_eq!(
            in_defaults,
            [
                "groups",
                "instances",
                "per_source",
                "cps",
                "max_load",
                "umask",
                "bind",
                "v6only",
                "banner",
                "banner_success",
                "banner_fail",
                "only_from",
                "no_access",
                "log_type",
                "log_on_success",
                "log_on_failure",
                "passenv",
                "on_limit",
                "disabled",
                "enabled"
            ]
        );
    }

    #[test]
    fn lookup_knows_aliases() {
        assert_eq!(
            lookup("Socket_Type").map(|(_, a)| a.name),
            Some("socket_type")
        );
        assert_eq!(lookup("INTERFACE").map(|(_, a)| a.name), Some("bind"));
        assert!(lookup("mdns").is_none());
        assert!(lookup("frobnicate").is_none());
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("sever"), Some("server"));
        assert_eq!(suggest("wiat"), Some("wait"));
        assert_eq!(suggest("SOCKET-TYPE"), Some("socket_type"));
        assert_eq!(suggest("only-from"), Some("only_from"));
        assert_eq!(suggest("interfac"), Some("interface"));
        assert_eq!(suggest("frobnicate"), None);
        assert_eq!(suggest("xy"), None);
    }

    #[test]
    fn one_of_lists_choices() {
        assert_eq!(one_of(SOCKET_TYPES), "stream, dgram, raw or seqpacket");
        assert_eq!(one_of(&[("a", ())]), "a");
    }

    #[test]
    fn list_edits() {
        let mut decl = ServiceDecl::default();
        let mut ids = IdLists::default();
        let s = |v: &str| {
            Spanned::new(
                v.to_owned(),
                Span {
                    file: "f".into(),
                    line: 1,
                    col: 1,
                },
            )
        };
        apply_list(
            &mut decl,
            &mut ids,
            Op::Remove,
            &ListValue::OnlyFrom(vec![s("a")]),
        );
        assert_eq!(
            decl.only_from, None,
            "removing from an unset list keeps it unset"
        );
        apply_list(
            &mut decl,
            &mut ids,
            Op::Add,
            &ListValue::OnlyFrom(vec![s("a"), s("B")]),
        );
        apply_list(
            &mut decl,
            &mut ids,
            Op::Remove,
            &ListValue::OnlyFrom(vec![s("b")]),
        );
        assert_eq!(decl.only_from, Some(vec![s("a")]));
        apply_list(&mut decl, &mut ids, Op::Set, &ListValue::OnlyFrom(vec![]));
        assert_eq!(decl.only_from, Some(vec![]));

        let pid = SuccessFlags {
            pid: true,
            ..Default::default()
        };
        let host = SuccessFlags {
            host: true,
            ..Default::default()
        };
        apply_list(&mut decl, &mut ids, Op::Add, &ListValue::LogOnSuccess(pid));
        apply_list(&mut decl, &mut ids, Op::Add, &ListValue::LogOnSuccess(host));
        apply_list(
            &mut decl,
            &mut ids,
            Op::Remove,
            &ListValue::LogOnSuccess(pid),
        );
        assert_eq!(decl.log_on_success, host);
        apply_list(&mut decl, &mut ids, Op::Set, &ListValue::LogOnSuccess(pid));
        assert_eq!(decl.log_on_success, pid);

        apply_list(
            &mut decl,
            &mut ids,
            Op::Add,
            &ListValue::Env(vec!["A=1".into()]),
        );
        apply_list(
            &mut decl,
            &mut ids,
            Op::Add,
            &ListValue::Env(vec!["B=2".into()]),
        );
        assert_eq!(decl.env, ["A=1", "B=2"]);
        apply_list(
            &mut decl,
            &mut ids,
            Op::Add,
            &ListValue::Enabled(vec!["x".into()]),
        );
        apply_list(
            &mut decl,
            &mut ids,
            Op::Add,
            &ListValue::Disabled(vec!["y".into()]),
        );
        assert_eq!(ids.enabled, Some(vec!["x".to_owned()]));
        assert_eq!(ids.disabled, ["y"]);
    }
}
