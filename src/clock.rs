//! Local time for log stamps, the daytime service and the state dump.
//!
//! Input: a clock reading (`SystemTime` or Unix seconds). Output: a [`LocalTime`], the
//! wall-clock fields (year, month, day, hour, minute, second, weekday) and the time-zone
//! abbreviation (`UTC`, `CET`, `EDT`) in effect at that instant. [`LocalTime::utc`] and
//! [`LocalTime::new`] are pure (days ↔ civil date arithmetic, proleptic Gregorian);
//! [`LocalTime::local`] asks the C library (`localtime_r(3)`), which honours `TZ`, then
//! /etc/localtime, exactly as xinetd's stamps did.
//!
//! The C library loads the zone once and keeps it; a changed /etc/localtime (or `TZ`) is seen
//! only after [`reset_zone`] (`tzset(3)`), which the daemon calls on SIGHUP.
//!
//! Unsafe code: besides `spawn` and `listen`, this is the one module allowed it. A time-zone
//! crate (jiff) cost ~100 KB of code, and its `TimeZone::system()` walked all of
//! /usr/share/zoneinfo at start-up (57 KB of heap); all superd needs is one `localtime_r` call
//! per stamp, which has no safe wrapper in `libc` or `nix`. Each `unsafe` block is that single
//! call (or `tzset`) and says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::time::SystemTime;

/// Most bytes of a zone abbreviation kept (real ones are at most 6; POSIX `TZ` strings allow
/// longer). Longer ones are cut, at a character boundary.
pub const ZONE_MAX: usize = 16;

/// Earliest supported instant: -9999-01-01T00:00:00Z.
const MIN_SECS: i64 = -377_705_116_800;
/// Latest supported instant: 9999-12-31T23:59:59Z.
const MAX_SECS: i64 = 253_402_300_799;

const SECS_PER_DAY: i64 = 86_400;

/// Broken-down wall-clock time at one instant, with its zone abbreviation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 60 (a leap second, if the C library reports one).
    pub second: u8,
    /// 0 = Sunday to 6 = Saturday.
    pub weekday: u8,
    zone: [u8; ZONE_MAX],
    zone_len: u8,
}

impl LocalTime {
    /// The given wall-clock fields in zone `zone` (cut to [`ZONE_MAX`] bytes); the weekday is
    /// computed from the date. For tests and fixed stamps: nothing checks that the fields are a
    /// real time (month and day are clamped to 1..=12 and 1..=31 so formatters can index).
    pub fn new(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        zone: &str,
    ) -> Self {
        let month = month.clamp(1, 12);
        let day = day.clamp(1, 31);
        let days = days_from_civil(i64::from(year), month, day);
        LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            weekday: weekday_of(days),
            zone: [0; ZONE_MAX],
            zone_len: 0,
        }
        .with_zone(zone)
    }

    /// `unix_secs` (seconds since 1970-01-01T00:00:00Z) in UTC, zone `UTC`. Pure. Instants
    /// outside the years -9999 to 9999 are clamped to that range.
    pub fn utc(unix_secs: i64) -> Self {
        let secs = unix_secs.clamp(MIN_SECS, MAX_SECS);
        let days = secs.div_euclid(SECS_PER_DAY);
        let of_day = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        LocalTime {
            // |year| <= 10000 after the clamp.
            year: year as i32,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
            weekday: weekday_of(days),
            zone: [0; ZONE_MAX],
            zone_len: 0,
        }
        .with_zone("UTC")
    }

    /// `t` as wall-clock time in the system time zone (`TZ`, then /etc/localtime), via
    /// `localtime_r(3)`. Readings outside the years -9999 to 9999 count as the Unix epoch, as
    /// [`unix_secs`] says; should the C library fail, the result is [`LocalTime::utc`].
    pub fn local(t: SystemTime) -> Self {
        local_secs(unix_secs(t).unwrap_or(0))
    }

    /// The same fields with zone abbreviation `zone`, cut to [`ZONE_MAX`] bytes at a character
    /// boundary.
    pub fn with_zone(mut self, zone: &str) -> Self {
        let mut len = zone.len().min(ZONE_MAX);
        while !zone.is_char_boundary(len) {
            len -= 1;
        }
        self.zone = [0; ZONE_MAX];
        self.zone[..len].copy_from_slice(&zone.as_bytes()[..len]);
        // len <= ZONE_MAX = 16
        self.zone_len = len as u8;
        self
    }

    /// The time-zone abbreviation (`UTC`, `CET`, `EDT`); empty if the C library gave none.
    pub fn zone(&self) -> &str {
        let bytes = &self.zone[..usize::from(self.zone_len)];
        // Always valid: `with_zone` stores a prefix of a `str` cut at a character boundary.
        std::str::from_utf8(bytes).unwrap_or("")
    }
}

impl std::fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02} {} (weekday {})",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.zone(),
            self.weekday
        )
    }
}

/// Tell the C library to look at `TZ` and /etc/localtime again (`tzset(3)`), so later
/// [`LocalTime::local`] calls use a zone changed since start-up. glibc loads the zone once and
/// `localtime_r` never re-checks it; the daemon calls this on SIGHUP.
pub fn reset_zone() {
    extern "C" {
        fn tzset();
    }
    // SAFETY: tzset takes no arguments and only updates the C library's own zone state (which it
    // guards with a lock in glibc). superd never modifies the environment while it runs, so
    // reading `TZ` cannot race with `setenv`.
    unsafe { tzset() }
}

/// `t` as whole seconds since the Unix epoch, rounded down (so 0.5 s before the epoch is -1, as
/// `time_t` counts), or `None` outside the years -9999 to 9999.
pub fn unix_secs(t: SystemTime) -> Option<i64> {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).ok()?;
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    };
    (MIN_SECS..=MAX_SECS).contains(&secs).then_some(secs)
}

/// `secs` in the system time zone; [`LocalTime::utc`] if `localtime_r` cannot convert it.
fn local_secs(secs: i64) -> LocalTime {
    // Always fits a 64-bit `time_t`; a 32-bit one ends in 2038.
    let Some(t) = libc::time_t::try_from(secs).ok() else {
        return LocalTime::utc(secs);
    };
    // SAFETY: `libc::tm` is plain integers and one pointer; all-zero (a null `tm_zone`) is a
    // valid value of it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live, properly aligned locals; localtime_r writes only `tm`
    // and is thread-safe (it takes the C library's zone lock).
    let res = unsafe { libc::localtime_r(&t, &mut tm) };
    if res.is_null() {
        return LocalTime::utc(secs);
    }
    let zone = if tm.tm_zone.is_null() {
        &[][..]
    } else {
        // SAFETY: a non-null `tm_zone` set by localtime_r points to a NUL-terminated string the
        // C library keeps for the life of the process (glibc and musl never free zone names);
        // it is copied below before anything else can call into the zone code.
        unsafe { CStr::from_ptr(tm.tm_zone) }.to_bytes()
    };
    let zone = &zone[..zone.len().min(ZONE_MAX)];
    // Zone names are ASCII in practice; keep the longest valid UTF-8 prefix otherwise.
    let zone = match std::str::from_utf8(zone) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&zone[..e.valid_up_to()]).unwrap_or(""),
    };
    // The C library keeps each field in its documented range; the clamps only keep a broken
    // one from indexing past a table.
    LocalTime {
        year: tm.tm_year.saturating_add(1900),
        month: (tm.tm_mon.clamp(0, 11) + 1) as u8,
        day: tm.tm_mday.clamp(1, 31) as u8,
        hour: tm.tm_hour.clamp(0, 23) as u8,
        minute: tm.tm_min.clamp(0, 59) as u8,
        second: tm.tm_sec.clamp(0, 60) as u8,
        weekday: tm.tm_wday.clamp(0, 6) as u8,
        zone: [0; ZONE_MAX],
        zone_len: 0,
    }
    .with_zone(zone)
}

/// 0 = Sunday for `days` since 1970-01-01 (a Thursday).
fn weekday_of(days: i64) -> u8 {
    (days + 4).rem_euclid(7) as u8
}

/// (year, month, day) of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1
    let mp = (5 * doy + 2) / 153; // 0..=11, March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a (year, month 1..=12, day) date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fields(t: &LocalTime) -> (i32, u8, u8, u8, u8, u8, u8) {
        (
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday,
        )
    }

    #[test]
    fn utc_epoch() {
        let t = LocalTime::utc(0);
        // 1970-01-01 was a Thursday.
        assert_eq!(fields(&t), (1970, 1, 1, 0, 0, 0, 4));
        assert_eq!(t.zone(), "UTC");
    }

    #[test]
    fn utc_known_values() {
        // 2000-02-29 (a leap day in a century year divisible by 400), a Tuesday.
        assert_eq!(
            fields(&LocalTime::utc(951_782_400)),
            (2000, 2, 29, 0, 0, 0, 2)
        );
        assert_eq!(
            fields(&LocalTime::utc(951_868_799)),
            (2000, 2, 29, 23, 59, 59, 2)
        );
        assert_eq!(
            fields(&LocalTime::utc(951_868_800)),
            (2000, 3, 1, 0, 0, 0, 3)
        );
        // 2026-11-27T17:10:05Z, a Friday.
        assert_eq!(
            fields(&LocalTime::utc(1_795_799_405)),
            (2026, 11, 27, 17, 10, 5, 5)
        );
        // 2100 is not a leap year: Sunday 2100-02-28 is followed by Monday 2100-03-01.
        assert_eq!(
            fields(&LocalTime::utc(4_107_456_000)),
            (2100, 2, 28, 0, 0, 0, 0)
        );
        assert_eq!(
            fields(&LocalTime::utc(4_107_542_400)),
            (2100, 3, 1, 0, 0, 0, 1)
        );
        // Last supported second.
        assert_eq!(
            fields(&LocalTime::utc(MAX_SECS)),
            (9999, 12, 31, 23, 59, 59, 5)
        );
    }

    #[test]
    fn utc_before_1970() {
        // One second before the epoch: Wednesday 1969-12-31T23:59:59Z.
        assert_eq!(fields(&LocalTime::utc(-1)), (1969, 12, 31, 23, 59, 59, 3));
        // 1900-01-01T00:00:00Z (RFC 868's origin), a Monday.
        assert_eq!(
            fields(&LocalTime::utc(-2_208_988_800)),
            (1900, 1, 1, 0, 0, 0, 1)
        );
        // First supported second, and clamping below it.
        assert_eq!(fields(&LocalTime::utc(MIN_SECS)).0, -9999);
        assert_eq!(LocalTime::utc(i64::MIN), LocalTime::utc(MIN_SECS));
        assert_eq!(LocalTime::utc(i64::MAX), LocalTime::utc(MAX_SECS));
    }

    #[test]
    fn days_and_civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn new_computes_the_weekday() {
        let t = LocalTime::new(2026, 11, 27, 17, 10, 5, "CET");
        assert_eq!(fields(&t), (2026, 11, 27, 17, 10, 5, 5));
        assert_eq!(t.zone(), "CET");
        assert_eq!(t, LocalTime::utc(1_795_799_405).with_zone("CET"));
    }

    #[test]
    fn zone_is_cut_at_a_character_boundary() {
        let t = LocalTime::utc(0).with_zone(&"A".repeat(40));
        assert_eq!(t.zone(), "A".repeat(ZONE_MAX));
        // 15 ASCII bytes and a 2-byte character: the character does not fit.
        let t = LocalTime::utc(0).with_zone(&format!("{}é", "B".repeat(15)));
        assert_eq!(t.zone(), "B".repeat(15));
        assert_eq!(LocalTime::utc(0).with_zone("").zone(), "");
    }

    #[test]
    fn unix_secs_rounds_down_and_rejects_far_readings() {
        let e = SystemTime::UNIX_EPOCH;
        assert_eq!(unix_secs(e), Some(0));
        assert_eq!(unix_secs(e + Duration::from_millis(1_500)), Some(1));
        assert_eq!(unix_secs(e - Duration::from_millis(500)), Some(-1));
        assert_eq!(unix_secs(e - Duration::from_secs(1)), Some(-1));
        assert_eq!(unix_secs(e + Duration::from_secs(300_000_000_000)), None);
    }

    #[test]
    fn local_agrees_with_utc_when_the_zone_is_utc() {
        let probe = LocalTime::local(SystemTime::UNIX_EPOCH);
        assert!(probe.year == 1969 || probe.year == 1970, "{probe:?}");
        if probe.zone() != "UTC" {
            // The process runs in another zone; the environment is not ours to change.
            return;
        }
        for secs in [0, 951_782_400, 1_795_799_405, -2_208_988_800] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
                - Duration::from_secs((-secs).max(0) as u64);
            let local = LocalTime::local(t);
            let utc = LocalTime::utc(secs);
            assert_eq!(fields(&local), fields(&utc), "{secs}");
            assert_eq!(local.zone(), "UTC");
        }
    }

    #[test]
    fn local_now_is_plausible_and_reset_zone_keeps_it_working() {
        let now = SystemTime::now();
        let a = LocalTime::local(now);
        reset_zone();
        let b = LocalTime::local(now);
        assert_eq!(a, b);
        assert!((2000..=9999).contains(&a.year), "{a:?}");
    }
}
