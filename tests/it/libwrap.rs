//! hosts.allow / hosts.deny end to end (xinetd.md §5 #30): the daemon name xinetd uses,
//! NOLIBWRAP, the libwrap attribute, and edits taking effect without a reload.
use std::time::Duration;

use crate::harness::*;

fn conf(p_echo: u16, p_ext: u16, p_named: u16, p_nolw: u16) -> String {
    format!(
        "{LOG_DEFAULTS}service echo\n{{\n\tid = myecho\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {p_echo}\n\tbind = 127.0.0.1\n}}\n{}{}{}",
        ext_service("ext", p_ext, std::path::Path::new("/bin/echo"), "\tserver_args = served\n"),
        ext_service("named", p_named, std::path::Path::new("/bin/echo"), "\tserver_args = served\n\tlibwrap = libwrapname\n"),
        ext_service("nolw", p_nolw, std::path::Path::new("/bin/echo"), "\tserver_args = served\n\tflags = NOLIBWRAP\n"),
    )
}

#[test]
fn hosts_deny_all_with_allow_exceptions_decides_by_xinetds_daemon_names() {
    let (p_echo, p_ext, p_named, p_nolw) = (free_port(), free_port(), free_port(), free_port());
    let d = Daemon::prepare(&conf(p_echo, p_ext, p_named, p_nolw));
    d.write("hosts.deny", "ALL: ALL\n");
    d.write("hosts.allow", "libwrapname: 127.0.0.1\necho: 127.0.0.1\n");
    let d = d.launch(&[]);
    // /bin/echo is checked as "echo" (allowed here), and so is the internal service with
    // id myecho (checked by its name).
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n");
    assert_eq!(tcp_exchange(p_echo, b"hi"), b"hi");
    assert_eq!(tcp_exchange(p_named, b""), b"served\n");
    assert_eq!(tcp_exchange(p_nolw, b""), b"served\n");

    // Edits apply to the next connection, without a reload.
    d.write("hosts.allow", "libwrapname: 127.0.0.1\n");
    std::thread::sleep(Duration::from_millis(20)); // a new mtime even on coarse clocks
    assert_eq!(tcp_exchange(p_ext, b""), b"");
    assert_eq!(tcp_exchange(p_echo, b"hi"), b"");
    assert_eq!(tcp_exchange(p_named, b""), b"served\n");
    assert_eq!(
        tcp_exchange(p_nolw, b""),
        b"served\n",
        "NOLIBWRAP skips the files"
    );
    let log = d.wait_file(
        "svc.log",
        "FAIL: myecho libwrap from=127.0.0.1",
        Duration::from_secs(5),
    );
    assert!(log.contains("FAIL: ext libwrap from=127.0.0.1"), "{log}");
    let daemon_log = d.wait_log(
        "libwrap refused connection to ext (libwrap=echo) from 127.0.0.1",
        Duration::from_secs(5),
    );
    assert!(
        daemon_log.contains("libwrap refused connection to myecho (libwrap=echo)"),
        "{daemon_log}"
    );
    // A denied external service started nothing.
    assert!(
        !log.contains("START: ext pid=") || log.matches("START: ext pid=").count() == 1,
        "{log}"
    );
}

#[test]
fn a_bad_option_in_a_matching_rule_denies_and_is_reported_with_its_line() {
    let (p_echo, p_ext, p_named, p_nolw) = (free_port(), free_port(), free_port(), free_port());
    let d = Daemon::prepare(&conf(p_echo, p_ext, p_named, p_nolw));
    d.write("hosts.allow", "# comment\necho: ALL: frobnicate\n");
    let d = d.launch(&[]);
    assert_eq!(tcp_exchange(p_ext, b""), b"");
    d.wait_log("hosts.allow:2", Duration::from_secs(5));
    assert_eq!(
        tcp_exchange(p_named, b""),
        b"served\n",
        "rules for other daemons do not apply"
    );
}

#[test]
fn spawn_runs_beside_the_decision_and_twist_replaces_the_server() {
    let (p_echo, p_ext, p_named, p_nolw) = (free_port(), free_port(), free_port(), free_port());
    let d = Daemon::prepare(&conf(p_echo, p_ext, p_named, p_nolw));
    let out = d.path("spawned");
    d.write(
        "hosts.allow",
        &format!(
            "echo: 127.0.0.1: spawn (echo spawned %d %a > {})\n",
            out.display()
        ),
    );
    d.write(
        "hosts.deny",
        "libwrapname: ALL: twist /bin/echo go away %a\n",
    );
    let d = d.launch(&[]);
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n");
    d.wait_file("spawned", "spawned echo 127.0.0.1", Duration::from_secs(5));
    // The twisted client gets the command's output instead of the server's.
    assert_eq!(tcp_exchange(p_named, b""), b"go away 127.0.0.1\n");
}

#[test]
fn hosts_files_replaced_by_a_rename_or_deleted_apply_to_the_next_connection() {
    let (p_echo, p_ext, p_named, p_nolw) = (free_port(), free_port(), free_port(), free_port());
    let d = Daemon::prepare(&conf(p_echo, p_ext, p_named, p_nolw));
    let d = d.launch(&[]);
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n");
    // Files are looked at once per wake-up of the service: a connection made while the
    // previous one is being refused may be accepted in the same wake-up, so wait a little.
    let settle = || std::thread::sleep(Duration::from_millis(20));
    // As editors and configuration tools save: a new file renamed over the old name.
    d.write("hosts.deny.new", "ALL: ALL\n");
    std::fs::rename(d.path("hosts.deny.new"), d.path("hosts.deny")).unwrap();
    settle();
    assert_eq!(tcp_exchange(p_ext, b""), b"", "replaced by a rename");
    // The file that replaced it is watched in turn.
    d.write("hosts.allow", "echo: 127.0.0.1\n");
    settle();
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n", "edited in place");
    std::fs::remove_file(d.path("hosts.allow")).unwrap();
    settle();
    assert_eq!(tcp_exchange(p_ext, b""), b"", "deleted");
    std::fs::remove_file(d.path("hosts.deny")).unwrap();
    settle();
    assert_eq!(tcp_exchange(p_ext, b""), b"served\n", "both gone");
}
