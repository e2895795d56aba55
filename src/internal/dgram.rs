//! Datagram builtins: one request datagram → at most one reply datagram, computed purely.
//!
//! The event loop owns the socket: it reads datagrams until `WouldBlock` (with a per-wakeup
//! cap), calls [`dgram_reply`] for each and sends `out` back to the sender when it returns
//! `true`. Unlike xinetd, queued datagrams are answered rather than drained and dropped.

use std::time::SystemTime;

use super::chargen::{Chargen, DGRAM_LEN};
use super::clock::{daytime, time_bytes, unix_secs};
use super::Builtin;
use crate::clock::LocalTime;

/// Largest UDP echo reply: the IPv4 UDP payload limit (65535 − 20 − 8). Longer requests (only
/// possible over IPv6) are echoed truncated. The loop's receive buffer is the practical limit:
/// a datagram longer than it arrives truncated already (xinetd's buffer is 2048 bytes).
pub const DGRAM_ECHO_MAX: usize = 65_507;

/// Computes the reply to one request datagram of builtin `b` into `out` (cleared first) and
/// returns whether to send it:
/// * echo: the request bytes, cut at [`DGRAM_ECHO_MAX`] (an empty request gets an empty reply);
/// * discard: no reply;
/// * chargen: exactly 1024 bytes, always starting at the first line (see `chargen.rs`);
/// * daytime: the daytime text of `now` in the system time zone ([`LocalTime::local`]: `TZ`,
///   then /etc/localtime, like glibc's `localtime`);
/// * time: the 4-byte time of `now`.
///
/// The request content is ignored except by echo. Reuse `out` across calls: with enough
/// capacity this does not allocate.
pub fn dgram_reply(b: Builtin, request: &[u8], now: SystemTime, out: &mut Vec<u8>) -> bool {
    let secs = unix_secs(now);
    // Only daytime needs the zone; the others get the (pure, cheap) UTC breakdown.
    let local = if b == Builtin::Daytime {
        LocalTime::local(now)
    } else {
        LocalTime::utc(secs)
    };
    dgram_reply_with_clock(b, request, secs, &local, out)
}

/// [`dgram_reply`] with an explicit clock reading: `unix_secs` for time, `local` (the same
/// instant as wall-clock time) for daytime.
pub fn dgram_reply_with_clock(
    b: Builtin,
    request: &[u8],
    unix_secs: i64,
    local: &LocalTime,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    match b {
        Builtin::Echo => {
            out.extend_from_slice(&request[..request.len().min(DGRAM_ECHO_MAX)]);
            true
        }
        Builtin::Discard => false,
        Builtin::Chargen => {
            out.resize(DGRAM_LEN, 0);
            let n = Chargen::new().fill(out);
            out.truncate(n);
            true
        }
        Builtin::Daytime => {
            out.extend_from_slice(daytime(local).as_bytes());
            true
        }
        Builtin::Time => {
            out.extend_from_slice(&time_bytes(unix_secs));
            true
        }
    }
}

/// Whether a datagram from source `port` looks like a reflection attack: newer xinetd (2022,
/// not 2.3.15.3) and OpenBSD inetd refuse to answer privileged source ports, because a request
/// spoofed from another host's echo/chargen port makes two servers bounce replies forever.
/// Pure advice for the loop; `dgram_reply` itself does not look at addresses.
pub fn udp_source_port_suspect(port: u16) -> bool {
    port < 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal::chargen::LINE_LEN;

    /// `dgram_reply` with the clock at 2026-11-27T17:10:05Z in UTC.
    fn reply(b: Builtin, request: &[u8], out: &mut Vec<u8>) -> bool {
        let now = 1_795_799_405;
        dgram_reply_with_clock(b, request, now, &LocalTime::utc(now), out)
    }

    #[test]
    fn echo_returns_the_request() {
        let mut out = Vec::new();
        assert!(reply(Builtin::Echo, b"hello\n", &mut out));
        assert_eq!(out, b"hello\n");
        assert!(reply(Builtin::Echo, b"", &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn echo_caps_at_the_ipv4_udp_limit() {
        let big = vec![b'x'; DGRAM_ECHO_MAX + 20];
        let mut out = Vec::new();
        assert!(reply(Builtin::Echo, &big, &mut out));
        assert_eq!(out.len(), DGRAM_ECHO_MAX);
    }

    #[test]
    fn discard_never_replies() {
        let mut out = b"stale".to_vec();
        assert!(!reply(Builtin::Discard, b"junk", &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn chargen_reply_is_1024_bytes_13_lines_and_a_60_char_line() {
        let mut out = Vec::new();
        assert!(reply(Builtin::Chargen, b"", &mut out));
        assert_eq!(out.len(), 1024);
        let lines: Vec<&[u8]> = out.split_inclusive(|&c| c == b'\n').collect();
        assert_eq!(lines.len(), 14);
        let mut expect = Chargen::new();
        for line in &lines[..13] {
            assert_eq!(*line, expect.next().unwrap());
            assert_eq!(line.len(), LINE_LEN);
        }
        assert_eq!(lines[13].len(), 62);
        assert_eq!(&lines[13][..60], &expect.next().unwrap()[..60]);
        assert!(lines[13].ends_with(b"\r\n"));
        // Stateless: the next request gets the same bytes.
        let first = out.clone();
        assert!(reply(Builtin::Chargen, b"", &mut out));
        assert_eq!(out, first);
    }

    #[test]
    fn daytime_and_time_replies() {
        let mut out = Vec::new();
        assert!(reply(Builtin::Daytime, b"x", &mut out));
        assert_eq!(out, b"27 NOV 2026 17:10:05 UTC\r\n");
        assert!(reply(Builtin::Time, b"", &mut out));
        assert_eq!(out, [0xEE, 0xB4, 0x37, 0xED]);
    }

    #[test]
    fn system_clock_entry_point_answers_time() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_799_405);
        let mut out = Vec::new();
        assert!(dgram_reply(Builtin::Time, b"", t, &mut out));
        assert_eq!(out, [0xEE, 0xB4, 0x37, 0xED]);
        assert!(dgram_reply(Builtin::Daytime, b"", t, &mut out));
        assert!(out.starts_with(b"2") && out.ends_with(b"\r\n"), "{out:?}");
    }

    #[test]
    fn privileged_source_ports_are_suspect() {
        assert!(udp_source_port_suspect(7));
        assert!(udp_source_port_suspect(1023));
        assert!(!udp_source_port_suspect(1024));
        assert!(!udp_source_port_suspect(40000));
    }
}
