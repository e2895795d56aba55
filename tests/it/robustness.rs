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
use crate::require_root;

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

// ----- 2. descriptor exhaustion -----------------------------------------------------------------

/// With 64 descriptors, 150 clients (more than the daemon can hold) keep echo's backlog full for
/// 2.5 s: accept fails with EMFILE, and the daemon must back off rather than spin on it.
#[test]
fn descriptor_exhaustion_backs_off_without_spinning_and_recovers() {
    const CLIENTS: usize = 150;
    let (p_echo, p_day) = (free_port(), free_port());
    let conf = format!(
        "{LOG_DEFAULTS}{}{}",
        internal("echo", "echo", "stream", p_echo),
        internal("daytime", "daytime", "stream", p_day),
    );
    // prlimit execs superd, so the PID the harness holds is superd's. Hard = soft, so superd's
    // own raise of the soft limit changes nothing.
    let d = Daemon::prepare(&conf).launch_wrapped(&["prlimit", "--nofile=64:64", "--"], &[]);
    assert!(echo_answers(p_echo, b"before"));

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        // The kernel completes the handshake for the backlog, accepted or not.
        let mut s = connect("127.0.0.1", p_echo);
        s.write_all(format!("{i}\n").as_bytes()).unwrap();
        clients.push(s);
    }
    d.wait_log("Too many open files", Duration::from_secs(10));
    let cpu_before = cpu_time(d.pid());
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    let busy = cpu_time(d.pid()) - cpu_before;
    let wall = t0.elapsed();
    eprintln!("descriptor exhaustion: daemon CPU {busy:?} over {wall:?}");
    assert!(
        busy < wall / 2,
        "the daemon used {busy:?} of CPU in {wall:?} while out of descriptors (spinning?)"
    );
    let log = d.daemon_log();
    assert!(log.contains("service echo: accept failed"), "{log}");
    // Backing off means about one failed accept a second, not thousands.
    let failures = log.matches("accept failed").count();
    assert!(failures < 20, "{failures} accept failures logged in ~3 s");

    // The clients the daemon did accept are echoed to.
    let mut answered = 0;
    for (i, s) in clients.iter_mut().enumerate().take(20) {
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let want = format!("{i}\n");
        let mut back = vec![0u8; want.len()];
        if s.read_exact(&mut back).is_ok() && back == want.as_bytes() {
            answered += 1;
        }
    }
    assert!(answered > 0, "none of the first clients was served");

    // Descriptors free up: the daemon drains its backlog and serves again.
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !echo_answers(p_echo, b"after\n") {
        assert!(Instant::now() < deadline, "echo did not recover:\n{}", d.daemon_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(daytime_answers(p_day));
}

// ----- 3. fork failure ----------------------------------------------------------------------------

/// A uid no other test or process uses, so RLIMIT_NPROC counts only this test's processes.
const NPROC_UID: &str = "64123";

fn tasks_of_uid(uid: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let real = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1));
        if real == Some(uid) {
            n += std::fs::read_dir(e.path().join("task")).map_or(1, |d| d.count());
        }
    }
    n
}

/// RLIMIT_NPROC is not enforced for root, so superd runs as a dedicated unprivileged uid, with
/// the limit set to its own thread count plus `SLOTS`.
#[test]
fn fork_failure_closes_the_connection_logs_why_and_recovers() {
    require_root!();
    const SLOTS: usize = 3;
    const DAEMON_TASKS: usize = 1; // one thread: no name rules, so no lookup workers
    const CLIENTS: usize = 8;
    let (p_sleep, p_day) = (free_port(), free_port());
    let d = Daemon::prepare("");
    // One process per server: `exec` replaces the shell with sleep.
    let server = script(d.dir.path(), "sleeper", "echo served\nexec sleep 2");
    let conf = format!(
        "{LOG_DEFAULTS}{}{}",
        ext_service("sleeper", p_sleep, &server, ""),
        internal("daytime", "daytime", "stream", p_day),
    );
    d.write("superd.conf", &conf);
    // The unprivileged daemon writes its logs and pid file into the temp dir.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(tasks_of_uid(NPROC_UID), 0, "uid {NPROC_UID} is in use");
    // prlimit sets the limit on itself (lowering needs no privilege, unlike `prlimit --pid`
    // without CAP_SYS_RESOURCE) and execs setpriv, which execs superd as the uid.
    let limit = DAEMON_TASKS + SLOTS;
    let d = d.launch_wrapped(
        &[
            "prlimit",
            &format!("--nproc={limit}:{limit}"),
            "--",
            "setpriv",
            &format!("--reuid={NPROC_UID}"),
            &format!("--regid={NPROC_UID}"),
            "--clear-groups",
            "--",
        ],
        &[],
    );
    assert_eq!(tasks_of_uid(NPROC_UID), DAEMON_TASKS, "superd's threads");

    // More clients at once than processes allowed: each is served or closed at once.
    let t0 = Instant::now();
    let mut conns: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| connect("127.0.0.1", p_sleep))
        .collect();
    let (mut served, mut closed) = (0, 0);
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        match read_line(s).as_str() {
            "served\n" => served += 1,
            "" => closed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "clients waited {:?}",
        t0.elapsed()
    );
    assert_eq!(served, SLOTS, "served of {CLIENTS}");
    assert_eq!(served + closed, CLIENTS);
    assert!(daytime_answers(p_day), "daytime while out of processes");
    let log = d.wait_log("fork failed", Duration::from_secs(5));
    assert!(
        log.contains("service sleeper: fork failed: Resource temporarily unavailable"),
        "{log}"
    );
    let svc = d.read("svc.log");
    assert_eq!(
        svc.matches("FAIL: sleeper fork from=127.0.0.1").count(),
        closed,
        "{svc}"
    );

    // Once the sleepers have exited, the service works again.
    drop(conns);
    wait_no_children(&d, Duration::from_secs(10));
    assert!(tcp_exchange(p_sleep, b"").starts_with(b"served\n"));
}

// ----- 4. respawn loops ---------------------------------------------------------------------------

fn wait_dgram(id: &str, port: u16, server: &std::path::Path) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        server.display()
    )
}

/// Datagrams keep arriving for 3 s at two `wait = yes` servers that never read them (one exits,
/// one dies of SIGSEGV): the daemon must notice the loop and pause, not respawn ~20 times a
/// second.
#[test]
fn wait_yes_dgram_servers_that_exit_or_crash_without_reading_are_throttled() {
    let (p_exit, p_crash, p_day) = (free_port(), free_port(), free_port());
    let d = Daemon::prepare("");
    let quitter = script(d.dir.path(), "quitter", "exit 0");
    let crasher = script(d.dir.path(), "crasher", "kill -SEGV $$");
    let conf = format!(
        "{LOG_DEFAULTS}{}{}{}",
        wait_dgram("quitter", p_exit, &quitter),
        wait_dgram("crasher", p_crash, &crasher),
        internal("daytime", "daytime", "stream", p_day),
    );
    d.write("superd.conf", &conf);
    let d = d.launch(&[]);

    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        let _ = sender.send_to(b"ping", addr(p_exit));
        let _ = sender.send_to(b"ping", addr(p_crash));
        std::thread::sleep(Duration::from_millis(20));
    }
    let svc = d.read("svc.log");
    let log = d.daemon_log();
    for id in ["quitter", "crasher"] {
        let starts = svc.matches(&format!("START: {id} ")).count();
        eprintln!("respawn loop: {id} started {starts} times in 3 s");
        assert!(starts >= 3, "{id} started {starts} times\n{svc}");
        // Unthrottled, ~150 datagrams would mean ~150 starts.
        assert!(starts <= 15, "{id} started {starts} times in 3 s\n{svc}");
        assert!(
            log.contains(&format!("service {id}: server exited 3 times in a row")),
            "{log}"
        );
    }
    assert!(log.contains("respawn loop"), "{log}");
    assert!(svc.contains("EXIT: crasher signal=11"), "{svc}");
    assert!(daytime_answers(p_day));
}
