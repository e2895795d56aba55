//! The load generators. `run`: N connections at concurrency C against one port, each connect →
//! (write a request, shut down writing) → read to EOF, timed from just before connect to EOF.
//! `hammer`: the same in a loop until told to stop, counting failures (reload figure).
//! `wait_accepting`: a tight bounded connect loop. `bulk`: one long TCP echo stream.
//! `udp_ping` / `udp_burst`: UDP echo round trips and loss of a back-to-back burst.
//!
//! Every connection is bounded (connect and read timeouts) and so is the run (a deadline and an
//! error budget), so a daemon that stops answering ends the run with a report, not a hang.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// One run of short connections.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    pub addr: SocketAddr,
    pub n: usize,
    pub concurrency: usize,
    /// Written after connect, then the write side is shut down; empty: nothing is written.
    pub send: &'a [u8],
    /// What must be read before EOF.
    pub expect: &'a [u8],
    pub deadline: Duration,
    /// Stop early after more than max(n/10, 20) errors (off for the flood, where refusals
    /// are the figure).
    pub error_budget: bool,
}

/// Opens `n` connections with `concurrency` threads; each must read `expect` and then EOF.
pub fn run(job: &Job) -> RunResult {
    let Job {
        addr,
        n,
        concurrency,
        send,
        expect,
        deadline,
        ..
    } = *job;
    let next = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    let error_budget = if job.error_budget {
        (n / 10).max(20)
    } else {
        usize::MAX
    };
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
                        match one(addr, send, expect) {
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

/// One connection: connect, write `send` and shut down writing (if any), read to EOF, compare.
pub fn one(addr: SocketAddr, send: &[u8], expect: &[u8]) -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut s =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    if !send.is_empty() {
        s.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|e| format!("set_write_timeout: {e}"))?;
        s.write_all(send).map_err(|e| format!("write: {e}"))?;
        s.shutdown(Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))?;
    }
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

/// Connects to `addr` in a tight loop until a connection is accepted; the time that took, or
/// `None` after `timeout`. The accepted connection is read to EOF in the background of the
/// kernel (it is simply closed).
pub fn wait_accepting(addr: SocketAddr, timeout: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Some(t0.elapsed());
        }
        std::thread::yield_now();
    }
    None
}

/// What `hammer` saw.
#[derive(Debug, Default)]
pub struct HammerResult {
    pub ok: usize,
    pub failed: usize,
    pub first_error: Option<String>,
}

/// `threads` clients connect → read `expect` → EOF in a loop until `stop` is set.
pub fn hammer(addr: SocketAddr, threads: usize, expect: &[u8], stop: &AtomicBool) -> HammerResult {
    let ok = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    match one(addr, &[], expect) {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    HammerResult {
        ok: ok.into_inner(),
        failed: failed.into_inner(),
        first_error: first_error.into_inner().ok().flatten(),
    }
}

/// Byte `i` of the bulk stream: a pattern whose period (251) does not divide the buffer size,
/// so a dropped or repeated chunk shows.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// Writes `bytes` to a TCP echo service on one connection while a second thread reads them
/// back and checks them; returns the time until the last byte came back.
///
/// Both sides slice one precomputed copy of the pattern (`CHUNK` + one period), so the client
/// costs a `memcpy`-speed compare per byte and the daemon, not the load generator, sets the
/// rate.
pub fn bulk(addr: SocketAddr, bytes: u64) -> Result<Duration, String> {
    const CHUNK: usize = 64 * 1024;
    const PERIOD: u64 = 251;
    let pat: Vec<u8> = (0..CHUNK as u64 + PERIOD).map(pattern).collect();
    let window = |at: u64, n: usize| {
        let off = (at % PERIOD) as usize;
        &pat[off..off + n]
    };
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("timeouts: {e}"))?;
    let mut reader = s.try_clone().map_err(|e| format!("clone: {e}"))?;
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<(), String> {
            let mut w = &s;
            let mut sent = 0u64;
            while sent < bytes {
                let n = (bytes - sent).min(CHUNK as u64) as usize;
                w.write_all(window(sent, n))
                    .map_err(|e| format!("write: {e}"))?;
                sent += n as u64;
            }
            s.shutdown(Shutdown::Write)
                .map_err(|e| format!("shutdown: {e}"))
        });
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        let read = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    if buf[..n] != *window(got, n) {
                        let k = (0..n).find(|&k| buf[k] != pattern(got + k as u64));
                        break Err(format!(
                            "wrong byte at offset {}",
                            got + k.unwrap_or(0) as u64
                        ));
                    }
                    got += n as u64;
                }
                Err(e) => break Err(format!("read after {got} bytes: {e}")),
            }
        };
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err("writer panicked".into()));
        read?;
        wrote?;
        if got != bytes {
            return Err(format!("echoed {got} of {bytes} bytes"));
        }
        Ok(t0.elapsed())
    })
}

fn udp_socket(addr: SocketAddr, timeout: Duration) -> Result<UdpSocket, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    s.connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    Ok(s)
}

/// `n` UDP echo round trips of 64 bytes, one at a time; sorted round-trip times in µs and the
/// number of requests that got no reply within 100 ms, and of requests sent (more than 20
/// unanswered ends the run early).
pub fn udp_ping(addr: SocketAddr, n: usize) -> Result<(Vec<u64>, usize, usize), String> {
    let s = udp_socket(addr, Duration::from_millis(100))?;
    let mut rtts = Vec::with_capacity(n);
    let mut lost = 0;
    let mut sent = 0;
    let mut buf = [0u8; 128];
    for i in 0..n {
        sent += 1;
        let msg = [(i % 256) as u8; 64];
        let t0 = Instant::now();
        s.send(&msg).map_err(|e| format!("send: {e}"))?;
        // Skip late replies to earlier requests.
        loop {
            match s.recv(&mut buf) {
                Ok(64) if buf[..64] == msg => {
                    rtts.push(t0.elapsed().as_micros() as u64);
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
        if lost > 20 {
            break;
        }
    }
    rtts.sort_unstable();
    Ok((rtts, lost, sent))
}

/// Sends `n` 64-byte datagrams back to back without waiting for replies, while a second thread
/// reads them into an 8 MiB receive buffer (so the bench's own socket is not what drops them:
/// losses are the daemon's); counts the replies
/// that arrive until 500 ms pass without one (at most 10 s in all).
pub fn udp_burst(addr: SocketAddr, n: usize) -> Result<usize, String> {
    let s = udp_socket(addr, Duration::from_millis(500))?;
    crate::sys::set_rcvbuf(std::os::fd::AsRawFd::as_raw_fd(&s), 8 << 20)
        .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    let r = s.try_clone().map_err(|e| format!("clone: {e}"))?;
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let t0 = Instant::now();
            let mut got = 0;
            let mut buf = [0u8; 128];
            while t0.elapsed() < Duration::from_secs(10) {
                match r.recv(&mut buf) {
                    Ok(64) => got += 1,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            got
        });
        for i in 0..n {
            let msg = [(i % 256) as u8; 64];
            s.send(&msg).map_err(|e| format!("send: {e}"))?;
        }
        reader.join().map_err(|_| "reader panicked".to_string())
    })
}
