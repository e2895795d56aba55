//! `superd convert`: an inetd.conf [`Config`] -> the equivalent xinetd.conf text.
//!
//! ```text
//! inetd.conf --config::inetd::load_inetd--> Config --to_xinetd(config, source)--> xinetd.conf text
//! ```
//!
//! One `service` block per [`ServiceDecl`], written with the attributes the inetd parser sets,
//! so that superd's own xinetd parser reads the output back to the same declarations (a unit
//! test below holds that). Above each block: the inetd.conf line it comes from and a `#` note
//! for every construct whose meaning changes on the way (rate suffixes, `tcp`/`tcp46` sockets,
//! `host:` addresses, built-ins and RPC that superd does not have, dropped options). An entry
//! that did not parse is kept as a comment, so nothing disappears without a trace.
//!
//! The notes are derived from the declaration and from the entry's words in `source` (the
//! original text), which is why [`to_xinetd`] takes both.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::ConvertFrom;
use crate::config::inetd::{self, Dialect};
use crate::config::model::{Config, Limit, ServiceDecl, Severity, SocketType};
use crate::internal::Builtin;

/// Run `superd convert`: print the converted configuration on stdout and every diagnostic on
/// stderr. Exit status 0 when every entry converted, 1 when some did not (the output still has
/// the others) or when the file cannot be read.
pub fn run_convert(from: ConvertFrom, file: &Path, dialect: Dialect) -> ExitCode {
    let ConvertFrom::Inetd = from;
    let source = match std::fs::read(file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("superd: error: cannot read {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let config = inetd::parse_inetd(&source, &file.to_string_lossy(), dialect);
    for d in &config.diagnostics {
        eprintln!("{d}");
    }
    print!("{}", to_xinetd(&config, &source));
    if config
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The xinetd.conf text equivalent to `config`, which was parsed from the inetd.conf `source`.
pub fn to_xinetd(config: &Config, source: &str) -> String {
    // The entries of the source by first line, and the last `host:` line before each.
    let mut by_line: HashMap<u32, (Vec<String>, Option<u32>)> = HashMap::new();
    let mut host_line = None;
    let entries = inetd::entries(source, false);
    // Each error, under the entry it is about (the last entry starting at or before it).
    let mut errors: HashMap<u32, Vec<&str>> = HashMap::new();
    for d in &config.diagnostics {
        if let (Severity::Error, Some(span)) = (d.severity, &d.span) {
            let entry_line = entries
                .iter()
                .map(|e| e.line())
                .filter(|&l| l <= span.line)
                .max()
                .unwrap_or(span.line);
            errors.entry(entry_line).or_default().push(&d.message);
        }
    }
    for entry in entries.iter() {
        let words: Vec<String> = entry.words.iter().map(|w| w.text.clone()).collect();
        if words.len() == 1 && words[0].ends_with(':') {
            host_line = (words[0] != "*:").then(|| entry.line());
            continue;
        }
        by_line.insert(entry.line(), (words, host_line));
    }
    let file = config
        .services
        .iter()
        .filter_map(|s| s.span.as_ref())
        .chain(config.rejected.iter().map(|r| &r.span))
        .map(|s| s.file.to_string())
        .next()
        .unwrap_or_else(|| "inetd.conf".to_string());

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# xinetd.conf written by 'superd convert' from {file}."
    );
    out.push_str(
        "# Above each service: the inetd.conf line it comes from, and a note wherever\n\
         # the meaning changes. Not carried over: inetd's default cap on spawns per\n\
         # minute (256 in openbsd-inetd, 40 in NetBSD), which has no xinetd equivalent.\n",
    );

    // Services and rejected entries in file order.
    enum Item<'c> {
        Service(&'c ServiceDecl),
        Rejected,
    }
    let mut items: Vec<(u32, Item)> = config
        .services
        .iter()
        .map(|s| (s.span.as_ref().map_or(0, |s| s.line), Item::Service(s)))
        .chain(
            config
                .rejected
                .iter()
                .map(|r| (r.span.line, Item::Rejected)),
        )
        .collect();
    items.sort_by_key(|(line, _)| *line);

    for (line, item) in items {
        out.push('\n');
        let (words, host) = by_line
            .get(&line)
            .map(|(w, h)| (w.as_slice(), *h))
            .unwrap_or((&[], None));
        let original = words.join(" ");
        match item {
            Item::Rejected => {
                let _ = writeln!(out, "# line {line} was not converted:\n#\t{original}");
                for message in errors.get(&line).into_iter().flatten() {
                    comment(&mut out, "ERROR: ", message);
                }
            }
            Item::Service(decl) => {
                let _ = writeln!(out, "# line {line}: {original}");
                for note in notes(decl, words, host) {
                    comment(&mut out, "NOTE: ", &note);
                }
                write_block(&mut out, decl);
            }
        }
    }
    out
}

/// `text` as `#` comment lines of at most 80 columns, the first starting with `label`.
fn comment(out: &mut String, label: &str, text: &str) {
    let mut line = format!("# {label}");
    let mut fresh = true;
    for word in text.split_whitespace() {
        if !fresh && line.len() + 1 + word.len() > 80 {
            out.push_str(&line);
            out.push('\n');
            line = "#   ".to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// What changes meaning for this entry, one sentence each.
fn notes(decl: &ServiceDecl, words: &[String], host_line: Option<u32>) -> Vec<String> {
    let mut notes = Vec::new();
    let prefixed = words.first().is_some_and(|w| w.contains(':'));
    // Field positions in the original words (a lone `host:` word shifts them by one).
    let shift = usize::from(words.first().is_some_and(|w| w.ends_with(':')));
    let field = |i: usize| words.get(i + shift).map_or("", String::as_str);
    let (socket_word, protocol_word, wait_word, user_word) =
        (field(1), field(2), field(3), field(4));
    let ty = decl.type_flags();
    let flags = decl.flags();

    if let Some((n, pause)) = decl.cps {
        notes.push(format!(
            "'{wait_word}': inetd starts at most {n} servers per 60 seconds, then stops the \
             service for 10 minutes; xinetd counts per second, so 'cps = {n} {pause}' stops it \
             only when more than {n} connections arrive within one second"
        ));
    }
    if wait_word.matches('/').count() >= 2 {
        notes.push(format!(
            "'{wait_word}': FreeBSD's limit on connections per client address per minute has no \
             xinetd equivalent and is dropped"
        ));
    }
    if socket_word.contains([',', ':']) {
        notes.push(format!(
            "'{socket_word}': NetBSD's accept limit becomes 'instances'; an accept filter is \
             dropped (Linux has none)"
        ));
    }
    let base = protocol_word.split(',').next().unwrap_or_default();
    if protocol_word.contains(',') {
        notes.push(format!(
            "'{protocol_word}': socket buffer sizes (sndbuf, rcvbuf) have no xinetd equivalent \
             and are dropped"
        ));
    }
    if flags.ipv4 && flags.ipv6 && decl.bind.is_none() {
        notes.push(format!(
            "'{base}': openbsd-inetd opens two sockets (IPv4 and IPv6); here one IPv6 socket \
             also takes IPv4 clients, so the server sees them as ::ffff:a.b.c.d"
        ));
    } else if decl.v6only == Some(false) {
        notes.push(format!(
            "'{base}': one IPv6 socket that also takes IPv4 clients as ::ffff:a.b.c.d, as inetd \
             does ('v6only = no')"
        ));
    } else if flags.ipv4 && base.ends_with(['p', 'c']) {
        notes.push(format!(
            "'{base}' means IPv4 only in this inetd dialect, hence 'flags = IPv4' (xinetd's \
             default would also listen on IPv6)"
        ));
    }
    if let Some(bind) = &decl.bind {
        let from = if prefixed {
            "the address prefix of this line".to_string()
        } else {
            match host_line {
                Some(l) => format!("the 'host:' line {l}"),
                None => "a 'host:' line".to_string(),
            }
        };
        let mut note = format!("'bind = {}' comes from {from}", bind.value);
        if bind.value.parse::<std::net::IpAddr>().is_err() {
            note.push_str(
                "; inetd listens on every address of a host name, xinetd on the first only",
            );
        }
        notes.push(note);
    }
    if ty.internal && Builtin::from_name(&decl.name).is_none() {
        notes.push(format!(
            "superd has no internal {} service: superd reports this service as an error and \
             does not start it",
            decl.name
        ));
    }
    if ty.rpc {
        notes.push(
            "RPC: the service listens on a port the kernel chooses and is registered with \
             rpcbind, which must be running"
                .to_string(),
        );
    }
    if decl.groups_from_group {
        notes.push(
            "user:group: inetd (and superd reading this inetd.conf) gives the server the \
             user's supplementary groups with the named group as base; in xinetd.conf, `group` \
             with `groups = yes` keeps the user's passwd group among them too"
                .to_string(),
        );
    }
    if user_word.contains('/') {
        notes.push(format!(
            "'{user_word}': the FreeBSD login class has no xinetd equivalent and is dropped"
        ));
    }
    if !ty.internal
        && decl.wait.as_ref().is_some_and(|w| !w.value)
        && decl.socket_type.as_ref().map(|s| s.value) == Some(SocketType::Dgram)
    {
        notes.push(
            "dgram nowait with a server program: superd needs wait = yes for dgram services \
             and reports this service as an error"
                .to_string(),
        );
    }
    let args = decl.server_args.as_ref().map_or(&[][..], |a| &a.value[..]);
    if args.iter().any(|a| a.is_empty() || a.contains([' ', '\t'])) {
        notes.push(
            "an argument is empty or contains blanks, which xinetd.conf cannot write: it is \
             split at the blanks below"
                .to_string(),
        );
    }
    notes
}

/// One `service` block, attributes in a fixed order, `=` aligned with tabs.
fn write_block(out: &mut String, decl: &ServiceDecl) {
    let _ = writeln!(out, "service {}\n{{", decl.name);
    let mut attr = |name: &str, value: String| {
        let tabs = if name.len() < 8 { "\t\t" } else { "\t" };
        let _ = writeln!(out, "\t{name}{tabs}= {value}");
    };
    if decl.id != decl.name {
        attr("id", decl.id.clone());
    }
    let ty = decl.type_flags();
    if decl.r#type.is_some() {
        let words: Vec<&str> = [
            (ty.rpc, "RPC"),
            (ty.internal, "INTERNAL"),
            (ty.unlisted, "UNLISTED"),
            (ty.tcpmux, "TCPMUX"),
            (ty.tcpmuxplus, "TCPMUXPLUS"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        attr("type", words.join(" "));
    }
    let f = decl.flags();
    if decl.flags.is_some() {
        let words: Vec<&str> = [
            (f.reuse, "REUSE"),
            (f.intercept, "INTERCEPT"),
            (f.noretry, "NORETRY"),
            (f.idonly, "IDONLY"),
            (f.nameinargs, "NAMEINARGS"),
            (f.nodelay, "NODELAY"),
            (f.keepalive, "KEEPALIVE"),
            (f.nolibwrap, "NOLIBWRAP"),
            (f.sensor, "SENSOR"),
            (f.ipv4, "IPv4"),
            (f.ipv6, "IPv6"),
            (f.labeled, "LABELED"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        attr("flags", words.join(" "));
    }
    if let Some(s) = &decl.socket_type {
        attr("socket_type", s.value.as_str().to_string());
    }
    if let Some(p) = &decl.protocol {
        attr("protocol", p.value.clone());
    }
    if let Some(w) = &decl.wait {
        attr("wait", yes_no(w.value));
    }
    if let Some(u) = &decl.user {
        attr("user", u.value.clone());
    }
    if let Some(g) = &decl.group {
        attr("group", g.value.clone());
    }
    if let Some(g) = decl.groups {
        attr("groups", yes_no(g));
    }
    if let Some(s) = &decl.server {
        attr("server", s.value.clone());
    }
    if let Some(a) = &decl.server_args {
        attr("server_args", a.value.join(" "));
    }
    if let Some(p) = &decl.port {
        attr("port", p.value.to_string());
    }
    if let Some(b) = &decl.bind {
        attr("bind", b.value.clone());
    }
    if let Some(v) = decl.v6only {
        attr("v6only", yes_no(v));
    }
    if let Some(l) = decl.instances {
        attr("instances", limit(l));
    }
    if let Some(l) = decl.per_source {
        attr("per_source", limit(l));
    }
    if let Some((rate, pause)) = decl.cps {
        attr("cps", format!("{rate} {pause}"));
    }
    if let Some((low, high)) = decl.rpc_version {
        let v = if low == high {
            low.to_string()
        } else {
            format!("{low}-{high}")
        };
        attr("rpc_version", v);
    }
    out.push_str("}\n");
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn limit(l: Limit) -> String {
    match l {
        Limit::Unlimited => "UNLIMITED".to_string(),
        Limit::Max(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{Span, Spanned};

    /// Every form of every dialect that yields a service.
    const FORMS: &[(Dialect, &str)] = &[
        (
            Dialect::OpenBsd,
            "echo\tstream\ttcp\tnowait\troot\tinternal\n\
             echo\tdgram\tudp\twait\troot\tinternal\n\
             7777 stream tcp4 nowait.10 nobody.nogroup /bin/cat\n\
             7778 stream tcp6 nowait nobody:nogroup /bin/cat cat -u\n\
             127.0.0.1:7779 stream tcp nowait root /bin/cat\n\
             [::1]:7780 stream tcp46 wait root /usr/sbin/x x\n\
             \t-a -b\n\
             127.0.0.2,localhost:\n\
             7781 dgram udp wait root /bin/true\n\
             *:\n\
             rusersd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rusersd rpc.rusersd\n\
             7782 stream tcp,rcvbuf=64k nowait root /bin/cat\n\
             discard stream tcp nowait root internal\n\
             broken\n",
        ),
        (
            Dialect::FreeBsd,
            "auth stream tcp nowait root internal\n\
             7001 stream tcp46 nowait/4/10/2 root:wheel/daemon /bin/cat cat\n\
             tcpmux/+date stream tcp nowait root /bin/date date\n",
        ),
        (
            Dialect::NetBsd,
            "7002 stream,3:dataready tcp nowait:9 root /bin/echo echo 'a b'\n\
             tcpmux/date stream tcp nowait root /bin/date date\n",
        ),
    ];

    /// The declaration with every span replaced, so two parses of different text compare.
    fn without_spans(decl: &ServiceDecl) -> ServiceDecl {
        fn s<T: Clone>(v: &Option<Spanned<T>>) -> Option<Spanned<T>> {
            let none = Span {
                file: "".into(),
                line: 0,
                col: 0,
            };
            v.as_ref().map(|v| Spanned::new(v.value.clone(), none))
        }
        ServiceDecl {
            span: None,
            r#type: s(&decl.r#type),
            flags: s(&decl.flags),
            socket_type: s(&decl.socket_type),
            protocol: s(&decl.protocol),
            wait: s(&decl.wait),
            user: s(&decl.user),
            group: s(&decl.group),
            server: s(&decl.server),
            server_args: s(&decl.server_args),
            port: s(&decl.port),
            bind: s(&decl.bind),
            ..decl.clone()
        }
    }

    #[test]
    fn output_parses_back_to_the_same_services() {
        for (dialect, text) in FORMS {
            let config = inetd::parse_inetd(text, "inetd.conf", *dialect);
            let out = to_xinetd(&config, text);
            let back = crate::config::parse_str(&out, "out.conf", Path::new("/"));
            let messages: Vec<String> = back.diagnostics.iter().map(|d| d.to_string()).collect();
            assert_eq!(messages, Vec::<String>::new(), "{out}");
            let mut want: Vec<ServiceDecl> = config.services.iter().map(without_spans).collect();
            // Blanks inside one NetBSD argument cannot be written in xinetd.conf, nor inetd's
            // rule for the groups of `user:group` (a note says so).
            for decl in &mut want {
                decl.groups_from_group = false;
                if let Some(args) = &mut decl.server_args {
                    args.value = args
                        .value
                        .iter()
                        .flat_map(|a| a.split(' '))
                        .map(String::from)
                        .collect();
                }
            }
            let got: Vec<ServiceDecl> = back.services.iter().map(without_spans).collect();
            assert_eq!(got, want, "{out}");
        }
    }

    #[test]
    fn every_line_fits_80_columns_and_blocks_use_tabs() {
        for (dialect, text) in FORMS {
            let config = inetd::parse_inetd(text, "inetd.conf", *dialect);
            let out = to_xinetd(&config, text);
            for line in out.lines() {
                assert!(line.chars().count() <= 80, "too long: {line}");
                if !line.starts_with(['#', 's', '{', '}']) && !line.is_empty() {
                    assert!(line.starts_with('\t') && line.contains("= "), "{line}");
                }
            }
        }
    }

    #[test]
    fn constructs_whose_meaning_changes_get_a_note() {
        let (dialect, text) = FORMS[0];
        let out = to_xinetd(&inetd::parse_inetd(text, "inetd.conf", dialect), text);
        let joined = out.replace("\n#   ", " ");
        for needle in [
            "# line 1: echo stream tcp nowait root internal\n\
             # NOTE: 'tcp': openbsd-inetd opens two sockets (IPv4 and IPv6); here one IPv6 \
             socket also takes IPv4 clients, so the server sees them as ::ffff:a.b.c.d\n\
             service echo\n{\n\ttype\t\t= INTERNAL\n\tflags\t\t= IPv4 IPv6\n",
            "# NOTE: 'nowait.10': inetd starts at most 10 servers per 60 seconds, then stops \
             the service for 10 minutes; xinetd counts per second, so 'cps = 10 600' stops it \
             only when more than 10 connections arrive within one second\n",
            "\tcps\t\t= 10 600\n",
            "# NOTE: 'bind = 127.0.0.1' comes from the address prefix of this line\n",
            "# NOTE: 'tcp46': one IPv6 socket that also takes IPv4 clients as ::ffff:a.b.c.d, \
             as inetd does ('v6only = no')\n",
            "# line 6: [::1]:7780 stream tcp46 wait root /usr/sbin/x x -a -b\n",
            "# NOTE: 'bind = 127.0.0.2' comes from the 'host:' line 8\n",
            "# NOTE: 'bind = localhost' comes from the 'host:' line 8; inetd listens on every \
             address of a host name, xinetd on the first only\n",
            "\tid\t\t= 7781-udp\n",
            "# NOTE: RPC: the service listens on a port the kernel chooses",
            "\trpc_version\t= 1-3\n",
            "# NOTE: 'tcp,rcvbuf=64k': socket buffer sizes (sndbuf, rcvbuf) have no xinetd \
             equivalent and are dropped\n",
            "# line 14 was not converted:\n#\tbroken\n# ERROR: incomplete entry: missing the \
             socket type",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{out}");
        }
        // discard is built into superd: no note about it.
        assert!(!joined.contains("no internal discard"));

        let (dialect, text) = FORMS[1];
        let out = to_xinetd(&inetd::parse_inetd(text, "inetd.conf", dialect), text);
        let joined = out.replace("\n#   ", " ");
        for needle in [
            "# NOTE: superd has no internal auth service",
            "FreeBSD's limit on connections per client address per minute has no xinetd \
             equivalent and is dropped",
            "the FreeBSD login class has no xinetd equivalent and is dropped",
            "\tinstances\t= 4\n\tper_source\t= 2\n",
            "\ttype\t\t= TCPMUXPLUS\n",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{out}");
        }

        let (dialect, text) = FORMS[2];
        let out = to_xinetd(&inetd::parse_inetd(text, "inetd.conf", dialect), text);
        let joined = out.replace("\n#   ", " ");
        for needle in [
            "NetBSD's accept limit becomes 'instances'",
            "'tcp' means IPv4 only in this inetd dialect, hence 'flags = IPv4'",
            "an argument is empty or contains blanks",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{out}");
        }
    }
}
