//! Patterns of the hosts_access(5) language: token text → typed pattern → match.
//!
//! libwrap interprets each token at match time with a fixed order of tests; `parse` runs the same
//! tests once, in the same order, and keeps the outcome as an enum, so that matching is a plain
//! comparison. The orders below are the ones Debian's libwrap 7.6.q uses, checked against
//! `tcpdmatch`: a token with `*` or `?` is a glob before anything else; `.x` is a suffix, `x.` a
//! prefix; `[v6]` compares addresses, any other literal compares text, case-insensitively.
//! Netmasks keep libwrap's quirks on purpose: the IPv4 network is *not* masked
//! (`127.0.0.1/8` matches nothing), `/0` and `255.255.255.255` are invalid IPv4 masks, and
//! prefix lengths are read like C's `atoi`. A `/file` is read when it is matched, as libwrap does.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// How deep `/file` patterns may name other files before matching gives up (libwrap recurses
/// until it runs out of descriptors; a loop of files must not hang the daemon).
const MAX_FILE_DEPTH: u32 = 8;

/// The text libwrap uses for a name, address or user it does not know.
pub(crate) const UNKNOWN: &str = "unknown";
/// The host name libwrap uses when the reverse name does not map back to the address.
pub(crate) const PARANOID: &str = "paranoid";

/// A list of patterns with an optional `EXCEPT` list: `a b EXCEPT c EXCEPT d` is
/// `[a, b] EXCEPT ([c] EXCEPT [d])`, right-associative as libwrap reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<P> {
    pub items: Vec<P>,
    pub except: Option<Box<List<P>>>,
}

impl<P> List<P> {
    /// Builds a list from the tokens of one field; `parse` turns a token into a pattern.
    pub(crate) fn parse<'t>(
        mut tokens: impl Iterator<Item = &'t str>,
        parse: &impl Fn(&str) -> P,
    ) -> Self {
        let mut items = Vec::new();
        for tok in tokens.by_ref() {
            if tok.eq_ignore_ascii_case("EXCEPT") {
                return List {
                    items,
                    except: Some(Box::new(List::parse(tokens, parse))),
                };
            }
            items.push(parse(tok));
        }
        List {
            items,
            except: None,
        }
    }

    /// Whether some item matches and the exception list (if any) does not.
    pub(crate) fn matches(&self, hit: &impl Fn(&P) -> bool) -> bool {
        self.items.iter().any(hit) && !self.except.as_ref().is_some_and(|e| e.matches(hit))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &P> {
        let mut all: Vec<&P> = Vec::new();
        let mut cur = Some(self);
        while let Some(list) = cur {
            all.extend(list.items.iter());
            cur = list.except.as_deref();
        }
        all.into_iter()
    }
}

/// Splits a field into list tokens: blanks and commas separate, empty tokens vanish.
pub(crate) fn tokens(field: &str) -> impl Iterator<Item = &str> {
    field
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
}

/// libwrap's `split_at`: the text before and after the first `delim` outside `[...]`.
pub(crate) fn split_at(text: &str, delim: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == delim && depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// A pattern matched against one string (a daemon name, a user name, or a host's address or
/// name): libwrap's `string_match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrPattern {
    /// `*` and `?` wildcards (case-insensitive, anchored at both ends).
    Glob(String),
    /// `.domain`: the string ends with it (and is longer).
    Suffix(String),
    /// `ALL`.
    All,
    /// `KNOWN`: the string is not `unknown`.
    Known,
    /// `n.n.n.`: the string starts with it.
    Prefix(String),
    /// `[v6addr]`: the string is that IPv6 address in any spelling; `None` never matches.
    V6(Option<Ipv6Addr>),
    /// Anything else, `UNKNOWN` and `PARANOID` included: the same text, ignoring case.
    Exact(String),
}

impl StrPattern {
    pub fn parse(tok: &str) -> StrPattern {
        if tok.contains(['*', '?']) {
            StrPattern::Glob(tok.to_string())
        } else if tok.starts_with('.') {
            StrPattern::Suffix(tok.to_string())
        } else if tok.eq_ignore_ascii_case("ALL") {
            StrPattern::All
        } else if tok.eq_ignore_ascii_case("KNOWN") {
            StrPattern::Known
        } else if tok.ends_with('.') {
            StrPattern::Prefix(tok.to_string())
        } else if tok.len() >= 2 && tok.starts_with('[') && tok.ends_with(']') {
            StrPattern::V6(tok[1..tok.len() - 1].parse().ok())
        } else {
            StrPattern::Exact(tok.to_string())
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        // libwrap compares an IPv4-mapped address as the IPv4 address.
        let s = match s.get(..7) {
            Some(head) if head.eq_ignore_ascii_case("::ffff:") && dot_quad(&s[7..]).is_some() => {
                &s[7..]
            }
            _ => s,
        };
        match self {
            StrPattern::Glob(p) => glob(p.as_bytes(), s.as_bytes()),
            StrPattern::Suffix(p) => {
                s.len() > p.len()
                    && s.as_bytes()[s.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            StrPattern::All => true,
            StrPattern::Known => !s.eq_ignore_ascii_case(UNKNOWN),
            StrPattern::Prefix(p) => {
                s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            StrPattern::V6(Some(a)) => s.parse::<Ipv6Addr>().is_ok_and(|b| b == *a),
            StrPattern::V6(None) => false,
            StrPattern::Exact(p) => p.eq_ignore_ascii_case(s),
        }
    }
}

/// A pattern matched against a host (client, or server in `daemon@host`): libwrap's
/// `host_match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `@group`: a netgroup, asked through NSS with the host's name (`innetgr`).
    Netgroup(String),
    /// `/path`: a file of whitespace-separated host patterns, read when matched.
    File(PathBuf),
    /// `KNOWN`: address and name both known.
    Known,
    /// `LOCAL`: a known name without a dot.
    Local,
    /// `net/mask`, `net/len` or `[v6net]/len`.
    Mask(NetMask),
    /// Any other pattern, tried on the address, and on the name unless it looks numeric.
    Str { pat: StrPattern, also_name: bool },
}

/// A `net/mask` pattern, pre-digested for both address families: libwrap decides by the
/// client's address which of the two readings applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetMask {
    pub text: String,
    /// The IPv4 reading: network (unmasked, as written) and mask; `None` if invalid.
    pub v4: Option<(u32, u32)>,
    /// The IPv6 reading: `[net]` and prefix length; `None` if invalid.
    pub v6: Option<(Ipv6Addr, u32)>,
}

impl HostPattern {
    pub fn parse(tok: &str) -> HostPattern {
        if let Some(group) = tok.strip_prefix('@') {
            HostPattern::Netgroup(group.to_string())
        } else if tok.starts_with('/') {
            HostPattern::File(PathBuf::from(tok))
        } else if tok.eq_ignore_ascii_case("KNOWN") {
            HostPattern::Known
        } else if tok.eq_ignore_ascii_case("LOCAL") {
            HostPattern::Local
        } else if let Some((net, mask)) = split_at(tok, '/') {
            HostPattern::Mask(NetMask::parse(tok, net, mask))
        } else {
            // libwrap's NOT_INADDR: anything beyond digits, dots and slashes may be a name.
            let also_name = tok.contains(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/'));
            HostPattern::Str {
                pat: StrPattern::parse(tok),
                also_name,
            }
        }
    }

    /// Whether matching this pattern may need the host's name (a reverse lookup).
    pub fn needs_name(&self) -> bool {
        match self {
            HostPattern::Netgroup(_)
            | HostPattern::File(_)
            | HostPattern::Known
            | HostPattern::Local => true,
            HostPattern::Mask(_) => false,
            HostPattern::Str { pat, also_name } => {
                *also_name && !matches!(pat, StrPattern::All | StrPattern::V6(_))
            }
        }
    }

    pub fn matches(&self, host: &HostView) -> bool {
        self.matches_at(host, 0)
    }

    fn matches_at(&self, host: &HostView, depth: u32) -> bool {
        match self {
            // libwrap asks with the host's name, and only with a real one.
            HostPattern::Netgroup(group) => {
                name_known(&host.name) && crate::listen::in_netgroup(group, &host.name)
            }
            HostPattern::File(path) => {
                depth < MAX_FILE_DEPTH && file_matches(path, host, depth + 1)
            }
            HostPattern::Known => host.addr != UNKNOWN && name_known(&host.name),
            HostPattern::Local => !host.name.contains('.') && name_known(&host.name),
            HostPattern::Mask(m) => m.matches(&host.addr),
            HostPattern::Str { pat, also_name } => {
                pat.matches(&host.addr) || (*also_name && pat.matches(&host.name))
            }
        }
    }
}

/// Reads a `/file` pattern: every whitespace-separated word is a host pattern. A missing or
/// unreadable file matches nothing, as in libwrap.
fn file_matches(path: &std::path::Path, host: &HostView, depth: u32) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.split_ascii_whitespace()
        .any(|tok| HostPattern::parse(tok).matches_at(host, depth))
}

/// libwrap's HOSTNAME_KNOWN.
pub(crate) fn name_known(name: &str) -> bool {
    !name.eq_ignore_ascii_case(UNKNOWN) && !name.eq_ignore_ascii_case(PARANOID)
}

impl NetMask {
    fn parse(text: &str, net: &str, mask: &str) -> NetMask {
        let v4 = dot_quad(net).and_then(|n| {
            let m = dot_quad(mask).or_else(|| match atoi(mask) {
                len @ 1..=32 => Some(u32::MAX << (32 - len)),
                _ => None,
            })?;
            Some((n, m))
        });
        let v6 = net
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .and_then(|n| n.parse::<Ipv6Addr>().ok())
            .and_then(|n| match atoi(mask) {
                len @ 0..=128 => Some((n, len as u32)),
                _ => None,
            });
        NetMask {
            text: text.to_string(),
            v4,
            v6,
        }
    }

    /// Whether the pattern is unusable for both address families (libwrap warns at match time).
    pub fn is_bad(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }

    fn matches(&self, addr: &str) -> bool {
        let addr = match addr.get(..7) {
            Some(head)
                if head.eq_ignore_ascii_case("::ffff:") && dot_quad(&addr[7..]).is_some() =>
            {
                &addr[7..]
            }
            _ => addr,
        };
        if let Some(a) = dot_quad(addr) {
            return self.v4.is_some_and(|(net, mask)| a & mask == net);
        }
        match (self.v6, addr.parse::<Ipv6Addr>()) {
            (Some((net, len)), Ok(a)) => {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                u128::from(a) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }
}

/// C's `atoi` as glibc does it (`strtol`, then truncated to `int`): leading blanks, a sign,
/// digits, anything after ignored; no digits is 0.
fn atoi(s: &str) -> i32 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        v = -v;
    }
    v as i32
}

/// libwrap's `dot_quad_addr`: exactly four dot-separated parts, read by `inet_addr` (so octal
/// `0177` and hex `0x7f` parts are accepted), and `255.255.255.255` is "no address".
pub(crate) fn dot_quad(s: &str) -> Option<u32> {
    if s.split('.').filter(|part| !part.is_empty()).count() != 4 {
        return None;
    }
    let mut parts = [0u32; 4];
    let mut n = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        // One number, written as C does: 0x hex, leading 0 octal, else decimal.
        let (base, mut digit) = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'0'), Some(b'x' | b'X')) => {
                i += 2;
                (16, false)
            }
            (Some(b'0'), _) => {
                i += 1;
                (8, true)
            }
            (Some(c), _) if c.is_ascii_digit() => (10, false),
            _ => return None,
        };
        let mut val: u64 = 0;
        while let Some(&c) = bytes.get(i) {
            let d = match c {
                b'0'..=b'9' => u64::from(c - b'0'),
                b'a'..=b'f' if base == 16 => u64::from(c - b'a' + 10),
                b'A'..=b'F' if base == 16 => u64::from(c - b'A' + 10),
                _ => break,
            };
            if d >= base {
                return None;
            }
            val = (val * base + d).min(u64::from(u32::MAX) + 1);
            digit = true;
            i += 1;
        }
        if n == 4 || val > 0xff {
            return None;
        }
        parts[n] = val as u32;
        n += 1;
        match bytes.get(i) {
            Some(b'.') if n < 4 => i += 1,
            None if n == 4 && digit => break,
            _ => return None,
        }
    }
    let v = u32::from(Ipv4Addr::new(
        parts[0] as u8,
        parts[1] as u8,
        parts[2] as u8,
        parts[3] as u8,
    ));
    (v != u32::MAX).then_some(v)
}

/// Anchored glob with `*` and `?`, ASCII case-insensitive (as Debian's libwrap matches).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with one backtrack point: the last `*` seen.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&s[i]) => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// A host as the patterns see it: its address text and name text, `unknown` when missing and
/// `paranoid` for a name that does not map back to the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    pub addr: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(addr: &str) -> HostView {
        HostView {
            addr: addr.to_string(),
            name: UNKNOWN.to_string(),
        }
    }

    fn named(addr: &str, name: &str) -> HostView {
        HostView {
            addr: addr.to_string(),
            name: name.to_string(),
        }
    }

    fn hm(tok: &str, h: &HostView) -> bool {
        HostPattern::parse(tok).matches(h)
    }

    #[test]
    fn dot_quad_reads_like_inet_addr_with_four_parts() {
        assert_eq!(dot_quad("127.0.0.1"), Some(0x7f00_0001));
        assert_eq!(dot_quad("0177.0.0.01"), Some(0x7f00_0001));
        assert_eq!(dot_quad("0x7f.0.0.0"), Some(0x7f00_0000));
        assert_eq!(dot_quad("0.0.0.0"), Some(0));
        assert_eq!(dot_quad("255.255.255.255"), None);
        assert_eq!(dot_quad("127.0.0"), None);
        assert_eq!(dot_quad("127.0.0.256"), None);
        assert_eq!(dot_quad("127.0.0.1x"), None);
        assert_eq!(dot_quad("127.0.0.08"), None);
        assert_eq!(dot_quad("1..2.3.4"), None);
        assert_eq!(dot_quad("255.0.0.0x"), None);
    }

    #[test]
    fn atoi_is_c_atoi() {
        assert_eq!(atoi("8"), 8);
        assert_eq!(atoi("+8"), 8);
        assert_eq!(atoi("8x"), 8);
        assert_eq!(atoi("x8"), 0);
        assert_eq!(atoi("-8"), -8);
        assert_eq!(atoi("4294967304"), 8);
    }

    #[test]
    fn glob_is_anchored_and_ignores_case() {
        assert!(glob(b"in.t*", b"IN.TFTPD"));
        assert!(glob(b"*", b""));
        assert!(glob(b"127.0.0.?", b"127.0.0.5"));
        assert!(!glob(b"127.0.0.?", b"127.0.0.15"));
        assert!(glob(b"127.*.1", b"127.0.0.1"));
        assert!(glob(b"*a*b", b"xaxxab"));
        assert!(!glob(b"*a*b", b"xaxxa"));
    }

    #[test]
    fn string_patterns_in_libwrap_order() {
        assert!(StrPattern::parse(".ech?").matches(".echo")); // glob before suffix
        assert!(StrPattern::parse("IN.*.").matches("in.x.")); // glob before prefix
        assert!(StrPattern::parse(".tue.nl").matches("wzv.win.TUE.nl"));
        assert!(!StrPattern::parse(".tue.nl").matches(".tue.nl"));
        assert!(StrPattern::parse("in.").matches("in.tftpd"));
        assert!(!StrPattern::parse("127.0.0.1.").matches("127.0.0.1"));
        assert!(StrPattern::parse("ECHO").matches("echo"));
        assert!(StrPattern::parse("UNKNOWN").matches("unknown"));
        assert!(!StrPattern::parse("KNOWN").matches("Unknown"));
        assert!(StrPattern::parse("[0:0::1]").matches("::1"));
        assert!(!StrPattern::parse("[::ffff:127.0.0.1]").matches("127.0.0.1"));
        assert!(StrPattern::parse("127.0.0.1").matches("::ffff:127.0.0.1"));
    }

    #[test]
    fn netmask_keeps_libwrap_quirks() {
        let v4 = host("127.0.0.1");
        assert!(hm("127.0.0.0/255.0.0.0", &v4));
        assert!(!hm("127.0.0.1/255.0.0.0", &v4)); // network is not masked
        assert!(hm("127.0.0.0/8", &v4));
        assert!(hm("127.0.0.0/8x", &v4));
        assert!(hm("127.0.0.1/32", &v4));
        assert!(!hm("127.0.0.1/255.255.255.255", &v4)); // not a valid mask
        assert!(!hm("0.0.0.0/0", &v4)); // /0 is invalid for IPv4
        assert!(hm("0.0.0.0/0.0.0.0", &v4));
        assert!(!hm("[::]/0", &v4));
        let v6 = host("::2");
        assert!(hm("[::1]/126", &v6)); // but the IPv6 network is masked
        assert!(hm("[::1]/x", &v6)); // atoi("x") = 0
        assert!(!hm("[::1]/129", &v6));
        assert!(!hm("[::1]/-1", &v6));
        assert!(!hm("::1/128", &host("::1")));
    }

    #[test]
    fn known_local_and_names() {
        assert!(!hm("KNOWN", &host("127.0.0.1")));
        assert!(hm("KNOWN", &named("127.0.0.1", "localhost")));
        assert!(!hm("KNOWN", &named("127.0.0.1", PARANOID)));
        assert!(hm("LOCAL", &named("127.0.0.1", "localhost")));
        assert!(!hm("LOCAL", &named("127.0.0.1", "a.b")));
        assert!(!hm("LOCAL", &host("127.0.0.1")));
        assert!(hm("UNKNOWN", &host("127.0.0.1")));
        assert!(hm("PARANOID", &named("127.0.0.1", PARANOID)));
        assert!(hm(".example.org", &named("10.0.0.1", "www.example.org")));
        // A numeric-looking pattern is never tried on the name.
        assert!(!hm("10.", &named("127.0.0.1", "10.example")));
        assert!(hm("10.*", &named("127.0.0.1", "10.example")));
        assert!(!hm("@staff", &named("127.0.0.1", "localhost")));
    }

    #[test]
    fn list_except_is_right_associative() {
        let l = List::parse(
            tokens("ALL EXCEPT ALL except 127.0.0.1"),
            &HostPattern::parse,
        );
        assert!(l.matches(&|p: &HostPattern| p.matches(&host("127.0.0.1"))));
        assert!(!l.matches(&|p: &HostPattern| p.matches(&host("127.0.0.2"))));
        let l = List::parse(tokens("EXCEPT ALL"), &HostPattern::parse);
        assert!(!l.matches(&|p: &HostPattern| p.matches(&host("127.0.0.1"))));
        let l = List::parse(tokens("ALL EXCEPT"), &HostPattern::parse);
        assert!(l.matches(&|p: &HostPattern| p.matches(&host("127.0.0.1"))));
    }

    #[test]
    fn split_at_skips_brackets() {
        assert_eq!(split_at("ALL@[::1]: x", ':'), Some(("ALL@[::1]", " x")));
        assert_eq!(split_at("a]:b", ':'), None);
        assert_eq!(split_at("[::1]/64", '/'), Some(("[::1]", "64")));
    }
}
