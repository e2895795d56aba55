//! The global deny list fed by `flags = SENSOR` services.
//!
//! Input: hits on a sensor service (peer address, the service's `deny_time`, now), and later
//! connections to any service. Output: whether a peer is listed, which the caller refuses as
//! `address` (xinetd checks it together with `only_from`/`no_access`).
//!
//! `deny_time`: `Minutes(n)` lists the address until n minutes from now; `Forever` for good;
//! `Never` (xinetd's default, as is `Minutes(0)`) records nothing, the sensor hit is only
//! logged as FAIL `address`.
//!
//! Invariants: at most `capacity` entries (xinetd's 10240, [`SENSOR_CAPACITY`]); `order` holds
//! exactly one `(expiry, seq, ip)` per entry of `entries`, so eviction and expiry take the
//! earliest first in O(log n) even under a flood of distinct (for UDP, forged) sources.
//!
//! Differences from xinetd:
//! * A repeat hit extends the listing to the later of the old and the new expiry; xinetd means
//!   to but never does (an inverted test, reference §1.9). A hit never shortens a listing, and
//!   `Forever` stays forever.
//! * A full list drops the entry that expires first (FOREVER ones last, oldest first among
//!   equals) and reports it; xinetd stops listing anyone ("Maximum global_no_access count
//!   reached"), so an attacker who filled it would be free of every sensor from then on.
//! * An entry stops denying at its expiry exactly (checked on lookup); xinetd's 60-s scrub timer
//!   kept it up to a minute longer.
//! * IPv4-mapped IPv6 addresses are stored and looked up as IPv4, so a listing made on a
//!   dual-stack socket also denies the client on IPv4-only services, and the reverse; xinetd
//!   compares address strings, which differ.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::model::DenyTime;

/// xinetd's `MAX_GLOBAL_NO_ACCESS`.
pub const SENSOR_CAPACITY: usize = 10_240;

/// When a listing ends. `At` sorts before `Never`, so the earliest expiry comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expiry {
    At(Instant),
    Never,
}

impl Expiry {
    fn has_passed(self, now: Instant) -> bool {
        matches!(self, Expiry::At(t) if t <= now)
    }
}

/// What [`SensorList::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SensorAdd {
    /// `deny_time` is NEVER (or 0 minutes): nothing recorded.
    Ignored,
    /// Newly listed; the caller logs CRIT "Adding A to the global_no_access list for N
    /// minutes" (N is -1 for FOREVER). `evicted` is the entry dropped to make room, if the
    /// list was full.
    Added { evicted: Option<IpAddr> },
    /// Already listed: the listing now ends at the later of its old and new expiry.
    Renewed,
}

/// Addresses denied on every service, each until its expiry.
#[derive(Clone, Debug)]
pub struct SensorList {
    entries: HashMap<IpAddr, (Expiry, u64)>,
    order: BTreeSet<(Expiry, u64, IpAddr)>,
    /// Insertion counter: breaks ties between equal expiries, oldest first.
    next_seq: u64,
    capacity: usize,
}

impl Default for SensorList {
    fn default() -> SensorList {
        SensorList::new()
    }
}

impl SensorList {
    /// An empty list holding up to [`SENSOR_CAPACITY`] entries.
    pub fn new() -> SensorList {
        SensorList::with_capacity_limit(SENSOR_CAPACITY)
    }

    /// An empty list holding up to `capacity` entries (at least 1).
    pub fn with_capacity_limit(capacity: usize) -> SensorList {
        SensorList {
            entries: HashMap::new(),
            order: BTreeSet::new(),
            next_seq: 0,
            capacity: capacity.max(1),
        }
    }

    /// A sensor service with `deny_time = deny` was hit by `ip` at `now`.
    pub fn add(&mut self, ip: IpAddr, deny: DenyTime, now: Instant) -> SensorAdd {
        let expiry = match deny {
            DenyTime::Never | DenyTime::Minutes(0) => return SensorAdd::Ignored,
            DenyTime::Forever => Expiry::Never,
            // Past what the clock can hold is as good as forever.
            DenyTime::Minutes(n) => now
                .checked_add(Duration::from_secs(u64::from(n) * 60))
                .map_or(Expiry::Never, Expiry::At),
        };
        let ip = ip.to_canonical();
        if let Some(&(old, seq)) = self.entries.get(&ip) {
            if !old.has_passed(now) {
                if expiry > old {
                    self.order.remove(&(old, seq, ip));
                    self.order.insert((expiry, seq, ip));
                    self.entries.insert(ip, (expiry, seq));
                }
                return SensorAdd::Renewed;
            }
            // Expired but not yet scrubbed: list it afresh.
            self.remove(ip);
        }
        let mut evicted = None;
        if self.entries.len() >= self.capacity {
            self.expire(now);
        }
        if self.entries.len() >= self.capacity {
            if let Some((_, _, first)) = self.order.first().copied() {
                self.remove(first);
                evicted = Some(first);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(ip, (expiry, seq));
        self.order.insert((expiry, seq, ip));
        SensorAdd::Added { evicted }
    }

    /// Whether `ip` is denied at `now`. An expired entry found here is removed.
    pub fn contains(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        match self.entries.get(&ip) {
            None => false,
            Some(&(expiry, _)) if expiry.has_passed(now) => {
                self.remove(ip);
                false
            }
            Some(_) => true,
        }
    }

    /// Drop every entry expired at `now`; returns how many went. The caller may log xinetd's
    /// "At least 1 DENY_TIME has expired, global_no_access list updated" when that is not 0.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some(&(expiry, _, ip)) = self.order.first() {
            if !expiry.has_passed(now) {
                break;
            }
            self.remove(ip);
            removed += 1;
        }
        removed
    }

    /// The earliest expiry still pending, for the caller's timer; `None` when nothing will
    /// expire (empty, or only FOREVER entries).
    pub fn next_expiry(&self) -> Option<Instant> {
        match self.order.first() {
            Some(&(Expiry::At(t), _, _)) => Some(t),
            _ => None,
        }
    }

    /// The listed addresses with their expiry (`None`: FOREVER), soonest first.
    pub fn entries(&self) -> impl Iterator<Item = (IpAddr, Option<Instant>)> + '_ {
        self.order.iter().map(|(expiry, _, ip)| match expiry {
            Expiry::At(t) => (*ip, Some(*t)),
            _ => (*ip, None),
        })
    }

    /// Entries held, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove(&mut self, ip: IpAddr) {
        if let Some((expiry, seq)) = self.entries.remove(&ip) {
            self.order.remove(&(expiry, seq, ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mins(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    /// The two indexes agree, and the cap holds.
    fn check(list: &SensorList) {
        assert_eq!(list.entries.len(), list.order.len());
        assert!(list.entries.len() <= list.capacity);
        for &(expiry, seq, ip) in &list.order {
            assert_eq!(list.entries.get(&ip), Some(&(expiry, seq)));
        }
    }

    /// Reference §5 #29: `deny_time = 1`, .2 hits the sensor and is denied everywhere, .1 is not.
    #[test]
    fn minutes_listing_denies_until_expiry() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        assert_eq!(
            list.add(ip("127.0.0.2"), DenyTime::Minutes(1), t0),
            SensorAdd::Added { evicted: None }
        );
        assert!(list.contains(ip("127.0.0.2"), t0));
        assert!(!list.contains(ip("127.0.0.1"), t0));
        assert!(list.contains(ip("127.0.0.2"), t0 + Duration::from_secs(59)));
        assert_eq!(list.next_expiry(), Some(t0 + mins(1)));
        assert!(!list.contains(ip("127.0.0.2"), t0 + mins(1)));
        assert!(list.is_empty(), "expired entry removed on lookup");
        check(&list);
    }

    #[test]
    fn forever_never_expires() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("192.0.2.7"), DenyTime::Forever, t0);
        assert_eq!(list.expire(t0 + mins(60 * 24 * 365 * 100)), 0);
        assert!(list.contains(ip("192.0.2.7"), t0 + mins(60 * 24 * 365 * 100)));
        assert_eq!(list.next_expiry(), None);
    }

    #[test]
    fn never_and_zero_minutes_record_nothing() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        assert_eq!(
            list.add(ip("192.0.2.7"), DenyTime::Never, t0),
            SensorAdd::Ignored
        );
        assert_eq!(
            list.add(ip("192.0.2.7"), DenyTime::Minutes(0), t0),
            SensorAdd::Ignored
        );
        assert!(!list.contains(ip("192.0.2.7"), t0));
        assert!(list.is_empty());
    }

    #[test]
    fn repeat_hit_extends_the_listing() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("192.0.2.7"), DenyTime::Minutes(10), t0);
        assert_eq!(
            list.add(ip("192.0.2.7"), DenyTime::Minutes(10), t0 + mins(5)),
            SensorAdd::Renewed
        );
        assert!(list.contains(ip("192.0.2.7"), t0 + mins(14)));
        assert!(!list.contains(ip("192.0.2.7"), t0 + mins(15)));
        check(&list);
    }

    #[test]
    fn repeat_hit_never_shortens_the_listing() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("192.0.2.7"), DenyTime::Minutes(60), t0);
        list.add(ip("192.0.2.7"), DenyTime::Minutes(1), t0 + mins(1));
        assert!(list.contains(ip("192.0.2.7"), t0 + mins(59)));
        list.add(ip("192.0.2.8"), DenyTime::Forever, t0);
        list.add(ip("192.0.2.8"), DenyTime::Minutes(1), t0);
        assert!(list.contains(ip("192.0.2.8"), t0 + mins(1000)));
        check(&list);
    }

    #[test]
    fn minutes_then_forever_becomes_forever() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("192.0.2.7"), DenyTime::Minutes(1), t0);
        list.add(ip("192.0.2.7"), DenyTime::Forever, t0);
        assert!(list.contains(ip("192.0.2.7"), t0 + mins(1000)));
    }

    #[test]
    fn hit_after_expiry_lists_afresh() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("192.0.2.7"), DenyTime::Minutes(1), t0);
        assert_eq!(
            list.add(ip("192.0.2.7"), DenyTime::Minutes(1), t0 + mins(2)),
            SensorAdd::Added { evicted: None }
        );
        assert!(list.contains(ip("192.0.2.7"), t0 + mins(2)));
        check(&list);
    }

    #[test]
    fn v4_mapped_and_plain_ipv4_are_one_entry() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("::ffff:127.0.0.2"), DenyTime::Minutes(1), t0);
        assert!(list.contains(ip("127.0.0.2"), t0));
        assert_eq!(
            list.add(ip("127.0.0.2"), DenyTime::Minutes(1), t0),
            SensorAdd::Renewed
        );
        let mut list = SensorList::new();
        list.add(ip("127.0.0.3"), DenyTime::Minutes(1), t0);
        assert!(list.contains(ip("::ffff:127.0.0.3"), t0));
        assert!(!list.contains(ip("::1"), t0));
    }

    #[test]
    fn full_list_drops_the_entry_expiring_first_and_reports_it() {
        let t0 = Instant::now();
        let mut list = SensorList::with_capacity_limit(3);
        list.add(ip("10.0.0.1"), DenyTime::Minutes(30), t0);
        list.add(ip("10.0.0.2"), DenyTime::Minutes(10), t0);
        list.add(ip("10.0.0.3"), DenyTime::Forever, t0);
        assert_eq!(
            list.add(ip("10.0.0.4"), DenyTime::Minutes(20), t0),
            SensorAdd::Added {
                evicted: Some(ip("10.0.0.2"))
            }
        );
        assert_eq!(list.len(), 3);
        assert!(!list.contains(ip("10.0.0.2"), t0));
        assert!(list.contains(ip("10.0.0.4"), t0));
        check(&list);
    }

    #[test]
    fn full_list_of_forever_entries_drops_the_oldest() {
        let t0 = Instant::now();
        let mut list = SensorList::with_capacity_limit(2);
        list.add(ip("10.0.0.9"), DenyTime::Forever, t0);
        list.add(ip("10.0.0.1"), DenyTime::Forever, t0);
        assert_eq!(
            list.add(ip("10.0.0.5"), DenyTime::Forever, t0),
            SensorAdd::Added {
                evicted: Some(ip("10.0.0.9"))
            }
        );
        check(&list);
    }

    #[test]
    fn full_list_first_drops_expired_entries() {
        let t0 = Instant::now();
        let mut list = SensorList::with_capacity_limit(2);
        list.add(ip("10.0.0.1"), DenyTime::Minutes(1), t0);
        list.add(ip("10.0.0.2"), DenyTime::Forever, t0);
        assert_eq!(
            list.add(ip("10.0.0.3"), DenyTime::Minutes(1), t0 + mins(5)),
            SensorAdd::Added { evicted: None }
        );
        check(&list);
    }

    #[test]
    fn repeat_hit_on_a_full_list_evicts_nothing() {
        let t0 = Instant::now();
        let mut list = SensorList::with_capacity_limit(2);
        list.add(ip("10.0.0.1"), DenyTime::Minutes(1), t0);
        list.add(ip("10.0.0.2"), DenyTime::Minutes(2), t0);
        assert_eq!(
            list.add(ip("10.0.0.1"), DenyTime::Minutes(5), t0),
            SensorAdd::Renewed
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list.next_expiry(), Some(t0 + mins(2)));
        check(&list);
    }

    #[test]
    fn flood_of_distinct_sources_stays_at_capacity() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        for i in 0..(SENSOR_CAPACITY as u32 + 500) {
            list.add(IpAddr::from(i.to_be_bytes()), DenyTime::Minutes(1), t0);
        }
        assert_eq!(list.len(), SENSOR_CAPACITY);
        // The newest are listed, the oldest went first.
        assert!(list.contains(
            IpAddr::from((SENSOR_CAPACITY as u32 + 499).to_be_bytes()),
            t0
        ));
        assert!(!list.contains(IpAddr::from(0u32.to_be_bytes()), t0));
        check(&list);
    }

    #[test]
    fn expire_removes_only_what_has_expired() {
        let t0 = Instant::now();
        let mut list = SensorList::new();
        list.add(ip("10.0.0.1"), DenyTime::Minutes(1), t0);
        list.add(ip("10.0.0.2"), DenyTime::Minutes(2), t0);
        list.add(ip("10.0.0.3"), DenyTime::Forever, t0);
        assert_eq!(list.expire(t0), 0);
        assert_eq!(list.expire(t0 + mins(1)), 1);
        assert_eq!(list.next_expiry(), Some(t0 + mins(2)));
        assert_eq!(list.expire(t0 + mins(10)), 1);
        assert_eq!(list.len(), 1);
        check(&list);
    }
}
