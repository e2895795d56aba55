//! Service events and their text in xinetd.log(5) form.
//!
//! Input: an [`Event`] (what happened to which service) plus the service's `log_on_success` and
//! `log_on_failure` flags. Output: the entry text without a time stamp, byte for byte what
//! xinetd 2.3.15.3 writes (`log.c`), or nothing when xinetd would not log the event.
//!
//! Which events are logged (xinetd's `sconf.h` macros, checked against the binary):
//!
//! | event   | logged when                                             | optional fields          |
//! |---------|---------------------------------------------------------|--------------------------|
//! | START   | `log_on_success` has any flag                           | ` pid=` iff PID, ` from=` iff HOST |
//! | EXIT    | `log_on_success` has EXIT or DURATION                   | ` status=`/` signal=` iff EXIT, ` pid=` iff PID, ` duration=` iff DURATION |
//! | FAIL    | `log_on_failure` has any flag (ATTEMPT alone is enough) | ` from=` iff HOST        |
//! | USERID  | USERID is in `log_on_success` or `log_on_failure`       | -                        |
//! | NOID    | USERID is in `log_on_success` or `log_on_failure`       | -                        |
//! | TRAFFIC | `log_on_success` has TRAFFIC                            | -                        |
//!
//! The caller still decides *whether the event happened at all*: in-daemon (non-forking)
//! services pass pid 0 and never produce EXIT; USERID/NOID exist only after an ident query.
//!
//! Addresses print as the bare IP. One deliberate difference from xinetd: an IPv4-mapped IPv6
//! peer (`::ffff:a.b.c.d`, what a dual-stack socket reports) prints as `a.b.c.d`, so the same
//! client looks the same whatever the listening socket. No address prints `<no address>`.
//!
//! Text that comes from the network (the ident reply) has its control characters replaced by
//! `?`, so a remote host cannot forge extra log lines.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use crate::config::model::{FailureFlags, SuccessFlags};

/// How a server process ended (from `waitpid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// Exited normally with this status: ` status=<n>`.
    Status(i32),
    /// Killed by this signal: ` signal=<n>`.
    Signal(i32),
}

/// Why a connection was refused or a server could not be started: the word after the id in a
/// FAIL line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// `only_from` / `no_access` (or a SENSOR-denied address) refused the peer.
    Address,
    /// Outside `access_times`.
    Time,
    /// fork() failed too many times in a row.
    Fork,
    /// `instances` reached.
    ServiceLimit,
    /// `per_source` reached.
    PerSourceLimit,
    /// The global process limit (`-limit`) reached.
    ProcessLimit,
    /// hosts.allow / hosts.deny refused the peer.
    Libwrap,
    /// `max_load` exceeded.
    Load,
    /// `cps` tripped: the service is paused.
    Cps,
    /// superd only: the server program could not be executed (execve failed in the child).
    /// Text `exec`. xinetd logs this only as a daemon message plus `EXIT status=0`.
    Exec,
    /// superd only: the child could not take on the service's identity or limits (setgroups,
    /// setgid, setuid, rlimits, nice) before exec. Text `setup`.
    Setup,
}

impl FailReason {
    /// The exact token xinetd writes (`ACCESS_EXPLAIN`), or superd's own for its reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Address => "address",
            FailReason::Time => "time",
            FailReason::Fork => "fork",
            FailReason::ServiceLimit => "service_limit",
            FailReason::PerSourceLimit => "per_source_limit",
            FailReason::ProcessLimit => "process_limit",
            FailReason::Libwrap => "libwrap",
            FailReason::Load => "load",
            FailReason::Cps => "connections per second",
            FailReason::Exec => "exec",
            FailReason::Setup => "setup",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an ident (RFC 1413) query gave no user name: the last words of a NOID line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoidReason {
    /// Nothing listens on the peer's port 113.
    NoServer,
    /// The ident server did not answer in time.
    Timeout,
    /// A local error (socket, connect) prevented the query.
    SystemError,
    /// Reading the reply failed.
    ReceiveError,
    /// The reply was not `rport , lport : USERID : ...`.
    BadResponse,
}

impl NoidReason {
    /// The exact text xinetd writes (`ident.c`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoidReason::NoServer => "no server",
            NoidReason::Timeout => "timeout",
            NoidReason::SystemError => "system error",
            NoidReason::ReceiveError => "error while receiving response",
            NoidReason::BadResponse => "bad response",
        }
    }
}

impl fmt::Display for NoidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened to a service, worth a line in its log.
///
/// `id` is the service's `id` attribute (not its name), as in xinetd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A server was started for a connection (or datagram). `pid` is 0 for in-daemon services.
    Start {
        id: &'a str,
        pid: u32,
        from: Option<SocketAddr>,
    },
    /// A forked server was reaped. `duration` is whole seconds since it started.
    Exit {
        id: &'a str,
        how: Termination,
        pid: u32,
        duration: u64,
    },
    /// A connection was refused or no server could be started for it.
    Fail {
        id: &'a str,
        reason: FailReason,
        from: Option<SocketAddr>,
    },
    /// The ident server's answer: the text after `USERID :` (e.g. `UNIX : alice1`).
    Userid { id: &'a str, text: &'a str },
    /// The ident query gave no user name.
    Noid {
        id: &'a str,
        addr: Option<SocketAddr>,
        reason: NoidReason,
    },
    /// A `redirect` connection ended after copying these many bytes each way.
    Traffic {
        id: &'a str,
        bytes_in: u64,
        bytes_out: u64,
    },
}

impl Event<'_> {
    /// The service id the event belongs to.
    pub fn id(&self) -> &str {
        match *self {
            Event::Start { id, .. }
            | Event::Exit { id, .. }
            | Event::Fail { id, .. }
            | Event::Userid { id, .. }
            | Event::Noid { id, .. }
            | Event::Traffic { id, .. } => id,
        }
    }

    /// Whether xinetd would log this event at all with these flags (see the module header).
    pub fn is_logged(&self, success: &SuccessFlags, failure: &FailureFlags) -> bool {
        match self {
            Event::Start { .. } => any_success(success),
            Event::Exit { .. } => success.exit || success.duration,
            Event::Fail { .. } => failure.host || failure.userid || failure.attempt,
            Event::Userid { .. } | Event::Noid { .. } => success.userid || failure.userid,
            Event::Traffic { .. } => success.traffic,
        }
    }

    /// The entry text (no stamp, no newline), or `None` when the flags say not to log it.
    pub fn entry(&self, success: &SuccessFlags, failure: &FailureFlags) -> Option<String> {
        if !self.is_logged(success, failure) {
            return None;
        }
        let mut out = String::with_capacity(64);
        // Writing into a String cannot fail.
        let _ = self.write_entry(&mut out, success, failure);
        Some(out)
    }

    /// Write the entry text with these flags, without checking [`Event::is_logged`].
    pub fn write_entry(
        &self,
        out: &mut String,
        success: &SuccessFlags,
        failure: &FailureFlags,
    ) -> fmt::Result {
        match *self {
            Event::Start { id, pid, from } => {
                write!(out, "START: {id}")?;
                if success.pid {
                    write!(out, " pid={pid}")?;
                }
                if success.host {
                    write!(out, " from={}", Addr(from))?;
                }
            }
            Event::Exit {
                id,
                how,
                pid,
                duration,
            } => {
                write!(out, "EXIT: {id}")?;
                if success.exit {
                    match how {
                        Termination::Status(n) => write!(out, " status={n}")?,
                        Termination::Signal(n) => write!(out, " signal={n}")?,
                    }
                }
                if success.pid {
                    write!(out, " pid={pid}")?;
                }
                if success.duration {
                    write!(out, " duration={duration}(sec)")?;
                }
            }
            Event::Fail { id, reason, from } => {
                write!(out, "FAIL: {id} {reason}")?;
                if failure.host {
                    write!(out, " from={}", Addr(from))?;
                }
            }
            Event::Userid { id, text } => {
                write!(out, "USERID: {id} ")?;
                out.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
            }
            Event::Noid { id, addr, reason } => {
                write!(out, "NOID: {id} {} {reason}", Addr(addr))?;
            }
            Event::Traffic {
                id,
                bytes_in,
                bytes_out,
            } => {
                write!(
                    out,
                    "TRAFFIC: {id} in={bytes_in}(bytes) out={bytes_out}(bytes)"
                )?;
            }
        }
        Ok(())
    }
}

fn any_success(s: &SuccessFlags) -> bool {
    s.pid || s.host || s.userid || s.exit || s.duration || s.traffic
}

/// A peer address as the logs show it: the IP alone, IPv4-mapped IPv6 unmapped, or
/// `<no address>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr(pub Option<SocketAddr>);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.map(|a| a.ip()) {
            None => f.write_str("<no address>"),
            Some(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => write!(f, "{v4}"),
                None => write!(f, "{ip}"),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The flags of the xinetd.md §1.12 capture: `PID HOST DURATION EXIT` / `HOST ATTEMPT`.
    pub(crate) fn full() -> (SuccessFlags, FailureFlags) {
        (
            SuccessFlags {
                pid: true,
                host: true,
                duration: true,
                exit: true,
                ..Default::default()
            },
            FailureFlags {
                host: true,
                attempt: true,
                ..Default::default()
            },
        )
    }

    fn v4(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4242))
    }

    /// The entry under the capture's flags, plus USERID so ident lines show too (USERID adds
    /// no field to any other line).
    fn text(e: Event<'_>) -> String {
        let (mut s, f) = full();
        s.userid = true;
        e.entry(&s, &f).unwrap()
    }

    #[test]
    fn start_lines_match_xinetd_capture() {
        let lo = v4("127.0.0.1");
        assert_eq!(
            text(Event::Start {
                id: "echo-stream",
                pid: 13862,
                from: lo
            }),
            "START: echo-stream pid=13862 from=127.0.0.1"
        );
        assert_eq!(
            text(Event::Start {
                id: "daytime-stream",
                pid: 0,
                from: lo
            }),
            "START: daytime-stream pid=0 from=127.0.0.1"
        );
        assert_eq!(
            text(Event::Start {
                id: "tw",
                pid: 18263,
                from: None
            }),
            "START: tw pid=18263 from=<no address>"
        );
    }

    #[test]
    fn exit_lines_match_xinetd_capture() {
        assert_eq!(
            text(Event::Exit {
                id: "echo-stream",
                how: Termination::Status(0),
                pid: 13862,
                duration: 1
            }),
            "EXIT: echo-stream status=0 pid=13862 duration=1(sec)"
        );
        assert_eq!(
            text(Event::Exit {
                id: "sig",
                how: Termination::Signal(15),
                pid: 18926,
                duration: 0
            }),
            "EXIT: sig signal=15 pid=18926 duration=0(sec)"
        );
    }

    #[test]
    fn fail_lines_match_xinetd_capture() {
        let lo = v4("127.0.0.1");
        let cases = [
            (
                "denied",
                FailReason::Address,
                "FAIL: denied address from=127.0.0.1",
            ),
            (
                "inst",
                FailReason::ServiceLimit,
                "FAIL: inst service_limit from=127.0.0.1",
            ),
            (
                "persrc",
                FailReason::PerSourceLimit,
                "FAIL: persrc per_source_limit from=127.0.0.1",
            ),
            (
                "cps",
                FailReason::Cps,
                "FAIL: cps connections per second from=127.0.0.1",
            ),
            ("load", FailReason::Load, "FAIL: load load from=127.0.0.1"),
            ("times", FailReason::Time, "FAIL: times time from=127.0.0.1"),
            ("lw", FailReason::Libwrap, "FAIL: lw libwrap from=127.0.0.1"),
            (
                "ext",
                FailReason::ProcessLimit,
                "FAIL: ext process_limit from=127.0.0.1",
            ),
            ("f", FailReason::Fork, "FAIL: f fork from=127.0.0.1"),
            ("x", FailReason::Exec, "FAIL: x exec from=127.0.0.1"),
            ("x", FailReason::Setup, "FAIL: x setup from=127.0.0.1"),
        ];
        for (id, reason, want) in cases {
            assert_eq!(
                text(Event::Fail {
                    id,
                    reason,
                    from: lo
                }),
                want
            );
        }
    }

    #[test]
    fn userid_noid_traffic_match_xinetd_capture() {
        assert_eq!(
            text(Event::Userid {
                id: "uid",
                text: "UNIX : alice1"
            }),
            "USERID: uid UNIX : alice1"
        );
        let flags = (
            SuccessFlags {
                userid: true,
                ..Default::default()
            },
            FailureFlags::default(),
        );
        let noid = Event::Noid {
            id: "idonly",
            addr: v4("127.0.0.1"),
            reason: NoidReason::NoServer,
        };
        assert_eq!(
            noid.entry(&flags.0, &flags.1).unwrap(),
            "NOID: idonly 127.0.0.1 no server"
        );
        let traffic = Event::Traffic {
            id: "redir",
            bytes_in: 17,
            bytes_out: 17,
        };
        let flags = SuccessFlags {
            traffic: true,
            ..Default::default()
        };
        assert_eq!(
            traffic.entry(&flags, &FailureFlags::default()).unwrap(),
            "TRAFFIC: redir in=17(bytes) out=17(bytes)"
        );
    }

    #[test]
    fn noid_reasons_are_xinetd_words() {
        let words: Vec<_> = [
            NoidReason::NoServer,
            NoidReason::Timeout,
            NoidReason::SystemError,
            NoidReason::ReceiveError,
            NoidReason::BadResponse,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(
            words,
            [
                "no server",
                "timeout",
                "system error",
                "error while receiving response",
                "bad response"
            ]
        );
    }

    #[test]
    fn optional_fields_follow_their_flags() {
        let start = Event::Start {
            id: "s",
            pid: 7,
            from: v4("10.1.2.3"),
        };
        let none = FailureFlags::default();
        let pid_only = SuccessFlags {
            pid: true,
            ..Default::default()
        };
        let host_only = SuccessFlags {
            host: true,
            ..Default::default()
        };
        let exit_only = SuccessFlags {
            exit: true,
            ..Default::default()
        };
        assert_eq!(start.entry(&pid_only, &none).unwrap(), "START: s pid=7");
        assert_eq!(
            start.entry(&host_only, &none).unwrap(),
            "START: s from=10.1.2.3"
        );
        // Any success flag enables START, even one that adds no field to it.
        assert_eq!(start.entry(&exit_only, &none).unwrap(), "START: s");

        let exit = Event::Exit {
            id: "s",
            how: Termination::Status(3),
            pid: 7,
            duration: 12,
        };
        let dur_only = SuccessFlags {
            duration: true,
            ..Default::default()
        };
        assert_eq!(exit.entry(&exit_only, &none).unwrap(), "EXIT: s status=3");
        assert_eq!(
            exit.entry(&dur_only, &none).unwrap(),
            "EXIT: s duration=12(sec)"
        );

        let fail = Event::Fail {
            id: "s",
            reason: FailReason::Address,
            from: v4("10.1.2.3"),
        };
        let attempt = FailureFlags {
            attempt: true,
            ..Default::default()
        };
        assert_eq!(
            fail.entry(&SuccessFlags::default(), &attempt).unwrap(),
            "FAIL: s address"
        );
    }

    #[test]
    fn events_are_logged_only_when_xinetd_would() {
        let nothing = (SuccessFlags::default(), FailureFlags::default());
        let lo = v4("127.0.0.1");
        let all = [
            Event::Start {
                id: "s",
                pid: 1,
                from: lo,
            },
            Event::Exit {
                id: "s",
                how: Termination::Status(0),
                pid: 1,
                duration: 0,
            },
            Event::Fail {
                id: "s",
                reason: FailReason::Time,
                from: lo,
            },
            Event::Userid { id: "s", text: "x" },
            Event::Noid {
                id: "s",
                addr: lo,
                reason: NoidReason::Timeout,
            },
            Event::Traffic {
                id: "s",
                bytes_in: 0,
                bytes_out: 0,
            },
        ];
        for e in &all {
            assert!(!e.is_logged(&nothing.0, &nothing.1), "{e:?}");
        }
        // PID and HOST alone: START yes, EXIT no.
        let pid_host = SuccessFlags {
            pid: true,
            host: true,
            ..Default::default()
        };
        assert!(all[0].is_logged(&pid_host, &nothing.1));
        assert!(!all[1].is_logged(&pid_host, &nothing.1));
        assert!(!all[5].is_logged(&pid_host, &nothing.1));
        // USERID in log_on_failure enables USERID and NOID lines, and FAIL.
        let fail_userid = FailureFlags {
            userid: true,
            ..Default::default()
        };
        assert!(all[2].is_logged(&nothing.0, &fail_userid));
        assert!(all[3].is_logged(&nothing.0, &fail_userid));
        assert!(all[4].is_logged(&nothing.0, &fail_userid));
        assert!(!all[0].is_logged(&nothing.0, &fail_userid));
    }

    #[test]
    fn mapped_ipv6_prints_as_ipv4_and_plain_ipv6_as_is() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert_eq!(Addr(Some(mapped)).to_string(), "127.0.0.1");
        assert_eq!(Addr(Some(v6)).to_string(), "2001:db8::1");
        assert_eq!(Addr(Some("[::1]:1".parse().unwrap())).to_string(), "::1");
        assert_eq!(Addr(None).to_string(), "<no address>");
        assert_eq!(
            text(Event::Start {
                id: "probe6",
                pid: 16506,
                from: Some(mapped)
            }),
            "START: probe6 pid=16506 from=127.0.0.1"
        );
    }

    #[test]
    fn userid_text_cannot_forge_lines() {
        assert_eq!(
            text(Event::Userid {
                id: "uid",
                text: "UNIX : bob\n26/1/1@00:00:00: START: x\r"
            }),
            "USERID: uid UNIX : bob?26/1/1@00:00:00: START: x?"
        );
    }
}
