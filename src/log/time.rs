//! Local-time stamps for log lines.
//!
//! Input: a civil (wall-clock) date and time. Output: the two stamp formats superd writes:
//! xinetd's file-log prefix `YY/M/D@HH:MM:SS` (`xlog/filelog.c`: `%02d/%d/%d@%02d:%02d:%02d`, so
//! month and day are not padded) and the RFC 3164 syslog stamp `Mmm dd hh:mm:ss` (day padded
//! with a space, as glibc's `syslog(3)` does). Both formatters are pure; only [`now`] reads the
//! clock and the system time zone (jiff caches `/etc/localtime` and re-reads it after a few
//! minutes, so a zone change needs no restart).

use std::fmt::Write as _;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The current wall-clock time in the system time zone.
pub fn now() -> DateTime {
    local(Timestamp::now(), &TimeZone::system())
}

/// `ts` as wall-clock time in `tz`.
pub fn local(ts: Timestamp, tz: &TimeZone) -> DateTime {
    tz.to_datetime(ts)
}

/// xinetd's file-log stamp: `26/11/27@17:09:50`, `26/1/5@07:03:09`.
pub fn file_stamp(t: &DateTime) -> String {
    let mut s = String::with_capacity(17);
    let _ = write!(
        s,
        "{:02}/{}/{}@{:02}:{:02}:{:02}",
        t.year().rem_euclid(100),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    s
}

/// The RFC 3164 stamp: `Nov 27 17:09:50`, `Jan  5 07:03:09`.
pub fn syslog_stamp(t: &DateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // jiff guarantees 1 <= month <= 12.
    let month = MONTHS[usize::from(t.month().unsigned_abs().clamp(1, 12)) - 1];
    let mut s = String::with_capacity(15);
    let _ = write!(
        s,
        "{month} {:>2} {:02}:{:02}:{:02}",
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, tz: &str) -> DateTime {
        let tz = TimeZone::posix(tz).unwrap();
        local(Timestamp::from_second(secs).unwrap(), &tz)
    }

    #[test]
    fn file_stamp_pads_year_and_time_but_not_month_or_day() {
        // 2026-11-27T17:09:50Z
        assert_eq!(file_stamp(&at(1_795_799_390, "UTC0")), "26/11/27@17:09:50");
        // 2005-01-05T07:03:09Z
        assert_eq!(file_stamp(&at(1_104_908_589, "UTC0")), "05/1/5@07:03:09");
    }

    #[test]
    fn syslog_stamp_pads_day_with_a_space() {
        assert_eq!(syslog_stamp(&at(1_795_799_390, "UTC0")), "Nov 27 17:09:50");
        assert_eq!(syslog_stamp(&at(1_104_908_589, "UTC0")), "Jan  5 07:03:09");
    }

    #[test]
    fn stamps_use_the_given_time_zone() {
        // 2026-11-27T17:09:50Z is 12:09:50 in New York (EST, UTC-5).
        let ny = "EST5EDT,M3.2.0,M11.1.0";
        assert_eq!(file_stamp(&at(1_795_799_390, ny)), "26/11/27@12:09:50");
        // 2026-07-01T02:00:00Z is the evening before in New York (EDT, UTC-4).
        assert_eq!(file_stamp(&at(1_782_871_200, ny)), "26/6/30@22:00:00");
        assert_eq!(syslog_stamp(&at(1_782_871_200, ny)), "Jun 30 22:00:00");
    }
}
