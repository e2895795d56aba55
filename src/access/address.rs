//! `only_from` / `no_access`: which client addresses a service takes.
//!
//! Input: the entries `config` parsed (syntax already checked), a networks file and a host-name
//! resolver. Output: an [`AddrList`] of address ranges and `.domain` suffixes, plus warnings for
//! names that do not resolve. Then, per connection, [`decide`] gives an [`AddressVerdict`] from
//! the two lists, the peer address and (only when a list has `.domain` entries) the peer's
//! reverse-lookup name. Parsing reads the networks file and calls the resolver it is given;
//! matching and deciding are pure.
//!
//! The decision is the one the xinetd binary makes (reference xinetd.md §1.7), not the "better
//! match" rule of xinetd.conf(5), because configurations in use were tested against the binary:
//! an address in both lists is denied (and logged as an error), a `no_access` match denies, an
//! `only_from` that is set and does not match denies (an empty one denies everybody).
//!
//! Every range lives in one space, IPv6 with IPv4 as `::ffff:a.b.c.d`, so an IPv4 rule and the
//! IPv4-mapped form of a peer on a dual-stack socket are the same thing: no rule can be bypassed
//! (or missed) by the mapped form, and `::/0` matches IPv4 clients too, as on xinetd's default
//! dual-stack sockets.
//!
//! Where superd differs from xinetd (on purpose):
//! * `x::y/128` matches that one address (xinetd mis-parses `/128` and never matches it);
//! * a host name is resolved once, when the configuration is loaded, and matches the addresses
//!   it resolved to (xinetd only checks at load that it resolves, then compares the client's
//!   reverse-lookup name with it on every connection): no per-connection lookup, no trust in
//!   PTR records for plain host names;
//! * a name that resolves to nothing gets a warning naming it (xinetd: "failed to parse");
//! * `.domain` is a plain case-insensitive suffix test of the whole name (xinetd searches for the
//!   first occurrence of the suffix in the name); a trailing dot on the name is ignored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::times::AccessTimes;
use crate::config::model::Spanned;

/// The access rules of one service, as the runtime applies them to each client.
///
/// What the runtime must do with them, per connection (or per datagram for a dgram service):
/// 1. `access_times`: if set and `!allows(local minute of day)`, close and log
///    `FAIL: <id> time` (after `max_load`, before `instances`, xinetd.md §1.8).
/// 2. Address: only if [`Access::has_address_rules`]. If [`Access::needs_name`], look up the
///    peer's name (reverse DNS, without stalling other services, with a timeout); a failed or
///    timed-out lookup is `None` and then matches no `.domain` entry. Then call
///    [`Access::decide_address`] with the peer address as accepted (an IPv4-mapped address is
///    fine; it is compared as IPv4) and:
///    * [`AddressVerdict::Allow`]: go on (libwrap, limits, ...);
///    * [`AddressVerdict::Deny`]: close the connection without starting anything, log
///      `FAIL: <id> address from=<peer>` (per `log_on_failure`; `<peer>` as IPv4 when it is
///      IPv4-mapped, `IpAddr::to_canonical`, here and in every other log line and variable);
///    * [`AddressVerdict::DenyBothMatch`]: as `Deny`, and also xinetd's error line
///      `Service=<id>: only_from list and no_access list match equally the address <peer>`
///      at ERROR level in superd's own log.
///
///    xinetd logs a failed datagram address check from the same (address, port) at most once
///    per 60 s. A `wait = yes` stream service has no peer address before its server accepts,
///    so these rules cannot be applied to it; a dgram service gets its peer by peeking.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Access {
    /// `only_from`: `None` when not written (everybody); `Some(empty)` means nobody.
    pub only_from: Option<AddrList>,
    /// `no_access`: `None` or empty means nobody is refused by it.
    pub no_access: Option<AddrList>,
    /// `access_times`: `None` means at any time.
    pub access_times: Option<AccessTimes>,
}

impl Access {
    /// No rules at all (what most services have).
    pub const NONE: Access = Access {
        only_from: None,
        no_access: None,
        access_times: None,
    };

    /// Whether `only_from` or `no_access` is set (otherwise every address is allowed).
    pub fn has_address_rules(&self) -> bool {
        self.only_from.is_some() || self.no_access.is_some()
    }

    /// Whether deciding needs the peer's reverse-lookup name (some `.domain` entry).
    pub fn needs_name(&self) -> bool {
        [&self.only_from, &self.no_access]
            .into_iter()
            .flatten()
            .any(AddrList::needs_name)
    }

    /// [`decide`] over this service's two lists.
    pub fn decide_address(&self, peer: IpAddr, peer_name: Option<&str>) -> AddressVerdict {
        decide(
            self.only_from.as_ref(),
            self.no_access.as_ref(),
            peer,
            peer_name,
        )
    }
}

/// What the address rules say about one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressVerdict {
    Allow,
    /// Refused by `no_access`, or not in a set `only_from`.
    Deny,
    /// In both lists: refused, and xinetd logs the error "only_from list and no_access list
    /// match equally the address A".
    DenyBothMatch,
}

/// Decides as the xinetd binary does (xinetd.md §1.7): in both lists denies, a `no_access` match
/// denies, a set `only_from` without a match denies, anything else is allowed. No list is more
/// specific than the other.
pub fn decide(
    only_from: Option<&AddrList>,
    no_access: Option<&AddrList>,
    peer: IpAddr,
    peer_name: Option<&str>,
) -> AddressVerdict {
    let in_no_access = no_access.is_some_and(|l| l.matches(peer, peer_name));
    let in_only_from = only_from.is_some_and(|l| l.matches(peer, peer_name));
    match (in_no_access, in_only_from) {
        (true, true) => AddressVerdict::DenyBothMatch,
        (true, false) => AddressVerdict::Deny,
        (false, false) if only_from.is_some() => AddressVerdict::Deny,
        (false, _) => AddressVerdict::Allow,
    }
}

/// One thing an address can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// An IPv4 network, host bits cleared (`prefix` 0 to 32).
    V4 { net: Ipv4Addr, prefix: u8 },
    /// An IPv6 network, host bits cleared (`prefix` 0 to 128). Never inside `::ffff:0:0/96`
    /// with a prefix of 96 or more: those are kept as [`Entry::V4`].
    V6 { net: Ipv6Addr, prefix: u8 },
    /// `.example.com`, lower-cased, leading dot kept: matches a peer whose reverse-lookup name
    /// ends with it.
    Domain(String),
}

impl Entry {
    /// The IPv4 network of `addr` with `prefix` bits (host bits cleared).
    pub fn v4(addr: Ipv4Addr, prefix: u8) -> Entry {
        let prefix = prefix.min(32);
        let bits = mask(mapped_bits(addr), prefix + 96);
        Entry::V4 {
            net: Ipv6Addr::from_bits(bits).to_ipv4_mapped().unwrap_or(addr),
            prefix,
        }
    }

    /// The IPv6 network of `addr` with `prefix` bits; an IPv4-mapped network of /96 or longer
    /// becomes the IPv4 network it stands for.
    pub fn v6(addr: Ipv6Addr, prefix: u8) -> Entry {
        let prefix = prefix.min(128);
        let net = Ipv6Addr::from_bits(mask(addr.to_bits(), prefix));
        match net.to_ipv4_mapped() {
            Some(v4) if prefix >= 96 => Entry::v4(v4, prefix - 96),
            _ => Entry::V6 { net, prefix },
        }
    }

    /// The exact address `ip`.
    pub fn host(ip: IpAddr) -> Entry {
        match ip {
            IpAddr::V4(a) => Entry::v4(a, 32),
            IpAddr::V6(a) => Entry::v6(a, 128),
        }
    }

    /// The range in the shared IPv6 space (IPv4 as `::ffff:a.b.c.d`), or `None` for a domain.
    fn range(&self) -> Option<(u128, u8)> {
        match *self {
            Entry::V4 { net, prefix } => Some((mapped_bits(net), prefix + 96)),
            Entry::V6 { net, prefix } => Some((net.to_bits(), prefix)),
            Entry::Domain(_) => None,
        }
    }

    /// Whether `peer` (with its reverse-lookup name, if known) matches this entry.
    pub fn matches(&self, peer: IpAddr, peer_name: Option<&str>) -> bool {
        match self {
            Entry::Domain(suffix) => peer_name.is_some_and(|name| in_domain(name, suffix)),
            _ => self
                .range()
                .is_some_and(|(net, prefix)| mask(peer_bits(peer), prefix) == net),
        }
    }

    /// Whether every address this entry matches is also matched by `self` (domains: never).
    pub fn covers(&self, other: &Entry) -> bool {
        match (self.range(), other.range()) {
            (Some((net, prefix)), Some((other_net, other_prefix))) => {
                prefix <= other_prefix && mask(other_net, prefix) == net
            }
            _ => false,
        }
    }

    fn overlaps(&self, other: &Entry) -> bool {
        self.covers(other) || other.covers(self)
    }
}

/// `a.b.c.d/n`, `x::/n` or `.domain`.
impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::V4 { net, prefix } => write!(f, "{net}/{prefix}"),
            Entry::V6 { net, prefix } => write!(f, "{net}/{prefix}"),
            Entry::Domain(d) => f.write_str(d),
        }
    }
}

/// The `prefix` high bits of `bits`.
fn mask(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => bits,
        p => bits & (u128::MAX << (128 - u32::from(p))),
    }
}

fn mapped_bits(a: Ipv4Addr) -> u128 {
    a.to_ipv6_mapped().to_bits()
}

/// A peer in the shared space: IPv4 and its mapped form are the same number.
fn peer_bits(peer: IpAddr) -> u128 {
    match peer {
        IpAddr::V4(a) => mapped_bits(a),
        IpAddr::V6(a) => a.to_bits(),
    }
}

/// `name` ends with `suffix` (which starts with a dot), ignoring case and a trailing dot.
fn in_domain(name: &str, suffix: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    let suffix = suffix.as_bytes();
    name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// How an entry was written, for `--check` output and [`shadowing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An address, `a.b.c.0` wildcard, `a.b.{c,d}`, `a.b.c.d/n`, `x::/n` or IPv6 literal.
    Numeric,
    /// A network name from the networks file.
    Network,
    /// A host name, resolved at load: one entry per address.
    Host,
    /// A `.domain` suffix.
    Domain,
}

/// One entry of a list, with the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub entry: Entry,
    /// The entry as written (`10.0.{1,2}` for each of its two networks).
    pub written: String,
    pub form: Form,
}

/// Where names in a list are looked up at load time.
pub struct Names<'a> {
    /// A file in /etc/networks format (`name number [aliases]`), for IPv4 network names.
    pub networks_file: &'a Path,
    /// Host name to addresses; empty when the name does not resolve.
    pub resolve: &'a dyn Fn(&str) -> Vec<IpAddr>,
}

/// A parsed `only_from` or `no_access` list.
///
/// The runtime uses it through [`Access`] (see there for what to call and log); on its own,
/// [`matches`](Self::matches) tells whether a peer is in the list, and
/// [`needs_name`](Self::needs_name) whether the peer's reverse-lookup name is needed for that.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrList {
    items: Vec<Listed>,
}

impl AddrList {
    /// Parses the entries of attribute `attr` (`only_from` or `no_access`, for messages).
    ///
    /// A host name is resolved now, and each of its addresses becomes an entry; a name that does
    /// not resolve is then looked up as a network name in `names.networks_file`; if neither
    /// knows it, it gets a warning and matches nobody (the list is still set, so an `only_from`
    /// of unresolvable names denies everybody, as in xinetd). Warnings carry the entry's span.
    pub fn parse(
        attr: &str,
        entries: &[Spanned<String>],
        names: &Names<'_>,
    ) -> (AddrList, Vec<Spanned<String>>) {
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        let mut networks: Option<Result<String, String>> = None;
        for spanned in entries {
            let text = spanned.value.as_str();
            let written = || text.to_string();
            let warn = |msg: String| Spanned::new(msg, spanned.span.clone());
            if let Some(parsed) = numeric(text) {
                match parsed {
                    Some(list) => items.extend(list.into_iter().map(|entry| Listed {
                        entry,
                        written: written(),
                        form: Form::Numeric,
                    })),
                    None => warnings.push(warn(format!(
                        "{attr}: cannot understand '{text}'; this entry matches nobody"
                    ))),
                }
                continue;
            }
            if text.starts_with('.') {
                items.push(Listed {
                    entry: Entry::Domain(text.to_ascii_lowercase()),
                    written: written(),
                    form: Form::Domain,
                });
                continue;
            }
            let mut addrs = (names.resolve)(text);
            if !addrs.is_empty() {
                // Sorted, so a reload sees the same list when DNS answers in another order.
                addrs.sort();
                addrs.dedup();
                items.extend(addrs.into_iter().map(|ip| Listed {
                    entry: Entry::host(ip),
                    written: written(),
                    form: Form::Host,
                }));
                continue;
            }
            let file = networks.get_or_insert_with(|| {
                std::fs::read_to_string(names.networks_file).map_err(|e| e.to_string())
            });
            match file
                .as_ref()
                .map(|text_of_file| network(text_of_file, text))
            {
                Ok(Some(entry)) => items.push(Listed {
                    entry,
                    written: written(),
                    form: Form::Network,
                }),
                Ok(None) => warnings.push(warn(format!(
                    "{attr}: '{text}' is neither a host name that resolves nor a network in {}; \
                     this entry matches nobody",
                    names.networks_file.display()
                ))),
                Err(e) => warnings.push(warn(format!(
                    "{attr}: host name '{text}' does not resolve (and {} cannot be read: {e}); \
                     this entry matches nobody",
                    names.networks_file.display()
                ))),
            }
        }
        if attr == "only_from" && items.is_empty() && !warnings.is_empty() {
            let span = entries[0].span.clone();
            warnings.push(Spanned::new(
                "only_from: no entry is usable, so nobody is allowed (as in xinetd)".to_string(),
                span,
            ));
        }
        (AddrList { items }, warnings)
    }

    /// The entries, in the order written.
    pub fn items(&self) -> &[Listed] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `peer` matches any entry. `peer_name` is the peer's reverse-lookup name, needed
    /// only for `.domain` entries (`None`: unknown, and no domain matches). An IPv4-mapped IPv6
    /// peer is compared as the IPv4 address it carries.
    pub fn matches(&self, peer: IpAddr, peer_name: Option<&str>) -> bool {
        self.items.iter().any(|i| i.entry.matches(peer, peer_name))
    }

    /// Whether some entry is a `.domain`, so [`matches`](Self::matches) needs the peer's name.
    pub fn needs_name(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.entry, Entry::Domain(_)))
    }
}

/// Entries as `--check` prints them: `127.0.0.0/8 10.0.1.0/24 127.0.0.1/32(localhost)`.
impl fmt::Display for AddrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.items.is_empty() {
            return f.write_str("(empty)");
        }
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match item.form {
                Form::Numeric | Form::Domain => write!(f, "{}", item.entry)?,
                Form::Network | Form::Host => write!(f, "{}({})", item.entry, item.written)?,
            }
        }
        Ok(())
    }
}

/// Numeric forms: `None` if `text` is not numeric (a name), `Some(None)` if it looks numeric
/// but is malformed (the config parser already refuses those), else its entries.
fn numeric(text: &str) -> Option<Option<Vec<Entry>>> {
    if let Some(open) = text.find('{') {
        return Some(factorized(&text[..open], &text[open..]));
    }
    if let Some((addr, prefix)) = text.split_once('/') {
        let prefix: u8 = match prefix.parse() {
            Ok(p) => p,
            Err(_) => return Some(None),
        };
        return Some(match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if prefix <= 32 => Some(vec![Entry::v4(a, prefix)]),
            Ok(IpAddr::V6(a)) if prefix <= 128 => Some(vec![Entry::v6(a, prefix)]),
            _ => None,
        });
    }
    if text.contains(':') {
        return Some(
            text.parse::<Ipv6Addr>()
                .ok()
                .map(|a| vec![Entry::v6(a, 128)]),
        );
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some(text.parse::<Ipv4Addr>().ok().map(|a| vec![wildcard(a)]));
    }
    None
}

/// `a.b.c.d` where trailing zero octets are wildcards: the prefix ends at the last non-zero
/// octet (`127.0.1.0` is /24, `127.0.0.0` is /8, `0.0.0.0` is every IPv4 address).
fn wildcard(addr: Ipv4Addr) -> Entry {
    let octets = addr.octets();
    let significant = octets.iter().rposition(|&o| o != 0).map_or(0, |i| i + 1);
    Entry::v4(addr, 8 * significant as u8)
}

/// `a.{c,d}`, `a.b.{c,d}`, `a.b.c.{d,e}`: each value takes the place after the fixed octets and
/// the prefix ends with it, whatever its value (`10.0.{0,1}` is 10.0.0.0/24 and 10.0.1.0/24).
fn factorized(head: &str, braces: &str) -> Option<Vec<Entry>> {
    let fixed: Vec<u8> = head
        .strip_suffix('.')?
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    if fixed.is_empty() || fixed.len() > 3 {
        return None;
    }
    let inner = braces.strip_prefix('{')?.strip_suffix('}')?;
    inner
        .split(',')
        .map(|value| {
            let value: u8 = value.parse().ok()?;
            let mut octets = [0u8; 4];
            octets[..fixed.len()].copy_from_slice(&fixed);
            octets[fixed.len()] = value;
            let prefix = 8 * (fixed.len() as u8 + 1);
            Some(Entry::v4(Ipv4Addr::from(octets), prefix))
        })
        .collect()
}

/// Looks `name` up (case-insensitively, names and aliases) in networks-file text:
/// `name number [aliases...]`, `#` comments. The number has one to four dotted parts, left
/// aligned (`127` is 127.0.0.0), and its trailing zero octets are wildcards like a numeric
/// entry's (`127` and `127.0.0.0` are both 127/8; `10.1` is 10.1/16).
pub fn network(networks: &str, name: &str) -> Option<Entry> {
    for line in networks.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let (Some(first), Some(number)) = (words.next(), words.next()) else {
            continue;
        };
        let named = std::iter::once(first)
            .chain(words)
            .any(|w| w.eq_ignore_ascii_case(name));
        if named {
            return network_number(number).map(wildcard);
        }
    }
    None
}

/// `a`, `a.b`, `a.b.c` or `a.b.c.d` (decimal, or `0x` hexadecimal), left aligned.
fn network_number(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        *slot = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            Some(hex) => u8::from_str_radix(hex, 16).ok()?,
            None => part.parse().ok()?,
        };
    }
    Some(Ipv4Addr::from(octets))
}

/// Warnings for `--check` where one list hides the other, as the xinetd decision makes it:
/// an `only_from` entry inside a `no_access` entry admits nobody; a `no_access` entry inside an
/// `only_from` entry works, but logs an error for each client it refuses; a `no_access` entry
/// outside every `only_from` entry is never needed. Only numeric entries (addresses, wildcards,
/// factorized, CIDR) are considered; names are left alone.
pub fn shadowing(only_from: Option<&AddrList>, no_access: Option<&AddrList>) -> Vec<String> {
    let (Some(only_from), Some(no_access)) = (only_from, no_access) else {
        return Vec::new();
    };
    let numeric = |l: &'_ AddrList| -> Vec<Listed> {
        l.items
            .iter()
            .filter(|i| i.form == Form::Numeric)
            .cloned()
            .collect()
    };
    let (allowed, refused) = (numeric(only_from), numeric(no_access));
    let mut out = Vec::new();
    for o in &allowed {
        if let Some(n) = refused.iter().find(|n| n.entry.covers(&o.entry)) {
            out.push(format!(
                "only_from entry {} lies inside no_access entry {}: nobody from it is ever \
                 allowed (an address in both lists is refused; the more specific entry does not \
                 win)",
                describe(o),
                describe(n)
            ));
        }
    }
    for n in &refused {
        if let Some(o) = allowed
            .iter()
            .find(|o| o.entry.covers(&n.entry) && !n.entry.covers(&o.entry))
        {
            out.push(format!(
                "no_access entry {} lies inside only_from entry {}: those clients are refused, \
                 and each refusal also logs the error \"only_from list and no_access list match \
                 equally\"",
                describe(n),
                describe(o)
            ));
        }
    }
    // Only when every only_from entry is a known range: a domain may match any address.
    if !only_from.needs_name() {
        for n in &refused {
            if !only_from.items.iter().any(|o| o.entry.overlaps(&n.entry)) {
                out.push(format!(
                    "no_access entry {} is outside every only_from entry: only_from already \
                     refuses it",
                    describe(n)
                ));
            }
        }
    }
    out
}

/// `10.0.{1,2} (10.0.1.0/24)`, or `10.0.0.0/8` when that is how it was written.
fn describe(item: &Listed) -> String {
    let canonical = item.entry.to_string();
    if canonical == item.written {
        canonical
    } else {
        format!("{} ({canonical})", item.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Span;
    use std::io::Write as _;
    use std::sync::Arc;

    fn span(col: u32) -> Span {
        Span {
            file: Arc::from("t.conf"),
            line: 3,
            col,
        }
    }

    /// A resolver that knows a few names, as a stub DNS.
    fn stub(name: &str) -> Vec<IpAddr> {
        let ips: &[&str] = match name {
            "localhost" => &["::1", "127.0.0.1", "127.0.0.1"],
            "two.example" => &["192.0.2.7", "198.51.100.9"],
            "v6.example" => &["2001:db8::7"],
            _ => &[],
        };
        ips.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn no_file() -> &'static Path {
        Path::new("/nonexistent/superd-test-networks")
    }

    fn parse_with(attr: &str, text: &str, networks: &Path) -> (AddrList, Vec<Spanned<String>>) {
        let entries: Vec<Spanned<String>> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Spanned::new(w.to_string(), span(i as u32 + 1)))
            .collect();
        let names = Names {
            networks_file: networks,
            resolve: &stub,
        };
        AddrList::parse(attr, &entries, &names)
    }

    fn list(text: &str) -> AddrList {
        let (l, w) = parse_with("only_from", text, no_file());
        assert!(w.is_empty(), "{w:?}");
        l
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The peers among `candidates` that `l` matches.
    fn matched<'a>(l: &AddrList, candidates: &[&'a str]) -> Vec<&'a str> {
        candidates
            .iter()
            .copied()
            .filter(|c| l.matches(ip(c), None))
            .collect()
    }

    fn shown(l: &AddrList) -> String {
        l.to_string()
    }

    #[test]
    fn trailing_zero_octets_are_wildcards() {
        assert_eq!(shown(&list("128.138.12.0")), "128.138.12.0/24");
        assert_eq!(shown(&list("127.0.0.0")), "127.0.0.0/8");
        assert_eq!(shown(&list("127.0.1.0")), "127.0.1.0/24");
        assert_eq!(shown(&list("10.0.0.5")), "10.0.0.5/32");
        assert_eq!(shown(&list("0.0.0.1")), "0.0.0.1/32");
        assert_eq!(shown(&list("0.1.0.0")), "0.1.0.0/16");
        assert_eq!(shown(&list("0.0.0.0")), "0.0.0.0/0");
        let peers = ["127.0.0.1", "127.9.9.9", "128.0.0.1", "::1"];
        assert_eq!(matched(&list("127.0.0.0"), &peers), peers[..2]);
        assert_eq!(
            matched(&list("0.0.0.0"), &peers),
            peers[..3],
            "every IPv4 address, no native IPv6 one"
        );
    }

    #[test]
    fn factorized_entries_take_their_mask_from_the_position() {
        assert_eq!(shown(&list("127.0.0.{1,3}")), "127.0.0.1/32 127.0.0.3/32");
        assert_eq!(
            shown(&list("128.138.{1,2}")),
            "128.138.1.0/24 128.138.2.0/24"
        );
        assert_eq!(shown(&list("10.{1}")), "10.1.0.0/16");
        assert_eq!(shown(&list("10.0.{0,1}")), "10.0.0.0/24 10.0.1.0/24");
        let l = list("128.138.{1,2}");
        assert_eq!(
            matched(&l, &["128.138.1.9", "128.138.2.200", "128.138.3.1"]),
            ["128.138.1.9", "128.138.2.200"]
        );
        assert_eq!(l.items()[1].written, "128.138.{1,2}");
        assert_eq!(l.items()[1].form, Form::Numeric);
    }

    #[test]
    fn cidr_for_both_families() {
        assert_eq!(
            shown(&list("10.1.2.3/8")),
            "10.0.0.0/8",
            "host bits cleared"
        );
        assert_eq!(shown(&list("1.2.3.4/32")), "1.2.3.4/32");
        assert_eq!(shown(&list("2001:db8::1/32")), "2001:db8::/32");
        let l = list("127.0.0.2/31");
        assert_eq!(
            matched(&l, &["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]),
            ["127.0.0.2", "127.0.0.3"]
        );
        let l = list("2001:db8::/32");
        assert_eq!(
            matched(&l, &["2001:db8:ffff::1", "2001:db9::1", "127.0.0.1"]),
            ["2001:db8:ffff::1"]
        );
    }

    #[test]
    fn ipv6_slash_128_matches_its_address() {
        // xinetd never matches /128 (xinetd.md §5 #21); superd does.
        let l = list("::1/128");
        assert_eq!(matched(&l, &["::1", "::2", "::"]), ["::1"]);
        let l = list("::1/127");
        assert_eq!(matched(&l, &["::1", "::", "::2"]), ["::1", "::"]);
    }

    #[test]
    fn slash_zero() {
        let all_v4 = list("0.0.0.0/0");
        assert_eq!(
            matched(&all_v4, &["1.2.3.4", "::ffff:1.2.3.4", "::1"]),
            ["1.2.3.4", "::ffff:1.2.3.4"]
        );
        let everything = list("::/0");
        assert_eq!(
            matched(
                &everything,
                &["1.2.3.4", "::ffff:1.2.3.4", "::1", "2001:db8::1"]
            ),
            ["1.2.3.4", "::ffff:1.2.3.4", "::1", "2001:db8::1"]
        );
    }

    #[test]
    fn plain_ipv6_literal_is_exact() {
        let l = list("2001:db8::7");
        assert_eq!(
            matched(&l, &["2001:db8::7", "2001:db8::8"]),
            ["2001:db8::7"]
        );
        // `::` is the unspecified address, nothing more (as in xinetd; use ::/0 for all).
        assert_eq!(matched(&list("::"), &["::1", "1.2.3.4"]), [] as [&str; 0]);
    }

    #[test]
    fn v4_mapped_peers_are_compared_as_ipv4() {
        let l = list("127.0.0.1");
        assert!(l.matches(ip("::ffff:127.0.0.1"), None));
        assert!(!l.matches(ip("::ffff:127.0.0.2"), None));
        // A mapped literal in the list matches the IPv4 client and is shown as IPv4.
        let l = list("::ffff:127.0.0.1");
        assert_eq!(shown(&l), "127.0.0.1/32");
        assert!(l.matches(ip("127.0.0.1"), None));
        assert!(l.matches(ip("::ffff:127.0.0.1"), None));
        let l = list("::ffff:0:0/96");
        assert_eq!(shown(&l), "0.0.0.0/0");
        assert!(l.matches(ip("10.1.1.1"), None));
        assert!(!l.matches(ip("::1"), None));
        let l = list("::ffff:10.0.0.0/104");
        assert_eq!(shown(&l), "10.0.0.0/8");
        // A rule cannot be bypassed by connecting to a dual-stack socket.
        let refused = list("127.0.0.2");
        assert_eq!(
            decide(None, Some(&refused), ip("::ffff:127.0.0.2"), None),
            AddressVerdict::Deny
        );
    }

    #[test]
    fn host_names_are_resolved_at_load_into_every_address() {
        let (l, w) = parse_with("only_from", "localhost two.example", no_file());
        assert!(w.is_empty());
        assert_eq!(
            shown(&l),
            "127.0.0.1/32(localhost) ::1/128(localhost) 192.0.2.7/32(two.example) \
             198.51.100.9/32(two.example)"
        );
        assert_eq!(
            matched(
                &l,
                &[
                    "127.0.0.1",
                    "::1",
                    "::ffff:127.0.0.1",
                    "192.0.2.7",
                    "127.0.0.2"
                ]
            ),
            ["127.0.0.1", "::1", "::ffff:127.0.0.1", "192.0.2.7"]
        );
        assert!(l.items().iter().all(|i| i.form == Form::Host));
        assert!(!l.needs_name(), "no reverse lookup for host names");
    }

    #[test]
    fn unresolvable_name_warns_and_matches_nothing() {
        let (l, w) = parse_with("no_access", "127.0.0.1 no-such-host.invalid", no_file());
        assert_eq!(shown(&l), "127.0.0.1/32");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].span, span(2));
        assert!(w[0]
            .value
            .starts_with("no_access: host name 'no-such-host.invalid' does not resolve"));
        assert!(
            w[0].value.ends_with("this entry matches nobody"),
            "{}",
            w[0].value
        );
    }

    #[test]
    fn only_unresolvable_names_deny_everybody() {
        // xinetd.md §5 #20: `only_from = no-such-host.invalid` denies all.
        let (l, w) = parse_with("only_from", "no-such-host.invalid", no_file());
        assert!(l.is_empty());
        assert_eq!(w.len(), 2);
        assert!(w[1].value.contains("nobody is allowed"), "{w:?}");
        for peer in ["127.0.0.1", "::1"] {
            assert_eq!(decide(Some(&l), None, ip(peer), None), AddressVerdict::Deny);
        }
    }

    #[test]
    fn network_names_come_from_the_networks_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "# comment\nloopback\t127\t\t# the loopback net\nlink-local 169.254.0.0 ll\n\
             office 10.1 HQ\nwide 10.0\nhexnet 0x0a.0x02\n\nbroken\n"
        )
        .unwrap();
        let p = f.path();
        let (l, w) = parse_with("only_from", "loopback ll OFFICE hq wide hexnet", p);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            shown(&l),
            "127.0.0.0/8(loopback) 169.254.0.0/16(ll) 10.1.0.0/16(OFFICE) 10.1.0.0/16(hq) \
             10.0.0.0/8(wide) 10.2.0.0/16(hexnet)"
        );
        assert!(l.items().iter().all(|i| i.form == Form::Network));
        assert!(l.matches(ip("169.254.3.4"), None));
        assert!(!l.matches(ip("169.253.3.4"), None));
        // Unknown names (and a line without a number) warn.
        let (l, w) = parse_with("only_from", "broken nowhere", p);
        assert!(l.is_empty());
        assert!(w[0]
            .value
            .contains("'broken' is neither a host name that resolves nor a network"));
        assert_eq!(w[1].span, span(2));
        // A host name is tried first, as in xinetd.
        let mut f2 = tempfile::NamedTempFile::new().unwrap();
        writeln!(f2, "localhost 10.0.0.0").unwrap();
        let (l, _) = parse_with("only_from", "localhost", f2.path());
        assert_eq!(l.items()[0].form, Form::Host);
    }

    #[test]
    fn network_numbers() {
        let text = "a 1.2.3.4\nb 1.2.3\nc 0x7f\nd 256\ne 1.2.3.4.5\nf 0xzz";
        assert_eq!(network(text, "a").unwrap().to_string(), "1.2.3.4/32");
        assert_eq!(network(text, "b").unwrap().to_string(), "1.2.3.0/24");
        assert_eq!(network(text, "c").unwrap().to_string(), "127.0.0.0/8");
        for bad in ["d", "e", "f", "g"] {
            assert_eq!(network(text, bad), None, "{bad}");
        }
    }

    #[test]
    fn domains_match_the_reverse_name_suffix() {
        let l = list(".Example.COM");
        assert!(l.needs_name());
        let any = ip("192.0.2.1");
        assert!(l.matches(any, Some("host.example.com")));
        assert!(l.matches(any, Some("a.b.EXAMPLE.com.")));
        assert!(
            !l.matches(any, Some("example.com")),
            "the domain itself has no dot before"
        );
        assert!(!l.matches(any, Some("badexample.com")));
        assert!(!l.matches(any, Some("host.example.com.evil.org")));
        assert!(!l.matches(any, Some("")));
        assert!(!l.matches(any, None), "no name (lookup failed): no match");
        assert_eq!(l.items()[0].form, Form::Domain);
        assert!(!list("127.0.0.1 localhost").needs_name());
    }

    #[test]
    fn decide_table() {
        use AddressVerdict::*;
        let a = list("10.0.0.1");
        let b = list("10.0.0.0");
        let empty = AddrList::default();
        let peer = ip("10.0.0.1");
        let other = ip("10.0.0.2");
        let outside = ip("192.0.2.1");
        // (only_from, no_access, peer, verdict)
        let cases: &[(Option<&AddrList>, Option<&AddrList>, IpAddr, AddressVerdict)] = &[
            (None, None, peer, Allow),
            (Some(&a), None, peer, Allow),
            (Some(&a), None, other, Deny),
            (Some(&empty), None, peer, Deny),
            (None, Some(&a), peer, Deny),
            (None, Some(&a), other, Allow),
            (None, Some(&empty), peer, Allow),
            (Some(&b), Some(&a), peer, DenyBothMatch),
            (Some(&b), Some(&a), other, Allow),
            (Some(&b), Some(&a), outside, Deny),
            (Some(&a), Some(&b), peer, DenyBothMatch),
            (Some(&a), Some(&b), other, Deny),
            (Some(&a), Some(&b), outside, Deny),
            (Some(&empty), Some(&b), peer, Deny),
            (Some(&empty), Some(&empty), peer, Deny),
        ];
        for (i, &(of, na, p, want)) in cases.iter().enumerate() {
            assert_eq!(decide(of, na, p, None), want, "case {i}");
        }
    }

    #[test]
    fn xinetd_18_no_access_inside_only_from() {
        let of = list("127.0.0.0/8");
        let na = list("127.0.0.2");
        let v = |p: &str| decide(Some(&of), Some(&na), ip(p), None);
        assert_eq!(v("127.0.0.1"), AddressVerdict::Allow);
        assert_eq!(v("127.0.0.3"), AddressVerdict::Allow);
        assert_eq!(v("127.0.0.2"), AddressVerdict::DenyBothMatch);
        assert_eq!(v("::ffff:127.0.0.2"), AddressVerdict::DenyBothMatch);
    }

    #[test]
    fn xinetd_19_only_from_inside_no_access_denies_everybody() {
        let of = list("127.0.0.2");
        let na = list("127.0.0.0/8");
        let v = |p: &str| decide(Some(&of), Some(&na), ip(p), None);
        assert_eq!(v("127.0.0.1"), AddressVerdict::Deny);
        assert_eq!(v("127.0.0.2"), AddressVerdict::DenyBothMatch);
        assert_eq!(v("127.0.0.3"), AddressVerdict::Deny);
    }

    #[test]
    fn xinetd_20_only_from_forms() {
        let allowed =
            |of: &AddrList, p: &str| decide(Some(of), None, ip(p), None) == AddressVerdict::Allow;
        let peers = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.1.1"];
        let who = |of: &AddrList| -> Vec<&str> {
            peers.iter().copied().filter(|p| allowed(of, p)).collect()
        };
        assert_eq!(who(&list("127.0.0.0")), peers);
        assert_eq!(who(&list("127.0.1.0")), ["127.0.1.1"]);
        assert_eq!(who(&list("127.0.0.{1,3}")), ["127.0.0.1", "127.0.0.3"]);
        assert_eq!(who(&list("127.0.0.2/31")), ["127.0.0.2", "127.0.0.3"]);
        assert_eq!(who(&list("0.0.0.0")), peers);
        // xinetd matches `localhost` through the PTR of 127.0.0.1; superd through its address.
        assert_eq!(who(&list("localhost")), ["127.0.0.1"]);
        assert_eq!(who(&AddrList::default()), [] as [&str; 0]);
        let (unresolved, _) = parse_with("only_from", "no-such-host.invalid", no_file());
        assert_eq!(who(&unresolved), [] as [&str; 0]);
    }

    #[test]
    fn xinetd_21_ipv6_loopback_forms() {
        for form in ["::1/128", "::1/127", "::1"] {
            let of = list(form);
            assert_eq!(
                decide(Some(&of), None, ip("::1"), None),
                AddressVerdict::Allow,
                "{form} (xinetd denies ::1/128)"
            );
        }
    }

    #[test]
    fn access_needs_name_and_decides() {
        let access = Access {
            only_from: Some(list("127.0.0.1")),
            no_access: Some(list(".evil.example")),
            access_times: None,
        };
        assert!(access.has_address_rules());
        assert!(access.needs_name());
        assert_eq!(
            access.decide_address(ip("127.0.0.1"), Some("x.evil.example")),
            AddressVerdict::DenyBothMatch
        );
        assert_eq!(
            access.decide_address(ip("127.0.0.1"), None),
            AddressVerdict::Allow
        );
        let open = Access::default();
        assert!(!open.has_address_rules() && !open.needs_name());
        assert_eq!(open.decide_address(ip("::1"), None), AddressVerdict::Allow);
    }

    #[test]
    fn shadowing_warnings() {
        // §5 #19: the only_from entry can never admit anyone.
        let w = shadowing(Some(&list("127.0.0.2")), Some(&list("127.0.0.0/8")));
        assert_eq!(
            w,
            ["only_from entry 127.0.0.2 (127.0.0.2/32) lies inside no_access entry 127.0.0.0/8: \
              nobody from it is ever allowed (an address in both lists is refused; the more \
              specific entry does not win)"]
        );
        // §5 #18: works, but each refusal logs an error.
        let w = shadowing(Some(&list("127.0.0.0/8")), Some(&list("127.0.0.2")));
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("no_access entry 127.0.0.2 (127.0.0.2/32) lies inside only_from entry 127.0.0.0/8: "), "{w:?}");
        // The same entry in both lists.
        let w = shadowing(Some(&list("10.0.{1,2}")), Some(&list("10.0.1.0/24")));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with(
                "only_from entry 10.0.{1,2} (10.0.1.0/24) lies inside no_access entry 10.0.1.0/24"
            ),
            "{w:?}"
        );
        // A no_access entry only_from already refuses.
        let w = shadowing(Some(&list("10.0.0.0")), Some(&list("192.0.2.0")));
        assert_eq!(
            w,
            [
                "no_access entry 192.0.2.0 (192.0.2.0/24) is outside every only_from entry: \
              only_from already refuses it"
            ]
        );
        // Across families: ::/0 refuses every IPv4 client too.
        let w = shadowing(Some(&list("127.0.0.1")), Some(&list("::/0")));
        assert!(w[0].contains("lies inside no_access entry ::/0"), "{w:?}");
        // Nothing to say.
        assert!(shadowing(
            Some(&list("10.0.0.0 10.1.0.0")),
            Some(&list(".example.com"))
        )
        .is_empty());
        assert!(shadowing(Some(&list("10.0.0.0")), None).is_empty());
        assert!(shadowing(None, Some(&list("10.0.0.0"))).is_empty());
        // Names are not considered, and a domain in only_from may match anything.
        assert!(shadowing(Some(&list("localhost")), Some(&list("127.0.0.0"))).is_empty());
        assert!(shadowing(Some(&list(".example.com")), Some(&list("192.0.2.0"))).is_empty());
    }

    #[test]
    fn entry_constructors_clear_host_bits() {
        assert_eq!(
            Entry::v4(Ipv4Addr::new(10, 9, 8, 7), 12),
            Entry::V4 {
                net: Ipv4Addr::new(10, 0, 0, 0),
                prefix: 12
            }
        );
        assert_eq!(
            Entry::v4(Ipv4Addr::new(10, 9, 8, 7), 40).to_string(),
            "10.9.8.7/32"
        );
        assert_eq!(
            Entry::v6("2001:db8:1234::1".parse().unwrap(), 36).to_string(),
            "2001:db8:1000::/36"
        );
        assert_eq!(Entry::host(ip("::ffff:1.2.3.4")).to_string(), "1.2.3.4/32");
        assert!(Entry::v4(Ipv4Addr::UNSPECIFIED, 0).covers(&Entry::host(ip("9.9.9.9"))));
        assert!(!Entry::v4(Ipv4Addr::UNSPECIFIED, 0).covers(&Entry::host(ip("::9"))));
        assert!(!Entry::Domain(".a".into()).covers(&Entry::Domain(".a".into())));
    }
}
