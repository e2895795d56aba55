//! Limits: whether a service may take one more connection, given its counters.
//!
//! Input → output: the plain values the runtime knows when a connection arrives ([`Checks`]:
//! now, the load average, running servers of the service, of this client and of superd, the
//! `access_times` verdict) and the service's [`Cps`] state → `Ok(())` or the first
//! [`Refusal`], which names the FAIL reason xinetd logs. Nothing here touches a socket, a
//! process or the clock; time comes in as a parameter. The only I/O is [`read_loadavg`], which
//! the caller runs (for services with `max_load` only) before calling [`admit`].
//!
//! xinetd's order of checks (reference §1.8), which [`admit`] keeps, so that a connection
//! refused for two reasons is logged with the same one:
//!
//! 1. `cps`: [`Cps`] (it counts every connection that gets this far, even one a later check
//!    refuses, as xinetd);
//! 2. `max_load`: [`load_exceeded`];
//! 3. `access_times`: decided in `access::times`, passed in as a boolean;
//! 4. `instances`: running servers of the service ≥ the limit;
//! 5. `per_source`: [`per_source_exceeded`] over [`SourceCounts`];
//! 6. `-limit`: [`ProcessLimit`].
//!
//! After these, and outside this module: the address check (`only_from`/`no_access`, and the
//! global SENSOR list, [`SensorList`]), then hosts.allow/hosts.deny. xinetd runs those in the
//! forked child; superd runs them before starting anything, but logs the same reasons.
//!
//! What "running" counts is the caller's to supply: xinetd counts forked servers only, so its
//! non-forking internals (daytime, time, every UDP internal) never meet `instances` or
//! `per_source` (pass `Limit::Unlimited` for them to keep that), while the stream echo,
//! discard and chargen that superd serves in-daemon were forked, and counted, by xinetd.
//!
//! Differences from xinetd, besides those in each submodule's header:
//! * `-limit` counts processes, so it refuses only connections that would start one; xinetd
//!   also refused its in-daemon services once the process count was reached (source-read,
//!   `access.c`).

mod cps;
mod load;
mod sensor;
mod source;

use std::net::IpAddr;
use std::time::Instant;

use crate::config::model::Limit;
use crate::log::FailReason;

pub use cps::{Cps, CpsVerdict};
pub use load::{load_exceeded, parse_loadavg, read_loadavg, LOADAVG_PATH};
pub use sensor::{SensorAdd, SensorList, SENSOR_CAPACITY};
pub use source::{per_source_exceeded, SourceCounts};

/// `-limit N`: a cap on the servers superd has running at once, all services together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessLimit(pub Option<u32>);

impl ProcessLimit {
    /// Whether one more process is refused when `running` are already up (xinetd: running + 1 >
    /// limit).
    pub fn exceeded(self, running: usize) -> bool {
        matches!(self.0, Some(max) if running >= max as usize)
    }
}

/// Whether a service with `instances = limit` must refuse one more when `running` of its
/// servers are up. `instances = 0` refuses everyone, as xinetd.
pub fn instances_exceeded(limit: Limit, running: usize) -> bool {
    match limit {
        Limit::Unlimited => false,
        Limit::Max(max) => running >= max as usize,
    }
}

/// What the runtime knows about one incoming connection, as plain values.
#[derive(Clone, Copy, Debug)]
pub struct Checks<'a> {
    /// When the connection arrived (monotonic).
    pub now: Instant,
    /// The service's `max_load`.
    pub max_load: Option<f64>,
    /// The 1-minute load average ([`read_loadavg`]); `None` when not read or unreadable, which
    /// never refuses.
    pub load: Option<f64>,
    /// `false` when the service has `access_times` and `now` is outside them.
    pub in_access_times: bool,
    /// The service's `instances`.
    pub instances: Limit,
    /// Servers of this service counted against `instances`.
    pub running: usize,
    /// The service's `per_source`.
    pub per_source: Limit,
    /// The client's address; `None` when the connection has none (a `wait = yes` stream
    /// service hands over the listening socket), which skips `per_source`, as xinetd.
    pub peer: Option<IpAddr>,
    /// This service's running servers per client address.
    pub sources: &'a SourceCounts,
    /// `-limit`.
    pub process_limit: ProcessLimit,
    /// Processes superd has running, all services together.
    pub processes: usize,
    /// Whether admitting the connection starts a process (`-limit` applies only then).
    pub forks: bool,
}

/// Why [`admit`] refused a connection. [`Refusal::reason`] is the word of the FAIL line; the
/// variants say what else the caller does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Refusal {
    /// `cps` tripped on this connection: close the listener, log "Deactivating service X due
    /// to excessive incoming connections.  Restarting in W seconds.", reopen at `resume_at`.
    CpsTripped { resume_at: Instant },
    /// The service is paused by an earlier trip.
    CpsPaused { resume_at: Instant },
    /// `load` ≥ `max_load`: also log ERROR "refused connect from A due to excessive load".
    Load { load: f64 },
    /// Outside `access_times`.
    Time,
    /// `instances` reached.
    ServiceLimit,
    /// `per_source` reached.
    PerSourceLimit,
    /// `-limit` reached.
    ProcessLimit,
}

impl Refusal {
    /// The reason token of the FAIL line.
    pub fn reason(self) -> FailReason {
        match self {
            Refusal::CpsTripped { .. } | Refusal::CpsPaused { .. } => FailReason::Cps,
            Refusal::Load { .. } => FailReason::Load,
            Refusal::Time => FailReason::Time,
            Refusal::ServiceLimit => FailReason::ServiceLimit,
            Refusal::PerSourceLimit => FailReason::PerSourceLimit,
            Refusal::ProcessLimit => FailReason::ProcessLimit,
        }
    }
}

impl From<Refusal> for FailReason {
    fn from(refusal: Refusal) -> FailReason {
        refusal.reason()
    }
}

/// Whether one of the checks that count running servers (instances, per_source, -limit) would
/// refuse the connection as the counts stand.
pub fn at_a_count_limit(checks: &Checks<'_>) -> bool {
    instances_exceeded(checks.instances, checks.running)
        || checks
            .peer
            .is_some_and(|p| per_source_exceeded(checks.per_source, checks.sources.count(p)))
        || (checks.forks && checks.process_limit.exceeded(checks.processes))
}

/// Decide whether a connection may proceed to the address and hosts.allow checks, running
/// xinetd's parent-side checks in xinetd's order. `cps` is updated (the connection is
/// counted); the caller updates `running`, `sources` and `processes` only if it then starts a
/// server.
pub fn admit(checks: &Checks<'_>, cps: &mut Cps) -> Result<(), Refusal> {
    match cps.on_connection(checks.now) {
        CpsVerdict::Accept => {}
        CpsVerdict::Trip { resume_at } => return Err(Refusal::CpsTripped { resume_at }),
        CpsVerdict::Paused { resume_at } => return Err(Refusal::CpsPaused { resume_at }),
    }
    if let Some(load) = checks.load {
        if load_exceeded(checks.max_load, load) {
            return Err(Refusal::Load { load });
        }
    }
    if !checks.in_access_times {
        return Err(Refusal::Time);
    }
    if instances_exceeded(checks.instances, checks.running) {
        return Err(Refusal::ServiceLimit);
    }
    if let Some(peer) = checks.peer {
        if per_source_exceeded(checks.per_source, checks.sources.count(peer)) {
            return Err(Refusal::PerSourceLimit);
        }
    }
    if checks.forks && checks.process_limit.exceeded(checks.processes) {
        return Err(Refusal::ProcessLimit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const PEER: &str = "127.0.0.1";

    fn peer() -> IpAddr {
        PEER.parse().unwrap()
    }

    /// A connection every check lets through.
    fn open(now: Instant, sources: &SourceCounts) -> Checks<'_> {
        Checks {
            now,
            max_load: None,
            load: None,
            in_access_times: true,
            instances: Limit::Unlimited,
            running: 0,
            per_source: Limit::Unlimited,
            peer: Some(peer()),
            sources,
            process_limit: ProcessLimit(None),
            processes: 0,
            forks: true,
        }
    }

    /// Every check fails at once except those switched off by `keep`.
    fn all_failing(now: Instant, sources: &SourceCounts) -> Checks<'_> {
        Checks {
            max_load: Some(1.0),
            load: Some(5.0),
            in_access_times: false,
            instances: Limit::Max(1),
            running: 1,
            per_source: Limit::Max(1),
            process_limit: ProcessLimit(Some(1)),
            processes: 1,
            ..open(now, sources)
        }
    }

    fn one_source() -> SourceCounts {
        let mut sources = SourceCounts::new();
        sources.increment(peer());
        sources
    }

    /// `cps` off, so the other checks decide.
    fn no_cps() -> Cps {
        Cps::OFF
    }

    /// A `cps` state whose next connection trips.
    fn about_to_trip(now: Instant) -> Cps {
        let mut cps = Cps::new(1, 5);
        assert_eq!(cps.on_connection(now), CpsVerdict::Accept);
        cps
    }

    #[test]
    fn open_service_admits() {
        let sources = SourceCounts::new();
        let now = Instant::now();
        assert_eq!(
            admit(&open(now, &sources), &mut Cps::for_service(None, false)),
            Ok(())
        );
    }

    #[test]
    fn order_is_cps_load_time_instances_per_source_limit() {
        let sources = one_source();
        let now = Instant::now();
        let mut checks = all_failing(now, &sources);

        let mut cps = about_to_trip(now);
        assert_eq!(
            admit(&checks, &mut cps),
            Err(Refusal::CpsTripped {
                resume_at: now + Duration::from_secs(5)
            })
        );
        assert_eq!(
            admit(&checks, &mut cps).map_err(Refusal::reason),
            Err(FailReason::Cps),
            "paused"
        );

        let mut cps = Cps::OFF;
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::Load { load: 5.0 }));
        checks.load = Some(0.5);
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::Time));
        checks.in_access_times = true;
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::ServiceLimit));
        checks.instances = Limit::Max(2);
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::PerSourceLimit));
        checks.per_source = Limit::Max(2);
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::ProcessLimit));
        checks.process_limit = ProcessLimit(Some(2));
        assert_eq!(admit(&checks, &mut cps), Ok(()));
    }

    #[test]
    fn instances_and_per_source_both_full_is_service_limit() {
        let sources = one_source();
        let checks = Checks {
            instances: Limit::Max(1),
            running: 1,
            per_source: Limit::Max(1),
            ..open(Instant::now(), &sources)
        };
        assert_eq!(
            admit(&checks, &mut no_cps()).map_err(FailReason::from),
            Err(FailReason::ServiceLimit)
        );
    }

    /// Reference §5 #23.
    #[test]
    fn instances_2_refuses_the_third_and_0_refuses_all() {
        let sources = SourceCounts::new();
        let now = Instant::now();
        for (limit, running, admitted) in [(2, 0, true), (2, 1, true), (2, 2, false), (0, 0, false)]
        {
            let checks = Checks {
                instances: Limit::Max(limit),
                running,
                ..open(now, &sources)
            };
            assert_eq!(
                admit(&checks, &mut no_cps()).is_ok(),
                admitted,
                "{limit} {running}"
            );
        }
    }

    /// Reference §5 #28: `-limit 2` with two servers running.
    #[test]
    fn process_limit_2_refuses_the_third_forking_connection_only() {
        let sources = SourceCounts::new();
        let checks = Checks {
            process_limit: ProcessLimit(Some(2)),
            processes: 2,
            ..open(Instant::now(), &sources)
        };
        assert_eq!(admit(&checks, &mut no_cps()), Err(Refusal::ProcessLimit));
        let in_daemon = Checks {
            forks: false,
            ..checks
        };
        assert_eq!(admit(&in_daemon, &mut no_cps()), Ok(()));
    }

    #[test]
    fn process_limit_helper() {
        assert!(!ProcessLimit(None).exceeded(usize::MAX));
        assert!(!ProcessLimit(Some(2)).exceeded(1));
        assert!(ProcessLimit(Some(2)).exceeded(2));
    }

    /// `at_a_count_limit` says yes exactly when instances, per_source or -limit would refuse,
    /// whatever the other checks say (it decides whether to reap before `admit`).
    #[test]
    fn count_limits_are_told_apart_from_the_other_checks() {
        let now = Instant::now();
        let none = SourceCounts::new();
        let one = one_source();
        assert!(!at_a_count_limit(&open(now, &none)));
        // Failing cps, load and time alone are not count limits.
        let others = Checks {
            instances: Limit::Unlimited,
            per_source: Limit::Unlimited,
            process_limit: ProcessLimit(None),
            ..all_failing(now, &one)
        };
        assert!(!at_a_count_limit(&others));
        for checks in [
            Checks {
                instances: Limit::Max(1),
                running: 1,
                ..open(now, &none)
            },
            Checks {
                per_source: Limit::Max(1),
                ..open(now, &one)
            },
            Checks {
                process_limit: ProcessLimit(Some(1)),
                processes: 1,
                ..open(now, &none)
            },
        ] {
            assert!(at_a_count_limit(&checks));
            assert!(admit(&checks, &mut no_cps()).is_err());
        }
        // Below each limit, or -limit for a service that forks nothing.
        assert!(!at_a_count_limit(&Checks {
            instances: Limit::Max(2),
            running: 1,
            per_source: Limit::Max(2),
            ..open(now, &one)
        }));
        assert!(!at_a_count_limit(&Checks {
            process_limit: ProcessLimit(Some(1)),
            processes: 1,
            forks: false,
            ..open(now, &none)
        }));
    }

    #[test]
    fn per_source_is_skipped_without_a_peer_address() {
        let sources = one_source();
        let checks = Checks {
            per_source: Limit::Max(1),
            peer: None,
            ..open(Instant::now(), &sources)
        };
        assert_eq!(admit(&checks, &mut no_cps()), Ok(()));
    }

    #[test]
    fn per_source_sees_the_mapped_form_of_a_counted_ipv4_client() {
        let sources = one_source();
        let checks = Checks {
            per_source: Limit::Max(1),
            peer: Some("::ffff:127.0.0.1".parse().unwrap()),
            ..open(Instant::now(), &sources)
        };
        assert_eq!(admit(&checks, &mut no_cps()), Err(Refusal::PerSourceLimit));
    }

    #[test]
    fn unknown_load_never_refuses() {
        let sources = SourceCounts::new();
        let checks = Checks {
            max_load: Some(0.001),
            load: None,
            ..open(Instant::now(), &sources)
        };
        assert_eq!(admit(&checks, &mut no_cps()), Ok(()));
    }

    /// cps comes first and counts the connection even when a later check refuses it.
    #[test]
    fn cps_counts_connections_that_later_checks_refuse() {
        let sources = SourceCounts::new();
        let now = Instant::now();
        let checks = Checks {
            instances: Limit::Max(0),
            ..open(now, &sources)
        };
        let mut cps = Cps::new(2, 3);
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::ServiceLimit));
        assert_eq!(admit(&checks, &mut cps), Err(Refusal::ServiceLimit));
        assert!(matches!(
            admit(&checks, &mut cps),
            Err(Refusal::CpsTripped { .. })
        ));
    }

    #[test]
    fn refusal_reasons_are_xinetds_words() {
        let now = Instant::now();
        let words: Vec<&str> = [
            Refusal::CpsTripped { resume_at: now },
            Refusal::CpsPaused { resume_at: now },
            Refusal::Load { load: 1.0 },
            Refusal::Time,
            Refusal::ServiceLimit,
            Refusal::PerSourceLimit,
            Refusal::ProcessLimit,
        ]
        .into_iter()
        .map(|r| r.reason().as_str())
        .collect();
        assert_eq!(
            words,
            [
                "connections per second",
                "connections per second",
                "load",
                "time",
                "service_limit",
                "per_source_limit",
                "process_limit"
            ]
        );
    }
}
