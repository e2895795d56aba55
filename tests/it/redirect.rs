//! `redirect`: connections relayed inside the daemon (issue 4 §1, xinetd.md §5 #41).
use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::*;

fn conf(p_echo: u16, p_redir: u16, target: u16) -> String {
    format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log\n\tlog_on_success = PID HOST EXIT DURATION TRAFFIC\n\tlog_on_failure = HOST ATTEMPT\n}}\nservice echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {p_echo}\n\tbind = 127.0.0.1\n}}\nservice redir\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {p_redir}\n\tbind = 127.0.0.1\n\tredirect = 127.0.0.1 {target}\n}}\n"
    )
}

#[test]
fn redirect_relays_both_ways_and_logs_traffic() {
    let (p_echo, p_redir) = (free_port(), free_port());
    let d = Daemon::start(&conf(p_echo, p_redir, p_echo));
    assert_eq!(
        tcp_exchange(p_redir, b"relayed by superd"),
        b"relayed by superd"
    );
    d.wait_file(
        "svc.log",
        "TRAFFIC: redir in=17(bytes) out=17(bytes)",
        Duration::from_secs(5),
    );
    // No process is started for a redirect.
    assert!(d.children().is_empty());
}

#[test]
fn redirect_passes_a_half_close_on_and_keeps_the_other_direction_open() {
    let (p_echo, p_redir) = (free_port(), free_port());
    let _d = Daemon::start(&conf(p_echo, p_redir, p_echo));
    let mut s = connect("127.0.0.1", p_redir);
    let big = vec![b'x'; 300_000];
    let writer = {
        let mut w = s.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || {
            w.write_all(&big).unwrap();
            w.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(
        got.len(),
        big.len(),
        "everything comes back after the client's half-close"
    );
}

#[test]
fn a_dead_backend_closes_the_client_and_is_logged() {
    let (p_echo, p_redir, dead) = (free_port(), free_port(), free_port());
    let d = Daemon::start(&conf(p_echo, p_redir, dead));
    assert_eq!(tcp_exchange(p_redir, b"anyone?"), b"");
    d.wait_log(
        &format!("can't connect to remote host 127.0.0.1:{dead}"),
        Duration::from_secs(5),
    );
    // Other services are unaffected.
    assert_eq!(tcp_exchange(p_echo, b"ok"), b"ok");
}
