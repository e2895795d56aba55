//! superd-bench: superd's spawn rate, memory, start-up, reload, echo and flood behaviour next to
//! xinetd, openbsd-inetd, inetutils-inetd, busybox inetd, tcpserver, systemd-socket-activate and
//! `ceiling`, a bare accept → fork/exec loop.
//!
//! ```text
//! setup   (tiny.c --gcc--> tiny, tiny-slow; superd, ceiling --cargo--> binaries;
//!          xinetd, openbsd-inetd, inetutils-inetd, tcpserver --apt-get download/dpkg -x-->;
//!          busybox inetd: Debian's source --apt-get source/make--> binary (module busybox);
//!          socket-activate: PATH)
//! daemon  (Services --xinetd.conf / inetd.conf / argv per service--> Running, stopped by pid)
//! load    (short connections, hammer, tight connect loop, bulk echo, UDP ping and burst)
//! procfs  (pid --> VmRSS, Pss, CPU time, threads; listening ports)
//! affinity (pin the bench's thread and a daemon's threads to CPUs, then restore their masks)
//! report  (samples per round --median, ratios--> Markdown)
//! ```
//!
//! std only, so the package builds offline; the few libc calls std lacks are in `sys`.

#![deny(unsafe_code)]

pub mod affinity;
pub mod busybox;
pub mod daemon;
pub mod load;
pub mod procfs;
pub mod report;
pub mod setup;
pub mod stats;
pub mod sys;
