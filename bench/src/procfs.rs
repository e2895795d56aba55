//! What the bench reads from /proc: a daemon's memory (VmRSS, Pss), CPU time, threads and
//! whether it is still running, and which TCP ports are listening.
//!
//! Readiness is taken from /proc/net/tcp{,6} rather than by connecting, so that checking a
//! daemon with 1,000 services does not make it spawn 1,000 servers before its memory is read.
//! The parsers are pure functions over the file text and are tested below.

use std::collections::HashSet;
use std::fs;
use std::io;

/// Memory of one process, in KiB as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memory {
    pub rss_kib: u64,
    pub pss_kib: u64,
}

/// VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup.
pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let rss_kib = kib_field(&status, "VmRSS:").ok_or_else(|| io::Error::other("no VmRSS"))?;
    let pss_kib = kib_field(&rollup, "Pss:").ok_or_else(|| io::Error::other("no Pss"))?;
    Ok(Memory { rss_kib, pss_kib })
}

/// utime + stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other("unparsable /proc/PID/stat"))
}

/// True while PID exists and has not exited: a zombie (state Z or X) no longer holds any
/// socket. For a daemon that forked away from us, whose exit only its new parent can reap.
pub fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| parse_proc_state(&stat))
        .is_some_and(|state| !matches!(state, 'Z' | 'X' | 'x'))
}

/// Ports with a TCP socket in LISTEN state that answers or blocks 127.0.0.1: bound to
/// 127.0.0.1, 0.0.0.0, ::ffff:127.0.0.1 or ::. (Sockets on other loopback addresses, e.g. a
/// test's 127.0.0.56:7, neither answer nor block the bench.)
pub fn listening_ports() -> HashSet<u16> {
    let mut ports = HashSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(file) {
            ports.extend(parse_listening(&text));
        }
    }
    ports
}

/// Ports with a bound, unconnected UDP socket (state 07) on the addresses above.
pub fn udp_ports() -> HashSet<u16> {
    let mut ports = HashSet::new();
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = fs::read_to_string(file) {
            ports.extend(parse_state(&text, "07"));
        }
    }
    ports
}

/// Memory summed over several processes (tcpserver and socket-activate run one
/// per service). Pss adds up correctly; VmRSS counts shared pages once per process.
pub fn memory_sum(pids: &[u32]) -> io::Result<Memory> {
    let mut sum = Memory {
        rss_kib: 0,
        pss_kib: 0,
    };
    for &pid in pids {
        let m = memory(pid)?;
        sum.rss_kib += m.rss_kib;
        sum.pss_kib += m.pss_kib;
    }
    Ok(sum)
}

/// CPU time of PID in nanoseconds: the scheduler's run time of each of its threads (the first
/// field of /proc/PID/task/TID/schedstat), which has nanosecond resolution where utime + stime
/// count 10 ms ticks; from utime + stime (`hz` ticks a second) when schedstat is missing (a
/// kernel without CONFIG_SCHED_INFO). Threads that exited no longer count; the daemons measured
/// keep their threads for their whole life.
pub fn cpu_ns(pid: u32, hz: u64) -> io::Result<u64> {
    let mut total = 0u64;
    let mut any = false;
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let Ok(text) = fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                total += ns;
                any = true;
            }
        }
    }
    if any {
        return Ok(total);
    }
    Ok(cpu_ticks(pid)? * 1_000_000_000 / hz.max(1))
}

/// The thread ids of PID (the names of /proc/PID/task), in ascending order.
pub fn threads(pid: u32) -> io::Result<Vec<u32>> {
    let mut tids: Vec<u32> = fs::read_dir(format!("/proc/{pid}/task"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

/// [`cpu_ns`] summed over `pids`.
pub fn cpu_ns_sum(pids: &[u32], hz: u64) -> io::Result<u64> {
    pids.iter().map(|&p| cpu_ns(p, hz)).sum()
}

/// The value of a `Name:   1234 kB` line.
pub fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// utime + stime from the text of /proc/PID/stat. The command name (field 2) may contain spaces
/// and parentheses, so fields are counted from the last ')'.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The state letter (field 3) from the text of /proc/PID/stat.
pub fn parse_proc_state(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Local addresses, as /proc/net/{tcp,udp}{,6} print them, that 127.0.0.1 reaches.
const LOCAL_127_0_0_1: [&str; 4] = [
    "0100007F",
    "00000000",
    "0000000000000000FFFF00000100007F",
    "00000000000000000000000000000000",
];

/// Local ports of LISTEN (state 0A) lines in the text of /proc/net/tcp or tcp6.
pub fn parse_listening(text: &str) -> impl Iterator<Item = u16> + '_ {
    parse_state(text, "0A")
}

/// Local ports of the lines in `state` of /proc/net/{tcp,udp}{,6} text.
fn parse_state<'a>(text: &'a str, wanted: &'a str) -> impl Iterator<Item = u16> + 'a {
    text.lines().skip(1).filter_map(move |line| {
        let mut cols = line.split_whitespace();
        let local = cols.nth(1)?;
        let state = cols.nth(1)?;
        if state != wanted {
            return None;
        }
        let (ip, port) = local.rsplit_once(':')?;
        if !LOCAL_127_0_0_1.contains(&ip) {
            return None;
        }
        u16::from_str_radix(port, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_field_reads_status_and_rollup_lines() {
        let status = "Name:\txinetd\nVmPeak:\t   5000 kB\nVmRSS:\t    3312 kB\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(3312));
        let rollup = "55d0-7ff [rollup]\nRss:    3312 kB\nPss:    1703 kB\nPss_Anon: 1 kB\n";
        assert_eq!(kib_field(rollup, "Pss:"), Some(1703));
        assert_eq!(kib_field(rollup, "Swap:"), None);
    }

    #[test]
    fn cpu_ticks_count_fields_after_a_command_with_spaces() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 9 1 1";
        assert_eq!(parse_cpu_ticks(stat), Some(12));
        assert_eq!(parse_cpu_ticks("42 (x) S 1"), None);
        assert_eq!(parse_proc_state(stat), Some('S'));
        assert_eq!(parse_proc_state("7 (inetd) Z 1 7"), Some('Z'));
        assert_eq!(parse_proc_state("7 (inetd)"), None);
    }

    #[test]
    fn our_own_threads_include_the_main_thread() {
        let pid = std::process::id();
        assert!(threads(pid).unwrap().contains(&pid));
    }

    #[test]
    fn listening_lines_are_the_0a_state_only() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 0100007F:5209 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n\
   1: 0100007F:D6F4 0100007F:5209 06 00000000:00000000 03:00000F4A 00000000 0 0 0\n\
   2: 00000000:7530 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2\n\
   3: 3800007F:0007 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 3\n";
        let ports: Vec<u16> = parse_listening(text).collect();
        assert_eq!(ports, vec![21001, 30000]);
    }
}
