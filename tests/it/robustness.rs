//! Robustness (issue 5, section 3): floods, descriptor exhaustion, fork failure, respawn loops,
//! a reload soak, hostile clients, and 1,100 and 5,000 services, each against the real daemon and bounded
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
    internal_on(name, id, st, "127.0.0.1", port)
}

fn internal_on(name: &str, id: &str, st: &str, host: &str, port: u16) -> String {
    let wait = if st == "dgram" { "yes" } else { "no" };
    format!(
        "service {name}\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {st}\n\twait = {wait}\n\tport = {port}\n\tbind = {host}\n}}\n"
    )
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One daytime exchange with short timeouts; true if a well-formed line came back.
fn daytime_answers(port: u16) -> bool {
    daytime_answers_at(addr(port))
}

fn daytime_answers_at(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
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
    if s.connect_timeout(&addr(port).into(), Duration::from_secs(3))
        .is_ok()
    {
        let _ = s.set_linger(Some(Duration::ZERO));
    }
}

// ----- 1. flood ----------------------------------------------------------------------------------

/// Issue 5's flood: 20,000 connections at concurrency 256 (5,000 to the limited external service
/// from 192 client threads, 15,000 to internal echo from 64), which keeps the limited service
/// well past `instances = 50` for the few seconds the flood lasts.
#[test]
fn flood_is_served_within_limits_refused_beyond_and_leaves_no_trace() {
    const EXT_CONNS: usize = 5_000;
    const ECHO_CONNS: usize = 15_000;
    const EXT_THREADS: usize = 192;
    const ECHO_THREADS: usize = 64;
    let (p_ext, p_echo, p_day) = (free_port(), free_port(), free_port());
    let d = Daemon::prepare("");
    let server = script(d.dir.path(), "slow", "sleep 0.2\necho served");
    let conf = format!(
        "{LOG_DEFAULTS}{}{}{}",
        // cps off: this floods past `instances`; xinetd's default cps (50 10) is tested elsewhere.
        ext_service("slow", p_ext, &server, "\tinstances = 50\n\tcps = 0 0\n"),
        internal("echo", "echo", "stream", p_echo),
        internal("daytime", "daytime", "stream", p_day),
    );
    d.write("superd.conf", &conf);
    let d = d.launch(&[]);

    // Warm up every path once, then take the idle baseline.
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n");
    assert_eq!(tcp_exchange(p_echo, b"warm-up"), b"warm-up");
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
    // Each worker counts its connections: served, closed by superd without an answer (the
    // documented refusal), or failed (connect error, timeout, a wrong answer).
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
    assert!(
        Instant::now() < deadline,
        "the flood did not finish in time"
    );

    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert_eq!(ext.0 + ext.1, EXT_CONNS, "external: {ext:?}");
    assert!(ext.0 >= 50, "external: served {} of {EXT_CONNS}", ext.0);
    assert!(ext.1 > 0, "external: none refused at instances = 50");
    assert_eq!(echo, (ECHO_CONNS, 0), "internal echo: (served, closed)");
    assert_eq!(
        probes_bad, 0,
        "daytime failed during the flood ({probes_ok} answered)"
    );
    assert!(probes_ok >= 5, "daytime probed only {probes_ok} times");

    let flood_time = deadline - Duration::from_secs(25);
    eprintln!(
        "flood: external (served, refused) {ext:?}, echo {echo:?}, daytime probes {probes_ok}, {:?}",
        flood_time.elapsed()
    );
    let log = d.read("svc.log");
    assert!(
        log.contains("FAIL: slow service_limit from=127.0.0.1"),
        "{log}"
    );
    assert!(
        !log.contains("FAIL: echo"),
        "internal echo refused connections"
    );

    // Back to idle: no children (zombies included), the same descriptors, about the same memory.
    wait_no_children(&d, Duration::from_secs(10));
    let fds = wait_fds_at_most(&d, idle_fds, Duration::from_secs(5));
    assert_eq!(fds, idle_fds, "descriptors after the flood: {:?}", d.fds());
    // Freed session memory goes back to the system a couple of seconds after the last session.
    let settle = Instant::now() + Duration::from_secs(6);
    let mut rss = rss_kb(d.pid());
    while rss > idle_rss + 128 && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(200));
        rss = rss_kb(d.pid());
    }
    eprintln!("flood: RSS idle {idle_rss} KiB, after {rss} KiB; fds {idle_fds}");
    assert!(
        rss <= idle_rss + 256,
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
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
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
        assert!(
            Instant::now() < deadline,
            "echo did not recover:\n{}",
            d.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(daytime_answers(p_day));
}

// ----- 3. fork failure ----------------------------------------------------------------------------

/// A uid with no processes, so RLIMIT_NPROC counts only this test's: derived from the test
/// process's pid, so concurrent runs of the suite (other worktrees, CI jobs) pick different ones.
fn unused_uid() -> String {
    let mut uid = 50_000 + std::process::id() % 10_000;
    while tasks_of_uid(&uid.to_string()) != 0 {
        uid += 1;
    }
    uid.to_string()
}

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
    let uid = unused_uid();
    // prlimit sets the limit on itself (lowering needs no privilege, unlike `prlimit --pid`
    // without CAP_SYS_RESOURCE) and execs setpriv, which execs superd as the uid.
    let limit = DAEMON_TASKS + SLOTS;
    let d = d.launch_wrapped(
        &[
            "prlimit",
            &format!("--nproc={limit}:{limit}"),
            "--",
            "setpriv",
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "--",
        ],
        &[],
    );
    assert_eq!(tasks_of_uid(&uid), DAEMON_TASKS, "superd's threads");

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

// ----- 5. reload soak -----------------------------------------------------------------------------

/// 100 reloads, as issue 5 asks (about 3.5 s), alternating two configurations that differ in one
/// service's `server_args`, while a client hammers internal echo.
#[test]
fn reload_soak_refuses_nothing_on_unchanged_service_and_leaks_nothing() {
    const RELOADS: usize = 100;
    let (p_echo, p_args) = (free_port(), free_port());
    let d = Daemon::prepare("");
    let server = script(d.dir.path(), "args", "echo \"$1\"");
    let conf = |arg: &str| {
        format!(
            "{LOG_DEFAULTS}{}{}",
            internal("echo", "echo", "stream", p_echo),
            // cps off: a reload and a connection every ~30 ms would trip xinetd's default.
            ext_service(
                "args",
                p_args,
                &server,
                &format!("\tserver_args = {arg}\n\tcps = 0 0\n")
            ),
        )
    };
    d.write("superd.conf", &conf("even"));
    let d = d.launch(&[]);
    let reload_to = |arg: &str| {
        d.write("superd.conf", &conf(arg));
        d.reload();
        assert_eq!(tcp_exchange(p_args, b""), format!("{arg}\n").as_bytes());
    };
    // Two reloads and an echo first, so the baseline holds what is allocated on first use.
    reload_to("odd");
    reload_to("even");
    // (Read to EOF: the daemon has closed the session by the time the client sees it.)
    assert_eq!(tcp_exchange(p_echo, b"warm-up"), b"warm-up");
    wait_no_children(&d, Duration::from_secs(5));
    let (rss0, fds0) = (rss_kb(d.pid()), d.fds().len());

    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0usize, 0usize);
            while !stop.load(Ordering::SeqCst) {
                if echo_answers(p_echo, b"soak\n") {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        })
    };
    for i in 0..RELOADS {
        reload_to(if i % 2 == 0 { "odd" } else { "even" });
    }
    stop.store(true, Ordering::SeqCst);
    let (ok, failed) = client.join().unwrap();
    eprintln!("reload soak: {ok} echo exchanges, {failed} failed");
    assert_eq!(failed, 0, "echo failed during reloads ({ok} answered)");
    assert!(
        ok >= RELOADS,
        "only {ok} echo exchanges during {RELOADS} reloads"
    );

    wait_no_children(&d, Duration::from_secs(5));
    let fds = wait_fds_at_most(&d, fds0, Duration::from_secs(5));
    // At most the baseline: under load the baseline may still hold the warm-up client's
    // session, closed a moment later; a leak would show as more.
    assert!(
        fds <= fds0,
        "descriptors grew from {fds0} to {fds}: {:?}",
        d.fds()
    );
    let rss = rss_kb(d.pid());
    eprintln!("reload soak: RSS {rss0} KiB -> {rss} KiB");
    // RSS settles about 200 KiB above the baseline (allocator high-water marks; measured the
    // same after 100 and after 400 reloads; more under a loaded machine), so a leak of more
    // than ~8 KiB a reload shows as more than this margin.
    assert!(rss <= rss0 + 768, "RSS grew from {rss0} KiB to {rss} KiB");
    assert!(
        !d.read("svc.log").contains("FAIL:"),
        "{}",
        d.read("svc.log")
    );
}

// ----- 6. hostile clients -------------------------------------------------------------------------

/// Internal echo, chargen and daytime (TCP) plus echo over UDP, for the hostile-client tests.
fn start_internals() -> (Daemon, u16, u16, u16) {
    let (p_echo, p_chargen, p_day) = (free_port(), free_port(), free_port());
    let conf = format!(
        "{LOG_DEFAULTS}{}{}{}{}",
        internal("echo", "echo", "stream", p_echo),
        internal("echo", "echo-udp", "dgram", p_echo),
        internal("chargen", "chargen", "stream", p_chargen),
        internal("daytime", "daytime", "stream", p_day),
    );
    let d = Daemon::start(&conf);
    // Warm up each path, so the baseline includes what they allocate on first use.
    assert_eq!(tcp_exchange(p_echo, b"warm-up"), b"warm-up");
    assert_eq!(
        udp_exchange(p_echo, b"warm-up").as_deref(),
        Some(&b"warm-up"[..])
    );
    let mut s = connect("127.0.0.1", p_chargen);
    let mut buf = [0u8; 1000];
    s.read_exact(&mut buf).unwrap();
    drop(s);
    assert!(daytime_answers(p_day));
    std::thread::sleep(Duration::from_millis(100));
    (d, p_echo, p_chargen, p_day)
}

/// RSS may grow by at most this much under hostile clients (KiB): buffers are bounded.
const HOSTILE_RSS_MARGIN: u64 = 1024;

#[test]
fn clients_that_connect_and_reset_leave_no_sessions_behind() {
    let (d, p_echo, p_chargen, p_day) = start_internals();
    let (fds0, rss0) = (d.fds().len(), rss_kb(d.pid()));
    for i in 0..200 {
        connect_and_reset(if i % 2 == 0 { p_echo } else { p_chargen });
    }
    assert!(daytime_answers(p_day));
    assert!(echo_answers(p_echo, b"still here"));
    let fds = wait_fds_at_most(&d, fds0, Duration::from_secs(5));
    assert_eq!(fds, fds0, "descriptors after 200 resets: {:?}", d.fds());
    let rss = rss_kb(d.pid());
    assert!(rss <= rss0 + HOSTILE_RSS_MARGIN, "RSS {rss0} -> {rss} KiB");
}

#[test]
fn half_open_connections_do_not_hold_up_other_clients() {
    const IDLE: usize = 100;
    let (d, p_echo, _, p_day) = start_internals();
    let fds0 = d.fds().len();
    // Connected, never sending, never closing.
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| connect("127.0.0.1", p_echo)).collect();
    let t0 = Instant::now();
    for i in 0..50 {
        assert!(echo_answers(p_echo, format!("client {i}\n").as_bytes()));
    }
    assert!(daytime_answers(p_day));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // The daemon holds each idle session (one descriptor each), and frees them on close.
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.fds().len() < fds0 + IDLE {
        assert!(Instant::now() < deadline, "{} fds", d.fds().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(idle);
    let fds = wait_fds_at_most(&d, fds0, Duration::from_secs(5));
    assert_eq!(fds, fds0, "{:?}", d.fds());
}

/// Slow readers of chargen, slow writers to echo, and an echo client that writes without ever
/// reading, for 2 s: the daemon's buffers stay bounded, it does not spin on the blocked
/// sessions, and daytime answers throughout.
#[test]
fn slowloris_on_chargen_and_echo_costs_bounded_memory_and_no_spinning() {
    let (d, p_echo, p_chargen, p_day) = start_internals();
    let rss0 = rss_kb(d.pid());
    let cpu0 = cpu_time(d.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe_daytime(p_day, Duration::from_millis(100), stop.clone());
    let mut slow = Vec::new();
    for k in 0..4 {
        let reader = k % 2 == 0;
        slow.push(std::thread::spawn(move || {
            let port = if reader { p_chargen } else { p_echo };
            let mut s = connect("127.0.0.1", port);
            let mut got = 0;
            for _ in 0..20 {
                let mut b = [0u8; 1];
                if reader {
                    s.read_exact(&mut b).unwrap();
                    got += 1;
                } else {
                    s.write_all(b"x").unwrap();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !reader {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut back = [0u8; 20];
                s.read_exact(&mut back).unwrap();
                got = back.iter().filter(|&&c| c == b'x').count();
            }
            got
        }));
    }
    // Writes as much as the socket takes and never reads the echo.
    let mut hog = connect("127.0.0.1", p_echo);
    hog.set_nonblocking(true).unwrap();
    let chunk = vec![b'h'; 64 * 1024];
    let mut pushed = 0usize;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) && pushed < 64 << 20 {
        match hog.write(&chunk) {
            Ok(n) => pushed += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("hog: {e}"),
        }
    }
    for t in slow {
        assert_eq!(t.join().unwrap(), 20);
    }
    stop.store(true, Ordering::SeqCst);
    let (ok, bad) = prober.join().unwrap();
    let rss = rss_kb(d.pid());
    let cpu = cpu_time(d.pid()) - cpu0;
    let wall = t0.elapsed();
    eprintln!(
        "slowloris: hog pushed {pushed} bytes; RSS {rss0} -> {rss} KiB; CPU {cpu:?} in {wall:?}; daytime {ok}/{bad}"
    );
    assert_eq!(bad, 0, "daytime failed during slowloris ({ok} answered)");
    // The writes blocked: echo stopped reading once the client stopped reading its replies.
    assert!(
        pushed < 64 << 20,
        "echo took {pushed} bytes it could not send back"
    );
    assert!(rss <= rss0 + HOSTILE_RSS_MARGIN, "RSS {rss0} -> {rss} KiB");
    assert!(cpu < wall / 2, "daemon CPU {cpu:?} in {wall:?}");
    drop(hog);
}

#[test]
fn oversized_and_binary_datagrams_are_echoed_intact() {
    let (d, p_echo, _, p_day) = start_internals();
    let rss0 = rss_kb(d.pid());
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = vec![0u8; 70_000];
    // 65,507 is the largest UDP payload over IPv4: nothing larger reaches the daemon, whose
    // receive buffer is 64 KiB.
    let mut seed = 0x9e37_79b9_u32;
    for len in [0, 1, 255, 256, 1500, 9000, 65_000, 65_507] {
        let msg: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        s.send_to(&msg, addr(p_echo)).unwrap();
        let n = s
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("{len} bytes: {e}"));
        assert_eq!(n, len);
        assert!(buf[..n] == msg[..], "{len}-byte datagram came back changed");
    }
    // Every byte value, and a burst of datagrams back to back.
    let all: Vec<u8> = (0..=255).collect();
    for _ in 0..100 {
        s.send_to(&all, addr(p_echo)).unwrap();
    }
    let mut back = 0;
    while let Ok(n) = s.recv(&mut buf) {
        assert_eq!(&buf[..n], &all[..]);
        back += 1;
        if back == 100 {
            break;
        }
    }
    assert!(back > 50, "only {back} of 100 datagrams echoed");
    assert!(daytime_answers(p_day));
    let rss = rss_kb(d.pid());
    assert!(rss <= rss0 + HOSTILE_RSS_MARGIN, "RSS {rss0} -> {rss} KiB");
}

// ----- 7. scale -----------------------------------------------------------------------------------

/// `n` consecutive ports free for TCP on loopback address `host`, searched from `from` upwards
/// (wrapping), below `free_port`'s range (20000-32000) so other tests in this run do not take
/// them between the check and the daemon's bind.
fn free_block_on(host: &str, n: u16, from: u16) -> u16 {
    const LOW: u16 = 10_000;
    const HIGH: u16 = 20_000;
    let mut start = from.clamp(LOW, HIGH - n);
    let mut scanned = 0;
    while scanned < HIGH - LOW {
        if start + n > HIGH {
            scanned += HIGH - start;
            start = LOW;
        }
        let busy = (start..start + n).find(|&p| std::net::TcpListener::bind((host, p)).is_err());
        match busy {
            Some(p) => {
                scanned += p + 1 - start;
                start = p + 1;
            }
            None => return start,
        }
    }
    panic!("no block of {n} free ports between {LOW} and {HIGH}");
}

fn hard_nofile() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(4))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u64::MAX)
}

/// What to start superd through so that its descriptor hard limit is at least `needed`:
/// nothing when it already is, else `prlimit LIMITS --` (root only); `None`, with a printed
/// reason, when that is not possible (the test is then skipped).
fn nofile_wrapper(needed: u64, limits: &'static str) -> Option<Vec<&'static str>> {
    if hard_nofile() >= needed {
        return Some(Vec::new());
    }
    if !is_root() {
        eprintln!("SKIPPED: the descriptor hard limit is below {needed} and raising it needs root");
        return None;
    }
    let (code, _, err) = run_bounded(
        std::process::Command::new("prlimit").args([limits, "true"]),
        Duration::from_secs(5),
    );
    if code != 0 {
        eprintln!("SKIPPED: the descriptor hard limit is below {needed} and prlimit cannot raise it: {err}");
        return None;
    }
    Some(vec!["prlimit", limits, "--"])
}

/// superd with `n` internal daytime services on consecutive free ports of `host`, searched from
/// `from`, and the services in `extra`, started through `wrapper`. Concurrent runs of the suite (other worktrees, CI jobs)
/// start their search at different places, and a run that loses a race for a port moves on
/// to the next block. Returns the daemon, the first port and how long it took to start.
fn start_daytime_block(
    host: &str,
    n: u16,
    mut from: u16,
    extra: &str,
    wrapper: &[&str],
) -> (Daemon, u16, Duration) {
    for _ in 0..3 {
        let base = free_block_on(host, n, from);
        let mut conf = String::new();
        for i in 0..n {
            conf.push_str(&internal_on(
                "daytime",
                &format!("day{i}"),
                "stream",
                host,
                base + i,
            ));
        }
        conf.push_str(extra);
        let t0 = Instant::now();
        let d = Daemon::prepare(&conf).launch_wrapped(wrapper, &[]);
        let started = t0.elapsed();
        if !d.daemon_log().contains("cannot bind") {
            return (d, base, started);
        }
        eprintln!("ports taken under us, moving on:\n{}", d.daemon_log());
        from = base + n;
    }
    panic!("ports of three blocks taken under us");
}

/// Issue 5 asks for 1,100 and 5,000 services (the 5,000 are below); 1,100 is past select's
/// 1,024-descriptor wall and keeps the test near a few seconds.
#[test]
fn eleven_hundred_services_all_listen_and_answer() {
    const SERVICES: u16 = 1_100;
    // superd raises its soft descriptor limit to the hard one; the hard one must be enough.
    let Some(wrapper) = nofile_wrapper(2_000, "--nofile=4096:4096") else {
        return;
    };
    let from = 10_000 + (std::process::id() % 8) as u16 * 1_200;
    // And one external server: with this many descriptors, children start on superd's
    // descriptor table and unshare its low part (`spawn::SHARE_FROM`); they must still see
    // only their connection.
    let probe_port = free_port();
    let extra = ext_service("probe", probe_port, &probe(), "\tcps = 0 0\n");
    let (d, base, started) = start_daytime_block("127.0.0.1", SERVICES, from, &extra, &wrapper);
    assert!(
        d.fds().len() > usize::from(SERVICES),
        "{} fds",
        d.fds().len()
    );
    let t1 = Instant::now();
    for i in 0..SERVICES {
        assert!(
            daytime_answers(base + i),
            "service day{i} on port {}",
            base + i
        );
    }
    let answered = t1.elapsed();
    eprintln!("scale: {SERVICES} services started in {started:?}, all answered in {answered:?}");
    assert!(answered < Duration::from_secs(15), "{answered:?}");
    let before = d.fds().len();
    for _ in 0..20 {
        let out = tcp_exchange(probe_port, b"");
        let v = probe_values(&out);
        assert_eq!(
            probe_all(&v, "fd"),
            PROBE_STDIO_ONLY,
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    // Each client saw EOF, so superd had closed its copy of each connection.
    assert_eq!(d.fds().len(), before, "{:?}", d.fds());
}

/// Asks daytime on `ports` of `host` from `threads` threads; returns the ports that did not
/// answer.
fn silent_ports(host: std::net::IpAddr, ports: std::ops::Range<u16>, threads: u16) -> Vec<u16> {
    let next = Arc::new(AtomicUsize::new(usize::from(ports.start)));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let next = next.clone();
            let end = usize::from(ports.end);
            std::thread::spawn(move || {
                let mut silent = Vec::new();
                loop {
                    let p = next.fetch_add(1, Ordering::SeqCst);
                    if p >= end {
                        return silent;
                    }
                    let port = p as u16;
                    if !daytime_answers_at(SocketAddr::new(host, port)) {
                        silent.push(port);
                    }
                }
            })
        })
        .collect();
    let mut silent: Vec<u16> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    silent.sort_unstable();
    silent
}

/// Issue 5 asks for 5,000 services: all listen and all answer, at start and after a reload
/// (SIGHUP, which keeps every socket: the configuration is unchanged). The services listen on a
/// loopback address of their own (127.X.Y.1, from the pid), so the block of 5,000 ports cannot
/// collide with the 127.0.0.1 ports other tests of this run take. Start-up and reload times are
/// printed, not asserted.
#[test]
fn five_thousand_services_all_listen_and_answer_before_and_after_reload() {
    const SERVICES: u16 = 5_000;
    // superd raises its soft descriptor limit to the hard one; 5,000 listeners need more than
    // the usual 4,096.
    let Some(wrapper) = nofile_wrapper(6_000, "--nofile=8192:8192") else {
        return;
    };
    let pid = std::process::id();
    let host = format!("127.{}.{}.1", 50 + pid % 50, (pid / 50) % 256);
    let ip: std::net::IpAddr = host.parse().unwrap();
    let from = 10_000 + (pid % 5) as u16 * 1_000;
    let (mut d, base, started) = start_daytime_block(&host, SERVICES, from, "", &wrapper);
    assert!(
        d.daemon_log()
            .contains(&format!("Started working: {SERVICES} available services")),
        "{}",
        d.daemon_log()
    );
    assert!(
        d.fds().len() > usize::from(SERVICES),
        "{} fds",
        d.fds().len()
    );
    let t1 = Instant::now();
    let silent = silent_ports(ip, base..base + SERVICES, 16);
    let answered = t1.elapsed();
    assert!(
        silent.is_empty(),
        "{} silent, first {:?}",
        silent.len(),
        &silent[..silent.len().min(10)]
    );

    let t2 = Instant::now();
    d.reload();
    let reloaded = t2.elapsed();
    assert!(
        d.daemon_log()
            .contains(&format!("Reconfigured: new=0 old={SERVICES} dropped=0")),
        "{}",
        d.daemon_log()
    );
    let t3 = Instant::now();
    let silent = silent_ports(ip, base..base + SERVICES, 16);
    let answered_again = t3.elapsed();
    assert!(
        silent.is_empty(),
        "after reload: {} silent, first {:?}",
        silent.len(),
        &silent[..silent.len().min(10)]
    );
    eprintln!(
        "scale: {SERVICES} services started in {started:?} (all answered in {answered:?}); \
         reloaded in {reloaded:?} (all answered in {answered_again:?})"
    );
    assert_eq!(d.stop(), Some(0));
}
