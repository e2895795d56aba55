//! The load generator: N connections at concurrency C against one port, each
//! connect → read to EOF, timed from just before connect to EOF.
//!
//! Every connection is bounded (connect and read timeouts) and so is the run (a deadline and an
//! error budget), so a daemon that stops answering ends the run with a report, not a hang.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Per-connection limit for connect and for each read.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What one run measured.
#[derive(Debug, Default)]
pub struct RunResult {
    /// Connections that read exactly the expected bytes, then EOF.
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Stopped early: deadline passed or too many errors.
    pub aborted: bool,
    pub wall: Duration,
    /// Latencies of the successful connections in µs, sorted.
    pub latencies_us: Vec<u64>,
}

impl RunResult {
    pub fn conn_per_sec(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Opens `n` connections with `concurrency` threads; each must read `expect` and then EOF.
pub fn run(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    expect: &[u8],
    deadline: Duration,
) -> RunResult {
    let next = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    let error_budget = (n / 10).max(20);
    let start = Instant::now();
    let mut latencies: Vec<u64> = Vec::with_capacity(n);
    let mut aborted = false;

    std::thread::scope(|s| {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    let mut stopped = false;
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        if start.elapsed() > deadline
                            || errors.load(Ordering::Relaxed) > error_budget
                        {
                            stopped = true;
                            break;
                        }
                        match one(addr, expect) {
                            Ok(d) => mine.push(d.as_micros() as u64),
                            Err(e) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut first) = first_error.lock() {
                                    first.get_or_insert(e);
                                }
                            }
                        }
                    }
                    (mine, stopped)
                })
            })
            .collect();
        for w in workers {
            if let Ok((mine, stopped)) = w.join() {
                latencies.extend(mine);
                aborted |= stopped;
            }
        }
    });

    let wall = start.elapsed();
    latencies.sort_unstable();
    RunResult {
        ok: latencies.len(),
        errors: errors.into_inner(),
        first_error: first_error.into_inner().ok().flatten(),
        aborted,
        wall,
        latencies_us: latencies,
    }
}

/// One connection: connect, read to EOF, compare.
fn one(addr: SocketAddr, expect: &[u8]) -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut s =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    let mut buf = Vec::with_capacity(expect.len() + 16);
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let took = t0.elapsed();
    if buf != expect {
        return Err(format!(
            "read {:?}, expected {:?}",
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(expect)
        ));
    }
    Ok(took)
}
