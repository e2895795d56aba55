//! Access control and limits end to end: clients bind source addresses across 127.0.0.0/8 to
//! look like different hosts (issue 3).
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::*;
use crate::require_root;

fn daytime_service(port: u16, extra: &str) -> String {
    format!(
        "service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n{extra}}}\n"
    )
}

fn daytime_conf(port: u16, extra: &str) -> String {
    format!("{LOG_DEFAULTS}{}", daytime_service(port, extra))
}

#[test]
fn only_from_and_no_access_decide_as_the_xinetd_binary() {
    let port = free_port();
    let d = Daemon::start(&daytime_conf(
        port,
        "\tonly_from = 127.0.0.0/8\n\tno_access = 127.0.0.2\n",
    ));
    assert_eq!(exchange_from("127.0.0.1", port).len(), 26);
    assert_eq!(exchange_from("127.0.0.3", port).len(), 26);
    assert!(
        exchange_from("127.0.0.2", port).is_empty(),
        "in both lists: denied"
    );
    let log = d.wait_file(
        "svc.log",
        "FAIL: daytime address from=127.0.0.2",
        Duration::from_secs(5),
    );
    let fails: Vec<&str> = log.lines().filter(|l| l.contains("FAIL:")).collect();
    assert_eq!(fails.len(), 1, "{log}");
    d.wait_log(
        "Service=daytime: only_from list and no_access list match equally the address 127.0.0.2",
        Duration::from_secs(5),
    );
}

#[test]
fn only_from_forms_trailing_zeros_factorized_and_empty() {
    for (rule, allowed, denied) in [
        ("127.0.0.0", vec!["127.0.0.1", "127.0.0.9"], vec![]),
        ("127.0.1.0", vec![], vec!["127.0.0.1"]),
        (
            "127.0.0.{1,3}",
            vec!["127.0.0.1", "127.0.0.3"],
            vec!["127.0.0.2"],
        ),
        (
            "127.0.0.2/31",
            vec!["127.0.0.2", "127.0.0.3"],
            vec!["127.0.0.1"],
        ),
        ("", vec![], vec!["127.0.0.1"]),
    ] {
        let port = free_port();
        let _d = Daemon::start(&daytime_conf(port, &format!("\tonly_from = {rule}\n")));
        for a in &allowed {
            assert_eq!(
                exchange_from(a, port).len(),
                26,
                "only_from = {rule}: {a} should be served"
            );
        }
        for a in &denied {
            assert!(
                exchange_from(a, port).is_empty(),
                "only_from = {rule}: {a} should be denied"
            );
        }
    }
}

#[test]
fn external_service_denied_by_address_costs_no_process() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let srv = script(
        dir.path(),
        "mark",
        &format!("touch {}; echo served", marker.display()),
    );
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service("ext", port, &srv, "\tonly_from = 127.0.0.5\n")
    );
    let d = Daemon::start(&conf);
    assert!(exchange_from("127.0.0.1", port).is_empty());
    d.wait_file(
        "svc.log",
        "FAIL: ext address from=127.0.0.1",
        Duration::from_secs(5),
    );
    assert!(!marker.exists(), "the server ran for a denied client");
    assert!(
        !d.read("svc.log").contains("START: ext"),
        "{}",
        d.read("svc.log")
    );
    assert_eq!(exchange_from("127.0.0.5", port), b"served\n");
}

#[test]
fn access_times_outside_the_window_fail_with_time() {
    // A one-minute window twelve hours from now is never open during the test.
    let now = std::time::SystemTime::now();
    let lt = superd::clock::LocalTime::local(now);
    let m = (u16::from(lt.hour) * 60 + u16::from(lt.minute) + 720) % 1440;
    let window = format!("{:02}:{:02}-{:02}:{:02}", m / 60, m % 60, m / 60, m % 60);
    let port = free_port();
    let d = Daemon::start(&daytime_conf(port, &format!("\taccess_times = {window}\n")));
    assert!(exchange_from("127.0.0.1", port).is_empty());
    d.wait_file(
        "svc.log",
        "FAIL: daytime time from=127.0.0.1",
        Duration::from_secs(5),
    );
    // And a window covering the whole day lets everyone in.
    let port2 = free_port();
    let _d2 = Daemon::start(&daytime_conf(port2, "\taccess_times = 00:00-23:59\n"));
    assert_eq!(exchange_from("127.0.0.1", port2).len(), 26);
}

#[test]
fn per_source_limits_each_client_address_separately() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let srv = script(dir.path(), "slow", "echo hi; sleep 2");
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service("ps", port, &srv, "\tper_source = 1\n")
    );
    let d = Daemon::start(&conf);
    let mut first = connect("127.0.0.1", port);
    let mut line = [0u8; 3];
    first.read_exact(&mut line).unwrap();
    // A second client from the same address is closed at once; another address is served.
    assert!(exchange_from("127.0.0.1", port).is_empty());
    d.wait_file(
        "svc.log",
        "FAIL: ps per_source_limit from=127.0.0.1",
        Duration::from_secs(5),
    );
    let other = exchange_from("127.0.0.2", port);
    assert!(other.starts_with(b"hi"), "{other:?}");
}

#[test]
fn cps_pauses_the_service_then_resumes_by_itself() {
    let port = free_port();
    let d = Daemon::start(&daytime_conf(port, "\tcps = 2 2\n"));
    let mut refused_or_closed = 0;
    for _ in 0..6 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut b = Vec::new();
                let _ = s.read_to_end(&mut b);
                if b.is_empty() {
                    refused_or_closed += 1;
                }
            }
            Err(_) => refused_or_closed += 1,
        }
    }
    assert!(
        refused_or_closed >= 1,
        "cps = 2 2 never tripped over 6 rapid connections"
    );
    d.wait_log("Deactivating service daytime due to excessive incoming connections.  Restarting in 2 seconds.", Duration::from_secs(5));
    d.wait_file(
        "svc.log",
        "FAIL: daytime connections per second",
        Duration::from_secs(5),
    );
    d.wait_log("Activating service daytime", Duration::from_secs(10));
    assert_eq!(
        tcp_exchange(port, b"").len(),
        26,
        "served again after the pause"
    );
}

#[test]
fn max_load_below_the_current_load_refuses_with_load() {
    let port = free_port();
    let d = Daemon::start(&daytime_conf(port, "\tmax_load = 0.000001\n"));
    // /proc/loadavg is practically never exactly 0.00 on a machine running tests; if it is,
    // the connection is served and the check below tells so.
    let out = exchange_from("127.0.0.1", port);
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    if load > 0.0 {
        assert!(out.is_empty());
        d.wait_file(
            "svc.log",
            "FAIL: daytime load from=127.0.0.1",
            Duration::from_secs(5),
        );
        d.wait_log(
            "refused connect from 127.0.0.1 due to excessive load",
            Duration::from_secs(5),
        );
    }
}

#[test]
fn banners_are_sent_before_and_after_the_checks() {
    let port = free_port();
    let d = Daemon::prepare("");
    d.write("always", "BANNER-ALWAYS\r\n");
    d.write("ok", "BANNER-OK\r\n");
    d.write("fail", "BANNER-FAIL\r\n");
    let srv = script(d.dir.path(), "out", "echo SERVER-OUTPUT");
    let extra = "\tbanner = {dir}/always\n\tbanner_success = {dir}/ok\n\tbanner_fail = {dir}/fail\n\tonly_from = 127.0.0.1\n";
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("b", port, &srv, extra)),
    );
    let _d = d.launch(&[]);
    // xinetd.md §5 #40, byte for byte.
    assert_eq!(
        exchange_from("127.0.0.1", port),
        b"BANNER-ALWAYS\r\nBANNER-OK\r\nSERVER-OUTPUT\n"
    );
    assert_eq!(
        exchange_from("127.0.0.2", port),
        b"BANNER-ALWAYS\r\nBANNER-FAIL\r\n"
    );
}

#[test]
fn sensor_adds_its_clients_to_the_global_deny_list() {
    let (p_sensor, p_day) = (free_port(), free_port());
    let conf = format!(
        "{LOG_DEFAULTS}service sensor1\n{{\n\ttype = UNLISTED\n\tflags = SENSOR\n\tsocket_type = stream\n\twait = no\n\tport = {p_sensor}\n\tbind = 127.0.0.1\n\tdeny_time = 1\n}}\n{}",
        daytime_service(p_day, "")
    );
    let d = Daemon::start(&conf);
    assert!(exchange_from("127.0.0.2", p_sensor).is_empty());
    d.wait_log(
        "Adding 127.0.0.2 to the global_no_access list for 1 minutes",
        Duration::from_secs(5),
    );
    d.wait_file(
        "svc.log",
        "FAIL: sensor1 address from=127.0.0.2",
        Duration::from_secs(5),
    );
    // Now .2 is refused by every service; .1 is not.
    assert!(exchange_from("127.0.0.2", p_day).is_empty());
    d.wait_file(
        "svc.log",
        "FAIL: daytime address from=127.0.0.2",
        Duration::from_secs(5),
    );
    assert_eq!(exchange_from("127.0.0.1", p_day).len(), 26);
}

/// A fake identd on `addr`:113 answering `USERID : UNIX : alice1` twice (needs root for the
/// port).
fn fake_identd(addr: &str) -> Option<std::thread::JoinHandle<()>> {
    let l = std::net::TcpListener::bind((addr, 113)).ok()?;
    l.set_nonblocking(false).unwrap();
    Some(std::thread::spawn(move || {
        // Serve a bounded number of queries, then stop (the test ends it by connecting).
        for _ in 0..2 {
            let Ok((mut s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 128];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            let _ = std::io::Write::write_all(
                &mut s,
                format!("{req} : USERID : UNIX : alice1\r\n").as_bytes(),
            );
        }
    }))
}

#[test]
fn ident_userid_is_logged_and_idonly_refuses_clients_without_one() {
    crate::require_root!();
    let (p_log, p_only) = (free_port(), free_port());
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tlog_on_success = HOST USERID\n\tlog_on_failure = HOST\n}}\n{}{}",
        daytime_service(p_log, "").replace("service daytime\n{\n", "service daytime\n{\n\tid = uid\n"),
        daytime_service(p_only, "\tflags = IDONLY\n").replace("service daytime\n{\n", "service daytime\n{\n\tid = idonly\n"),
    );
    let d = Daemon::start(&conf);
    if std::net::TcpStream::connect(("127.0.0.1", 113)).is_ok() {
        eprintln!("SKIPPED: something already listens on 127.0.0.1:113");
        return;
    }
    // No identd: IDONLY refuses, with xinetd's NOID line.
    assert!(exchange_from("127.0.0.1", p_only).is_empty());
    d.wait_file(
        "svc.log",
        "NOID: idonly 127.0.0.1 no server",
        Duration::from_secs(15),
    );
    let Some(identd) = fake_identd("127.0.0.1") else {
        eprintln!("SKIPPED: cannot bind 127.0.0.1:113");
        return;
    };
    assert_eq!(exchange_from("127.0.0.1", p_log).len(), 26);
    d.wait_file(
        "svc.log",
        "USERID: uid UNIX : alice1",
        Duration::from_secs(15),
    );
    assert_eq!(
        exchange_from("127.0.0.1", p_only).len(),
        26,
        "IDONLY serves a client with an ident"
    );
    identd.join().unwrap();
}

/// USERID in `log_on_failure` only: a refused client's identd is asked, and the answer logged
/// after the FAIL line; `-logprocs 0` allows no such query.
#[test]
fn ident_on_failure_is_logged_and_logprocs_bounds_it() {
    crate::require_root!();
    // The client and its identd live on 127.0.0.9, away from the other ident test's 127.0.0.1.
    let Some(identd) = fake_identd("127.0.0.9") else {
        eprintln!("SKIPPED: cannot bind 127.0.0.9:113");
        return;
    };
    let (p1, p2) = (free_port(), free_port());
    let conf = |p| {
        format!(
            "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tlog_on_failure = HOST USERID\n}}\n{}",
            daytime_service(p, "\tonly_from = 127.0.0.1\n")
        )
    };
    let d = Daemon::start(&conf(p1));
    assert!(exchange_from("127.0.0.9", p1).is_empty());
    let log = d.wait_file(
        "svc.log",
        "USERID: daytime UNIX : alice1",
        Duration::from_secs(15),
    );
    let fail = log
        .find("FAIL: daytime address from=127.0.0.9")
        .expect(&log);
    assert!(fail < log.find("USERID: daytime").unwrap(), "{log}");
    // A daemon with -logprocs 0 asks nobody: the identd's second answer is left for the end.
    let d0 = Daemon::prepare(&conf(p2)).launch(&["-logprocs", "0"]);
    assert!(exchange_from("127.0.0.9", p2).is_empty());
    let log0 = d0.wait_file(
        "svc.log",
        "FAIL: daytime address from=127.0.0.9",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!d0.read("svc.log").contains("USERID"), "{log0}");
    // Let the identd thread finish: one more query from a refused client of the first daemon.
    assert!(exchange_from("127.0.0.9", p1).is_empty());
    identd.join().unwrap();
    drop((d, d0));
}

#[test]
fn on_limit_defer_queues_clients_instead_of_closing_them() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let srv = script(dir.path(), "slow", "sleep 0.5; echo done");
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service("q", port, &srv, "\tinstances = 1\n\ton_limit = defer\n")
    );
    let d = Daemon::start(&conf);
    let clients: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || tcp_exchange(port, b"")))
        .collect();
    for c in clients {
        assert_eq!(
            c.join().unwrap(),
            b"done\n",
            "every client is served, one at a time"
        );
    }
    d.wait_file_count("svc.log", "EXIT: q", 3, Duration::from_secs(10));
    assert!(
        !d.read("svc.log").contains("FAIL:"),
        "{}",
        d.read("svc.log")
    );
}

/// After a SIGCHLD, superd lets further exits go unannounced for a few ms (README, Signals) but
/// reaps them before checking a limit: with `instances = 1`, clients that come one after the
/// other, each once the previous server has ended, are all served.
#[test]
fn instances_count_only_live_servers_between_exit_announcements() {
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service(
            "one",
            port,
            std::path::Path::new("/bin/echo"),
            "	server_args = hi
	instances = 1
	cps = 0 0
"
        )
    );
    let d = Daemon::start(&conf);
    for i in 0..40 {
        assert_eq!(tcp_exchange(port, b""), b"hi\n", "client {i}");
        // EOF comes when the server closes its descriptors, a moment before it has exited:
        // wait until it has (a zombie, or reaped already).
        let mut tries = 0;
        while d.children().iter().any(|(_, state)| *state != 'Z') {
            tries += 1;
            assert!(tries < 500, "server {i} still running: {:?}", d.children());
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    d.wait_file_count("svc.log", "EXIT: one", 40, Duration::from_secs(10));
    let log = d.read("svc.log");
    assert!(!log.contains("FAIL:"), "{log}");
}

/// Sends `input` from `src` (a 127.x address, any port) to 127.0.0.1:`port` and waits up to
/// `wait` for one reply.
fn udp_from(src: &str, port: u16, input: &[u8], wait: Duration) -> Option<Vec<u8>> {
    udp_via(
        &std::net::UdpSocket::bind((src, 0)).unwrap(),
        port,
        input,
        wait,
    )
}

/// [`udp_from`] from a socket of the caller's.
fn udp_via(s: &std::net::UdpSocket, port: u16, input: &[u8], wait: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(input, ("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 2048];
    s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// `.domain` rules on datagram services: the sender's name is looked up off the loop while the
/// datagram waits in the socket, for internal (per datagram) and `wait = yes` services. Refused
/// datagrams are logged once a minute per sender. The daemon runs in a private mount namespace
/// with its own /etc/hosts (the machine's is untouched).
#[test]
fn datagram_services_match_domain_rules_by_the_senders_name() {
    require_root!();
    let (p_echo, p_wait) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let srv = script(
        dir.path(),
        "udpsrv",
        "exec python3 -c 'import socket\ns=socket.socket(fileno=0)\nd,a=s.recvfrom(100)\ns.sendto(b\"got \"+d,a)'",
    );
    let conf = format!(
        "{LOG_DEFAULTS}service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\twait = yes\n\tport = {p_echo}\n\tbind = 127.0.0.1\n\tonly_from = .example.test\n}}\n\
service wd\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {p_wait}\n\tbind = 127.0.0.1\n\tno_access = .other.test\n}}\n",
        srv.display()
    );
    let d = Daemon::prepare(&conf);
    let hosts = d.write(
        "hosts",
        "127.0.0.1 localhost\n127.0.0.5 five.example.test\n127.0.0.6 six.other.test\n",
    );
    let wrap = format!(
        "mount --bind {} /etc/hosts && exec \"$0\" \"$@\"",
        hosts.display()
    );
    let d = d.launch_wrapped(&["unshare", "-m", "sh", "-c", &wrap], &[]);
    let long = Duration::from_secs(8);
    assert_eq!(
        udp_from("127.0.0.5", p_echo, b"hi", long).as_deref(),
        Some(&b"hi"[..])
    );
    assert_eq!(
        udp_from("127.0.0.1", p_echo, b"hi", Duration::from_millis(500)),
        None
    );
    assert_eq!(
        udp_from("127.0.0.5", p_wait, b"one", long).as_deref(),
        Some(&b"got one"[..])
    );
    assert_eq!(
        udp_from("127.0.0.6", p_wait, b"two", Duration::from_millis(800)),
        None
    );
    // The same sender refused five times: one FAIL line (xinetd logs once a minute).
    // One socket, so one sender address and port (bound to a free port by the kernel).
    let seven = std::net::UdpSocket::bind(("127.0.0.7", 0)).unwrap();
    for _ in 0..5 {
        assert_eq!(
            udp_via(&seven, p_echo, b"x", Duration::from_millis(300)),
            None
        );
    }
    // The allowed sender is still answered afterwards (its name is cached or asked again).
    assert_eq!(
        udp_from("127.0.0.5", p_echo, b"again", long).as_deref(),
        Some(&b"again"[..])
    );
    let log = d.wait_file(
        "svc.log",
        "FAIL: wd address from=127.0.0.6",
        Duration::from_secs(5),
    );
    assert_eq!(
        log.matches("FAIL: echo address from=127.0.0.7").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("FAIL: echo address from=127.0.0.1").count(),
        1,
        "{log}"
    );
}
