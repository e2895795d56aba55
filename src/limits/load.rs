//! `max_load`: refuse connections while the machine is busy.
//!
//! Input: the first field of /proc/loadavg (the 1-minute load average) and the service's
//! `max_load`. Output: whether to refuse (`load`, plus the daemon line "refused connect from A
//! due to excessive load"). The file is read rather than calling getloadavg(3), which would
//! need `unsafe`; on Linux that is where getloadavg reads it from too. xinetd reads it on every
//! connection of a service with `max_load`; so should the caller, and only for those services.
//!
//! An unreadable or unparsable file gives `None`, which never refuses: a missing /proc must not
//! shut every service down. (What xinetd's reader did then is not verified; its fd leak on
//! that path is a known bug, reference §3.3.)

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Where Linux publishes the load averages.
pub const LOADAVG_PATH: &str = "/proc/loadavg";

/// The 1-minute load average from a file in /proc/loadavg's format (pass [`LOADAVG_PATH`]).
pub fn read_loadavg(path: &Path) -> Option<f64> {
    // The first field is within the first few bytes; read no more than a small buffer, without
    // allocating (this runs once per connection).
    let mut buf = [0u8; 128];
    let mut file = File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    parse_loadavg(std::str::from_utf8(&buf[..len]).ok()?)
}

/// The first whitespace-separated field as a finite, non-negative number.
pub fn parse_loadavg(text: &str) -> Option<f64> {
    let load: f64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    (load.is_finite() && load >= 0.0).then_some(load)
}

/// Whether a service with `max_load = max` refuses at `load`: at or above the maximum, as
/// xinetd. `None` or a maximum of 0 (xinetd's "off") never refuses.
pub fn load_exceeded(max: Option<f64>, load: f64) -> bool {
    match max {
        Some(max) if max > 0.0 => load >= max,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn first_field_is_the_one_minute_average() {
        assert_eq!(parse_loadavg("0.72 0.88 1.70 1/86 3176\n"), Some(0.72));
        assert_eq!(parse_loadavg("12.00 0.88 1.70 1/86 3176"), Some(12.0));
    }

    #[test]
    fn garbage_is_none() {
        for text in ["", "\n", "abc 1 2", "-1.0 0 0", "inf 0 0", "NaN 0 0"] {
            assert_eq!(parse_loadavg(text), None, "{text:?}");
        }
    }

    #[test]
    fn reads_the_file_at_the_given_path() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"3.25 2.00 1.00 2/300 4242\n").unwrap();
        assert_eq!(read_loadavg(file.path()), Some(3.25));
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_loadavg(&dir.path().join("loadavg")), None);
    }

    #[test]
    fn reads_the_real_file_where_there_is_one() {
        if Path::new(LOADAVG_PATH).exists() {
            assert!(read_loadavg(Path::new(LOADAVG_PATH)).is_some());
        }
    }

    /// Reference §5 #27: `max_load = 0.001` refuses on any real machine; equality refuses too.
    #[test]
    fn refuses_at_or_above_max() {
        assert!(load_exceeded(Some(0.001), 0.72));
        assert!(load_exceeded(Some(2.0), 2.0));
        assert!(!load_exceeded(Some(2.0), 1.99));
    }

    #[test]
    fn unset_or_zero_never_refuses() {
        assert!(!load_exceeded(None, 1000.0));
        assert!(!load_exceeded(Some(0.0), 1000.0));
    }
}
