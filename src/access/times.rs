//! `access_times`: the minutes of the day during which a service takes clients.
//!
//! Input: the windows `config` parsed (minutes since midnight, start <= end, no window wraps past
//! midnight). Output: [`AccessTimes::allows`], a pure test of one minute of the day. Bounds are
//! inclusive, as xinetd.conf(5) says ("connections will be accepted at the bounds of an
//! interval"): `08:00-17:30` admits 08:00:00 through 17:30:59. Turning the wall clock into a local
//! minute of the day is the caller's job (`clock::LocalTime::local`), so this stays testable
//! without a clock.

use std::fmt;

/// The `access_times` windows of one service.
///
/// The runtime calls [`allows`](Self::allows) with the current local minute of the day
/// (`LocalTime::local(now)`: `hour * 60 + minute`) when a connection arrives, after `max_load` and before `instances`
/// (xinetd.md §1.8); on `false` it closes the connection and logs `FAIL: <id> time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTimes {
    windows: Vec<(u16, u16)>,
}

impl AccessTimes {
    /// Windows as `(first, last)` minutes since midnight, both inclusive.
    pub fn new(windows: Vec<(u16, u16)>) -> AccessTimes {
        AccessTimes { windows }
    }

    /// The windows as given.
    pub fn windows(&self) -> &[(u16, u16)] {
        &self.windows
    }

    /// Whether `minute_of_day` (0..=1439) falls in any window, bounds included.
    pub fn allows(&self, minute_of_day: u16) -> bool {
        self.windows
            .iter()
            .any(|&(first, last)| first <= minute_of_day && minute_of_day <= last)
    }
}

/// `HH:MM-HH:MM HH:MM-HH:MM`, as written in xinetd.conf.
impl fmt::Display for AccessTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(first, last)) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(
                f,
                "{:02}:{:02}-{:02}:{:02}",
                first / 60,
                first % 60,
                last / 60,
                last % 60
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn at(h: u16, m: u16) -> u16 {
        h * 60 + m
    }

    #[test]
    fn bounds_are_inclusive() {
        let t = AccessTimes::new(vec![(at(8, 0), at(17, 30))]);
        assert!(!t.allows(at(7, 59)));
        assert!(t.allows(at(8, 0)));
        assert!(t.allows(at(12, 0)));
        assert!(t.allows(at(17, 30)));
        assert!(!t.allows(at(17, 31)));
    }

    #[test]
    fn any_window_admits() {
        // The man page example, with the invalid 24:00 written as 23:59.
        let t = AccessTimes::new(vec![(at(2, 0), at(9, 0)), (at(12, 0), at(23, 59))]);
        assert!(!t.allows(at(0, 0)));
        assert!(!t.allows(at(1, 59)));
        assert!(t.allows(at(2, 0)));
        assert!(t.allows(at(9, 0)));
        assert!(!t.allows(at(9, 1)));
        assert!(!t.allows(at(11, 59)));
        assert!(t.allows(at(12, 0)));
        assert!(t.allows(at(23, 59)));
    }

    #[test]
    fn whole_day_and_single_minute() {
        let all = AccessTimes::new(vec![(0, at(23, 59))]);
        assert!((0..1440).all(|m| all.allows(m)));
        let one = AccessTimes::new(vec![(at(12, 0), at(12, 0))]);
        let open: Vec<u16> = (0..1440).filter(|&m| one.allows(m)).collect();
        assert_eq!(open, [at(12, 0)]);
    }

    #[test]
    fn midnight_spanning_needs_two_windows() {
        let t = AccessTimes::new(vec![(at(22, 0), at(23, 59)), (0, at(6, 0))]);
        assert!(t.allows(at(23, 59)));
        assert!(t.allows(0));
        assert!(t.allows(at(6, 0)));
        assert!(!t.allows(at(6, 1)));
        assert!(!t.allows(at(21, 59)));
    }

    #[test]
    fn displays_as_written() {
        let t = AccessTimes::new(vec![(at(2, 0), at(9, 5)), (at(12, 0), at(23, 59))]);
        assert_eq!(t.to_string(), "02:00-09:05 12:00-23:59");
    }
}
