//! Configuration as `superd --check` reports it: the resolved table on a clean file, and one
//! `file:line:col: error: ...` line per mistake (reference §5 #2, #7, #9, #11, #12, #16, #17).
//! Ends with the same mistakes at start-up: the bad service is skipped, the others answer.
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::*;

/// A temporary directory with a configuration file and a small services database.
struct Check {
    dir: tempfile::TempDir,
}

const NOT_ROOT: &str = "superd is not running as root; user and group are not applied";

const SERVICES: &str = "echo\t\t7/tcp\necho\t\t7/udp\nknown\t\t2345/tcp\n";

impl Check {
    fn new() -> Check {
        let c = Check {
            dir: tempfile::tempdir().unwrap(),
        };
        c.write("services", SERVICES);
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text.replace("{dir}", self.dir.path().to_str().unwrap())).unwrap();
        p
    }

    /// Writes `conf` as superd.conf and runs `superd --check` on it. Returns stderr without
    /// the warnings a non-root run adds for every external service, so the tests read the
    /// same as root and as a normal user.
    fn run(&self, conf: &str) -> (i32, String, String) {
        let f = self.write("superd.conf", conf);
        let services = self.path("services");
        let (code, out, err) = run_superd(&[
            "--check",
            "-f",
            f.to_str().unwrap(),
            "--services-file",
            services.to_str().unwrap(),
        ]);
        let err = err
            .lines()
            .filter(|l| !l.ends_with(NOT_ROOT))
            .map(|l| format!("{l}\n"))
            .collect();
        (code, out, err)
    }

    /// `superd.conf:LINE:COL` as diagnostics spell it.
    fn at(&self, line: u32, col: u32) -> String {
        format!("{}:{line}:{col}", self.path("superd.conf").display())
    }
}

/// An external UNLISTED stream service; `extra` lines go last.
fn ext(id: &str, port: u16, extra: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\tport = {port}\n\tbind = 127.0.0.1\n{extra}}}\n"
    )
}

/// Asserts a failed check whose stderr holds exactly the `want` diagnostics.
fn assert_errors(res: (i32, String, String), want: &[String]) {
    let (code, out, err) = res;
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let got: Vec<&str> = err.lines().collect();
    assert_eq!(got, want, "stdout:\n{out}");
}

#[test]
fn check_prints_the_resolved_table_and_exits_0_on_a_clean_config() {
    let c = Check::new();
    let conf = format!(
        "{}service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = 21012\n\tbind = 127.0.0.1\n}}\n",
        ext("cat", 21013, "\tserver_args = -u\n\tumask = 027\n")
    );
    let (code, out, err) = c.run(&conf);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(err, "");
    assert!(
        out.contains(
            "service cat\n\tlisten      = stream 127.0.0.1:21013/tcp\n\twait        = no\n\tserver      = /bin/cat\n\targv        = cat -u\n"
        ),
        "{out}"
    );
    assert!(out.contains("\tumask       = 027\n"), "{out}");
    assert!(
        out.contains("service echo\n\tlisten      = stream 127.0.0.1:21012/tcp\n\twait        = no\n\tinternal    = echo\n"),
        "{out}"
    );
    // Not root: one warning for the external service.
    let warnings = if is_root() { 0 } else { 1 };
    assert!(
        out.ends_with(&format!(
            "# 2 services ready, 0 errors, {warnings} warnings ({})\n",
            c.path("superd.conf").display()
        )),
        "{out}"
    );
}

#[test]
fn check_reports_a_bad_value_at_its_column() {
    let c = Check::new();
    let conf = ext("w", 21000, "").replace("wait = no", "wait = maybe");
    assert_errors(
        c.run(&conf),
        &[format!(
            "{}: error: invalid value 'maybe' for wait: expected yes or no",
            c.at(5, 9)
        )],
    );
}

#[test]
fn check_reports_a_missing_socket_type_at_the_service() {
    let c = Check::new();
    let conf = ext("nost", 21000, "").replace("\tsocket_type = stream\n", "");
    assert_errors(
        c.run(&conf),
        &[format!(
            "{}: error: service nost: missing attribute socket_type",
            c.at(1, 1)
        )],
    );
}

#[test]
fn check_refuses_internal_echo_on_another_port_unless_unlisted() {
    let c = Check::new();
    let internal = |ty: &str| {
        format!("service echo\n{{\n\ttype = {ty}\n\tsocket_type = stream\n\twait = no\n\tport = 21012\n}}\n")
    };
    assert_errors(
        c.run(&internal("INTERNAL")),
        &[format!(
            "{}: error: service echo: service echo expects port 7 (from /etc/services), not 21012",
            c.at(6, 9)
        )],
    );
    let (code, out, err) = c.run(&internal("INTERNAL UNLISTED"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[::]:21012/tcp"), "{out}");
}

#[test]
fn check_refuses_a_listed_name_missing_from_the_services_file() {
    let c = Check::new();
    // Only the services file given with --services-file counts: `known` is in it.
    let listed = |name: &str| {
        format!("service {name}\n{{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n}}\n")
    };
    assert_errors(
        c.run(&listed("notinservices")),
        &[format!(
            "{}: error: service notinservices: service/protocol combination not in /etc/services: notinservices/tcp (use type = UNLISTED and a port)",
            c.at(1, 1)
        )],
    );
    let (code, out, err) = c.run(&listed("known"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("[::]:2345/tcp"), "{out}");
}

#[test]
fn check_refuses_unlisted_without_port() {
    let c = Check::new();
    let conf = ext("unl", 21000, "").replace("\tport = 21000\n", "");
    assert_errors(
        c.run(&conf),
        &[format!(
            "{}: error: service unl: UNLISTED services need a port attribute",
            c.at(1, 1)
        )],
    );
}

#[test]
fn check_refuses_an_external_dgram_service_with_wait_no() {
    let c = Check::new();
    let conf = ext("dg", 21000, "").replace("socket_type = stream", "socket_type = dgram");
    assert_errors(
        c.run(&conf),
        &[format!(
            "{}: error: service dg: dgram services with an external server need wait = yes",
            c.at(5, 9)
        )],
    );
}

#[test]
fn check_refuses_a_server_that_is_not_executable() {
    let c = Check::new();
    let data = c.write("not-a-program", "data\n");
    let conf = ext("nx", 21000, "").replace("/bin/cat", data.to_str().unwrap());
    assert_errors(
        c.run(&conf),
        &[format!(
            "{}: error: service nx: server {} is not an executable file",
            c.at(7, 11),
            data.display()
        )],
    );
}

#[test]
fn check_refuses_the_second_service_on_the_same_port() {
    let c = Check::new();
    let conf = format!("{}{}", ext("first", 21000, ""), ext("second", 21000, ""));
    let (code, out, err) = c.run(&conf);
    assert_errors(
        (code, out.clone(), err),
        &[format!(
            "{}: error: service second: port 21000/tcp is already used by service first (at {})",
            c.at(11, 1),
            c.at(1, 1)
        )],
    );
    assert!(out.contains("service first\n"), "{out}");
    assert!(!out.contains("service second\n"), "{out}");
}

#[test]
fn check_warns_about_an_unknown_attribute_and_succeeds() {
    let c = Check::new();
    let (code, out, err) = c.run(&ext("f", 21000, "\tfrobnicate = yes\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        err,
        format!(
            "{}: warning: unknown attribute 'frobnicate'; ignored\n",
            c.at(10, 2)
        )
    );
    assert!(out.contains("# 1 services ready, 0 errors, "), "{out}");
}

#[test]
fn includedir_reads_plain_names_in_order_and_skips_dotted_backup_and_directories() {
    let c = Check::new();
    for (i, name) in ["b", "a", "c.conf", "d~"].iter().enumerate() {
        let id = name.replace(['.', '~'], "_");
        c.write(&format!("inc/{name}"), &ext(&id, 21000 + i as u16, ""));
    }
    c.write("inc/sub/e", &ext("e", 21010, ""));
    let (code, out, err) = c.run("includedir {dir}/inc\n");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        err,
        format!(
            "{}: warning: '{}' is not a regular file; skipped\n",
            c.at(1, 12),
            c.path("inc/sub").display()
        )
    );
    let ids: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("service "))
        .collect();
    assert_eq!(ids, ["a", "b"], "{out}{err}");
}

#[test]
fn only_from_in_defaults_accumulates_into_the_service() {
    // `only_from` written twice in defaults adds up (#9), and the service inherits both.
    let c = Check::new();
    let conf = format!(
        "defaults\n{{\n\tonly_from = 127.0.0.2\n\tonly_from = 127.0.0.3\n}}\n{}",
        ext("ac", 21000, "")
    );
    let (code, out, err) = c.run(&conf);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(err, "");
    assert!(
        out.contains("\tonly_from   = 127.0.0.2/32 127.0.0.3/32\n"),
        "{out}"
    );
}

#[test]
fn at_start_an_invalid_service_is_skipped_with_its_error_logged_and_the_others_answer() {
    let good = free_port();
    let bad = free_port();
    let conf = format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {good}\n\tbind = 127.0.0.1\n}}\n{}",
        ext("bad", bad, "").replace("wait = no", "wait = maybe")
    );
    let d = Daemon::start(&conf);
    let log = d.wait_log("Started working", Duration::from_secs(5));
    let want = format!(
        "{}:13:9: error: invalid value 'maybe' for wait: expected yes or no",
        d.conf.display()
    );
    assert!(log.contains(&want), "want {want:?} in:\n{log}");
    assert_eq!(tcp_exchange(good, b"still here\n"), b"still here\n");
    assert!(std::net::TcpStream::connect(("127.0.0.1", bad)).is_err());
}
