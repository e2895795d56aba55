//! Value syntax shared by several attributes: numbers, sizes, addresses, host names, time windows.
//!
//! Each function takes one word and returns the typed value, or the text that completes
//! "invalid value 'X' for ATTR: ..." (what was expected). Nothing here resolves names or touches
//! the system; `table::build` does that.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A non-negative decimal number: digits only, no sign.
pub(crate) fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(crate) fn yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// `n`, `nK` or `nM` (binary units, suffix case-insensitive).
pub(crate) fn size(s: &str) -> Option<u64> {
    let (digits, unit) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    number::<u64>(digits)?.checked_mul(unit)
}

/// The hard limit xinetd derives from a soft one: soft + clamp(1% of soft, 5 KiB, 20 KiB).
pub(crate) fn default_hard_limit(soft: u64) -> u64 {
    soft.saturating_add((soft / 100).clamp(5 * 1024, 20 * 1024))
}

/// One `access_times` window `HH:MM-HH:MM` as inclusive minutes since midnight.
pub(crate) fn time_window(s: &str) -> Result<(u16, u16), &'static str> {
    const SHAPE: &str = "expected a window like 08:00-17:30 (HH:MM-HH:MM)";
    let (start, end) = s.split_once('-').ok_or(SHAPE)?;
    let start = clock(start)?;
    let end = clock(end)?;
    if start > end {
        return Err(
            "the window starts after it ends; a window cannot wrap past midnight, \
                    write two windows instead (e.g. 22:00-23:59 00:00-06:00)",
        );
    }
    Ok((start, end))
}

fn clock(s: &str) -> Result<u16, &'static str> {
    const SHAPE: &str = "expected a window like 08:00-17:30 (HH:MM-HH:MM)";
    let (h, m) = s.split_once(':').ok_or(SHAPE)?;
    if h.len() > 2 || m.len() > 2 {
        return Err(SHAPE);
    }
    let h: u16 = number(h).ok_or(SHAPE)?;
    let m: u16 = number(m).ok_or(SHAPE)?;
    if h > 23 {
        return Err("hours must be 0 to 23 (24:00 is invalid; use 23:59)");
    }
    if m > 59 {
        return Err("minutes must be 0 to 59");
    }
    Ok(h * 60 + m)
}

/// A host name or a `.domain` suffix: letters, digits, `.`, `-`, `_`, at least one alphanumeric.
pub(crate) fn is_host_name(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && s.bytes().any(|b| b.is_ascii_alphanumeric())
}

/// A `bind`/`interface` or `redirect` host: an IPv4/IPv6 literal (with an optional `%scope` on
/// IPv6) or a host name.
pub(crate) fn host(s: &str) -> Result<(), &'static str> {
    const EXPECTED: &str = "expected an IPv4 or IPv6 address or a host name";
    if s.contains(':') {
        let addr = s
            .split_once('%')
            .map_or(s, |(a, scope)| if scope.is_empty() { s } else { a });
        return addr.parse::<Ipv6Addr>().map(drop).map_err(|_| EXPECTED);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<Ipv4Addr>().map(drop).map_err(|_| EXPECTED);
    }
    if is_host_name(s) {
        Ok(())
    } else {
        Err(EXPECTED)
    }
}

/// A port number or a service name (`redirect`).
pub(crate) fn port_or_service(s: &str) -> Result<(), &'static str> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return number::<u16>(s)
            .map(drop)
            .ok_or("expected a port number from 0 to 65535");
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if ok {
        Ok(())
    } else {
        Err("expected a port number or a service name")
    }
}

/// One `only_from`/`no_access` entry, syntax only (see xinetd.conf(5) for the forms).
pub(crate) fn address_entry(s: &str) -> Result<(), &'static str> {
    if let Some(open) = s.find('{') {
        return factorized(&s[..open], &s[open..]);
    }
    if s.contains(',') {
        return Err("commas are only allowed inside {...}; separate entries with spaces");
    }
    if let Some((addr, prefix)) = s.split_once('/') {
        let max = if addr.contains(':') {
            addr.parse::<Ipv6Addr>()
                .map_err(|_| "expected an IPv6 address before '/', as in 2001:db8::/32")?;
            128
        } else {
            addr.parse::<Ipv4Addr>()
                .map_err(|_| "expected an IPv4 address before '/', as in 10.0.0.0/8")?;
            32
        };
        return match number::<u32>(prefix) {
            Some(n) if n <= max => Ok(()),
            _ if max == 32 => Err("expected a prefix length from 0 to 32 after '/'"),
            _ => Err("expected a prefix length from 0 to 128 after '/'"),
        };
    }
    if s.contains(':') {
        return s
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| "expected a valid IPv6 address");
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<Ipv4Addr>().map(drop).map_err(|_| {
            "expected an IPv4 address of four numbers from 0 to 255 (trailing 0s are wildcards)"
        });
    }
    if is_host_name(s) {
        Ok(())
    } else {
        Err(
            "expected an address, a.b.c.d/n, a.b.{c,d}, a host name or .domain \
             (host names may contain only letters, digits, '.', '-' and '_')",
        )
    }
}

/// `a.b.{c,d}`: one to three leading octets, then a brace list of octets, at the end.
fn factorized(prefix: &str, braces: &str) -> Result<(), &'static str> {
    const EXPECTED: &str =
        "expected a factorized address like 10.0.{1,2,3} (numbers 0 to 255, braces last)";
    let inner = braces
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or(EXPECTED)?;
    let head = prefix.strip_suffix('.').ok_or(EXPECTED)?;
    let octets: Vec<&str> = head.split('.').collect();
    if octets.len() > 3 || octets.iter().any(|o| number::<u8>(o).is_none()) {
        return Err(EXPECTED);
    }
    if inner.split(',').any(|o| number::<u8>(o).is_none()) {
        return Err(EXPECTED);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_digits() {
        assert_eq!(number::<u32>("42"), Some(42));
        for bad in ["", "-1", "+1", "1x", " 1", "99999999999"] {
            assert_eq!(number::<u32>(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_take_k_and_m_suffixes() {
        assert_eq!(size("10"), Some(10));
        assert_eq!(size("2k"), Some(2048));
        assert_eq!(size("8M"), Some(8 << 20));
        assert_eq!(size("K"), None);
        assert_eq!(size("1G"), None);
        assert_eq!(size("99999999999999999999M"), None);
    }

    #[test]
    fn hard_limit_default_is_clamped() {
        assert_eq!(default_hard_limit(300), 300 + 5 * 1024);
        assert_eq!(default_hard_limit(1_000_000), 1_000_000 + 10_000);
        assert_eq!(default_hard_limit(10 << 20), (10 << 20) + 20 * 1024);
    }

    #[test]
    fn time_windows() {
        assert_eq!(time_window("2:00-9:00"), Ok((120, 540)));
        assert_eq!(time_window("00:00-23:59"), Ok((0, 1439)));
        assert_eq!(time_window("12:00-12:00"), Ok((720, 720)));
        assert!(time_window("12:00-24:00")
            .unwrap_err()
            .contains("24:00 is invalid"));
        assert!(time_window("12:60-13:00").unwrap_err().contains("minutes"));
        assert!(time_window("13:00-12:00").unwrap_err().contains("wrap"));
        for bad in ["12-13", "1:2:3-4:5", "a:00-b:00", "123:00-124:00", "12:00"] {
            assert!(time_window(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_entries() {
        for ok in [
            "127.0.0.1",
            "127.0.0.0",
            "0.0.0.0",
            "10.0.{1,2}",
            "10.{1}",
            "1.2.3.{4,5,6}",
            "10.0.0.0/8",
            "1.2.3.4/32",
            "::1",
            "::1/128",
            "2001:db8::/32",
            "::ffff:127.0.0.1",
            "localhost",
            ".example.com",
            "my_host-1.lan",
        ] {
            assert_eq!(address_entry(ok), Ok(()), "{ok}");
        }
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "10.0.0.0/33",
            "::/129",
            "10/8",
            "::1::2",
            "a,b",
            "10.{1,2",
            "{1,2}",
            "1.2.3.4.{5}",
            "10.0.{1,300}",
            "ho$t",
            "...",
            "10.0.0.0/",
        ] {
            assert!(address_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_and_ports() {
        for ok in ["127.0.0.1", "::1", "fe80::1%eth0", "localhost", "a.b-c"] {
            assert_eq!(host(ok), Ok(()), "{ok}");
        }
        for bad in ["1.2.3.4.5", "::g", "a b", "x/y", "}"] {
            assert!(host(bad).is_err(), "{bad}");
        }
        assert_eq!(port_or_service("80"), Ok(()));
        assert_eq!(port_or_service("http"), Ok(()));
        assert!(port_or_service("65536").is_err());
        assert!(port_or_service("a/b").is_err());
    }
}
