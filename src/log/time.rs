//! Local-time stamps for log lines.
//!
//! Input: a wall-clock date and time ([`LocalTime`]). Output: the two stamp formats superd writes:
//! xinetd's file-log prefix `YY/M/D@HH:MM:SS` (`xlog/filelog.c`: `%02d/%d/%d@%02d:%02d:%02d`, so
//! month and day are not padded) and the RFC 3164 syslog stamp `Mmm dd hh:mm:ss` (day padded
//! with a space, as glibc's `syslog(3)` does). Both formatters are pure; only [`now`] reads the
//! clock and the system time zone (through `localtime_r(3)`; a changed /etc/localtime is picked
//! up on SIGHUP, see [`crate::clock::reset_zone`]).

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::clock::LocalTime;

/// The current wall-clock time in the system time zone.
pub fn now() -> LocalTime {
    LocalTime::local(SystemTime::now())
}

/// xinetd's file-log stamp: `26/11/27@17:09:50`, `26/1/5@07:03:09`.
pub fn file_stamp(t: &LocalTime) -> String {
    let mut s = String::with_capacity(17);
    let _ = write!(
        s,
        "{:02}/{}/{}@{:02}:{:02}:{:02}",
        t.year.rem_euclid(100),
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second
    );
    s
}

/// The RFC 3164 stamp: `Nov 27 17:09:50`, `Jan  5 07:03:09`.
pub fn syslog_stamp(t: &LocalTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // LocalTime keeps 1 <= month <= 12; the clamp only guards the index.
    let month = MONTHS[usize::from(t.month.clamp(1, 12)) - 1];
    let mut s = String::with_capacity(15);
    let _ = write!(
        s,
        "{month} {:>2} {:02}:{:02}:{:02}",
        t.day, t.hour, t.minute, t.second
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> LocalTime {
        LocalTime::utc(secs)
    }

    #[test]
    fn file_stamp_pads_year_and_time_but_not_month_or_day() {
        // 2026-11-27T17:09:50Z
        assert_eq!(file_stamp(&at(1_795_799_390)), "26/11/27@17:09:50");
        // 2005-01-05T07:03:09Z
        assert_eq!(file_stamp(&at(1_104_908_589)), "05/1/5@07:03:09");
    }

    #[test]
    fn syslog_stamp_pads_day_with_a_space() {
        assert_eq!(syslog_stamp(&at(1_795_799_390)), "Nov 27 17:09:50");
        assert_eq!(syslog_stamp(&at(1_104_908_589)), "Jan  5 07:03:09");
    }

    #[test]
    fn stamps_print_the_given_wall_clock_time() {
        // 2026-11-27T17:09:50Z is 12:09:50 in New York (EST, UTC-5).
        let est = LocalTime::new(2026, 11, 27, 12, 9, 50, "EST");
        assert_eq!(file_stamp(&est), "26/11/27@12:09:50");
        // 2026-07-01T02:00:00Z is the evening before in New York (EDT, UTC-4).
        let edt = LocalTime::new(2026, 6, 30, 22, 0, 0, "EDT");
        assert_eq!(file_stamp(&edt), "26/6/30@22:00:00");
        assert_eq!(syslog_stamp(&edt), "Jun 30 22:00:00");
    }

    #[test]
    fn years_before_2000_and_negative_years_wrap_to_two_digits() {
        assert_eq!(file_stamp(&at(0)), "70/1/1@00:00:00");
        assert_eq!(
            file_stamp(&LocalTime::new(-1, 1, 1, 0, 0, 0, "UTC")),
            "99/1/1@00:00:00"
        );
    }
}
