//! Reconfiguration on SIGHUP: services added, removed, redefined and moved; sockets kept across
//! reloads; broken configurations; log rotation.
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;

/// An internal TCP echo service with its own id on `port`.
pub fn echo_service(id: &str, port: u16) -> String {
    format!(
        "service echo\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n"
    )
}

/// `/bin/echo` as a server: the client reads `words` and EOF.
fn echo_words(id: &str, port: u16, words: &str) -> String {
    ext_service(
        id,
        port,
        Path::new("/bin/echo"),
        &format!("\tserver_args = {words}\n"),
    )
}

fn rewrite(d: &Daemon, conf: &str) {
    d.write("superd.conf", conf);
}

fn echo_roundtrip(s: &mut TcpStream, msg: &str) {
    s.write_all(msg.as_bytes()).unwrap();
    assert_eq!(read_line(s), msg, "echo over a held connection");
}

/// The daemon's descriptor pointing at socket `inode`, if it holds one.
fn fd_of_socket(d: &Daemon, inode: u64) -> Option<i32> {
    let target = format!("socket:[{inode}]");
    d.fds()
        .into_iter()
        .find(|(_, t)| *t == target)
        .map(|(fd, _)| fd)
}

#[test]
fn reload_adds_a_service_whose_port_then_answers() {
    let (p1, p2) = (free_port(), free_port());
    let d = Daemon::start(&format!("{LOG_DEFAULTS}{}", echo_service("one", p1)));
    assert!(refused(p2));
    rewrite(
        &d,
        &format!(
            "{LOG_DEFAULTS}{}{}",
            echo_service("one", p1),
            echo_words("two", p2, "second")
        ),
    );
    d.reload();
    assert_eq!(tcp_exchange(p2, b""), b"second\n");
    assert_eq!(tcp_exchange(p1, b"still\n"), b"still\n");
    let log = d.daemon_log();
    assert!(log.contains("Reconfigured: new=1 old=1 dropped=0"), "{log}");
}

#[test]
fn reload_removes_a_service_closing_its_port_and_killing_its_server() {
    let (keep, gone) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let sleeper = script(dir.path(), "sleeper", "echo up\nsleep 30\necho late");
    let d = Daemon::start(&format!(
        "{LOG_DEFAULTS}{}{}",
        echo_service("keep", keep),
        ext_service("gone", gone, &sleeper, "")
    ));
    let mut held = connect("127.0.0.1", gone);
    assert_eq!(read_line(&mut held), "up\n");
    let log = d.wait_file("svc.log", "START: gone pid=", Duration::from_secs(5));
    let server: i32 = start_pid(&log, "gone");
    assert!(pid_alive(server));
    let _guard = PidGuard(server);

    rewrite(&d, &format!("{LOG_DEFAULTS}{}", echo_service("keep", keep)));
    d.reload();
    let log = d.daemon_log();
    assert!(log.contains("service gone deactivated"), "{log}");
    assert!(
        log.contains(&format!("sending signal 9 to drop server {server}")),
        "{log}"
    );
    assert!(
        wait_pid_gone(server, Duration::from_secs(5)),
        "server {server} survived"
    );
    // The client of the removed service loses its session.
    let mut rest = Vec::new();
    let eof = std::io::Read::read_to_end(&mut held, &mut rest);
    assert!(eof.is_ok(), "the connection is still held open: {eof:?}");
    assert!(rest.is_empty());
    assert!(refused(gone), "the removed service's port still accepts");
    assert_eq!(tcp_exchange(keep, b"k\n"), b"k\n");
}

/// The pid in the last `START: <id> pid=N` line of a service log.
pub fn start_pid(log: &str, id: &str) -> i32 {
    let needle = format!("START: {id} pid=");
    let at = log.rfind(&needle).expect("START line") + needle.len();
    log[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn reload_changing_env_keeps_the_socket_and_the_running_server() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    // Says its MARK, then echoes one line: a server that stays running until the client speaks.
    let srv = script(
        dir.path(),
        "marker",
        "echo \"mark=$MARK\"\nread line\necho \"got $line\"",
    );
    let conf = |mark: &str| {
        format!(
            "{LOG_DEFAULTS}{}",
            ext_service("keep", port, &srv, &format!("\tenv = MARK={mark}\n"))
        )
    };
    let d = Daemon::start(&conf("old"));
    let inode = tcp_listen_inode(port).expect("listening socket in /proc/net/tcp");
    let fd = fd_of_socket(&d, inode).expect("the daemon holds the listening socket");

    let mut before = connect("127.0.0.1", port);
    assert_eq!(read_line(&mut before), "mark=old\n");

    rewrite(&d, &conf("new"));
    d.reload();
    assert!(
        d.daemon_log()
            .contains("Reconfigured: new=0 old=1 dropped=0"),
        "{}",
        d.daemon_log()
    );
    assert_eq!(
        tcp_listen_inode(port),
        Some(inode),
        "the listening socket was replaced"
    );
    assert_eq!(fd_of_socket(&d, inode), Some(fd));
    // New connections get the new definition...
    assert_eq!(tcp_exchange(port, b"x\n"), b"mark=new\ngot x\n");
    // ...and the server started before the reload is still there, talking to its client.
    before.write_all(b"hello\n").unwrap();
    assert_eq!(read_line(&mut before), "got hello\n");
}

#[test]
fn reload_changing_server_args_serves_a_connection_queued_before_the_hup() {
    let port = free_port();
    // wait = yes: superd does not accept; while the server runs, new connections queue in the
    // listening socket's backlog.
    let dir = tempfile::tempdir().unwrap();
    let srv = script(
        dir.path(),
        "accept1",
        "exec python3 -c 'import socket,sys\ns=socket.socket(fileno=0)\nc,_=s.accept()\nc.sendall((\" \".join(sys.argv[1:])+\"\\n\").encode())\nc.recv(10)\nc.close()' \"$@\"",
    );
    let conf = |args: &str| {
        format!(
            "{LOG_DEFAULTS}service ws\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\tuser = root\n\tserver = {}\n\tserver_args = {args}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
            srv.display()
        )
    };
    let d = Daemon::start(&conf("v1"));
    // The first client keeps the first server busy (it waits for us to send or close).
    let mut first = connect("127.0.0.1", port);
    let greeting = read_line(&mut first);
    assert_eq!(
        greeting,
        "v1\n",
        "{}\n{}",
        d.daemon_log(),
        d.read("svc.log")
    );
    // The second one is queued in the backlog, unaccepted.
    let mut queued = connect("127.0.0.1", port);
    rewrite(&d, &conf("v2"));
    d.reload();
    drop(first);
    // Served after the reload, on the same socket, by a server with the new arguments.
    assert_eq!(read_line(&mut queued), "v2\n");
}

#[test]
fn connection_held_across_reload_to_an_unchanged_service_keeps_working() {
    let (p1, p2) = (free_port(), free_port());
    let base = format!("{LOG_DEFAULTS}{}", echo_service("held", p1));
    let d = Daemon::start(&base);
    let mut s = connect("127.0.0.1", p1);
    echo_roundtrip(&mut s, "before\n");
    rewrite(&d, &format!("{base}{}", echo_service("other", p2)));
    d.reload();
    echo_roundtrip(&mut s, "after one\n");
    rewrite(&d, &base);
    d.reload();
    echo_roundtrip(&mut s, "after two\n");
    assert!(refused(p2));
}

#[test]
fn reload_moving_a_service_to_another_port_closes_the_old_and_opens_the_new() {
    let (old, new) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let sleeper = script(dir.path(), "sleeper", "echo up\nsleep 30\necho late");
    let d = Daemon::start(&format!(
        "{LOG_DEFAULTS}{}",
        ext_service("mv", old, &sleeper, "")
    ));
    let mut held = connect("127.0.0.1", old);
    assert_eq!(read_line(&mut held), "up\n");
    let log = d.wait_file("svc.log", "START: mv pid=", Duration::from_secs(5));
    let server = start_pid(&log, "mv");
    let _guard = PidGuard(server);
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("mv", new, &sleeper, "")),
    );
    d.reload();
    assert!(refused(old), "the old port still accepts");
    // The server of the old socket is stopped with it.
    assert!(wait_pid_gone(server, Duration::from_secs(5)));
    let mut rest = Vec::new();
    let eof = std::io::Read::read_to_end(&mut held, &mut rest);
    assert!(eof.is_ok(), "the connection is still held open: {eof:?}");
    let mut c = connect("127.0.0.1", new);
    assert_eq!(read_line(&mut c), "up\n");
}

#[test]
fn ten_reloads_refuse_no_connection_to_an_unchanged_service() {
    let (port, extra) = (free_port(), free_port());
    let base = format!("{LOG_DEFAULTS}{}", echo_service("steady", port));
    let d = Daemon::start(&base);
    let done = Arc::new(AtomicBool::new(false));
    let client = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failures) = (0usize, Vec::new());
            // At least 300 connections, and on until the reloads are over (bounded).
            while (ok + failures.len() < 300 || !done.load(Ordering::SeqCst))
                && ok + failures.len() < 20_000
            {
                let r = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(10)))?;
                    s.write_all(b"ping\n")?;
                    s.shutdown(std::net::Shutdown::Write)?;
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(&mut s, &mut out)?;
                    Ok(out)
                });
                match r {
                    Ok(out) if out == b"ping\n" => ok += 1,
                    other => failures.push(format!("{other:?}")),
                }
            }
            (ok, failures)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..10 {
        // Alternate between two configurations so each reload has work to do.
        if i % 2 == 0 {
            rewrite(&d, &format!("{base}{}", echo_service("extra", extra)));
        } else {
            rewrite(&d, &base);
        }
        d.reload();
        std::thread::sleep(Duration::from_millis(20));
        assert!(Instant::now() < deadline, "reloads hung");
    }
    done.store(true, Ordering::SeqCst);
    let (ok, failures) = client.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    assert!(ok >= 300, "{ok}");
    assert_eq!(d.daemon_log().matches("Reconfigured:").count(), 10);
}

#[test]
fn reload_with_the_main_file_missing_keeps_everything_running() {
    let port = free_port();
    let d = Daemon::start(&format!("{LOG_DEFAULTS}{}", echo_service("e", port)));
    let mut held = connect("127.0.0.1", port);
    std::fs::rename(&d.conf, d.path("moved-away")).unwrap();
    d.signal(libc_sig::SIGHUP);
    let log = d.wait_log("reconfiguration failed", Duration::from_secs(10));
    assert!(!log.contains("Reconfigured:"), "{log}");
    assert!(log.contains("keeping the current configuration"), "{log}");
    assert_eq!(tcp_exchange(port, b"alive\n"), b"alive\n");
    echo_roundtrip(&mut held, "held\n");
    // Once the file is back, reloading works again.
    std::fs::rename(d.path("moved-away"), &d.conf).unwrap();
    d.reload();
}

#[test]
fn reload_with_one_invalid_service_keeps_it_on_its_old_definition() {
    let (pa, pb) = (free_port(), free_port());
    let d = Daemon::start(&format!(
        "{LOG_DEFAULTS}{}{}",
        echo_words("a", pa, "a-old"),
        echo_words("b", pb, "b-old")
    ));
    let broken = echo_words("a", pa, "a-new").replace("\twait = no\n", "\twait = maybe\n");
    let conf = format!("{LOG_DEFAULTS}{broken}{}", echo_words("b", pb, "b-new"));
    let line = 1 + conf
        .lines()
        .position(|l| l.contains("wait = maybe"))
        .unwrap();
    rewrite(&d, &conf);
    d.reload();
    let log = d.daemon_log();
    let at = format!("{}:{line}:", d.conf.display());
    let diag = log
        .lines()
        .find(|l| l.contains(&at))
        .unwrap_or_else(|| panic!("no diagnostic at {at}:\n{log}"));
    let col = diag[diag.find(&at).unwrap() + at.len()..]
        .split(':')
        .next()
        .unwrap();
    assert!(col.parse::<u32>().is_ok_and(|c| c > 0), "{diag}");
    assert!(diag.contains("error"), "{diag}");
    assert!(diag.contains("maybe"), "{diag}");
    assert!(
        log.contains("service a: new definition is invalid; keeping the previous one"),
        "{log}"
    );
    assert_eq!(tcp_exchange(pa, b""), b"a-old\n");
    assert_eq!(tcp_exchange(pb, b""), b"b-new\n");
}

#[test]
fn log_rotation_with_mv_and_sighup_writes_to_a_fresh_file() {
    let port = free_port();
    let d = Daemon::start(&format!("{LOG_DEFAULTS}{}", echo_words("rot", port, "r")));
    assert_eq!(tcp_exchange(port, b""), b"r\n");
    d.wait_file("svc.log", "EXIT: rot", Duration::from_secs(5));
    std::fs::rename(d.path("svc.log"), d.path("svc.log.1")).unwrap();
    d.reload();
    assert_eq!(tcp_exchange(port, b""), b"r\n");
    let fresh = d.wait_file("svc.log", "EXIT: rot", Duration::from_secs(5));
    assert_eq!(fresh.matches("START: rot").count(), 1, "{fresh}");
    let old = d.read("svc.log.1");
    assert_eq!(old.matches("START: rot").count(), 1, "{old}");
}
