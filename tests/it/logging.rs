//! Logging end to end: service events to syslog and to size-limited files, superd's own
//! messages to syslog, in the formats xinetd writes.
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// A syslog socket of our own, read with a timeout.
fn syslog_socket(dir: &std::path::Path) -> (UnixDatagram, std::path::PathBuf) {
    let path = dir.join("log.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (sock, path)
}

/// superd in the foreground on `conf`, its own messages to the syslog socket `path` at
/// facility local5, plus `extra` options; stopped by pid when the guard goes.
fn start_on_syslog(
    path: &std::path::Path,
    conf: &std::path::Path,
    extra: &[&std::ffi::OsStr],
) -> (std::process::Child, PidGuard) {
    let child = Command::new(BIN)
        .args(["-dontfork", "-syslog", "local5", "--syslog-socket"])
        .arg(path)
        .args(extra)
        .arg("-f")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = PidGuard(child.id() as i32);
    (child, guard)
}

fn recv_until(sock: &UnixDatagram, needle: &str) -> String {
    let mut buf = vec![0u8; 4096];
    for _ in 0..200 {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if line.contains(needle) {
                    return line;
                }
            }
            Err(e) => panic!("no syslog line containing {needle:?}: {e}"),
        }
    }
    panic!("no syslog line containing {needle:?}");
}

#[test]
fn service_events_go_to_syslog_with_the_services_facility_and_level() {
    let sockdir = tempfile::tempdir().unwrap();
    let (sock, path) = syslog_socket(sockdir.path());
    let port = free_port();
    let conf = format!(
        "service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n\tlog_type = SYSLOG local3 notice\n\tlog_on_success = HOST PID\n}}\n"
    );
    let _d = Daemon::start_with(&conf, &["--syslog-socket", path.to_str().unwrap()]);
    tcp_exchange(port, b"");
    let line = recv_until(&sock, "START: daytime");
    // <PRI> = local3 (19 << 3 = 152) | notice (5) = 157; RFC 3164 header; xinetd's entry text.
    assert!(line.starts_with("<157>"), "{line}");
    assert!(
        line.ends_with("START: daytime pid=0 from=127.0.0.1"),
        "{line}"
    );
    assert!(line.contains(" superd["), "{line}");
}

#[test]
fn own_messages_go_to_syslog_with_the_facility_given_by_dash_syslog() {
    let sockdir = tempfile::tempdir().unwrap();
    let (sock, path) = syslog_socket(sockdir.path());
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("c.conf");
    std::fs::write(&conf, "").unwrap();
    let (mut child, _guard) = start_on_syslog(&path, &conf, &[]);
    let line = recv_until(&sock, "Started working: 0 available services");
    // local5 (21 << 3 = 168) | notice (5) = 173.
    assert!(line.starts_with("<173>"), "{line}");
    unsafe_kill(child.id() as i32, libc_sig::SIGTERM);
    assert_eq!(wait_bounded(&mut child, Duration::from_secs(10)), Some(0));
}

#[test]
fn file_log_stops_at_its_hard_limit_and_says_so_once() {
    let port = free_port();
    let conf = format!(
        "service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n\tlog_type = FILE {{dir}}/lim.log 300 500\n\tlog_on_success = HOST PID\n}}\n"
    );
    let d = Daemon::start(&conf);
    for _ in 0..30 {
        tcp_exchange(port, b"");
    }
    d.wait_log("exceeded hard limit", Duration::from_secs(5));
    let size = std::fs::metadata(d.path("lim.log")).unwrap().len();
    assert!(size <= 500, "log grew to {size} bytes past its hard limit");
    assert!(size > 300, "{size}");
    let log = d.daemon_log();
    assert_eq!(log.matches("exceeded hard limit").count(), 1, "{log}");
    assert_eq!(log.matches("exceeded soft limit").count(), 1, "{log}");
    // Every line written is whole and in xinetd's file format.
    for line in d.read("lim.log").lines() {
        let (stamp, entry) = line.split_once(": ").unwrap();
        assert!(
            stamp.contains('@') && stamp.matches('/').count() == 2,
            "{line}"
        );
        assert!(
            entry.starts_with("START: daytime pid=0 from=127.0.0.1"),
            "{line}"
        );
    }
}

#[test]
fn nothing_is_logged_without_log_type_even_with_log_flags() {
    let port = free_port();
    let conf = format!(
        "defaults\n{{\n\tlog_on_success = PID HOST\n}}\nservice daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n"
    );
    let d = Daemon::start(&conf);
    tcp_exchange(port, b"");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!d.daemon_log().contains("START"), "{}", d.daemon_log());
    let files: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with("svc.log")),
        "{files:?}"
    );
}

/// A hosts_options `severity mail.crit` sends the refusal line to syslog at that facility and
/// level instead of superd's own (here `-syslog local5`).
#[test]
fn severity_option_sets_facility_and_level_of_the_refusal_line() {
    let sockdir = tempfile::tempdir().unwrap();
    let (sock, path) = syslog_socket(sockdir.path());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n"
        ),
    )
    .unwrap();
    let deny = dir.path().join("hosts.deny");
    std::fs::write(&deny, "daytime: ALL: severity mail.crit\n").unwrap();
    let allow = dir.path().join("hosts.allow");
    let extra = [
        "--hosts-allow".as_ref(),
        allow.as_os_str(),
        "--hosts-deny".as_ref(),
        deny.as_os_str(),
    ];
    let (mut child, _guard) = start_on_syslog(&path, &conf, &extra);
    recv_until(&sock, "Started working");
    assert_eq!(tcp_exchange(port, b""), b"");
    let line = recv_until(&sock, "libwrap refused connection to daytime");
    // mail (2 << 3 = 16) | crit (2) = 18.
    assert!(line.starts_with("<18>"), "{line}");
    unsafe_kill(child.id() as i32, libc_sig::SIGTERM);
    assert_eq!(wait_bounded(&mut child, Duration::from_secs(10)), Some(0));
}
