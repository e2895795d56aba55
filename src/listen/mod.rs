//! Sockets: open a service's listening or bound socket, accept, receive and send datagrams.
//!
//! Input: a [`ListenSpec`] (address, socket type, options) from the service table. Output: a
//! close-on-exec `socket2::Socket`. Invariants: every descriptor superd creates is close-on-exec;
//! sockets a server will own (`wait = yes`, accepted connections) are blocking, the ones only the
//! daemon reads are non-blocking. The only `unsafe` is the `IPV6_ADDRFORM` option, which has no
//! safe wrapper.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::model::SocketType;

/// How to open one service's socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListenSpec {
    pub addr: SocketAddr,
    pub socket_type: SocketType,
    /// For IPv6 addresses: accept IPv6 only (no v4-mapped clients).
    pub v6only: bool,
    pub nodelay: bool,
    pub keepalive: bool,
    /// The daemon only reads this socket itself (`wait = no` stream, internal dgram): make it
    /// non-blocking. A socket handed to a server (`wait = yes`) stays blocking.
    pub nonblocking: bool,
}

/// Listen backlog: deeper than xinetd's 64, so bursts wait in the kernel instead of being reset.
pub const BACKLOG: i32 = 1024;

pub fn open(spec: &ListenSpec) -> io::Result<Socket> {
    let domain = Domain::for_address(spec.addr);
    let (ty, proto) = match spec.socket_type {
        SocketType::Stream => (Type::STREAM, Some(Protocol::TCP)),
        SocketType::Dgram => (Type::DGRAM, Some(Protocol::UDP)),
        SocketType::Seqpacket => (Type::SEQPACKET, None),
        SocketType::Raw => (Type::RAW, None),
    };
    let sock = raise(Socket::new(domain, ty, proto)?); // socket2 sets SOCK_CLOEXEC
    sock.set_reuse_address(true)?;
    if spec.addr.is_ipv6() {
        sock.set_only_v6(spec.v6only)?;
    }
    if spec.socket_type == SocketType::Stream {
        if spec.nodelay {
            sock.set_tcp_nodelay(true)?;
        }
        if spec.keepalive {
            sock.set_keepalive(true)?;
        }
    }
    sock.bind(&spec.addr.into())?;
    if matches!(spec.socket_type, SocketType::Stream | SocketType::Seqpacket) {
        sock.listen(BACKLOG)?;
    }
    sock.set_nonblocking(spec.nonblocking)?;
    if spec.socket_type == SocketType::Dgram && spec.nonblocking {
        // An internal datagram service: superd answers every queued datagram, so let a burst
        // queue instead of being dropped by the kernel (the default holds ~200 small ones).
        grow_receive_buffer(&sock, DGRAM_RCVBUF);
    }
    Ok(sock)
}

/// Listening sockets live at or above this descriptor number, so that connections get the
/// numbers below it and a child can take a copy of just the low descriptors (see
/// `spawn::spawn_owned`).
pub const LISTEN_FD_MIN: RawFd = crate::spawn::SHARED_TABLE_LIMIT;

/// `sock` moved to a descriptor at or above `LISTEN_FD_MIN` (close-on-exec); unchanged if that
/// fails (descriptor limit).
fn raise(sock: Socket) -> Socket {
    if sock.as_raw_fd() >= LISTEN_FD_MIN {
        return sock;
    }
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor; the new one is owned by the Socket below.
    let fd = unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_DUPFD_CLOEXEC, LISTEN_FD_MIN) };
    if fd < 0 {
        return sock;
    }
    // SAFETY: `fd` is a fresh descriptor no one else owns.
    unsafe { Socket::from_raw_fd(fd) }
}

/// Receive buffer of the datagram sockets superd serves itself: a limit on what the kernel may
/// queue (memory is used only by queued datagrams), about 3,000 small datagrams.
pub const DGRAM_RCVBUF: usize = 4 << 20;

/// Raises a socket's receive buffer to `bytes`: past `net.core.rmem_max` when superd is root
/// (`SO_RCVBUFFORCE`), else as far as that limit allows.
fn grow_receive_buffer(sock: &Socket, bytes: usize) {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: plain setsockopt on a valid fd with a correctly sized int option.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        let _ = sock.set_recv_buffer_size(bytes);
    }
}

/// Accepts one connection. `Ok(None)` when none is pending. The new socket is blocking and
/// close-on-exec (accept4 with SOCK_CLOEXEC); an IPv4 client on a dual-stack socket is turned
/// into a plain AF_INET socket (`IPV6_ADDRFORM`) so the server sees an IPv4 peer, as under xinetd.
pub fn accept(listener: &Socket) -> io::Result<Option<(Socket, SocketAddr)>> {
    loop {
        match listener.accept() {
            Ok((sock, addr)) => {
                let peer = addr
                    .as_socket()
                    .map(unmap)
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                if peer.is_ipv4() && addr.is_ipv6() {
                    let _ = to_ipv4_form(&sock);
                }
                return Ok(Some((sock, peer)));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The client went away between the SYN and accept: not our problem.
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

fn to_ipv4_form(sock: &Socket) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Set once the kernel said it has no `IPV6_ADDRFORM` (newer kernels dropped it): no
    /// further attempts, one system call saved per connection.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return false;
    }
    let family: libc::c_int = libc::AF_INET;
    // SAFETY: plain setsockopt on a valid fd with a correctly sized int option.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_ADDRFORM,
            (&family as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        return true;
    }
    // EBUSY when the client already half-closed; ENOPROTOOPT on kernels without the option.
    // Either way the server sees the mapped IPv6 form, which still names the right peer.
    if io::Error::last_os_error().raw_os_error() == Some(libc::ENOPROTOOPT) {
        UNSUPPORTED.store(true, Ordering::Relaxed);
    }
    false
}

/// Whether this kernel turns accepted dual-stack sockets into IPv4 ones (`IPV6_ADDRFORM`);
/// tests use it to know what a server's `getpeername()` returns.
pub fn ipv4_form_supported() -> bool {
    let probe = || -> io::Result<bool> {
        let l = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        l.set_only_v6(false)?;
        l.bind(&SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)).into())?;
        l.listen(1)?;
        let port = l.local_addr()?.as_socket().map_or(0, |a| a.port());
        let c = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        c.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
        let (s, _) = l.accept()?;
        Ok(to_ipv4_form(&s))
    };
    probe().unwrap_or(false)
}

/// Who sent the next queued datagram, without consuming it (`wait = yes` dgram services).
pub fn peek_peer(sock: &Socket) -> io::Result<Option<SocketAddr>> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1];
    match sock.recv_from_with_flags(&mut buf, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
        Ok((_, addr)) => Ok(addr.as_socket().map(unmap)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Receives one datagram without blocking. `Ok(None)` when the queue is empty.
pub fn recv_dgram(sock: &Socket, buf: &mut [u8]) -> io::Result<Option<(usize, SockAddr)>> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout; recv only writes into it.
    let uninit: &mut [MaybeUninit<u8>] =
        unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    loop {
        match sock.recv_from_with_flags(uninit, libc::MSG_DONTWAIT) {
            Ok((n, addr)) => return Ok(Some((n, addr))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends one datagram without blocking; a full socket buffer drops it (UDP semantics).
pub fn send_dgram(sock: &Socket, data: &[u8], to: &SockAddr) -> io::Result<()> {
    match sock.send_to_with_flags(data, to, libc::MSG_DONTWAIT) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

/// A TCP connection to `to` started without blocking (`redirect`): the socket becomes writable
/// when the connect completes; its `SO_ERROR` tells whether it worked.
pub fn connect_nonblocking(to: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    match sock.connect(&to.into()) {
        Ok(()) => Ok(sock),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(sock),
        Err(e) => Err(e),
    }
}

/// Looks at what a stream client has sent without consuming it (non-blocking).
pub fn peek_stream(sock: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout; recv only writes into it.
    let uninit: &mut [MaybeUninit<u8>] =
        unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    sock.recv_with_flags(uninit, libc::MSG_PEEK | libc::MSG_DONTWAIT)
}

/// Writes a banner to a new connection without blocking: a client whose receive window is
/// full gets what fits (banners are at most 64 KiB, far below a socket buffer).
pub fn send_banner(conn: &Socket, data: &[u8]) {
    let _ = conn.send_with_flags(data, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
}

extern "C" {
    /// glibc's netgroup test (not in the `libc` crate).
    fn innetgr(
        netgroup: *const libc::c_char,
        host: *const libc::c_char,
        user: *const libc::c_char,
        domain: *const libc::c_char,
    ) -> libc::c_int;
}

/// Whether `host` is a member of the netgroup `group`, through the system's NSS (`netgroup:`
/// in nsswitch.conf: files, NIS, LDAP...). Like any NSS call it can block when the source is
/// remote.
pub fn in_netgroup(group: &str, host: &str) -> bool {
    let (Ok(g), Ok(h)) = (std::ffi::CString::new(group), std::ffi::CString::new(host)) else {
        return false;
    };
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call;
    // null user and domain mean "any", as innetgr(3) documents.
    unsafe { innetgr(g.as_ptr(), h.as_ptr(), std::ptr::null(), std::ptr::null()) == 1 }
}

/// The host name of `ip` from the system's resolver (`getnameinfo` with `NI_NAMEREQD`: files,
/// DNS, whatever nsswitch.conf says), or `None` when it has none. Blocks: call it off the event
/// loop (see `runtime::lookup`).
pub fn reverse_name(ip: IpAddr) -> Option<String> {
    let addr: SockAddr = SocketAddr::new(ip, 0).into();
    let mut host = [0 as libc::c_char; 1025]; // NI_MAXHOST
                                              // SAFETY: `addr` is a valid socket address of the given length; `host` is a writable
                                              // buffer of the given length; no service buffer is requested.
    let r = unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates `host` on success.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpStream, UdpSocket};

    fn spec(addr: &str, ty: SocketType) -> ListenSpec {
        ListenSpec {
            addr: addr.parse().unwrap(),
            socket_type: ty,
            v6only: false,
            nodelay: false,
            keepalive: false,
            nonblocking: true,
        }
    }

    #[test]
    fn dual_stack_listener_reports_ipv4_clients_as_ipv4() {
        let l = match open(&spec("[::]:0", SocketType::Stream)) {
            Ok(l) => l,
            Err(_) => return, // no IPv6 on this machine
        };
        let port = l.local_addr().unwrap().as_socket().unwrap().port();
        assert!(accept(&l).unwrap().is_none());
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, peer) = loop {
            if let Some(x) = accept(&l).unwrap() {
                break x;
            }
        };
        assert_eq!(peer.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        // The server side now sees an AF_INET peer, where the kernel can convert the socket.
        let seen = s.peer_addr().unwrap();
        if ipv4_form_supported() {
            assert!(seen.as_socket_ipv4().is_some(), "{seen:?}");
        } else {
            eprintln!("this kernel has no IPV6_ADDRFORM: the server sees the mapped address");
            let ip = seen.as_socket().unwrap().ip();
            assert_eq!(ip, "::ffff:127.0.0.1".parse::<IpAddr>().unwrap());
        }
        assert!(!s.nonblocking().unwrap(), "accepted sockets are blocking");
        let mut s: std::net::TcpStream = s.into();
        s.write_all(b"hi").unwrap();
        let mut b = [0; 2];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hi");
    }

    #[test]
    fn dgram_peek_does_not_consume() {
        let s = open(&spec("127.0.0.1:0", SocketType::Dgram)).unwrap();
        let addr = s.local_addr().unwrap().as_socket().unwrap();
        assert!(peek_peer(&s).unwrap().is_none());
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(b"ping", addr).unwrap();
        let mut peer = None;
        for _ in 0..1000 {
            peer = peek_peer(&s).unwrap();
            if peer.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(peer, Some(c.local_addr().unwrap()));
        let mut buf = [0u8; 16];
        let (n, from) = recv_dgram(&s, &mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"ping");
        send_dgram(&s, b"pong", &from).unwrap();
        let mut b = [0u8; 4];
        c.recv(&mut b).unwrap();
        assert_eq!(&b, b"pong");
    }

    #[test]
    fn unmap_turns_mapped_addresses_into_ipv4() {
        let a: SocketAddr = "[::ffff:127.0.0.2]:5".parse().unwrap();
        assert_eq!(unmap(a), "127.0.0.2:5".parse().unwrap());
        let b: SocketAddr = "[::1]:5".parse().unwrap();
        assert_eq!(unmap(b), b);
    }
}
