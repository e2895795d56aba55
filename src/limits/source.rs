//! `per_source`: how many servers of one service a single client address may have running.
//!
//! Input: the service's limit and the number of its running servers started for the same
//! address. Output: whether one more is refused (`per_source_limit`). [`SourceCounts`] keeps
//! those numbers per service: the runtime increments it when a server starts and decrements it
//! when that server ends, and entries that drop to zero are removed, so its size is bounded by
//! the number of running servers, whatever the number of clients seen.
//!
//! Addresses are compared after turning an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
//! dual-stack socket reports for an IPv4 client) into the IPv4 address, so a client cannot get
//! a second allowance by reaching the service over the other family. xinetd compares the raw
//! `sin_addr`/`sin6_addr` of the service's own family.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::model::Limit;

/// Whether a service with `per_source = limit` must refuse a client that already has
/// `running_from_same_ip` servers of it running. `per_source = 0` refuses everyone, as xinetd.
pub fn per_source_exceeded(limit: Limit, running_from_same_ip: usize) -> bool {
    match limit {
        Limit::Unlimited => false,
        Limit::Max(max) => running_from_same_ip >= max as usize,
    }
}

/// Running servers of one service, per client address. The map is allocated at the first
/// server: every service has one of these, most never start a server (or not yet), and an
/// empty `HashMap` is still 48 bytes.
#[derive(Clone, Debug, Default)]
pub struct SourceCounts {
    // Boxed on purpose: 8 bytes per service instead of 48 (clippy assumes the map is the size).
    #[allow(clippy::box_collection)]
    running: Option<Box<HashMap<IpAddr, u32>>>,
}

impl SourceCounts {
    pub fn new() -> SourceCounts {
        SourceCounts::default()
    }

    /// Servers running for `ip` (0 for an address not seen).
    pub fn count(&self, ip: IpAddr) -> usize {
        self.running
            .as_ref()
            .and_then(|m| m.get(&ip.to_canonical()))
            .map_or(0, |&n| n as usize)
    }

    /// A server started for `ip`; returns its new count.
    pub fn increment(&mut self, ip: IpAddr) -> u32 {
        let running = self.running.get_or_insert_with(Default::default);
        let n = running.entry(ip.to_canonical()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// A server for `ip` ended; returns the count left. The entry goes away at zero. An address
    /// with no entry stays absent (returns 0), so a stray decrement cannot underflow.
    pub fn decrement(&mut self, ip: IpAddr) -> u32 {
        let ip = ip.to_canonical();
        let Some(running) = self.running.as_mut() else {
            return 0;
        };
        let Some(n) = running.get_mut(&ip) else {
            return 0;
        };
        *n -= 1; // entries are never 0: they are removed when they get there
        let left = *n;
        if left == 0 {
            running.remove(&ip);
        }
        left
    }

    /// Distinct addresses with at least one running server.
    pub fn len(&self) -> usize {
        self.running.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limit_is_reached_at_max() {
        assert!(!per_source_exceeded(Limit::Max(1), 0));
        assert!(per_source_exceeded(Limit::Max(1), 1));
        assert!(per_source_exceeded(Limit::Max(2), 3));
        assert!(per_source_exceeded(Limit::Max(0), 0), "0 refuses everyone");
        assert!(!per_source_exceeded(Limit::Unlimited, usize::MAX));
    }

    /// Reference §5 #24: `per_source = 1`, a second client from 127.0.0.1 is refused, one from
    /// 127.0.0.2 is not.
    #[test]
    fn per_source_1_refuses_second_client_from_same_address_only() {
        let mut counts = SourceCounts::new();
        assert!(!per_source_exceeded(
            Limit::Max(1),
            counts.count(ip("127.0.0.1"))
        ));
        counts.increment(ip("127.0.0.1"));
        assert!(per_source_exceeded(
            Limit::Max(1),
            counts.count(ip("127.0.0.1"))
        ));
        assert!(!per_source_exceeded(
            Limit::Max(1),
            counts.count(ip("127.0.0.2"))
        ));
    }

    #[test]
    fn entries_vanish_at_zero() {
        let mut counts = SourceCounts::new();
        assert_eq!(counts.increment(ip("10.0.0.1")), 1);
        assert_eq!(counts.increment(ip("10.0.0.1")), 2);
        assert_eq!(counts.increment(ip("::1")), 1);
        assert_eq!(counts.len(), 2);
        assert_eq!(counts.decrement(ip("10.0.0.1")), 1);
        assert_eq!(counts.decrement(ip("10.0.0.1")), 0);
        assert_eq!(counts.decrement(ip("::1")), 0);
        assert!(counts.is_empty());
    }

    #[test]
    fn decrement_of_unknown_address_does_nothing() {
        let mut counts = SourceCounts::new();
        assert_eq!(counts.decrement(ip("192.0.2.1")), 0);
        assert!(counts.is_empty());
    }

    #[test]
    fn v4_mapped_address_counts_as_the_ipv4_address() {
        let mut counts = SourceCounts::new();
        counts.increment(ip("::ffff:127.0.0.1"));
        assert_eq!(counts.count(ip("127.0.0.1")), 1);
        counts.increment(ip("127.0.0.1"));
        assert_eq!(counts.count(ip("::ffff:127.0.0.1")), 2);
        assert_eq!(counts.len(), 1);
        counts.decrement(ip("127.0.0.1"));
        counts.decrement(ip("::ffff:127.0.0.1"));
        assert!(counts.is_empty());
    }

    #[test]
    fn memory_is_bounded_by_running_servers() {
        let mut counts = SourceCounts::new();
        for i in 0..=255u8 {
            let a = IpAddr::from([10, 0, 0, i]);
            counts.increment(a);
            counts.decrement(a);
        }
        assert!(counts.is_empty());
    }
}
