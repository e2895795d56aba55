//! Robustness (issue 5, section 3): floods, descriptor exhaustion, fork failure, respawn loops,
//! a reload soak, hostile clients and 1,100 services, each against the real daemon and bounded
//! in time.
//!
//! The figures are scaled down so the suite stays fast on a 2-core CI machine while
//! keeping the property each test proves; every scaled figure says so where it is set. Memory
//! and descriptors are read from /proc before and after; "idle" is measured after a warm-up, so
//! buffers the daemon allocates on first use (and keeps) are part of the baseline.
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;

// ----- helpers --------------------------------------------------------------------------------

/// Resident set size of `pid` in KiB (VmRSS).
fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) of `pid` so far.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    // After the command: state is field 3, utime and stime are fields 14 and 15.
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    let ticks = f.iter().sum::<u64>();
    Duration::from_millis(ticks * 1000 / clock_ticks())
}

fn clock_ticks() -> u64 {
    static TCK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        let (_, out, _) = run_bounded(
            std::process::Command::new("getconf").arg("CLK_TCK"),
            Duration::from_secs(5),
        );
        out.trim().parse().unwrap_or(100)
    })
}

fn internal(name: &str, id: &str, st: &str, port: u16) -> String {
    let wait = if st == "dgram" { "yes" } else { "no" };
    format!(
        "service {name}\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {st}\n\twait = {wait}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n"
    )
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One daytime exchange with short timeouts; true if a well-formed line came back.
fn daytime_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr(port), Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut out = Vec::new();
    s.read_to_end(&mut out).is_ok() && out.len() > 10 && out.ends_with(b"\r\n")
}

/// One echo round trip with short timeouts; true if `msg` came back intact.
fn echo_answers(port: u16, msg: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr(port), Duration::from_secs(3)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(3)));
    if s.write_all(msg).is_err() {
        return false;
    }
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).is_ok() && back == msg
}

/// Probes daytime every `every` from a thread until `stop`; returns (answered, failed).
fn probe_daytime(
    port: u16,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, usize)> {
    std::thread::spawn(move || {
        let (mut ok, mut bad) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            if daytime_answers(port) {
                ok += 1;
            } else {
                bad += 1;
            }
            std::thread::sleep(every);
        }
        (ok, bad)
    })
}

/// Waits (bounded) until the daemon has no child processes; panics with the list otherwise.
fn wait_no_children(d: &Daemon, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !d.children().is_empty() {
        assert!(
            Instant::now() < deadline,
            "children still there: {:?}",
            d.children()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) until the daemon holds at most `n` descriptors; returns the last count.
fn wait_fds_at_most(d: &Daemon, n: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let now = d.fds().len();
        if now <= n || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A stream socket whose close sends RST instead of FIN (SO_LINGER 0).
fn connect_and_reset(port: u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if s
        .connect_timeout(&addr(port).into(), Duration::from_secs(3))
        .is_ok()
    {
        let _ = s.set_linger(Some(Duration::ZERO));
    }
}

// ----- 1. flood ----------------------------------------------------------------------------------

/// Issue 5 asks for 20,000 connections at concurrency 256; this runs 20,000 (5,000 to the limited
/// external service from 96 client threads, 15,000 to internal echo from 32) at concurrency 128,
/// which keeps the limited service well past `instances = 50` for the 2-3 s the flood lasts
/// while keeping the thread count of the test modest.
#[test]
fn flood_is_served_within_limits_refused_beyond_and_leaves_no_trace() {
    const EXT_CONNS: usize = 5_000;
    const ECHO_CONNS: usize = 15_000;
    const EXT_THREADS: usize = 96;
    const ECHO_THREADS: usize = 32;
    let (p_ext, p_echo, p_day) = (free_port(), free_port(), free_port());
    let d = Daemon::prepare("");
    let server = script(d.dir.path(), "slow", "sleep 0.2\necho served");
    let conf = format!(
        "{LOG_DEFAULTS}{}{}{}",
        ext_service("slow", p_ext, &server, "\tinstances = 50\n"),
        internal("echo", "echo", "stream", p_echo),
        internal("daytime", "daytime", "stream", p_day),
    );
    d.write("superd.conf", &conf);
    let d = d.launch(&[]);

    // Warm up every path once, then take the idle baseline.
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n");
    assert!(echo_answers(p_echo, b"warm-up"));
    assert!(daytime_answers(p_day));
    wait_no_children(&d, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    let idle_fds = d.fds().len();
    let idle_rss = rss_kb(d.pid());

    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe_daytime(p_day, Duration::from_millis(50), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(25);
    let next_ext = Arc::new(AtomicUsize::new(0));
    let next_echo = Arc::new(AtomicUsize::new(0));
    // (served, closed by superd, failed: timeout or connect error)
    let mut workers = Vec::new();
    for t in 0..EXT_THREADS + ECHO_THREADS {
        let to_ext = t < EXT_THREADS;
        let next = if to_ext {
            next_ext.clone()
        } else {
            next_echo.clone()
        };
        workers.push(std::thread::spawn(move || {
            let (mut served, mut closed, mut failed) = (0usize, 0usize, Vec::new());
            let total = if to_ext { EXT_CONNS } else { ECHO_CONNS };
            while next.fetch_add(1, Ordering::SeqCst) < total && Instant::now() < deadline {
                let port = if to_ext { p_ext } else { p_echo };
                let mut s = match TcpStream::connect_timeout(&addr(port), Duration::from_secs(5)) {
                    Ok(s) => s,
                    Err(e) => {
                        failed.push(format!("connect: {e}"));
                        continue;
                    }
                };
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut out = Vec::new();
                let r = if to_ext {
                    s.read_to_end(&mut out).map(|_| ())
                } else {
                    s.write_all(b"flood\n")
                        .and_then(|()| s.shutdown(Shutdown::Write))
                        .and_then(|()| s.read_to_end(&mut out).map(|_| ()))
                };
                let want: &[u8] = if to_ext { b"served\n" } else { b"flood\n" };
                match r {
                    Ok(()) if out == want => served += 1,
                    Ok(()) if out.is_empty() => closed += 1,
                    Err(e)
                        if out.is_empty()
                            && matches!(
                                e.kind(),
                                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                            ) =>
                    {
                        closed += 1
                    }
                    other => failed.push(format!("{other:?} after {out:?}")),
                }
            }
            (to_ext, served, closed, failed)
        }));
    }
    let (mut ext, mut echo) = ((0, 0), (0, 0));
    let mut failed = Vec::new();
    for w in workers {
        let (to_ext, served, closed, f) = w.join().unwrap();
        let tally = if to_ext { &mut ext } else { &mut echo };
        tally.0 += served;
        tally.1 += closed;
        failed.extend(f);
    }
    stop.store(true, Ordering::SeqCst);
    let (probes_ok, probes_bad) = prober.join().unwrap();
    assert!(Instant::now() < deadline, "the flood did not finish in time");

    assert!(failed.is_empty(), "{} failed: {:?}", failed.len(), &failed[..failed.len().min(10)]);
    assert_eq!(ext.0 + ext.1, EXT_CONNS, "external: {ext:?}");
    assert!(ext.0 >= 50, "external: served {} of {EXT_CONNS}", ext.0);
    assert!(ext.1 > 0, "external: none refused at instances = 50");
    assert_eq!(echo, (ECHO_CONNS, 0), "internal echo: (served, closed)");
    assert_eq!(probes_bad, 0, "daytime failed during the flood ({probes_ok} answered)");
    assert!(probes_ok >= 5, "daytime probed only {probes_ok} times");

    let flood_time = deadline - Duration::from_secs(25);
    eprintln!(
        "flood: external (served, refused) {ext:?}, echo {echo:?}, daytime probes {probes_ok}, {:?}",
        flood_time.elapsed()
    );
    let log = d.read("svc.log");
    assert!(log.contains("FAIL: slow service_limit from=127.0.0.1"), "{log}");
    assert!(!log.contains("FAIL: echo"), "internal echo refused connections");

    // Back to idle: no children (zombies included), the same descriptors, about the same memory.
    wait_no_children(&d, Duration::from_secs(10));
    let fds = wait_fds_at_most(&d, idle_fds, Duration::from_secs(5));
    assert_eq!(fds, idle_fds, "descriptors after the flood: {:?}", d.fds());
    let rss = rss_kb(d.pid());
    eprintln!("flood: RSS idle {idle_rss} KiB, after {rss} KiB; fds {idle_fds}");
    assert!(
        rss <= idle_rss + 512,
        "RSS grew from {idle_rss} KiB to {rss} KiB over the flood"
    );
    assert!(daytime_answers(p_day));
}
