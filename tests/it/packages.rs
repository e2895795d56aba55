//! Real servers from Debian packages driven by their real clients: `in.tftpd` (tftpd-hpa) as a
//! `wait = yes` dgram service fetched with `tftp`, and `git daemon --inetd` as a nowait stream
//! service cloned with `git clone`. A missing package skips the test, except in CI (`CI` set),
//! where `.ci/run` installs them and a missing one is a failure.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::*;
use crate::require_program;

fn executable(p: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(p).ok()?;
    (m.is_file() && m.permissions().mode() & 0o111 != 0).then(|| p.to_path_buf())
}

/// The first of `dirs` holding an executable `name`.
fn find_in(dirs: &[&str], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .find_map(|d| executable(&Path::new(d).join(name)))
}

/// in.tftpd: unpacked by `.ci/run` under target/debs (installing the package would start a
/// system service), or installed. It must also run: the unpacked binary needs libwrap0.
fn in_tftpd() -> Option<PathBuf> {
    let unpacked = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debs/tftpd-hpa/usr/sbin");
    let p = find_in(&[unpacked.to_str()?, "/usr/sbin"], "in.tftpd")?;
    let (code, _, _) = run_bounded(Command::new(&p).arg("-V"), Duration::from_secs(10));
    (code == 0).then_some(p)
}

/// The git daemon of the Debian `git` package (or of whichever git is on PATH).
fn git_daemon() -> Option<PathBuf> {
    if let Some(p) = find_in(&["/usr/lib/git-core"], "git-daemon") {
        return Some(p);
    }
    let (code, out, _) = run_bounded(
        Command::new("git").arg("--exec-path"),
        Duration::from_secs(10),
    );
    (code == 0)
        .then(|| find_in(&[out.trim()], "git-daemon"))
        .flatten()
}

/// Some bytes that are not text: every byte value, several blocks long (tftp blocks are 512).
fn payload() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 + i / 256) as u8).collect()
}

#[test]
fn tftp_client_fetches_a_file_from_in_tftpd_as_a_wait_yes_dgram_service() {
    // in.tftpd always switches to user nobody, which only root can do.
    crate::require_root!();
    let server = require_program!(
        in_tftpd(),
        "a working in.tftpd (package tftpd-hpa, and libwrap0)"
    );
    let client = require_program!(
        find_in(&["/usr/bin", "/bin"], "tftp"),
        "tftp (package tftp-hpa)"
    );
    let port = free_port();
    let d = Daemon::prepare(&format!(
        "{LOG_DEFAULTS}service tftp\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tserver = {}\n\tserver_args = -t 1 -s {{dir}}/root\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        server.display()
    ));
    // in.tftpd drops to user nobody before reading: the tree must be world-readable.
    use std::os::unix::fs::PermissionsExt;
    let root = d.path("root");
    std::fs::create_dir(&root).unwrap();
    for p in [d.dir.path(), root.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let data = payload();
    std::fs::write(root.join("file.bin"), &data).unwrap();
    std::fs::set_permissions(
        root.join("file.bin"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let d = d.launch(&[]);

    let got = d.path("got.bin");
    let (code, out, err) = run_bounded(
        Command::new(&client)
            .args([
                "-4",
                "127.0.0.1",
                &port.to_string(),
                "-m",
                "binary",
                "-c",
                "get",
            ])
            .arg("file.bin")
            .arg(&got),
        Duration::from_secs(30),
    );
    let fetched = std::fs::read(&got).unwrap_or_default();
    assert!(
        fetched == data,
        "tftp exited {code}, fetched {} of {} bytes\nstdout: {out}\nstderr: {err}\n--- svc.log:\n{}\n--- daemon log:\n{}",
        fetched.len(),
        data.len(),
        d.read("svc.log"),
        d.daemon_log()
    );
    // With -t 1 the server leaves after a second without requests; superd logs its exit.
    let log = d.wait_file("svc.log", "EXIT: tftp status=0", Duration::from_secs(10));
    assert!(log.contains("START: tftp pid="), "{log}");
    assert!(log.contains("from=127.0.0.1"), "{log}");
}

#[test]
fn git_clone_over_git_daemon_inetd_as_a_nowait_stream_service() {
    let daemon = require_program!(git_daemon(), "git-daemon (package git)");
    let git = require_program!(
        find_in(&["/usr/bin", "/usr/local/bin", "/bin"], "git"),
        "git"
    );
    let port = free_port();
    let d = Daemon::prepare(&format!(
        "{LOG_DEFAULTS}service git\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = {}\n\tserver_args = --inetd --export-all --base-path={{dir}}/repos\n\tport = {port}\n\tbind = 127.0.0.1\n}}\n",
        daemon.display()
    ));
    // A repository with one commit; git's configuration isolated from the machine's.
    let home = d.path("home");
    std::fs::create_dir(&home).unwrap();
    let git_cmd = |cwd: &Path, args: &[&str]| {
        let mut c = Command::new(&git);
        c.current_dir(cwd)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args);
        let (code, out, err) = run_bounded(&mut c, Duration::from_secs(60));
        assert_eq!(code, 0, "git {args:?}\nstdout: {out}\nstderr: {err}");
        out
    };
    let repo = d.path("repos/repo");
    std::fs::create_dir_all(&repo).unwrap();
    git_cmd(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("hello.txt"), "hello from superd\n").unwrap();
    std::fs::write(repo.join("data.bin"), payload()).unwrap();
    git_cmd(&repo, &["add", "."]);
    git_cmd(&repo, &["commit", "-q", "-m", "first"]);
    let head = git_cmd(&repo, &["rev-parse", "HEAD"]);
    let d = d.launch(&[]);

    let clone = d.path("clone");
    git_cmd(
        d.dir.path(),
        &[
            "clone",
            "-q",
            &format!("git://127.0.0.1:{port}/repo"),
            clone.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("hello.txt")).unwrap(),
        "hello from superd\n"
    );
    assert_eq!(std::fs::read(clone.join("data.bin")).unwrap(), payload());
    assert_eq!(git_cmd(&clone, &["rev-parse", "HEAD"]), head);
    let log = d.wait_file("svc.log", "EXIT: git status=0", Duration::from_secs(10));
    assert!(log.contains("START: git pid="), "{log}");
}
