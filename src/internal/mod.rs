//! Internal services: echo (RFC 862), discard (863), chargen (864), daytime (867), time (868),
//! served inside the daemon without forking.
//!
//! Input → output: a service name → [`Builtin`]; `(Builtin, request datagram, now)` → reply bytes
//! ([`dgram_reply`]); `(Builtin, now)` → a [`StreamSession`] that the event loop drives on
//! readiness and that answers with the next [`Step`] (what to wait for, or close).
//! Nothing here knows about mio: sessions work on any nonblocking `Read + Write`.
//!
//! Invariants:
//! * **Never blocks.** Every socket call is expected to be nonblocking; `WouldBlock` ends a turn,
//!   `Interrupted` is retried, any other error closes the session.
//! * **Bounded memory per session**, whatever the peer does: echo holds one buffer (4 KiB,
//!   64 KiB once a read fills it) and stops reading while any of it is unsent; chargen writes straight from a static
//!   table (no buffer at all); daytime/time hold their reply inline (≤ 64 bytes); discard owns
//!   nothing.
//! * **Bounded work per turn:** one `drive` call moves at most [`TURN_BUDGET`] bytes, then
//!   returns `Wait` even if the socket is still ready, so a fast peer cannot starve the
//!   single-threaded loop. The loop re-registers after every `drive`, which re-arms the
//!   edge-triggered event (see `stream.rs`).
//! * **No allocation on the hot path:** only echo allocates (its buffer, once per session);
//!   datagram replies reuse the caller's `Vec`.
//!
//! Output matches xinetd 2.3.15.3 byte for byte (`builtins.c`, reference §1.15), including its
//! chargen quirks; see `chargen.rs`. Differences from xinetd are listed at the end of this header.
//! `tcpmux` and `sensor` are not implemented here: [`Builtin::from_name`] returns `None` for them
//! and the caller reports "No such internal service".
//!
//! Differences from xinetd:
//! * echo and chargen stream sessions run inside the daemon; xinetd forks for them.
//! * UDP echo replies with up to 65507 bytes (the loop's receive buffer decides); xinetd
//!   truncates at its 2048-byte buffer.
//! * Queued datagrams are answered, not drained: xinetd discards every datagram queued behind the
//!   one it answered.
//! * Every chargen datagram starts at the first line (`!`…); xinetd continues one process-wide
//!   rotation across datagrams.
//! * daytime/time read and discard what the client already sent before closing, so the close
//!   is a FIN rather than an RST.
//! * The daytime time-zone abbreviation is cut at 16 bytes (glibc `%Z` prints it whole).

mod chargen;
mod clock;
mod dgram;
pub mod relay;
mod stream;

pub use chargen::{Chargen, DGRAM_LEN, LINE_CHARS, LINE_LEN};
pub use clock::{daytime, daytime_text, time_bytes, Daytime, TZ_ABBR_MAX};
pub use dgram::{dgram_reply, dgram_reply_with_clock, udp_source_port_suspect, DGRAM_ECHO_MAX};
pub use stream::{Step, StreamSession, ECHO_BUF, ECHO_BUF_MAX, TURN_BUDGET};

/// One internal service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// RFC 862: send back what was received.
    Echo,
    /// RFC 863: read and throw away.
    Discard,
    /// RFC 864: an endless rotating pattern of printable characters.
    Chargen,
    /// RFC 867: the local time as text.
    Daytime,
    /// RFC 868: seconds since 1900-01-01T00:00:00Z as 32 bits, big-endian.
    Time,
}

/// One row of the built-in table: what a config `service <name>` with `type = INTERNAL` maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinEntry {
    /// The service name, as written in xinetd.conf and /etc/services.
    pub name: &'static str,
    /// The service it names.
    pub builtin: Builtin,
    /// The RFC that defines the protocol.
    pub rfc: u16,
    /// The well-known port (the same for tcp and udp).
    pub port: u16,
    /// Whether xinetd forks for the stream variant (superd never forks for builtins; kept as
    /// data because xinetd's logs differ: forking internals log a pid and an EXIT line).
    pub xinetd_stream_forks: bool,
}

/// The built-in services, as data (like OpenBSD inetd's `biltins[]`).
pub const BUILTINS: [BuiltinEntry; 5] = [
    BuiltinEntry {
        name: "echo",
        builtin: Builtin::Echo,
        rfc: 862,
        port: 7,
        xinetd_stream_forks: true,
    },
    BuiltinEntry {
        name: "discard",
        builtin: Builtin::Discard,
        rfc: 863,
        port: 9,
        xinetd_stream_forks: true,
    },
    BuiltinEntry {
        name: "chargen",
        builtin: Builtin::Chargen,
        rfc: 864,
        port: 19,
        xinetd_stream_forks: true,
    },
    BuiltinEntry {
        name: "daytime",
        builtin: Builtin::Daytime,
        rfc: 867,
        port: 13,
        xinetd_stream_forks: false,
    },
    BuiltinEntry {
        name: "time",
        builtin: Builtin::Time,
        rfc: 868,
        port: 37,
        xinetd_stream_forks: false,
    },
];

impl Builtin {
    /// The builtin a service name denotes, ignoring ASCII case; `None` for anything else,
    /// including `tcpmux` and `sensor`, which are not handled by this module.
    pub fn from_name(name: &str) -> Option<Builtin> {
        BUILTINS
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .map(|e| e.builtin)
    }

    /// The canonical (lower-case) service name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// This builtin's row in [`BUILTINS`].
    pub fn entry(self) -> &'static BuiltinEntry {
        // The table lists the variants in declaration order.
        &BUILTINS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_in_variant_order() {
        for (i, e) in BUILTINS.iter().enumerate() {
            assert_eq!(e.builtin as usize, i, "{}", e.name);
            assert_eq!(e.builtin.name(), e.name);
        }
    }

    #[test]
    fn from_name_is_case_insensitive() {
        assert_eq!(Builtin::from_name("echo"), Some(Builtin::Echo));
        assert_eq!(Builtin::from_name("ECHO"), Some(Builtin::Echo));
        assert_eq!(Builtin::from_name("Discard"), Some(Builtin::Discard));
        assert_eq!(Builtin::from_name("chargen"), Some(Builtin::Chargen));
        assert_eq!(Builtin::from_name("DayTime"), Some(Builtin::Daytime));
        assert_eq!(Builtin::from_name("time"), Some(Builtin::Time));
    }

    #[test]
    fn from_name_rejects_services_not_in_this_module() {
        for name in [
            "tcpmux", "sensor", "servers", "services", "xadmin", "", "echo ",
        ] {
            assert_eq!(Builtin::from_name(name), None, "{name:?}");
        }
    }
}
