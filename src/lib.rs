//! superd: a super-server, the successor of inetd and xinetd.
//!
//! Data flows one way through the modules below:
//!
//! ```text
//! argv   --cli::parse-->     Opts
//! files  --config::load-->   Config        what the user wrote: typed, with spans, pure
//! Config --table::build-->   ServiceTable  what it means here: users, ports, paths resolved
//! table  --listen-->         bound sockets (kept across reloads when unchanged)
//! accept --> spawn (fork/exec) | internal (in-daemon handler)
//! exit   --> reap --> log line, counters, re-arm wait=yes
//! ```
//!
//! `runtime` owns the event loop and the only mutable state; everything else is either a pure
//! function or a thin wrapper around one kind of system call.
#![deny(unsafe_code)]

pub mod access;
pub mod cli;
pub mod clock;
pub mod config;
pub mod convert;
pub mod internal;
pub mod limits;
pub mod listen;
pub mod log;
pub mod runtime;
pub mod spawn;
pub mod suggest;
pub mod table;
