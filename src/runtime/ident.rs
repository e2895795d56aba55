//! RFC 1413 ident queries: who owns the client's end of a connection (USERID logging,
//! `flags = IDONLY`, `user@host` patterns in hosts.allow).
//!
//! A query is a non-blocking TCP connection from the local address of the client's connection
//! to the client's port 113, the line `CLIENT-PORT , LOCAL-PORT\r\n`, and one reply line
//! `CLIENT-PORT , LOCAL-PORT : USERID : OS : USER`. The event loop drives it like any other
//! socket and bounds it with a deadline, so a silent ident server never stalls the daemon.
//! Parsing the reply is pure ([`parse_reply`]).

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::log::NoidReason;

/// Longest reply line accepted (RFC 1413 allows 1000 characters).
const MAX_REPLY: usize = 1024;

/// What a query found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The text after `USERID :` (e.g. `UNIX : alice`), and the user name alone.
    User {
        text: String,
        user: String,
    },
    NoId(NoidReason),
}

pub struct Query {
    pub socket: Socket,
    request: Vec<u8>,
    sent: usize,
    reply: Vec<u8>,
    connected: bool,
}

impl Query {
    /// Starts a query about the connection `local` ← `peer`.
    pub fn start(local: SocketAddr, peer: SocketAddr) -> io::Result<Query> {
        let peer = crate::listen::unmap(peer);
        let local = crate::listen::unmap(local);
        let socket = Socket::new(Domain::for_address(peer), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        if local.is_ipv4() == peer.is_ipv4() {
            socket.bind(&SocketAddr::new(local.ip(), 0).into())?;
        }
        match socket.connect(&SocketAddr::new(peer.ip(), 113).into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let request = format!("{} , {}\r\n", peer.port(), local.port()).into_bytes();
        Ok(Query {
            socket,
            request,
            sent: 0,
            reply: Vec::new(),
            connected: false,
        })
    }

    /// Makes progress; `Some` when the query is over.
    pub fn drive(&mut self) -> Option<Outcome> {
        if !self.connected {
            match self.socket.take_error() {
                Ok(None) if self.socket.peer_addr().is_ok() => self.connected = true,
                Ok(None) => return None,
                Ok(Some(e)) | Err(e) => {
                    let refused = e.raw_os_error() == Some(libc::ECONNREFUSED);
                    return Some(Outcome::NoId(if refused {
                        NoidReason::NoServer
                    } else {
                        NoidReason::SystemError
                    }));
                }
            }
        }
        while self.sent < self.request.len() {
            match (&self.socket).write(&self.request[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Outcome::NoId(NoidReason::SystemError)),
            }
        }
        let mut buf = [0u8; 256];
        loop {
            match (&self.socket).read(&mut buf) {
                Ok(0) => return Some(parse_reply(&self.reply)),
                Ok(n) => {
                    self.reply.extend_from_slice(&buf[..n]);
                    if self.reply.contains(&b'\n') || self.reply.len() >= MAX_REPLY {
                        return Some(parse_reply(&self.reply));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Outcome::NoId(NoidReason::ReceiveError)),
            }
        }
    }
}

/// Reads `PORT , PORT : USERID : OS : USER` (the first line of `reply`).
pub fn parse_reply(reply: &[u8]) -> Outcome {
    let line = reply.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    let mut parts = line.splitn(3, ':');
    let (Some(_ports), Some(kind), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Outcome::NoId(NoidReason::BadResponse);
    };
    if kind.trim() != "USERID" {
        return Outcome::NoId(NoidReason::BadResponse);
    }
    let text = rest.trim().to_string();
    let user = match text.split_once(':') {
        Some((_os, user)) => user.trim().to_string(),
        None => return Outcome::NoId(NoidReason::BadResponse),
    };
    if user.is_empty() {
        return Outcome::NoId(NoidReason::BadResponse);
    }
    Outcome::User { text, user }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_as_rfc_1413_writes_them() {
        assert_eq!(
            parse_reply(b"6193, 23 : USERID : UNIX : alice1\r\n"),
            Outcome::User {
                text: "UNIX : alice1".into(),
                user: "alice1".into()
            }
        );
        assert_eq!(
            parse_reply(b"6195, 23 : ERROR : NO-USER\r\n"),
            Outcome::NoId(NoidReason::BadResponse)
        );
        assert_eq!(
            parse_reply(b"garbage"),
            Outcome::NoId(NoidReason::BadResponse)
        );
        assert_eq!(parse_reply(b""), Outcome::NoId(NoidReason::BadResponse));
        assert_eq!(
            parse_reply(b"1,2:USERID:OTHER,US-ASCII:bob\n"),
            Outcome::User {
                text: "OTHER,US-ASCII:bob".into(),
                user: "bob".into()
            }
        );
    }

    #[test]
    fn a_closed_port_113_is_no_server() {
        // Nothing listens on 127.0.0.1:113 unless a test starts a fake identd; skip then.
        if std::net::TcpStream::connect(("127.0.0.1", 113)).is_ok() {
            return;
        }
        let mut q = Query::start(
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
        )
        .unwrap();
        let mut out = None;
        for _ in 0..200 {
            out = q.drive();
            if out.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(out, Some(Outcome::NoId(NoidReason::NoServer)));
    }
}
