//! `cps = rate wait`: pause a service that receives connections too fast.
//!
//! Input: one call per incoming connection with the current monotonic time. Output: accept,
//! trip (the service must stop listening until `resume_at`), or "still paused".
//!
//! The counter is xinetd's own (`access.c`, reference §1.8), not a sliding window nor a token
//! bucket. A window opens at the first connection; while fewer than `rate` whole seconds have
//! passed since it opened, each connection increments the count and the service trips when
//! `count / max(1, elapsed)` (integer division) exceeds `rate`. A connection `rate` or more
//! seconds after the window opened starts a new window with a count of 1. Note that the window
//! length is `rate` seconds, not `wait`, and that the count survives a pause, exactly as in the
//! binary: after a trip of `cps = 100 1`, the first connection one second later trips again
//! (101 + 1 over 1 s is still above 100).
//!
//! Differences from xinetd:
//! * Seconds are whole seconds elapsed on the monotonic clock since the window opened; xinetd
//!   subtracts two `time()` stamps, so two connections 0.2 s apart across a wall-clock second
//!   boundary are 1 s apart there and 0 s apart here (both then divide by 1). A wall-clock jump
//!   cannot open or close a window here.
//! * The implicit default: see [`Cps::for_service`].

use std::time::{Duration, Instant};

/// What to do with one connection, as far as `cps` is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpsVerdict {
    /// Under the rate: go on with the other checks.
    Accept,
    /// This connection pushed the service over its rate. Refuse it (FAIL `connections per
    /// second`), close the listening socket, log "Deactivating service X due to excessive
    /// incoming connections.  Restarting in W seconds.", and reopen at `resume_at` (see
    /// [`Cps::resume`]).
    Trip { resume_at: Instant },
    /// The service tripped earlier and `resume_at` has not come yet. Only a connection that was
    /// already queued when the service tripped can get here (xinetd has closed the socket by
    /// then); refuse it as `connections per second` without a second "Deactivating" line. The
    /// count is left alone.
    Paused { resume_at: Instant },
}

/// The `cps` state of one service. Keep it as long as the service's `cps` setting is unchanged
/// (a reload that keeps the service may keep its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cps {
    /// Connections per second allowed; 0 turns the check off.
    rate: u32,
    /// How long a tripped service stays closed.
    wait: Duration,
    /// Start and connection count of the current window (xinetd's `SC_TIME_LIMIT`,
    /// `SC_TIME_CONN`); `None` before the first connection.
    window: Option<(Instant, u32)>,
    /// Set by a trip, cleared by [`Cps::resume`].
    paused_until: Option<Instant>,
}

impl Cps {
    /// xinetd's value for a service that does not set `cps`: 50 connections a second, then a
    /// 10-second pause.
    pub const XINETD_DEFAULT: Cps = Cps::new(50, 10);

    /// No rate check at all (`cps = 0 x`).
    pub const OFF: Cps = Cps::new(0, 0);

    /// `cps = rate wait_secs`. A `rate` of 0 turns the check off, as in xinetd.
    pub const fn new(rate: u32, wait_secs: u32) -> Cps {
        Cps {
            rate,
            wait: Duration::from_secs(wait_secs as u64),
            window: None,
            paused_until: None,
        }
    }

    /// The `cps` a service runs with, given what the configuration says (`None`: the
    /// service and `defaults` do not set it) and whether its connections are served inside
    /// superd without starting a process (internal services).
    ///
    /// * `cps` set: that value, for every kind of service, as in xinetd.
    /// * `cps` unset, the service starts a process per connection (external servers, `wait =
    ///   yes` re-spawns): [`Cps::XINETD_DEFAULT`], as in xinetd. This is xinetd's only guard
    ///   against a fork storm or a server that exits at once and is re-spawned in a loop.
    /// * `cps` unset, served inside superd: **off**. This is a superd difference. xinetd's
    ///   default pauses in-daemon services too, so 51 datagrams in a second (from forged source
    ///   addresses, for UDP) switch UDP echo, daytime or time off for 10 seconds, again and
    ///   again (reference §1.8, §5 #26). Pausing saves no process there; it only hands the
    ///   switch to whoever floods. superd bounds the memory and work of in-daemon handlers
    ///   instead. Write `cps = 50 10` to get xinetd's behaviour back.
    pub fn for_service(configured: Option<(u32, u32)>, in_daemon: bool) -> Cps {
        match configured {
            Some((rate, wait)) => Cps::new(rate, wait),
            None if in_daemon => Cps::OFF,
            None => Cps::XINETD_DEFAULT,
        }
    }

    /// Whether the check is on (`rate` above 0).
    pub fn is_enabled(&self) -> bool {
        self.rate != 0
    }

    /// Connections per second allowed (0: off).
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// How long a trip keeps the service closed (the "Restarting in W seconds" of the log line).
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// When a paused service may listen again; `None` when not paused.
    pub fn resume_at(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Count one incoming connection at `now`.
    pub fn on_connection(&mut self, now: Instant) -> CpsVerdict {
        if self.rate == 0 {
            return CpsVerdict::Accept;
        }
        if let Some(resume_at) = self.paused_until {
            if now < resume_at {
                return CpsVerdict::Paused { resume_at };
            }
        }
        let rate = u64::from(self.rate);
        let (start, count) = match self.window {
            Some((start, count)) if now.saturating_duration_since(start).as_secs() < rate => {
                (start, count.saturating_add(1))
            }
            // First connection, or the window (`rate` seconds long) has passed.
            _ => (now, 1),
        };
        self.window = Some((start, count));
        if count == 1 {
            return CpsVerdict::Accept;
        }
        let elapsed = now.saturating_duration_since(start).as_secs().max(1);
        if u64::from(count) / elapsed > rate {
            // `wait` is at most u32::MAX seconds (136 years), which no monotonic clock overflows;
            // should one, resuming at once is the harmless answer.
            let resume_at = now.checked_add(self.wait).unwrap_or(now);
            self.paused_until = Some(resume_at);
            CpsVerdict::Trip { resume_at }
        } else {
            CpsVerdict::Accept
        }
    }

    /// End a pause whose time has come: `true` exactly once per trip, when the caller should
    /// listen again and log "Activating service X". The connection count is kept, as xinetd
    /// keeps it.
    pub fn resume(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(at) if now >= at => {
                self.paused_until = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn millis(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Reference §5 #25: `cps = 2 3`, five rapid connects.
    #[test]
    fn cps_2_3_accepts_two_trips_on_third_and_resumes_after_3_s() {
        let t0 = Instant::now();
        let mut cps = Cps::new(2, 3);
        assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        assert_eq!(cps.on_connection(t0 + millis(1)), CpsVerdict::Accept);
        let resume_at = t0 + millis(2) + secs(3);
        assert_eq!(
            cps.on_connection(t0 + millis(2)),
            CpsVerdict::Trip { resume_at }
        );
        assert_eq!(
            cps.on_connection(t0 + millis(3)),
            CpsVerdict::Paused { resume_at }
        );
        assert_eq!(
            cps.on_connection(t0 + millis(4)),
            CpsVerdict::Paused { resume_at }
        );
        assert!(!cps.resume(t0 + secs(3)));
        assert!(cps.resume(resume_at));
        assert!(!cps.resume(resume_at), "resume reports once");
        // 3 s after the window opened is past its 2-s length: a new window.
        assert_eq!(cps.on_connection(resume_at), CpsVerdict::Accept);
        assert_eq!(cps.on_connection(resume_at), CpsVerdict::Accept);
    }

    #[test]
    fn rate_zero_is_off() {
        let t0 = Instant::now();
        let mut cps = Cps::new(0, 10);
        assert!(!cps.is_enabled());
        for _ in 0..10_000 {
            assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        }
        assert_eq!(Cps::OFF.rate(), 0);
    }

    #[test]
    fn window_lasts_rate_seconds_then_restarts_at_one() {
        let t0 = Instant::now();
        let mut cps = Cps::new(2, 3);
        assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        // 2 whole seconds later: not < rate, so the window restarts and nothing trips.
        for _ in 0..2 {
            assert_eq!(cps.on_connection(t0 + secs(2)), CpsVerdict::Accept);
        }
        assert!(matches!(
            cps.on_connection(t0 + secs(2)),
            CpsVerdict::Trip { .. }
        ));
    }

    /// Not a sliding window: the count is averaged over the whole window, so a late burst
    /// far above the rate is accepted until the average exceeds it.
    #[test]
    fn average_over_elapsed_whole_seconds_with_integer_division() {
        let t0 = Instant::now();
        let mut cps = Cps::new(10, 1);
        assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        let burst = t0 + millis(5_900); // 5 whole seconds
        for count in 2..=54 {
            assert_eq!(
                cps.on_connection(burst),
                CpsVerdict::Accept,
                "count {count}"
            );
        }
        // 55 / 5 = 11 > 10.
        assert!(matches!(cps.on_connection(burst), CpsVerdict::Trip { .. }));
    }

    #[test]
    fn under_one_second_divides_by_one() {
        let t0 = Instant::now();
        let mut cps = Cps::new(3, 1);
        for _ in 0..3 {
            assert_eq!(cps.on_connection(t0 + millis(999)), CpsVerdict::Accept);
        }
        assert!(matches!(
            cps.on_connection(t0 + millis(999)),
            CpsVerdict::Trip { .. }
        ));
    }

    #[test]
    fn default_trips_on_the_51st_connection_in_a_second() {
        let t0 = Instant::now();
        let mut cps = Cps::XINETD_DEFAULT;
        for _ in 0..50 {
            assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        }
        assert_eq!(
            cps.on_connection(t0),
            CpsVerdict::Trip {
                resume_at: t0 + secs(10)
            }
        );
    }

    /// xinetd keeps the count across the pause: 10 s later the 50-s window is still open and
    /// the average is 52 / 10, well under the rate.
    #[test]
    fn count_survives_the_pause() {
        let t0 = Instant::now();
        let mut cps = Cps::XINETD_DEFAULT;
        for _ in 0..51 {
            cps.on_connection(t0);
        }
        assert!(cps.resume(t0 + secs(10)));
        for _ in 0..448 {
            assert_eq!(cps.on_connection(t0 + secs(10)), CpsVerdict::Accept);
        }
        // 500 / 10 = 50 is not above 50; 510 / 10 is.
        assert_eq!(cps.on_connection(t0 + secs(10)), CpsVerdict::Accept);
        for _ in 0..9 {
            assert_eq!(cps.on_connection(t0 + secs(10)), CpsVerdict::Accept);
        }
        assert!(matches!(
            cps.on_connection(t0 + secs(10)),
            CpsVerdict::Trip { .. }
        ));
    }

    #[test]
    fn short_wait_with_high_rate_trips_again_at_once_as_xinetd_does() {
        let t0 = Instant::now();
        let mut cps = Cps::new(100, 1);
        for _ in 0..100 {
            cps.on_connection(t0);
        }
        assert!(matches!(cps.on_connection(t0), CpsVerdict::Trip { .. }));
        assert!(cps.resume(t0 + secs(1)));
        // 102 connections over 1 s > 100.
        assert_eq!(
            cps.on_connection(t0 + secs(1)),
            CpsVerdict::Trip {
                resume_at: t0 + secs(2)
            }
        );
    }

    #[test]
    fn zero_wait_resumes_immediately() {
        let t0 = Instant::now();
        let mut cps = Cps::new(1, 0);
        cps.on_connection(t0);
        assert_eq!(cps.on_connection(t0), CpsVerdict::Trip { resume_at: t0 });
        assert!(cps.resume(t0));
        assert_eq!(cps.resume_at(), None);
    }

    #[test]
    fn connection_after_resume_time_counts_even_before_resume_is_called() {
        let t0 = Instant::now();
        let mut cps = Cps::new(1, 1);
        cps.on_connection(t0);
        cps.on_connection(t0);
        // Window 1 s long has passed: a new window, accepted; the pause still awaits resume().
        assert_eq!(cps.on_connection(t0 + secs(1)), CpsVerdict::Accept);
        assert!(cps.resume(t0 + secs(1)));
    }

    #[test]
    fn default_applies_to_forking_services_only_unless_configured() {
        assert_eq!(Cps::for_service(None, false), Cps::XINETD_DEFAULT);
        assert_eq!(Cps::for_service(None, true), Cps::OFF);
        assert_eq!(Cps::for_service(Some((50, 10)), true), Cps::new(50, 10));
        assert_eq!(Cps::for_service(Some((0, 5)), false), Cps::new(0, 5));
        assert_eq!(Cps::XINETD_DEFAULT.rate(), 50);
        assert_eq!(Cps::XINETD_DEFAULT.wait(), secs(10));
    }

    /// Reference §5 #26 under superd: 100 datagrams to an in-daemon UDP service without `cps`
    /// are all accepted.
    #[test]
    fn udp_flood_does_not_pause_in_daemon_service_without_cps() {
        let t0 = Instant::now();
        let mut cps = Cps::for_service(None, true);
        for _ in 0..100 {
            assert_eq!(cps.on_connection(t0), CpsVerdict::Accept);
        }
    }
}
