//! Registering RPC services with the local portmapper (rpcbind), version 2 of its protocol.
//!
//! An RPC service listens on a port the kernel chooses; clients find it by asking rpcbind,
//! so superd registers each version of the program (`PMAPPROC_SET`) when the socket opens and
//! unregisters it (`PMAPPROC_UNSET`) when the socket closes or superd exits. One UDP call to
//! 127.0.0.1:111 each, with a short deadline, encoded by hand: the messages are a dozen 32-bit
//! words of XDR (RFC 5531, RFC 1833), not worth a crate. The caller binds a reserved port when
//! it can, since rpcbind only accepts changes from privileged local callers.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

pub const PMAP_PORT: u16 = 111;
const PMAP_PROG: u32 = 100_000;
const PMAP_VERS: u32 = 2;
const PMAPPROC_SET: u32 = 1;
const PMAPPROC_UNSET: u32 = 2;
pub const IPPROTO_TCP: u32 = 6;
pub const IPPROTO_UDP: u32 = 17;
const DEADLINE: Duration = Duration::from_millis(500);

/// The CALL message for `proc(prog, vers, prot, port)`.
pub fn call(xid: u32, proc_: u32, prog: u32, vers: u32, prot: u32, port: u32) -> Vec<u8> {
    let words = [
        xid, 0, // CALL
        2, // RPC version
        PMAP_PROG, PMAP_VERS, proc_, 0, 0, // credentials: AUTH_NULL, empty
        0, 0, // verifier: AUTH_NULL, empty
        prog, vers, prot, port,
    ];
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Reads a REPLY to `xid`: `Ok(true)` when rpcbind answered SUCCESS with TRUE.
pub fn parse_reply(xid: u32, reply: &[u8]) -> io::Result<bool> {
    let word = |i: usize| -> io::Result<u32> {
        reply
            .get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short reply from rpcbind"))
    };
    if word(0)? != xid || word(1)? != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a reply to our call",
        ));
    }
    if word(2)? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "rpcbind denied the call",
        ));
    }
    // verifier: flavor, length, body (padded to 4)
    let vlen = word(4)? as usize;
    let at = 5 + vlen.div_ceil(4);
    if word(at)? != 0 {
        return Err(io::Error::other("rpcbind did not accept the call"));
    }
    Ok(word(at + 1)? != 0)
}

/// One call to the local rpcbind.
fn rpc(proc_: u32, prog: u32, vers: u32, prot: u32, port: u16) -> io::Result<bool> {
    let sock = bind_reserved().or_else(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))?;
    sock.set_read_timeout(Some(DEADLINE))?;
    let xid = std::process::id() ^ (prog.rotate_left(8)) ^ vers ^ (u32::from(port) << 16);
    let msg = call(xid, proc_, prog, vers, prot, u32::from(port));
    // Connected, so that the kernel's "port unreachable" (nothing listens on port 111) ends the
    // call at once as ECONNREFUSED instead of the whole deadline passing.
    sock.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, PMAP_PORT)))?;
    sock.send(&msg).map_err(not_running)?;
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "no answer from rpcbind")
        }
        _ => not_running(e),
    })?;
    parse_reply(xid, &buf[..n])
}

/// "Connection refused" on the portmapper's port means that rpcbind is not running: say so.
fn not_running(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "rpcbind is not running (nothing listens on the port)",
        )
    } else {
        e
    }
}

/// A UDP socket on a privileged port of 127.0.0.1 (root only).
fn bind_reserved() -> io::Result<UdpSocket> {
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for port in (600..1024).rev() {
        match UdpSocket::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Registers `prog` version `vers` on `port`.
pub fn set(prog: u32, vers: u32, prot: u32, port: u16) -> io::Result<()> {
    match rpc(PMAPPROC_SET, prog, vers, prot, port)? {
        true => Ok(()),
        false => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "rpcbind refused the registration (already registered?)",
        )),
    }
}

/// Removes every registration of `prog` version `vers`.
pub fn unset(prog: u32, vers: u32) -> io::Result<()> {
    rpc(PMAPPROC_UNSET, prog, vers, 0, 0).map(|_| ())
}

/// `/etc/rpc`: `name number [aliases...]`.
pub fn program_number(rpc_file_text: &str, name: &str) -> Option<u32> {
    rpc_file_text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (first, number) = (words.next()?, words.next()?);
        let names = std::iter::once(first).chain(words);
        names
            .into_iter()
            .any(|n| n == name)
            .then(|| number.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_and_reply_wire_format() {
        let c = call(7, PMAPPROC_SET, 400_000, 1, IPPROTO_TCP, 2049);
        assert_eq!(c.len(), 14 * 4);
        assert_eq!(&c[..8], &[0, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(&c[40..44], &400_000u32.to_be_bytes());
        // xid, REPLY, MSG_ACCEPTED, verifier AUTH_NULL len 0, SUCCESS, TRUE
        let reply: Vec<u8> = [7u32, 1, 0, 0, 0, 0, 1]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert!(parse_reply(7, &reply).unwrap());
        assert!(parse_reply(8, &reply).is_err());
        assert!(parse_reply(7, &reply[..8]).is_err());
    }

    #[test]
    fn etc_rpc_names_and_aliases() {
        let text = "# comment\nportmapper 100000 portmap sunrpc rpcbind\nnfs 100003 nfsprog\n";
        assert_eq!(program_number(text, "nfs"), Some(100_003));
        assert_eq!(program_number(text, "rpcbind"), Some(100_000));
        assert_eq!(program_number(text, "nope"), None);
    }
}
