//! Internal services over TCP and UDP, answered inside the daemon.
use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::*;

fn internal_conf(ports: &[(&str, &str, u16)]) -> String {
    let mut c = String::from(
        "defaults\n{\n\tlog_type = FILE {dir}/svc.log\n\tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST ATTEMPT\n}\n",
    );
    for (name, st, port) in ports {
        c.push_str(&format!(
            "service {name}\n{{\n\tid = {name}-{st}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {st}\n\twait = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
            if *st == "dgram" { "yes" } else { "no" }
        ));
    }
    c
}

struct Ports {
    echo: u16,
    discard: u16,
    chargen: u16,
    daytime: u16,
    time: u16,
}

fn start_all() -> (Daemon, Ports) {
    let p = Ports {
        echo: free_port(),
        discard: free_port(),
        chargen: free_port(),
        daytime: free_port(),
        time: free_port(),
    };
    let mut list = Vec::new();
    for (name, port) in [
        ("echo", p.echo),
        ("discard", p.discard),
        ("chargen", p.chargen),
        ("daytime", p.daytime),
        ("time", p.time),
    ] {
        list.push((name, "stream", port));
        list.push((name, "dgram", port));
    }
    (Daemon::start(&internal_conf(&list)), p)
}

fn chargen_line(i: usize) -> Vec<u8> {
    let mut l: Vec<u8> = (0..72).map(|k| b'!' + ((i + k) % 95) as u8).collect();
    l.extend_from_slice(b"\r\n");
    l
}

fn check_daytime(text: &[u8]) {
    let s = std::str::from_utf8(text).unwrap();
    assert!(s.ends_with("\r\n"), "{s:?}");
    let parts: Vec<&str> = s.trim_end().split(' ').collect();
    assert_eq!(parts.len(), 5, "DD MON YYYY HH:MM:SS TZ: {s:?}");
    assert!(
        parts[0].len() == 2 && parts[0].chars().all(|c| c.is_ascii_digit()),
        "{s:?}"
    );
    assert!(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            .contains(&parts[1]),
        "{s:?}"
    );
    assert_eq!(parts[3].len(), 8, "{s:?}");
}

fn check_time(b: &[u8]) {
    assert_eq!(b.len(), 4);
    let t = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 2_208_988_800;
    assert!((now - t).abs() < 5, "time {t} vs now {now}");
}

#[test]
fn every_internal_service_answers_over_tcp() {
    let (d, p) = start_all();
    assert_eq!(tcp_exchange(p.echo, b"hello superd\n"), b"hello superd\n");
    assert_eq!(tcp_exchange(p.discard, b"dropped"), b"");
    check_daytime(&tcp_exchange(p.daytime, b""));
    check_time(&tcp_exchange(p.time, b""));
    let mut s = connect("127.0.0.1", p.chargen);
    let mut buf = vec![0u8; 74 * 3];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[..74], &chargen_line(0)[..]);
    assert_eq!(&buf[74..148], &chargen_line(1)[..]);
    assert_eq!(&buf[148..], &chargen_line(2)[..]);
    drop(s);
    // Non-forking services log START with pid=0 and no EXIT, as xinetd.
    let log = d.wait_file(
        "svc.log",
        "START: daytime-stream pid=0 from=127.0.0.1",
        Duration::from_secs(5),
    );
    assert!(!log.contains("EXIT: daytime"), "{log}");
}

#[test]
fn every_internal_service_answers_over_udp() {
    let (_d, p) = start_all();
    assert_eq!(udp_exchange(p.echo, b"ping").as_deref(), Some(&b"ping"[..]));
    check_daytime(&udp_exchange(p.daytime, b"x").unwrap());
    check_time(&udp_exchange(p.time, b"x").unwrap());
    let cg = udp_exchange(p.chargen, b"x").unwrap();
    assert_eq!(cg.len(), 1024);
    assert_eq!(&cg[..74], &chargen_line(0)[..]);
    // discard never answers
    assert_eq!(udp_exchange(p.discard, b"x"), None);
}

#[test]
fn udp_echo_answers_back_to_back_requests_without_loss() {
    let (_d, p) = start_all();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for i in 0..200u32 {
        s.send_to(&i.to_be_bytes(), ("127.0.0.1", p.echo)).unwrap();
    }
    let mut got = 0;
    let mut buf = [0u8; 16];
    while got < 200 {
        match s.recv(&mut buf) {
            Ok(4) => got += 1,
            Ok(_) => panic!("bad reply"),
            Err(_) => break,
        }
    }
    assert_eq!(got, 200, "xinetd drops queued datagrams; superd must not");
}

#[test]
fn slow_chargen_reader_does_not_grow_daemon_memory() {
    let (d, p) = start_all();
    let rss = || -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    // Ten clients that never read.
    let clients: Vec<_> = (0..10).map(|_| connect("127.0.0.1", p.chargen)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = rss();
    std::thread::sleep(Duration::from_millis(700));
    let after = rss();
    assert!(
        after <= before + 512,
        "RSS grew from {before} kB to {after} kB with stalled chargen readers"
    );
    // Other services keep answering meanwhile.
    assert_eq!(tcp_exchange(p.echo, b"still here"), b"still here");
    drop(clients);
}

#[test]
fn echo_client_that_never_reads_is_bounded_and_others_are_served() {
    let (_d, p) = start_all();
    let mut s = connect("127.0.0.1", p.echo);
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![b'x'; 65536];
    let mut sent = 0usize;
    for _ in 0..400 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    // Kernel buffers absorb some, but superd stops reading once its own buffer is full.
    assert!(
        sent < 400 * 65536,
        "the daemon kept reading: {sent} bytes accepted"
    );
    assert_eq!(tcp_exchange(p.daytime, b"").len(), 26);
}
