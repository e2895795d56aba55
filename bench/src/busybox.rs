//! busybox's inetd applet, built from Debian's busybox source package: Debian 12's `busybox` and
//! `busybox-static` binaries leave the applet out, so no Debian binary can be measured.
//!
//! ```text
//! /etc/apt sources (read only) --deb-src lines--> CACHE/apt/sources.list
//! apt-get -o Dir::...=CACHE/apt update; apt-get source --download-only busybox   (into CACHE)
//! dpkg-source -x busybox_*.dsc CACHE/src         (else tar + `patch` per debian/patches/series)
//! make allnoconfig; CONFIG_INETD etc. =y; yes '' | make oldconfig; make   (Debian's flags)
//! CACHE/src/busybox --> CACHE/busybox; CACHE/busybox.build: how it was made, and the commands
//! ```
//!
//! apt-get runs on a private sources list, lists dir and cache dir under CACHE, so the machine's
//! apt configuration and state are read, never changed. A later run reuses CACHE/busybox.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::setup::{capture, on_path, run_logged};

/// The options enabled on top of `make allnoconfig`; `oldconfig` answers every question they
/// raise with its default (e.g. no RPC services). Nothing else is built in, and CONFIG_STATIC
/// stays off: the binary links glibc dynamically, as Debian's `busybox` package does.
pub const OPTIONS: [&str; 7] = [
    "INETD",
    "FEATURE_INETD_SUPPORT_BUILTIN_ECHO",
    "FEATURE_INETD_SUPPORT_BUILTIN_DISCARD",
    "FEATURE_INETD_SUPPORT_BUILTIN_TIME",
    "FEATURE_INETD_SUPPORT_BUILTIN_DAYTIME",
    "FEATURE_INETD_SUPPORT_BUILTIN_CHARGEN",
    "FEATURE_IPV6",
];

/// A busybox binary built into the cache, and how it was made (for the report's header).
pub struct Built {
    pub bin: PathBuf,
    pub how: String,
}

/// Debian's compiler and linker flags for busybox, as its debian/rules passes them to make.
struct Flags {
    /// `CONFIG_EXTRA_CFLAGS`: CFLAGS and CPPFLAGS.
    cflags: String,
    /// `CONFIG_EXTRA_LDFLAGS`: CFLAGS and LDFLAGS.
    ldflags: String,
}

/// The busybox built into `cache` earlier, else fetches Debian's source package and builds it
/// there. `steps` gets the commands that made it, for the report (recorded in
/// `busybox.build` after the one-line description, so a reused binary still shows them).
pub fn get(cache: &Path, work: &Path, steps: &mut Vec<String>) -> Result<Built, String> {
    let bin = cache.join("busybox");
    let record = cache.join("busybox.build");
    if let (true, Ok(text)) = (bin.is_file(), fs::read_to_string(&record)) {
        let (how, made) = text.split_once('\n').unwrap_or((&text, ""));
        steps.push(format!(
            "# reused {}, built earlier by:\n{}",
            bin.display(),
            made.trim()
        ));
        let how = how.trim().to_string();
        return Ok(Built { bin, how });
    }
    fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let first = steps.len();
    let dsc = match find_file(cache, ".dsc") {
        Some(dsc) => dsc,
        None => {
            download(cache, work, steps)?;
            find_file(cache, ".dsc").ok_or("apt-get source busybox produced no .dsc")?
        }
    };
    let text = fs::read_to_string(&dsc).map_err(|e| format!("{}: {e}", dsc.display()))?;
    let version = dsc_field(&text, "Version")
        .ok_or_else(|| format!("{} has no Version field", dsc.display()))?;
    let src = cache.join("src");
    let patches = unpack(&dsc, cache, &src, work, steps)?;
    let flags = debian_flags(&src, work);
    build(&src, &version, flags.as_ref(), work, steps)?;
    let built = src.join("busybox");
    fs::copy(&built, &bin).map_err(|e| format!("copying the busybox binary: {e}"))?;
    steps.push(format!("cp {} {}", built.display(), bin.display()));
    let how = describe(&version, &patches, flags.is_some());
    let made = steps[first..].join("\n");
    fs::write(&record, format!("{how}\n{made}\n"))
        .map_err(|e| format!("{}: {e}", record.display()))?;
    Ok(Built { bin, how })
}

/// `busybox_*SUFFIX` in `dir` (the last by name, if several).
fn find_file(dir: &Path, suffix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("busybox_") && n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found.pop()
}

/// `apt-get source --download-only busybox` into `cache`, through a private sources list (a
/// `deb-src` line for each of the machine's Debian `deb` sources), lists dir and cache dir.
fn download(cache: &Path, work: &Path, steps: &mut Vec<String>) -> Result<(), String> {
    let apt = cache.join("apt");
    for dir in [apt.join("lists/partial"), apt.join("cache")] {
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let codename = os_release_field(&read("/etc/os-release"), "VERSION_CODENAME")
        .ok_or("no VERSION_CODENAME in /etc/os-release (not Debian?)")?;
    let lines = machine_deb_src(&codename);
    if lines.is_empty() {
        return Err(format!(
            "no `deb` source for {codename} in /etc/apt/sources.list{{,.d}} to ask for busybox's source"
        ));
    }
    let list = apt.join("sources.list");
    fs::write(&list, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", list.display()))?;
    let opts = apt_options(&apt);
    run_logged(
        Command::new("apt-get").args(&opts).arg("update"),
        &work.join("busybox-apt-update.log"),
        Duration::from_secs(600),
    )?;
    run_logged(
        Command::new("apt-get")
            .args(&opts)
            .args(["source", "--download-only", "busybox"])
            .current_dir(cache),
        &work.join("busybox-source.log"),
        Duration::from_secs(600),
    )?;
    let shown = opts.join(" ");
    steps.push(format!(
        "# {}:\n#   {}",
        list.display(),
        lines.join("\n#   ")
    ));
    steps.push(format!("apt-get {shown} update"));
    steps.push(format!(
        "(cd {} && apt-get {shown} source --download-only busybox)",
        cache.display()
    ));
    Ok(())
}

/// apt-get options that point its sources list, lists and cache at `apt` (ours) and read no
/// sources.list.d.
fn apt_options(apt: &Path) -> Vec<String> {
    [
        ("Dir::Etc::SourceList", apt.join("sources.list")),
        ("Dir::Etc::SourceParts", PathBuf::from("/dev/null")),
        ("Dir::State::Lists", apt.join("lists")),
        ("Dir::Cache", apt.join("cache")),
    ]
    .iter()
    .flat_map(|(key, path)| ["-o".to_string(), format!("{key}={}", path.display())])
    .collect()
}

/// The text of a file, or "" if it cannot be read.
fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// `deb-src` lines for the machine's `deb` sources of release `codename` (suites `codename`,
/// `codename-updates`, `codename-security`, ...): /etc/apt/sources.list and sources.list.d's
/// `*.list` (one-line style) and `*.sources` (deb822) files. Other repositories are left out,
/// as they may publish no sources.
fn machine_deb_src(codename: &str) -> Vec<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    let mut lines = Vec::new();
    for file in files {
        let name = file.to_string_lossy();
        if name.ends_with(".list") {
            lines.extend(deb_src_from_list(&read(&file)));
        } else if name.ends_with(".sources") {
            lines.extend(deb_src_from_deb822(&read(&file)));
        }
    }
    lines.retain(|l| {
        suite_of(l).is_some_and(|s| s == codename || s.starts_with(&format!("{codename}-")))
    });
    lines.dedup();
    lines
}

/// The suite of a one-line source (`deb-src [options] URI SUITE COMPONENTS`).
fn suite_of(line: &str) -> Option<&str> {
    let rest = line.split_once(' ')?.1.trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(opts) => opts.split_once(']')?.1,
        None => rest,
    };
    rest.split_whitespace().nth(1)
}

/// One-line-style sources: each `deb [options] URI SUITE COMPONENTS` as `deb-src ...`.
fn deb_src_from_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("deb "))
        .map(|rest| format!("deb-src {}", rest.trim()))
        .collect()
}

/// deb822 sources: a `deb-src` line for each URI and suite of each enabled stanza whose Types
/// include `deb`, with its Components and (when it names a keyring file) Signed-By.
fn deb_src_from_deb822(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
                })
                .unwrap_or("")
        };
        let types = field("Types");
        if !types.split_whitespace().any(|t| t == "deb") || field("Enabled") == "no" {
            continue;
        }
        let key = field("Signed-By");
        let opts = if key.starts_with('/') && !key.contains(' ') {
            format!("[signed-by={key}] ")
        } else {
            String::new()
        };
        let components = field("Components");
        for uri in field("URIs").split_whitespace() {
            for suite in field("Suites").split_whitespace() {
                out.push(
                    format!("deb-src {opts}{uri} {suite} {components}")
                        .trim_end()
                        .to_string(),
                );
            }
        }
    }
    out
}

/// `NAME=value` (quotes removed) from /etc/os-release text.
fn os_release_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// A field of a .dsc file (`Version: 1:1.35.0-4+deb12u1`).
fn dsc_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The upstream part of a Debian version: `1:1.35.0-4+deb12u1` → `1.35.0`.
fn upstream(version: &str) -> &str {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

/// Unpacks the source package into `src` with Debian's patches applied: `dpkg-source -x` if
/// dpkg-dev is installed, else the orig and debian tarballs and `patch` for each entry of
/// debian/patches/series, else the orig tarball alone. Returns what was applied.
fn unpack(
    dsc: &Path,
    cache: &Path,
    src: &Path,
    work: &Path,
    steps: &mut Vec<String>,
) -> Result<String, String> {
    let _ = fs::remove_dir_all(src);
    let log = work.join("busybox-unpack.log");
    let limit = Duration::from_secs(300);
    if on_path("dpkg-source").is_some() {
        run_logged(
            Command::new("dpkg-source").arg("-x").arg(dsc).arg(src),
            &log,
            limit,
        )?;
        steps.push(format!(
            "dpkg-source -x {} {}",
            dsc.display(),
            src.display()
        ));
        let n = series(&read(src.join("debian/patches/series"))).len();
        return Ok(format!("dpkg-source -x: Debian's {n} patches applied"));
    }
    let orig = find_file(cache, ".orig.tar.bz2")
        .or_else(|| find_file(cache, ".orig.tar.xz"))
        .or_else(|| find_file(cache, ".orig.tar.gz"))
        .ok_or("no busybox orig tarball next to the .dsc")?;
    let tmp = cache.join("src-unpack");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    run_logged(
        Command::new("tar")
            .arg("-xf")
            .arg(&orig)
            .arg("-C")
            .arg(&tmp),
        &log,
        limit,
    )?;
    // The tarball holds one directory, busybox-1.35.0/.
    let top = fs::read_dir(&tmp)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path())
        .ok_or_else(|| format!("{} is empty", orig.display()))?;
    fs::rename(&top, src).map_err(|e| format!("{}: {e}", src.display()))?;
    let _ = fs::remove_dir(&tmp);
    steps.push(format!(
        "tar -xf {} (into {})",
        orig.display(),
        src.display()
    ));
    let Some(debian) = find_file(cache, ".debian.tar.xz") else {
        return Ok("orig tarball only: no .debian.tar.xz, so no Debian patches".into());
    };
    if on_path("patch").is_none() {
        return Ok(
            "orig tarball only: neither dpkg-source (dpkg-dev) nor patch is installed, so Debian's patches are not applied"
                .into(),
        );
    }
    run_logged(
        Command::new("tar")
            .arg("-xf")
            .arg(&debian)
            .arg("-C")
            .arg(src),
        &log,
        limit,
    )?;
    let patches = series(&read(src.join("debian/patches/series")));
    for p in &patches {
        run_logged(
            Command::new("patch")
                .args(["-p1", "-N", "-i"])
                .arg(Path::new("debian/patches").join(p))
                .current_dir(src),
            &log,
            limit,
        )?;
    }
    steps.push(format!(
        "tar -xf {} -C {src}; (cd {src} && for p in $(grep -v '^#' debian/patches/series); do patch -p1 -N -i debian/patches/$p; done)",
        debian.display(),
        src = src.display()
    ));
    Ok(format!(
        "orig tarball + Debian's {} patches applied with patch; dpkg-source (dpkg-dev) is not installed",
        patches.len()
    ))
}

/// The patch names in a quilt series file (comments and blank lines skipped; options after
/// the name ignored).
fn series(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Debian's hardening flags for busybox, as debian/rules gets them: `dpkg-buildflags` with
/// `DEB_BUILD_MAINT_OPTIONS=hardening=+all`, with -O2 taken out of CFLAGS (busybox's own -Os
/// stays). Run in `src`, whose path its -ffile-prefix-map maps to `.`. None if
/// dpkg-buildflags (dpkg-dev) is missing: busybox's own flags only.
fn debian_flags(src: &Path, work: &Path) -> Option<Flags> {
    let get = |what: &str| {
        capture(
            Command::new("dpkg-buildflags")
                .args(["--get", what])
                .env("DEB_BUILD_MAINT_OPTIONS", "hardening=+all")
                .current_dir(src),
            work,
            "dpkg-buildflags",
        )
        .ok()
    };
    let cflags = without_o2(&get("CFLAGS")?);
    let (cppflags, ldflags) = (get("CPPFLAGS")?, get("LDFLAGS")?);
    Some(Flags {
        cflags: format!("{cflags} {cppflags}").trim().to_string(),
        ldflags: format!("{cflags} {ldflags}").trim().to_string(),
    })
}

/// CFLAGS without `-O2`.
fn without_o2(cflags: &str) -> String {
    cflags
        .split_whitespace()
        .filter(|f| *f != "-O2")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `make allnoconfig`, the `OPTIONS` set to y, `yes '' | make oldconfig`, then `make` with
/// Debian's flags (if any) in `src`.
fn build(
    src: &Path,
    version: &str,
    flags: Option<&Flags>,
    work: &Path,
    steps: &mut Vec<String>,
) -> Result<(), String> {
    let limit = Duration::from_secs(300);
    run_logged(
        Command::new("make").arg("allnoconfig").current_dir(src),
        &work.join("busybox-allnoconfig.log"),
        limit,
    )?;
    let config = src.join(".config");
    let text = fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    fs::write(&config, enable(&text, &OPTIONS))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let oldconfig = "yes '' | make oldconfig";
    run_logged(
        Command::new("sh").args(["-c", oldconfig]).current_dir(src),
        &work.join("busybox-oldconfig.log"),
        limit,
    )?;
    let missing = not_enabled(&read(&config), &OPTIONS);
    if !missing.is_empty() {
        return Err(format!(
            "busybox's oldconfig turned off {} (see {})",
            missing.join(", "),
            config.display()
        ));
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = vec![
        format!("-j{jobs}"),
        format!("BB_EXTRA_VERSION=Debian {version}"),
    ];
    if let Some(f) = flags {
        args.push(format!("CONFIG_EXTRA_CFLAGS={}", f.cflags));
        args.push(format!("CONFIG_EXTRA_LDFLAGS={}", f.ldflags));
    }
    run_logged(
        Command::new("make").args(&args).current_dir(src),
        &work.join("busybox-build.log"),
        Duration::from_secs(900),
    )?;
    let shown: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
    steps.push(format!(
        "cd {}\nmake allnoconfig\n# then in .config: {}\n{oldconfig}\nmake {}\ncd -",
        src.display(),
        OPTIONS
            .iter()
            .map(|o| format!("CONFIG_{o}=y"))
            .collect::<Vec<_>>()
            .join(" "),
        shown.join(" ")
    ));
    Ok(())
}

/// `a` quoted for a shell if it has spaces.
fn shell_word(a: &str) -> String {
    if a.contains(' ') {
        match a.split_once('=') {
            Some((k, v)) => format!("{k}='{v}'"),
            None => format!("'{a}'"),
        }
    } else {
        a.to_string()
    }
}

/// A busybox .config with each of `options` set to y (those not mentioned are appended).
fn enable(config: &str, options: &[&str]) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    for line in config.lines() {
        let named = options.iter().find(|o| {
            line == format!("# CONFIG_{o} is not set") || line.starts_with(&format!("CONFIG_{o}="))
        });
        match named {
            Some(o) => {
                out.push_str(&format!("CONFIG_{o}=y\n"));
                seen.push(*o);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for o in options.iter().filter(|o| !seen.contains(o)) {
        out.push_str(&format!("CONFIG_{o}=y\n"));
    }
    out
}

/// Those of `options` that a .config does not set to y.
fn not_enabled<'a>(config: &str, options: &[&'a str]) -> Vec<&'a str> {
    options
        .iter()
        .copied()
        .filter(|o| !config.lines().any(|l| l == format!("CONFIG_{o}=y")))
        .collect()
}

/// How the binary was made, in one line (the exact flags are in the commands).
fn describe(version: &str, patches: &str, debian_flags: bool) -> String {
    let flags = if debian_flags {
        "Debian's build flags as its debian/rules passes them (dpkg-buildflags with hardening=+all, \
         -O2 left out for busybox's -Os: -fstack-protector-strong, -D_FORTIFY_SOURCE=2, \
         -z relro -z now)"
    } else {
        "busybox's own flags only (dpkg-buildflags, from dpkg-dev, is not installed)"
    };
    format!(
        "busybox {} built from Debian's source package busybox {version} ({patches}); `make allnoconfig` + {}; glibc linked dynamically; {flags}",
        upstream(version),
        OPTIONS
            .iter()
            .map(|o| format!("CONFIG_{o}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The version banner compiled into a busybox binary (`BusyBox v1.35.0 (Debian ...)`).
pub fn banner(binary: &[u8]) -> Option<String> {
    let at = binary.windows(9).position(|w| w == b"BusyBox v")?;
    let rest = &binary[at..];
    let end = rest
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(rest.len())
        .min(120);
    Some(String::from_utf8_lossy(&rest[..end]).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_stanzas_become_deb_src_lines_per_uri_and_suite() {
        let text = "Types: deb\n\
                    # http://snapshot.example/archive/debian/20250520T000000Z\n\
                    URIs: http://mirror.example/debian\n\
                    Suites: bookworm bookworm-updates\n\
                    Components: main\n\
                    Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
                    \n\
                    Types: deb-src\n\
                    URIs: http://mirror.example/debian\n\
                    Suites: bookworm\n\
                    Components: main\n\
                    \n\
                    Types: deb\n\
                    Enabled: no\n\
                    URIs: http://other.example/x\n\
                    Suites: bookworm\n";
        assert_eq!(
            deb_src_from_deb822(text),
            [
                "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main",
                "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm-updates main",
            ]
        );
        assert_eq!(
            suite_of("deb-src [signed-by=/k arch=amd64] http://m/debian bookworm-security main"),
            Some("bookworm-security")
        );
        assert_eq!(
            suite_of("deb-src http://m/debian bookworm main"),
            Some("bookworm")
        );
        assert_eq!(
            deb_src_from_list("# deb http://a/ x\ndeb [arch=amd64] http://m/debian bookworm main\ndeb-src http://m/debian bookworm main\n"),
            ["deb-src [arch=amd64] http://m/debian bookworm main"]
        );
    }

    #[test]
    fn dsc_and_os_release_fields_and_the_upstream_version() {
        let dsc = "Format: 3.0 (quilt)\nSource: busybox\nVersion: 1:1.35.0-4+deb12u1\n";
        assert_eq!(
            dsc_field(dsc, "Version").as_deref(),
            Some("1:1.35.0-4+deb12u1")
        );
        assert_eq!(upstream("1:1.35.0-4+deb12u1"), "1.35.0");
        assert_eq!(upstream("2.4"), "2.4");
        let os = "NAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=bookworm\n";
        assert_eq!(
            os_release_field(os, "VERSION_CODENAME").as_deref(),
            Some("bookworm")
        );
        assert_eq!(os_release_field(os, "ID"), None);
    }

    #[test]
    fn series_skips_comments_and_options() {
        let text = "# The following patches\n# u-mount.patch\n\nshell-ash-export-HOME.patch\nversion.patch -p1\n";
        assert_eq!(
            series(text),
            ["shell-ash-export-HOME.patch", "version.patch"]
        );
    }

    #[test]
    fn options_are_switched_on_or_appended_and_checked() {
        let config = "CONFIG_HAVE_DOT_CONFIG=y\n# CONFIG_INETD is not set\n# CONFIG_INETD_FOO is not set\n# CONFIG_FEATURE_IPV6 is not set\n";
        let on = enable(config, &["INETD", "FEATURE_IPV6", "FEATURE_X"]);
        assert_eq!(
            on,
            "CONFIG_HAVE_DOT_CONFIG=y\nCONFIG_INETD=y\n# CONFIG_INETD_FOO is not set\nCONFIG_FEATURE_IPV6=y\nCONFIG_FEATURE_X=y\n"
        );
        assert!(not_enabled(&on, &OPTIONS[..1]).is_empty());
        assert_eq!(
            not_enabled(config, &["INETD", "HAVE_DOT_CONFIG"]),
            ["INETD"]
        );
    }

    #[test]
    fn flags_drop_o2_and_the_banner_is_found_in_the_binary() {
        assert_eq!(
            without_o2("-g -O2 -fstack-protector-strong"),
            "-g -fstack-protector-strong"
        );
        let bin = b"\x7fELF\0junk\0BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1)\0more";
        assert_eq!(
            banner(bin).as_deref(),
            Some("BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1)")
        );
        assert_eq!(banner(b"nothing"), None);
        assert_eq!(shell_word("A=b c"), "A='b c'");
        assert_eq!(shell_word("-j2"), "-j2");
    }
}
