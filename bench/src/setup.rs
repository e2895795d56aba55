//! Getting the programs to measure: the tiny servers (gcc), the `ceiling` binary and superd
//! (cargo, release), and the peers: xinetd, openbsd-inetd, inetutils-inetd and tcpserver (PATH,
//! or `apt-get download` + `dpkg -x` into a cache dir, never installed as services), busybox
//! inetd (built from Debian's source package into a cache dir, see `busybox`) and
//! systemd-socket-activate (PATH).
//!
//! Each step returns either a ready `Daemon`/path or a one-paragraph reason, which the report
//! prints; nothing here starts a service or writes outside the bench's work directory, except
//! `apt-get install` of a peer's missing shared libraries when we are root.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::busybox;
use crate::daemon::{tail, Daemon, Kind};

/// Runs `cmd` with stdout+stderr to `log`, killing it after `timeout`. On failure the error
/// holds the command and the tail of its output.
pub fn run_logged(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if t0.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown} did not finish in {} s (killed); log: {}",
                    timeout.as_secs(),
                    log.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed ({status}); last lines of {}:\n      {}",
            log.display(),
            tail(log, 12).join("\n      ")
        ))
    }
}

/// Runs a short command and returns its trimmed stdout+stderr, or the error.
pub fn capture(cmd: &mut Command, work: &Path, name: &str) -> Result<String, String> {
    let log = work.join(format!("{name}.out"));
    let r = run_logged(cmd, &log, Duration::from_secs(20));
    let text = fs::read_to_string(&log)
        .unwrap_or_default()
        .trim()
        .to_string();
    r.map(|()| text)
}

/// The cargo that is running us (cargo sets $CARGO), else `cargo` from PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// How the tiny server was built, for the report.
pub struct Tiny {
    pub path: PathBuf,
    pub command: String,
    pub linkage: &'static str,
}

/// Compiles tiny.c into `work/NAME` with `defines` (e.g. `-DDELAY_MS=50`), statically if the
/// static libc is installed, else dynamically.
pub fn build_tiny(src: &Path, work: &Path, name: &str, defines: &[&str]) -> Result<Tiny, String> {
    let out = work.join(name);
    let log = work.join(format!("{name}-build.log"));
    let mut first_err = String::new();
    for (flags, linkage) in [
        (&["-O2", "-static"][..], "static"),
        (&["-O2"][..], "dynamic"),
    ] {
        let mut cmd = Command::new("gcc");
        cmd.args(flags).args(defines).arg("-o").arg(&out).arg(src);
        let flags: Vec<&str> = flags.iter().chain(defines).copied().collect();
        let command = format!(
            "gcc {} -o {} {}",
            flags.join(" "),
            out.display(),
            src.display()
        );
        match run_logged(&mut cmd, &log, Duration::from_secs(60)) {
            Ok(()) => {
                return Ok(Tiny {
                    path: out,
                    command,
                    linkage,
                })
            }
            Err(e) if first_err.is_empty() => first_err = e,
            Err(_) => {}
        }
    }
    Err(format!("cannot compile the tiny server: {first_err}"))
}

/// `--ceiling PATH`, else `cargo build --release --bin ceiling` of this package.
pub fn ceiling(explicit: Option<&Path>, bench_dir: &Path, work: &Path) -> Result<Daemon, String> {
    let bin = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let manifest = bench_dir.join("Cargo.toml");
            run_logged(
                Command::new(cargo())
                    .args(["build", "--release", "--bin", "ceiling", "--manifest-path"])
                    .arg(&manifest),
                &work.join("ceiling-build.log"),
                Duration::from_secs(600),
            )?;
            bench_dir.join("target/release/ceiling")
        }
    };
    if !bin.is_file() {
        return Err(format!("ceiling binary {} not found", bin.display()));
    }
    Ok(Daemon {
        kind: Kind::Ceiling,
        bin,
        version: "fork/exec loop in bench/src/bin/ceiling.rs".to_string(),
    })
}

/// `--superd PATH`, else `cargo build --release` of the superd repository at `src_dir`.
pub fn superd(
    explicit: Option<&Path>,
    src_dir: &Path,
    work: &Path,
) -> Result<(Daemon, Option<String>), String> {
    if let Some(bin) = explicit {
        if !bin.is_file() {
            return Err(format!("--superd {}: no such file", bin.display()));
        }
        return Ok((
            Daemon {
                kind: Kind::Superd,
                bin: bin.to_path_buf(),
                version: format!("prebuilt {}", bin.display()),
            },
            None,
        ));
    }
    let manifest = src_dir.join("Cargo.toml");
    let command = format!(
        "cargo build --release --bin superd --manifest-path {}",
        manifest.display()
    );
    let log = work.join("superd-build.log");
    run_logged(
        Command::new(cargo())
            .args(["build", "--release", "--bin", "superd", "--manifest-path"])
            .arg(&manifest),
        &log,
        Duration::from_secs(900),
    )
    .map_err(|e| format!("superd build failed: {}", first_errors(&log).unwrap_or(e)))?;
    let bin = src_dir.join("target/release/superd");
    if !bin.is_file() {
        return Err(format!("superd built but {} is missing", bin.display()));
    }
    let rev = capture(
        Command::new("git")
            .arg("-C")
            .arg(src_dir)
            .args(["log", "-1", "--format=%h %s"]),
        work,
        "superd-rev",
    )
    .unwrap_or_else(|_| "unknown revision".to_string());
    let dirty = capture(
        Command::new("git").arg("-C").arg(src_dir).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]),
        work,
        "superd-dirty",
    )
    .map(|s| {
        if s.is_empty() {
            ""
        } else {
            " (+ uncommitted changes)"
        }
    })
    .unwrap_or("");
    Ok((
        Daemon {
            kind: Kind::Superd,
            bin,
            version: format!("{} @ {rev}{dirty}", src_dir.display()),
        },
        Some(command),
    ))
}

/// The `error[...]` / `error:` lines of a cargo log, with the location line after each.
fn first_errors(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let mut picked = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("error") {
            picked.push(l.to_string());
            if let Some(next) = lines
                .get(i + 1)
                .filter(|n| n.trim_start().starts_with("-->"))
            {
                picked.push(next.to_string());
            }
        }
        if picked.len() >= 12 {
            break;
        }
    }
    (!picked.is_empty()).then(|| {
        format!(
            "cargo reported (full log: {}):\n      {}",
            log.display(),
            picked.join("\n      ")
        )
    })
}

/// xinetd and the steps it took to get it, for the report.
pub struct XinetdSource {
    pub daemon: Daemon,
    pub steps: Vec<String>,
}

/// `--xinetd PATH`, else xinetd on PATH or in /usr/sbin, else the Debian package unpacked into
/// `cache` (downloaded with `apt-get download` if no .deb is there yet). Its shared libraries
/// (libwrap0, libtirpc3) are installed with apt-get when missing and we are root.
pub fn xinetd(
    explicit: Option<&Path>,
    cache: &Path,
    work: &Path,
    root: bool,
) -> Result<XinetdSource, String> {
    let mut steps = Vec::new();
    let bin = match explicit {
        Some(p) => p.to_path_buf(),
        None => match on_path("xinetd") {
            Some(p) => p,
            None => unpacked("xinetd", "usr/sbin/xinetd", cache, work, root, &mut steps)?.0,
        },
    };
    if !bin.is_file() {
        return Err(format!("xinetd binary {} not found", bin.display()));
    }
    ensure_libs(&XINETD_LIBS, "xinetd", work, root, &mut steps)?;
    // `xinetd -version` prints e.g. "2.3.15.3 libwrap loadavg" and may exit non-zero.
    let log = work.join("xinetd-version.out");
    let _ = run_logged(
        Command::new(&bin).arg("-version"),
        &log,
        Duration::from_secs(5),
    );
    let text = fs::read_to_string(&log).unwrap_or_default();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let version = match first {
        Some(line) if !text.contains("error while loading shared libraries") => {
            format!("xinetd {line}")
        }
        _ => {
            return Err(format!(
                "{} -version does not run: {}",
                bin.display(),
                text.trim()
            ))
        }
    };
    Ok(XinetdSource {
        daemon: Daemon {
            kind: Kind::Xinetd,
            bin,
            version,
        },
        steps,
    })
}

/// A binary named on the command line, and how the report names its source.
fn given(p: &Path) -> (PathBuf, String) {
    (p.to_path_buf(), format!("given {}", p.display()))
}

/// `chosen` (a binary and how the report names its source), else the binary `rel_bin` of
/// Debian's package `pkg`, unpacked into `cache` (see `unpacked`); fails if it is not a file.
fn given_or_debian(
    chosen: Option<(PathBuf, String)>,
    (pkg, rel_bin): (&str, &str),
    cache: &Path,
    work: &Path,
    root: bool,
    steps: &mut Vec<String>,
) -> Result<(PathBuf, String), String> {
    let (bin, source) = match chosen {
        Some(c) => c,
        None => {
            let (bin, deb) = unpacked(pkg, rel_bin, cache, work, root, steps)?;
            (bin, format!("Debian {deb}"))
        }
    };
    if !bin.is_file() {
        return Err(format!("{} not found", bin.display()));
    }
    Ok((bin, source))
}

/// `pkg`'s `rel_bin` from the Debian package unpacked into `cache` (downloaded with
/// `apt-get download` if no .deb is there yet); returns the binary and the .deb's name.
fn unpacked(
    pkg: &str,
    rel_bin: &str,
    cache: &Path,
    work: &Path,
    root: bool,
    steps: &mut Vec<String>,
) -> Result<(PathBuf, String), String> {
    let bin = cache.join("root").join(rel_bin);
    let deb_name = |deb: &Path| {
        deb.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().replace("%3a", ":"))
    };
    if bin.is_file() {
        steps.push(format!("reused {} (unpacked earlier)", bin.display()));
        let name = find_deb(cache, pkg).map_or(String::new(), |d| deb_name(&d));
        return Ok((bin, name));
    }
    fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let deb = match find_deb(cache, pkg) {
        Some(deb) => deb,
        None => {
            let mut download = Command::new("apt-get");
            download.args(["download", pkg]).current_dir(cache);
            let log = work.join(format!("{pkg}-download.log"));
            if let Err(first) = run_logged(&mut download, &log, Duration::from_secs(300)) {
                // Stale or missing package lists: only root can refresh them.
                if !root {
                    return Err(format!("apt-get download {pkg} failed: {first}"));
                }
                apt_update(work)?;
                run_logged(&mut download, &log, Duration::from_secs(300))
                    .map_err(|e| format!("apt-get download {pkg} failed: {e}"))?;
            }
            steps.push(format!(
                "(cd {} && apt-get download {pkg})",
                cache.display()
            ));
            find_deb(cache, pkg).ok_or(format!("apt-get download {pkg} produced no .deb"))?
        }
    };
    let dest = cache.join("root");
    run_logged(
        Command::new("dpkg").arg("-x").arg(&deb).arg(&dest),
        &work.join(format!("{pkg}-unpack.log")),
        Duration::from_secs(60),
    )?;
    steps.push(format!("dpkg -x {} {}", deb.display(), dest.display()));
    if !bin.is_file() {
        return Err(format!("{} has no {rel_bin}", deb.display()));
    }
    Ok((bin, deb_name(&deb)))
}

fn find_deb(dir: &Path, pkg: &str) -> Option<PathBuf> {
    let prefix = format!("{pkg}_");
    let mut debs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    debs.sort();
    debs.pop()
}

/// A peer found or unpacked, and the steps it took, for the report.
pub struct Peer {
    pub daemon: Daemon,
    pub steps: Vec<String>,
}

/// The first program named `name` on PATH or in /usr/sbin.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

const INETD_LIBS: [&str; 5] = [
    "libbsd0",
    "libevent-2.1-7",
    "libsystemd0",
    "libtirpc3",
    "libwrap0",
];

/// `--openbsd-inetd PATH`, else Debian's openbsd-inetd unpacked into `cache` (its `inetd` on
/// PATH may be another implementation, so PATH is not searched).
pub fn openbsd_inetd(
    explicit: Option<&Path>,
    cache: &Path,
    work: &Path,
    root: bool,
) -> Result<Peer, String> {
    let mut steps = Vec::new();
    let (bin, version) = given_or_debian(
        explicit.map(given),
        ("openbsd-inetd", "usr/sbin/inetd"),
        cache,
        work,
        root,
        &mut steps,
    )?;
    ensure_libs(&INETD_LIBS, "openbsd-inetd", work, root, &mut steps)?;
    Ok(Peer {
        daemon: Daemon {
            kind: Kind::OpenbsdInetd,
            bin,
            version,
        },
        steps,
    })
}

/// `--inetutils-inetd PATH`, else Debian's inetutils-inetd unpacked into `cache` (its binary is
/// `usr/sbin/inetutils-inetd`; PATH is not searched, as for openbsd-inetd). It links only libc,
/// so there are no libraries to install; `--version` checks that it runs and names it.
pub fn inetutils_inetd(
    explicit: Option<&Path>,
    cache: &Path,
    work: &Path,
    root: bool,
) -> Result<Peer, String> {
    let mut steps = Vec::new();
    let (bin, source) = given_or_debian(
        explicit.map(given),
        ("inetutils-inetd", "usr/sbin/inetutils-inetd"),
        cache,
        work,
        root,
        &mut steps,
    )?;
    // "inetd (GNU inetutils) 2.4" on the first line.
    let version = capture(Command::new(&bin).arg("--version"), work, "inetutils-inetd")
        .map(|v| v.lines().next().unwrap_or("").trim().to_string())
        .map_err(|e| format!("{} --version: {e}", bin.display()))?;
    Ok(Peer {
        daemon: Daemon {
            kind: Kind::InetutilsInetd,
            bin,
            version: format!("{version}, {source}"),
        },
        steps,
    })
}

/// `--busybox-inetd PATH`, else busybox built with the inetd applet from Debian's busybox
/// source package into `cache` (see `busybox`): no Debian binary has the applet. Nothing to
/// install: it links only libc. The version banner is read from the binary, as running busybox
/// to print it could start the daemon.
pub fn busybox_inetd(explicit: Option<&Path>, cache: &Path, work: &Path) -> Result<Peer, String> {
    let mut steps = Vec::new();
    let (bin, how) = match explicit {
        Some(p) => (p.to_path_buf(), format!("given {}", p.display())),
        None => {
            let built = busybox::get(cache, work, &mut steps)?;
            (built.bin, built.how)
        }
    };
    if !bin.is_file() {
        return Err(format!("{} not found", bin.display()));
    }
    let banner = fs::read(&bin)
        .ok()
        .and_then(|b| busybox::banner(&b))
        .unwrap_or_else(|| "no BusyBox banner in the binary".to_string());
    Ok(Peer {
        daemon: Daemon {
            kind: Kind::BusyboxInetd,
            bin,
            version: format!("{banner}: {how}"),
        },
        steps,
    })
}

/// `--tcpserver PATH`, else `tcpserver` on PATH, else Debian's ucspi-tcp unpacked into `cache`.
pub fn tcpserver(
    explicit: Option<&Path>,
    cache: &Path,
    work: &Path,
    root: bool,
) -> Result<Peer, String> {
    let mut steps = Vec::new();
    let found = explicit
        .map(Path::to_path_buf)
        .or_else(|| on_path("tcpserver"))
        .map(|p| {
            let source = format!("found {}", p.display());
            (p, source)
        });
    let (bin, version) = given_or_debian(
        found,
        ("ucspi-tcp", "usr/bin/tcpserver"),
        cache,
        work,
        root,
        &mut steps,
    )?;
    Ok(Peer {
        daemon: Daemon {
            kind: Kind::Tcpserver,
            bin,
            version,
        },
        steps,
    })
}

/// `--socket-activate PATH`, else `systemd-socket-activate` on PATH (part of systemd).
pub fn socket_activate(explicit: Option<&Path>, work: &Path) -> Result<Peer, String> {
    let bin = explicit
        .map(Path::to_path_buf)
        .or_else(|| on_path("systemd-socket-activate"))
        .ok_or("systemd-socket-activate not found on PATH (it ships with systemd)")?;
    let version = capture(Command::new(&bin).arg("--version"), work, "socket-activate")
        .map(|v| v.lines().next().unwrap_or("").to_string())
        .map_err(|e| format!("{} --version: {e}", bin.display()))?;
    Ok(Peer {
        daemon: Daemon {
            kind: Kind::SocketActivate,
            bin,
            version,
        },
        steps: Vec::new(),
    })
}

const XINETD_LIBS: [&str; 2] = ["libwrap0", "libtirpc3"];

fn ensure_libs(
    libs: &[&str],
    who: &str,
    work: &Path,
    root: bool,
    steps: &mut Vec<String>,
) -> Result<(), String> {
    let missing: Vec<&str> = libs
        .iter()
        .copied()
        .filter(|pkg| {
            capture(
                Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]),
                work,
                "dpkg-query",
            )
            .map(|s| !s.contains("install ok installed"))
            .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !root {
        return Err(format!(
            "{who} needs {} (not installed) and installing them needs root; run `apt-get install -y {}` as root, or pass --no-{who}",
            missing.join(", "),
            libs.join(" ")
        ));
    }
    let install = || {
        run_logged(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(libs)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            &work.join(format!("{who}-libs.log")),
            Duration::from_secs(600),
        )
    };
    if install().is_err() {
        apt_update(work)?;
        install().map_err(|e| format!("installing {who}'s libraries failed: {e}"))?;
    }
    steps.push(format!("apt-get install -y {}", libs.join(" ")));
    Ok(())
}

fn apt_update(work: &Path) -> Result<(), String> {
    run_logged(
        Command::new("apt-get").arg("update"),
        &work.join("apt-update.log"),
        Duration::from_secs(600),
    )
}
