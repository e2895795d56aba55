//! `redirect`: relaying one client connection to a backend inside the daemon.
//!
//! Input: two non-blocking sockets (client, backend) and readiness; output: bytes moved both
//! ways and a verdict (`Relay::drive` returns whether the relay is finished). Each direction
//! has a fixed buffer, so a slow side stops superd from reading the fast one instead of making
//! it buffer: memory per relay is bounded by `2 × BUF`. End of input on one side is passed on
//! as a half-close (`shutdown(Write)`) once everything before it has been written, so
//! protocols that close their sending side first keep working (xinetd's relay drops the
//! connection at the first EOF). The relay ends when both directions are closed, or on an
//! error on either side. Byte counts feed the TRAFFIC log line.

use std::io::{self, Read, Write};
use std::net::Shutdown;

/// Bytes buffered per direction.
pub const BUF: usize = 16 * 1024;

/// One direction of the relay.
struct Pipe {
    buf: Box<[u8; BUF]>,
    start: usize,
    end: usize,
    /// The reading side reached end of input.
    eof: bool,
    /// The end of input was passed on (write side shut down).
    closed: bool,
    moved: u64,
}

impl Pipe {
    fn new() -> Pipe {
        Pipe {
            buf: Box::new([0; BUF]),
            start: 0,
            end: 0,
            eof: false,
            closed: false,
            moved: 0,
        }
    }

    /// Moves what it can from `from` to `to`. `Ok(true)` if anything happened.
    fn pump<R: Read, W: Write>(
        &mut self,
        from: &mut R,
        to: &mut W,
        shut: impl FnOnce(),
    ) -> io::Result<bool> {
        let mut progress = false;
        loop {
            // Write out what is buffered.
            while self.start < self.end {
                match to.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.start += n;
                        self.moved += n as u64;
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(progress),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.start = 0;
            self.end = 0;
            if self.eof {
                if !self.closed {
                    self.closed = true;
                    shut();
                    progress = true;
                }
                return Ok(progress);
            }
            // Buffer empty: read more.
            match from.read(&mut self.buf[..]) {
                Ok(0) => {
                    self.eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.end = n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(progress),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Both directions of one redirected connection.
pub struct Relay {
    up: Pipe,
    down: Pipe,
}

impl Default for Relay {
    fn default() -> Self {
        Relay::new()
    }
}

impl Relay {
    pub fn new() -> Relay {
        Relay {
            up: Pipe::new(),
            down: Pipe::new(),
        }
    }

    /// Moves data both ways until neither side can make progress. Returns `Ok(true)` when the
    /// relay is over (both directions closed), `Err` on a socket error (the caller closes both).
    pub fn drive(
        &mut self,
        client: &socket2::Socket,
        backend: &socket2::Socket,
    ) -> io::Result<bool> {
        loop {
            let a = self.up.pump(&mut &*client, &mut &*backend, || {
                let _ = backend.shutdown(Shutdown::Write);
            })?;
            let b = self.down.pump(&mut &*backend, &mut &*client, || {
                let _ = client.shutdown(Shutdown::Write);
            })?;
            if self.up.closed && self.down.closed {
                return Ok(true);
            }
            if !a && !b {
                return Ok(false);
            }
        }
    }

    /// Bytes from the client to the backend, and back.
    pub fn traffic(&self) -> (u64, u64) {
        (self.up.moved, self.down.moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};

    fn pair() -> (Socket, Socket) {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None).unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn moves_bytes_both_ways_and_passes_half_closes_on() {
        let (client_end, client) = pair();
        let (backend, backend_end) = pair();
        let mut r = Relay::new();
        (&client_end).write_all(b"request").unwrap();
        client_end.shutdown(Shutdown::Write).unwrap();
        assert!(!r.drive(&client, &backend).unwrap());
        let mut got = Vec::new();
        (&backend_end).read_to_end(&mut got).unwrap(); // EOF arrives: the half-close passed on
        assert_eq!(got, b"request");
        (&backend_end).write_all(b"reply").unwrap();
        backend_end.shutdown(Shutdown::Write).unwrap();
        assert!(
            r.drive(&client, &backend).unwrap(),
            "both directions closed"
        );
        let mut got = Vec::new();
        (&client_end).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"reply");
        assert_eq!(r.traffic(), (7, 5));
    }

    #[test]
    fn a_side_that_does_not_read_bounds_what_is_buffered() {
        let (client_end, client) = pair();
        let (backend, _backend_end) = pair(); // never reads
        let mut r = Relay::new();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        for _ in 0..200 {
            if let Ok(n) = (&client_end).write(&chunk) {
                sent += n;
            }
            r.drive(&client, &backend).unwrap();
        }
        let (up, _) = r.traffic();
        // What the relay took from the client is what it passed on plus at most one buffer.
        let buffered = r.up.end - r.up.start;
        assert!(buffered <= BUF);
        assert!(sent as u64 >= up, "{sent} {up}");
        assert!(
            (sent as u64) < 200 * 64 * 1024,
            "the client was not slowed down"
        );
    }
}
