//! External servers: nowait and wait=yes, argv, environment, descriptors, failures.
use std::io::Read;
use std::time::Duration;

use crate::harness::*;

#[test]
fn nowait_server_gets_the_connection_on_fds_0_1_2_and_nothing_else() {
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service("probe", port, &probe(), "\tserver_args = one two\n")
    );
    let d = Daemon::start(&conf);
    let out = tcp_exchange(port, b"");
    let v = probe_values(&out);
    assert_eq!(probe_get(&v, "argv[0]").as_deref(), Some("superd-probe"));
    assert_eq!(probe_get(&v, "argv[1]").as_deref(), Some("one"));
    assert_eq!(probe_get(&v, "argv[2]").as_deref(), Some("two"));
    assert_eq!(
        probe_all(&v, "fd"),
        PROBE_STDIO_ONLY,
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(probe_get(&v, "sid_is_pid").as_deref(), Some("1"));
    assert_eq!(probe_get(&v, "SigIgn:").as_deref(), None);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("SigIgn:\t0000000000000000"), "{text}");
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
    assert_eq!(probe_get(&v, "cwd").as_deref(), Some("/"));
    assert_eq!(probe_get(&v, "peer_family").as_deref(), Some("inet"));
    let env = probe_all(&v, "env");
    assert!(
        env.contains(&"REMOTE_HOST=127.0.0.1".to_string()),
        "{env:?}"
    );
    let log = d.wait_file("svc.log", "EXIT: probe status=0", Duration::from_secs(5));
    assert!(log.contains("START: probe pid="), "{log}");
    assert!(log.contains(" from=127.0.0.1"), "{log}");
}

#[test]
fn dual_stack_default_shows_ipv4_clients_as_ipv4() {
    let port = free_port();
    // No bind: IPv6 wildcard, dual stack (xinetd's Linux default).
    let conf = format!(
        "{LOG_DEFAULTS}service dual\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = {}\n\tport = {port}\n}}\n",
        probe().display()
    );
    let d = Daemon::start(&conf);
    // Read without half-closing first: the IPv4 conversion needs an established connection.
    let mut s = connect("127.0.0.1", port);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let v = probe_values(&out);
    assert!(probe_all(&v, "env").contains(&"REMOTE_HOST=127.0.0.1".to_string()));
    // The accepted socket is converted to AF_INET where the kernel still has IPV6_ADDRFORM;
    // elsewhere the server sees the mapped form (README, "Addresses").
    let family = if superd::listen::ipv4_form_supported() {
        "inet"
    } else {
        "inet6"
    };
    assert_eq!(probe_get(&v, "peer_family").as_deref(), Some(family));
    if std::net::TcpStream::connect(("::1", port)).is_ok() {
        d.wait_file("svc.log", "from=::1", Duration::from_secs(5));
    }
    d.wait_file("svc.log", "from=127.0.0.1", Duration::from_secs(5));
}

#[test]
fn environment_follows_env_and_passenv() {
    let port = free_port();
    let port2 = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}{}",
        ext_service(
            "only",
            port,
            &probe(),
            "\tpassenv = PATH\n\tenv = ONLY=this OTHER=x=y\n"
        ),
        ext_service("all", port2, &probe(), "\tenv = EXTRA=1\n")
    );
    let d = Daemon::start(&conf);
    let v = probe_values(&tcp_exchange(port, b""));
    let mut env = probe_all(&v, "env");
    env.sort();
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        env,
        [
            "ONLY=this".to_string(),
            "OTHER=x=y".into(),
            format!("PATH={path}"),
            "REMOTE_HOST=127.0.0.1".into()
        ]
    );
    // Without passenv: superd's whole environment, plus env, plus REMOTE_HOST.
    let v = probe_values(&tcp_exchange(port2, b""));
    let env = probe_all(&v, "env");
    assert!(env.contains(&"EXTRA=1".to_string()));
    assert!(env.contains(&format!("PATH={path}")));
    drop(d);
}

#[test]
fn nameinargs_takes_argv0_from_server_args_in_any_order() {
    let port = free_port();
    // server_args before flags: xinetd crashes on this order; superd must not.
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service(
            "nia",
            port,
            &probe(),
            "\tserver_args = fakename one\n\tflags = NAMEINARGS\n"
        )
    );
    let _d = Daemon::start(&conf);
    let v = probe_values(&tcp_exchange(port, b""));
    assert_eq!(probe_get(&v, "argv[0]").as_deref(), Some("fakename"));
    assert_eq!(probe_get(&v, "argv[1]").as_deref(), Some("one"));
    assert_eq!(probe_get(&v, "argv[2]"), None);
}

#[test]
fn wait_yes_stream_server_receives_the_listening_socket() {
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}service ws\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        probe().display()
    );
    let d = Daemon::start(&conf);
    // The probe does not accept: it reports on the listening socket and exits. The pending
    // connection stays queued, so superd starts it again; connect once and check the log.
    let _c = connect("127.0.0.1", port);
    let log = d.wait_file("svc.log", "START: ws pid=", Duration::from_secs(5));
    assert!(log.contains("from=<no address>"), "{log}");
}

#[test]
fn wait_yes_stream_server_that_accepts_serves_clients_one_server_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    // A Python one-shot server: accept one connection on fd 0, greet, exit.
    let py = script(
        dir.path(),
        "accept1",
        "exec python3 -c 'import socket,os\ns=socket.socket(fileno=0)\nc,_=s.accept()\nc.sendall(b\"served by %d\\n\" % os.getpid())\nc.close()'",
    );
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}service wsa\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        py.display()
    );
    let d = Daemon::start(&conf);
    let a = tcp_exchange(port, b"");
    let b = tcp_exchange(port, b"");
    assert!(
        a.starts_with(b"served by "),
        "{}",
        String::from_utf8_lossy(&a)
    );
    assert!(b.starts_with(b"served by "));
    assert_ne!(
        a, b,
        "each client after the first server exits gets a new server"
    );
    d.wait_file_count("svc.log", "EXIT: wsa status=0", 2, Duration::from_secs(5));
}

#[test]
fn wait_yes_dgram_server_gets_the_bound_socket() {
    let dir = tempfile::tempdir().unwrap();
    let py = script(
        dir.path(),
        "udpsrv",
        "exec python3 -c 'import socket\ns=socket.socket(fileno=0)\nd,a=s.recvfrom(100)\ns.sendto(b\"got \"+d,a)'",
    );
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}service wd\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        py.display()
    );
    let d = Daemon::start(&conf);
    assert_eq!(udp_exchange(port, b"one").as_deref(), Some(&b"got one"[..]));
    d.wait_file("svc.log", "EXIT: wd status=0", Duration::from_secs(5));
    assert_eq!(udp_exchange(port, b"two").as_deref(), Some(&b"got two"[..]));
    let log = d.read("svc.log");
    assert!(
        log.contains("START: wd pid=") && log.contains("from=127.0.0.1"),
        "{log}"
    );
}

#[test]
fn dgram_server_that_never_reads_is_throttled_not_respawned_in_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let srv = script(dir.path(), "lazy", "exit 0");
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}service lazy\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\twait = yes\n\tuser = root\n\tserver = {}\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        srv.display()
    );
    let d = Daemon::start(&conf);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"never read", ("127.0.0.1", port)).unwrap();
    d.wait_log("respawn loop", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let starts = d.read("svc.log").matches("START: lazy").count();
    assert!(starts <= 10, "{starts} starts for one datagram");
}

#[test]
fn missing_server_binary_at_run_time_is_logged_and_service_continues() {
    let dir = tempfile::tempdir().unwrap();
    let srv = script(dir.path(), "vanishing", "echo ok");
    let port = free_port();
    let conf = format!("{LOG_DEFAULTS}{}", ext_service("van", port, &srv, ""));
    let d = Daemon::start(&conf);
    assert_eq!(tcp_exchange(port, b""), b"ok\n");
    std::fs::remove_file(&srv).unwrap();
    let mut s = connect("127.0.0.1", port);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty());
    let log = d.wait_log("could not start", Duration::from_secs(5));
    assert!(log.contains("No such file or directory"), "{log}");
    // It keeps serving once the binary is back.
    script(dir.path(), "vanishing", "echo back");
    assert_eq!(tcp_exchange(port, b""), b"back\n");
}

#[test]
fn no_zombies_and_no_leaked_descriptors_after_1000_connections() {
    let port = free_port();
    let conf = format!(
        "{LOG_DEFAULTS}{}",
        ext_service(
            "t",
            port,
            Path::new("/bin/true"),
            // Without it, xinetd's default cps (50 a second) pauses the service mid-test.
            "\tcps = 0 0\n",
        )
    );
    let d = Daemon::start(&conf);
    let before = d.fds().len();
    for _ in 0..1000 {
        let _ = tcp_exchange(port, b"");
    }
    d.wait_file_count("svc.log", "EXIT: t", 1000, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(200));
    let zombies: Vec<_> = d
        .children()
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies: {zombies:?}");
    assert_eq!(d.fds().len(), before, "descriptors: {:?}", d.fds());
}

use std::path::Path;
