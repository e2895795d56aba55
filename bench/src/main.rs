//! `superd-bench`: flags → setup (build or find each daemon) → interleaved rounds of
//! measurements → Markdown report on stdout and in `results/latest.md`.
//!
//! A daemon that cannot be built, found or started is reported in the Notes and the others are
//! still measured; the exit status is 2 when a requested daemon produced no figures at all.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use superd_bench::daemon::{self, Daemon, Kind, Services};
use superd_bench::report::{self, Better, Row, Samples, Unit};
use superd_bench::{load, procfs, setup, stats, sys};

const USAGE: &str = "\
usage: superd-bench [options]
  (e.g. cargo run --release --manifest-path bench/Cargo.toml -- [options])

  -n, --connections N    connections per spawn run (default 2000)
  --rounds R             rounds, daemons interleaved in each (default 3)
  --concurrency LIST     comma-separated client concurrencies (default 1,8,32)
  --services-small N     services for the small config and spawn runs (default 5)
  --services-large N     services for the large idle-memory config (default 1000)
  --base-port P          first port of the small configs; each daemon gets its own block (default 21000)
  --large-base P         first port of the large config (default 31000)
  --superd PATH          use this superd binary instead of building one
  --superd-src DIR       superd repository to build with cargo --release (default: bench/..)
  --no-superd            do not measure superd
  --xinetd PATH          use this xinetd binary (default: PATH, /usr/sbin, else apt-get download)
  --no-xinetd            do not measure xinetd
  --ceiling PATH         use this ceiling binary (default: cargo build --release --bin ceiling)
  --no-ceiling           do not measure the ceiling
  --settle-ms MS         idle time before reading memory (default 1000)
  --startup-timeout S    seconds a daemon gets to listen on all ports (default 5)
  --run-timeout S        seconds one spawn run may take before it is cut short (default 120)
  --work DIR             scratch dir for configs, logs, tiny, xinetd cache (default bench/target/bench-run)
  --out FILE             report path (default bench/results/latest.md)
  -h, --help             this text
";

/// Parsed flags.
#[derive(Debug)]
struct Opts {
    connections: usize,
    rounds: usize,
    concurrency: Vec<usize>,
    small: u16,
    large: u16,
    base_port: u16,
    large_base: u16,
    superd: Option<PathBuf>,
    superd_src: PathBuf,
    no_superd: bool,
    xinetd: Option<PathBuf>,
    no_xinetd: bool,
    ceiling: Option<PathBuf>,
    no_ceiling: bool,
    settle: Duration,
    startup_timeout: Duration,
    run_timeout: Duration,
    work: PathBuf,
    out: PathBuf,
    help: bool,
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let bench = bench_dir();
    let mut o = Opts {
        connections: 2000,
        rounds: 3,
        concurrency: vec![1, 8, 32],
        small: 5,
        large: 1000,
        base_port: 21000,
        large_base: 31000,
        superd: None,
        superd_src: bench.join(".."),
        no_superd: false,
        xinetd: None,
        no_xinetd: false,
        ceiling: None,
        no_ceiling: false,
        settle: Duration::from_millis(1000),
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
        match flag.as_str() {
            "-n" | "--connections" => o.connections = num(flag, value()?)?,
            "--rounds" => o.rounds = num(flag, value()?)?,
            "--concurrency" => {
                o.concurrency = value()?
                    .split(',')
                    .map(|c| num(flag, c.trim().to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--services-small" => o.small = num(flag, value()?)?,
            "--services-large" => o.large = num(flag, value()?)?,
            "--base-port" => o.base_port = num(flag, value()?)?,
            "--large-base" => o.large_base = num(flag, value()?)?,
            "--superd" => o.superd = Some(value()?.into()),
            "--superd-src" => o.superd_src = value()?.into(),
            "--no-superd" => o.no_superd = true,
            "--xinetd" => o.xinetd = Some(value()?.into()),
            "--no-xinetd" => o.no_xinetd = true,
            "--ceiling" => o.ceiling = Some(value()?.into()),
            "--no-ceiling" => o.no_ceiling = true,
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
    let small_end = u32::from(o.base_port) + 3 * u32::from(o.small);
    let large_end = u32::from(o.large_base) + u32::from(o.large);
    if o.base_port < 1024 || o.large_base < 1024 || small_end > 65536 || large_end > 65536 {
        return Err("port blocks must lie within 1024..65535".into());
    }
    if u32::from(o.base_port) < large_end && u32::from(o.large_base) < small_end {
        return Err("--base-port block overlaps the --large-base block".into());
    }
    Ok(o)
}

/// The rows of the table, in print order.
fn rows(concurrency: &[usize], small: u16, large: u16) -> Vec<Row> {
    let row = |id: String, label: String, better, unit| Row {
        id,
        label,
        better,
        unit,
    };
    let mut rows = Vec::new();
    for &c in concurrency {
        rows.push(row(
            format!("rate{c}"),
            format!("spawn c={c}: connections/s"),
            Better::Higher,
            Unit::PerSec,
        ));
        rows.push(row(
            format!("p50_{c}"),
            format!("spawn c={c}: p50 connect→EOF"),
            Better::Lower,
            Unit::Micros,
        ));
        rows.push(row(
            format!("p99_{c}"),
            format!("spawn c={c}: p99 connect→EOF"),
            Better::Lower,
            Unit::Micros,
        ));
        rows.push(row(
            format!("cpu{c}"),
            format!("spawn c={c}: daemon CPU per connection"),
            Better::Lower,
            Unit::Micros,
        ));
    }
    for (id, label) in [
        ("rss_small", format!("idle VmRSS, {small} services")),
        ("pss_small", format!("idle Pss, {small} services")),
        ("rss_large", format!("idle VmRSS, {large} services")),
        ("pss_large", format!("idle Pss, {large} services")),
        (
            "rss_after",
            format!("VmRSS after the spawn runs, {small} services"),
        ),
    ] {
        rows.push(row(id.to_string(), label, Better::Lower, Unit::Kib));
    }
    rows
}

/// State shared by the measurement steps.
struct Ctx<'a> {
    opts: &'a Opts,
    user: String,
    tiny: PathBuf,
    hz: u64,
    samples: Samples,
    notes: Vec<String>,
    commands: Vec<String>,
}

impl Ctx<'_> {
    fn record(&mut self, id: &str, kind: Kind, v: f64) {
        self.samples
            .entry((id.to_string(), kind))
            .or_default()
            .push(v);
    }

    fn services(&self, ports: std::ops::Range<u16>) -> Services {
        Services {
            user: self.user.clone(),
            server: self.tiny.clone(),
            ports,
        }
    }

    fn small_ports(&self, kind: Kind) -> std::ops::Range<u16> {
        let idx = Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0) as u16;
        let start = self.opts.base_port + idx * self.opts.small;
        start..start + self.opts.small
    }
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

    progress("building the tiny server");
    let tiny = setup::build_tiny(&bench_dir().join("tiny.c"), &work)?;
    let mut commands = vec![
        format!(
            "# this run\n{} {}",
            std::env::current_exe().map_or("superd-bench".into(), |p| p.display().to_string()),
            args.join(" ")
        ),
        format!("# tiny server ({})\n{}", tiny.linkage, tiny.command),
    ];

    let mut daemons: Vec<Daemon> = Vec::new();
    let mut missing: Vec<Kind> = Vec::new();
    if opts.no_superd {
        notes.push("superd: skipped (--no-superd)".into());
    } else {
        progress("building superd (cargo build --release)");
        match setup::superd(opts.superd.as_deref(), &opts.superd_src, &work) {
            Ok((d, cmd)) => {
                if let Some(cmd) = cmd {
                    commands.push(format!("# superd\n{cmd}"));
                }
                daemons.push(d);
            }
            Err(e) => {
                notes.push(format!("**superd: NOT MEASURED.** {e}"));
                missing.push(Kind::Superd);
            }
        }
    }
    if opts.no_xinetd {
        notes.push("xinetd: skipped (--no-xinetd)".into());
    } else {
        progress("finding xinetd");
        match setup::xinetd(
            opts.xinetd.as_deref(),
            &work.join("xinetd-cache"),
            &work,
            root,
        ) {
            Ok(x) => {
                if !x.steps.is_empty() {
                    commands.push(format!("# xinetd\n{}", x.steps.join("\n")));
                }
                daemons.push(x.daemon);
            }
            Err(e) => {
                notes.push(format!("**xinetd: NOT MEASURED.** {e}"));
                missing.push(Kind::Xinetd);
            }
        }
    }
    if opts.no_ceiling {
        notes.push("ceiling: skipped (--no-ceiling)".into());
    } else {
        progress("building ceiling");
        match setup::ceiling(opts.ceiling.as_deref(), &bench_dir(), &work) {
            Ok(d) => {
                if opts.ceiling.is_none() {
                    commands.push(format!(
                        "# ceiling\ncargo build --release --bin ceiling --manifest-path {}",
                        bench_dir().join("Cargo.toml").display()
                    ));
                }
                daemons.push(d);
            }
            Err(e) => {
                notes.push(format!("**ceiling: NOT MEASURED.** {e}"));
                missing.push(Kind::Ceiling);
            }
        }
    }
    for n in &notes {
        progress(n);
    }
    if daemons.is_empty() {
        return Err("nothing to measure".into());
    }

    let load_before = loadavg();
    let mut ctx = Ctx {
        opts: &opts,
        user,
        tiny: tiny.path.clone(),
        hz: sys::clock_ticks_per_sec(),
        samples: Samples::new(),
        notes,
        commands,
    };
    for round in 0..opts.rounds {
        // Rotate the order each round so no daemon always runs first or last.
        for j in 0..daemons.len() {
            let d = &daemons[(j + round) % daemons.len()];
            measure(&mut ctx, d, round + 1);
        }
    }

    let rows = rows(&opts.concurrency, opts.small, opts.large);
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
    let mut facts = vec![
        ("Date".to_string(), stats::utc_timestamp(now_secs())),
        ("Machine".to_string(), machine()),
        (
            "Load".to_string(),
            format!(
                "N = {} connections per run, concurrency {:?}, {} rounds (medians shown), {} s idle before memory reads",
                opts.connections,
                opts.concurrency,
                opts.rounds,
                opts.settle.as_secs_f64()
            ),
        ),
        (
            "Services".to_string(),
            format!(
                "external `UNLISTED` stream services on 127.0.0.1 running the tiny server ({}, writes \"hello\\n\"), user = {}",
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
    let sample = daemon::xinetd_conf(
        &ctx.services(ctx.small_ports(Kind::Superd).start..ctx.small_ports(Kind::Superd).start + 1),
    );
    let md = report::markdown(&report::Report {
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

/// One round for one daemon: the small config (idle memory, spawn runs, memory after), then
/// the large config (idle memory).
fn measure(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let name = d.kind.name();
    let opts = ctx.opts;
    let ports = ctx.small_ports(d.kind);
    let svc = ctx.services(ports.clone());
    let tag = format!("{name}-r{round}-small");
    let work = fs::canonicalize(&opts.work).unwrap_or_else(|_| opts.work.clone());
    match daemon::start(d, &svc, &work, &tag, opts.startup_timeout) {
        Err(e) => ctx.notes.push(format!("round {round}: {e}")),
        Ok(mut running) => {
            if round == 1 {
                ctx.commands.push(format!(
                    "# {name}, {} services\n{}",
                    opts.small,
                    running.argv.join(" ")
                ));
            }
            std::thread::sleep(opts.settle);
            read_memory(ctx, &running, round, "rss_small", "pss_small");
            spawn_runs(
                ctx,
                &mut running,
                SocketAddr::from(([127, 0, 0, 1], ports.start)),
                round,
            );
            std::thread::sleep(opts.settle);
            read_memory(ctx, &running, round, "rss_after", "");
            if let Some(n) = running.stop() {
                ctx.notes.push(format!("round {round}: {n}"));
            }
        }
    }

    let svc = ctx.services(opts.large_base..opts.large_base + opts.large);
    let tag = format!("{name}-r{round}-large");
    match daemon::start(d, &svc, &work, &tag, opts.startup_timeout) {
        Err(e) => ctx.notes.push(format!("round {round}: {e}")),
        Ok(mut running) => {
            if round == 1 {
                ctx.commands.push(format!(
                    "# {name}, {} services\n{}",
                    opts.large,
                    running.argv.join(" ")
                ));
            }
            std::thread::sleep(opts.settle);
            read_memory(ctx, &running, round, "rss_large", "pss_large");
            if let Some(n) = running.stop() {
                ctx.notes.push(format!("round {round}: {n}"));
            }
        }
    }
}

fn read_memory(ctx: &mut Ctx, running: &daemon::Running, round: usize, rss: &str, pss: &str) {
    let name = running.kind.name();
    match procfs::memory(running.pid) {
        Ok(m) => {
            progress(&format!(
                "round {round} {name}: {rss} {:.2} MiB, Pss {:.2} MiB",
                m.rss_kib as f64 / 1024.0,
                m.pss_kib as f64 / 1024.0
            ));
            ctx.record(rss, running.kind, m.rss_kib as f64);
            if !pss.is_empty() {
                ctx.record(pss, running.kind, m.pss_kib as f64);
            }
        }
        Err(e) => ctx.notes.push(format!(
            "round {round}: {name}: reading /proc/{}: {e}",
            running.pid
        )),
    }
}

fn spawn_runs(ctx: &mut Ctx, running: &mut daemon::Running, addr: SocketAddr, round: usize) {
    let name = running.kind.name();
    let kind = running.kind;
    let opts = ctx.opts;
    let expect = b"hello\n";
    let warm = load::run(addr, 50, 1, expect, Duration::from_secs(30));
    if warm.ok == 0 {
        ctx.notes.push(format!(
            "round {round}: {name}: warm-up failed, spawn runs skipped: {} of 50 connections failed, first error: {}{}",
            warm.errors,
            warm.first_error.unwrap_or_default(),
            running.tails()
        ));
        return;
    }
    for &c in &opts.concurrency {
        let before = procfs::cpu_ticks(running.pid).ok();
        let r = load::run(addr, opts.connections, c, expect, opts.run_timeout);
        let after = procfs::cpu_ticks(running.pid).ok();
        let p50 = stats::percentile(&r.latencies_us, 50.0);
        let p99 = stats::percentile(&r.latencies_us, 99.0);
        progress(&format!(
            "round {round} {name} c={c}: {} ok, {} errors, {:.0} conn/s, p50 {} µs, p99 {} µs",
            r.ok,
            r.errors,
            r.conn_per_sec(),
            p50.unwrap_or(0),
            p99.unwrap_or(0)
        ));
        if r.errors > 0 || r.aborted {
            ctx.notes.push(format!(
                "round {round}: {name} c={c}: {} of {} connections failed{}; first error: {}",
                r.errors,
                opts.connections,
                if r.aborted {
                    ", run cut short (deadline or error budget)"
                } else {
                    ""
                },
                r.first_error.clone().unwrap_or_default()
            ));
        }
        if !running.alive() {
            ctx.notes.push(format!(
                "round {round}: {name} died during the c={c} run{}",
                running.tails()
            ));
        }
        if r.ok == 0 {
            continue;
        }
        ctx.record(&format!("rate{c}"), kind, r.conn_per_sec());
        if let (Some(p50), Some(p99)) = (p50, p99) {
            ctx.record(&format!("p50_{c}"), kind, p50 as f64);
            ctx.record(&format!("p99_{c}"), kind, p99 as f64);
        }
        if let (Some(b), Some(a)) = (before, after) {
            let micros = (a.saturating_sub(b)) as f64 * 1e6 / ctx.hz as f64;
            ctx.record(&format!("cpu{c}"), kind, micros / r.ok as f64);
        }
    }
}

fn progress(msg: &str) {
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
            (o.connections, o.rounds, o.small, o.large),
            (2000, 3, 5, 1000)
        );
        assert_eq!(o.concurrency, vec![1, 8, 32]);
        assert_eq!(o.startup_timeout, Duration::from_secs(5));
    }

    #[test]
    fn flags_override_and_bad_values_are_errors() {
        let o = parse_args(&args("-n 500 --concurrency 1,4,8 --no-xinetd --superd /x")).unwrap();
        assert_eq!(o.connections, 500);
        assert_eq!(o.concurrency, vec![1, 4, 8]);
        assert!(o.no_xinetd);
        assert_eq!(o.superd, Some(PathBuf::from("/x")));
        assert!(parse_args(&args("-n")).is_err());
        assert!(parse_args(&args("-n x")).is_err());
        assert!(parse_args(&args("--concurrency 0")).is_err());
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--base-port 30990")).is_err());
    }
}
