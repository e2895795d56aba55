//! The daemon's life: pidfile, signals (TERM, QUIT, INT, USR1), process and instance limits,
//! zero services, going into the background, and a relative `-f` path across reloads.
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::reload::{echo_service, start_pid};

/// A server that says "up" and then sleeps 30 s without exec'ing: the shell and its `sleep`
/// child both hold the connection.
fn sleeper(dir: &Path) -> std::path::PathBuf {
    script(dir, "sleeper", "echo up\nsleep 30\necho late")
}

/// Connects to `port` and waits for the sleeper's greeting: its server is then running.
fn running_client(d: &Daemon, id: &str, port: u16) -> (std::net::TcpStream, i32) {
    let mut c = connect("127.0.0.1", port);
    assert_eq!(read_line(&mut c), "up\n");
    let log = d.wait_file(
        "svc.log",
        &format!("START: {id} pid="),
        Duration::from_secs(5),
    );
    (c, start_pid(&log, id))
}

fn read_pidfile(path: &Path, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pidfile_holds_the_daemons_pid() {
    let port = free_port();
    let d = Daemon::start(&format!("{LOG_DEFAULTS}{}", echo_service("e", port)));
    assert_eq!(
        read_pidfile(&d.path("pid"), Duration::from_secs(5)),
        d.pid()
    );
}

#[test]
fn sigterm_stops_running_servers_and_exits_0_removing_the_pidfile() {
    let port = free_port();
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("slow", port, &srv, "")),
    );
    let mut d = d.launch(&[]);
    let (mut client, server) = running_client(&d, "slow", port);
    let _guard = PidGuard(server);
    assert!(d.path("pid").exists());
    let t = Instant::now();
    assert_eq!(d.stop(), Some(0), "exit status after SIGTERM");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(!d.path("pid").exists(), "pidfile left behind");
    assert!(wait_pid_gone(server, Duration::from_secs(5)));
    // Nothing of the server (not even the shell's `sleep`) holds the connection any more.
    let mut rest = Vec::new();
    let eof = client.read_to_end(&mut rest);
    assert!(eof.is_ok(), "the connection is still held open: {eof:?}");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let log = d.daemon_log();
    assert!(log.contains("stopping 1 running servers"), "{log}");
}

#[test]
fn sigint_in_the_foreground_behaves_like_sigterm() {
    let port = free_port();
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("slow", port, &srv, "")),
    );
    let mut d = d.launch(&[]);
    let (_client, server) = running_client(&d, "slow", port);
    let _guard = PidGuard(server);
    d.signal(libc_sig::SIGINT);
    let mut child = d.child.take().unwrap();
    assert_eq!(wait_bounded(&mut child, Duration::from_secs(10)), Some(0));
    assert!(!d.path("pid").exists(), "pidfile left behind");
    assert!(wait_pid_gone(server, Duration::from_secs(5)));
}

#[test]
fn sigquit_exits_at_once_leaving_servers_and_removing_the_pidfile() {
    let port = free_port();
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("slow", port, &srv, "")),
    );
    let mut d = d.launch(&[]);
    let (_client, server) = running_client(&d, "slow", port);
    let _guard = PidGuard(server);
    d.signal(libc_sig::SIGQUIT);
    let mut child = d.child.take().unwrap();
    assert_eq!(wait_bounded(&mut child, Duration::from_secs(5)), Some(0));
    assert!(!d.path("pid").exists(), "pidfile left behind");
    // As xinetd: nothing is killed (the guard stops the server).
    assert!(pid_alive(server), "SIGQUIT killed a server");
    assert!(refused(port));
}

#[test]
fn sigusr1_dumps_services_and_running_servers_with_pid_and_peer() {
    let (port, echo) = (free_port(), free_port());
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!(
            "{LOG_DEFAULTS}{}{}",
            ext_service("slow", port, &srv, ""),
            echo_service("e", echo)
        ),
    );
    let d = d.launch(&[]);
    let (client, server) = running_client(&d, "slow", port);
    let _guard = PidGuard(server);
    d.signal(libc_sig::SIGUSR1);
    let dump = d.wait_file("dump", "END OF DUMP", Duration::from_secs(10));
    assert!(dump.contains("service slow\n"), "{dump}");
    assert!(dump.contains("service e\n"), "{dump}");
    assert!(
        dump.contains(&format!("socket = stream 127.0.0.1:{echo}/tcp")),
        "{dump}"
    );
    assert!(dump.contains("Running servers: 1\n"), "{dump}");
    let peer = client.local_addr().unwrap();
    assert!(
        dump.contains(&format!("pid = {server} service = slow peer = {peer} ")),
        "{dump}"
    );
    d.wait_log("generated state dump in file", Duration::from_secs(5));
}

/// The dump shows what xinetd's shows per service beyond the definition: log limits, both flag
/// lists, and the server's environment (`passenv` then `env`), in a file only its owner reads.
#[test]
fn sigusr1_dump_lists_log_settings_and_environment() {
    use std::os::unix::fs::PermissionsExt;
    let (p_env, p_quiet) = (free_port(), free_port());
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE {{dir}}/svc.log 10K 20K\n\tlog_on_success = PID HOST\n\tlog_on_failure = HOST\n}}\n{}{}",
        ext_service(
            "withenv",
            p_env,
            Path::new("/bin/true"),
            "\tpassenv = HOME\n\tenv = GREETING=hello ANSWER=42\n\tlog_on_success += EXIT\n\tlog_on_failure += ATTEMPT\n"
        ),
        ext_service(
            "quiet",
            p_quiet,
            Path::new("/bin/true"),
            "\tpassenv =\n\tlog_on_success =\n"
        ),
    );
    let d = Daemon::prepare(&conf).launch_wrapped(&["env", "HOME=/home/dumped"], &[]);
    d.signal(libc_sig::SIGUSR1);
    let dump = d.wait_file("dump", "END OF DUMP", Duration::from_secs(10));
    let block = |id: &str| -> Vec<String> {
        dump.split(&format!("service {id}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no service {id} in\n{dump}"))
            .lines()
            .take_while(|l| l.starts_with('\t'))
            .map(|l| l.trim_start().to_string())
            .collect()
    };
    let withenv = block("withenv");
    let tail: Vec<&str> = withenv
        .iter()
        .rev()
        .take(6)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "log_limits  = soft 10240 hard 20480 (bytes)",
            "log_on_success = PID HOST EXIT",
            "log_on_failure = HOST ATTEMPT",
            "env         = HOME=/home/dumped",
            "env         = GREETING=hello",
            "env         = ANSWER=42",
        ],
        "{dump}"
    );
    assert!(
        withenv.contains(&"environment = 3 variables".to_string()),
        "{dump}"
    );
    let quiet = block("quiet");
    assert!(
        quiet.contains(&"log_on_success = (none)".to_string()),
        "{dump}"
    );
    assert!(
        quiet.contains(&"log_on_failure = HOST".to_string()),
        "{dump}"
    );
    assert!(!quiet.iter().any(|l| l.starts_with("env ")), "{dump}");
    let mode = std::fs::metadata(d.path("dump"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn limit_1_refuses_a_second_concurrent_server_with_process_limit() {
    let port = free_port();
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!("{LOG_DEFAULTS}{}", ext_service("lim", port, &srv, "")),
    );
    let d = d.launch(&["-limit", "1"]);
    let (_first, server) = running_client(&d, "lim", port);
    let _guard = PidGuard(server);
    let second = tcp_exchange(port, b"");
    assert!(second.is_empty(), "{}", String::from_utf8_lossy(&second));
    d.wait_file("svc.log", "FAIL: lim process_limit", Duration::from_secs(5));
    assert_eq!(d.read("svc.log").matches("START: lim").count(), 1);
}

#[test]
fn instances_1_refuses_a_second_concurrent_client_with_service_limit() {
    let port = free_port();
    let d = Daemon::prepare("");
    let srv = sleeper(d.dir.path());
    d.write(
        "superd.conf",
        &format!(
            "{LOG_DEFAULTS}{}",
            ext_service("inst", port, &srv, "\tinstances = 1\n")
        ),
    );
    let d = d.launch(&[]);
    let (_first, server) = running_client(&d, "inst", port);
    let _guard = PidGuard(server);
    let second = tcp_exchange(port, b"");
    assert!(second.is_empty(), "{}", String::from_utf8_lossy(&second));
    d.wait_file(
        "svc.log",
        "FAIL: inst service_limit",
        Duration::from_secs(5),
    );
}

#[test]
fn zero_services_in_the_foreground_keeps_running() {
    let mut d = Daemon::start(LOG_DEFAULTS);
    d.wait_log(
        "Started working: 0 available services",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    let child = d.child.as_mut().unwrap();
    assert!(child.try_wait().unwrap().is_none(), "superd exited");
    // Still listening to signals: a dump, then a clean stop.
    d.signal(libc_sig::SIGUSR1);
    d.wait_file("dump", "Services: 0", Duration::from_secs(5));
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn background_mode_launcher_exits_0_and_the_daemon_keeps_serving() {
    let port = free_port();
    let d = Daemon::prepare(&format!("{LOG_DEFAULTS}{}", echo_service("bg", port)));
    let mut launcher = Command::new(BIN)
        .arg("-f")
        .arg(&d.conf)
        .arg("-filelog")
        .arg(d.path("daemon.log"))
        .arg("--pidfile")
        .arg(d.path("pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut launcher, Duration::from_secs(10));
    if status.is_none() {
        let _ = launcher.kill();
        let _ = launcher.wait();
    }
    assert_eq!(status, Some(0), "the launching process");
    let pid = read_pidfile(&d.path("pid"), Duration::from_secs(10));
    let guard = PidGuard(pid);
    assert_ne!(pid, launcher.id() as i32, "the daemon is a new process");
    d.wait_log(
        "Started working: 1 available services",
        Duration::from_secs(10),
    );
    assert!(pid_alive(pid));
    assert_eq!(tcp_exchange(port, b"bg\n"), b"bg\n");
    // Not in the foreground, SIGINT is ignored (as xinetd without -d).
    unsafe_kill(pid, libc_sig::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    assert!(pid_alive(pid), "SIGINT stopped a background daemon");
    assert_eq!(tcp_exchange(port, b"still\n"), b"still\n");
    unsafe_kill(pid, libc_sig::SIGTERM);
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "daemon {pid} did not stop"
    );
    drop(guard);
    assert!(!d.path("pid").exists(), "pidfile left behind");
    assert!(refused(port));
}

#[test]
fn relative_config_path_still_reloads_after_sighup() {
    let (p1, p2) = (free_port(), free_port());
    let mut d = Daemon::prepare(&format!("{LOG_DEFAULTS}{}", echo_service("one", p1)));
    // `-f superd.conf` relative to the working directory superd was started in (xinetd's
    // chdir("/") made this fail on SIGHUP).
    let child = Command::new(BIN)
        .current_dir(d.dir.path())
        .args(["-dontfork", "-f", "superd.conf", "-filelog", "daemon.log"])
        .args(["--dump-file", "dump", "--pidfile", "pid"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.path("stderr")).unwrap())
        .spawn()
        .unwrap();
    d.child = Some(child);
    d.wait_log("Started working", Duration::from_secs(10));
    d.write(
        "superd.conf",
        &format!(
            "{LOG_DEFAULTS}{}{}",
            echo_service("one", p1),
            echo_service("two", p2)
        ),
    );
    d.reload();
    assert!(!d.daemon_log().contains("reconfiguration failed"));
    assert_eq!(tcp_exchange(p2, b"two\n"), b"two\n");
    assert_eq!(tcp_exchange(p1, b"one\n"), b"one\n");
    // The relative dump file lands in the start directory too.
    d.signal(libc_sig::SIGUSR1);
    d.wait_file("dump", "END OF DUMP", Duration::from_secs(5));
}
