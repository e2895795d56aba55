//! One round for one program: each selected figure starts the program on a config of its own,
//! measures, and stops it by pid. A figure a program cannot do (no reload, no internal
//! services, no instance limit) records nothing, so its cell prints "—"; `rows` says what each
//! figure is and the Notes why a cell is empty.
//!
//! Configs per round: small (spawn services: idle memory, spawn runs), large (idle memory,
//! start-up time, spawn c=1 to its middle service, then the reload figure on the same
//! instance), extras (/bin/cat, internal TCP and UDP echo) and one config per flood mode.
//! The UDP round trips run twice with the client and the daemon pinned to chosen CPUs (the same
//! one, then two different ones), and the CPU masks are put back before the burst.
//! `spawn-large` divides its p50 by the same round's small-config c=1 p50 of the same program:
//! the two runs are back to back, so slow drift in the machine's other load mostly cancels.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use superd_bench::affinity::{self, Pinning};
use superd_bench::daemon::{self, Daemon, Kind, Program, Running, Service, Services};
use superd_bench::load::{self, Job};
use superd_bench::report::{Better, Row, Samples, Unit};
use superd_bench::{procfs, stats};

use crate::{progress, Opts};

/// Bytes each /bin/cat and echo connection writes and expects back.
const ECHO_BYTES: usize = 100;
/// Client threads hammering an unchanged service during the reloads.
const HAMMER_THREADS: usize = 4;
/// How long one reload may take before the figure gives up.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The UDP round-trip rows: id, and where the daemon's threads run relative to the client's
/// (the first CPU the bench may use, then the next one).
const UDP_PLACEMENTS: [(&str, &str); 2] = [
    ("udp_p50_same", "on the client's CPU"),
    ("udp_p50_cross", "on another CPU"),
];

/// State shared by the measurement steps.
pub struct Ctx<'a> {
    pub opts: &'a Opts,
    pub work: PathBuf,
    pub user: String,
    pub tiny: PathBuf,
    pub slow: PathBuf,
    pub hz: u64,
    pub samples: Samples,
    /// p50 of the small config's spawn c=1 run, per (program, round): `spawn-large`'s divisor.
    pub small_p50: BTreeMap<(Kind, usize), f64>,
    pub notes: Vec<String>,
    pub commands: Vec<String>,
}

impl Ctx<'_> {
    fn record(&mut self, id: &str, kind: Kind, v: f64) {
        self.samples
            .entry((id.to_string(), kind))
            .or_default()
            .push(v);
    }

    fn note(&mut self, round: usize, msg: String) {
        progress(&format!("round {round}: {msg}"));
        self.notes.push(format!("round {round}: {msg}"));
    }

    /// Starts `d` on `svc`; on failure notes why and returns None.
    fn start(&mut self, d: &Daemon, svc: &Services, tag: &str, round: usize) -> Option<Running> {
        let tag = format!("{}-r{round}-{tag}", d.kind.name());
        match daemon::start(d, svc, &self.work, &tag, self.opts.startup_timeout) {
            Ok(r) => {
                if round == 1 {
                    let more = if r.pids.len() > 1 {
                        format!("\n# … and {} more processes like it", r.pids.len() - 1)
                    } else {
                        String::new()
                    };
                    self.commands.push(format!(
                        "# {} ({tag}, {} services)\n{}{more}",
                        d.kind.name(),
                        svc.list.len(),
                        r.argv.join(" ")
                    ));
                }
                Some(r)
            }
            Err(e) => {
                self.note(round, e);
                None
            }
        }
    }

    fn stop(&mut self, mut running: Running, round: usize) {
        if let Some(n) = running.stop() {
            self.note(round, n);
        }
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The rows of the table, in print order, for the selected figures.
pub fn rows(o: &Opts) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |id: String, label: String, better, unit| {
        rows.push(Row {
            id,
            label,
            better,
            unit,
        })
    };
    use Better::{Higher, Lower};
    let (small, large) = (o.small, o.large);
    for c in o.spawn_concurrency() {
        row(
            format!("rate{c}"),
            format!("spawn c={c}: connections/s"),
            Higher,
            Unit::PerSec,
        );
        row(
            format!("p50_{c}"),
            format!("spawn c={c}: p50 connect→EOF"),
            Lower,
            Unit::Micros,
        );
        row(
            format!("p99_{c}"),
            format!("spawn c={c}: p99 connect→EOF"),
            Lower,
            Unit::Micros,
        );
        row(
            format!("cpu{c}"),
            format!("spawn c={c}: daemon CPU per connection"),
            Lower,
            Unit::Micros,
        );
    }
    if o.wants("spawn-large") {
        for (id, what, better, unit) in [
            ("rate1_large", "connections/s", Higher, Unit::PerSec),
            ("p50_1_large", "p50 connect→EOF", Lower, Unit::Micros),
            ("p99_1_large", "p99 connect→EOF", Lower, Unit::Micros),
            (
                "cpu1_large",
                "daemon CPU per connection",
                Lower,
                Unit::Micros,
            ),
        ] {
            row(
                id.to_string(),
                format!("spawn c=1, {large} services: {what}"),
                better,
                unit,
            );
        }
        row(
            "p50_scaling".to_string(),
            format!("spawn c=1: p50 at {large} services ÷ p50 at {small} services (goal ≤ 1.05×)"),
            Lower,
            Unit::Ratio,
        );
    }
    if o.wants("memory") {
        for (id, label) in [
            ("rss_small", format!("idle VmRSS, {small} services")),
            ("pss_small", format!("idle Pss, {small} services")),
            ("rss_large", format!("idle VmRSS, {large} services")),
            ("pss_large", format!("idle Pss, {large} services")),
        ] {
            row(id.to_string(), label, Lower, Unit::Kib);
        }
        if !o.spawn_concurrency().is_empty() {
            row(
                "rss_after".to_string(),
                format!("VmRSS after the spawn runs, {small} services"),
                Lower,
                Unit::Kib,
            );
        }
    }
    if o.wants("startup") {
        row(
            "startup".to_string(),
            format!("start-up: spawn → all {large} ports listen"),
            Lower,
            Unit::Millis,
        );
    }
    if o.wants("reload") {
        row(
            "reload_new".to_string(),
            format!("reload, {large} services: SIGHUP → new service accepts"),
            Lower,
            Unit::Millis,
        );
        let k = o.reloads;
        row(
            "reload_fail".to_string(),
            format!("{k} reloads under load: failed connections"),
            Lower,
            Unit::Count,
        );
        row(
            "reload_ok".to_string(),
            format!("{k} reloads under load: good connections"),
            Higher,
            Unit::Count,
        );
    }
    let ec = o.echo_concurrency;
    if o.wants("cat") {
        row(
            "cat_rate".to_string(),
            format!("/bin/cat {ECHO_BYTES} B echo c={ec}: connections/s"),
            Higher,
            Unit::PerSec,
        );
        row(
            "cat_p50".to_string(),
            format!("/bin/cat {ECHO_BYTES} B echo c={ec}: p50"),
            Lower,
            Unit::Micros,
        );
    }
    if o.wants("echo") {
        row(
            "echo_rate".to_string(),
            format!("internal echo {ECHO_BYTES} B c={ec}: connections/s"),
            Higher,
            Unit::PerSec,
        );
        row(
            "echo_p50".to_string(),
            format!("internal echo {ECHO_BYTES} B c={ec}: p50"),
            Lower,
            Unit::Micros,
        );
        row(
            "echo_bulk".to_string(),
            format!("internal echo, {} MiB on one connection", o.bulk_mib),
            Higher,
            Unit::MBps,
        );
    }
    if o.wants("udp") {
        for (id, place) in UDP_PLACEMENTS {
            row(
                id.to_string(),
                format!("UDP echo round trip p50, daemon {place}"),
                Lower,
                Unit::Micros,
            );
        }
        row(
            "udp_burst".to_string(),
            format!("UDP echo: replies to a burst of {}", o.udp),
            Higher,
            Unit::Percent,
        );
    }
    if o.wants("flood") {
        let (n, c, i) = (o.flood, o.flood_concurrency, o.flood_instances);
        for (mode, what) in [
            ("defer", "on_limit = defer / tcpserver -c"),
            ("close", "default on_limit (accept and close)"),
        ] {
            row(
                format!("{mode}_pct"),
                format!("flood {n} at c={c}, instances = {i}, {what}: clients served"),
                Higher,
                Unit::Percent,
            );
            row(
                format!("{mode}_rate"),
                format!("flood, {what}: served connections/s"),
                Higher,
                Unit::PerSec,
            );
        }
    }
    rows
}

/// Every selected figure for one program in one round.
pub fn round(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let o = ctx.opts;
    if !o.spawn_concurrency().is_empty() || o.wants("memory") {
        small(ctx, d, round);
    }
    if o.wants("memory") || o.wants("startup") || o.wants("reload") || o.wants("spawn-large") {
        large(ctx, d, round);
    }
    if o.wants("cat") || o.wants("echo") || o.wants("udp") {
        extras(ctx, d, round);
    }
    if o.wants("flood") {
        flood(ctx, d, round);
    }
}

/// Small config: idle memory, the spawn runs, memory after them.
fn small(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let o = ctx.opts;
    let first = o.block(d.kind);
    let svc = Services::exec(&ctx.user, &ctx.tiny, first..first + o.small);
    if round == 1 && d.kind.one_process_per_service() && o.wants("memory") {
        ctx.notes.push(format!(
            "{}: one process per service; its memory figures are sums over the processes (compare Pss).",
            d.kind.name()
        ));
    }
    let Some(mut running) = ctx.start(d, &svc, "small", round) else {
        return;
    };
    std::thread::sleep(o.settle);
    if o.wants("memory") {
        read_memory(ctx, &running, round, "rss_small", "pss_small");
    }
    let concurrency = o.spawn_concurrency();
    if !concurrency.is_empty() {
        let p50s = spawn_runs(
            ctx,
            &mut running,
            addr(first),
            round,
            &concurrency,
            ("", ""),
        );
        if let Some(&(_, p50)) = p50s.iter().find(|(c, _)| *c == 1) {
            ctx.small_p50.insert((d.kind, round), p50);
        }
        if o.wants("memory") {
            std::thread::sleep(o.settle);
            read_memory(ctx, &running, round, "rss_after", "");
        }
    }
    ctx.stop(running, round);
}

/// Large config: start-up time, idle memory, spawn c=1 to the middle service, then the
/// reload figure.
fn large(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let o = ctx.opts;
    if d.kind == Kind::SocketActivate {
        if round == 1 {
            ctx.notes.push(format!(
                "socket-activate: no {}-service figures (memory, start-up, spawn-large): it is \
                 one systemd process per port, and {} of them were not started.",
                o.large, o.large
            ));
        }
        return;
    }
    // One process per service: a connection to one of 1,000 is a connection to one process
    // that knows one port, the same as with 5 services, so there is nothing to compare.
    let spawn_large = o.wants("spawn-large") && !d.kind.one_process_per_service();
    if round == 1 && o.wants("spawn-large") && !spawn_large {
        ctx.notes.push(format!(
            "{}: no spawn-large figures: it runs one process per service, so a connection \
             meets a process that listens on one port whatever the number of services.",
            d.kind.name()
        ));
    }
    if !(o.wants("memory") || o.wants("startup") || o.wants("reload") || spawn_large) {
        return;
    }
    // The reload figure adds 1 + K services to the large config.
    let added = if o.wants("reload") {
        1 + u32::from(o.reloads)
    } else {
        0
    };
    let most = u32::from(o.large) + added;
    if let Some(max) = d.kind.max_services().filter(|&m| round == 1 && most > m) {
        ctx.notes.push(format!(
            "{}: holds at most {max} services (it waits in select(), and glibc aborts it when a \
             socket lands on descriptor 1024); this run's large config grows to {most} with the \
             reloads, so expect it to exit on a reload.",
            d.kind.name()
        ));
    }
    let base = Services::exec(&ctx.user, &ctx.tiny, o.large_base..o.large_base + o.large);
    let Some(mut running) = ctx.start(d, &base, "large", round) else {
        return;
    };
    if o.wants("startup") {
        let ms = running.startup.as_secs_f64() * 1e3;
        progress(&format!(
            "round {round} {}: {} ports listening {ms:.1} ms after spawn",
            d.kind.name(),
            o.large
        ));
        ctx.record("startup", d.kind, ms);
    }
    if o.wants("memory") || spawn_large {
        std::thread::sleep(o.settle);
    }
    if o.wants("memory") {
        read_memory(ctx, &running, round, "rss_large", "pss_large");
    }
    if spawn_large {
        let probe = addr(o.large_probe());
        let what = format!(", {} services", o.large);
        let p50s = spawn_runs(ctx, &mut running, probe, round, &[1], ("_large", &what));
        let small = ctx.small_p50.get(&(d.kind, round)).copied();
        if let (Some(&(_, p50)), Some(small)) = (p50s.first(), small) {
            if small > 0.0 {
                progress(&format!(
                    "round {round} {}: spawn c=1 p50 at {} services ÷ at {} = {:.3}",
                    d.kind.name(),
                    o.large,
                    o.small,
                    p50 / small
                ));
                ctx.record("p50_scaling", d.kind, p50 / small);
            }
        }
    }
    if o.wants("reload") && d.kind.reloads() {
        reload(ctx, &mut running, &base, round);
    }
    ctx.stop(running, round);
}

/// `base` plus `extra` services on the ports right after it.
fn grown(ctx: &Ctx, base: &Services, extra: u16) -> Services {
    let end = ctx.opts.large_base + ctx.opts.large;
    let mut svc = base.clone();
    svc.list
        .extend(Services::exec(&ctx.user, &ctx.tiny, end..end + extra).list);
    svc
}

/// (a) one reload adding a service, timed from SIGHUP until its port accepts; (b) `reloads`
/// more, one at a time, while clients hammer the first (unchanged) service.
fn reload(ctx: &mut Ctx, running: &mut Running, base: &Services, round: usize) {
    let o = ctx.opts;
    let name = running.kind.name();
    let end = o.large_base + o.large;
    let first = grown(ctx, base, 1);
    if let Err(e) = running.rewrite(&first).and_then(|()| running.hup()) {
        ctx.note(round, format!("{name}: reload: {e}"));
        return;
    }
    let Some(took) = load::wait_accepting(addr(end), RELOAD_TIMEOUT) else {
        ctx.note(
            round,
            format!(
                "{name}: reload: added port {end} did not accept within {} s{}",
                RELOAD_TIMEOUT.as_secs(),
                running.tails()
            ),
        );
        return;
    };
    let ms = took.as_secs_f64() * 1e3;
    progress(&format!(
        "round {round} {name}: SIGHUP → new port accepts in {ms:.1} ms"
    ));
    ctx.record("reload_new", running.kind, ms);

    let stop = AtomicBool::new(false);
    let mut failure = None;
    let hammered = std::thread::scope(|s| {
        let h = s.spawn(|| load::hammer(addr(o.large_base), HAMMER_THREADS, b"hello\n", &stop));
        for k in 1..=o.reloads {
            let svc = grown(ctx, base, 1 + k);
            let port = end + k;
            if let Err(e) = running.rewrite(&svc).and_then(|()| running.hup()) {
                failure = Some(format!("reload {k}: {e}"));
                break;
            }
            if load::wait_accepting(addr(port), RELOAD_TIMEOUT).is_none() {
                failure = Some(format!(
                    "reload {k}: added port {port} did not accept within {} s",
                    RELOAD_TIMEOUT.as_secs()
                ));
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap_or_default()
    });
    progress(&format!(
        "round {round} {name}: {} reloads under load: {} good, {} failed connections",
        o.reloads, hammered.ok, hammered.failed
    ));
    if let Some(f) = failure {
        ctx.note(round, format!("{name}: {f}{}", running.tails()));
        return;
    }
    if hammered.failed > 0 {
        ctx.note(
            round,
            format!(
                "{name}: {} of {} connections to the unchanged service failed during {} reloads; first error: {}",
                hammered.failed,
                hammered.ok + hammered.failed,
                o.reloads,
                hammered.first_error.unwrap_or_default()
            ),
        );
    }
    ctx.record("reload_fail", running.kind, hammered.failed as f64);
    ctx.record("reload_ok", running.kind, hammered.ok as f64);
}

/// Extras config: /bin/cat, internal TCP echo, internal UDP echo.
fn extras(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let o = ctx.opts;
    let kind = d.kind;
    let at = o.block(kind) + o.small;
    let (cat_port, echo_port, udp_port) = (at, at + 1, at + 2);
    // Where the echo services really listen (port 7 for the daemons that find them by name).
    let (echo_at, udp_at) = (kind.echo_port(echo_port), kind.echo_port(udp_port));
    let mut list = Vec::new();
    let service = |port, program| Service {
        port,
        program,
        instances: None,
        defer: false,
    };
    if o.wants("cat") {
        list.push(service(cat_port, Program::Exec(PathBuf::from("/bin/cat"))));
    }
    if o.wants("echo") && kind.echo_stream() {
        list.push(service(echo_port, Program::EchoStream));
    }
    if o.wants("udp") && kind.echo_dgram() {
        list.push(service(udp_port, Program::EchoDgram));
    }
    if round == 1 {
        if o.wants("echo") && !kind.echo_stream() {
            ctx.notes.push(format!(
                "{}: no internal echo figures (it has no internal services).",
                kind.name()
            ));
        }
        if o.wants("udp") && !kind.echo_dgram() {
            let why = if kind == Kind::OpenbsdInetd {
                "its internal UDP services drop datagrams from loopback addresses (dg_badinput), and the bench is loopback only"
            } else {
                "it has no internal services"
            };
            ctx.notes
                .push(format!("{}: no UDP echo figures: {why}.", kind.name()));
        }
    }
    if list.is_empty() {
        return;
    }
    let svc = Services {
        user: ctx.user.clone(),
        list,
    };
    let Some(running) = ctx.start(d, &svc, "extras", round) else {
        return;
    };
    let msg: Vec<u8> = (0..ECHO_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    let short = |port: u16| Job {
        addr: addr(port),
        n: o.connections,
        concurrency: o.echo_concurrency,
        send: &msg,
        expect: &msg,
        deadline: o.run_timeout,
        error_budget: true,
    };
    if o.wants("cat") {
        short_run(ctx, &running, &short(cat_port), round, "cat");
    }
    if o.wants("echo") && kind.echo_stream() {
        short_run(ctx, &running, &short(echo_at), round, "echo");
        let bytes = o.bulk_mib * 1024 * 1024;
        match load::bulk(addr(echo_at), bytes) {
            Ok(took) => {
                let mbps = bytes as f64 / 1e6 / took.as_secs_f64().max(1e-9);
                progress(&format!(
                    "round {round} {}: bulk echo {mbps:.0} MB/s",
                    kind.name()
                ));
                ctx.record("echo_bulk", kind, mbps);
            }
            Err(e) => ctx.note(round, format!("{}: bulk echo: {e}", kind.name())),
        }
    }
    if o.wants("udp") && kind.echo_dgram() {
        udp_round_trips(ctx, &running, addr(udp_at), round);
        match load::udp_burst(addr(udp_at), o.udp) {
            Ok(got) => {
                let pct = got as f64 * 100.0 / o.udp as f64;
                progress(&format!(
                    "round {round} {}: UDP burst {got} of {} answered",
                    kind.name(),
                    o.udp
                ));
                ctx.record("udp_burst", kind, pct);
            }
            Err(e) => ctx.note(round, format!("{}: UDP burst: {e}", kind.name())),
        }
    }
    ctx.stop(running, round);
}

/// The UDP round trips, measured twice with explicit CPU placement: the bench's thread is
/// pinned to the first CPU it may use, and every thread of the daemon's processes to that CPU
/// (`udp_p50_same`), then to the next one it may use (`udp_p50_cross`; skipped with a note when
/// there is none). Unpinned, the figure would show which of the two the scheduler happened to
/// pick. The masks are put back afterwards, so the burst and every later figure run unpinned;
/// a placement that could not be set is noted and records nothing.
fn udp_round_trips(ctx: &mut Ctx, running: &Running, at: SocketAddr, round: usize) {
    let name = running.kind.name();
    let cpus = match affinity::allowed() {
        Ok(cpus) => cpus,
        Err(e) => {
            ctx.note(round, format!("{name}: UDP round trips not measured: {e}"));
            return;
        }
    };
    let Some(&home) = cpus.first() else {
        ctx.note(
            round,
            format!("{name}: UDP round trips not measured: no CPU allowed"),
        );
        return;
    };
    let other = cpus.get(1).copied();
    if other.is_none() {
        let msg = format!(
            "UDP echo round trip, daemon on another CPU: not measured, the bench may run on CPU {home} only."
        );
        if !ctx.notes.contains(&msg) {
            ctx.notes.push(msg);
        }
    }
    let mut pinning = Pinning::new();
    match pinning.pin_self(home) {
        Ok(()) => {
            for ((id, place), cpu) in UDP_PLACEMENTS.into_iter().zip([Some(home), other]) {
                let Some(cpu) = cpu else { continue };
                let what = format!("daemon {place}");
                match pinning.pin_threads(&running.pids, cpu) {
                    Ok(()) => {
                        let placed = format!("{what} (CPU {cpu}, client on CPU {home})");
                        udp_ping_run(ctx, running, at, round, id, &placed);
                    }
                    Err(e) => ctx.note(
                        round,
                        format!("{name}: UDP round trips, {what}: not measured: {e}"),
                    ),
                }
            }
        }
        Err(e) => ctx.note(round, format!("{name}: UDP round trips not measured: {e}")),
    }
    for e in pinning.restore() {
        ctx.note(round, format!("{name}: after the UDP round trips: {e}"));
    }
}

/// One run of UDP round trips against `at`, its p50 recorded as `id`; `placed` says where the
/// daemon and the client ran, for the progress line and the notes.
fn udp_ping_run(
    ctx: &mut Ctx,
    running: &Running,
    at: SocketAddr,
    round: usize,
    id: &str,
    placed: &str,
) {
    let (name, kind) = (running.kind.name(), running.kind);
    match load::udp_ping(at, ctx.opts.udp) {
        Ok((rtts, lost, sent)) => {
            if let Some(p50) = stats::percentile(&rtts, 50.0) {
                progress(&format!(
                    "round {round} {name}: UDP round trip p50 {p50} µs, {lost} lost, {placed}"
                ));
                ctx.record(id, kind, p50 as f64);
            }
            if lost > 0 {
                ctx.note(
                    round,
                    format!(
                        "{name}: {lost} of {sent} UDP requests got no reply within 100 ms{}, {placed}; the p50 is over the answered ones",
                        if lost > 20 { " (run stopped early)" } else { "" }
                    ),
                );
            }
        }
        Err(e) => ctx.note(round, format!("{name}: UDP round trips, {placed}: {e}")),
    }
}

/// One run of short request/response connections, recorded as `{id}_rate` and `{id}_p50`.
fn short_run(ctx: &mut Ctx, running: &Running, job: &Job, round: usize, id: &str) {
    let name = running.kind.name();
    let r = load::run(job);
    let p50 = stats::percentile(&r.latencies_us, 50.0);
    progress(&format!(
        "round {round} {name} {id}: {} ok, {} errors, {:.0} conn/s, p50 {} µs",
        r.ok,
        r.errors,
        r.conn_per_sec(),
        p50.unwrap_or(0)
    ));
    if r.errors > 0 || r.aborted {
        ctx.note(
            round,
            format!(
                "{name} {id}: {} of {} connections failed; first error: {}{}",
                r.errors,
                job.n,
                r.first_error.clone().unwrap_or_default(),
                running.tails()
            ),
        );
    }
    if r.ok == 0 {
        return;
    }
    ctx.record(&format!("{id}_rate"), running.kind, r.conn_per_sec());
    if let Some(p50) = p50 {
        ctx.record(&format!("{id}_p50"), running.kind, p50 as f64);
    }
}

/// Flood: a slow server (sleeps 50 ms, writes a line) behind an instance limit, hit by more
/// clients than the limit; `defer` mode for superd (`on_limit = defer`) and tcpserver (`-c`),
/// `close` mode (the default on_limit) for superd and xinetd.
fn flood(ctx: &mut Ctx, d: &Daemon, round: usize) {
    let o = ctx.opts;
    let kind = d.kind;
    let modes: &[(&str, bool)] = match kind {
        Kind::Superd => &[("defer", true), ("close", false)],
        Kind::Tcpserver => &[("defer", true)],
        Kind::Xinetd => &[("close", false)],
        _ => {
            if round == 1 {
                ctx.notes.push(format!(
                    "{}: no flood figures: it has no limit on concurrent servers{}.",
                    kind.name(),
                    match kind {
                        Kind::OpenbsdInetd =>
                            " (`nowait.N` limits spawns per minute, not servers running)",
                        Kind::InetutilsInetd | Kind::BusyboxInetd =>
                            " (`nowait.N` and `-R` limit spawns per minute, not servers running)",
                        _ => "",
                    }
                ));
            }
            return;
        }
    };
    for (i, &(mode, defer)) in modes.iter().enumerate() {
        let port = o.block(kind) + o.small + 3 + i as u16;
        let svc = Services {
            user: ctx.user.clone(),
            list: vec![Service {
                port,
                program: Program::Exec(ctx.slow.clone()),
                instances: Some(o.flood_instances),
                defer: defer && kind == Kind::Superd,
            }],
        };
        let Some(mut running) = ctx.start(d, &svc, &format!("flood-{mode}"), round) else {
            continue;
        };
        let r = load::run(&Job {
            addr: addr(port),
            n: o.flood,
            concurrency: o.flood_concurrency,
            send: &[],
            expect: b"hello\n",
            deadline: o.run_timeout,
            error_budget: false,
        });
        let pct = r.ok as f64 * 100.0 / o.flood as f64;
        progress(&format!(
            "round {round} {} flood ({mode}): {} of {} served ({pct:.1} %), {:.0} conn/s; first error: {}",
            kind.name(),
            r.ok,
            o.flood,
            r.conn_per_sec(),
            r.first_error.as_deref().unwrap_or("none")
        ));
        if r.aborted {
            ctx.note(
                round,
                format!("{} flood ({mode}): cut short by --run-timeout", kind.name()),
            );
        }
        if !running.alive() {
            ctx.note(
                round,
                format!("{} died during the flood{}", kind.name(), running.tails()),
            );
        }
        ctx.record(&format!("{mode}_pct"), kind, pct);
        ctx.record(&format!("{mode}_rate"), kind, r.conn_per_sec());
        ctx.stop(running, round);
    }
}

fn read_memory(ctx: &mut Ctx, running: &Running, round: usize, rss: &str, pss: &str) {
    let name = running.kind.name();
    match procfs::memory_sum(&running.pids) {
        Ok(m) => {
            progress(&format!(
                "round {round} {name}: {rss} {:.2} MiB, Pss {:.2} MiB ({} process(es))",
                m.rss_kib as f64 / 1024.0,
                m.pss_kib as f64 / 1024.0,
                running.pids.len()
            ));
            ctx.record(rss, running.kind, m.rss_kib as f64);
            if !pss.is_empty() {
                ctx.record(pss, running.kind, m.pss_kib as f64);
            }
        }
        Err(e) => ctx.note(round, format!("{name}: reading /proc/PID memory: {e}")),
    }
}

/// Warm-up, then one spawn run per concurrency against `addr`, recorded as `rate{c}{suffix}`,
/// `p50_{c}{suffix}`, `p99_{c}{suffix}` and `cpu{c}{suffix}`; `what` goes into progress lines
/// and notes after "c=C". Returns the p50 (µs) of each run that had a successful connection.
fn spawn_runs(
    ctx: &mut Ctx,
    running: &mut Running,
    addr: SocketAddr,
    round: usize,
    concurrency: &[usize],
    (suffix, what): (&str, &str),
) -> Vec<(usize, f64)> {
    let name = running.kind.name();
    let kind = running.kind;
    let opts = ctx.opts;
    let mut p50s = Vec::new();
    let expect = b"hello\n";
    let job = |n, concurrency, deadline| Job {
        addr,
        n,
        concurrency,
        send: &[],
        expect,
        deadline,
        error_budget: true,
    };
    let warm = load::run(&job(50, 1, Duration::from_secs(30)));
    if warm.ok == 0 {
        let msg = format!(
            "{name}: warm-up{what} failed, spawn runs skipped: {} of 50 connections failed, first error: {}{}",
            warm.errors,
            warm.first_error.unwrap_or_default(),
            running.tails()
        );
        ctx.note(round, msg);
        return p50s;
    }
    for &c in concurrency {
        let before = procfs::cpu_ns_sum(&running.pids, ctx.hz).ok();
        let r = load::run(&job(opts.connections, c, opts.run_timeout));
        let after = procfs::cpu_ns_sum(&running.pids, ctx.hz).ok();
        let p50 = stats::percentile(&r.latencies_us, 50.0);
        let p99 = stats::percentile(&r.latencies_us, 99.0);
        progress(&format!(
            "round {round} {name} c={c}{what}: {} ok, {} errors, {:.0} conn/s, p50 {} µs, p99 {} µs",
            r.ok,
            r.errors,
            r.conn_per_sec(),
            p50.unwrap_or(0),
            p99.unwrap_or(0)
        ));
        if r.errors > 0 || r.aborted {
            let msg = format!(
                "{name} c={c}{what}: {} of {} connections failed{}; first error: {}",
                r.errors,
                opts.connections,
                if r.aborted {
                    ", run cut short (deadline or error budget)"
                } else {
                    ""
                },
                r.first_error.clone().unwrap_or_default()
            );
            ctx.note(round, msg);
        }
        if !running.alive() {
            let msg = format!("{name} died during the c={c}{what} run{}", running.tails());
            ctx.note(round, msg);
        }
        if r.ok == 0 {
            continue;
        }
        ctx.record(&format!("rate{c}{suffix}"), kind, r.conn_per_sec());
        if let (Some(p50), Some(p99)) = (p50, p99) {
            ctx.record(&format!("p50_{c}{suffix}"), kind, p50 as f64);
            ctx.record(&format!("p99_{c}{suffix}"), kind, p99 as f64);
            p50s.push((c, p50 as f64));
        }
        if let (Some(b), Some(a)) = (before, after) {
            let micros = a.saturating_sub(b) as f64 / 1e3;
            ctx.record(&format!("cpu{c}{suffix}"), kind, micros / r.ok as f64);
        }
    }
    p50s
}
