//! daytime (RFC 867) and time (RFC 868) replies: pure functions of the clock reading (a
//! [`LocalTime`] for daytime, Unix seconds for time; see `crate::clock`).
//!
//! * daytime: xinetd's "SMTP format" in local time, `DD MON YYYY HH:MM:SS TZ\r\n`, built like
//!   `builtins.c` `daytime_protocol`: `"%02d %s %d %02d:%02d:%02d"` (day zero-padded, upper-case
//!   English month, year unpadded) then strftime `" %Z\r\n"` (the zone abbreviation, e.g. `UTC`,
//!   `CET`, `EDT`). RFC 867 leaves the format free; this one is what xinetd clients parse.
//! * time: seconds since 1900-01-01T00:00:00Z, truncated to 32 bits (wraps in February 2036, as
//!   RFC 868's 32-bit field and xinetd both do), big-endian.
//!
//! The reply is built into an inline buffer ([`Daytime`]) so serving it allocates nothing.

use std::io::Write as _;
use std::time::SystemTime;

use crate::clock::{self, LocalTime};

/// Seconds from 1900-01-01 to 1970-01-01 (RFC 868; xinetd `TIME_OFFSET`).
const SECONDS_1900_TO_1970: i64 = 2_208_988_800;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Longest zone abbreviation in a daytime reply; [`LocalTime`] cuts longer ones (real ones are
/// at most 6 bytes; POSIX `TZ` strings allow more).
pub const TZ_ABBR_MAX: usize = clock::ZONE_MAX;

/// Capacity of [`Daytime`]: the date and time (at most 30 bytes with an 11-character `i32`
/// year; 22 for the years -9999 to 9999 that [`LocalTime`] produces), the abbreviation, CRLF.
const DAYTIME_CAP: usize = 64;

/// A daytime reply held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Daytime {
    buf: [u8; DAYTIME_CAP],
    len: u8,
}

impl Daytime {
    /// The reply bytes, CRLF included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Daytime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Daytime")
            .field(&String::from_utf8_lossy(self.as_bytes()))
            .finish()
    }
}

/// The daytime reply for wall-clock time `now` (the daemon passes [`LocalTime::local`], the
/// system time zone: `TZ`, then /etc/localtime, like xinetd's `localtime`).
pub fn daytime(now: &LocalTime) -> Daytime {
    let abbr = now.zone().as_bytes();
    let abbr = &abbr[..abbr.len().min(TZ_ABBR_MAX)];

    let mut buf = [0u8; DAYTIME_CAP];
    let mut w: &mut [u8] = &mut buf;
    // LocalTime keeps the month in 1..=12; the fallback is unreachable.
    let month = usize::from(now.month)
        .checked_sub(1)
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"???");
    // Cannot fail: at most 30 + 1 + TZ_ABBR_MAX + 2 = 49 bytes go into 64.
    let _ = write!(
        w,
        "{:02} {} {} {:02}:{:02}:{:02} ",
        now.day, month, now.year, now.hour, now.minute, now.second
    );
    let _ = w.write_all(abbr);
    let _ = w.write_all(b"\r\n");
    let len = DAYTIME_CAP - w.len();
    Daytime {
        buf,
        // len <= DAYTIME_CAP = 64
        len: len as u8,
    }
}

/// `now` as Unix seconds. Clock readings outside the years -9999 to 9999 become the Unix epoch:
/// no real clock reads that.
pub(crate) fn unix_secs(now: SystemTime) -> i64 {
    clock::unix_secs(now).unwrap_or(0)
}

/// [`daytime`] as a `String` (allocates; for logs and tests).
pub fn daytime_text(now: &LocalTime) -> String {
    String::from_utf8_lossy(daytime(now).as_bytes()).into_owned()
}

/// The time reply for `unix_secs` (seconds since 1970): seconds since 1900 as a wrapping 32-bit
/// big-endian number.
pub fn time_bytes(unix_secs: i64) -> [u8; 4] {
    let since_1900 = unix_secs.wrapping_add(SECONDS_1900_TO_1970);
    // Truncation to 32 bits is the protocol (RFC 868 era wraps in 2036).
    (since_1900 as u32).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-27T17:10:05Z in Unix seconds (see `time_is_seconds_since_1900_big_endian`).
    const NOW: i64 = 1_795_799_405;

    fn utc(secs: i64) -> LocalTime {
        LocalTime::utc(secs)
    }

    #[test]
    fn daytime_matches_xinetd_in_utc() {
        let now = utc(NOW);
        assert_eq!(daytime(&now).as_bytes(), b"27 NOV 2026 17:10:05 UTC\r\n");
        assert_eq!(daytime_text(&now), "27 NOV 2026 17:10:05 UTC\r\n");
    }

    #[test]
    fn daytime_pads_day_and_time_fields() {
        // 2026-01-05T03:04:09Z
        assert_eq!(
            daytime_text(&utc(1_767_582_249)),
            "05 JAN 2026 03:04:09 UTC\r\n"
        );
    }

    #[test]
    fn daytime_uses_local_time_and_zone_abbreviation() {
        // 2026-07-01T00:30:00Z in New York, summer: EDT, UTC-4.
        let edt = LocalTime::new(2026, 6, 30, 20, 30, 0, "EDT");
        assert_eq!(daytime_text(&edt), "30 JUN 2026 20:30:00 EDT\r\n");
        // 2026-12-31T23:59:59Z in New York, winter: EST, UTC-5.
        let est = LocalTime::new(2026, 12, 31, 18, 59, 59, "EST");
        assert_eq!(daytime_text(&est), "31 DEC 2026 18:59:59 EST\r\n");
    }

    #[test]
    fn daytime_cuts_overlong_zone_abbreviations() {
        let long = "A".repeat(40);
        let text = daytime_text(&utc(NOW).with_zone(&long));
        assert_eq!(
            text,
            format!("27 NOV 2026 17:10:05 {}\r\n", "A".repeat(TZ_ABBR_MAX))
        );
    }

    #[test]
    fn time_is_seconds_since_1900_big_endian() {
        // 2026-11-27T17:10:05Z: 20784 days after 1970-01-01 (56 years, 14 leap days, day 330 of
        // 2026) = 1_795_737_600 s, plus 17:10:05 = 61_805 s, gives 1_795_799_405 Unix seconds;
        // plus 2_208_988_800 (1900 → 1970) = 4_004_788_205 = 0xEEB4_37ED.
        assert_eq!(time_bytes(NOW), [0xEE, 0xB4, 0x37, 0xED]);
        assert_eq!(time_bytes(0), 0x83AA_7E80u32.to_be_bytes());
    }

    #[test]
    fn system_time_converts_to_the_same_second() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_799_405);
        assert_eq!(unix_secs(t), NOW);
        let before = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(time_bytes(unix_secs(before)), 0x83AA_7E7Fu32.to_be_bytes());
        // Far outside any real clock: the epoch.
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 40);
        assert_eq!(unix_secs(far), 0);
    }

    #[test]
    fn time_wraps_in_2036() {
        // 2^32 - 2_208_988_800 = 2_085_978_496 Unix seconds = 2036-02-07T06:28:16Z.
        assert_eq!(time_bytes(2_085_978_496), [0, 0, 0, 0]);
        assert_eq!(time_bytes(2_085_978_495), [0xFF; 4]);
    }
}
