//! `superd-bench`: flags → setup (build or find each program) → interleaved rounds of
//! measurements (`measure`) → Markdown report on stdout and in `results/latest.md`.
//!
//! A program that cannot be built, found or started is reported in the Notes and the others are
//! still measured; the exit status is 2 when a requested program produced no figures at all.

mod measure;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use superd_bench::daemon::{self, Daemon, Kind, Services};
use superd_bench::{procfs, setup, stats, sys};

const USAGE: &str = "\
usage: superd-bench [options]
  (e.g. cargo run --release --manifest-path bench/Cargo.toml -- [options])

  --quick                one round, N = 300, 5 reloads, 32 MiB bulk, 500-connection flood,
                         300 ms settle (a few minutes); later flags still override
  --figures LIST         comma-separated, any of:
                         spawn,spawn-large,memory,startup,reload,cat,echo,udp,flood (default: all);
                         spawn-large: spawn c=1 to the middle service of the large config, and its
                         p50 ÷ the small config's c=1 p50 (measures spawn c=1 even without spawn)
  -n, --connections N    connections per spawn, /bin/cat and echo run (default 2000)
  --rounds R             rounds, programs interleaved in each (default 3)
  --concurrency LIST     comma-separated client concurrencies for spawn (default 1,8,32)
  --echo-concurrency C   client concurrency of the /bin/cat and internal echo runs (default 8)
  --services-small N     services for the small config and spawn runs (default 5)
  --services-large N     services for the large config: memory, start-up, reload, spawn-large
                         (default 1000)
  --reloads K            reloads under load in the reload figure (default 20)
  --bulk-mib M           MiB written through the internal echo on one connection (default 256)
  --udp N                datagrams in the UDP burst and UDP round trips (default 1000)
  --flood N              connections of the flood figure (default 2000)
  --flood-concurrency C  their concurrency (default 256)
  --flood-instances I    instances (tcpserver -c) of the flood service (default 50)
  --base-port P          first port of the small configs; each program gets its own block (default 21000)
  --large-base P         first port of the large config (default 31000)
  --superd PATH          use this superd binary instead of building one
  --superd-src DIR       superd repository to build with cargo --release (default: bench/..)
  --xinetd PATH, --openbsd-inetd PATH, --inetutils-inetd PATH, --busybox-inetd PATH,
  --tcpserver PATH, --socket-activate PATH, --ceiling PATH
                         use this binary for that program (default: found, fetched or built, see
                         README; busybox-inetd: a busybox with the inetd applet)
  --no-superd, --no-xinetd, --no-openbsd-inetd, --no-inetutils-inetd, --no-busybox-inetd,
  --no-tcpserver, --no-socket-activate, --no-ceiling
                         do not measure that program
  --settle-ms MS         idle time before reading memory (default 1000)
  --startup-timeout S    seconds a program gets to listen on all ports (default 5)
  --run-timeout S        seconds one run may take before it is cut short (default 120)
  --work DIR             scratch dir for configs, logs, tiny, peer caches (default bench/target/bench-run)
  --out FILE             report path (default bench/results/latest.md)
  -h, --help             this text
";

/// Every figure `--figures` can name, in report order.
pub const FIGURES: [&str; 9] = [
    "spawn",
    "spawn-large",
    "memory",
    "startup",
    "reload",
    "cat",
    "echo",
    "udp",
    "flood",
];

/// Parsed flags.
#[derive(Debug)]
pub struct Opts {
    pub connections: usize,
    pub rounds: usize,
    pub concurrency: Vec<usize>,
    pub echo_concurrency: usize,
    pub small: u16,
    pub large: u16,
    pub reloads: u16,
    pub bulk_mib: u64,
    pub udp: usize,
    pub flood: usize,
    pub flood_concurrency: usize,
    pub flood_instances: u32,
    pub figures: BTreeSet<&'static str>,
    pub base_port: u16,
    pub large_base: u16,
    pub superd_src: PathBuf,
    /// `--NAME PATH` per program.
    pub paths: Vec<(Kind, PathBuf)>,
    /// `--no-NAME`.
    pub skip: BTreeSet<Kind>,
    pub settle: Duration,
    pub startup_timeout: Duration,
    pub run_timeout: Duration,
    pub work: PathBuf,
    pub out: PathBuf,
    pub help: bool,
}

impl Opts {
    pub fn wants(&self, figure: &str) -> bool {
        self.figures.contains(figure)
    }

    fn path(&self, kind: Kind) -> Option<&Path> {
        self.paths
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| p.as_path())
    }

    /// Client concurrencies of the spawn runs on the small config: `--concurrency` for
    /// `spawn`, and 1 for `spawn-large`, whose ratio row divides by the small config's c=1 p50.
    pub fn spawn_concurrency(&self) -> Vec<usize> {
        let mut c = if self.wants("spawn") {
            self.concurrency.clone()
        } else {
            Vec::new()
        };
        if self.wants("spawn-large") && !c.contains(&1) {
            c.insert(0, 1);
        }
        c
    }

    /// The port `spawn-large` connects to: the middle service of the large config (a daemon
    /// that searches its services linearly pays the average cost there, not the best case).
    pub fn large_probe(&self) -> u16 {
        self.large_base + self.large / 2
    }

    /// Ports of one program's small block: spawn services, then cat, echo (TCP and UDP),
    /// flood with defer, flood with close.
    pub fn block(&self, kind: Kind) -> u16 {
        let idx = Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0) as u16;
        self.base_port + idx * (self.small + BLOCK_EXTRA)
    }
}

/// Ports after the spawn services in each program's block.
pub const BLOCK_EXTRA: u16 = 5;

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let bench = bench_dir();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        connections: if quick { 300 } else { 2000 },
        rounds: if quick { 1 } else { 3 },
        concurrency: vec![1, 8, 32],
        echo_concurrency: 8,
        small: 5,
        large: 1000,
        reloads: if quick { 5 } else { 20 },
        bulk_mib: if quick { 32 } else { 256 },
        udp: 1000,
        flood: if quick { 500 } else { 2000 },
        flood_concurrency: 256,
        flood_instances: 50,
        figures: FIGURES.iter().copied().collect(),
        base_port: 21000,
        large_base: 31000,
        superd_src: bench.join(".."),
        paths: Vec::new(),
        skip: BTreeSet::new(),
        settle: Duration::from_millis(if quick { 300 } else { 1000 }),
        startup_timeout: Duration::from_secs(5),
        run_timeout: Duration::from_secs(120),
        work: bench.join("target/bench-run"),
        out: bench.join("results/latest.md"),
        help: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: not a number: {v:?}"))
        }
        let named = |prefix: &str| {
            Kind::ALL
                .into_iter()
                .find(|k| flag.strip_prefix(prefix) == Some(k.name()))
        };
        if let Some(kind) = named("--no-") {
            o.skip.insert(kind);
            continue;
        }
        if let Some(kind) = named("--") {
            o.paths.push((kind, value()?.into()));
            continue;
        }
        match flag.as_str() {
            "--quick" => {}
            "--figures" => {
                o.figures = BTreeSet::new();
                for f in value()?.split(',').map(str::trim) {
                    let known = FIGURES.iter().find(|&&k| k == f).ok_or_else(|| {
                        format!(
                            "--figures: unknown figure {f:?} (known: {})",
                            FIGURES.join(",")
                        )
                    })?;
                    o.figures.insert(known);
                }
            }
            "-n" | "--connections" => o.connections = num(flag, value()?)?,
            "--rounds" => o.rounds = num(flag, value()?)?,
            "--concurrency" => {
                o.concurrency = value()?
                    .split(',')
                    .map(|c| num(flag, c.trim().to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--echo-concurrency" => o.echo_concurrency = num(flag, value()?)?,
            "--services-small" => o.small = num(flag, value()?)?,
            "--services-large" => o.large = num(flag, value()?)?,
            "--reloads" => o.reloads = num(flag, value()?)?,
            "--bulk-mib" => o.bulk_mib = num(flag, value()?)?,
            "--udp" => o.udp = num(flag, value()?)?,
            "--flood" => o.flood = num(flag, value()?)?,
            "--flood-concurrency" => o.flood_concurrency = num(flag, value()?)?,
            "--flood-instances" => o.flood_instances = num(flag, value()?)?,
            "--base-port" => o.base_port = num(flag, value()?)?,
            "--large-base" => o.large_base = num(flag, value()?)?,
            "--superd-src" => o.superd_src = value()?.into(),
            "--settle-ms" => o.settle = Duration::from_millis(num(flag, value()?)?),
            "--startup-timeout" => o.startup_timeout = Duration::from_secs(num(flag, value()?)?),
            "--run-timeout" => o.run_timeout = Duration::from_secs(num(flag, value()?)?),
            "--work" => o.work = value()?.into(),
            "--out" => o.out = value()?.into(),
            "-h" | "--help" => o.help = true,
            _ => return Err(format!("unknown flag {flag:?}\n{USAGE}")),
        }
    }
    if o.connections == 0 || o.rounds == 0 || o.small == 0 || o.large == 0 {
        return Err("--connections, --rounds and --services-* must be at least 1".into());
    }
    if o.concurrency.is_empty() || o.concurrency.contains(&0) {
        return Err("--concurrency needs positive numbers".into());
    }
    if o.echo_concurrency == 0 || o.flood == 0 || o.flood_concurrency == 0 || o.udp == 0 {
        return Err(
            "--echo-concurrency, --flood, --flood-concurrency and --udp must be at least 1".into(),
        );
    }
    if o.flood_instances == 0 {
        return Err("--flood-instances must be at least 1".into());
    }
    let small_end = u32::from(o.base_port)
        + Kind::ALL.len() as u32 * (u32::from(o.small) + u32::from(BLOCK_EXTRA));
    // The large block also holds the ports added by the reload figure.
    let large_end = u32::from(o.large_base) + u32::from(o.large) + u32::from(o.reloads) + 1;
    if o.base_port < 1024 || o.large_base < 1024 || small_end > 65536 || large_end > 65536 {
        return Err("port blocks must lie within 1024..65535".into());
    }
    if u32::from(o.base_port) < large_end && u32::from(o.large_base) < small_end {
        return Err("--base-port block overlaps the --large-base block".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("superd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds or finds one program; `Ok` carries the commands that got it, for the report.
fn get(kind: Kind, opts: &Opts, work: &Path, root: bool) -> Result<(Daemon, Vec<String>), String> {
    let explicit = opts.path(kind);
    let cache = |pkg: &str| work.join(format!("{pkg}-cache"));
    match kind {
        Kind::Superd => {
            progress("building superd (cargo build --release)");
            let (d, cmd) = setup::superd(explicit, &opts.superd_src, work)?;
            Ok((d, cmd.into_iter().collect()))
        }
        Kind::Xinetd => {
            let x = setup::xinetd(explicit, &cache("xinetd"), work, root)?;
            Ok((x.daemon, x.steps))
        }
        Kind::OpenbsdInetd => {
            let p = setup::openbsd_inetd(explicit, &cache("openbsd-inetd"), work, root)?;
            Ok((p.daemon, p.steps))
        }
        Kind::InetutilsInetd => {
            let p = setup::inetutils_inetd(explicit, &cache("inetutils-inetd"), work, root)?;
            Ok((p.daemon, p.steps))
        }
        Kind::BusyboxInetd => {
            if explicit.is_none() {
                progress(
                    "busybox-inetd: Debian's busybox source, inetd applet (built once, cached)",
                );
            }
            let p = setup::busybox_inetd(explicit, &cache("busybox-inetd"), work)?;
            Ok((p.daemon, p.steps))
        }
        Kind::Tcpserver => {
            let p = setup::tcpserver(explicit, &cache("ucspi-tcp"), work, root)?;
            Ok((p.daemon, p.steps))
        }
        Kind::SocketActivate => {
            let p = setup::socket_activate(explicit, work)?;
            Ok((p.daemon, p.steps))
        }
        Kind::Ceiling => {
            progress("building ceiling");
            let d = setup::ceiling(explicit, &bench_dir(), work)?;
            let cmd = explicit.is_none().then(|| {
                format!(
                    "cargo build --release --bin ceiling --manifest-path {}",
                    bench_dir().join("Cargo.toml").display()
                )
            });
            Ok((d, cmd.into_iter().collect()))
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = parse_args(&args)?;
    if opts.help {
        print!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    fs::create_dir_all(&opts.work).map_err(|e| format!("{}: {e}", opts.work.display()))?;
    let work = fs::canonicalize(&opts.work).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    let nofile = match sys::raise_nofile_limit() {
        Ok((old, new)) => format!("soft {old} → {new} (hard)"),
        Err(e) => {
            notes.push(format!("could not raise RLIMIT_NOFILE: {e}"));
            "unchanged".to_string()
        }
    };
    let root = sys::euid() == 0;
    let user = if root {
        "root".to_string()
    } else {
        setup::capture(Command::new("id").arg("-un"), &work, "id")?
    };

    progress("building the tiny servers");
    let src = bench_dir().join("tiny.c");
    let tiny = setup::build_tiny(&src, &work, "tiny", &[])?;
    let slow = setup::build_tiny(&src, &work, "tiny-slow", &["-DDELAY_MS=50"])?;
    let mut commands = vec![
        format!(
            "# this run\n{} {}",
            std::env::current_exe().map_or("superd-bench".into(), |p| p.display().to_string()),
            args.join(" ")
        ),
        format!(
            "# tiny servers ({})\n{}\n{}",
            tiny.linkage, tiny.command, slow.command
        ),
    ];

    let mut daemons: Vec<Daemon> = Vec::new();
    let mut missing: Vec<Kind> = Vec::new();
    for kind in Kind::ALL {
        let name = kind.name();
        if opts.skip.contains(&kind) {
            notes.push(format!("{name}: skipped (--no-{name})"));
            continue;
        }
        progress(&format!("getting {name}"));
        match get(kind, &opts, &work, root) {
            Ok((d, steps)) => {
                if !steps.is_empty() {
                    commands.push(format!("# {name}\n{}", steps.join("\n")));
                }
                daemons.push(d);
            }
            Err(e) => {
                notes.push(format!("**{name}: NOT MEASURED.** {e}"));
                missing.push(kind);
            }
        }
    }
    if daemons.iter().any(|d| d.kind == Kind::BusyboxInetd) {
        notes.push(
            "busybox-inetd: Debian 12's `busybox` and `busybox-static` are built without the \
             inetd applet, so the bench builds busybox from Debian's busybox source package \
             with the applet (see its line above and the Commands)."
                .to_string(),
        );
    }
    for n in &notes {
        progress(n);
    }
    if daemons.is_empty() {
        return Err("nothing to measure".into());
    }

    if opts.wants("spawn-large") {
        notes.push(format!(
            "spawn c=1, {large} services: connections to the middle service (port {probe}) of \
             the {large}-service config. The row \"p50 at {large} services ÷ p50 at {small} \
             services\" is each program's own quotient of its two spawn c=1 p50s (the small \
             config's first service), taken per round and shown as the median over rounds; \
             1.00× means the number of services costs nothing. Its superd ÷ columns divide \
             superd's quotient by the other program's.",
            large = opts.large,
            small = opts.small,
            probe = opts.large_probe(),
        ));
    }
    let load_before = loadavg();
    let mut ctx = measure::Ctx {
        opts: &opts,
        work: work.clone(),
        user,
        tiny: tiny.path.clone(),
        slow: slow.path.clone(),
        hz: sys::clock_ticks_per_sec(),
        samples: Default::default(),
        small_p50: Default::default(),
        notes,
        commands,
    };
    for round in 0..opts.rounds {
        // Rotate the order each round so no program always runs first or last.
        for j in 0..daemons.len() {
            let d = &daemons[(j + round) % daemons.len()];
            measure::round(&mut ctx, d, round + 1);
        }
    }

    let rows = measure::rows(&opts);
    for d in &daemons {
        let measured = ctx.samples.keys().any(|(_, k)| *k == d.kind);
        if !measured {
            missing.push(d.kind);
            ctx.notes.push(format!(
                "**{}: produced no figures** (see above).",
                d.kind.name()
            ));
        }
    }
    let figures: Vec<&str> = opts.figures.iter().copied().collect();
    let mut facts = vec![
        ("Date".to_string(), stats::utc_timestamp(now_secs())),
        ("Machine".to_string(), machine()),
        (
            "Load".to_string(),
            format!(
                "figures {}; N = {} connections per run, spawn concurrency {:?}, /bin/cat and echo concurrency {}, {} rounds (medians shown), {} s idle before memory reads",
                figures.join(","),
                opts.connections,
                opts.spawn_concurrency(),
                opts.echo_concurrency,
                opts.rounds,
                opts.settle.as_secs_f64()
            ),
        ),
        (
            "Services".to_string(),
            format!(
                "external stream services on 127.0.0.1 running the tiny server ({}, writes \"hello\\n\"), user = {}",
                tiny.linkage, ctx.user
            ),
        ),
        ("RLIMIT_NOFILE".to_string(), nofile),
        (
            "Load average (1/5/15 min)".to_string(),
            format!(
                "{load_before} before, {} after the measurements (other work on the machine adds noise)",
                loadavg()
            ),
        ),
    ];
    for kind in Kind::ALL {
        let v = daemons
            .iter()
            .find(|d| d.kind == kind)
            .map_or("not measured".to_string(), |d| {
                format!("{} (`{}`)", d.version, d.bin.display())
            });
        facts.push((kind.name().to_string(), v));
    }
    let first = opts.block(Kind::Superd);
    let sample_svc = Services::exec(&ctx.user, &tiny.path, first..first + 1);
    let sample = format!(
        "# superd and xinetd\n{}\n# openbsd-inetd\n{}\n# inetutils-inetd\n{}\n# busybox-inetd\n{}",
        daemon::xinetd_conf(&sample_svc),
        daemon::inetd_conf(&sample_svc),
        daemon::inetutils_conf(&sample_svc),
        daemon::busybox_conf(&sample_svc)
    );
    let md = superd_bench::report::markdown(&superd_bench::report::Report {
        title_facts: facts,
        rows,
        samples: ctx.samples,
        notes: ctx.notes,
        commands: ctx.commands,
        config_sample: sample,
    });
    print!("{md}");
    if let Some(dir) = opts.out.parent() {
        let _ = fs::create_dir_all(dir);
    }
    fs::write(&opts.out, &md).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    progress(&format!("report written to {}", opts.out.display()));
    if missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        let names: Vec<&str> = missing.iter().map(|k| k.name()).collect();
        progress(&format!(
            "not measured: {} (exit status 2)",
            names.join(", ")
        ));
        Ok(ExitCode::from(2))
    }
}

pub fn progress(msg: &str) {
    eprintln!("superd-bench: {msg}");
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// nproc, kernel, CPU model and memory, from std and /proc.
fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let read = |p: &str| fs::read_to_string(Path::new(p)).unwrap_or_default();
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let mem = procfs::kib_field(&read("/proc/meminfo"), "MemTotal:").map_or(String::new(), |k| {
        format!(", {:.1} GiB RAM", k as f64 / 1048576.0)
    });
    format!("nproc {nproc}, Linux {kernel}, {cpu}{mem}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn defaults_match_the_readme() {
        let o = parse_args(&[]).unwrap();
        assert_eq!(
            (o.connections, o.rounds, o.small, o.large, o.reloads),
            (2000, 3, 5, 1000, 20)
        );
        assert_eq!(o.concurrency, vec![1, 8, 32]);
        assert_eq!(o.startup_timeout, Duration::from_secs(5));
        assert_eq!(o.figures.len(), FIGURES.len());
        assert!(o.skip.is_empty());
    }

    #[test]
    fn quick_sets_small_defaults_that_later_flags_override() {
        let o = parse_args(&args("--quick -n 100")).unwrap();
        assert_eq!((o.rounds, o.connections, o.reloads), (1, 100, 5));
    }

    #[test]
    fn flags_override_and_bad_values_are_errors() {
        let o = parse_args(&args(
            "-n 500 --concurrency 1,4,8 --no-xinetd --no-socket-activate --superd /x --tcpserver /t --inetutils-inetd /i --busybox-inetd /b --figures spawn,reload",
        ))
        .unwrap();
        assert_eq!(o.connections, 500);
        assert_eq!(o.concurrency, vec![1, 4, 8]);
        assert!(o.skip.contains(&Kind::Xinetd) && o.skip.contains(&Kind::SocketActivate));
        assert_eq!(o.path(Kind::Superd), Some(Path::new("/x")));
        assert_eq!(o.path(Kind::Tcpserver), Some(Path::new("/t")));
        assert_eq!(o.path(Kind::InetutilsInetd), Some(Path::new("/i")));
        assert_eq!(o.path(Kind::BusyboxInetd), Some(Path::new("/b")));
        assert!(parse_args(&args("--no-inetutils-inetd"))
            .unwrap()
            .skip
            .contains(&Kind::InetutilsInetd));
        assert!(parse_args(&args("--no-busybox-inetd"))
            .unwrap()
            .skip
            .contains(&Kind::BusyboxInetd));
        assert!(o.wants("reload") && !o.wants("memory"));
        assert!(parse_args(&args("-n")).is_err());
        assert!(parse_args(&args("-n x")).is_err());
        assert!(parse_args(&args("--concurrency 0")).is_err());
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--figures spawn,bogus")).is_err());
        assert!(parse_args(&args("--base-port 30990")).is_err());
    }

    #[test]
    fn spawn_large_adds_a_c1_run_on_the_small_config_and_probes_the_middle_service() {
        let conc = |a: &str| parse_args(&args(a)).unwrap().spawn_concurrency();
        assert_eq!(conc(""), vec![1, 8, 32]);
        assert_eq!(conc("--figures spawn --concurrency 8,32"), vec![8, 32]);
        assert_eq!(conc("--figures spawn-large --concurrency 8,32"), vec![1]);
        assert_eq!(
            conc("--figures spawn,spawn-large --concurrency 8"),
            vec![1, 8]
        );
        assert_eq!(conc("--figures memory"), Vec::<usize>::new());
        assert_eq!(parse_args(&[]).unwrap().large_probe(), 31500);
        let o = parse_args(&args("--large-base 12000 --services-large 5")).unwrap();
        assert_eq!(o.large_probe(), 12002);
    }

    #[test]
    fn spawn_large_rows_follow_the_c1_rows_and_end_with_the_p50_quotient() {
        let o = parse_args(&args("--figures spawn-large --concurrency 8")).unwrap();
        let ids: Vec<String> = measure::rows(&o).into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "rate1",
                "p50_1",
                "p99_1",
                "cpu1",
                "rate1_large",
                "p50_1_large",
                "p99_1_large",
                "cpu1_large",
                "p50_scaling"
            ]
        );
        let labels: Vec<String> = measure::rows(&parse_args(&[]).unwrap())
            .into_iter()
            .map(|r| r.label)
            .collect();
        assert!(labels.contains(&"spawn c=1, 1000 services: p50 connect→EOF".to_string()));
        assert!(labels.contains(
            &"spawn c=1: p50 at 1000 services ÷ p50 at 5 services (goal ≤ 1.05×)".to_string()
        ));
    }

    #[test]
    fn udp_rows_are_the_two_pinned_round_trips_then_the_burst() {
        let rows = measure::rows(&parse_args(&args("--figures udp")).unwrap());
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["udp_p50_same", "udp_p50_cross", "udp_burst"]);
        assert_eq!(
            rows[0].label,
            "UDP echo round trip p50, daemon on the client's CPU"
        );
        assert_eq!(
            rows[1].label,
            "UDP echo round trip p50, daemon on another CPU"
        );
    }
}
