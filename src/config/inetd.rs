//! inetd.conf: classic one-line service entries -> the same [`Config`] the xinetd parser makes.
//!
//! ```text
//! text --lines (comments, continuations, `host:` defaults)--> entries of words
//!      --one entry, one dialect--> ServiceDecl per listen address  (or a Rejected + error)
//! ```
//!
//! Each entry becomes a [`ServiceDecl`] with xinetd's attributes filled in, so `table::build`
//! and the event loop serve it unchanged. The mapping, field by field:
//!
//! | inetd.conf | ServiceDecl |
//! |---|---|
//! | `host:` prefix, or the last `host:` line (`*` = any) | `bind` (one decl per address of a comma list) |
//! | service name | `name`, port from /etc/services at build time (as xinetd) |
//! | numeric service (`7777`) | `type = UNLISTED`, `port` |
//! | `name/1-3` with `rpc/tcp` | `type = RPC`, `rpc_version` (superd refuses RPC for now) |
//! | `tcpmux/NAME`, `tcpmux/+NAME` (FreeBSD, NetBSD) | `type = TCPMUX` / `TCPMUXPLUS`, name NAME |
//! | socket type | `socket_type` |
//! | `tcp4`, `tcp6`, `tcp46`, plain `tcp` | `protocol = tcp` and `flags`/`v6only`, see [`Dialect`] |
//! | `wait`, `nowait` | `wait = yes`, `no` |
//! | `user.group`, `user:group` | `user`, `group`, and `groups = yes` |
//! | `internal` | `type = INTERNAL` (built-in found by service name) |
//! | program and arguments (argv\[0\] first) | `server`, `flags = NAMEINARGS`, `server_args` |
//!
//! The rate and concurrency suffix of the wait field is the part whose meaning changes; see
//! [`Dialect`] for what each dialect means by it and what superd does instead.
//!
//! Ids: an entry's id is its service name; when that id is taken (the same name on another
//! protocol, or at another address), `name-PROTO` with PROTO the protocol as written (`/`
//! becomes `-`, so `rpc/udp` gives `rpc-udp`), then `name-PROTO-2`, `name-PROTO-3`, ... Ids are
//! the reload key, so they depend only on the file's content and order.
//!
//! Like the xinetd parser, this stage is pure apart from reading the file, never fails on
//! content, and reports each problem once as `file:line:col: error: ...`. A bad entry goes to
//! [`Config::rejected`] and the others load. Where an inetd quietly guesses (OpenBSD reads any
//! wait word other than `wait` as `nowait`), superd reports an error instead.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::model::{
    Config, Diagnostic, Flags, Limit, Rejected, ServiceDecl, SocketType, Span, Spanned, TypeFlags,
};
use super::{values, LoadError};

/// Which inetd's reading of inetd.conf to follow. The default is Debian's openbsd-inetd, the
/// inetd most Linux users have.
///
/// | | OpenBSD (Debian's openbsd-inetd) | FreeBSD | NetBSD |
/// |---|---|---|---|
/// | plain `tcp`/`udp` | IPv4 and IPv6 (Debian since 0.20221205; upstream: IPv4) | IPv4 | IPv4 |
/// | `tcp46`/`udp46` | one IPv6 socket taking v4-mapped clients | same | not accepted |
/// | wait suffix | `nowait.N`: N spawns per 60 s (default 256) | `nowait/C/R/P`: C children at once, R per client IP per minute, P children per client IP | `nowait.N` or `nowait:N`: N spawns per 60 s (default 40) |
/// | `host:` prefix and lines | yes | no (`-a` flag instead) | yes |
/// | `user` separator | `.` or `:` | `:` (or `.`), then `/login-class` | `:` (or `.`) |
/// | `,sndbuf=`/`,rcvbuf=` | yes | no | yes |
/// | `tcpmux/NAME` | no | yes | yes |
/// | quoted arguments | no | no | yes (`'...'`, `"..."`) |
/// | internal services | echo, discard, chargen, daytime, time | + tcpmux, auth | + tcpmux |
///
/// All three continue an entry on lines that start with a blank, and take `#` as a comment only
/// at the start of a line.
///
/// What superd does with the wait suffix: xinetd's model has no "N spawns per 60 s". The nearest
/// is `cps = N 600` (stop the service for ten minutes, as inetd does, when more than N arrive
/// within one second): superd then never stops a service that the inetd would have kept, but
/// it does not catch a slow loop of more than N spawns per minute either. superd also sets no
/// rate limit when the suffix is absent (the inetds default to 256 or 40). FreeBSD's suffix is
/// concurrency, which maps exactly: `instances = C`, `per_source = P`; its per-IP rate R has no
/// equivalent and is dropped with a warning. NetBSD's `socket-type,N` accept limit is
/// `instances = N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Debian's openbsd-inetd (0.20221205): plain `tcp` means IPv4 and IPv6.
    #[default]
    OpenBsd,
    /// FreeBSD's inetd (11 to 14).
    FreeBsd,
    /// NetBSD's inetd (positional notation; not the key-values notation).
    NetBsd,
}

impl Dialect {
    /// The names `--inetd-dialect` accepts, in the order error messages list them.
    pub const NAMES: &'static str = "openbsd, freebsd, netbsd";

    pub fn from_name(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "openbsd" => Some(Dialect::OpenBsd),
            "freebsd" => Some(Dialect::FreeBsd),
            "netbsd" => Some(Dialect::NetBsd),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenBsd => "openbsd",
            Dialect::FreeBsd => "freebsd",
            Dialect::NetBsd => "netbsd",
        }
    }

    fn has_host_prefix(self) -> bool {
        self != Dialect::FreeBsd
    }

    /// Built-in services this inetd has (superd may lack some; `table::build` says so).
    fn builtins(self) -> &'static [&'static str] {
        const BASE: &[&str] = &["echo", "discard", "chargen", "daytime", "time"];
        match self {
            Dialect::OpenBsd => BASE,
            Dialect::FreeBsd => &[
                "echo", "discard", "chargen", "daytime", "time", "tcpmux", "auth",
            ],
            Dialect::NetBsd => &["echo", "discard", "chargen", "daytime", "time", "tcpmux"],
        }
    }
}

/// Read the inetd.conf file `path` (pass an absolute path: the daemon resolves relative paths
/// against its start-up directory). Only an unreadable file is an error; problems inside it are
/// diagnostics, as in [`super::load`]. The file is recorded in [`Config::files`].
pub fn load_inetd(path: &Path, dialect: Dialect) -> Result<Config, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut config = parse_inetd(&text, &path.to_string_lossy(), dialect);
    config.files.push(path.to_path_buf());
    Ok(config)
}

/// Parse inetd.conf text as if read from a file named `file_name` (used in spans).
pub fn parse_inetd(text: &str, file_name: &str, dialect: Dialect) -> Config {
    let file: Arc<str> = Arc::from(file_name);
    let mut parser = Parser {
        dialect,
        file: file.clone(),
        config: Config::default(),
        ids: HashSet::new(),
        default_host: None,
    };
    for entry in entries(text, dialect == Dialect::NetBsd) {
        parser.entry(&entry);
    }
    parser.config
}

/// Add the services of `inetd` (from [`load_inetd`]) after those of `main` (the xinetd
/// configuration), giving them `main`'s `defaults` as xinetd's `-inetd_compat` does: the
/// `defaults` lists (`only_from`, `no_access`, `log_on_*`, `passenv`) and every `defaults` scalar
/// the entry did not set (`instances`, `bind`, `log_type`, ...). An inetd id already used in
/// `main` gets `-inetd` appended (then `-inetd-2`, ...), so both services reach `table::build`,
/// which reports any port clash between them. Diagnostics, rejected entries and files are
/// appended in order.
pub fn merge_into(main: &mut Config, inetd: Config) {
    let mut taken: HashSet<String> = main
        .services
        .iter()
        .map(|s| s.id.clone())
        .chain(main.rejected.iter().map(|r| r.id.clone()))
        .collect();
    let mut rename = |id: &mut String| {
        if taken.contains(id.as_str()) {
            let base = format!("{id}-inetd");
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            *id = candidate;
        }
        taken.insert(id.clone());
    };
    for mut decl in inetd.services {
        rename(&mut decl.id);
        super::parser::inherit(&mut decl, &main.defaults);
        main.services.push(decl);
    }
    for mut rejected in inetd.rejected {
        rename(&mut rejected.id);
        main.rejected.push(rejected);
    }
    main.diagnostics.extend(inetd.diagnostics);
    main.files.extend(inetd.files);
}

/// One word of an entry and where it starts (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub line: u32,
    pub col: u32,
}

/// One logical entry: the words of a line and of the continuation lines after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub words: Vec<Word>,
    /// A word that opened a quote NetBSD-style and never closed it.
    pub unclosed_quote: Option<(u32, u32)>,
}

impl Entry {
    pub(crate) fn line(&self) -> u32 {
        self.words.first().map_or(0, |w| w.line)
    }
}

/// Split the text into entries: `#` in column 1 starts a comment line; a line that starts with
/// a blank continues the entry of the line above it (as every BSD inetd's `skip()` does) unless
/// a comment or a blank line came between; CR before LF is dropped. With `quotes`, `'...'` and
/// `"..."` group blanks into one word (NetBSD).
pub(crate) fn entries(text: &str, quotes: bool) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut open = false;
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with('#') || line.trim_matches([' ', '\t']).is_empty() {
            open = false;
            continue;
        }
        let continues = open && line.starts_with([' ', '\t']);
        if !continues {
            out.push(Entry {
                words: Vec::new(),
                unclosed_quote: None,
            });
        }
        open = true;
        if let Some(entry) = out.last_mut() {
            split_words(line, line_no, quotes, entry);
        }
    }
    out
}

fn split_words(line: &str, line_no: u32, quotes: bool, entry: &mut Entry) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\t' {
            i += 1;
            continue;
        }
        let col = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut text = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => text.push(c),
                None if c == ' ' || c == '\t' => break,
                None if quotes && (c == '"' || c == '\'') => quote = Some(c),
                None => text.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            entry.unclosed_quote = Some((line_no, col));
        }
        entry.words.push(Word {
            text,
            line: line_no,
            col,
        });
    }
}

/// What the protocol field asks for, address-family-wise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
    /// One IPv6 socket that also takes IPv4 clients as v4-mapped addresses (`tcp46`).
    V46,
    /// Debian's plain `tcp`: IPv4 and IPv6 (superd: one dual-stack socket).
    Both,
}

struct Parser {
    dialect: Dialect,
    file: Arc<str>,
    config: Config,
    ids: HashSet<String>,
    /// The address of the last `host:` line; `None` is `*`.
    default_host: Option<Spanned<String>>,
}

/// A problem that rejects the entry: where, and what.
type Fail = (Span, String);

impl Parser {
    fn span(&self, word: &Word) -> Span {
        Span {
            file: self.file.clone(),
            line: word.line,
            col: word.col,
        }
    }

    fn span_at(&self, word: &Word, offset: usize) -> Span {
        let mut span = self.span(word);
        let extra = word.text[..offset].chars().count();
        span.col = span.col.saturating_add(u32::try_from(extra).unwrap_or(0));
        span
    }

    fn warning(&mut self, span: Span, message: String) {
        self.config
            .diagnostics
            .push(Diagnostic::warning(Some(span), message));
    }

    /// The first free id of `name`, `name-PROTO`, `name-PROTO-2`, ...
    fn allocate_id(&mut self, name: &str, protocol: &str) -> String {
        let mut id = name.to_string();
        if self.ids.contains(&id) {
            let base = format!("{name}-{}", protocol.replace('/', "-"));
            id = base.clone();
            let mut n = 2;
            while self.ids.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
        }
        self.ids.insert(id.clone());
        id
    }

    fn entry(&mut self, entry: &Entry) {
        let Some(first) = entry.words.first() else {
            return;
        };
        // `host:` alone (or `host:` followed by nothing else): the default for later lines.
        if self.dialect.has_host_prefix() && entry.words.len() == 1 && first.text.ends_with(':') {
            let host = &first.text[..first.text.len() - 1];
            match self.host_list(first, host) {
                // Kept as written: a list gives each later entry one service per address.
                Ok(list) if list == [None] => self.default_host = None,
                Ok(_) => self.default_host = Some(Spanned::new(host.to_string(), self.span(first))),
                Err((span, message)) => self
                    .config
                    .diagnostics
                    .push(Diagnostic::error(Some(span), message)),
            }
            return;
        }
        let diagnostics_before = self.config.diagnostics.len();
        match self.decls(entry) {
            Ok(decls) => {
                for mut decl in decls {
                    let protocol = protocol_word(entry).unwrap_or_default();
                    decl.id = self.allocate_id(&decl.name, &protocol);
                    self.config.services.push(decl);
                }
            }
            Err((span, message)) => {
                // Warnings about an entry that is dropped anyway are noise.
                self.config.diagnostics.truncate(diagnostics_before);
                self.config
                    .diagnostics
                    .push(Diagnostic::error(Some(span.clone()), message));
                let name = service_name_guess(entry, self.dialect);
                let protocol = protocol_word(entry).unwrap_or_default();
                let id = self.allocate_id(&name, &protocol);
                self.config.rejected.push(Rejected {
                    name,
                    id,
                    span: self.span(first),
                });
            }
        }
    }

    /// Parse a comma list of listen addresses; `None` in the list is `*`.
    fn host_list(&self, word: &Word, list: &str) -> Result<Vec<Option<Spanned<String>>>, Fail> {
        let mut out = Vec::new();
        let mut offset = 0;
        for part in list.split(',') {
            let span = self.span_at(word, offset);
            offset += part.len() + 1;
            let host = part
                .strip_prefix('[')
                .and_then(|p| p.strip_suffix(']'))
                .unwrap_or(part);
            if host == "*" {
                out.push(None);
                continue;
            }
            if host.is_empty() {
                return Err((
                    span,
                    "empty listen address before ':' (use '*' for all addresses)".into(),
                ));
            }
            if let Err(e) = values::host(host) {
                return Err((span, format!("invalid listen address '{host}': {e}")));
            }
            out.push(Some(Spanned::new(host.to_string(), span)));
        }
        Ok(out)
    }

    fn decls(&mut self, entry: &Entry) -> Result<Vec<ServiceDecl>, Fail> {
        if let Some((line, col)) = entry.unclosed_quote {
            let span = Span {
                file: self.file.clone(),
                line,
                col,
            };
            return Err((span, "unclosed quote".into()));
        }
        let words = &entry.words;
        let first = &words[0];

        // Field 1: [host:]service.
        let mut fields: Vec<&Word> = words.iter().collect();
        let mut hosts: Vec<Option<Spanned<String>>> = match &self.default_host {
            None => vec![None],
            Some(h) => {
                let span_word = Word {
                    text: h.value.clone(),
                    line: h.span.line,
                    col: h.span.col,
                };
                self.host_list(&span_word, &h.value)?
            }
        };
        let mut service_word = first.clone();
        if let Some(colon) = first.text.rfind(':') {
            if !self.dialect.has_host_prefix() {
                return Err((
                    self.span(first),
                    format!(
                        "'{}': FreeBSD's inetd.conf has no 'host:' prefix, and UNIX-domain \
                         services are not supported by superd",
                        first.text
                    ),
                ));
            }
            hosts = self.host_list(first, &first.text[..colon])?;
            let rest = &first.text[colon + 1..];
            if rest.is_empty() {
                // `host: service ...`: the service is the next word.
                fields.remove(0);
                if let Some(w) = fields.first() {
                    service_word = (*w).clone();
                }
            } else {
                service_word = Word {
                    text: rest.to_string(),
                    line: first.line,
                    col: first.col
                        + u32::try_from(first.text[..=colon].chars().count()).unwrap_or(0),
                };
            }
        }
        if fields.len() < 6 {
            let last = fields.last().copied().unwrap_or(first);
            let mut span = self.span(last);
            span.col += u32::try_from(last.text.chars().count()).unwrap_or(0);
            let missing = [
                "socket type",
                "protocol",
                "wait/nowait",
                "user",
                "server program",
            ][fields.len() - 1];
            return Err((
                span,
                format!(
                    "incomplete entry: missing the {missing} (an inetd.conf entry is: service \
                     socket-type protocol wait|nowait user server-program [arguments])"
                ),
            ));
        }
        let (socket_word, protocol_word, wait_word, user_word, server_word) =
            (fields[1], fields[2], fields[3], fields[4], fields[5]);
        let args: Vec<&Word> = fields[6..].to_vec();

        let mut decl = ServiceDecl {
            span: Some(self.span(first)),
            ..ServiceDecl::default()
        };
        let mut type_flags = TypeFlags::default();
        let mut flags = Flags::default();

        // Field 3 first (the service field's meaning depends on rpc/): protocol[,options].
        let mut parts = protocol_word.text.split(',');
        let base = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut offset = base.len() + 1;
        for option in parts {
            let span = self.span_at(protocol_word, offset);
            offset += option.len() + 1;
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            if self.dialect == Dialect::FreeBsd || !matches!(key, "sndbuf" | "rcvbuf") {
                return Err((
                    span,
                    format!(
                        "unknown protocol option '{option}' (expected sndbuf=SIZE or rcvbuf=SIZE{})",
                        if self.dialect == Dialect::FreeBsd {
                            ", which FreeBSD does not have"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if values::size(value).is_none() {
                return Err((
                    span,
                    format!("invalid buffer size '{value}' in {key}: expected a number with an optional k or m suffix"),
                ));
            }
            self.warning(
                span,
                format!("{key} is not supported by superd: the listening socket keeps the system's buffer size"),
            );
        }
        let (rpc, ip) = match base.strip_prefix("rpc/") {
            Some(ip) => (true, ip),
            None => (false, base.as_str()),
        };
        let (proto, suffix) = if let Some(s) = ip.strip_prefix("tcp") {
            ("tcp", s)
        } else if let Some(s) = ip.strip_prefix("udp") {
            ("udp", s)
        } else {
            ("", ip)
        };
        let family = match (proto, suffix, self.dialect) {
            ("", _, _) => {
                let what = if ip == "unix" {
                    "UNIX-domain services are not supported by superd".to_string()
                } else {
                    "expected tcp, udp, tcp4, udp4, tcp6, udp6, tcp46, udp46, rpc/tcp or rpc/udp"
                        .to_string()
                };
                return Err((
                    self.span(protocol_word),
                    format!("unsupported protocol '{}': {what}", protocol_word.text),
                ));
            }
            (_, "", Dialect::OpenBsd) => Family::Both,
            (_, "", _) => Family::V4,
            (_, "4", _) => Family::V4,
            (_, "6", _) => Family::V6,
            (_, "46", Dialect::OpenBsd | Dialect::FreeBsd) => Family::V46,
            _ => {
                return Err((
                    self.span(protocol_word),
                    format!(
                        "unsupported protocol '{}' for the {} dialect",
                        protocol_word.text,
                        self.dialect.as_str()
                    ),
                ))
            }
        };
        decl.protocol = Some(Spanned::new(proto.to_string(), self.span(protocol_word)));
        match family {
            Family::V4 => flags.ipv4 = true,
            Family::V6 => {
                flags.ipv6 = true;
                decl.v6only = Some(true);
            }
            Family::V46 => {
                flags.ipv6 = true;
                decl.v6only = Some(false);
            }
            Family::Both => {
                flags.ipv4 = true;
                flags.ipv6 = true;
            }
        }

        // Field 1, the service itself.
        let service = service_word.text.as_str();
        if rpc {
            let Some((name, version)) = service.split_once('/') else {
                return Err((
                    self.span(&service_word),
                    format!("RPC service '{service}' has no version: write {service}/VERSION or {service}/LOW-HIGH"),
                ));
            };
            let (low, high) = version.split_once('-').unwrap_or((version, version));
            match (values::number::<u32>(low), values::number::<u32>(high)) {
                (Some(low), Some(high)) if low <= high && !name.is_empty() => {
                    decl.rpc_version = Some((low, high));
                }
                _ => {
                    return Err((
                        self.span_at(&service_word, name.len() + 1),
                        format!(
                            "bad RPC version '{version}': expected a number or a range such as 1-3"
                        ),
                    ))
                }
            }
            type_flags.rpc = true;
            decl.name = name.to_string();
        } else if let Some(mux) = service.strip_prefix("tcpmux/") {
            if self.dialect == Dialect::OpenBsd {
                return Err((
                    self.span(&service_word),
                    "tcpmux/ services are not part of openbsd-inetd (use --inetd-dialect freebsd or netbsd)".into(),
                ));
            }
            let (plus, name) = match mux.strip_prefix('+') {
                Some(name) => (true, name),
                None => (false, mux),
            };
            if name.is_empty() {
                return Err((
                    self.span(&service_word),
                    "tcpmux/ needs a service name".into(),
                ));
            }
            type_flags.tcpmux = !plus;
            type_flags.tcpmuxplus = plus;
            decl.name = name.to_string();
        } else if service.contains('/') {
            return Err((
                self.span(&service_word),
                format!("'{service}': a '/' in the service name is only for RPC services (protocol rpc/tcp or rpc/udp)"),
            ));
        } else if service.bytes().all(|b| b.is_ascii_digit()) {
            match values::number::<u16>(service) {
                Some(port) if port > 0 => {
                    type_flags.unlisted = true;
                    decl.port = Some(Spanned::new(port, self.span(&service_word)));
                    decl.name = service.to_string();
                }
                _ => {
                    return Err((
                        self.span(&service_word),
                        format!("port {service} is out of range: expected 1 to 65535"),
                    ))
                }
            }
        } else {
            decl.name = service.to_string();
        }

        // Field 2: socket type[,accept-max][:accept-filter] (the suffixes are NetBSD's).
        let mut socket_text = socket_word.text.as_str();
        if self.dialect == Dialect::NetBsd {
            if let Some((st, filter)) = socket_text.split_once(':') {
                socket_text = st;
                self.warning(
                    self.span_at(socket_word, st.len()),
                    format!("accept filter '{filter}' is not supported on Linux; ignored"),
                );
            }
            if let Some((st, max)) = socket_text.split_once(',') {
                socket_text = st;
                match values::number::<u32>(max) {
                    Some(n) => decl.instances = Some(Limit::Max(n)),
                    None => {
                        return Err((
                            self.span_at(socket_word, st.len() + 1),
                            format!("invalid accept limit '{max}': expected a whole number"),
                        ))
                    }
                }
            }
        }
        let socket_type = match socket_text {
            "stream" => SocketType::Stream,
            "dgram" => SocketType::Dgram,
            "raw" => SocketType::Raw,
            "seqpacket" => SocketType::Seqpacket,
            other => {
                return Err((
                    self.span(socket_word),
                    format!("unsupported socket type '{other}': expected stream or dgram"),
                ))
            }
        };
        decl.socket_type = Some(Spanned::new(socket_type, self.span(socket_word)));

        // Field 4: wait|nowait[suffix].
        let wait_text = wait_word.text.as_str();
        let separators: &[char] = match self.dialect {
            Dialect::OpenBsd => &['.'],
            Dialect::FreeBsd => &['/'],
            Dialect::NetBsd => &['.', ':'],
        };
        let (mode, suffix) = match wait_text.find(separators) {
            Some(at) => (&wait_text[..at], Some(&wait_text[at + 1..])),
            None => (wait_text, None),
        };
        let wait = match mode {
            "wait" => true,
            "nowait" => false,
            _ => {
                return Err((
                    self.span(wait_word),
                    format!(
                        "expected wait or nowait, found '{wait_text}'{}",
                        match self.dialect {
                            Dialect::OpenBsd => " (the openbsd dialect writes a limit as nowait.N)",
                            Dialect::FreeBsd =>
                                " (the freebsd dialect writes limits as nowait/N/N/N)",
                            Dialect::NetBsd =>
                                " (the netbsd dialect writes a limit as nowait.N or nowait:N)",
                        }
                    ),
                ))
            }
        };
        if let Some(suffix) = suffix {
            let suffix_span = self.span_at(wait_word, mode.len() + 1);
            let bad = |what: &str| -> Fail {
                (
                    suffix_span.clone(),
                    format!("invalid {what} '{suffix}' after {mode}: expected a whole number"),
                )
            };
            match self.dialect {
                Dialect::OpenBsd | Dialect::NetBsd => match values::number::<u32>(suffix) {
                    Some(n) if n >= 1 => decl.cps = Some((n, 600)),
                    _ => return Err(bad("maximum")),
                },
                Dialect::FreeBsd => {
                    let numbers: Vec<&str> = suffix.split('/').collect();
                    if numbers.len() > 3 {
                        return Err(bad("limits"));
                    }
                    let mut parsed = Vec::new();
                    for n in &numbers {
                        parsed.push(values::number::<u32>(n).ok_or_else(|| bad("limit"))?);
                    }
                    let limit = |n: u32| {
                        if n == 0 {
                            Limit::Unlimited
                        } else {
                            Limit::Max(n)
                        }
                    };
                    decl.instances = Some(limit(parsed[0]));
                    if let Some(&rate) = parsed.get(1) {
                        if rate != 0 {
                            self.warning(
                                suffix_span.clone(),
                                format!("at most {rate} connections per client address per minute: superd has no such limit; ignored"),
                            );
                        }
                    }
                    if let Some(&per_ip) = parsed.get(2) {
                        decl.per_source = Some(limit(per_ip));
                    }
                }
            }
        }

        // Field 5: user[.group|:group][/login-class].
        let mut user_text = user_word.text.as_str();
        if self.dialect == Dialect::FreeBsd {
            if let Some((u, class)) = user_text.split_once('/') {
                user_text = u;
                self.warning(
                    self.span_at(user_word, u.len()),
                    format!("login class '{class}' is not supported by superd; ignored"),
                );
            }
        }
        let split = match self.dialect {
            Dialect::OpenBsd => user_text.find('.').or_else(|| user_text.find(':')),
            Dialect::FreeBsd | Dialect::NetBsd => {
                user_text.find(':').or_else(|| user_text.find('.'))
            }
        };
        let (user, group) = match split {
            Some(at) => (&user_text[..at], Some(&user_text[at + 1..])),
            None => (user_text, None),
        };
        if user.is_empty() || group == Some("") {
            return Err((
                self.span(user_word),
                format!(
                    "invalid user '{}': expected user, user.group or user:group",
                    user_word.text
                ),
            ));
        }
        decl.user = Some(Spanned::new(user.to_string(), self.span(user_word)));
        if let Some(group) = group {
            decl.group = Some(Spanned::new(
                group.to_string(),
                self.span_at(user_word, user.len() + 1),
            ));
        }
        // inetd gives the server the user's supplementary groups (xinetd's groups = yes), with
        // the named group in place of the passwd one (openbsd-inetd's initgroups(user, group)).
        decl.groups = Some(true);
        decl.groups_from_group = decl.group.is_some();

        // Fields 6 and on: server program and its argv (argv[0] first).
        if server_word.text == "internal" {
            if !self.dialect.builtins().contains(&decl.name.as_str()) {
                return Err((
                    self.span(&service_word),
                    format!(
                        "internal service {} unknown (this inetd has {}; internal services are \
                         found by their official service name)",
                        decl.name,
                        self.dialect.builtins().join(", ")
                    ),
                ));
            }
            type_flags.internal = true;
        } else {
            decl.server = Some(Spanned::new(
                server_word.text.clone(),
                self.span(server_word),
            ));
            let (argv, span): (Vec<String>, Span) = match args.first() {
                Some(first_arg) => (
                    args.iter().map(|w| w.text.clone()).collect(),
                    self.span(first_arg),
                ),
                None => {
                    // As inetd: no arguments means argv[0] is the program's file name.
                    let base = server_word.text.rsplit('/').next().unwrap_or_default();
                    (vec![base.to_string()], self.span(server_word))
                }
            };
            for word in &args {
                if word.text.starts_with('#') {
                    self.warning(
                        self.span(word),
                        format!("'{}' is passed to the server as an argument; '#' starts a comment only at the beginning of a line", word.text),
                    );
                }
            }
            flags.nameinargs = true;
            decl.server_args = Some(Spanned::new(argv, span));
        }
        decl.wait = Some(Spanned::new(wait, self.span(wait_word)));

        if type_flags != TypeFlags::default() {
            let at = if type_flags.internal {
                server_word
            } else {
                &service_word
            };
            decl.r#type = Some(Spanned::new(type_flags, self.span(at)));
        }
        decl.flags = Some(Spanned::new(flags, self.span(protocol_word)));

        // One service per listen address.
        let mut out = Vec::new();
        for host in hosts {
            let mut one = decl.clone();
            if let Some(host) = host {
                if let Ok(ip) = host.value.parse::<IpAddr>() {
                    let fits = match family {
                        Family::V4 => ip.is_ipv4(),
                        Family::V6 | Family::V46 => ip.is_ipv6(),
                        Family::Both => true,
                    };
                    if !fits {
                        return Err((
                            host.span.clone(),
                            format!(
                                "listen address {} does not match protocol {}",
                                host.value, protocol_word.text
                            ),
                        ));
                    }
                }
                one.bind = Some(host);
            }
            out.push(one);
        }
        Ok(out)
    }
}

/// The protocol word as written (for ids), if the entry has one.
fn protocol_word(entry: &Entry) -> Option<String> {
    let skip = usize::from(entry.words.first().is_some_and(|w| w.text.ends_with(':')));
    entry
        .words
        .get(2 + skip)
        .map(|w| w.text.to_ascii_lowercase())
}

/// The service name of an entry that failed, for [`Rejected::name`].
fn service_name_guess(entry: &Entry, dialect: Dialect) -> String {
    let Some(first) = entry.words.first() else {
        return String::new();
    };
    let text = if dialect.has_host_prefix() {
        match first.text.rsplit_once(':') {
            Some((_, "")) => entry.words.get(1).map_or("", |w| w.text.as_str()),
            Some((_, rest)) => rest,
            None => first.text.as_str(),
        }
    } else {
        first.text.as_str()
    };
    text.split('/').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        parse_inetd(text, "inetd.conf", Dialect::OpenBsd)
    }

    fn messages(config: &Config) -> Vec<String> {
        config.diagnostics.iter().map(ToString::to_string).collect()
    }

    /// One line that must give exactly one service and no diagnostic.
    fn one(dialect: Dialect, line: &str) -> ServiceDecl {
        let config = parse_inetd(line, "inetd.conf", dialect);
        assert_eq!(messages(&config), Vec::<String>::new(), "{line}");
        assert_eq!(config.services.len(), 1, "{line}");
        config.services.into_iter().next().unwrap_or_default()
    }

    /// One line that must be rejected; its diagnostics.
    fn bad(dialect: Dialect, line: &str) -> Vec<String> {
        let config = parse_inetd(line, "inetd.conf", dialect);
        assert!(config.services.is_empty(), "accepted: {line}");
        assert_eq!(config.rejected.len(), 1, "{line}");
        messages(&config)
    }

    fn span(line: u32, col: u32) -> Span {
        Span {
            file: Arc::from("inetd.conf"),
            line,
            col,
        }
    }

    #[test]
    fn a_classic_line_maps_field_by_field() {
        let decl = one(
            Dialect::OpenBsd,
            "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/ftpd -l\n",
        );
        let expected = ServiceDecl {
            name: "ftp".into(),
            span: Some(span(1, 1)),
            id: "ftp".into(),
            r#type: None,
            flags: Some(Spanned::new(
                Flags {
                    nameinargs: true,
                    ipv4: true,
                    ipv6: true,
                    ..Flags::default()
                },
                span(1, 12),
            )),
            socket_type: Some(Spanned::new(SocketType::Stream, span(1, 5))),
            protocol: Some(Spanned::new("tcp".into(), span(1, 12))),
            wait: Some(Spanned::new(false, span(1, 16))),
            user: Some(Spanned::new("root".into(), span(1, 23))),
            groups: Some(true),
            server: Some(Spanned::new("/usr/sbin/tcpd".into(), span(1, 28))),
            server_args: Some(Spanned::new(
                vec!["/usr/sbin/ftpd".into(), "-l".into()],
                span(1, 43),
            )),
            ..ServiceDecl::default()
        };
        assert_eq!(decl, expected);
    }

    #[test]
    fn no_arguments_means_argv0_is_the_program_file_name() {
        let decl = one(
            Dialect::OpenBsd,
            "daytime stream tcp nowait root /usr/bin/date",
        );
        assert!(decl.flags().nameinargs);
        assert_eq!(
            decl.server_args.map(|a| a.value),
            Some(vec!["date".to_string()])
        );
    }

    #[test]
    fn numeric_service_is_unlisted_with_that_port() {
        let decl = one(
            Dialect::OpenBsd,
            "7777 stream tcp nowait nobody /bin/cat cat",
        );
        assert!(decl.type_flags().unlisted);
        assert_eq!(decl.port.map(|p| p.value), Some(7777));
        assert_eq!(decl.name, "7777");
        assert_eq!(
            bad(Dialect::OpenBsd, "70000 stream tcp nowait nobody /bin/cat"),
            ["inetd.conf:1:1: error: port 70000 is out of range: expected 1 to 65535"]
        );
    }

    #[test]
    fn named_service_leaves_the_port_to_etc_services() {
        let decl = one(
            Dialect::OpenBsd,
            "finger stream tcp nowait nobody /usr/sbin/fingerd fingerd",
        );
        assert_eq!(decl.port, None);
        assert_eq!(decl.r#type, None);
    }

    #[test]
    fn internal_services_are_found_by_name_and_take_no_server() {
        let decl = one(Dialect::OpenBsd, "echo dgram udp wait root internal");
        assert!(decl.type_flags().internal);
        assert_eq!(decl.server, None);
        assert_eq!(decl.server_args, None);
        assert!(!decl.flags().nameinargs);
        assert_eq!(decl.wait.map(|w| w.value), Some(true));
        assert_eq!(
            bad(Dialect::OpenBsd, "auth stream tcp nowait root internal"),
            [
                "inetd.conf:1:1: error: internal service auth unknown (this inetd has echo, \
              discard, chargen, daytime, time; internal services are found by their official \
              service name)"
            ]
        );
        // FreeBSD has auth built in; superd does not, which table::build reports.
        let decl = one(Dialect::FreeBsd, "auth stream tcp nowait root internal");
        assert!(decl.type_flags().internal);
    }

    #[test]
    fn protocols_choose_the_address_family_per_dialect() {
        let family = |dialect, proto: &str| {
            let d = one(
                dialect,
                &format!("echo stream {proto} nowait root internal"),
            );
            let f = d.flags();
            (f.ipv4, f.ipv6, d.v6only, d.protocol.map(|p| p.value))
        };
        let tcp = Some("tcp".to_string());
        let both = (true, true, None, tcp.clone());
        let v4 = (true, false, None, tcp.clone());
        let v6 = (false, true, Some(true), tcp.clone());
        let v46 = (false, true, Some(false), tcp.clone());
        assert_eq!(family(Dialect::OpenBsd, "tcp"), both);
        assert_eq!(family(Dialect::FreeBsd, "tcp"), v4);
        assert_eq!(family(Dialect::NetBsd, "tcp"), v4);
        for dialect in [Dialect::OpenBsd, Dialect::FreeBsd, Dialect::NetBsd] {
            assert_eq!(family(dialect, "tcp4"), v4);
            assert_eq!(family(dialect, "tcp6"), v6);
        }
        assert_eq!(family(Dialect::OpenBsd, "tcp46"), v46);
        assert_eq!(family(Dialect::FreeBsd, "tcp46"), v46);
        assert_eq!(
            bad(Dialect::NetBsd, "echo stream tcp46 nowait root internal"),
            ["inetd.conf:1:13: error: unsupported protocol 'tcp46' for the netbsd dialect"]
        );
        let udp = one(Dialect::OpenBsd, "echo dgram udp6 wait root internal");
        assert_eq!(udp.protocol.map(|p| p.value).as_deref(), Some("udp"));
        assert_eq!(
            bad(Dialect::OpenBsd, "x stream unix nowait root /bin/x"),
            [
                "inetd.conf:1:10: error: unsupported protocol 'unix': UNIX-domain services are \
              not supported by superd"
            ]
        );
    }

    #[test]
    fn rpc_lines_give_type_rpc_with_the_version_range() {
        let decl = one(
            Dialect::OpenBsd,
            "rusersd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rusersd rpc.rusersd",
        );
        assert_eq!(decl.name, "rusersd");
        assert!(decl.type_flags().rpc);
        assert_eq!(decl.rpc_version, Some((1, 3)));
        assert_eq!(decl.protocol.map(|p| p.value).as_deref(), Some("udp"));
        assert_eq!(
            one(Dialect::OpenBsd, "walld/1 dgram rpc/udp wait root /x x").rpc_version,
            Some((1, 1))
        );
        assert_eq!(
            bad(Dialect::OpenBsd, "walld dgram rpc/udp wait root /x"),
            [
                "inetd.conf:1:1: error: RPC service 'walld' has no version: write walld/VERSION \
              or walld/LOW-HIGH"
            ]
        );
        assert_eq!(
            bad(Dialect::OpenBsd, "walld/3-1 dgram rpc/udp wait root /x"),
            [
                "inetd.conf:1:7: error: bad RPC version '3-1': expected a number or a range such \
              as 1-3"
            ]
        );
    }

    #[test]
    fn openbsd_nowait_dot_max_becomes_cps_over_ten_minutes() {
        let decl = one(Dialect::OpenBsd, "7 stream tcp nowait.40 root /bin/cat");
        assert_eq!(decl.cps, Some((40, 600)));
        assert_eq!(decl.instances, None);
        assert_eq!(
            bad(Dialect::OpenBsd, "7 stream tcp nowait/40 root /bin/cat"),
            [
                "inetd.conf:1:14: error: expected wait or nowait, found 'nowait/40' (the openbsd \
              dialect writes a limit as nowait.N)"
            ]
        );
        assert_eq!(
            bad(Dialect::OpenBsd, "7 stream tcp wait.x root /bin/cat"),
            ["inetd.conf:1:19: error: invalid maximum 'x' after wait: expected a whole number"]
        );
    }

    #[test]
    fn netbsd_takes_a_dot_or_a_colon_and_an_accept_limit() {
        assert_eq!(
            one(Dialect::NetBsd, "7 stream tcp nowait:9 root /bin/cat").cps,
            Some((9, 600))
        );
        assert_eq!(
            one(Dialect::NetBsd, "7 stream tcp nowait.9 root /bin/cat").cps,
            Some((9, 600))
        );
        let decl = one(Dialect::NetBsd, "7 stream,4 tcp nowait root /bin/cat");
        assert_eq!(decl.instances, Some(Limit::Max(4)));
        assert_eq!(decl.socket_type.map(|s| s.value), Some(SocketType::Stream));
    }

    #[test]
    fn freebsd_slash_limits_are_concurrency() {
        let decl = one(Dialect::FreeBsd, "7 stream tcp nowait/5 root /bin/cat");
        assert_eq!(
            (decl.instances, decl.per_source),
            (Some(Limit::Max(5)), None)
        );
        let config = parse_inetd(
            "7 stream tcp nowait/0/10/2 root:wheel/daemon /bin/cat",
            "inetd.conf",
            Dialect::FreeBsd,
        );
        assert_eq!(
            messages(&config),
            [
                "inetd.conf:1:21: warning: at most 10 connections per client address per \
                 minute: superd has no such limit; ignored",
                "inetd.conf:1:38: warning: login class 'daemon' is not supported by superd; \
                 ignored"
            ]
        );
        let decl = &config.services[0];
        assert_eq!(decl.instances, Some(Limit::Unlimited));
        assert_eq!(decl.per_source, Some(Limit::Max(2)));
        assert_eq!(decl.group.as_ref().map(|g| g.value.as_str()), Some("wheel"));
        assert_eq!(
            bad(
                Dialect::FreeBsd,
                "127.0.0.1:7 stream tcp nowait root /bin/cat"
            ),
            [
                "inetd.conf:1:1: error: '127.0.0.1:7': FreeBSD's inetd.conf has no 'host:' \
              prefix, and UNIX-domain services are not supported by superd"
            ]
        );
    }

    #[test]
    fn user_and_group_separators() {
        for (dialect, field, user, group) in [
            (
                Dialect::OpenBsd,
                "nobody.nogroup",
                "nobody",
                Some("nogroup"),
            ),
            (
                Dialect::OpenBsd,
                "nobody:nogroup",
                "nobody",
                Some("nogroup"),
            ),
            (Dialect::OpenBsd, "a.b:c", "a", Some("b:c")),
            (Dialect::NetBsd, "a.b:c", "a.b", Some("c")),
            (Dialect::NetBsd, "nobody", "nobody", None),
        ] {
            let d = one(dialect, &format!("7 stream tcp nowait {field} /bin/cat"));
            assert_eq!(d.user.map(|u| u.value).as_deref(), Some(user), "{field}");
            assert_eq!(d.group.map(|g| g.value).as_deref(), group, "{field}");
            assert_eq!(d.groups, Some(true));
        }
        assert_eq!(
            bad(Dialect::OpenBsd, "7 stream tcp nowait nobody. /bin/cat"),
            [
                "inetd.conf:1:21: error: invalid user 'nobody.': expected user, user.group or \
              user:group"
            ]
        );
    }

    #[test]
    fn host_prefixes_and_host_lines_set_bind() {
        let config = parse(
            "127.0.0.1:7001 stream tcp nowait root /bin/cat\n\
             7002 stream tcp nowait root /bin/cat\n\
             [::1]:\n\
             7003 stream tcp6 nowait root /bin/cat\n\
             127.0.0.2: 7004 stream tcp nowait root /bin/cat\n\
             7005 stream tcp nowait root /bin/cat\n\
             *:\n\
             7006 stream tcp nowait root /bin/cat\n\
             127.0.0.3,127.0.0.4:7007 stream tcp4 nowait root /bin/cat\n",
        );
        assert_eq!(messages(&config), Vec::<String>::new());
        let binds: Vec<(&str, Option<&str>)> = config
            .services
            .iter()
            .map(|s| (s.id.as_str(), s.bind.as_ref().map(|b| b.value.as_str())))
            .collect();
        assert_eq!(
            binds,
            [
                ("7001", Some("127.0.0.1")),
                ("7002", None),
                ("7003", Some("::1")),
                ("7004", Some("127.0.0.2")),
                ("7005", Some("::1")),
                ("7006", None),
                ("7007", Some("127.0.0.3")),
                ("7007-tcp4", Some("127.0.0.4")),
            ]
        );
        assert_eq!(
            config.services[2].bind.as_ref().map(|b| b.span.clone()),
            Some(span(3, 1))
        );
        assert_eq!(
            bad(
                Dialect::OpenBsd,
                "127.0.0.1:7 stream tcp6 nowait root /bin/cat"
            ),
            ["inetd.conf:1:1: error: listen address 127.0.0.1 does not match protocol tcp6"]
        );
        assert_eq!(
            bad(Dialect::OpenBsd, "127.0.0.1:7 stream tcp nowait root"),
            [
                "inetd.conf:1:35: error: incomplete entry: missing the server program (an \
              inetd.conf entry is: service socket-type protocol wait|nowait user \
              server-program [arguments])"
            ]
        );
        assert_eq!(
            bad(
                Dialect::OpenBsd,
                "bad_host!:7 stream tcp nowait root /bin/cat"
            ),
            [
                "inetd.conf:1:1: error: invalid listen address 'bad_host!': expected an IPv4 or \
              IPv6 address or a host name"
            ]
        );
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let config = parse(
            "# comment\n\
             \n\
             \t \n\
             7001 stream tcp nowait root\n\
             \t/bin/echo echo\n  a b\n\
             # a comment ends the entry\n\
             \t7002 stream tcp nowait root /bin/cat\r\n\
             7003 stream tcp nowait root /bin/echo echo #not-a-comment\n",
        );
        assert_eq!(
            messages(&config),
            [
                "inetd.conf:9:44: warning: '#not-a-comment' is passed to the server as an \
              argument; '#' starts a comment only at the beginning of a line"
            ]
        );
        let args: Vec<Vec<String>> = config
            .services
            .iter()
            .map(|s| s.server_args.clone().map(|a| a.value).unwrap_or_default())
            .collect();
        assert_eq!(
            args,
            [
                vec!["echo", "a", "b"],
                vec!["cat"],
                vec!["echo", "#not-a-comment"]
            ]
        );
        assert_eq!(config.services[1].name, "7002");
    }

    #[test]
    fn netbsd_quotes_group_words() {
        let decl = one(
            Dialect::NetBsd,
            "7 stream tcp nowait root /bin/echo echo 'a b' \"c\"",
        );
        assert_eq!(
            decl.server_args.map(|a| a.value),
            Some(vec!["echo".into(), "a b".into(), "c".into()])
        );
        // Elsewhere a quote is an ordinary character, as in openbsd-inetd.
        let decl = one(
            Dialect::OpenBsd,
            "7 stream tcp nowait root /bin/echo echo 'a b'",
        );
        assert_eq!(
            decl.server_args.map(|a| a.value),
            Some(vec!["echo".into(), "'a".into(), "b'".into()])
        );
        assert_eq!(
            bad(Dialect::NetBsd, "7 stream tcp nowait root /bin/echo 'a"),
            ["inetd.conf:1:36: error: unclosed quote"]
        );
    }

    #[test]
    fn tcpmux_names_need_freebsd_or_netbsd() {
        let decl = one(
            Dialect::FreeBsd,
            "tcpmux/+date stream tcp nowait root /bin/date date",
        );
        assert_eq!(decl.name, "date");
        assert!(decl.type_flags().tcpmuxplus);
        let decl = one(
            Dialect::NetBsd,
            "tcpmux/date stream tcp nowait root /bin/date date",
        );
        assert!(decl.type_flags().tcpmux);
        assert_eq!(
            bad(
                Dialect::OpenBsd,
                "tcpmux/date stream tcp nowait root /bin/date"
            ),
            [
                "inetd.conf:1:1: error: tcpmux/ services are not part of openbsd-inetd (use \
              --inetd-dialect freebsd or netbsd)"
            ]
        );
    }

    #[test]
    fn ids_are_the_name_then_name_protocol_then_numbered() {
        let config = parse(
            "echo stream tcp nowait root internal\n\
             echo dgram udp wait root internal\n\
             127.0.0.1:echo dgram udp wait root internal\n\
             echo stream rpc/tcp nowait root /x\n\
             rstatd/2 dgram rpc/udp wait root /x\n",
        );
        let ids: Vec<&str> = config.services.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["echo", "echo-udp", "echo-udp-2", "rstatd"]);
        assert_eq!(config.rejected.len(), 1);
        assert_eq!(config.rejected[0].id, "echo-rpc-tcp");
        assert_eq!(config.rejected[0].name, "echo");
    }

    #[test]
    fn a_bad_line_is_rejected_and_the_others_load() {
        let config = parse(
            "7001 stream tcp nowait root /bin/cat\n\
             7002 stream tcp sometimes root /bin/cat\n\
             7003 rdm tcp nowait root /bin/cat\n\
             7004 stream tcp,rcvbuf=x nowait root /bin/cat\n\
             7005 stream tcp,sndbuf=64k nowait root /bin/cat\n",
        );
        assert_eq!(
            messages(&config),
            [
                "inetd.conf:2:17: error: expected wait or nowait, found 'sometimes' (the \
                 openbsd dialect writes a limit as nowait.N)",
                "inetd.conf:3:6: error: unsupported socket type 'rdm': expected stream or dgram",
                "inetd.conf:4:17: error: invalid buffer size 'x' in rcvbuf: expected a number \
                 with an optional k or m suffix",
                "inetd.conf:5:17: warning: sndbuf is not supported by superd: the listening \
                 socket keeps the system's buffer size",
            ]
        );
        let ids: Vec<&str> = config.services.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["7001", "7005"]);
        let rejected: Vec<(&str, u32)> = config
            .rejected
            .iter()
            .map(|r| (r.id.as_str(), r.span.line))
            .collect();
        assert_eq!(rejected, [("7002", 2), ("7003", 3), ("7004", 4)]);
    }

    #[test]
    fn dialect_names() {
        for d in [Dialect::OpenBsd, Dialect::FreeBsd, Dialect::NetBsd] {
            assert_eq!(Dialect::from_name(d.as_str()), Some(d));
        }
        assert_eq!(Dialect::from_name("OpenBSD"), Some(Dialect::OpenBsd));
        assert_eq!(Dialect::from_name("debian"), None);
        assert_eq!(Dialect::default(), Dialect::OpenBsd);
    }

    #[test]
    fn merge_into_applies_xinetd_defaults_and_renames_taken_ids() {
        let mut main = crate::config::parse_str(
            "defaults\n{\n\tonly_from = 127.0.0.1\n\tinstances = 7\n}\n\
             service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n",
            "xinetd.conf",
            Path::new("/"),
        );
        let inetd = parse(
            "echo stream tcp nowait root internal\n\
             7 stream tcp nowait.3 root /bin/cat\n\
             x y\n",
        );
        merge_into(&mut main, inetd);
        let ids: Vec<&str> = main.services.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["echo", "echo-inetd", "7"]);
        let inherited = &main.services[2];
        assert_eq!(inherited.instances, Some(Limit::Max(7)));
        assert_eq!(inherited.cps, Some((3, 600)));
        assert_eq!(
            inherited
                .only_from
                .as_ref()
                .map(|l| l.iter().map(|a| a.value.as_str()).collect::<Vec<_>>()),
            Some(vec!["127.0.0.1"])
        );
        assert_eq!(main.rejected.len(), 1);
        assert_eq!(main.diagnostics.len(), 1);
    }

    #[test]
    fn load_inetd_records_the_file_and_reports_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("inetd.conf");
        std::fs::write(&path, "echo stream tcp nowait root internal\n").expect("write");
        let config = load_inetd(&path, Dialect::OpenBsd).expect("load");
        assert_eq!(config.files, std::slice::from_ref(&path));
        assert_eq!(
            config.services[0].span.as_ref().map(|s| s.file.to_string()),
            Some(path.to_string_lossy().into_owned())
        );
        let missing = dir.path().join("missing.conf");
        let err = load_inetd(&missing, Dialect::OpenBsd)
            .map(|_| ())
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read configuration file"));
    }
}
