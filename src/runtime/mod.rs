//! Process lifecycle: command line → configuration → daemonize → event loop → exit code.
//!
//! `main_entry` is everything `main.rs` calls. It loads and checks the configuration *before*
//! forking into the background, so a configuration that cannot be read fails with a message on
//! the terminal and a non-zero exit status (xinetd forks first and exits 0). The event loop and
//! all mutable state live in [`daemon`].

pub mod daemon;
pub mod dump;
pub mod ident;
pub mod logging;
pub mod lookup;
pub mod portmap;
pub mod reload;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{self, Command, Opts, OwnLog};
use crate::config::model::{Level, Severity};
use crate::config::{self, inetd, inetd::Dialect, model::Diagnostic};
use crate::table::{self, ServiceTable, System};
use logging::Logs;

/// What the running daemon needs from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Absolute path of the main configuration file (so reloads work after `chdir("/")`).
    pub config_file: PathBuf,
    /// Directory relative `include`/`includedir` paths are resolved against.
    pub base_dir: PathBuf,
    pub services_file: PathBuf,
    pub foreground: bool,
    pub stayalive: bool,
    pub limit: Option<u32>,
    pub dump_file: PathBuf,
    pub pidfile: Option<PathBuf>,
    /// inetd.conf files read after the xinetd configuration (`--inetd-conf`, `-inetd_compat`).
    pub inetd_conf: Vec<PathBuf>,
    pub inetd_dialect: Dialect,
    /// Whether `-inetd_compat` asked for /etc/inetd.conf (a missing one is then only a warning).
    pub inetd_compat: bool,
    pub hosts_allow: PathBuf,
    pub hosts_deny: PathBuf,
    /// `-logprocs`: ident queries at a time for refused connections (xinetd's default, 15).
    pub logprocs: u32,
}

impl Settings {
    fn from_opts(opts: &Opts) -> Settings {
        let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Settings {
            config_file: absolute(&base_dir, &opts.config),
            services_file: absolute(&base_dir, &opts.services_file),
            foreground: opts.foreground,
            stayalive: opts.stayalive,
            limit: opts.limit,
            logprocs: opts.logprocs.unwrap_or(15),
            dump_file: absolute(&base_dir, &opts.dump_file),
            pidfile: opts.pidfile.as_ref().map(|p| absolute(&base_dir, p)),
            inetd_conf: opts
                .inetd_conf
                .iter()
                .map(|p| absolute(&base_dir, p))
                .collect(),
            inetd_dialect: opts.inetd_dialect,
            inetd_compat: opts.inetd_compat,
            hosts_allow: absolute(&base_dir, &opts.hosts_allow),
            hosts_deny: absolute(&base_dir, &opts.hosts_deny),
            base_dir,
        }
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Loads the configuration and builds the table. `Err` only when the main file cannot be read.
pub fn load_table(settings: &Settings) -> Result<(ServiceTable, System), String> {
    let mut cfg =
        config::load(&settings.config_file, &settings.base_dir).map_err(|e| e.to_string())?;
    for path in &settings.inetd_conf {
        match inetd::load_inetd(path, settings.inetd_dialect) {
            Ok(c) => inetd::merge_into(&mut cfg, c),
            // The /etc/inetd.conf that -inetd_compat implies may well not exist.
            Err(e) if settings.inetd_compat && path == Path::new("/etc/inetd.conf") => cfg
                .diagnostics
                .push(Diagnostic::warning(None, e.to_string())),
            Err(e) => cfg.diagnostics.push(Diagnostic::error(None, e.to_string())),
        }
    }
    let (system, warning) = System::from_machine(&settings.services_file);
    let mut table = table::build(&cfg, &system);
    if let Some(w) = warning {
        table.diagnostics.insert(0, w);
    }
    // What stays (the services) is copied, on a helper thread: glibc gives a new thread an
    // arena of its own, so the copies sit together there. Copied in place they would fill the
    // holes the parser left between the model's strings, and once the model and the first copy
    // are freed, ~180 KiB of 128-320-byte holes between live strings stay resident at 1,000
    // services (malloc_trim only gives back whole pages). This way the main heap is left with
    // large free areas that `spawn::release_free_memory` returns. Clones also drop spare
    // capacity. If the thread cannot start, the copy is made here.
    let services = &table.services;
    let copied = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn_scoped(s, || deep_copy(services))
            .ok()
            .and_then(|t| t.join().ok())
    });
    table.services = copied.unwrap_or_else(|| deep_copy(&table.services));
    Ok((table, system))
}

/// The services, copied, exec plans included (a clone of a service shares its plan).
fn deep_copy(services: &[table::Service]) -> Vec<table::Service> {
    services
        .iter()
        .map(|s| {
            let mut copy = s.clone();
            if let table::Action::Exec(plan) = &s.action {
                copy.action = table::Action::Exec(std::sync::Arc::new(plan.as_ref().clone()));
            }
            copy
        })
        .collect()
}

pub fn main_entry(args: Vec<OsString>) -> ExitCode {
    let cmd = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("superd: {e}");
            eprintln!("Try 'superd --help' for more information.");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Help => {
            print!("{}", cli::usage());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("{}", cli::version_text());
            ExitCode::SUCCESS
        }
        Command::Check(opts) => check(&opts),
        Command::Convert {
            from,
            file,
            dialect,
        } => crate::convert::run_convert(from, &file, dialect),
        Command::Run(opts) => run(opts),
    }
}

/// `--check`: print every problem and the resolved table; exit 0 only when there are no errors.
fn check(opts: &Opts) -> ExitCode {
    let settings = Settings::from_opts(opts);
    let (table, _) = match load_table(&settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("superd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for d in &table.diagnostics {
        eprintln!("{d}");
    }
    // Buffered: stdout is line-buffered, which would cost a write per line of the table.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for s in &table.services {
        let _ = writeln!(out, "{s}");
    }
    let errors = table
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = table.diagnostics.len() - errors;
    let _ = writeln!(
        out,
        "# {} services ready, {} errors, {} warnings ({})",
        table.services.len(),
        errors,
        warnings,
        settings.config_file.display()
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(opts: Opts) -> ExitCode {
    let settings = Settings::from_opts(&opts);
    // Descriptors inherited from whoever started superd never reach a server.
    crate::spawn::cloexec_inherited();
    // The umask servers inherit: at least 022 (as xinetd).
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(old | nix::sys::stat::Mode::from_bits_truncate(0o022));
    raise_nofile();

    let (table, _) = match load_table(&settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("superd: error: {e}");
            return ExitCode::FAILURE;
        }
    };

    // Own messages: stderr in the foreground unless told otherwise; syslog in the background.
    let own = match (&opts.own_log, opts.foreground) {
        (OwnLog::Default, true) => logging::Own::Stderr,
        (OwnLog::Default, false) => logging::Own::Syslog(crate::config::model::Facility::Daemon),
        (OwnLog::Syslog(f), _) => logging::Own::Syslog(*f),
        (OwnLog::File(p), _) => logging::Own::File(absolute(&settings.base_dir, p)),
    };
    if !opts.foreground {
        // Problems found so far go to the terminal too, before it is left behind.
        for d in &table.diagnostics {
            eprintln!("{d}");
        }
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("superd: error: cannot go into the background: {e}");
            return ExitCode::FAILURE;
        }
    }
    let logs = match Logs::new(own, opts.debug, &opts.syslog_socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("superd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for n in &opts.notices {
        logs.daemon(Level::Notice, n);
    }
    for d in &table.diagnostics {
        let level = if d.severity == Severity::Error {
            Level::Err
        } else {
            Level::Warning
        };
        logs.daemon(level, &d.to_string());
    }
    let signals = match daemon::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            logs.daemon(Level::Err, &format!("cannot install signal handlers: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut d = match daemon::Daemon::new(settings.clone(), table, logs, signals) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("superd: error: cannot start the event loop: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(p) = &settings.pidfile {
        if let Err(e) = write_pidfile(p) {
            d.logs().daemon(
                Level::Err,
                &format!("cannot write pid file {}: {e}", p.display()),
            );
        }
    }
    let available = d.available();
    d.logs()
        .daemon(Level::Notice, &format!("superd {} started", cli::VERSION));
    d.logs().daemon(
        Level::Notice,
        &format!("Started working: {available} available services"),
    );
    let stop = if available == 0 && !settings.stayalive {
        d.logs().daemon(
            Level::Err,
            "no services. Exiting... (use -stayalive or --foreground to keep running)",
        );
        daemon::Stop::NoServices
    } else {
        d.run()
    };
    if let Some(p) = &settings.pidfile {
        let _ = std::fs::remove_file(p);
    }
    match stop {
        daemon::Stop::Terminated | daemon::Stop::Quit => {
            d.logs().daemon(Level::Notice, "exiting");
            ExitCode::SUCCESS
        }
        daemon::Stop::NoServices => ExitCode::FAILURE,
    }
}

fn write_pidfile(path: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    writeln!(f, "{}", std::process::id())
}

/// Soft descriptor limit up to the hard one: superd may hold many sockets, and servers inherit
/// the raised limit as under xinetd.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
