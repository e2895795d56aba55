//! `ceiling`: the least a super-server can do per connection, as a yardstick for superd.
//!
//! Listens on 127.0.0.1 at every port of `--ports A-B`, poll(2)s them, and for each accepted
//! connection forks; the child dup2s the socket onto 0/1/2 and execs `--server`. The parent
//! closes its copy and reaps with waitpid(WNOHANG). No config, no logging, no access control,
//! no limits: whatever superd costs above this is the price of its features.
//!
//! Usage: ceiling --server PATH --ports A-B   (runs until killed)

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;

use superd_bench::sys::{self, ExecPlan, PollFd};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let (server, first, last) = parse(std::env::args().skip(1))?;
    let plan = ExecPlan::new(&server).map_err(|e| e.to_string())?;
    let listeners: Vec<TcpListener> = (first..=last)
        .map(|p| TcpListener::bind(("127.0.0.1", p)).map_err(|e| format!("bind port {p}: {e}")))
        .collect::<Result<_, _>>()?;
    for l in &listeners {
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    let mut fds: Vec<PollFd> = listeners
        .iter()
        .map(|l| PollFd {
            fd: l.as_raw_fd(),
            events: sys::POLLIN,
            revents: 0,
        })
        .collect();

    loop {
        match sys::poll_fds(&mut fds, -1) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for (pfd, listener) in fds.iter_mut().zip(&listeners) {
            if pfd.revents == 0 {
                continue;
            }
            pfd.revents = 0;
            // On Linux accept4 does not pass the listener's O_NONBLOCK on: the accepted socket
            // is blocking, and close-on-exec (std's default), so only the dup2 copies survive.
            while let Ok((conn, _)) = listener.accept() {
                if let Err(e) = sys::spawn_on_socket(conn.as_raw_fd(), &plan) {
                    eprintln!("ceiling: fork: {e}");
                }
                // `conn` drops here: the parent's copy is closed.
            }
        }
        while sys::reap_any_nohang().is_some() {}
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, u16, u16), String> {
    let usage = "usage: ceiling --server PATH --ports FIRST-LAST";
    let (mut server, mut ports) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => server = args.next().map(PathBuf::from),
            "--ports" => ports = args.next(),
            _ => return Err(format!("unknown argument {a:?}; {usage}")),
        }
    }
    let server = server.ok_or(usage)?;
    let ports = ports.ok_or(usage)?;
    let (a, b) = ports.split_once('-').unwrap_or((&ports, &ports));
    let first: u16 = a.parse().map_err(|_| format!("bad port {a:?}"))?;
    let last: u16 = b.parse().map_err(|_| format!("bad port {b:?}"))?;
    if first == 0 || last < first {
        return Err(format!("bad port range {ports:?}"));
    }
    Ok((server, first, last))
}
