//! hosts.allow / hosts.deny end to end (xinetd.md §5 #30): the daemon name xinetd uses,
//! NOLIBWRAP, the libwrap attribute, and edits taking effect without a reload.
use std::time::Duration;

use crate::harness::*;
use crate::require_root;

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

/// The hosts_options(5) that change the server: setenv (with % expansions), umask, nice,
/// user.group, keepalive, linger, and banners sent before the server's output, CR LF.
#[test]
fn options_of_the_matched_rule_change_the_server_it_starts() {
    require_root!();
    let port = free_port();
    let conf = format!("{LOG_DEFAULTS}{}", ext_service("opts", port, &probe(), ""));
    let d = Daemon::prepare(&conf);
    let banners = d.path("banners");
    std::fs::create_dir_all(&banners).unwrap();
    std::fs::write(banners.join("superd-probe"), "Welcome %a\nsecond line\n").unwrap();
    d.write(
        "hosts.allow",
        &format!(
            "superd-probe: 127.0.0.1: setenv GREETING hello-%a: umask 027: nice 7: user nobody.nogroup: keepalive: linger 5: banners {}\n",
            banners.display()
        ),
    );
    let d = d.launch(&[]);
    let out = tcp_exchange(port, b"");
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(
        text.starts_with("Welcome 127.0.0.1\r\nsecond line\r\n"),
        "banner first, LF sent as CR LF: {text}"
    );
    let v = probe_values(&out);
    let env = probe_all(&v, "env");
    assert!(
        env.contains(&"GREETING=hello-127.0.0.1".to_string()),
        "{env:?}"
    );
    assert_eq!(probe_get(&v, "umask").as_deref(), Some("027"));
    assert_eq!(probe_get(&v, "nice").as_deref(), Some("7"));
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    assert_eq!(
        probe_get(&v, "uid").as_deref(),
        Some(
            format!(
                "{} gid={} euid={} egid={} ngroups=0",
                nobody.uid, nogroup.gid, nobody.uid, nogroup.gid
            )
            .as_str()
        ),
        "{v:?}"
    );
    assert_eq!(probe_get(&v, "keepalive").as_deref(), Some("1"));
    assert_eq!(probe_get(&v, "linger").as_deref(), Some("1/5"));
    drop(d);
}

/// Without matching options nothing changes; an unknown `user` in the matched rule refuses the
/// client with a logged reason, as libwrap's failed option ends the connection; `severity`
/// changes the level of the refusal line; `aclexec` (not carried out) refuses.
#[test]
fn failing_options_refuse_and_severity_sets_the_level() {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let conf = format!(
        "{LOG_DEFAULTS}{}{}{}",
        ext_service("plain", p1, &probe(), "\tlibwrap = plain\n"),
        ext_service("baduser", p2, &probe(), "\tlibwrap = baduser\n"),
        ext_service("acl", p3, &probe(), "\tlibwrap = acl\n"),
    );
    let d = Daemon::prepare(&conf);
    d.write(
        "hosts.allow",
        "baduser: ALL: user no-such-user-here\nacl: ALL: aclexec /bin/true\n",
    );
    d.write("hosts.deny", "plain: 127.0.0.2: severity crit\n");
    let d = d.launch(&[]);
    let v = probe_values(&tcp_exchange(p1, b""));
    assert_eq!(probe_get(&v, "umask").as_deref(), Some("022"), "{v:?}");
    assert!(!probe_all(&v, "env")
        .iter()
        .any(|e| e.starts_with("GREETING")));
    assert_eq!(tcp_exchange(p2, b""), b"");
    d.wait_log(
        "baduser: unknown user: \"no-such-user-here\"",
        Duration::from_secs(5),
    );
    assert_eq!(tcp_exchange(p3, b""), b"");
    d.wait_log(
        "'aclexec /bin/true' is not supported",
        Duration::from_secs(5),
    );
    assert_eq!(exchange_from("127.0.0.2", p1), b"");
    let log = d.wait_log(
        "libwrap refused connection to plain (libwrap=plain) from 127.0.0.2",
        Duration::from_secs(5),
    );
    let line = log
        .lines()
        .find(|l| l.contains("libwrap refused connection to plain"))
        .unwrap();
    assert!(line.contains("CRIT"), "{line}");
}

/// `rfc931` makes superd ask the client's identd first, so `%u` has the user: here no identd
/// answers on 127.0.0.1:113, so `%u` is "unknown" and the NOID line is not required.
#[test]
fn rfc931_asks_ident_before_the_check_and_u_expands() {
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service("idsvc", port, &probe(), "\tlibwrap = idsvc\n")
    );
    let d = Daemon::prepare(&conf);
    d.write("hosts.allow", "idsvc: ALL: rfc931: setenv WHO %u@%a\n");
    let d = d.launch(&[]);
    let v = probe_values(&tcp_exchange(port, b""));
    let env = probe_all(&v, "env");
    assert!(
        env.contains(&"WHO=unknown@127.0.0.1".to_string()),
        "{env:?}"
    );
    drop(d);
}

/// `@netgroup` client patterns ask the system's netgroups (NSS `innetgr`) with the client's
/// name. The daemon runs in a private mount namespace with an overlay on /etc holding its own
/// nsswitch.conf (netgroups and hosts from files), netgroup and hosts files; the machine's
/// /etc is untouched.
#[test]
fn netgroup_patterns_match_members_by_name() {
    require_root!();
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service(
            "ng",
            port,
            std::path::Path::new("/bin/echo"),
            "\tserver_args = served\n\tlibwrap = ngsvc\n"
        )
    );
    let d = Daemon::prepare(&conf);
    // An overlay over /etc, inside the namespace only: these files replace or add to the
    // machine's (/etc/netgroup does not exist on most machines, so a bind mount has no target).
    let upper = d.path("etc-upper");
    let work = d.path("etc-work");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        upper.join("nsswitch.conf"),
        "hosts: files\nnetgroup: files\n",
    )
    .unwrap();
    std::fs::write(
        upper.join("netgroup"),
        "trusted (five.example.test,,) (other.example.test,,)\n",
    )
    .unwrap();
    std::fs::write(
        upper.join("hosts"),
        "127.0.0.1 localhost\n127.0.0.5 five.example.test\n127.0.0.6 six.example.test\n",
    )
    .unwrap();
    d.write("hosts.allow", "ngsvc: @trusted\n");
    d.write("hosts.deny", "ngsvc: ALL\n");
    let wrap = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && exec \"$0\" \"$@\"",
        upper.display(),
        work.display()
    );
    let d = d.launch_wrapped(&["unshare", "-m", "sh", "-c", &wrap], &[]);
    assert_eq!(exchange_from("127.0.0.5", port), b"served\n", "a member");
    assert_eq!(exchange_from("127.0.0.6", port), b"", "not a member");
    d.wait_log(
        "libwrap refused connection to ng (libwrap=ngsvc) from 127.0.0.6",
        Duration::from_secs(5),
    );
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
