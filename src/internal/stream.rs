//! Stream builtins as nonblocking state machines, driven by the event loop.
//!
//! `StreamSession::new(builtin, now)` → repeated `drive(&mut socket)` on readiness → [`Step`].
//! The loop registers the interest the last `Step` asked for (start with
//! [`StreamSession::initial_interest`]) and calls `drive` again when it fires.
//!
//! Per service:
//! * echo: read up to [`ECHO_BUF`] bytes, write them back; while any are unsent, stop reading,
//!   so a client that never reads is held to one buffer (TCP flow control does the rest). On the
//!   client's EOF, flush what is left, then close (with a half-close first).
//! * discard: read into a stack buffer and drop, until EOF.
//! * chargen: write the pattern straight from the static cycle (`chargen.rs`), one offset of
//!   state; never reads (xinetd `shutdown(SHUT_RD)`s the socket: the loop may do the same, see
//!   [`StreamSession::shutdown_read_at_start`]); ends only when a write fails (EPIPE/ECONNRESET).
//! * daytime/time: write the reply (computed at `new`) across as many partial writes as needed,
//!   then read and drop whatever the client already sent (so the close is a FIN, not an RST
//!   that could destroy the reply in flight), then close with a half-close first.
//!
//! Edge-triggered contract (mio): the loop must **re-register the socket after every `drive`
//! that returns `Wait`, even when the interest is unchanged.** `Wait` comes either after the
//! awaited operation hit `WouldBlock` (the next edge brings an event), or after the turn moved
//! [`TURN_BUDGET`] bytes without blocking, so that one fast peer cannot starve the loop. In the
//! second case the socket is still ready and no new edge will come; re-registration
//! (`epoll_ctl(EPOLL_CTL_MOD)`) re-arms it, so the event is reported again at the next poll,
//! after the other ready sockets. A test below checks this against mio.

use std::io::{self, ErrorKind, Read, Write};
use std::time::SystemTime;

use super::chargen::{CYCLE, CYCLE_LEN};
use super::clock::{daytime, time_bytes, unix_secs};
use super::Builtin;
use crate::clock::LocalTime;

/// Size of an echo session's buffer at first.
pub const ECHO_BUF: usize = 4096;
/// What an echo buffer grows to once a read fills it (a bulk transfer): the most superd holds
/// for one client. Fewer, larger reads and writes make bulk echo several times faster.
pub const ECHO_BUF_MAX: usize = 64 * 1024;

/// Bytes one `drive` call may move (read plus written) before it returns `Wait` to let other
/// sessions run, though the socket is still ready (see the module header).
pub const TURN_BUDGET: usize = 128 * 1024;

/// Scratch space on the stack for reads whose data is dropped.
const SCRATCH: usize = 16 * 1024;

/// Capacity of a daytime/time reply (daytime is at most 57 bytes).
const REPLY_CAP: usize = 64;

/// What the event loop should do with a session after `drive` (or before the first one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// (Re-)register this interest (always re-register, see the module header) and call
    /// `drive` when an event for it arrives. Exactly one of the two is `true` today. Error and
    /// hang-up events also warrant a `drive`: the next call sees them.
    Wait {
        /// Wait for the socket to become readable.
        read: bool,
        /// Wait for the socket to become writable.
        write: bool,
    },
    /// The session is over: deregister; if [`StreamSession::half_close_before_close`] says so,
    /// `shutdown(Write)` (ignoring errors); then drop the socket. Further `drive` calls return
    /// `Close` and touch nothing.
    Close,
}

/// How a session closes: after `drive` returned [`Step::Close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// All output was written; the loop should `shutdown(Write)` before dropping.
    Clean,
    /// The peer went away or an error occurred: just drop.
    Abort,
}

enum State {
    Echo {
        /// `ECHO_BUF` bytes, grown to `ECHO_BUF_MAX` by the first read that fills it.
        buf: Box<[u8]>,
        /// Unsent bytes are `buf[start..end]`.
        start: usize,
        end: usize,
        /// The client sent EOF; finish once `buf` is flushed.
        eof: bool,
    },
    Discard,
    Chargen {
        /// Next byte of `CYCLE` to send.
        offset: usize,
    },
    Reply {
        bytes: [u8; REPLY_CAP],
        len: usize,
        pos: usize,
    },
    Done(End),
}

/// One accepted connection to a stream builtin.
pub struct StreamSession {
    builtin: Builtin,
    state: State,
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession")
            .field("builtin", &self.builtin)
            .field("buffered", &self.buffered())
            .field("done", &matches!(self.state, State::Done(_)))
            .finish()
    }
}

impl StreamSession {
    /// A session for a freshly accepted connection. `now` is read only by daytime and time, whose
    /// reply is fixed here, at accept time; daytime uses the system time zone
    /// ([`LocalTime::local`]: `TZ`, then /etc/localtime, like glibc's `localtime`).
    pub fn new(builtin: Builtin, now: SystemTime) -> StreamSession {
        let secs = unix_secs(now);
        // Only daytime needs the zone; the others get the (pure, cheap) UTC breakdown.
        let local = if builtin == Builtin::Daytime {
            LocalTime::local(now)
        } else {
            LocalTime::utc(secs)
        };
        StreamSession::with_clock(builtin, secs, &local)
    }

    /// [`StreamSession::new`] with an explicit clock reading: `unix_secs` for time, `local` (the
    /// same instant as wall-clock time) for daytime.
    pub fn with_clock(builtin: Builtin, unix_secs: i64, local: &LocalTime) -> StreamSession {
        let state = match builtin {
            Builtin::Echo => State::Echo {
                buf: vec![0; ECHO_BUF].into_boxed_slice(),
                start: 0,
                end: 0,
                eof: false,
            },
            Builtin::Discard => State::Discard,
            Builtin::Chargen => State::Chargen { offset: 0 },
            Builtin::Daytime => reply(daytime(local).as_bytes()),
            Builtin::Time => reply(&time_bytes(unix_secs)),
        };
        StreamSession { builtin, state }
    }

    /// The service this session serves.
    pub fn builtin(&self) -> Builtin {
        self.builtin
    }

    /// What to register right after accept, before the first `drive`.
    pub fn initial_interest(&self) -> Step {
        match self.state {
            State::Echo { .. } | State::Discard => Step::Wait {
                read: true,
                write: false,
            },
            State::Chargen { .. } | State::Reply { .. } => Step::Wait {
                read: false,
                write: true,
            },
            State::Done(_) => Step::Close,
        }
    }

    /// Whether the loop should `shutdown(Read)` the socket right after accept, as xinetd does for
    /// chargen. Optional: the session never reads either way; shutting down only makes it
    /// explicit.
    pub fn shutdown_read_at_start(&self) -> bool {
        self.builtin == Builtin::Chargen
    }

    /// After `drive` returned [`Step::Close`]: whether the session ended cleanly with all its
    /// output written (echo after the client's EOF, daytime, time), in which case the loop should
    /// `shutdown(Write)` before dropping the socket, sending the FIN right behind the data.
    /// `false` after errors and for discard and chargen.
    pub fn half_close_before_close(&self) -> bool {
        matches!(self.state, State::Done(End::Clean))
    }

    /// Bytes received but not yet sent back (echo only; at most [`ECHO_BUF_MAX`]).
    pub fn buffered(&self) -> usize {
        match self.state {
            State::Echo { start, end, .. } => end - start,
            _ => 0,
        }
    }

    /// Does as much work as the nonblocking socket allows (bounded by [`TURN_BUDGET`]) and says
    /// what to wait for next. Call it when the socket is readable or writable (or reports an
    /// error or hang-up).
    pub fn drive<S: Read + Write>(&mut self, sock: &mut S) -> Step {
        let outcome = match &mut self.state {
            State::Echo {
                buf,
                start,
                end,
                eof,
            } => drive_echo(sock, buf, start, end, eof),
            State::Discard => drive_discard(sock),
            State::Chargen { offset } => drive_chargen(sock, offset),
            State::Reply { bytes, len, pos } => drive_reply(sock, &bytes[..*len], pos),
            State::Done(_) => return Step::Close,
        };
        match outcome {
            Outcome::Step(step) => step,
            Outcome::End(end) => {
                self.state = State::Done(end);
                Step::Close
            }
        }
    }
}

/// The result of one turn of a service.
enum Outcome {
    Step(Step),
    End(End),
}

const WAIT_READ: Outcome = Outcome::Step(Step::Wait {
    read: true,
    write: false,
});
const WAIT_WRITE: Outcome = Outcome::Step(Step::Wait {
    read: false,
    write: true,
});

/// One read or write, classified.
enum Io {
    Done(usize),
    Eof,
    WouldBlock,
    Failed,
}

fn classify(r: io::Result<usize>) -> Option<Io> {
    match r {
        Ok(0) => Some(Io::Eof),
        Ok(n) => Some(Io::Done(n)),
        Err(e) if e.kind() == ErrorKind::Interrupted => None,
        Err(e) if e.kind() == ErrorKind::WouldBlock => Some(Io::WouldBlock),
        Err(_) => Some(Io::Failed),
    }
}

/// `read`, retrying on EINTR.
fn read_once<S: Read>(sock: &mut S, buf: &mut [u8]) -> Io {
    loop {
        if let Some(io) = classify(sock.read(buf)) {
            return io;
        }
    }
}

/// `write`, retrying on EINTR. A zero-byte write of a non-empty buffer counts as a failure.
fn write_once<S: Write>(sock: &mut S, buf: &[u8]) -> Io {
    loop {
        match classify(sock.write(buf)) {
            Some(Io::Eof) => return Io::Failed,
            Some(io) => return io,
            None => {}
        }
    }
}

fn reply(bytes: &[u8]) -> State {
    let mut buf = [0; REPLY_CAP];
    let len = bytes.len().min(REPLY_CAP);
    buf[..len].copy_from_slice(&bytes[..len]);
    State::Reply {
        bytes: buf,
        len,
        pos: 0,
    }
}

fn drive_echo<S: Read + Write>(
    sock: &mut S,
    buf: &mut Box<[u8]>,
    start: &mut usize,
    end: &mut usize,
    eof: &mut bool,
) -> Outcome {
    let mut moved = 0;
    loop {
        while *start < *end {
            if moved >= TURN_BUDGET {
                return WAIT_WRITE;
            }
            match write_once(sock, &buf[*start..*end]) {
                Io::Done(n) => {
                    *start += n;
                    moved += n;
                }
                Io::WouldBlock => return WAIT_WRITE,
                Io::Eof | Io::Failed => return Outcome::End(End::Abort),
            }
        }
        if *end == buf.len() && buf.len() < ECHO_BUF_MAX {
            *buf = vec![0; ECHO_BUF_MAX].into_boxed_slice();
        }
        *start = 0;
        *end = 0;
        if *eof {
            return Outcome::End(End::Clean);
        }
        if moved >= TURN_BUDGET {
            return WAIT_READ;
        }
        match read_once(sock, &mut buf[..]) {
            Io::Done(n) => {
                *end = n;
                moved += n;
            }
            Io::Eof => *eof = true,
            Io::WouldBlock => return WAIT_READ,
            Io::Failed => return Outcome::End(End::Abort),
        }
    }
}

fn drive_discard<S: Read>(sock: &mut S) -> Outcome {
    let mut scratch = [0u8; SCRATCH];
    let mut moved = 0;
    loop {
        if moved >= TURN_BUDGET {
            return WAIT_READ;
        }
        match read_once(sock, &mut scratch) {
            Io::Done(n) => moved += n,
            Io::WouldBlock => return WAIT_READ,
            // Nothing was ever sent: a plain close is already clean.
            Io::Eof | Io::Failed => return Outcome::End(End::Abort),
        }
    }
}

fn drive_chargen<S: Write>(sock: &mut S, offset: &mut usize) -> Outcome {
    let mut moved = 0;
    loop {
        if moved >= TURN_BUDGET {
            return WAIT_WRITE;
        }
        match write_once(sock, &CYCLE[*offset..]) {
            Io::Done(n) => {
                *offset = (*offset + n) % CYCLE_LEN;
                moved += n;
            }
            Io::WouldBlock => return WAIT_WRITE,
            Io::Eof | Io::Failed => return Outcome::End(End::Abort),
        }
    }
}

fn drive_reply<S: Read + Write>(sock: &mut S, bytes: &[u8], pos: &mut usize) -> Outcome {
    while *pos < bytes.len() {
        match write_once(sock, &bytes[*pos..]) {
            Io::Done(n) => *pos += n,
            Io::WouldBlock => return WAIT_WRITE,
            Io::Eof | Io::Failed => return Outcome::End(End::Abort),
        }
    }
    // Drop what the client already sent (bounded: a few reads, never waiting) so that closing
    // with unread input does not turn the FIN into an RST.
    let mut scratch = [0u8; SCRATCH];
    for _ in 0..4 {
        match read_once(sock, &mut scratch) {
            Io::Done(_) => {}
            Io::Eof | Io::WouldBlock | Io::Failed => break,
        }
    }
    Outcome::End(End::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal::chargen::{Chargen, LINE_LEN};
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;

    const WAIT_R: Step = Step::Wait {
        read: true,
        write: false,
    };
    const WAIT_W: Step = Step::Wait {
        read: false,
        write: true,
    };

    /// A session whose clock reads 2026-11-27T17:10:05Z in UTC.
    fn session(b: Builtin) -> StreamSession {
        let now = 1_795_799_405;
        StreamSession::with_clock(b, now, &LocalTime::utc(now))
    }

    fn pair() -> (UnixStream, UnixStream) {
        let (client, server) = UnixStream::pair().unwrap();
        client.set_nonblocking(true).unwrap();
        server.set_nonblocking(true).unwrap();
        (client, server)
    }

    /// Reads whatever is available without blocking.
    fn read_available(sock: &mut UnixStream, into: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match sock.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => into.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    #[test]
    fn initial_interest_per_service() {
        let interest = |b| session(b).initial_interest();
        assert_eq!(interest(Builtin::Echo), WAIT_R);
        assert_eq!(interest(Builtin::Discard), WAIT_R);
        assert_eq!(interest(Builtin::Chargen), WAIT_W);
        assert_eq!(interest(Builtin::Daytime), WAIT_W);
        assert_eq!(interest(Builtin::Time), WAIT_W);
        assert!(session(Builtin::Chargen).shutdown_read_at_start());
        assert!(!session(Builtin::Echo).shutdown_read_at_start());
    }

    #[test]
    fn echo_round_trip_then_half_close_on_eof() {
        let (mut client, mut server) = pair();
        let mut s = session(Builtin::Echo);
        assert_eq!(s.drive(&mut server), WAIT_R);
        client.write_all(b"hello\r\n").unwrap();
        assert_eq!(s.drive(&mut server), WAIT_R);
        let mut got = Vec::new();
        read_available(&mut client, &mut got);
        assert_eq!(got, b"hello\r\n");

        client.write_all(b"bye").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(s.drive(&mut server), Step::Close);
        assert!(s.half_close_before_close());
        assert_eq!(s.drive(&mut server), Step::Close);
        server.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        assert!(!read_available(&mut client, &mut got), "expected EOF");
        assert_eq!(got, b"bye");
    }

    #[test]
    fn echo_stops_reading_while_a_client_does_not_read() {
        let (mut client, mut server) = pair();
        let mut s = session(Builtin::Echo);
        let chunk = [b'e'; 8192];
        let mut sent = 0usize;
        let mut stalled = false;
        for _ in 0..10_000 {
            match client.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("client write: {e}"),
            }
            if s.drive(&mut server) == WAIT_W {
                stalled = true;
                break;
            }
        }
        assert!(stalled, "echo never stopped reading");
        assert!(s.buffered() > 0 && s.buffered() <= ECHO_BUF_MAX);

        // The session no longer reads, so the client's writes soon block: bounded memory.
        let mut client_blocked = false;
        for _ in 0..10_000 {
            match client.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    client_blocked = true;
                    break;
                }
                Err(e) => panic!("client write: {e}"),
            }
            assert_eq!(s.drive(&mut server), WAIT_W);
        }
        assert!(client_blocked, "client could write without limit");
        assert!(s.buffered() <= ECHO_BUF_MAX);

        // Once the client reads, everything comes back, byte for byte.
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut closed = false;
        for _ in 0..100_000 {
            read_available(&mut client, &mut got);
            if s.drive(&mut server) == Step::Close {
                closed = true;
                break;
            }
        }
        assert!(closed);
        assert!(s.half_close_before_close());
        drop(server);
        read_available(&mut client, &mut got);
        assert_eq!(got.len(), sent);
        assert!(got.iter().all(|&c| c == b'e'));
    }

    #[test]
    fn discard_reads_everything_and_sends_nothing() {
        let (mut client, mut server) = pair();
        let mut s = session(Builtin::Discard);
        let chunk = [b'd'; 10_000];
        let mut sent = 0;
        while sent < 100_000 {
            match client.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("client write: {e}"),
            }
            assert_eq!(s.drive(&mut server), WAIT_R);
        }
        let mut got = Vec::new();
        assert!(read_available(&mut client, &mut got));
        assert!(got.is_empty());
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(s.drive(&mut server), Step::Close);
        assert!(!s.half_close_before_close());
    }

    #[test]
    fn chargen_streams_the_pattern_until_the_reader_leaves() {
        let (mut client, mut server) = pair();
        let mut s = session(Builtin::Chargen);
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if got.len() >= 100_000 {
                break;
            }
            assert_eq!(s.drive(&mut server), WAIT_W);
            read_available(&mut client, &mut got);
        }
        assert!(got.len() >= 100_000);
        let expect: Vec<u8> = Chargen::new()
            .take(got.len().div_ceil(LINE_LEN))
            .flatten()
            .copied()
            .collect();
        assert_eq!(got[..], expect[..got.len()]);
        assert_eq!(s.buffered(), 0);

        drop(client);
        assert_eq!(s.drive(&mut server), Step::Close);
        assert!(!s.half_close_before_close());
    }

    #[test]
    fn chargen_slow_reader_costs_no_memory() {
        let (_client, mut server) = pair();
        let mut s = session(Builtin::Chargen);
        assert_eq!(s.drive(&mut server), WAIT_W);
        assert_eq!(s.drive(&mut server), WAIT_W);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn daytime_and_time_write_reply_then_close() {
        for (b, expect) in [
            (Builtin::Daytime, &b"27 NOV 2026 17:10:05 UTC\r\n"[..]),
            (Builtin::Time, &[0xEE, 0xB4, 0x37, 0xED][..]),
        ] {
            let (mut client, mut server) = pair();
            client.write_all(b"request\r\n").unwrap(); // drained, not answered
            let mut s = session(b);
            assert_eq!(s.drive(&mut server), Step::Close);
            assert!(s.half_close_before_close());
            server.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            assert!(!read_available(&mut client, &mut got));
            assert_eq!(got, expect, "{b:?}");
        }
    }

    /// A socket that accepts at most 3 bytes per write, alternating with WouldBlock and
    /// Interrupted, and reads per a script.
    struct Trickle {
        out: Vec<u8>,
        calls: usize,
        read_result: Option<ErrorKind>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            match self.calls % 3 {
                0 => Err(ErrorKind::WouldBlock.into()),
                1 => Err(ErrorKind::Interrupted.into()),
                _ => {
                    let n = buf.len().min(3);
                    self.out.extend_from_slice(&buf[..n]);
                    Ok(n)
                }
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Trickle {
        fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
            match self.read_result {
                Some(kind) => Err(kind.into()),
                None => Ok(0),
            }
        }
    }

    #[test]
    fn daytime_survives_partial_writes_and_eintr() {
        let mut sock = Trickle {
            out: Vec::new(),
            calls: 0,
            read_result: Some(ErrorKind::WouldBlock),
        };
        let mut s = session(Builtin::Daytime);
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100);
            match s.drive(&mut sock) {
                Step::Close => break,
                step => assert_eq!(step, WAIT_W),
            }
        }
        assert_eq!(sock.out, b"27 NOV 2026 17:10:05 UTC\r\n");
        assert!(s.half_close_before_close());
    }

    #[test]
    fn echo_closes_without_half_close_on_error() {
        let mut sock = Trickle {
            out: Vec::new(),
            calls: 0,
            read_result: Some(ErrorKind::ConnectionReset),
        };
        let mut s = session(Builtin::Echo);
        assert_eq!(s.drive(&mut sock), Step::Close);
        assert!(!s.half_close_before_close());
        assert_eq!(s.drive(&mut sock), Step::Close);
    }

    #[test]
    fn a_turn_ends_after_its_budget() {
        // A socket that always has input and always takes output.
        struct Firehose;
        impl Read for Firehose {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
        }
        impl Write for Firehose {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for (b, step) in [
            (Builtin::Echo, WAIT_R), // 8 × (read 4 KiB + write 4 KiB), buffer empty
            (Builtin::Discard, WAIT_R),
            (Builtin::Chargen, WAIT_W),
        ] {
            let mut s = session(b);
            assert_eq!(s.drive(&mut Firehose), step, "{b:?}");
            assert_eq!(s.drive(&mut Firehose), step, "{b:?}");
        }
    }

    /// The loop's side of the budget: after a turn that stopped on the budget, re-registering
    /// the same interest makes mio (epoll, edge-triggered) report the still-ready socket again.
    #[test]
    fn reregister_after_a_budget_stop_brings_the_event_back() {
        use mio::{net::UnixStream as MioStream, Events, Interest, Poll, Token};
        use std::time::Duration;

        let (mut client, mut server) = MioStream::pair().unwrap();
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let token = Token(7);
        poll.registry()
            .register(&mut server, token, Interest::READABLE)
            .unwrap();

        let chunk = [b'd'; 16 * 1024];
        let mut sent = 0;
        while let Ok(n) = client.write(&chunk) {
            sent += n;
        }
        assert!(
            sent > TURN_BUDGET + SCRATCH,
            "socket buffer too small: {sent}"
        );

        let ready = |poll: &mut Poll, events: &mut Events| {
            poll.poll(events, Some(Duration::ZERO)).unwrap();
            events.iter().any(|e| e.token() == token && e.is_readable())
        };
        assert!(ready(&mut poll, &mut events));
        let mut s = session(Builtin::Discard);
        assert_eq!(s.drive(&mut server), WAIT_R); // stopped on the budget, data remains
        assert!(
            !ready(&mut poll, &mut events),
            "edge-triggered: no new edge"
        );
        poll.registry()
            .reregister(&mut server, token, Interest::READABLE)
            .unwrap();
        assert!(ready(&mut poll, &mut events), "re-registration re-arms");
    }
}
