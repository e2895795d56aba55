//! superd-bench: how fast superd spawns servers and how much memory it holds idle, next to
//! xinetd and next to `ceiling`, a bare accept → fork/exec loop.
//!
//! ```text
//! setup   (tiny.c --gcc--> tiny; superd, ceiling --cargo--> binaries; xinetd --apt/dpkg-->)
//! daemon  (generated xinetd.conf on loopback ports --start--> Running, stopped by pid)
//! load    (N connections at concurrency C --run--> latencies, conn/s)
//! procfs  (pid --> VmRSS, Pss, CPU ticks; listening ports)
//! report  (samples per round --median, ratios--> Markdown)
//! ```
//!
//! std only, so the package builds offline; the few libc calls std lacks are in `sys`.

#![deny(unsafe_code)]

pub mod daemon;
pub mod load;
pub mod procfs;
pub mod report;
pub mod setup;
pub mod stats;
pub mod sys;
